#pragma once
/// Checks that the source can be captured (binlog on, ROW format, FULL image, privileges,
/// server id) and loads table schemas from information_schema. Every failure names the server
/// variable or privilege and says exactly what to change.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "event/change.h"
#include "mysql/connection.h"
#include "mysql/table_filter.h"

namespace sluice::mysql {

/// Binlog coordinates of a point in the source's history.
struct BinlogCoordinates {
  std::string file;
  uint64_t pos = 0;
  std::string gtid_set;  ///< MariaDB gtid_binlog_pos ("0-1-42,1-2-7") or MySQL executed GTID set
};

struct SourceFacts {
  std::string version;
  bool is_mariadb = false;
  uint32_t server_id = 0;
};

/// Verifies binlog settings and the privileges a CDC user needs. Throws Error(kSource) with every
/// problem found (one per line). `our_server_id` must differ from the source's and its replicas'.
SourceFacts ValidateSource(Connection& conn, uint32_t our_server_id);

/// Current end of the binlog (SHOW BINARY LOG STATUS / SHOW MASTER STATUS + GTID position).
BinlogCoordinates CurrentBinlogEnd(Connection& conn, bool is_mariadb);

/// Replication statements whose syntax differs between servers: MySQL 8.2 added SHOW BINARY LOG
/// STATUS and 8.0.22 SHOW REPLICAS; MySQL 8.4 removed SHOW MASTER STATUS and SHOW SLAVE HOSTS.
/// MariaDB keeps the old names (SHOW BINLOG STATUS and SHOW REPLICA HOSTS are its aliases).
/// SHOW BINARY LOGS and SHOW BINLOG EVENTS are the same everywhere.
enum class ReplicationStatement {
  kBinlogStatus,  ///< File, Position, ... [, Executed_Gtid_Set]
  kReplicaHosts,  ///< Server_id, Host, Port, ... of the connected replicas
};

/// Returns the spellings of `statement` to try, in order, on a server whose version string
/// (SELECT VERSION(), e.g. "8.4.3", "10.11.19-MariaDB-log") is `server_version`: the new syntax
/// first on a MySQL version that has it, else the old one first; the other one follows as the
/// fallback for a server that answers the first with a syntax error (ER_PARSE_ERROR, 1064), such
/// as an unrecognised version string.
std::vector<std::string> ReplicationStatementSyntaxes(ReplicationStatement statement,
                                                      std::string_view server_version);

/// Runs `statement` on `conn` in the first syntax of ReplicationStatementSyntaxes the server
/// accepts (see QueryFirstAccepted).
ResultSet QueryReplicationStatement(Connection& conn, ReplicationStatement statement);

/// Runs the first of `syntaxes` (spellings of one statement) that the server accepts, moving to
/// the next only when the server answers ER_PARSE_ERROR (1064); any other error is thrown as it
/// is. When every spelling is a syntax error, throws Error(kSource) naming them and the version.
ResultSet QueryFirstAccepted(Connection& conn, const std::vector<std::string>& syntaxes);

/// Opens a consistent-snapshot transaction on `conn` (REPEATABLE READ) and returns the binlog
/// position it corresponds to: taken under a short FLUSH TABLES WITH READ LOCK, or, on MariaDB
/// when that is refused, from its lock-free Binlog_snapshot_* status. When `*locked` comes back
/// true the global read lock is still held: read what must match the position, then UNLOCK TABLES.
BinlogCoordinates BeginConsistentSnapshot(Connection& conn, bool is_mariadb, bool* locked);

/// Opens consistent-snapshot transactions (REPEATABLE READ) on `conns` that all see the same data,
/// at the returned binlog position: each starts its transaction while conns[0] holds FLUSH TABLES
/// WITH READ LOCK. When the lock is refused (no RELOAD privilege) only conns[0] can be used (the
/// MariaDB lock-free position of BeginConsistentSnapshot); `*usable` says how many of `conns`
/// share the snapshot (all, or 1). When `*locked` comes back true the lock is still held on
/// conns[0]: read what must match the position, then UNLOCK TABLES.
BinlogCoordinates BeginSharedSnapshot(const std::vector<Connection*>& conns, bool is_mariadb, bool* locked,
                                      size_t* usable);

/// True when the server gives transactions GTIDs a replica can resume from: always on MariaDB,
/// gtid_mode=ON on MySQL.
bool ServerUsesGtids(Connection& conn, bool is_mariadb);

/// MariaDB: the GTID_LIST at the start of binlog `file` ("domain-server-seq,..."): the last GTID
/// of each domain before it. "" when the file has none.
std::string GtidListAtStartOf(Connection& conn, const std::string& file);

/// Binlog files the server still has, oldest first.
std::vector<std::string> ListBinlogFiles(Connection& conn);

/// Loads the schemas of every table the filter includes (columns filtered by column.exclude.list
/// are kept here; the capture drops them when it emits). Ordered by db, table.
std::vector<TableSchemaPtr> LoadSchemas(Connection& conn, const TableFilter& filter);

/// Loads one table's schema (nullptr when the table does not exist).
TableSchemaPtr LoadTableSchema(Connection& conn, const std::string& db, const std::string& table);

/// Default charsets a column without its own takes: server, per database, per table.
struct CharsetDefaults {
  std::string server;
  std::map<std::string, std::string> databases;  ///< db -> charset
  std::map<std::string, std::string> tables;     ///< "db.table" -> charset (of the table's collation)
};
CharsetDefaults LoadCharsetDefaults(Connection& conn, const TableFilter& filter);

/// The number at the end of a binlog file name ("mysql-bin.000123" -> 123); used for _version.
uint32_t BinlogFileSequence(const std::string& file);

}  // namespace sluice::mysql
