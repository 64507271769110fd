#pragma once
/// Debezium JSON codec, decoding side: Kafka records carrying Debezium's MySQL envelope
/// (`before`/`after`/`source`/`op`, with or without Kafka Connect's {schema, payload} wrapper)
/// back into ChangeChunks, so `sluice sink` writes ClickHouse exactly as `sluice run` does.
///
/// Where a record's table schema comes from, first match wins:
///  1. the `sluice.schema` Kafka header that `sluice capture` puts on every record (the MySQL
///     column metadata; Debezium consumers ignore headers they do not know) — exact: same
///     ClickHouse types as `sluice run`;
///  2. the Kafka Connect schema of the value (`schemas.enable=true`, e.g. real Debezium): types from
///     the Connect types and Debezium's logical types (io.debezium.time.*, Decimal, Bits, Json, ...);
///  3. inferred from the JSON (`schemas.enable=false` from another writer): integers -> Int64,
///     other numbers -> Float64, booleans -> UInt64, objects/arrays -> JSON text, strings and
///     first-seen nulls -> String; key = the fields of the record key. Temporal values stay numbers.
/// `_version` comes from `source`: MakeVersion(file, pos, row) for streamed changes and
/// MakeVersion(file, pos, 0) - 1 for snapshot reads — the values `sluice run` gives the same change.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "event/change.h"
#include "event/debezium_json.h"

namespace sluice {

/// Kafka header name of the table schema `sluice capture` attaches to every record.
inline constexpr std::string_view kSchemaHeader = "sluice.schema";

/// Returns the compact JSON form of `schema` carried in the `sluice.schema` header. `renames`
/// (old -> new column names) are the column renames of the DDL that made this schema, so the sink
/// renames the ClickHouse column (keeping its data) instead of dropping and adding it.
std::string EncodeSchemaHeader(const TableSchema& schema, const std::map<std::string, std::string>& renames = {});
/// Parses a `sluice.schema` header (and its renames, when `renames` is given). Throws
/// Error(kData) when malformed.
TableSchemaPtr DecodeSchemaHeader(std::string_view text, std::map<std::string, std::string>* renames = nullptr);

struct DebeziumDecoderOptions {
  /// Handling modes the writer used (`source.*` of the same config): needed to read columns whose
  /// type comes from the schema header, as the JSON alone does not say e.g. string vs base64.
  DebeziumOptions modes;
  /// Binlog file name -> sequence number (mysql::BinlogFileSequence).
  std::function<uint32_t(std::string_view)> file_sequence;
};

/// Turns Debezium records into ChangeChunks, one pending chunk per table. A record is decoded
/// whole before any of it is appended, so a bad record leaves the chunks untouched. Caches a
/// plan per schema. Not thread-safe: one decoder per consumer thread.
class DebeziumDecoder {
 public:
  explicit DebeziumDecoder(DebeziumDecoderOptions options);
  ~DebeziumDecoder();
  DebeziumDecoder(const DebeziumDecoder&) = delete;
  DebeziumDecoder& operator=(const DebeziumDecoder&) = delete;

  /// Decodes one record and appends its rows to the pending chunk of its table. A null value (a
  /// tombstone) and the ops `t` (truncate) and `m` (message) append nothing. Returns the number
  /// of rows appended. Throws Error(kData) saying what is wrong when the record is not valid JSON
  /// or not a Debezium change event.
  size_t Decode(std::string_view topic, std::optional<std::string_view> key, std::optional<std::string_view> value,
                std::optional<std::string_view> schema_header);

  /// Decodes one upsert record of a view topic (DebeziumEncoder::EncodeUpsert): `value` the row
  /// JSON (null: a tombstone), `schema_header` the `sluice.schema` header, `version_header` and
  /// `before_header` the `sluice.version` and `sluice.before` headers. Appends an insert, an update
  /// pair (with a before row) or a delete of the before row; a tombstone without a before row
  /// appends nothing. Returns the rows appended. Throws Error(kData) for a record without the
  /// schema or version header, or whose JSON is not a row object.
  size_t DecodeUpsert(std::string_view topic, std::optional<std::string_view> value, std::string_view schema_header,
                      std::string_view version_header, std::optional<std::string_view> before_header);

  /// Decode, or DecodeUpsert for a record with a `sluice.version` header (`version_header`).
  size_t DecodeRecord(std::string_view topic, std::optional<std::string_view> key, std::optional<std::string_view> value,
                      std::optional<std::string_view> schema_header, std::optional<std::string_view> version_header,
                      std::optional<std::string_view> before_header);

  /// A truncate event (op "t") of source table `database`.`table`: every change of the table
  /// below `version` (the TRUNCATE's binlog position) is gone.
  struct Truncate {
    std::string database, table;
    uint64_t version = 0;
  };
  /// The truncate event the last Decode call read, if it read one (appending no rows).
  std::optional<Truncate> TakeTruncate() { return std::exchange(truncate_, std::nullopt); }

  /// From now on the changes of `database`.`table` below `version` (a TRUNCATE's) are skipped:
  /// Decode appends nothing for them. A higher version for the same table replaces a lower one.
  void DropBelow(const std::string& database, const std::string& table, uint64_t version);

  /// Column renames (old -> new) that came with `schema` in its header, or null.
  const std::map<std::string, std::string>* RenamesOf(const TableSchema* schema) const;

  /// Moves out the pending chunks (in the order their tables were first seen since the last call).
  std::vector<ChangeChunk> TakeChunks();
  size_t pending_rows() const { return pending_rows_; }
  /// JSON bytes of the records behind the pending rows (a cheap memory estimate).
  size_t pending_bytes() const { return pending_bytes_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  size_t pending_rows_ = 0;
  size_t pending_bytes_ = 0;
  std::optional<Truncate> truncate_;
  std::map<std::string, uint64_t> drop_below_;  ///< "database\0table" -> version (DropBelow)
};

}  // namespace sluice
