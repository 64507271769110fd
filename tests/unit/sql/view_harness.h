#pragma once
// Test harness for views: source tables held in memory, batches of changes turned into
// ChangeChunks and pushed through every view's ViewPipeline, the views' output changes applied to
// materialized multisets, and after every batch each view compared with the same plan evaluated
// from scratch (sql/reference_eval.h) over the current tables. A view with a unique key is also
// applied as the sink applies it (the batch's last change per key wins, a ReplacingMergeTree
// upsert) and must equal its multiset: two rows never share a key.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sql/distribution.h"
#include "sql/operators.h"
#include "sql/reference_eval.h"
#include "sql/view_state.h"
#include "state/state_store.h"

namespace sluice::sql::testing {

class ViewHarness {
 public:
  explicit ViewHarness(std::string default_database = "test") : catalog_(std::move(default_database)) {}
  ~ViewHarness();

  /// Keeps the views' state in a ViewStateManager over a StateStore in a fresh temporary
  /// directory, with this memory budget; Commit() commits it every `commit_every` batches (with
  /// the batch number as the offset). Call before CreateViews.
  void UsePersistedState(size_t budget_bytes, size_t max_bucket_bytes = 0, int commit_every = 1);
  /// ViewStateManager::set_multiset_limits for the persisted state (call before UsePersistedState;
  /// small limits make min/max multisets move to value-by-value storage and windows early).
  void SetMultisetLimits(size_t inline_values, size_t window_keep) {
    multiset_inline_ = inline_values;
    multiset_keep_ = window_keep;
  }
  ViewStateManager* state_manager() { return manager_.get(); }
  void set_commit_every(int n) { commit_every_ = n; }
  /// Maintains only shard `shard` of `shards` of every view (sql/distribution.h: each view must
  /// have a ShardKey): source rows are routed by KeepShard before they are pushed, every output
  /// row is checked to route to this shard by the view's output columns, and Commit no longer
  /// compares a view with the oracle (the test compares the union of the shards). Call before
  /// CreateViews.
  void SetShard(uint32_t shard, uint32_t shards) {
    shard_ = shard;
    shards_ = shards;
  }
  StateStore* state_store() { return store_.get(); }
  /// Simulates kill -9: drops the pipelines, the manager and the store without committing,
  /// reopens the store, runs Recover, rebuilds the pipelines and rolls the source tables and view
  /// contents back to the last committed batch. Returns that batch's number (the stored offset).
  int Crash();
  /// Every key/value of the views' state in the store (for crash tests).
  std::vector<std::pair<std::string, std::string>> StoredState() const;
  /// Number of batches committed so far (persisted mode).
  int committed_batches() const { return committed_batches_; }

  /// Adds a source table from a MySQL CREATE TABLE statement. Throws on anything else.
  void CreateTable(const std::string& ddl);
  void AddTable(TableSchemaPtr schema);
  /// Compiles views (CREATE MATERIALIZED VIEW statements) and starts their pipelines.
  void CreateViews(const std::string& file, const std::string& sql);
  /// Compiles views against the tables without starting pipelines.
  std::vector<ViewDefinition> Compile(const std::string& file, const std::string& sql) {
    return CompileViews(file, sql, catalog_);
  }

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

  /// The view's materialized rows without its hidden key columns, formatted ("v1 v2 ...") and sorted.
  std::vector<std::string> ViewRows(const std::string& view) const;
  /// The oracle's rows for the view over the current tables, formatted and sorted (`hidden`: with
  /// the hidden key columns).
  std::vector<std::string> OracleRows(const std::string& view, bool hidden = false) const;
  /// The view's output columns, one line each: `name type[ key][ hidden]`.
  std::vector<std::string> ViewColumns(const std::string& view) const;
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
    /// (formatted visible columns, formatted whole row with the hidden key columns) -> multiplicity
    std::map<std::pair<std::string, std::string>, int64_t> contents;
    std::map<std::string, std::string> upserted;  ///< encoded key -> formatted whole row (has_key)
    std::optional<ShardKey> shard_key;            ///< SetShard
  };
  const View& FindView(const std::string& name) const;
  /// Applies one batch's output to `v.upserted` as the sink does. Returns "" or what went wrong.
  static std::string Upsert(View& v, const std::vector<ChangeChunk>& out);
  Table& FindTable(const std::string& name);
  const Table& FindTable(const std::string& name) const;
  std::string PkKey(const Table& t, const Row& row, bool key_only) const;
  void Emit(const std::string& table, RowOp op, const Row& row);
  SourceRows OracleSources() const;
  static std::string Format(const Row& row, const std::vector<SqlType>& types, size_t columns = SIZE_MAX);

  Catalog catalog_;
  std::map<std::string, Table> tables_;  ///< by "db.table"
  std::vector<View> views_;
  std::vector<std::pair<std::string, ChangeChunk>> pending_;
  uint64_t version_ = 1;
  size_t changes_emitted_ = 0;

  // Persisted mode.
  void OpenState();
  std::string state_dir_;
  size_t budget_ = 0;
  size_t max_bucket_bytes_ = 0;
  size_t multiset_inline_ = 0;  ///< 0: the manager's defaults
  size_t multiset_keep_ = 0;
  int commit_every_ = 1;
  uint32_t shard_ = 0, shards_ = 1;
  int batches_ = 0;
  int committed_batches_ = 0;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<ViewStateManager> manager_;
  struct Checkpoint {
    std::map<std::string, std::map<std::string, Row>> tables;
    std::vector<std::map<std::pair<std::string, std::string>, int64_t>> contents;
    std::vector<std::map<std::string, std::string>> upserted;
    uint64_t version = 1;
  } checkpoint_;
};

}  // namespace sluice::sql::testing
