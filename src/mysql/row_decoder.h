#pragma once
/// Row images of a rows event -> typed values in a ChangeChunk (event/change.h), straight into the
/// ColumnVectors with no per-value heap allocation. The caller supplies the TableSchema (from its
/// schema history: names, charsets, ENUM/SET members, signedness); the decoder checks that every
/// binlog column type agrees with the schema's ValueKind and throws Error(kData) naming
/// db.table.column, the binlog type and the schema kind when it does not.
///
/// Value storage follows ValueKind (event/change.h). Decisions worth knowing:
/// - Integers are unsigned when the schema column is kUInt or `is_unsigned` (kInt and kUInt are
///   both accepted for every integer type; storage is the same 64 bits).
/// - CHAR/VARCHAR/TEXT as kString are converted to UTF-8 from ColumnSchema::charset (empty charset:
///   utf8mb4); invalid UTF-8 in a utf8 column is replaced by U+FFFD, never kept raw. As kBytes the
///   bytes are kept as logged; BINARY(n) (fixed, binary charset) is re-padded with 0x00 to n bytes
///   because the binlog strips trailing pad bytes.
/// - ENUM -> member string ("" for index 0), SET -> members joined with ','; both need
///   ColumnSchema::enum_values, an out-of-range index is an Error(kData).
/// - JSON (MySQL binary) -> JSON text; MariaDB's JSON is LONGTEXT and arrives as text.
/// - YEAR -> kInt (0 or 1901..2155); BIT -> kBit; GEOMETRY -> SRID + WKB bytes; VECTOR -> kBytes.
/// - MariaDB UUID/INET4/INET6 (a kString schema column whose column_type is "uuid"/"inet4"/"inet6",
///   logged as BINARY(16)/BINARY(4) without trailing 0x00) -> MariaDB's own text of the value, as
///   `CAST(col AS CHAR)` and the snapshot's SELECT give it (see the Append*Text functions below).
///
/// Columns absent from a row image (binlog_row_image=MINIMAL/NOBLOB): every column still gets one
/// value per chunk row (ChangeChunk's contract) and an absent column is appended as NULL. It is
/// never silently "filled": RowsDecodeResult says which columns each image carries
/// (`before_present`/`after_present`, `all_present`), and which partial-JSON values could not be
/// rebuilt (`unresolved_json`). The caller must not treat such a NULL as a value.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "event/change.h"
#include "mysql/binlog_event.h"

namespace sluice::mysql {

/// What one DecodeRows call appended.
struct RowsDecodeResult {
  uint32_t rows = 0;        ///< logical rows of the event (an update pair counts once)
  uint32_t row_images = 0;  ///< rows appended to the chunk (2 per update)
  /// Per table-map column: 1 when the before image (DELETE, UPDATE before) carries it. Empty for
  /// WRITE events.
  std::vector<uint8_t> before_present;
  /// Per table-map column: 1 when the after image (WRITE, UPDATE after) carries it. Empty for
  /// DELETE events.
  std::vector<uint8_t> after_present;
  /// True when every value appended is a real value (no absent column, no unresolved JSON).
  bool all_present = true;
  /// (chunk row, column) of partial-JSON after images whose before image was not logged
  /// (MINIMAL image): appended as NULL.
  std::vector<std::pair<uint32_t, uint32_t>> unresolved_json;
};

/// Decodes rows events against schemas. Caches a per-(table map, schema) decode plan and keeps
/// scratch buffers, so one RowDecoder per stream is the fast path. Not thread-safe.
class RowDecoder {
 public:
  RowDecoder();
  ~RowDecoder();
  RowDecoder(const RowDecoder&) = delete;
  RowDecoder& operator=(const RowDecoder&) = delete;

  /// Appends the rows of `event` to `out` (whose schema must be `schema`): kInsert for WRITE,
  /// kDelete for DELETE, kUpdateBefore/kUpdateAfter pairs for UPDATE and PARTIAL_UPDATE.
  /// `version(row_in_event)` gives each row's `_version` (both images of an update share one);
  /// every row is tagged with `source_index`. On error, rows of this event already appended stay
  /// in `out` (the caller discards the chunk: the event is not committed).
  RowsDecodeResult Decode(const RowsEvent& event, const TableMap& map, const TableSchemaPtr& schema,
                          ChangeChunk& out, uint32_t source_index,
                          const std::function<uint64_t(uint32_t row_in_event)>& version);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Convenience wrapper over a thread-local RowDecoder.
RowsDecodeResult DecodeRows(const RowsEvent& event, const TableMap& map, const TableSchemaPtr& schema,
                            ChangeChunk& out, uint32_t source_index,
                            const std::function<uint64_t(uint32_t row_in_event)>& version);

/// Builds a TableSchema from a table map alone, for streams logged with
/// binlog_row_metadata=FULL: names (`@1..@n` when absent), kinds from the binlog types,
/// signedness, charsets from collation ids (binary -> kBytes), ENUM/SET members, primary key.
/// Without optional metadata strings default to utf8mb4 and integers to signed.
TableSchemaPtr SchemaFromTableMap(const TableMap& map);

/// Returns the ValueKind a binlog column decodes to by default (used by SchemaFromTableMap).
ValueKind DefaultKindFor(const TableMapColumn& col, bool binary_charset);

/// Formats a MySQL binary DECIMAL(precision, scale) as canonical text with exactly `scale`
/// fraction digits ("-0.50"), appending to `out`; returns the number of bytes consumed.
/// Throws Error(kData) when `bin` is too short or holds a non-decimal digit group.
size_t DecodeBinaryDecimal(std::string_view bin, int precision, int scale, std::string& out);
/// The longest text DecodeBinaryDecimal writes: sign, 65 digits, point (with room to spare).
inline constexpr size_t kMaxDecimalTextBytes = 2 + 96;
/// The same into out[0..kMaxDecimalTextBytes), its length in *out_len.
size_t DecodeBinaryDecimal(std::string_view bin, int precision, int scale, char* out, size_t* out_len);

/// Byte size of a binary DECIMAL(precision, scale).
size_t BinaryDecimalSize(int precision, int scale);

/// Appends the text of a MariaDB UUID as logged in a row image: up to 16 bytes (the server strips
/// trailing 0x00; they are put back) in the UUID's natural byte order, which is what MariaDB logs
/// for every UUID version (it swaps segments only in its storage record), as lowercase
/// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". Throws Error(kData) for more than 16 bytes.
void AppendMariaDbUuidText(std::string_view logged, std::string& out);

/// Appends the text of a MariaDB INET4 as logged (up to 4 bytes, network order, trailing 0x00
/// stripped): "192.168.0.1". Throws Error(kData) for more than 4 bytes.
void AppendInet4Text(std::string_view logged, std::string& out);

/// Appends the text of a MariaDB INET6 as logged (up to 16 bytes, network order, trailing 0x00
/// stripped) exactly as MariaDB's Inet6::to_string writes it: lowercase hex words without leading
/// zeros, the first longest run of zero words (even a single one) as "::", and the last 32 bits
/// as dotted IPv4 for IPv4-compatible ("::1.2.3.4") and IPv4-mapped ("::ffff:1.2.3.4")
/// addresses. Throws Error(kData) for more than 16 bytes.
void AppendInet6Text(std::string_view logged, std::string& out);

}  // namespace sluice::mysql
