#pragma once
/// The MySQL/MariaDB source stage (Debezium's job): a consistent, chunked, resumable snapshot,
/// then the binlog stream from exactly the snapshot position, decoded into ChangeChunks in commit
/// order. Schema history is tracked from DDL and persisted in the state directory. The capture
/// never stores offsets itself: it hands them to the consumer with each commit, and the consumer
/// stores one only after the next stage has durably taken everything before it.
/// Runs on one thread (Run); Stop() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "event/change.h"
#include "mysql/connection.h"
#include "mysql/gtid_set.h"
#include "mysql/offset.h"
#include "mysql/table_filter.h"

namespace sluice {
class Config;
class StateStore;
}  // namespace sluice

namespace sluice::mysql {

class SchemaHistory;
struct CaptureMetrics;
struct StreamStart;

/// Records that `offset` is acknowledged downstream (stored in the state directory): the acked
/// position gauges and the freshness watermark behind sluice_lag_seconds (common/metrics.h).
void ReportAcked(const SourceOffset& offset);

/// Receives the capture's output on the capture thread, in commit order.
class ChangeConsumer {
 public:
  virtual ~ChangeConsumer() = default;
  /// Rows of (part of) one transaction; a transaction may span several calls.
  virtual void OnRows(ChangeChunk&& chunk) = 0;
  /// A captured table's schema changed; called before any row of the new shape. `before` is null
  /// for a new table, `after` is null for a dropped one. Schemas are the emitted ones (excluded
  /// columns removed).
  virtual void OnSchema(const TableSchemaPtr& before, const TableSchemaPtr& after,
                        const std::map<std::string, std::string>& renames = {}) = 0;
  /// TRUNCATE TABLE in the source (its rows are not in the binlog): downstream empties the table.
  /// `at`: the statement's place in the binlog (every row change before it has a lower version
  /// than MakeVersion(file, at.pos, 0), every one after it a higher one).
  virtual void OnTruncate(const TableSchemaPtr& table, const SourceInfo& at) = 0;
  /// A transaction boundary: a restart from `offset` re-delivers nothing before it.
  virtual void OnCommit(const SourceOffset& offset) = 0;
  /// A new snapshot starts at `offset` (snapshot_running, nothing read yet). It must be stored
  /// before any of the snapshot's rows reach downstream: a restart then resumes this snapshot and
  /// streams from its position, delivering the deletes since. Were a new snapshot taken instead,
  /// rows the first attempt delivered and the source deleted in between would stay alive
  /// downstream. The default passes it on as a commit (enough where the consumer checkpoints the
  /// next commit before later rows, as `sluice run` does after the snapshot's schemas).
  virtual void OnSnapshotStart(const SourceOffset& offset) { OnCommit(offset); }
  /// Everything committed in the source before the capture caught up has been passed on.
  virtual void OnCaughtUp() {}
  /// The source is idle (a heartbeat arrived between transactions): a good moment to deliver
  /// what is buffered and store the last offset.
  virtual void OnIdle() {}
};

struct CaptureOptions {
  ConnectionOptions connection;
  uint32_t server_id = 0;
  std::string snapshot_mode = "initial";
  size_t snapshot_fetch_size = 10000;
  size_t snapshot_max_threads = 2;     ///< connections reading the snapshot concurrently
  size_t max_chunk_rows = 65536;       ///< a streamed chunk is passed on when it reaches this
  size_t max_chunk_bytes = 8u << 20;   ///< ... or this size
  bool exit_when_caught_up = false;
  bool progress = true;                ///< snapshot progress on stderr
  int heartbeat_ms = 1000;             ///< source heartbeat period when idle (keeps the lag truthful)
  std::string heartbeat_action_query;  ///< run on the source every heartbeat_ms when set
  GtidSourceFilter gtid_filter;        ///< gtid.source.includes / gtid.source.excludes
  bool gtid_filter_dml = true;         ///< gtid.source.filter.dml.events
  /// skipped.operations: streamed inserts (c), updates (u), deletes (d) left out; truncates (t)
  /// not passed on — only when t is listed explicitly (by default `run` applies a TRUNCATE and
  /// `capture` emits its truncate event, so capture -> sink equals run).
  bool skip_inserts = false, skip_updates = false, skip_deletes = false, skip_truncates = false;
  static CaptureOptions FromConfig(const Config& config);
};

class MySqlCapture {
 public:
  /// `state_prefix` namespaces the schema history in the state store (e.g. "run/").
  MySqlCapture(CaptureOptions options, TableFilter filter, StateStore* state, std::string state_prefix);
  ~MySqlCapture();

  /// Snapshots and/or streams from `resume` (empty: first start) until Stop() or, with
  /// exit_when_caught_up, until caught up. Retryable source errors (network, restart) are retried
  /// with backoff from the last commit; other errors throw.
  void Run(ChangeConsumer& consumer, const SourceOffset& resume);
  void Stop() { stop_ = true; }
  bool stopping() const { return stop_; }

  /// The number of rows the snapshot will read (estimate), and rows read so far.
  uint64_t snapshot_rows_total() const { return snapshot_total_; }
  uint64_t snapshot_rows_done() const { return snapshot_done_; }

 private:
  void Snapshot(ChangeConsumer& consumer, SourceOffset& offset, bool with_data);
  void Stream(ChangeConsumer& consumer, SourceOffset offset);
  void StreamOnce(ChangeConsumer& consumer, SourceOffset& offset, const SourceOffset& target);
  /// True when `offset` can resume by GTID on the connected server (Debezium: whenever the server
  /// uses GTIDs and the offset has a complete set).
  bool ResumesByGtid(const SourceOffset& offset) const;
  /// Where the dump of `offset` starts: its GTIDs when ResumesByGtid, else file:pos.
  StreamStart PlanStart(const SourceOffset& offset);
  /// Describes the transactions after `offset` the server has purged ("" when none is missing).
  std::string PurgedSince(Connection& conn, const SourceOffset& offset);
  /// The offset's GTID set in the form it keeps (filtered by gtid.source.*, canonical text).
  std::string KeptGtids(const std::string& server_set) const;
  TableSchemaPtr Emitted(const TableSchemaPtr& full);
  const std::vector<int>& EmittedColumns(const TableSchemaPtr& full);

  CaptureOptions options_;
  TableFilter filter_;
  StateStore* state_;
  std::unique_ptr<SchemaHistory> history_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> snapshot_total_{0}, snapshot_done_{0};
  bool is_mariadb_ = false;
  bool server_gtids_ = false;  ///< the server uses GTIDs (ServerUsesGtids)
  struct Projection {
    TableSchemaPtr full;
    TableSchemaPtr emitted;
    std::vector<int> keep;
  };
  std::map<const TableSchema*, Projection> projections_;
  std::unique_ptr<CaptureMetrics> metrics_;
};

}  // namespace sluice::mysql
