#pragma once
/// Checks that the source can be captured (binlog on, ROW format, FULL image, privileges,
/// server id) and loads table schemas from information_schema. Every failure names the server
/// variable or privilege and says exactly what to change.

#include <cstdint>
#include <map>
#include <string>
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

/// Current end of the binlog (SHOW MASTER STATUS + GTID position).
BinlogCoordinates CurrentBinlogEnd(Connection& conn, bool is_mariadb);

/// Opens a consistent-snapshot transaction on `conn` (REPEATABLE READ) and returns the binlog
/// position it corresponds to: taken under a short FLUSH TABLES WITH READ LOCK, or, on MariaDB
/// when that is refused, from its lock-free Binlog_snapshot_* status. When `*locked` comes back
/// true the global read lock is still held: read what must match the position, then UNLOCK TABLES.
BinlogCoordinates BeginConsistentSnapshot(Connection& conn, bool is_mariadb, bool* locked);

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
