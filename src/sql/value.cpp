#include "sql/value.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace sluice::sql {

const char* TypeName(TypeId t) {
  switch (t) {
    case TypeId::kNull: return "unknown";
    case TypeId::kBool: return "boolean";
    case TypeId::kInt: return "bigint";
    case TypeId::kUInt: return "bigint unsigned";
    case TypeId::kFloat: return "real";
    case TypeId::kDouble: return "double precision";
    case TypeId::kDecimal: return "numeric";
    case TypeId::kString: return "text";
    case TypeId::kBytes: return "bytea";
    case TypeId::kDate: return "date";
    case TypeId::kTime: return "time";
    case TypeId::kDateTime: return "timestamp";
    case TypeId::kTimestamp: return "timestamptz";
    case TypeId::kJson: return "json";
    case TypeId::kBit: return "bit";
    case TypeId::kGeometry: return "geometry";
    case TypeId::kInterval: return "interval";
    case TypeId::kWideDecimal: return "numeric";
  }
  return "?";
}

std::string TypeToString(const SqlType& t) {
  if (t.id == TypeId::kDecimal || t.id == TypeId::kWideDecimal) return fmt::format("numeric({},{})", t.precision, t.scale);
  if (t.id == TypeId::kInt && t.int_bytes != 8) return t.int_bytes == 2 ? "smallint" : "integer";
  return TypeName(t.id);
}

SqlType TypeOfColumn(const ColumnSchema& c) {
  SqlType t;
  switch (c.kind) {
    case ValueKind::kInt: {
      // As Debezium types MySQL's integers (INT16 / INT32 / INT64) and RisingWave then its tables'
      // columns; a view's column says it in `length` (see ColumnOfType).
      t.id = TypeId::kInt;
      const int bits = SourceIntegerBits(c);
      if (IsYearColumn(c)) t.int_bytes = 4;
      else if (bits == 8 || bits == 16) t.int_bytes = 2;
      else if (bits == 24 || bits == 32) t.int_bytes = 4;
      else if (bits == 0 && c.mysql_type == 0 && (c.length == 2 || c.length == 4)) t.int_bytes = c.length;
      break;
    }
    case ValueKind::kUInt: t.id = TypeId::kUInt; break;
    case ValueKind::kFloat: t.id = TypeId::kFloat; break;
    case ValueKind::kDouble: t.id = TypeId::kDouble; break;
    case ValueKind::kDecimal:
      t.id = c.precision > 38 ? TypeId::kWideDecimal : TypeId::kDecimal;
      t.scale = c.scale;
      t.precision = c.precision > 0 ? c.precision : 38;
      break;
    case ValueKind::kString: t.id = TypeId::kString; break;
    case ValueKind::kBytes: t.id = TypeId::kBytes; break;
    case ValueKind::kDate: t.id = TypeId::kDate; break;
    case ValueKind::kTime: t.id = TypeId::kTime; break;
    case ValueKind::kDateTime: t.id = TypeId::kDateTime; break;
    case ValueKind::kTimestamp: t.id = TypeId::kTimestamp; break;
    case ValueKind::kJson: t.id = TypeId::kJson; break;
    case ValueKind::kBit: t.id = TypeId::kBit; break;
    case ValueKind::kGeometry: t.id = TypeId::kGeometry; break;
  }
  return t;
}

ValueKind KindOfType(TypeId t) {
  switch (t) {
    case TypeId::kNull: return ValueKind::kString;
    case TypeId::kBool: return ValueKind::kInt;
    case TypeId::kInt: return ValueKind::kInt;
    case TypeId::kUInt: return ValueKind::kUInt;
    case TypeId::kFloat: return ValueKind::kFloat;
    case TypeId::kDouble: return ValueKind::kDouble;
    case TypeId::kDecimal:
    case TypeId::kWideDecimal: return ValueKind::kDecimal;
    case TypeId::kString: return ValueKind::kString;
    case TypeId::kBytes: return ValueKind::kBytes;
    case TypeId::kDate: return ValueKind::kDate;
    case TypeId::kTime: return ValueKind::kTime;
    case TypeId::kDateTime: return ValueKind::kDateTime;
    case TypeId::kTimestamp: return ValueKind::kTimestamp;
    case TypeId::kJson: return ValueKind::kJson;
    case TypeId::kBit: return ValueKind::kBit;
    case TypeId::kGeometry: return ValueKind::kGeometry;
    case TypeId::kInterval: return ValueKind::kString;  // never stored
  }
  return ValueKind::kString;
}

