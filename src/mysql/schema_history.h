#pragma once
/// Schema history: the schema of every captured table at each point of the binlog. Starts from
/// the schemas read at the snapshot (or first start), then every DDL of the stream is applied
/// (mysql/ddl_parser.h) and the whole catalog is persisted in the state directory under the DDL's
/// binlog position, so a restart at an old position decodes rows with the schema they were
/// written with. Used by the capture thread only.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/change.h"

namespace sluice {
class StateStore;
}

namespace sluice::mysql {

class Connection;
class SchemaCatalog;
class TableFilter;

/// One table touched by a DDL: null before = created, null after = dropped. `renames` maps old
/// to new column names for RENAME COLUMN / CHANGE old new (so downstream keeps the data).
struct SchemaChange {
  TableSchemaPtr before, after;
  std::map<std::string, std::string> renames;
};

/// What one DDL statement did: schema changes and tables emptied by TRUNCATE.
struct DdlOutcome {
  std::vector<SchemaChange> changes;
  std::vector<TableSchemaPtr> truncated;
};

class SchemaHistory {
 public:
  SchemaHistory(StateStore* state, std::string key_prefix);
  /// Parse DDL in MariaDB's dialect (JSON = LONGTEXT + json_valid).
  void set_mariadb(bool v) { mariadb_ = v; }
  ~SchemaHistory();

  /// Loads the catalog in force at binlog (file_seq, pos): the last one stored at or before it.
  /// Returns false when the history has none.
  bool LoadAt(uint32_t file_seq, uint64_t pos);
  /// Replaces the catalog with `tables` (read from information_schema) and persists it at (seq, pos).
  void Reset(const std::vector<TableSchemaPtr>& tables, uint32_t file_seq, uint64_t pos);
  /// Sets the charsets columns created later by DDL without their own charset take; call before
  /// Reset's Persist matters, i.e. right before Reset.
  void SetCharsetDefaults(const std::string& server, const std::map<std::string, std::string>& databases,
                          const std::map<std::string, std::string>& tables);
  TableSchemaPtr Get(const std::string& db, const std::string& table) const;
  /// Adds or replaces one table (learned from information_schema) and persists at (seq, pos).
  void Put(const TableSchemaPtr& table, uint32_t file_seq, uint64_t pos);

  /// Applies the DDL statement `sql` run in database `db`. Tables the filter excludes are tracked
  /// too (a later RENAME may bring them in). When the statement cannot be parsed, the affected
  /// table is re-read through `conn` (a warning says so). Persists the catalog at (seq, pos) when
  /// anything changed and returns the changes.
  DdlOutcome ApplyDdl(const std::string& db, std::string_view sql, uint32_t file_seq, uint64_t pos,
                      Connection* conn);

 private:
  void Persist(uint32_t file_seq, uint64_t pos);
  StateStore* state_;
  std::string prefix_;
  bool mariadb_ = false;
  std::unique_ptr<SchemaCatalog> catalog_;
  std::string server_charset_;
  std::map<std::string, std::string> db_charsets_, table_charsets_;
};

}  // namespace sluice::mysql
