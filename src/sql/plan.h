#pragma once
/// Logical plans of views (the binder's output, the operators' and the reference evaluator's
/// input), the catalog views are bound against, and the front-end entry point CompileViews.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql/expr.h"

namespace sluice::sql {

enum class PlanKind : uint8_t { kScan, kFilter, kProject, kAggregate, kJoin, kUnionAll };
enum class AggFunc : uint8_t { kCountStar, kCount, kSum, kAvg, kMin, kMax, kBoolAnd, kBoolOr };
enum class JoinType : uint8_t { kInner, kLeft, kRight, kFull };

/// One aggregate call of a kAggregate node; `arg` is bound against the node's input.
struct AggCall {
  AggFunc func = AggFunc::kCountStar;
  ExprPtr arg;          ///< null for count(*)
  bool distinct = false;
  ExprPtr filter;       ///< FILTER (WHERE ...) over the node's input; null when none
  SqlType type;         ///< result type
};

struct PlanNode;
using PlanPtr = std::shared_ptr<const PlanNode>;

/// One relational operator. Output columns are `names`/`types`. Immutable once built.
struct PlanNode {
  PlanKind kind = PlanKind::kScan;
  std::vector<std::string> names;
  std::vector<SqlType> types;
  std::vector<PlanPtr> inputs;

  std::string source;                ///< kScan: "db.table" for a source table, the view name for a view
  ExprPtr predicate;                 ///< kFilter; kJoin: residual ON condition over left ++ right (may be null)
  std::vector<ExprPtr> exprs;        ///< kProject
  std::vector<ExprPtr> group_keys;   ///< kAggregate: output columns 0..k-1
  std::vector<AggCall> aggs;         ///< kAggregate: output columns k..
  bool global_aggregate = false;     ///< kAggregate without GROUP BY: always exactly one row
  JoinType join_type = JoinType::kInner;
  std::vector<ExprPtr> left_keys;    ///< kJoin: over the left input
  std::vector<ExprPtr> right_keys;   ///< kJoin: over the right input
  /// Output columns that identify a row (source primary keys through filters, projections and
  /// joins; a join's `_side`; GROUP BY keys; all columns after DISTINCT). Empty: at most one row. nullopt: no key (a
  /// source table without a primary key is read and its rows are not aggregated).
  std::optional<std::vector<int>> unique_key;
  /// The last `hidden_columns` output columns are hidden key columns: key columns of the input
  /// that the select list dropped (`_key_<input>_<column>`, a join's `_side`), carried so the
  /// output keeps a unique key, and for UNION ALL the branches' keys plus `_branch`. Set on the
  /// nodes that end a SELECT (its projection, UNION ALL) and on the scan of a view that has them;
  /// SQL cannot name them.
  int hidden_columns = 0;
  /// kJoin: a last output column `_side` (bigint, never NULL) says which inputs a row has: 1 left
  /// only, 2 right only, 3 both. Set on a FULL JOIN whose inputs' keys may both be entirely NULL,
  /// where it is part of the key: a left-only and a right-only row would share the all-NULL key.
  bool side_column = false;

  /// Renders the plan as an indented tree (for tests and `EXPLAIN`-like output).
  std::string ToString(int indent = 0) const;
};

/// Source tables and views that views are bound against. Identifiers are case-insensitive.
/// Not thread-safe; filled before compiling.
class Catalog {
 public:
  explicit Catalog(std::string default_database = "") : default_database_(std::move(default_database)) {}
  /// Adds (or replaces) a source table, known as `database.table` and as `table` in the default database.
  void AddTable(TableSchemaPtr schema);
  /// Makes `name` (in the default database) another name of a source table: RisingWave's
  /// `CREATE TABLE name ... WITH (connector = 'kafka', topic = ...)` naming a captured table.
  void AddAlias(const std::string& name, TableSchemaPtr schema);
  /// Adds a view's output schema under its name; its last `hidden_columns` columns are hidden key
  /// columns; `has_key`: the schema's primary_key is the view's unique key (empty: one row at most);
  /// `key_may_be_null`: a row's key columns may all be NULL (e.g. GROUP BY a nullable column).
  void AddView(const std::string& name, TableSchemaPtr schema, int hidden_columns = 0, bool has_key = false,
               bool key_may_be_null = true);
  /// What Find found besides the schema.
  struct Found {
    std::string source;      ///< the scan's source name: "db.table", or the view's lower-case name
    int hidden_columns = 0;  ///< a view's trailing hidden key columns
    bool view_has_key = false;
    bool view = false;       ///< a view (else a source table)
    bool view_key_may_be_null = false;  ///< a view's key columns may all be NULL in one row
  };
  /// Finds `database.name` (database empty: a view, then a table of the default database).
  /// Fills `found`. Returns null when unknown.
  TableSchemaPtr Find(std::string_view database, std::string_view name, Found* found) const;
  const std::string& default_database() const { return default_database_; }

 private:
  std::string default_database_;
  std::map<std::string, TableSchemaPtr> tables_;  ///< "db.table", lower-case
  struct View {
    TableSchemaPtr schema;
    int hidden_columns = 0;
    bool has_key = false;
    bool key_may_be_null = true;
  };
  std::map<std::string, View> views_;             ///< lower-case name
};

/// Where a statement or error is in its file (1-based).
struct SourceLocation {
  std::string file;
  int line = 1;
  int column = 1;
};

/// The 1-based line and column of byte `offset` of `text` (clamped to the text), in `file`.
SourceLocation LocateIn(std::string_view file, std::string_view text, int64_t offset);

/// A compiled `CREATE MATERIALIZED VIEW`.
struct ViewDefinition {
  std::string name;
  std::string sql;             ///< the statement text
  SourceLocation location;     ///< of the statement
  PlanPtr plan;
  TableSchemaPtr output;       ///< database "", table `name`, columns of the plan (hidden ones last)
  /// Output columns forming the upsert key (GROUP BY keys; for joins the inputs' primary keys, and
  /// `_side` for a FULL JOIN whose inputs' keys may both be all NULL; hidden key columns where the
  /// select list dropped them; a view of at most one row, a global aggregate, the constant hidden
  /// column `_key_row`), when `has_key`. No key only when a source
  /// table without a primary key is read (see `keyless_sources`).
  std::vector<int> key_columns;
  bool has_key = false;
  /// The last `hidden_columns` output columns are hidden key columns (plan.h PlanNode::hidden_columns):
  /// in the view's output (ClickHouse table, Kafka key), not visible to SQL reading the view.
  int hidden_columns = 0;
  /// Without a key: the source tables read that have no primary key ("db.table").
  std::vector<std::string> keyless_sources;
};

/// Parses `text` (the contents of `file_name`) with libpg_query and binds every statement, each of
/// which must be `CREATE MATERIALIZED VIEW name AS SELECT ...`. Each view is added to `catalog` as
/// it is bound, so a view may read the views before it. Throws Error(kSql) with
/// "file:line:column: message" on a syntax error, an unknown table/column, a type error or an
/// unsupported construct ("unsupported: ...").
std::vector<ViewDefinition> CompileViews(std::string_view file_name, std::string_view text, Catalog& catalog);

}  // namespace sluice::sql
