#pragma once
/// Parser for the DDL statements found in binlog QUERY events (MySQL and MariaDB dialects):
/// CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE and CREATE/ALTER/DROP DATABASE, turned into structured
/// changes that mysql/schema_catalog.h applies. Statements that do not change a table (GRANT,
/// CREATE VIEW, SET, ...) come back as kIgnored; table changes it cannot understand come back as
/// kUnparsed with the reason, so the caller re-reads the table from information_schema instead of
/// keeping a wrong schema. Grammar: https://dev.mysql.com/doc/refman/8.0/en/sql-data-definition-statements.html
/// and https://mariadb.com/kb/en/data-definition/. Stateless; safe to call from any thread.

#include <string>
#include <string_view>
#include <vector>

#include "event/change.h"

namespace sluice::mysql {

/// A table name resolved against the statement's current database.
struct QualifiedName {
  std::string database;
  std::string table;
  bool operator==(const QualifiedName&) const = default;
  std::string ToString() const { return database + "." + table; }
};

/// One column as written in CREATE TABLE / ALTER TABLE ADD|MODIFY|CHANGE.
struct ColumnDefinition {
  ColumnSchema column;          ///< charset is "" when the statement gives none (table default applies)
  bool primary_key = false;     ///< inline PRIMARY KEY (or KEY)
  bool unique = false;          ///< inline UNIQUE [KEY]
  bool auto_increment = false;
  std::string comment;
};

/// Where ADD/MODIFY/CHANGE puts the column.
enum class ColumnPlacement : uint8_t {
  kDefault,  ///< ADD: at the end; MODIFY/CHANGE: where it was
  kFirst,
  kAfter,    ///< after AlterOp::after
};

/// One ALTER TABLE specification.
enum class AlterOpKind : uint8_t {
  kAddColumn,        ///< ADD [COLUMN] definition [FIRST|AFTER x]
  kDropColumn,       ///< DROP [COLUMN] column
  kModifyColumn,     ///< MODIFY [COLUMN] definition (column = definition name)
  kChangeColumn,     ///< CHANGE [COLUMN] column definition (new name in definition)
  kRenameColumn,     ///< RENAME COLUMN column TO new_name
  kSetDefault,       ///< ALTER [COLUMN] column SET DEFAULT default_value
  kDropDefault,      ///< ALTER [COLUMN] column DROP DEFAULT
  kAddPrimaryKey,    ///< ADD [CONSTRAINT [x]] PRIMARY KEY (key_columns)
  kDropPrimaryKey,   ///< DROP PRIMARY KEY
  kRenameTable,      ///< RENAME [TO|AS] new_table
  kConvertCharset,   ///< CONVERT TO CHARACTER SET charset: every character column and the default
  kSetTableCharset,  ///< [DEFAULT] CHARACTER SET charset: only the default of later columns
};

struct AlterOp {
  AlterOpKind kind = AlterOpKind::kAddColumn;
  std::string column;                    ///< the existing column the op targets
  ColumnDefinition definition;           ///< kAddColumn, kModifyColumn, kChangeColumn
  ColumnPlacement placement = ColumnPlacement::kDefault;
  std::string after;                     ///< column named by AFTER
  std::string new_name;                  ///< kRenameColumn
  QualifiedName new_table;               ///< kRenameTable
  std::vector<std::string> key_columns;  ///< kAddPrimaryKey
  std::string charset;                   ///< kConvertCharset, kSetTableCharset ("default" = database's)
  bool has_default = false;              ///< kSetDefault: false for SET DEFAULT NULL
  std::string default_value;             ///< kSetDefault
  bool if_exists = false;                ///< MariaDB IF [NOT] EXISTS: a missing/present target is no error
};

enum class DdlKind : uint8_t {
  kIgnored,          ///< not a table change (GRANT, CREATE VIEW, CREATE INDEX, temporary tables, ...)
  kUnparsed,         ///< changes a table (or may) but was not understood: re-read the schema
  kCreateTable,      ///< `schema` holds the new table
  kCreateTableLike,  ///< CREATE TABLE table LIKE source
  kAlterTable,       ///< `ops`, in statement order
  kDropTable,        ///< one per table of a DROP TABLE
  kRenameTable,      ///< table -> new_table; one per pair of a RENAME TABLE, in order
  kTruncateTable,
  kCreateDatabase,
  kDropDatabase,
  kAlterDatabase,    ///< only the default charset is kept
};

/// Returns "CreateTable", "Unparsed", ... for logs.
const char* DdlKindName(DdlKind kind);

/// One structured change of a DDL statement.
struct DdlChange {
  DdlKind kind = DdlKind::kIgnored;
  QualifiedName table;        ///< the table changed; for kUnparsed the table when known
  QualifiedName new_table;    ///< kRenameTable: the new name
  QualifiedName source;       ///< kCreateTableLike: the table copied
  TableSchema schema;         ///< kCreateTable: columns (charset "" = table default) and primary key
  std::string table_charset;  ///< kCreateTable: DEFAULT CHARSET (or charset of COLLATE), "" if none
  std::vector<AlterOp> ops;   ///< kAlterTable
  std::string database;       ///< k*Database
  std::string charset;        ///< kCreateDatabase/kAlterDatabase: default charset, "" if none
  bool if_exists = false;     ///< DROP ... IF EXISTS, ALTER TABLE IF EXISTS (MariaDB)
  bool if_not_exists = false; ///< CREATE ... IF NOT EXISTS: an existing table is kept unchanged
  bool or_replace = false;    ///< CREATE OR REPLACE TABLE (MariaDB)
  std::string reason;         ///< kIgnored/kUnparsed: why (with the byte offset for parse errors)
};

/// Dialect options.
struct DdlParseOptions {
  /// MariaDB: JSON is an alias of LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin with a
  /// json_valid() check; the column gets column_type "longtext", binlog type BLOB and kind kJson.
  bool mariadb = false;
};

/// Parses one statement of a QUERY event. `current_database` is the event's database and
/// qualifies unqualified table names. Never throws for bad SQL: the result is then one kUnparsed
/// change (or kIgnored when the statement is not a table DDL at all).
std::vector<DdlChange> ParseDdl(std::string_view sql, std::string_view current_database,
                                const DdlParseOptions& options = {});

}  // namespace sluice::mysql
