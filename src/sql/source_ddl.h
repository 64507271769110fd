#pragma once
/// RisingWave's source DDL in transform.sql, so existing RisingWave scripts carry over:
///
///   CREATE TABLE orders (id INT PRIMARY KEY, amount DECIMAL(10,2), ...)
///   WITH (connector = 'kafka', topic = 'shop.inventory.orders', properties.bootstrap.server = '...')
///   FORMAT DEBEZIUM ENCODE JSON;
///
/// declares `orders` as the table whose Debezium change events are in that topic. PostgreSQL's
/// grammar has neither dotted option names nor FORMAT/ENCODE, so such statements are taken out of
/// the text here (blanked, keeping every other statement's line and column) and their column list
/// is parsed by libpg_query on its own. What a declared table binds to is decided by the caller
/// (pipeline/view_stage.cpp: the captured table whose topic it names).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sql/plan.h"

namespace sluice::sql {

struct DeclaredSource {
  std::string name;                            ///< the table name views use
  SourceLocation location;                     ///< of the CREATE TABLE statement
  std::vector<std::string> columns;            ///< declared column names, in order
  std::vector<std::string> column_types;       ///< their declared SQL types as written
  std::vector<std::string> primary_key;        ///< declared PRIMARY KEY columns
  std::map<std::string, std::string> options;  ///< WITH (...) options, keys lower-case
  std::string format;                          ///< FORMAT ..., upper-case ("DEBEZIUM")
  std::string encode;                          ///< ENCODE ..., upper-case ("JSON")
};

/// RisingWave's `CREATE SINK name FROM view WITH (connector = 'clickhouse' | 'kafka', ...)
/// [FORMAT ... ENCODE ...]`. Sluice writes every view to ClickHouse (and, with Kafka, to its topic)
/// by itself, so a sink statement only says where: `clickhouse.table` (and `clickhouse.database`)
/// name the view's ClickHouse table; the connection options are the `sink` section's.
struct DeclaredSink {
  std::string name;                            ///< the sink's name
  std::string from;                            ///< the view it writes
  SourceLocation location;                     ///< of the CREATE SINK statement
  std::map<std::string, std::string> options;  ///< WITH (...) options, keys lower-case
  /// FORMAT of a kafka sink: "upsert" (FORMAT UPSERT ENCODE JSON), "debezium" (FORMAT DEBEZIUM
  /// ENCODE JSON), or empty (none given: transform.format).
  std::string format;
};

/// Finds every `CREATE TABLE ... WITH (...) FORMAT ... ENCODE ...` and `CREATE SOURCE ...` in `text`
/// (the contents of `file_name`), appends each to `out` and returns the text with those statements
/// replaced by blanks (newlines kept). `CREATE SINK ... FROM view WITH (...)` statements are taken
/// out the same way and appended to `sinks` when given. Throws Error(kSql) "file:line:column: ..."
/// on a malformed declaration, a connector other than kafka (clickhouse or kafka for a sink), a
/// FORMAT/ENCODE other than DEBEZIUM JSON, a missing topic or primary key, or a sink AS SELECT.
std::string ExtractSourceTables(std::string_view file_name, std::string_view text, std::vector<DeclaredSource>* out,
                                std::vector<DeclaredSink>* sinks = nullptr);

}  // namespace sluice::sql
