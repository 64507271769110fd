#pragma once
/// SQL text for the ClickHouse side: CREATE DATABASE/TABLE (ReplacingMergeTree, or the Replicated
/// variant ON CLUSTER), and the ALTERs that follow a source schema change. The SQL works on
/// ClickHouse 18.16 and on current releases; version differences come in through ServerFeatures.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "clickhouse/server_info.h"
#include "clickhouse/type_mapping.h"
#include "event/change.h"

namespace sluice::clickhouse {

/// Per-table settings from `sink.tables."<db>.<table>"`. Empty fields mean "the default".
struct TableOverride {
  std::string database;      ///< `database`: target database (default sink.database)
  std::string table;         ///< `table`: target table name (default: the source table name)
  std::string order_by;      ///< `order.by`: sorting key expression (default: the primary key)
  std::string partition_by;  ///< `partition.by`: PARTITION BY expression (default: none)
  std::string settings;      ///< `settings`: MergeTree SETTINGS text, e.g. "index_granularity = 8192"
};

/// Where the table DDL goes and what the server can do. Plain value type.
struct DdlContext {
  std::string cluster;       ///< `sink.cluster`; non-empty → ON CLUSTER + ReplicatedReplacingMergeTree
  ServerFeatures features;
};

/// One statement of an ALTER plan, with what it does so that a caller can skip the steps a table
/// already reflects (a schema change replayed after a crash). `wait_mutations` asks the caller to
/// wait until the table's mutations are done before running the next step.
struct DdlStep {
  enum class Kind : uint8_t { kRename, kAdd, kUpdate, kDrop, kModify };
  Kind kind = Kind::kAdd;
  std::string column;        ///< the column added, dropped, modified, updated, or renamed to
  std::string from_column;   ///< kRename / kUpdate: the column renamed or copied from
  std::string type;          ///< kAdd / kModify: the ClickHouse type
  std::string sql;
  bool wait_mutations = false;
};

/// Returns `name` as a ClickHouse identifier in backquotes.
std::string QuoteIdent(std::string_view name);
/// Returns `s` as a ClickHouse single-quoted string literal.
std::string QuoteString(std::string_view s);

/// `CREATE DATABASE IF NOT EXISTS db [ON CLUSTER c]`.
std::string CreateDatabaseSql(std::string_view database, const DdlContext& ctx);

/// Returns the ORDER BY expression for `schema`: the override or the primary key columns.
/// Throws Error(kConfig) naming the table and `config_key` when there is neither, and when a key
/// column is Nullable on a server without allow_nullable_key.
std::string OrderByExpression(const TableSchema& schema, const TableOverride& ov, const DdlContext& ctx,
                              std::string_view config_key);

/// Returns the source columns that identify a row in ClickHouse: the primary key, or with an
/// `order.by` override the columns named in it.
std::vector<int> KeyColumns(const TableSchema& schema, const TableOverride& ov);

/// `CREATE TABLE IF NOT EXISTS db.t (...) ENGINE = [Replicated]ReplacingMergeTree(...) ...`.
/// `types` follows schema.columns. `config_key` names the override (for error messages).
std::string CreateTableSql(const TableSchema& schema, const std::vector<ColumnType>& types,
                           std::string_view database, std::string_view table, const TableOverride& ov,
                           const DdlContext& ctx, std::string_view config_key);

/// Returns the ALTER steps that turn the ClickHouse table of `old_schema` into one for
/// `new_schema`. `renames` maps old → new column names; when empty, a column whose name changed
/// at the same position with the same definition is taken as renamed. On servers without
/// RENAME COLUMN a rename is ADD new, UPDATE new = old (mutation, waited for), DROP old.
/// Throws Error(kSink) for changes ClickHouse cannot apply in place (dropping/renaming key columns).
std::vector<DdlStep> AlterTableSteps(const TableSchema& old_schema, const TableSchema& new_schema,
                                     std::string_view database, std::string_view table,
                                     const std::vector<int>& old_key_columns, const DdlContext& ctx,
                                     const std::map<std::string, std::string>& renames = {});

}  // namespace sluice::clickhouse
