#pragma once
/// ClickHouseSink: change chunks in, ReplacingMergeTree rows out. Buffers Native blocks (or RowBinary,
/// `insert.format`) per table and inserts them in batches; `Flush()` returns only once ClickHouse acknowledged every row written
/// before it, so the caller commits source offsets after Flush() and never before.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clickhouse/client.h"
#include "clickhouse/ddl.h"
#include "clickhouse/row_binary.h"
#include "clickhouse/sink_options.h"
#include "event/change.h"

namespace sluice::clickhouse {

/// Counters for metrics and tests.
struct SinkStats {
  uint64_t rows_inserted = 0;   ///< rows acknowledged by ClickHouse (deletes included)
  uint64_t bytes_inserted = 0;  ///< RowBinary/Native bytes acknowledged
  uint64_t inserts = 0;         ///< INSERT requests acknowledged
  uint64_t retries = 0;         ///< requests retried after a retryable error
  uint64_t dlq_rows = 0;        ///< rows written to the dead-letter table
};

/// Writes change chunks of many tables to one ClickHouse server. Owns its HTTP connection.
/// Not thread-safe: one thread calls it (the pipeline's sink stage). A call that hits a retryable
/// error retries with exponential back-off up to `retry.max.ms`, blocking the caller (backpressure).
class ClickHouseSink {
 public:
  explicit ClickHouseSink(SinkOptions options);
  ~ClickHouseSink();

  /// Connects, detects the server version and creates `sink.database` when missing. Throws
  /// Error(kSink) at once (no retries) when the server is unreachable or refuses the credentials.
  void Connect();

  /// While `*flag` is true, retries stop: the failing call throws Error(kSink) saying so (a
  /// shutdown does not wait out `retry.max.ms`; nothing is lost, the offset has not moved).
  void SetCancelFlag(const std::atomic<bool>* flag) { cancel_ = flag; }

  /// Creates the table for `schema` when missing, or checks an existing one against it (adding
  /// missing columns when `auto.evolve`, else an error showing both schemas). Idempotent.
  void EnsureTable(const TableSchema& schema);

  /// Applies a source schema change: flushes the table's buffered rows, then ALTERs the ClickHouse
  /// table (skipping steps it already reflects). `renames` maps old → new column names when known.
  /// The caller should commit the DDL's source position right after this returns.
  void ApplySchemaChange(const TableSchema& old_schema, const TableSchema& new_schema,
                         const std::map<std::string, std::string>& renames = {});

  /// Applies a source TRUNCATE TABLE: inserts the table's buffered rows, then empties the
  /// ClickHouse table (rows written after this call are kept). Idempotent on replay.
  void Truncate(const TableSchema& schema);
  /// A TRUNCATE at `version` read from Kafka, where rows of the table after it may already be
  /// written (partitions are not ordered): writes the table's buffered rows, then a delete marker
  /// at `version` for every live row below it (INSERT ... SELECT ... FINAL inside ClickHouse);
  /// rows above it stay. Idempotent; nothing when the table does not exist.
  void TruncateBelow(const TableSchema& schema, uint64_t version);

  /// Drops the ClickHouse table of `schema` (a view being rebuilt: its rows and maybe its columns
  /// change) with its buffered rows, and creates it again empty.
  void ResetTable(const TableSchema& schema);

  /// Applies a source RENAME TABLE: inserts the old table's buffered rows, then renames the
  /// ClickHouse table when the new name has no table yet (idempotent on replay).
  void RenameTable(const TableSchema& old_schema, const TableSchema& new_schema);

  /// Buffers the rows of `chunk`. Creates the table on first sight and applies a schema change
  /// when the chunk's schema differs from the last one seen. Inserts a table's buffer when it
  /// reaches `batch.max.rows` or `batch.max.bytes` (early delivery is safe: replays collapse).
  void Write(const ChangeChunk& chunk);

  /// True when some buffered row is older than `batch.max.delay.ms`: the caller should Flush().
  bool FlushDue() const;

  /// Inserts every buffered row; returns when ClickHouse acknowledged all of them.
  void Flush();

  size_t BufferedRows() const;
  size_t BufferedBytes() const;
  const SinkStats& stats() const { return stats_; }
  const ServerFeatures& features();
  ClickHouseClient& client() { return *client_; }

  /// Returns the ClickHouse database and table that `schema` is written to.
  std::pair<std::string, std::string> TargetOf(const TableSchema& schema) const;

 private:
  struct Table;
  using Clock = std::chrono::steady_clock;

  Table& StateFor(const TableSchema& schema);
  void FlushTable(Table& t);
  void EncodePending(Table& t);
  void InsertRange(Table& t, size_t lo, size_t hi);
  void InsertBisecting(Table& t, size_t lo, size_t hi);
  void WriteDeadLetters();
  void EnsureDeadLetterTable();
  std::vector<std::pair<std::string, std::string>> ReadColumns(const std::string& db, const std::string& table);
  void EnsureDatabase(const std::string& db);
  void WaitForMutations(const std::string& db, const std::string& table);
  template <typename F>
  void WithRetry(const std::string& what, F&& f);

  SinkOptions options_;
  std::unique_ptr<ClickHouseClient> client_;
  DdlContext ctx_;
  bool connected_ = false;
  const std::atomic<bool>* cancel_ = nullptr;
  std::map<std::string, std::unique_ptr<Table>> tables_;  // by source "db.table"
  /// The source table or view each ClickHouse table ("db.table") is written from, and whether
  /// its name was chosen in the config (sink.tables.<t>.table): two sources may share a table
  /// only when both were mapped to it on purpose (ClaimTarget).
  std::map<std::pair<std::string, std::string>, std::pair<std::string, bool>> targets_;
  void ClaimTarget(const TableSchema& schema, const std::string& db, const std::string& name);
  std::vector<std::string> created_databases_;
  struct DeadLetter {
    std::string source_table, target_table, error, row;
    uint64_t version = 0;
  };
  std::vector<DeadLetter> dead_letters_;
  bool dlq_ready_ = false;
  size_t rejected_in_flush_ = 0;
  SinkStats stats_;
};

/// Returns a stable 64-bit hash of `data` (insert_deduplication_token).
uint64_t StableHash64(std::string_view data);

/// Returns a printable side-by-side view of the expected and the existing ClickHouse columns.
std::string DescribeSchemas(const std::vector<std::pair<std::string, std::string>>& expected,
                            const std::vector<std::pair<std::string, std::string>>& actual);

}  // namespace sluice::clickhouse
