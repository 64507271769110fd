#pragma once
// Test harness for views: source tables held in memory, batches of changes turned into
// ChangeChunks and pushed through every view's ViewPipeline, the views' output changes applied to
// materialized multisets, and after every batch each view compared with the same plan evaluated
// from scratch (sql/reference_eval.h) over the current tables.

#include <map>
#include <string>
#include <vector>

#include "sql/operators.h"
#include "sql/reference_eval.h"

namespace sluice::sql::testing {

class ViewHarness {
 public:
  explicit ViewHarness(std::string default_database = "test") : catalog_(std::move(default_database)) {}

  /// Adds a source table from a MySQL CREATE TABLE statement. Throws on anything else.
  void CreateTable(const std::string& ddl);
  void AddTable(TableSchemaPtr schema);
  /// Compiles views (CREATE MATERIALIZED VIEW statements) and starts their pipelines.
  void CreateViews(const std::string& file, const std::string& sql);

  /// Parses a row written as `1, NULL, 'text', 12.50` into values of `table`'s column types
  /// (`count` values, or all columns when count < 0).
  Row ParseRow(const std::string& table, const std::string& text, int count = -1) const;

  // Changes, collected into the pending batch (one source transaction).
  void Insert(const std::string& table, const Row& row);
  /// Replaces the row with the same primary key.
  void Update(const std::string& table, const Row& row);
  /// Deletes the row with this primary key (`key` holds the primary key columns only).
  void Delete(const std::string& table, const Row& key);
  bool HasRow(const std::string& table, const Row& key) const;
  std::vector<Row> TableRows(const std::string& table) const;

  /// Pushes the pending batch through every view, flushes, applies the outputs and checks every
  /// view against the oracle. Returns "" or a description of the first mismatch.
  std::string Commit();

  /// The view's materialized rows, formatted ("v1 v2 ...") and sorted.
  std::vector<std::string> ViewRows(const std::string& view) const;
  /// The oracle's rows for the view over the current tables, formatted and sorted.
  std::vector<std::string> OracleRows(const std::string& view) const;
  size_t changes_emitted() const { return changes_emitted_; }

 private:
  struct Table {
    TableSchemaPtr schema;
    std::vector<SqlType> types;
    std::map<std::string, Row> rows;  ///< by encoded primary key
  };
  struct View {
    ViewDefinition def;
    std::unique_ptr<ViewPipeline> pipeline;
    std::map<std::string, int64_t> contents;  ///< formatted row -> multiplicity
  };
  Table& FindTable(const std::string& name);
  const Table& FindTable(const std::string& name) const;
  std::string PkKey(const Table& t, const Row& row, bool key_only) const;
  void Emit(const std::string& table, RowOp op, const Row& row);
  SourceRows OracleSources() const;
  static std::string Format(const Row& row, const std::vector<SqlType>& types);

  Catalog catalog_;
  std::map<std::string, Table> tables_;  ///< by "db.table"
  std::vector<View> views_;
  std::vector<std::pair<std::string, ChangeChunk>> pending_;
  uint64_t version_ = 1;
  size_t changes_emitted_ = 0;
};

}  // namespace sluice::sql::testing
