#pragma once
/// RowBinary encoding of ChangeChunk rows for a ReplacingMergeTree table: the source columns in
/// schema order, then `_version UInt64` and `_is_deleted UInt8`. Format reference: ClickHouse docs,
/// "Formats → RowBinary" (little-endian fixed-width values, LEB128 string lengths, a 0/1 prefix byte
/// for Nullable). The same rows can be written as blocks of the Native format ("Formats → Native":
/// per column its name, type name and values; Nullable as a null map then the nested column).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clickhouse/type_mapping.h"
#include "event/change.h"

namespace sluice::clickhouse {

/// A row the encoder could not convert (only collected when the caller tolerates them).
struct RejectedRow {
  size_t chunk_row = 0;
  uint64_t version = 0;
  std::string error;
};

/// Encodes chunks of one table shape. Immutable after construction; safe to share across threads.
class RowBinaryEncoder {
 public:
  /// `types` follows the source schema's columns; `key_columns` are the source columns that form
  /// the ClickHouse sorting key (used to see whether an UPDATE moved a row to another key).
  /// `column_names` (the source columns' names) are needed only by EncodeNative.
  RowBinaryEncoder(std::vector<ColumnType> types, std::vector<int> key_columns,
                   std::vector<std::string> column_names = {});

  /// Appends every row of `chunk` that ClickHouse must see to `out`: inserts and update-afters with
  /// `_is_deleted = 0`, deletes with `_is_deleted = 1`, and an update-before only when the update
  /// changed the key (then as a delete of the old key). Records each written row's start offset in
  /// `row_starts` when given. A value that cannot be converted throws Error(kData), unless
  /// `rejected` is given: then the row is left out and reported there. Returns rows written.
  size_t Encode(const ChangeChunk& chunk, std::string& out, std::vector<size_t>* row_starts = nullptr,
                std::vector<RejectedRow>* rejected = nullptr) const;

  /// Appends the rows Encode would write as one Native block (no block info: HTTP INSERT ... FORMAT
  /// Native reads with client revision 0), columns named as the source's plus `_version` and
  /// `_is_deleted`, typed ColumnType::Full(). Nothing is appended when no row is written. A value
  /// that cannot be converted throws Error(kData) naming the column and the row's _version, and
  /// leaves `out` as it was. Returns rows written.
  size_t EncodeNative(const ChangeChunk& chunk, std::string& out) const;

  /// Appends to `pending` (a chunk of the same schema) the rows Encode would write, as kInsert or
  /// kDelete rows with their _version, so that EncodeNative(pending) writes the same rows: small
  /// chunks are gathered into one Native block (each block repeats the column names and types).
  /// Returns rows appended.
  size_t AppendSelected(const ChangeChunk& chunk, ChangeChunk& pending) const;

  /// Appends one value (with its Nullable prefix byte when the type is Nullable).
  static void EncodeValue(const ColumnType& type, const ColumnVector& col, size_t row, std::string& out);

  /// Appends one non-NULL value without the Nullable prefix; `zero_date` as EncodeValue decides it.
  static void EncodeBare(const ColumnType& type, const ColumnVector& col, size_t row, bool zero_date,
                         std::string& out);

  /// Appends an unsigned LEB128 varint (RowBinary string lengths).
  static void PutVarUInt(uint64_t v, std::string& out);

  /// Appends the `width`-byte little-endian two's complement of the decimal `text` scaled by
  /// 10^scale; throws Error(kData) when the text is not a decimal or does not fit.
  static void PutDecimal(std::string_view text, int scale, int width, std::string& out);

  /// Formats wall-clock microseconds since 1970 as 'YYYY-MM-DD hh:mm:ss[.f{fsp}]'.
  static std::string FormatDateTime(int64_t micros, int fsp);

  const std::vector<ColumnType>& types() const { return types_; }

 private:
  bool SelectRow(const ChangeChunk& chunk, size_t row, uint8_t& is_deleted) const;
  bool KeyChanged(const ChangeChunk& chunk, size_t before, size_t after) const;
  void EncodeRow(const ChangeChunk& chunk, size_t row, uint8_t is_deleted, std::string& out) const;

  std::vector<ColumnType> types_;
  std::vector<int> key_columns_;
  std::vector<std::string> column_names_;
  std::vector<std::string> full_types_;
};

}  // namespace sluice::clickhouse