ColumnSchema ColumnOfType(std::string name, const SqlType& t) {
  ColumnSchema c;
  c.name = std::move(name);
  c.kind = KindOfType(t.id);
  if (t.id == TypeId::kDecimal || t.id == TypeId::kWideDecimal) {
    c.precision = t.precision;
    c.scale = t.scale;
    c.column_type = fmt::format("decimal({},{})", t.precision, t.scale);
  } else if (t.id == TypeId::kBool) {
    c.column_type = "tinyint(1)";
  } else if (t.id == TypeId::kInt && t.int_bytes != 8) {
    c.length = t.int_bytes;  // read back by TypeOfColumn; the column is Int64 in ClickHouse all the same
  }
  if (t.id == TypeId::kDateTime || t.id == TypeId::kTimestamp || t.id == TypeId::kTime) c.fsp = 6;
  c.is_unsigned = t.id == TypeId::kUInt;
  return c;
}

bool IsNumeric(TypeId t) {
  return t == TypeId::kInt || t == TypeId::kUInt || t == TypeId::kFloat || t == TypeId::kDouble ||
         t == TypeId::kDecimal || t == TypeId::kBit || t == TypeId::kWideDecimal;
}
bool IsIntegral(TypeId t) { return t == TypeId::kInt || t == TypeId::kUInt || t == TypeId::kBit; }
bool IsStringLike(TypeId t) {
  return t == TypeId::kString || t == TypeId::kBytes || t == TypeId::kJson;
}
bool IsTemporal(TypeId t) {
  return t == TypeId::kDate || t == TypeId::kTime || t == TypeId::kDateTime || t == TypeId::kTimestamp;
}

static bool IsVarType(TypeId t) {
  return t == TypeId::kDecimal || t == TypeId::kString || t == TypeId::kBytes || t == TypeId::kJson ||
         t == TypeId::kGeometry || t == TypeId::kNull || t == TypeId::kWideDecimal;
}

Value ReadValue(const ColumnVector& col, size_t row, const SqlType& t) {
  Value v;
  if (col.IsNull(row)) return v;
  v.null = false;
  switch (t.id) {
    case TypeId::kFloat:
    case TypeId::kDouble: v.d = col.GetDouble(row); break;
    case TypeId::kDecimal: v.dec = ParseDecimal(col.GetBytes(row), t.scale); break;
    case TypeId::kWideDecimal: v.s = NormalizeDecimal(col.GetBytes(row), t.scale); break;
    case TypeId::kNull: v.null = true; break;
    default:
      if (IsVarType(t.id)) {
        v.s = std::string(col.GetBytes(row));
      } else {
        v.i = col.GetInt(row);
      }
  }
  return v;
}

void AppendValue(ColumnVector& col, const Value& v, const SqlType& t) {
  if (v.null) {
    col.AppendNull();
    return;
  }
  switch (t.id) {
    case TypeId::kFloat:
    case TypeId::kDouble: col.AppendDouble(v.d); break;
    case TypeId::kDecimal: col.AppendBytes(FormatDecimal(v.dec, t.scale)); break;
    case TypeId::kNull: col.AppendNull(); break;
    default:
      if (IsVarType(t.id)) {
        col.AppendBytes(v.s);
      } else {
        col.AppendInt(v.i);
      }
  }
}

