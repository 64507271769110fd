// Benchmark peer only (not product code). Debezium 3.6's MySQL connector asks a server whose
// VERSION() is above 8.4 for SHOW BINARY LOG STATUS -- and MariaDB's "10.11.x" is, although MariaDB
// only knows SHOW MASTER STATUS (same columns). The MariaDB connector, which asks the right way, is
// not served by the registry reachable here. This MySQL Connector/J query interceptor answers that
// one statement with SHOW MASTER STATUS on MariaDB and touches nothing else; Debezium drops
// queryInterceptors from the JDBC properties it is given, so AddInterceptor (set as the driver's
// propertiesTransform, which Debezium passes through as driver.propertiesTransform) adds it back.
// The same work-around as tests/peers/debezium/DebeziumDump.java, built into a jar that sits in
// the Kafka Connect plugin directory beside the connector (bench/peers/install-connect).
package dev.sluice.bench;

import com.mysql.cj.MysqlConnection;
import com.mysql.cj.Query;
import com.mysql.cj.conf.ConnectionPropertiesTransform;
import com.mysql.cj.interceptors.QueryInterceptor;
import com.mysql.cj.log.Log;
import com.mysql.cj.protocol.Resultset;
import com.mysql.cj.protocol.ServerSession;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;
import java.util.function.Supplier;

public final class MariaDbBinlogStatus implements QueryInterceptor {
    /** Adds the interceptor to the driver's properties. */
    public static final class AddInterceptor implements ConnectionPropertiesTransform {
        @Override
        public Properties transformProperties(Properties props) {
            props.setProperty("queryInterceptors", MariaDbBinlogStatus.class.getName());
            return props;
        }
    }

    private Connection connection;

    @Override
    public QueryInterceptor init(MysqlConnection conn, Properties props, Log log) {
        connection = (Connection) conn;
        return this;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends Resultset> T preProcess(Supplier<String> sql, Query query) {
        String text = sql.get();
        if (text == null || !text.trim().equalsIgnoreCase("SHOW BINARY LOG STATUS")) return null;
        try {
            if (!connection.getMetaData().getDatabaseProductVersion().contains("MariaDB")) return null;
            return (T) connection.createStatement().executeQuery("SHOW MASTER STATUS");
        } catch (SQLException e) {
            throw new RuntimeException(e);
        }
    }

    @Override
    public boolean executeTopLevelOnly() {
        return true;
    }

    @Override
    public void destroy() {
    }

    @Override
    public <T extends Resultset> T postProcess(Supplier<String> sql, Query query, T result, ServerSession session) {
        return null;
    }
}
