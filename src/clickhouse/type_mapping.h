#pragma once
/// Maps source columns (event/change.h ColumnSchema) to ClickHouse column types, by server version.
/// The table of choices, with the reasons, is docs/CLICKHOUSE_TYPES.md; keep the two in step.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clickhouse/server_info.h"
#include "event/change.h"

namespace sluice::clickhouse {

/// How a value of a source column is written in RowBinary (the ClickHouse type's wire form).
enum class Encoding : uint8_t {
  kInt8, kInt16, kInt32, kInt64,
  kUInt8, kUInt16, kUInt32, kUInt64,
  kFloat32, kFloat64,
  kDecimal32, kDecimal64, kDecimal128, kDecimal256,  ///< canonical decimal text → scaled integer
  kString,          ///< the bytes as they are (text, blobs, JSON, ENUM, SET; decimal text)
  kGeometryWkb,     ///< MySQL geometry minus its 4-byte SRID prefix: plain WKB
  kDate,            ///< Date: UInt16 days since 1970-01-01 (clamped)
  kDateTime,        ///< DateTime: UInt32 seconds since epoch (clamped)
  kDateTime64,      ///< DateTime64(p): Int64 ticks of 10^-p s (clamped to 1900..2299)
  kDateTimeText,    ///< String 'YYYY-MM-DD hh:mm:ss[.ffffff]' (servers without DateTime64)
  kTimeMicros,      ///< Int64 microseconds (TIME, signed)
};

/// A ClickHouse column type for one source column. Plain value type.
struct ColumnType {
  std::string base;        ///< ClickHouse type without Nullable, as system.columns prints it
  bool nullable = false;   ///< wrapped in Nullable(...)
  Encoding encoding = Encoding::kString;
  int scale = 0;           ///< decimal scale, or DateTime64 / text precision (0..6)
  /// Last day a Date column shows correctly: 2149-06-06 (65535), but 2106-02-07 (49710) on
  /// servers before 20.1, whose date tables end there (later days print as 1970-01-01).
  int64_t max_date_days = 65535;

  /// Returns the full type, e.g. "Nullable(Decimal(10, 2))".
  std::string Full() const { return nullable ? "Nullable(" + base + ")" : base; }
};

/// Returns the ClickHouse type for `column` on a server with `features`.
ColumnType MapColumnType(const ColumnSchema& column, const ServerFeatures& features);

/// Adapts `expected` to a column that already exists in ClickHouse with type `actual` when the
/// bytes written stay valid: LowCardinality(T) for T, Nullable(T) for a NOT NULL source.
/// Returns false when the types are incompatible (a schema mismatch).
bool AdaptToExistingType(ColumnType& expected, std::string_view actual);

/// Bytes of the RowBinary integer that stores a Decimal of this encoding (4/8/16/32).
int DecimalWidth(Encoding e);

}  // namespace sluice::clickhouse