int CompareValues(const Value& a, const Value& b, const SqlType& t) {
  switch (t.id) {
    case TypeId::kFloat:
    case TypeId::kDouble: return a.d < b.d ? -1 : (a.d > b.d ? 1 : 0);
    case TypeId::kDecimal: return a.dec < b.dec ? -1 : (a.dec > b.dec ? 1 : 0);
    case TypeId::kWideDecimal: return CompareDecimalText(a.s, b.s);
    case TypeId::kUInt:
    case TypeId::kBit: {
      uint64_t x = static_cast<uint64_t>(a.i), y = static_cast<uint64_t>(b.i);
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case TypeId::kNull: return 0;
    default:
      if (IsVarType(t.id)) {
        int c = a.s.compare(b.s);
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
      }
      return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  }
}

void EncodeKey(std::string& out, const Value& v, const SqlType& t) {
  if (v.null) {
    out.push_back('\0');
    return;
  }
  out.push_back('\1');
  switch (t.id) {
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double d = v.d == 0 ? 0.0 : v.d;  // -0 == 0
      out.append(reinterpret_cast<const char*>(&d), sizeof d);
      break;
    }
    case TypeId::kDecimal: out.append(reinterpret_cast<const char*>(&v.dec), sizeof v.dec); break;
    default:
      if (IsVarType(t.id)) {
        uint32_t n = static_cast<uint32_t>(v.s.size());
        out.append(reinterpret_cast<const char*>(&n), sizeof n);
        out.append(v.s);
      } else {
        out.append(reinterpret_cast<const char*>(&v.i), sizeof v.i);
      }
  }
}

Value DecodeKey(std::string_view& in, const SqlType& t) {
  auto take = [&](void* dst, size_t n) {
    if (in.size() < n) Throw(ErrorKind::kState, "view state holds a truncated key");
    std::memcpy(dst, in.data(), n);
    in.remove_prefix(n);
  };
  uint8_t tag = 0;
  take(&tag, 1);
  Value v;
  if (tag == 0) return v;
  v.null = false;
  switch (t.id) {
    case TypeId::kFloat:
    case TypeId::kDouble: take(&v.d, sizeof v.d); break;
    case TypeId::kDecimal: take(&v.dec, sizeof v.dec); break;
    default:
      if (IsVarType(t.id)) {
        uint32_t n = 0;
        take(&n, sizeof n);
        if (in.size() < n) Throw(ErrorKind::kState, "view state holds a truncated key");
        v.s.assign(in.data(), n);
        in.remove_prefix(n);
      } else {
        take(&v.i, sizeof v.i);
      }
  }
  return v;
}

bool RowsEqual(const Row& a, const Row& b, const std::vector<SqlType>& types) {
  for (size_t i = 0; i < types.size(); ++i) {
    if (a[i].null != b[i].null) return false;
    if (!a[i].null && CompareValues(a[i], b[i], types[i]) != 0) return false;
  }
  return true;
}

