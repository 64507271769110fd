#pragma once
/// Debezium JSON codec, encoding side: typed change rows -> the Kafka records Debezium's MySQL
/// connector (3.x) writes through Kafka Connect's JsonConverter — topic, key JSON, value JSON
/// (the `before`/`after`/`source`/`op` envelope), tombstones. docs/DEBEZIUM_COMPAT.md lists how
/// each MySQL type is represented under each handling mode and every deliberate difference.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "event/change.h"
#include "event/json_writer.h"

namespace sluice {

/// Sluice's release, reported inside `source.version`.
inline constexpr std::string_view kSluiceVersion = "0.1.0";
/// The Debezium release whose MySQL event format Sluice reproduces.
inline constexpr std::string_view kDebeziumCompatVersion = "3.6.1";

/// `decimal.handling.mode`
enum class DecimalHandling : uint8_t { kPrecise, kDouble, kString };
/// `time.precision.mode`
enum class TimePrecision : uint8_t { kAdaptiveTimeMicroseconds, kConnect };
/// `bigint.unsigned.handling.mode`
enum class BigIntUnsignedHandling : uint8_t { kLong, kPrecise };
/// `binary.handling.mode`
enum class BinaryHandling : uint8_t { kBytes, kBase64, kBase64UrlSafe, kHex };

/// Returns the default `source.version`: "<Debezium version>.Sluice-<Sluice version>", e.g.
/// "3.6.1.Sluice-0.1.0" — parses as Debezium 3.6.1 (the format we emit) with a qualifier that
/// says who wrote the event (real Debezium writes "3.6.1.Final").
std::string DefaultDebeziumSourceVersion();

/// How change events are rendered; defaults are Debezium's. Plain value type.
struct DebeziumOptions {
  std::string topic_prefix;    ///< `topic.prefix`: first part of topic and schema names
  std::string connector_name;  ///< `source.name`; Debezium uses topic.prefix (filled in if empty)
  std::string connector = "mysql";  ///< `source.connector`, also names io.debezium.connector.<x>.Source
  DecimalHandling decimal_handling = DecimalHandling::kPrecise;
  TimePrecision time_precision = TimePrecision::kAdaptiveTimeMicroseconds;
  BigIntUnsignedHandling bigint_unsigned = BigIntUnsignedHandling::kLong;
  BinaryHandling binary_handling = BinaryHandling::kBytes;
  bool schemas_enable = false;        ///< JsonConverter `schemas.enable` (Sluice default: false)
  bool tombstones_on_delete = true;   ///< `tombstones.on.delete`
  bool include_query = false;         ///< `include.query`: fill `source.query` when known
  bool enable_time_adjuster = true;   ///< `enable.time.adjuster`: years 0..99 -> 2000..2069/1970..1999
  bool provide_transaction_metadata = false;  ///< `provide.transaction.metadata`: BEGIN/END events + `transaction` block
  std::string transaction_topic = "transaction";  ///< `topic.transaction`: <topic.prefix>.<this>
  std::string version = DefaultDebeziumSourceVersion();  ///< `source.version`
};

/// Reads DebeziumOptions from Debezium/Kafka Connect property names: `topic.prefix` (required),
/// `decimal.handling.mode`, `time.precision.mode`, `bigint.unsigned.handling.mode`,
/// `binary.handling.mode`, `tombstones.on.delete`, `schemas.enable`, `include.query`,
/// `enable.time.adjuster`, `provide.transaction.metadata`, `topic.transaction`. Values are
/// case-insensitive as in Debezium; a missing or empty value
/// means the default; other keys are ignored.
/// Throws Error(kConfig) naming the key, the bad value and the allowed values.
DebeziumOptions ParseDebeziumOptions(const std::map<std::string, std::string>& props);

/// The transaction id of Debezium's transaction metadata for a streamed change: its GTID, or
/// "<binlog file>:<position>" of its first row event when the server has no GTIDs.
std::string DebeziumTransactionId(const SourceInfo& source);

/// One Kafka record. Views point into the encoder's buffer and stay valid until its next
/// Encode() call.
struct DebeziumRecord {
  std::string_view topic;
  std::string_view key;    ///< key JSON; meaningless when key_is_null
  std::string_view value;  ///< value JSON; meaningless when value_is_null (a tombstone)
  bool key_is_null = false;
  bool value_is_null = false;
  /// Kafka header Debezium adds when an UPDATE changes the primary key: "__debezium.newkey" on
  /// the delete record, "__debezium.oldkey" on the create record (value: the other key's JSON).
  std::string_view header_name;
  std::string_view header_value;
  /// EncodeUpsert: the change's `_version` (Kafka header `sluice.version`) and the row the key had
  /// before it, as row JSON (header `sluice.before`; empty view when `has_before` is false).
  bool upsert = false;
  uint64_t version = 0;
  bool has_before = false;
  std::string_view before;
};

/// Kafka headers of an upsert record (DebeziumEncoder::EncodeUpsert) beside `sluice.schema`.
inline constexpr std::string_view kVersionHeader = "sluice.version";
inline constexpr std::string_view kBeforeHeader = "sluice.before";

/// Turns rows of ChangeChunks into Debezium records. Reuse one encoder for a whole stream: it
/// caches topic names, schema JSON and per-column plans per TableSchema (holding a reference to
/// each schema it has seen until Clear()), and writes into one reusable buffer, so encoding does
/// not allocate in steady state. Not thread-safe: use one encoder per thread.
class DebeziumEncoder {
 public:
  explicit DebeziumEncoder(DebeziumOptions options);
  ~DebeziumEncoder();
  DebeziumEncoder(const DebeziumEncoder&) = delete;
  DebeziumEncoder& operator=(const DebeziumEncoder&) = delete;

