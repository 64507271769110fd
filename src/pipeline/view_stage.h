#pragma once
/// The views of `transform.sql` between capture and sink (RisingWave's job in the seed). Routes each
/// captured chunk to the views that read its table (and each view's changes to the views that read
/// that view), flushes the views at every source commit, and turns a view's changes of one
/// transaction into one changelog chunk (one change per key, with the transaction's `_version`:
/// an insert, a delete of the row it had, or an update pair from that row to the new one) for the
/// sink — so a view in ClickHouse never shows half a transaction.
///
/// State: each view's operator state is persisted in the state store together with the source
/// offset (CheckpointPuts), under "<prefix>views/<name>/". A view whose SQL is new or changed since
/// the last run is backfilled (Backfill) from a consistent read of its source tables, without
/// touching the other tables and views. Single-threaded (the sink thread).

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "event/change.h"
#include "mysql/capture.h"
#include "sql/operators.h"
#include "sql/distribution.h"
#include "sql/plan.h"
#include "sql/source_ddl.h"
#include "sql/view_state.h"

namespace sluice {
class Config;
class StateStore;
}  // namespace sluice

namespace sluice::pipeline {

/// The `CREATE SINK name FROM view WITH (...)` statements of the config's `transform.sql` files
/// (RisingWave's; sql/source_ddl.h), read without compiling the views: the ClickHouse sink takes
/// the table names they give (SinkFromConfig). Throws as ViewStage does for an unreadable file or
/// a malformed statement.
std::vector<sql::DeclaredSink> DeclaredSinks(const Config& config);

/// Some of the views, for one task of `sluice transform` with transform.parallelism > 1: only
/// `views` (lower-case names), and with `shards` > 1 only the rows of shard `shard` of each
/// (routed by its sql::ShardKey, which each must have). A view they read that is not among them is
/// an input (InputViews): its changes come as chunks of its output schema (a changelog with
/// before images, as Commit emits it), like a captured table's.
struct ViewSelection {
  std::set<std::string> views;
  uint32_t shard = 0, shards = 1;
};

/// What ViewStage::Describe says of one view.
struct ViewInfo {
  std::string name;                     ///< lower-case
  TableSchemaPtr output;                ///< its output schema (database "", table = the view)
  std::vector<std::string> read_views;  ///< the views it reads (lower-case)
  std::vector<TableSchemaPtr> read_tables;  ///< the captured tables it reads (bound schemas)
  bool shardable = false;               ///< sql::ShardKeyOf found a shard key
};

/// The views (of `Describe`) that `sluice transform` splits into key shards with
/// transform.parallelism > 1: those with a shard key (each view is a task of its own there, reading
/// the views it reads from their topics).
std::set<std::string> SplitViews(const std::vector<ViewInfo>& views);

class ViewStage {
 public:
  /// Compiles the views of the config's `transform.sql` files against `tables` (the captured tables'
  /// emitted schemas). Throws Error(kConfig) for an unreadable file, Error(kSql) "file:line:col: ..."
  /// for SQL the engine does not accept, and Error(kSql) for a view without a unique key.
  ViewStage(const Config& config, const std::vector<TableSchemaPtr>& tables, const ViewSelection* selection = nullptr);
  ~ViewStage();

  /// The views in creation order: what each reads and whether its work splits by key.
  std::vector<ViewInfo> Describe() const;

  bool empty() const { return views_.empty(); }
  size_t size() const { return views_.size(); }
  /// Output schemas of the views (database "", table = view name), in creation order, leaving out
  /// the views named in `except` (names as Restore returns them).
  std::vector<TableSchemaPtr> OutputSchemas(const std::vector<std::string>& except = {}) const;
  /// The captured tables the views read (their bound schemas).
  std::vector<TableSchemaPtr> SourceTables() const;
  /// The views of other tasks these views read (ViewSelection), as their output schemas.
  std::vector<TableSchemaPtr> InputViews() const;
  /// Whether view `name` is written to Kafka as upsert JSON (transform.format, or its
  /// CREATE SINK ... FORMAT UPSERT ENCODE JSON) rather than as Debezium envelopes.
  bool WritesUpsert(const std::string& name) const;
  /// Kafka mode: inputs from several partitions arrive in no global order, so each commit's
  /// `_version` is max(previous + 1, largest input version) — strictly increasing in processing order.
  void set_monotonic_versions(bool on) { monotonic_ = on; }
  /// Monotonic mode: the last commit's version; RaiseVersionFloor makes every later one exceed `v`.
  uint64_t last_version() const { return last_version_; }
  void RaiseVersionFloor(uint64_t v) { last_version_ = std::max(last_version_, v); }
  /// Whether row `row` of `chunk` (a record of a view's output, its schema named after the view)
  /// belongs to this stage's shard of that view (ViewSelection); always true without shards.
  bool OwnsOutputRow(const ChangeChunk& chunk, size_t row) const;
  /// Whether any view reads captured table `db.table`.
  bool Reads(const TableSchema& table) const;