static std::string FormatMicrosOfDay(int64_t us) {
  int64_t s = us / 1000000, frac = us % 1000000;
  std::string r = fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  if (frac != 0) {
    std::string f = fmt::format("{:06}", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    r += "." + f;
  }
  return r;
}

static std::string FormatDays(int64_t days) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

std::string FormatValue(const Value& v, const SqlType& t) {
  if (v.null) return "NULL";
  switch (t.id) {
    case TypeId::kBool: return v.i ? "t" : "f";
    case TypeId::kUInt:
    case TypeId::kBit: return std::to_string(static_cast<uint64_t>(v.i));
    case TypeId::kFloat:
    case TypeId::kDouble: return fmt::format("{}", v.d);
    case TypeId::kDecimal: return FormatDecimal(v.dec, t.scale);
    case TypeId::kDate:
      if (v.i == kZeroDate) return "0000-00-00";
      return FormatDays(v.i);
    case TypeId::kTime: {
      int64_t us = v.i;
      std::string sign = us < 0 ? "-" : "";
      if (us < 0) us = -us;
      return sign + FormatMicrosOfDay(us);
    }
    case TypeId::kDateTime:
    case TypeId::kTimestamp: {
      if (v.i == kZeroDate) return "0000-00-00 00:00:00";
      int64_t days = v.i / kMicrosPerDay, rem = v.i % kMicrosPerDay;
      if (rem < 0) { rem += kMicrosPerDay; --days; }
      return FormatDays(days) + " " + FormatMicrosOfDay(rem);
    }
    case TypeId::kInterval: return FormatInterval(IntervalOf(v));
    case TypeId::kInt:
    default:
      if (IsVarType(t.id)) return v.s;
      return std::to_string(v.i);
  }
}

// ---- decimals ----

static constexpr int kMaxDigits = 38;

Int128 Pow10(int n) {
  SLUICE_CHECK(n >= 0 && n <= kMaxDigits, "Pow10 out of range");
  Int128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

static void CheckDigits(Int128 v) {
  static const Int128 kLimit = Pow10(kMaxDigits);
  if (v >= kLimit || v <= -kLimit) Throw(ErrorKind::kData, "numeric value out of range (more than 38 digits)");
}

Int128 CheckedMul128(Int128 a, Int128 b) {
  Int128 r;
  if (__builtin_mul_overflow(a, b, &r)) Throw(ErrorKind::kData, "numeric value out of range (more than 38 digits)");
  CheckDigits(r);
  return r;
}

Int128 CheckedAdd128(Int128 a, Int128 b) {
  Int128 r;
  if (__builtin_add_overflow(a, b, &r)) Throw(ErrorKind::kData, "numeric value out of range (more than 38 digits)");
  CheckDigits(r);
  return r;
}

Int128 DivRound128(Int128 a, Int128 b) {
  SLUICE_CHECK(b != 0, "DivRound128 by zero");
  Int128 q = a / b, r = a % b;
  Int128 ar = r < 0 ? -r : r, ab = b < 0 ? -b : b;
  if (2 * ar >= ab) q += ((a < 0) != (b < 0)) ? -1 : 1;
  return q;
}

Int128 RescaleDecimal(Int128 v, int from, int to) {
  if (to == from) return v;
  if (to > from) return CheckedMul128(v, Pow10(to - from));
  return DivRound128(v, Pow10(from - to));
}

Int128 ParseDecimal(std::string_view text, int scale) {
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  bool neg = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) neg = text[i++] == '-';
  // At most 38 significant digits are kept, so the unchecked 128-bit accumulation cannot overflow.
  unsigned __int128 v = 0;
  int frac = 0, digits = 0;
  bool dot = false, any = false, round_up = false, rounded = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !dot) {
      dot = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    any = true;
    if (dot) {
      if (frac == scale) {
        if (!rounded) round_up = c >= '5';
        rounded = true;
        continue;
      }
      ++frac;
    }
    if (v != 0 || c != '0') {
      if (++digits > kMaxDigits) Throw(ErrorKind::kData, "numeric value out of range (more than 38 digits)");
    }
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  while (i < text.size() && text[i] == ' ') ++i;
  if (!any || i != text.size()) Throw(ErrorKind::kData, "invalid input syntax for type numeric: \"{}\"", text);
  Int128 r = static_cast<Int128>(v);
  if (scale > frac) r = CheckedMul128(r, Pow10(scale - frac));
  if (round_up) r = CheckedAdd128(r, 1);
  return neg ? -r : r;
}

std::string FormatDecimal(Int128 v, int scale) {
  if (scale < 0 || scale > 60) Throw(ErrorKind::kInternal, "decimal scale {} out of range", scale);
  const bool neg = v < 0;
  unsigned __int128 u = neg ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
  char buf[64];  // up to 61 digits (scale 60: "0." and 60 digits), a dot, a sign
  char* end = buf + sizeof buf;
  char* p = end;
  int n = 0;
  auto digit = [&](unsigned d) {
    if (scale > 0 && n == scale) *--p = '.';
    *--p = static_cast<char>('0' + d);
    ++n;
  };
  while (u > UINT64_MAX) {  // 128-bit division only for the digits above 2^64
    digit(static_cast<unsigned>(u % 10));
    u /= 10;
  }
  uint64_t w = static_cast<uint64_t>(u);
  do {
    digit(static_cast<unsigned>(w % 10));
    w /= 10;
  } while (w != 0);
  while (n <= scale) digit(0);
  if (neg) *--p = '-';
  return std::string(p, static_cast<size_t>(end - p));
}

std::string NormalizeDecimal(std::string_view text, int scale) {
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  size_t end = text.size();
  while (end > i && text[end - 1] == ' ') --end;
  bool neg = false;
  if (i < end && (text[i] == '-' || text[i] == '+')) neg = text[i++] == '-';
  std::string digits;  // integer digits, then `scale` fraction digits
  int frac = -1;       // fraction digits read; -1 before the dot
  bool round_up = false, any = false;
  for (; i < end; ++i) {
    const char c = text[i];
    if (c == '.' && frac < 0) {
      frac = 0;
      continue;
    }
    if (c < '0' || c > '9') Throw(ErrorKind::kData, "invalid input syntax for type numeric: \"{}\"", text);
    any = true;
    if (frac >= scale) {
      if (frac == scale) round_up = c >= '5';
      ++frac;
      continue;
    }
    if (frac >= 0) ++frac;
    digits.push_back(c);
  }
  if (!any) Throw(ErrorKind::kData, "invalid input syntax for type numeric: \"{}\"", text);
  for (int k = std::max(frac, 0); k < scale; ++k) digits.push_back('0');
  if (round_up) {
    size_t k = digits.size();
    while (k > 0 && digits[k - 1] == '9') digits[--k] = '0';
    if (k == 0) digits.insert(digits.begin(), '1'); else ++digits[k - 1];
  }
  const size_t int_len = digits.size() - static_cast<size_t>(scale);
  size_t lead = 0;
  while (lead + 1 < int_len && digits[lead] == '0') ++lead;
  std::string out;
  if (neg && digits.find_first_not_of('0') != std::string::npos) out.push_back('-');
  if (int_len == 0) out.push_back('0');
  out.append(digits, lead, int_len - lead);
  if (scale > 0) {
    out.push_back('.');
    out.append(digits, int_len, std::string::npos);
  }
  return out;
}

int CompareDecimalText(std::string_view a, std::string_view b) {
  const bool na = !a.empty() && a[0] == '-', nb = !b.empty() && b[0] == '-';
  if (na != nb) return na ? -1 : 1;
  if (na) {
    a.remove_prefix(1);
    b.remove_prefix(1);
  }
  const size_t ia = std::min(a.find('.'), a.size()), ib = std::min(b.find('.'), b.size());
  int c = ia != ib ? (ia < ib ? -1 : 1) : a.compare(b) < 0 ? -1 : (a.compare(b) > 0 ? 1 : 0);
  return na ? -c : c;
}

// ---- dates (Howard Hinnant's civil algorithms) ----



namespace {
struct Scanner {
  std::string_view t;
  size_t i = 0;
  bool Num(int digits_min, int digits_max, int64_t& out) {
    size_t start = i;
    out = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9' && static_cast<int>(i - start) < digits_max) out = out * 10 + (t[i++] - '0');
    return static_cast<int>(i - start) >= digits_min;
  }
  bool Eat(char c) {
    if (i < t.size() && t[i] == c) { ++i; return true; }
    return false;
  }
  bool End() const { return i == t.size(); }
};

bool ParseClock(Scanner& s, int64_t& us, bool allow_big_hours) {
  int64_t h, mi, se = 0, frac = 0;
  if (!s.Num(1, allow_big_hours ? 3 : 2, h) || !s.Eat(':') || !s.Num(2, 2, mi)) return false;
  if (s.Eat(':')) {
    if (!s.Num(2, 2, se)) return false;
    if (s.Eat('.')) {
      size_t start = s.i;
      if (!s.Num(1, 6, frac)) return false;
      for (size_t k = s.i - start; k < 6; ++k) frac *= 10;
    }
  }
  if (mi > 59 || se > 59 || (!allow_big_hours && h > 23)) return false;
  us = ((h * 60 + mi) * 60 + se) * 1000000 + frac;
  return true;
}

bool ParseDays(Scanner& s, int64_t& days) {
  int64_t y, m, d;
  if (!s.Num(4, 4, y) || !s.Eat('-') || !s.Num(1, 2, m) || !s.Eat('-') || !s.Num(1, 2, d)) return false;
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  days = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  int64_t yy;
  unsigned mm, dd;
  CivilFromDays(days, yy, mm, dd);
  return static_cast<int64_t>(mm) == m;  // rejects Feb 30
}
}  // namespace

int64_t ParseDate(std::string_view text) {
  Scanner s{text};
  int64_t days;
  if (!ParseDays(s, days) || !s.End()) Throw(ErrorKind::kData, "invalid input syntax for type date: \"{}\"", text);
  return days;
}

int64_t ParseDateTime(std::string_view text) {
  Scanner s{text};
  int64_t days, us = 0;
  bool ok = ParseDays(s, days);
  if (ok && !s.End()) ok = (s.Eat(' ') || s.Eat('T')) && ParseClock(s, us, false);
  if (!ok || !s.End()) Throw(ErrorKind::kData, "invalid input syntax for type timestamp: \"{}\"", text);
  return days * kMicrosPerDay + us;
}

int64_t ParseTime(std::string_view text) {
  Scanner s{text};
  bool neg = s.Eat('-');
  int64_t us;
  if (!ParseClock(s, us, true) || !s.End()) Throw(ErrorKind::kData, "invalid input syntax for type time: \"{}\"", text);
  return neg ? -us : us;
}

// ---- intervals ----

Value IntervalValue(const Interval& iv) {
  Value v = Value::Int(iv.micros);
  v.dec = iv.months;
  v.d = static_cast<double>(iv.days);
  return v;
}

Interval IntervalOf(const Value& v) {
  return Interval{static_cast<int64_t>(v.dec), static_cast<int64_t>(v.d), v.i};
}

namespace {

[[noreturn]] void BadInterval(std::string_view text) {
  Throw(ErrorKind::kData, "invalid input syntax for type interval: \"{}\"", text);
}

int64_t RoundToInt64(long double x, std::string_view text) {
  long double r = std::round(x);
  if (!(r > -9.2e18L && r < 9.2e18L)) Throw(ErrorKind::kData, "interval out of range: \"{}\"", text);
  return static_cast<int64_t>(r);
}

/// Adds `frac` days (|frac| < 1 times `days_per_unit`) as whole days and the rest as micros.
void AddFractDays(Interval& iv, long double frac_days, std::string_view text) {
  long double whole = std::trunc(frac_days);
  iv.days += static_cast<int64_t>(whole);
  iv.micros += RoundToInt64((frac_days - whole) * 86400.0L * 1e6L, text);
}

}  // namespace

Interval ParseInterval(std::string_view text, int range, int precision) {
  Interval iv;
  std::string s;
  for (char c : text) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t i = 0;
  auto skip_space = [&] { while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i; };
  skip_space();
  if (i < s.size() && s[i] == '@') ++i;
  skip_space();
  if (i < s.size() && s[i] == 'p') {
    Throw(ErrorKind::kData, "unsupported: ISO 8601 interval \"{}\"; write e.g. '1 day 2 hours'", text);
  }
  // The unit of a bare number: the last field of the range (PostgreSQL), seconds by default.
  std::string bare_unit = "second";
  if (range == kIntervalYear) bare_unit = "year";
  else if (range == kIntervalMonth || range == (kIntervalYear | kIntervalMonth)) bare_unit = "month";
  else if (range == kIntervalDay) bare_unit = "day";
  else if (range == kIntervalHour || range == (kIntervalDay | kIntervalHour)) bare_unit = "hour";
  else if (range == kIntervalMinute || range == (kIntervalHour | kIntervalMinute) ||
           range == (kIntervalDay | kIntervalHour | kIntervalMinute)) bare_unit = "minute";
  bool ago = false, any = false;
  while (true) {
    skip_space();
    if (i >= s.size()) break;
    if (ago) BadInterval(text);
    if (std::isalpha(static_cast<unsigned char>(s[i]))) {
      size_t b = i;
      while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
      if (s.substr(b, i - b) != "ago") BadInterval(text);
      ago = true;
      continue;
    }
    // One field: [+-]digits[.digits] or [+-]h:m[:s[.f]] or [+-]y-m.
    bool neg = false;
    if (s[i] == '+' || s[i] == '-') { neg = s[i] == '-'; ++i; }
    size_t num_begin = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == ':' ||
                            (s[i] == '-' && i > num_begin))) {
      ++i;
    }
    std::string field = s.substr(num_begin, i - num_begin);
    if (field.empty() || !(std::isdigit(static_cast<unsigned char>(field[0])) || field[0] == '.')) BadInterval(text);
    const int sign = neg ? -1 : 1;
    auto number = [&](const std::string& f) -> long double {
      if (f.empty() || f == "." || f.find_first_not_of("0123456789.") != std::string::npos ||
          f.find('.') != f.rfind('.')) {
        BadInterval(text);
      }
      return std::strtold(f.c_str(), nullptr);
    };
    any = true;
    if (field.find(':') != std::string::npos) {  // h:m[:s] (m:s under MINUTE TO SECOND)
      std::vector<std::string> parts;
      size_t p = 0;
      for (size_t q; (q = field.find(':', p)) != std::string::npos; p = q + 1) parts.push_back(field.substr(p, q - p));
      parts.push_back(field.substr(p));
      if (parts.size() > 3) BadInterval(text);
      for (size_t k = 0; k + 1 < parts.size(); ++k) {
        if (parts[k].empty() || parts[k].find_first_not_of("0123456789") != std::string::npos) BadInterval(text);
      }
      long double us = 0;
      const bool min_sec = parts.size() == 2 && range == (kIntervalMinute | kIntervalSecond);
      if (min_sec) {
        us = number(parts[0]) * 60e6L + number(parts[1]) * 1e6L;
      } else {
        us = number(parts[0]) * 3600e6L + number(parts[1]) * 60e6L;
        if (parts.size() == 3) us += number(parts[2]) * 1e6L;
      }
      iv.micros += sign * RoundToInt64(us, text);
      continue;
    }
    if (field.find('-') != std::string::npos) {  // years-months
      size_t dash = field.find('-');
      std::string y = field.substr(0, dash), m = field.substr(dash + 1);
      if (y.find_first_not_of("0123456789") != std::string::npos || m.empty() ||
          m.find_first_not_of("0123456789") != std::string::npos) {
        BadInterval(text);
      }
      iv.months += sign * (RoundToInt64(number(y), text) * 12 + RoundToInt64(number(m), text));
      continue;
    }
    long double val = sign * number(field);
    skip_space();
    std::string unit;
    size_t ub = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    unit = s.substr(ub, i - ub);
    if (unit == "ago") { i = ub; unit.clear(); }
    if (unit.empty()) {
      // A bare number just before a time field is days ('1 02:00:00'), else the range's unit.
      size_t j = i;
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      size_t k = j;
      if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
      while (k < s.size() && (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == '.')) ++k;
      unit = (k < s.size() && s[k] == ':' && k > j) ? "day" : bare_unit;
    }
    const long double whole = std::trunc(val), frac = val - whole;
    if (whole > 1e12L || whole < -1e12L) Throw(ErrorKind::kData, "interval out of range: \"{}\"", text);
    const int64_t w = RoundToInt64(whole, text);
    auto is = [&](std::initializer_list<const char*> names) {
      for (const char* n : names) if (unit == n) return true;
      return false;
    };
    if (is({"microsecond", "microseconds", "us", "usec", "usecs", "useconds"})) {
      iv.micros += RoundToInt64(val, text);
    } else if (is({"millisecond", "milliseconds", "ms", "msec", "msecs", "mseconds"})) {
      iv.micros += RoundToInt64(val * 1000.0L, text);
    } else if (is({"second", "seconds", "s", "sec", "secs"})) {
      iv.micros += RoundToInt64(val * 1e6L, text);
    } else if (is({"minute", "minutes", "m", "min", "mins"})) {
      iv.micros += RoundToInt64(val * 60e6L, text);
    } else if (is({"hour", "hours", "h", "hr", "hrs"})) {
      iv.micros += RoundToInt64(val * 3600e6L, text);
    } else if (is({"day", "days", "d"})) {
      iv.days += w;
      AddFractDays(iv, frac, text);
    } else if (is({"week", "weeks", "w"})) {
      iv.days += w * 7;
      AddFractDays(iv, frac * 7, text);
    } else if (is({"month", "months", "mon", "mons"})) {
      iv.months += w;
      AddFractDays(iv, frac * 30, text);
    } else if (is({"year", "years", "y", "yr", "yrs"})) {
      iv.months += w * 12 + RoundToInt64(frac * 12, text);
    } else if (is({"decade", "decades", "dec", "decs"})) {
      iv.months += w * 120 + RoundToInt64(frac * 120, text);
    } else if (is({"century", "centuries", "c", "cent"})) {
      iv.months += w * 1200 + RoundToInt64(frac * 1200, text);
    } else if (is({"millennium", "millennia", "mil", "mils", "millenniums"})) {
      iv.months += w * 12000 + RoundToInt64(frac * 12000, text);
    } else {
      BadInterval(text);
    }
  }
  if (!any) BadInterval(text);
  if (ago) iv = Interval{-iv.months, -iv.days, -iv.micros};
  // The range drops the fields below its last one (PostgreSQL's AdjustIntervalForTypmod).
  constexpr int64_t kHour = 3600000000LL, kMinute = 60000000LL;
  if (range == kIntervalYear) {
    iv = Interval{iv.months / 12 * 12, 0, 0};
  } else if (range == kIntervalMonth || range == (kIntervalYear | kIntervalMonth)) {
    iv = Interval{iv.months, 0, 0};
  } else if (range == kIntervalDay) {
    iv.micros = 0;
  } else if (range == kIntervalHour || range == (kIntervalDay | kIntervalHour)) {
    iv.micros = iv.micros / kHour * kHour;
  } else if (range == kIntervalMinute || range == (kIntervalHour | kIntervalMinute) ||
             range == (kIntervalDay | kIntervalHour | kIntervalMinute)) {
    iv.micros = iv.micros / kMinute * kMinute;
  }
  if (precision >= 0 && precision < 6) {
    int64_t unit = 1;
    for (int k = precision; k < 6; ++k) unit *= 10;
    int64_t a = iv.micros < 0 ? -iv.micros : iv.micros;
    a = (a + unit / 2) / unit * unit;
    iv.micros = iv.micros < 0 ? -a : a;
  }
  return iv;
}

