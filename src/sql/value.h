#pragma once
/// Scalar values and SQL types of the view engine: how a ColumnVector cell is read into a Value,
/// compared, hashed into a key and written back. Exact DECIMAL is a scaled __int128 (38 digits).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "event/change.h"
#include "event/civil_time.h"

namespace sluice::sql {

using Int128 = __int128;

/// Static type of an expression. Mirrors ValueKind, plus kBool (stored as kInt 0/1 in chunks) and
/// kNull (the type of a bare NULL literal before coercion).
enum class TypeId : uint8_t {
  kNull, kBool, kInt, kUInt, kFloat, kDouble, kDecimal, kString, kBytes, kDate, kTime, kDateTime,
  kTimestamp, kJson, kBit, kGeometry,
  kInterval,  ///< only a bound constant operand of date/timestamp/time +/-; never in a row or a column
  /// numeric beyond 38 digits (MySQL DECIMAL(39..65, s)): its canonical text in `Value::s`
  /// (NormalizeDecimal), compared by value; it is projected, compared, grouped, joined and
  /// min/max'ed as is, while arithmetic, sum and avg compute through numeric(38, s) (an error
  /// naming the value when one does not fit).
  kWideDecimal,
};

/// A type with its decimal scale/precision. Plain value.
struct SqlType {
  TypeId id = TypeId::kNull;
  int scale = 0;       ///< kDecimal, kWideDecimal only
  int precision = 38;  ///< kDecimal (at most 38), kWideDecimal (39..65) only
  /// kInt only: 2, 4 or 8 — PostgreSQL's smallint, integer or bigint, which decides what sum()
  /// returns (bigint over smallint/integer, numeric over bigint). Values are int64 whatever it
  /// says: arithmetic overflows only past bigint's range.
  int int_bytes = 8;
  bool operator==(const SqlType&) const = default;
};

const char* TypeName(TypeId t);
std::string TypeToString(const SqlType& t);
SqlType TypeOfColumn(const ColumnSchema& c);
ValueKind KindOfType(TypeId t);
/// Makes the ColumnSchema of a view column of type `t`.
ColumnSchema ColumnOfType(std::string name, const SqlType& t);
bool IsNumeric(TypeId t);
bool IsIntegral(TypeId t);  ///< kInt, kUInt, kBit
bool IsStringLike(TypeId t);
bool IsTemporal(TypeId t);

/// One scalar. Which payload is meaningful depends on the static type that goes with it:
/// `i` for bool/ints/uint bits/bit/date/time/datetime/timestamp, `d` for float/double, `dec` for
/// decimal (scaled by the type's scale), `s` for strings/bytes/json/geometry.
struct Value {
  bool null = true;
  int64_t i = 0;
  double d = 0;
  Int128 dec = 0;
  std::string s;

