// The replication-statement fallback of mysql/source_info against the real MariaDB of
// scripts/services: MariaDB answers MySQL 8.2+'s spellings with ER_PARSE_ERROR (1064), as MySQL 8.4
// answers the removed SHOW MASTER STATUS / SHOW SLAVE HOSTS, so the next spelling must be used.

#include <gtest/gtest.h>

#include <memory>

#include "common/error.h"
#include "mysql/connection.h"
#include "mysql/source_info.h"
#include "test_env.h"

namespace sluice::mysql {
namespace {

std::unique_ptr<Connection> Connect() {
  const auto& env = test::Services();
  ConnectionOptions o;
  o.host = env.mysql_host;
  o.port = env.mysql_port;
  o.user = env.mysql_root_user;
  o.password = env.mysql_root_password;
  o.ssl_mode = "disabled";
  auto c = std::make_unique<Connection>(o);
  c->Connect();
  return c;
}

TEST(ReplicationStatementsLive, FallsBackOnSyntaxErrorOnly) {
  std::unique_ptr<Connection> owned = Connect();
  Connection& conn = *owned;
  // MySQL 8.2+'s spelling first, as for a server that does not say "MariaDB" in its version.
  ResultSet st = QueryFirstAccepted(conn, {"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"});
  ASSERT_EQ(st.rows.size(), 1u);
  EXPECT_GE(st.Col("File"), 0);
  EXPECT_GE(st.Col("Position"), 0);
  ResultSet hosts = QueryFirstAccepted(conn, {"SHOW REPLICAS", "SHOW SLAVE HOSTS"});
  EXPECT_GE(hosts.Col("Server_id"), 0);
  // The choice for this server's own version, and CurrentBinlogEnd through it.
  EXPECT_EQ(QueryReplicationStatement(conn, ReplicationStatement::kBinlogStatus).rows.size(), 1u);
  BinlogCoordinates end = CurrentBinlogEnd(conn, conn.IsMariaDB());
  EXPECT_NE(end.file.find("mysql-bin."), std::string::npos) << end.file;
  EXPECT_GT(end.pos, 0u);
  // Other errors are not a reason to try another spelling.
  try {
    QueryFirstAccepted(conn, {"SELECT * FROM no_such_db_cap2.no_such_table", "SHOW MASTER STATUS"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos) << e.what();
  }
  // Every spelling a syntax error: one error naming them all and the server version.
  try {
    QueryFirstAccepted(conn, {"SHOW BINARY LOG STATUS", "SHOW REPLICAS"});
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kSource);
    EXPECT_NE(m.find("neither SHOW BINARY LOG STATUS nor SHOW REPLICAS"), std::string::npos) << m;
    EXPECT_NE(m.find("MariaDB"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace sluice::mysql
