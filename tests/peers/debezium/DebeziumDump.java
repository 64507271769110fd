// Test infrastructure only (not product code): runs the real Debezium embedded engine with the
// MySQL connector and prints each record as one JSON line, the same shape as
// `sluice capture --output jsonl`:
//
//   {"topic":"<destination>","key":<key JSON|null>,"value":<value JSON|null>}
//
// key and value are the text Kafka Connect's JsonConverter produced (schemas.enable=false unless
// overridden with converter.schemas.enable=true), embedded verbatim.
//
// Usage (classpath: the jars scripts/install-peers copied, plus the compiled class):
//   java -cp "$DIR/classes:$DIR/lib/*" DebeziumDump --state-dir DIR [--expect N] [--idle-ms MS]
//        [--timeout-s S] [debezium.property=value ...]
//
// --state-dir  holds offsets.dat (FileOffsetBackingStore) and schema-history.dat
//              (FileSchemaHistory); a second run with the same directory resumes streaming.
// --expect N   stop once N records were printed and nothing more came for 1.5 s
//              (exit 3 if the timeout passes first).
// --idle-ms MS without --expect: stop once at least one record was printed and none came for MS.
// --timeout-s  give up after S seconds (default 120).
// Every other argument is a Debezium/engine property; defaults below are overridable.
// The engine's own log goes to stderr (slf4j-simple, level warn unless
// -Dorg.slf4j.simpleLogger.defaultLogLevel=info).

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import com.mysql.cj.MysqlConnection;
import com.mysql.cj.Query;
import com.mysql.cj.conf.ConnectionPropertiesTransform;
import com.mysql.cj.interceptors.QueryInterceptor;
import com.mysql.cj.log.Log;
import com.mysql.cj.protocol.Resultset;
import com.mysql.cj.protocol.ServerSession;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

public final class DebeziumDump {
    /**
     * The MySQL connector 3.6 reads the binlog position with SHOW BINARY LOG STATUS when the
     * server's VERSION() is above 8.4 -- and MariaDB's "10.11.x" is, although MariaDB only knows
     * SHOW MASTER STATUS / SHOW BINLOG STATUS (same columns). The MariaDB connector, which asks
     * MariaDB the right way, is not to be had here, so this JDBC query interceptor (installed with
     * the driver's queryInterceptors property) answers that one statement with SHOW MASTER STATUS
     * on MariaDB. Nothing else the connector sends is touched. Debezium removes queryInterceptors
     * from the JDBC properties it is given, so it is added back by {@link AddInterceptor}, a
     * driver propertiesTransform (driver.propertiesTransform passes through).
     */
    public static final class AddInterceptor implements ConnectionPropertiesTransform {
        @Override
        public Properties transformProperties(Properties props) {
            props.setProperty("queryInterceptors", MariaDbBinlogStatus.class.getName());
            return props;
        }
    }

    public static final class MariaDbBinlogStatus implements QueryInterceptor {
        private Connection connection;
        private boolean mariadb;

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

    private static final Object LOCK = new Object();
    private static BufferedWriter out;
    private static final AtomicLong count = new AtomicLong();
    private static final AtomicLong lastRecordNanos = new AtomicLong(System.nanoTime());

    private static void usage(String msg) {
        System.err.println("DebeziumDump: " + msg);
        System.err.println("usage: DebeziumDump --state-dir DIR [--expect N] [--idle-ms MS] [--timeout-s S] [prop=value ...]");
        System.exit(2);
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04X", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static void print(ChangeEvent<String, String> ev) {
        String line = "{\"topic\":" + jsonString(ev.destination()) + ",\"key\":" + (ev.key() == null ? "null" : ev.key())
                + ",\"value\":" + (ev.value() == null ? "null" : ev.value()) + "}";
        synchronized (LOCK) {
            try {
                out.write(line);
                out.write('\n');
                out.flush();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }
        count.incrementAndGet();
        lastRecordNanos.set(System.nanoTime());
    }

    public static void main(String[] args) throws Exception {
        // slf4j-simple prints INFO by default: keep stderr to warnings unless asked otherwise.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        String stateDir = null;
        long expect = -1, idleMs = 5000, timeoutS = 120;
        Properties props = new Properties();
        props.setProperty("name", "sluice-debezium-diff");
        props.setProperty("connector.class", "io.debezium.connector.mysql.MySqlConnector");
        props.setProperty("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
        props.setProperty("offset.flush.interval.ms", "0");
        props.setProperty("schema.history.internal", "io.debezium.storage.file.history.FileSchemaHistory");
        props.setProperty("snapshot.mode", "initial");
        props.setProperty("converter.schemas.enable", "false");
        props.setProperty("include.schema.changes", "false");
        props.setProperty("driver.propertiesTransform", AddInterceptor.class.getName());
        // One processing thread: records reach stdout in the order the connector produced them.
        props.setProperty("record.processing.threads", "1");
        props.setProperty("record.processing.order", "ORDERED");
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--state-dir": stateDir = args[++i]; break;
                case "--expect": expect = Long.parseLong(args[++i]); break;
                case "--idle-ms": idleMs = Long.parseLong(args[++i]); break;
                case "--timeout-s": timeoutS = Long.parseLong(args[++i]); break;
                default:
                    int eq = a.indexOf('=');
                    if (eq <= 0) usage("bad argument '" + a + "'");
                    props.setProperty(a.substring(0, eq), a.substring(eq + 1));
            }
        }
        if (stateDir == null) usage("--state-dir is required");
        Files.createDirectories(Path.of(stateDir));
        props.putIfAbsent("offset.storage.file.filename", Path.of(stateDir, "offsets.dat").toString());
        props.putIfAbsent("schema.history.internal.file.filename", Path.of(stateDir, "schema-history.dat").toString());

        out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
        AtomicReference<String> failure = new AtomicReference<>();
        DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
                .using(props)
                .notifying(DebeziumDump::print)
                .using((boolean success, String message, Throwable error) -> {
                    if (!success) {
                        failure.set(message + (error == null ? "" : ": " + error));
                        if (error != null) error.printStackTrace();
                    }
                })
                .build();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        executor.shutdown();

        long start = System.nanoTime();
        int rc = 0;
        while (true) {
            Thread.sleep(100);
            long now = System.nanoTime();
            long idle = (now - lastRecordNanos.get()) / 1_000_000;
            long n = count.get();
            if (failure.get() != null || executor.isTerminated()) {
                System.err.println("DebeziumDump: engine stopped: " + failure.get());
                rc = 1;
                break;
            }
            if (expect >= 0 ? (n >= expect && idle >= 1500) : (n > 0 && idle >= idleMs)) {
                if (expect >= 0 && n != expect) {
                    System.err.println("DebeziumDump: expected " + expect + " records, got " + n);
                }
                break;
            }
            if ((now - start) / 1_000_000_000L >= timeoutS) {
                System.err.println("DebeziumDump: timeout after " + timeoutS + " s with " + n + " records"
                        + (expect >= 0 ? " (expected " + expect + ")" : ""));
                rc = 3;
                break;
            }
        }
        // close() stops the connector and commits the offsets of every record handed to print().
        engine.close();
        if (!executor.awaitTermination(60, TimeUnit.SECONDS)) {
            System.err.println("DebeziumDump: engine did not stop within 60 s");
            rc = rc == 0 ? 4 : rc;
        }
        synchronized (LOCK) {
            out.flush();
        }
        System.err.println("DebeziumDump: " + count.get() + " records");
        System.exit(rc);
    }
}