  static Value Null() { return Value{}; }
  static Value Int(int64_t v) { Value x; x.null = false; x.i = v; return x; }
  static Value Bool(bool v) { return Int(v ? 1 : 0); }
  static Value Double(double v) { Value x; x.null = false; x.d = v; return x; }
  static Value Decimal(Int128 v) { Value x; x.null = false; x.dec = v; return x; }
  static Value String(std::string v) { Value x; x.null = false; x.s = std::move(v); return x; }
};
using Row = std::vector<Value>;

/// Reads row `row` of `col` as a value of type `t`.
Value ReadValue(const ColumnVector& col, size_t row, const SqlType& t);
/// Appends `v` (of type `t`) to `col`.
void AppendValue(ColumnVector& col, const Value& v, const SqlType& t);

/// Three-way comparison of two non-null values of the same type.
int CompareValues(const Value& a, const Value& b, const SqlType& t);
/// Total order with NULLs first, for sorting and multisets.
struct ValueLess {
  SqlType type;
  bool operator()(const Value& a, const Value& b) const {
    if (a.null || b.null) return a.null && !b.null;
    return CompareValues(a, b, type) < 0;
  }
};
/// Appends an injective encoding of `v` to `out` (equal values of one type give equal bytes).
void EncodeKey(std::string& out, const Value& v, const SqlType& t);
/// Reads back one value written by EncodeKey from the front of `in` and advances `in` past it
/// (-0.0 comes back as 0). Throws Error(kState) when `in` is too short.
Value DecodeKey(std::string_view& in, const SqlType& t);
/// Renders `v` as text: decimals with their scale, dates ISO, booleans t/f, NULL as "NULL".
std::string FormatValue(const Value& v, const SqlType& t);
/// Returns true when all values are equal (NULL equals NULL), for multiset bookkeeping.
bool RowsEqual(const Row& a, const Row& b, const std::vector<SqlType>& types);

// Decimal helpers (throw Error(kData) on overflow of 38 digits).
Int128 Pow10(int n);
Int128 ParseDecimal(std::string_view text, int scale);  ///< rounds half away from zero
std::string FormatDecimal(Int128 v, int scale);
/// The canonical text of a decimal of any length at `scale`: no leading zeros, exactly `scale`
/// fraction digits (rounded half away from zero), no sign on zero. Throws Error(kData) when
/// `text` is not a plain decimal number.
std::string NormalizeDecimal(std::string_view text, int scale);
/// Orders two NormalizeDecimal texts of the same scale by value (-1, 0, 1).
int CompareDecimalText(std::string_view a, std::string_view b);
Int128 RescaleDecimal(Int128 v, int from, int to);      ///< rounds half away from zero
Int128 CheckedMul128(Int128 a, Int128 b);
Int128 CheckedAdd128(Int128 a, Int128 b);
Int128 DivRound128(Int128 a, Int128 b);                 ///< a/b rounded half away from zero

// Civil dates (days since 1970-01-01).
constexpr int64_t kMicrosPerDay = 86400LL * 1000000LL;
/// Parses 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' into days or micros; throws Error(kData) on bad text.
int64_t ParseDate(std::string_view text);
int64_t ParseDateTime(std::string_view text);
int64_t ParseTime(std::string_view text);

/// A PostgreSQL interval: calendar months, days and microseconds, kept apart (a month is not a
/// fixed number of days, a day is 24 hours here: no time zones). A bound interval constant holds
/// it in its Value as `dec` = months, `d` = days (an exact integer), `i` = micros.
struct Interval {
  int64_t months = 0;
  int64_t days = 0;
  int64_t micros = 0;
};
Value IntervalValue(const Interval& iv);
Interval IntervalOf(const Value& v);
/// Interval typmod bits (PostgreSQL's INTERVAL_MASK): `INTERVAL '1' DAY` carries kIntervalDay.
constexpr int kIntervalMonth = 1 << 1, kIntervalYear = 1 << 2, kIntervalDay = 1 << 3, kIntervalHour = 1 << 10,
              kIntervalMinute = 1 << 11, kIntervalSecond = 1 << 12, kIntervalFullRange = 0x7FFF;
/// Parses PostgreSQL interval text ('90 days', '1 year 2 mons', '-1 day 02:30:00', '1.5 hours',
/// '1-2' (years-months), '3 days ago', a bare number in the unit of `range`'s last field, seconds
/// without one) and applies `range` (fields below its last one are dropped, as PostgreSQL does) and
/// `precision` (fractional second digits, -1: all). Throws Error(kData) on text it does not read
/// (ISO 8601 'P1D' forms included).
Interval ParseInterval(std::string_view text, int range = kIntervalFullRange, int precision = -1);
/// PostgreSQL's text of an interval ('1 year 2 mons 3 days 04:05:06').
std::string FormatInterval(const Interval& iv);
/// timestamp + interval (micros since the epoch, wall clock): months first, keeping the day of the
/// month unless the month is shorter (2024-01-31 + 1 month = 2024-02-29), then days, then micros.
/// Throws Error(kData) "timestamp out of range" on overflow.
int64_t AddInterval(int64_t micros, const Interval& iv);

}  // namespace sluice::sql