  const DebeziumOptions& options() const { return options_; }

  /// Encodes the change that starts at `row`: an insert or snapshot read (1 record), a delete
  /// (1 record, plus a tombstone when enabled) or an UPDATE pair kUpdateBefore/kUpdateAfter
  /// (1 record; delete + tombstone + create when the primary key changed, as Debezium does).
  /// Returns the number of rows consumed (2 for an update pair); records() holds the output.
  /// Throws Error(kData) for a value that cannot be represented (e.g. a malformed DECIMAL).
  size_t Encode(const ChangeChunk& chunk, size_t row);

  /// Records produced by the last Encode() call.
  std::span<const DebeziumRecord> records() const { return {records_, num_records_}; }

  /// Encodes every change of `chunk`, calling `fn(const DebeziumRecord&)` for each record.
  template <typename Fn>
  void EncodeChunk(const ChangeChunk& chunk, Fn&& fn) {
    for (size_t row = 0; row < chunk.size();) {
      row += Encode(chunk, row);
      for (const DebeziumRecord& r : records()) fn(r);
    }
  }

  /// The change that starts at `row` as an upsert record (RisingWave's FORMAT UPSERT ENCODE JSON):
  /// key = the key columns as plain JSON, value = the row as plain JSON, or null (a tombstone)
  /// for a delete; no envelope and no Connect schema (schemas.enable does not apply). The record
  /// also says its `_version` and the row the key had before (DebeziumRecord::version/before,
  /// produced as Kafka headers), so a reader can apply it as a changelog (DebeziumDecoder::
  /// DecodeUpsert). An update pair is 1 record (2 when the key changed: the old key's tombstone
  /// and the new key's row). Returns the rows consumed; records() holds the output.
  size_t EncodeUpsert(const ChangeChunk& chunk, size_t row);
  template <typename Fn>
  void EncodeUpsertChunk(const ChangeChunk& chunk, Fn&& fn) {
    for (size_t row = 0; row < chunk.size();) {
      row += EncodeUpsert(chunk, row);
      for (const DebeziumRecord& r : records()) fn(r);
    }
  }

  /// Debezium's truncate event for `schema` (`op` "t", no before/after, `source` at the TRUNCATE
  /// statement, key null), as the MySQL connector writes it when `skipped.operations` lets
  /// truncates through. Valid until the next call of an Encode* method.
  DebeziumRecord EncodeTruncate(const TableSchemaPtr& schema, const SourceInfo& at);

  /// Topic `<topic.prefix>.<db>.<table>` (`<topic.prefix>.<table>` when the schema has no
  /// database, as for a view's output), characters Kafka does not allow replaced by '_'.
  std::string_view Topic(const TableSchemaPtr& schema);
  /// Kafka Connect schema JSON of the key struct (empty when the table has no primary key).
  std::string_view KeySchemaJson(const TableSchemaPtr& schema);
  /// Kafka Connect schema JSON of the value envelope.
  std::string_view ValueSchemaJson(const TableSchemaPtr& schema);

  /// Debezium's transaction metadata (`provide.transaction.metadata`): between BeginTransaction
  /// and the END TransactionRecord, every streamed (not snapshot) event carries
  /// "transaction": {"id", "total_order", "data_collection_order"} instead of null.
  void BeginTransaction(std::string id);
  bool in_transaction() const { return txn_open_; }
  /// The BEGIN (`begin`) or END record of the transaction topic (<topic.prefix>.<topic.transaction>,
  /// key {"id"}): END carries event_count and data_collections ("db.table" and its count) of the
  /// events since BeginTransaction, and closes the transaction. `ts_ms`: the commit time. Views
  /// stay valid until the next call.
  DebeziumRecord TransactionRecord(bool begin, int64_t ts_ms);
  const std::string& TransactionTopic() const { return txn_topic_; }