std::string FormatInterval(const Interval& iv) {
  std::string out;
  bool negative_before = false;
  auto add = [&](int64_t n, const char* one, const char* many) {
    if (n == 0) return;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}{} {}", negative_before && n > 0 ? "+" : "", n, n == 1 ? one : many);
    negative_before = negative_before || n < 0;
  };
  add(iv.months / 12, "year", "years");
  add(iv.months % 12, "mon", "mons");
  add(iv.days, "day", "days");
  if (iv.micros != 0 || out.empty()) {
    if (!out.empty()) out += ' ';
    int64_t us = iv.micros;
    if (us < 0) {
      out += '-';
      us = -us;
    } else if (negative_before) {
      out += '+';
    }
    out += fmt::format("{:02}:{:02}:{:02}", us / 3600000000LL, us / 60000000 % 60, us / 1000000 % 60);
    if (us % 1000000) {
      std::string f = fmt::format("{:06}", us % 1000000);
      while (f.back() == '0') f.pop_back();
      out += "." + f;
    }
  }
  return out;
}

int64_t AddInterval(int64_t micros, const Interval& iv) {
  auto out_of_range = [] { Throw(ErrorKind::kData, "timestamp out of range"); };
  int64_t days = micros / kMicrosPerDay, rem = micros % kMicrosPerDay;
  if (rem < 0) { rem += kMicrosPerDay; --days; }
  if (iv.months != 0) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(days, y, m, d);
    int64_t total;
    if (__builtin_add_overflow(y * 12 + static_cast<int64_t>(m) - 1, iv.months, &total)) out_of_range();
    int64_t ny = total >= 0 ? total / 12 : -((-total + 11) / 12);
    unsigned nm = static_cast<unsigned>(total - ny * 12 + 1);
    if (ny < -4713 || ny > 294276) out_of_range();
    static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0;
    const unsigned last = nm == 2 && leap ? 29 : kDays[nm - 1];
    days = DaysFromCivil(ny, nm, std::min(d, last));
  }
  int64_t r;
  if (__builtin_add_overflow(days, iv.days, &days) || __builtin_mul_overflow(days, kMicrosPerDay, &r) ||
      __builtin_add_overflow(r, rem, &r) || __builtin_add_overflow(r, iv.micros, &r)) {
    out_of_range();
  }
  return r;
}

}  // namespace sluice::sql
