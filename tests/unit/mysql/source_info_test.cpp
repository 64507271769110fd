#include "mysql/source_info.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace sluice::mysql {
namespace {

using Strings = std::vector<std::string>;

// Versions as SELECT VERSION() / the handshake reports them. MySQL added SHOW BINARY LOG STATUS in
// 8.2.0 and SHOW REPLICAS in 8.0.22, and removed SHOW MASTER STATUS / SHOW SLAVE HOSTS in 8.4.0
// (MySQL 8.4 release notes, "Deprecation and Removal Notes"); MariaDB keeps both old names.
TEST(ReplicationStatements, BinlogStatusByVersion) {
  const Strings kNewFirst = {"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"};
  const Strings kOldFirst = {"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"};
  for (const char* v : {"8.2.0", "8.3.0-commercial", "8.4.3", "8.4.0-log", "9.0.1", "9.1.0", "10.0.0", "8.10.0"}) {
    EXPECT_EQ(ReplicationStatementSyntaxes(ReplicationStatement::kBinlogStatus, v), kNewFirst) << v;
  }
  for (const char* v : {"5.7.44-log", "8.0.36", "8.0.40-0ubuntu0.22.04.1", "8.1.0", "5.6.51", "", "unknown",
                        "8", "8.x.1"}) {
    EXPECT_EQ(ReplicationStatementSyntaxes(ReplicationStatement::kBinlogStatus, v), kOldFirst) << v;
  }
  // MariaDB, also behind the 5.5.5- prefix old clients see, and with a version number above 8.2.
  for (const char* v : {"10.11.19-MariaDB-0+deb12u1-log", "5.5.5-10.6.18-MariaDB", "11.4.2-MariaDB", "10.4.34-mariadb"}) {
    EXPECT_EQ(ReplicationStatementSyntaxes(ReplicationStatement::kBinlogStatus, v),
              (Strings{"SHOW MASTER STATUS", "SHOW BINLOG STATUS"}))
        << v;
  }
}

TEST(ReplicationStatements, ReplicaHostsByVersion) {
  const Strings kNewFirst = {"SHOW REPLICAS", "SHOW SLAVE HOSTS"};
  const Strings kOldFirst = {"SHOW SLAVE HOSTS", "SHOW REPLICAS"};
  for (const char* v : {"8.0.22", "8.0.36", "8.4.3", "9.1.0"}) {
    EXPECT_EQ(ReplicationStatementSyntaxes(ReplicationStatement::kReplicaHosts, v), kNewFirst) << v;
  }
  for (const char* v : {"8.0.21", "5.7.44", "", "garbage"}) {
    EXPECT_EQ(ReplicationStatementSyntaxes(ReplicationStatement::kReplicaHosts, v), kOldFirst) << v;
  }
  EXPECT_EQ(ReplicationStatementSyntaxes(ReplicationStatement::kReplicaHosts, "11.4.2-MariaDB-log"),
            (Strings{"SHOW SLAVE HOSTS", "SHOW REPLICA HOSTS"}));
}

}  // namespace
}  // namespace sluice::mysql