  /// Fixes the envelope's `ts_ms`/`ts_us`/`ts_ns` (nanoseconds since the epoch) instead of the
  /// system clock; 0 restores the clock. For tests.
  void SetClockForTesting(int64_t now_ns) { fixed_now_ns_ = now_ns; }
  /// Drops the cached table plans (and the schema references they hold).
  void Clear();

  struct TablePlan;  // defined in the .cpp

 private:
  const TablePlan& PlanFor(const TableSchemaPtr& schema);
  /// The plan of `chunk`'s table, with the buffer and records cleared for the change at `row`.
  const TablePlan& StartChange(const ChangeChunk& chunk, size_t row);
  void WriteKey(const TablePlan& plan, const ChangeChunk& chunk, size_t row);
  void WriteRow(const TablePlan& plan, const ChangeChunk& chunk, size_t row);
  void WriteEnvelope(const TablePlan& plan, const ChangeChunk& chunk, char op, long before_row,
                     long after_row, size_t source_row, int64_t now_ns);
  void WriteSource(const TablePlan& plan, const SourceInfo& source, uint32_t row_in_event);
  void WriteSourceHead(const TablePlan& plan, const SourceInfo& source);
  bool KeyChanged(const TablePlan& plan, const ChangeChunk& chunk, size_t a, size_t b) const;

  /// A record under construction: byte ranges in writer_ (resolved to views at the end).
  struct Pending {
    size_t key_begin = 0, key_end = 0, value_begin = 0, value_end = 0;
    size_t header_begin = 0, header_end = 0;
    bool key_is_null = false, value_is_null = false;
    const char* header_name = nullptr;
    bool upsert = false, has_before = false;
    uint64_t version = 0;
    size_t before_begin = 0, before_end = 0;
  };
  void AddUpsertRecord(const TablePlan& plan, const ChangeChunk& chunk, size_t key_row, long after_row,
                       long before_row);
  void AddValueRecord(const TablePlan& plan, const ChangeChunk& chunk, size_t key_row, char op,
                      long before_row, long after_row, size_t source_row, int64_t now_ns,
                      const char* header_name, size_t header_row);
  void AddTombstone(const Pending& of);
  void Finish(const TablePlan& plan);

  DebeziumOptions options_;
  json::JsonWriter writer_;
  std::unordered_map<const TableSchema*, std::unique_ptr<TablePlan>> plans_;
  const TableSchema* last_schema_ = nullptr;
  const TablePlan* last_plan_ = nullptr;
  Pending pending_[4];
  size_t num_pending_ = 0;
  DebeziumRecord records_[4];
  size_t num_records_ = 0;  // set only once a whole change is encoded (0 after an exception)
  int64_t fixed_now_ns_ = 0;
  std::string source_head_;              // {"version":...,"ts_ms": prefix of every source block
  // The last source block written up to its "row" value: the rows of one binlog event share it.
  // Keyed by content (a SourceInfo's address may be reused by the next chunk) and plan.
  std::string source_cache_;
  const TablePlan* source_cache_plan_ = nullptr;
  SourceInfo source_cache_key_;
  std::string source_schema_json_;       // cached `source` struct schema
  std::string transaction_schema_json_;  // cached `transaction` struct schema
  bool txn_open_ = false;
  std::string txn_id_;
  int64_t txn_total_ = 0;
  std::vector<std::pair<std::string, int64_t>> txn_collections_;  // "db.table" -> events, first-seen order
  std::string txn_topic_;
  json::JsonWriter txn_writer_;
};

/// Appends one `--output jsonl` line: {"topic":"...","key":<key|null>,"value":<value|null>}\n
void AppendJsonLine(const DebeziumRecord& record, std::string* out);

namespace debezium_internal {
/// Exposed for tests. Minimal big-endian two's-complement bytes of the unscaled value of the
/// decimal text `text` (Kafka Connect Decimal = java.math.BigInteger.toByteArray()).
/// Throws Error(kData) on malformed text or more than 96 digits.
std::string DecimalUnscaledBytes(std::string_view text);
/// java.math.BigDecimal.toString() of the decimal text (e.g. "0E-30" for 0 with scale 30).
std::string JavaBigDecimalString(std::string_view text);
}  // namespace debezium_internal

}  // namespace sluice