  /// Loads each view's state from `state` (prefix e.g. "run/"). `have_offset`: the pipeline resumes
  /// from a stored offset (else every view starts empty and is fed by the snapshot). Returns the
  /// views that must be backfilled: new or changed since the last run (and the views reading them),
  /// or every view when `snapshot_resumed` (an interrupted snapshot re-reads at a later position).
  /// Drops the stored state of views no longer in the config.
  /// `memory_budget`: bytes of view state kept in memory (transform.memory.max.bytes); the rest is
  /// read from the state store when needed.
  std::vector<std::string> Restore(StateStore& state, const std::string& prefix, bool have_offset,
                                   bool snapshot_resumed, size_t memory_budget);

  /// Feeds a chunk of a captured table.
  void Push(const ChangeChunk& chunk);
  /// A source transaction ended: appends each changed view's changelog chunk to `out` (Consolidate).
  void Commit(std::vector<ChangeChunk>& out);
  /// The views reading `table` (and views reading those): a TRUNCATE of `table` needs them rebuilt.
  std::vector<std::string> ReadersOf(const TableSchema& table) const;

  /// Rebuilds `views` from a consistent read of their source tables through `conn` (its own
  /// connection), at the current binlog end Q: `reset_table` empties each view's ClickHouse table,
  /// the rows read are pushed through the views and their output handed to `emit` chunk by chunk;
  /// afterwards the views ignore captured changes before Q and snapshot rows.
  void Backfill(const std::vector<std::string>& views, const mysql::CaptureOptions& options,
                const std::function<void(const TableSchema&)>& reset_table,
                const std::function<void(ChangeChunk&&)>& emit);

  /// The source is snapshotted again (snapshot.mode always, or when_needed after a purged binlog):
  /// every view starts empty, its ClickHouse table emptied by `reset_table`.
  void Reset(const std::function<void(const TableSchema&)>& reset_table);

  /// Stores every view's state changed since the last call together with `puts` (the offset it
  /// corresponds to) in one atomic, durable write. Call after Commit, at a transaction boundary.
  void CommitState(std::vector<std::pair<std::string, std::string>> puts);
  /// True while every view's state is being derived from scratch by a snapshot (first start, or the
  /// source snapshotted again) and has not been committed since: a crash before the snapshot
  /// completes rebuilds every view (ViewStage::Restore), so until then the caller may store its
  /// offset without CommitState — the state is written once, when it is complete, and evictions
  /// write it without undo records.
  bool StateVolatile() const { return volatile_; }
  /// Bytes of view state held in memory (bounded by the budget given to Restore).
  size_t MemoryUsed() const;
  /// One line on the view state's memory use and traffic to the store (logged at stop).
  std::string StateSummary() const;

 private:
  struct View;
  struct Adapter;
  void Route(View& v, std::vector<ChangeChunk>& produced);
  void PushTo(View& v, const std::string& source, const ChangeChunk& chunk);
  ChangeChunk Consolidate(View& v);
  std::vector<std::string> WithReaders(std::set<std::string> names) const;
  void MarkAllVolatile();
  std::unique_ptr<sql::ViewPipeline> MakePipeline(const sql::ViewDefinition& def, TableSchemaPtr output = nullptr);

  std::unique_ptr<sql::ViewStateManager> manager_;      ///< set by Restore; before views_ (destroyed after)
  std::vector<std::unique_ptr<View>> views_;            ///< creation order
  std::map<std::string, std::vector<View*>> readers_;   ///< source ("db.table" or view) -> views
  std::map<std::string, TableSchemaPtr> tables_;        ///< "db.table" (lower) -> bound schema
  std::map<std::string, TableSchemaPtr> inputs_;        ///< InputViews: view (lower) -> output schema
  std::set<std::string> upsert_;                        ///< WritesUpsert: views (lower)
  std::string prefix_;
  std::vector<std::string> deletes_;
  // The transaction being collected.
  uint64_t txn_version_ = 0;
  bool txn_snapshot_ = false;
  bool txn_any_ = false;
  SourceInfo txn_source_;
  bool monotonic_ = false;
  bool volatile_ = false;      ///< see StateVolatile
  uint64_t last_version_ = 0;  ///< monotonic mode: the last commit's version (stored with the state)
  uint32_t shard_ = 0, shards_ = 1;  ///< ViewSelection: this stage's shard of every view
};

}  // namespace sluice::pipeline
