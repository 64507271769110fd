#include "event/debezium_json.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>

#include "event/civil_time.h"
#include "common/error.h"

// References (Debezium 3.x sources and docs), cited once here rather than at every line:
//  [types]  debezium.io .../connectors/mysql.html "Data type mappings" (basic, temporal, decimal,
//           spatial types); io.debezium.connector.binlog.jdbc.BinlogValueConverters and
//           io.debezium.jdbc.JdbcValueConverters (the code behind that table).
//  [json]   org.apache.kafka.connect.json.JsonConverter (asJsonSchema key order: type, fields,
//           optional, name, version, doc, parameters, default, field; Decimal/bytes as base64).
//  [env]    io.debezium.schema.SchemaFactory (source struct v1, Envelope v2, snapshot Enum,
//           transaction block "event.block"), BinlogSourceInfoStructMaker (MySQL source fields).

namespace sluice {

namespace {

using json::JsonWriter;

// MYSQL_TYPE_* (include/field_types.h).
constexpr uint8_t kMyTiny = 1, kMyShort = 2, kMyLong = 3, kMyLongLong = 8, kMyInt24 = 9,
                  kMyYear = 13, kMyVector = 242, kMyString = 254;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

/// First integer inside parentheses of a COLUMN_TYPE ("decimal(10,2)" -> 10), or -1.
int ParenInt(std::string_view ct) {
  const size_t p = ct.find('(');
  if (p == std::string_view::npos) return -1;
  int v = 0;
  size_t i = p + 1;
  if (i >= ct.size() || !std::isdigit(static_cast<unsigned char>(ct[i]))) return -1;
  while (i < ct.size() && std::isdigit(static_cast<unsigned char>(ct[i]))) v = v * 10 + (ct[i++] - '0');
  return v;
}

std::string Quoted(std::string_view s) {
  JsonWriter w;
  w.String(s);
  return std::string(w.view());
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

/// `"ts_ms":..,"ts_us":..,"ts_ns":..` of an envelope (the slow path; WriteEnvelope has a faster one).
void WriteTimestamps(JsonWriter& w, int64_t now_ns) {
  w.Raw("\"ts_ms\":");
  w.Int(FloorDiv(now_ns, 1000000));
  w.Raw(",\"ts_us\":");
  w.Int(FloorDiv(now_ns, 1000));
  w.Raw(",\"ts_ns\":");
  w.Int(now_ns);
}

/// Kafka topic names allow [a-zA-Z0-9._-]; Debezium's topic naming strategy replaces every other
/// character with '_' (one per UTF-16 unit, so two for a supplementary code point).
std::string SanitizeTopic(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t n = 1;
    if (c >= 0xF0) n = 4;
    else if (c >= 0xE0) n = 3;
    else if (c >= 0xC0) n = 2;
    out += n == 4 ? "__" : "_";
    i += std::min(n, s.size() - i);
  }
  return out;
}

// ---- Decimals --------------------------------------------------------------------------------

struct DecimalParts {
  bool neg = false;
  std::string_view int_digits;
  std::string_view frac_digits;
};

/// '0'..'9' (std::isdigit is an out-of-line, locale-aware call).
inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

/// Index of the first non-digit of t at or after i (t.size() if none): 8 bytes per step.
size_t SkipDigits(std::string_view t, size_t i) {
  for (; i + 8 <= t.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, t.data() + i, 8);
    // Every byte is 0x30..0x39 iff its high nibble is 3 and adding 6 keeps it 3.
    if (((x & 0xF0F0F0F0F0F0F0F0ULL) | (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) !=
        0x3333333333333333ULL) {
      break;
    }
  }
  while (i < t.size() && IsDigit(t[i])) ++i;
  return i;
}

bool ParseDecimalText(std::string_view t, DecimalParts* out) {
  size_t i = 0;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) {
    out->neg = t[i] == '-';
    ++i;
  }
  const size_t int_begin = i;
  i = SkipDigits(t, i);
  out->int_digits = t.substr(int_begin, i - int_begin);
  out->frac_digits = {};
  if (i < t.size() && t[i] == '.') {
    const size_t f = ++i;
    i = SkipDigits(t, i);
    out->frac_digits = t.substr(f, i - f);
  }
  return i == t.size() && !(out->int_digits.empty() && out->frac_digits.empty());
}

[[noreturn]] void BadDecimal(std::string_view t) {
  Throw(ErrorKind::kData, "cannot encode DECIMAL value '{}' for Debezium: not a plain decimal number", t);
}

/// Value of 8 ASCII digits (the first most significant), without a loop (SWAR).
inline uint64_t Parse8Digits(const char* d) {
  uint64_t v;
  std::memcpy(&v, d, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  v = (v & 0x0F0F0F0F0F0F0F0FULL) * 2561 >> 8;
  v = (v & 0x00FF00FF00FF00FFULL) * 6553601 >> 16;
  return (v & 0x0000FFFF0000FFFFULL) * 42949672960001ULL >> 32;
}

/// Value of the digits d[0..n), n <= 19.
inline uint64_t ParseDigits(const char* d, size_t n) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) v = v * 100000000 + Parse8Digits(d + i);
  for (; i < n; ++i) v = v * 10 + static_cast<uint64_t>(d[i] - '0');
  return v;
}

/// Writes BigInteger.toByteArray() of the unscaled value into out[0..48); returns the length.
size_t DecimalToBytes(std::string_view text, uint8_t* out) {
  DecimalParts parts;
  if (!ParseDecimalText(text, &parts)) BadDecimal(text);
  const size_t n = parts.int_digits.size() + parts.frac_digits.size();
  if (n > 96) BadDecimal(text);
  char digits[96];  // the unscaled value's digits
  // (std::copy: an empty part may have a null data(), which memcpy must not get)
  std::copy(parts.int_digits.begin(), parts.int_digits.end(), digits);
  std::copy(parts.frac_digits.begin(), parts.frac_digits.end(), digits + parts.int_digits.size());
  if (n <= 18) {
    // Fast path: the unscaled value fits an int64.
    int64_t v = static_cast<int64_t>(ParseDigits(digits, n));
    if (parts.neg) v = -v;
    uint8_t be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (56 - 8 * i));
    size_t start = 0;
    const uint8_t fill = v < 0 ? 0xFF : 0x00;
    while (start + 1 < 8 && be[start] == fill && ((be[start + 1] & 0x80) != 0) == (v < 0)) ++start;
    std::memcpy(out, be + start, 8 - start);
    return 8 - start;
  }
  // Unscaled value in 64-bit words, least significant first, fed 19 digits at a time.
  constexpr int kWords = 6;  // 384 bits > 10^96
  uint64_t words[kWords] = {};
  int used = 0;  // words[used..] are zero
  auto mul_add = [&](uint64_t mul, uint64_t add) {
    unsigned __int128 carry = add;
    for (int i = 0; i < used; ++i) {
      carry += static_cast<unsigned __int128>(words[i]) * mul;
      words[i] = static_cast<uint64_t>(carry);
      carry >>= 64;
    }
    if (carry != 0) {
      if (used == kWords) BadDecimal(text);
      words[used++] = static_cast<uint64_t>(carry);
    }
  };
  size_t i = n % 19 == 0 ? 19 : n % 19;
  mul_add(1, ParseDigits(digits, i));
  for (; i < n; i += 19) mul_add(10000000000000000000u, ParseDigits(digits + i, 19));
  if (used == 0) {
    out[0] = 0;
    return 1;
  }
  if (parts.neg) {  // two's complement: invert and add one
    unsigned carry = 1;
    for (uint64_t& w : words) {
      w = ~w + carry;
      carry = carry && w == 0;
    }
  }
  constexpr size_t kBytes = kWords * 8;
  uint8_t be[kBytes];
  for (int k = 0; k < kWords; ++k) {
    uint64_t w = words[kWords - 1 - k];
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    std::memcpy(be + 8 * k, &w, 8);
  }
  // Minimal length: drop a leading 0x00 (0xFF) while the next byte keeps the sign bit clear (set).
  // Every byte above the top used word is such a fill byte: start at the last of them.
  size_t start = used < kWords ? (kWords - used) * 8 - 1 : 0;
  const uint8_t fill = parts.neg ? 0xFF : 0x00;
  while (start + 1 < kBytes && be[start] == fill && ((be[start + 1] & 0x80) != 0) == parts.neg) ++start;
  std::memcpy(out, be + start, kBytes - start);
  return kBytes - start;
}

/// Writes java.math.BigDecimal.toString() of the decimal text, quoted.
void WriteJavaBigDecimal(JsonWriter& w, std::string_view text) {
  DecimalParts parts;
  if (!ParseDecimalText(text, &parts)) BadDecimal(text);
  // Coefficient digits without leading zeros; scale = number of fraction digits.
  char coef[128];
  size_t n = 0;
  for (std::string_view part : {parts.int_digits, parts.frac_digits}) {
    for (char ch : part) {
      if (n == 0 && ch == '0') continue;
      if (n >= sizeof coef) BadDecimal(text);
      coef[n++] = ch;
    }
  }
  const bool zero = n == 0;
  if (zero) coef[n++] = '0';
  const long scale = static_cast<long>(parts.frac_digits.size());
  const long adjusted = -scale + static_cast<long>(n) - 1;
  char* p = w.Ensure(n + scale + 32);
  char* const start = p;
  *p++ = '"';
  if (parts.neg && !zero) *p++ = '-';
  if (adjusted >= -6) {
    if (scale == 0) {
      std::memcpy(p, coef, n);
      p += n;
    } else if (static_cast<long>(n) > scale) {
      const size_t int_len = n - static_cast<size_t>(scale);
      std::memcpy(p, coef, int_len);
      p += int_len;
      *p++ = '.';
      std::memcpy(p, coef + int_len, static_cast<size_t>(scale));
      p += scale;
    } else {
      *p++ = '0';
      *p++ = '.';
      for (long i = 0; i < scale - static_cast<long>(n); ++i) *p++ = '0';
      std::memcpy(p, coef, n);
      p += n;
    }
  } else {
    *p++ = coef[0];
    if (n > 1) {
      *p++ = '.';
      std::memcpy(p, coef + 1, n - 1);
      p += n - 1;
    }
    *p++ = 'E';
    p = std::to_chars(p, p + 24, adjusted).ptr;  // always negative here
  }
  *p++ = '"';
  w.Advance(static_cast<size_t>(p - start));
}

/// Rescales decimal text to `scale` fraction digits rounding HALF_UP (BigDecimal.setScale), for
/// column defaults.
std::string RescaleDecimal(std::string_view text, int scale) {
  DecimalParts parts;
  if (!ParseDecimalText(text, &parts)) BadDecimal(text);
  std::string digits(parts.int_digits);
  if (digits.empty()) digits = "0";
  std::string frac(parts.frac_digits);
  bool round_up = false;
  if (static_cast<int>(frac.size()) > scale) {
    round_up = frac[static_cast<size_t>(scale)] >= '5';
    frac.resize(static_cast<size_t>(scale));
  } else {
    frac.append(static_cast<size_t>(scale) - frac.size(), '0');
  }
  digits += frac;
  if (round_up) {
    size_t i = digits.size();
    while (i > 0) {
      --i;
      if (digits[i] == '9') {
        digits[i] = '0';
      } else {
        ++digits[i];
        break;
      }
      if (i == 0) digits.insert(digits.begin(), '1');
    }
  }
  const size_t new_int_len = digits.size() - static_cast<size_t>(scale);
  std::string out = parts.neg ? "-" : "";
  out.append(digits, 0, new_int_len);
  if (scale > 0) {
    out += '.';
    out.append(digits, new_int_len, std::string::npos);
  }
  return out;
}

// ---- Dates and times -------------------------------------------------------------------------

constexpr int64_t kMicrosPerDay = 86400LL * 1000000;

/// Debezium's default TemporalAdjuster (`enable.time.adjuster`): years 00-69 -> 2000-2069,
/// 70-99 -> 1970-1999 (BinlogValueConverters.adjustTemporal).
int64_t AdjustDays(int64_t days) {
  static const int64_t kYear0 = DaysFromCivil(0, 1, 1);
  static const int64_t kYear100 = DaysFromCivil(100, 1, 1);
  if (days < kYear0 || days >= kYear100) return days;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  y += y <= 69 ? 2000 : 1900;
  // A year shift keeps Feb 29 valid here (leap years map to leap years), but clamp like
  // LocalDate.plusYears would.
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m == 2 && d == 29 && !leap) d = 28;
  return DaysFromCivil(y, m, d);
}

int64_t AdjustMicros(int64_t us) {
  const int64_t days = FloorDiv(us, kMicrosPerDay);
  const int64_t adjusted = AdjustDays(days);
  return adjusted == days ? us : us + (adjusted - days) * kMicrosPerDay;
}

char* Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

/// Writes an io.debezium.time.ZonedTimestamp string in UTC: "2024-01-02T03:04:05.120000Z" with
/// exactly `fsp` fraction digits (ZonedTimestamp.getDateTimeFormatter(fractionalWidth)); with
/// fsp 0, ISO_OFFSET_DATE_TIME, which prints a non-zero fraction without trailing zeros.
void WriteZonedTimestamp(JsonWriter& w, int64_t us, int fsp) {
  const int64_t secs = FloorDiv(us, 1000000);
  const auto micros = static_cast<unsigned>(us - secs * 1000000);
  const int64_t days = FloorDiv(secs, 86400);
  const auto sod = static_cast<unsigned>(secs - days * 86400);
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char* p = w.Ensure(48);
  char* const start = p;
  *p++ = '"';
  if (y < 0) {
    *p++ = '-';
    y = -y;
  }
  if (y > 9999) {
    *p++ = '+';
    p = std::to_chars(p, p + 12, y).ptr;
  } else {
    const auto yy = static_cast<unsigned>(y);
    p = Put2(p, yy / 100);
    p = Put2(p, yy % 100);
  }
  *p++ = '-';
  p = Put2(p, m);
  *p++ = '-';
  p = Put2(p, d);
  *p++ = 'T';
  p = Put2(p, sod / 3600);
  *p++ = ':';
  p = Put2(p, sod / 60 % 60);
  *p++ = ':';
  p = Put2(p, sod % 60);
  char frac[6];
  unsigned f = micros;
  for (int i = 5; i >= 0; --i) {
    frac[i] = static_cast<char>('0' + f % 10);
    f /= 10;
  }
  if (fsp > 0) {
    *p++ = '.';
    for (int i = 0; i < fsp && i < 6; ++i) *p++ = frac[i];
    for (int i = 6; i < fsp; ++i) *p++ = '0';
  } else if (micros != 0) {
    int n = 6;
    while (frac[n - 1] == '0') --n;
    *p++ = '.';
    std::memcpy(p, frac, static_cast<size_t>(n));
    p += n;
  }
  *p++ = 'Z';
  *p++ = '"';
  w.Advance(static_cast<size_t>(p - start));
}

/// Parses "YYYY-MM-DD[ hh:mm:ss[.ffffff]]" (or with 'T'); returns false when malformed. Zero
/// dates parse (y/m/d may be 0).
bool ParseDateTimeText(std::string_view s, int64_t* y, unsigned* mo, unsigned* d, int64_t* tod_us) {
  auto num = [&](size_t& i, int max_digits, int64_t* v) {
    const size_t b = i;
    *v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && static_cast<int>(i - b) < max_digits) {
      *v = *v * 10 + (s[i++] - '0');
    }
    return i > b;
  };
  size_t i = 0;
  int64_t yy, mm, dd, hh = 0, mi = 0, ss = 0;
  if (!num(i, 4, &yy) || i >= s.size() || s[i++] != '-') return false;
  if (!num(i, 2, &mm) || i >= s.size() || s[i++] != '-') return false;
  if (!num(i, 2, &dd)) return false;
  int64_t frac_us = 0;
  if (i < s.size() && (s[i] == ' ' || s[i] == 'T')) {
    ++i;
    if (!num(i, 2, &hh) || i >= s.size() || s[i++] != ':') return false;
    if (!num(i, 2, &mi)) return false;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!num(i, 2, &ss)) return false;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      int digits = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (digits < 6) frac_us = frac_us * 10 + (s[i] - '0');
        ++digits;
        ++i;
      }
      for (; digits < 6; ++digits) frac_us *= 10;
    }
  }
  if (i != s.size() || mm > 12 || dd > 31 || hh > 23 || mi > 59 || ss > 59) return false;
  *y = yy;
  *mo = static_cast<unsigned>(mm);
  *d = static_cast<unsigned>(dd);
  *tod_us = ((hh * 60 + mi) * 60 + ss) * 1000000 + frac_us;
  return true;
}

/// Parses a TIME literal "[-]h:mm[:ss[.f]]" (or a datetime, keeping the time part) to micros.
bool ParseTimeText(std::string_view s, int64_t* us) {
  int64_t y, tod;
  unsigned m, d;
  if (ParseDateTimeText(s, &y, &m, &d, &tod)) {
    *us = tod;
    return true;
  }
  bool neg = false;
  size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    neg = true;
    ++i;
  }
  int64_t parts[3] = {0, 0, 0};
  int np = 0;
  while (np < 3) {
    const size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) parts[np] = parts[np] * 10 + (s[i++] - '0');
    if (i == b) return false;
    ++np;
    if (i < s.size() && s[i] == ':') {
      ++i;
      continue;
    }
    break;
  }
  if (np < 2) return false;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 6) frac = frac * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    for (; digits < 6; ++digits) frac *= 10;
  }
  if (i != s.size()) return false;
  const int64_t v = ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000000 + frac;
  *us = neg ? -v : v;
  return true;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

// ---- Column plans ----------------------------------------------------------------------------

namespace {

/// How one column is written; decided once per TableSchema.
enum class Enc : uint8_t {
  kInt,            // signed integer
  kUInt,           // unsigned integer that fits its Connect type
  kUIntWrap,       // BIGINT UNSIGNED, bigint.unsigned.handling.mode=long: the 64 bits as int64
  kUIntDecimal,    // BIGINT UNSIGNED, precise: Decimal(20,0)
  kFloat32,        // FLOAT: Float.toString
  kFloat64,        // DOUBLE, FLOAT(M,D): Double.toString
  kDecimalPrecise,
  kDecimalDouble,
  kDecimalString,
  kString,
  kJson,
  kBytes,
  kDate,
  kTimeMicros,
  kTimeMillis,
  kDateTimeMillis,
  kDateTimeMicros,
  kTimestamp,
  kBool,
  kBits,
  kGeometry,
  kPoint,
  kFloatVector,    // MySQL 9 VECTOR: io.debezium.data.FloatVector, an array of float32
};

struct ColumnPlan {
  Enc enc = Enc::kString;
  ValueKind kind = ValueKind::kString;
  bool nullable = true;
  int fsp = 0;
  int num_bytes = 0;            // BIT(n>1): bytes; BINARY(n): pad length
  std::string field_prefix;     // "\"name\":"
  std::string sep_prefix;       // ",\"name\":" (every column but the first of a row)
  std::string zero_json;        // NOT NULL zero-date replacement
  std::string schema_json;      // this column's Connect schema inside a struct's "fields"
};

}  // namespace

struct DebeziumEncoder::TablePlan {
  TableSchemaPtr schema;
  std::string topic;
  std::string topic_json;
  std::string data_collection;  // "db.table": transaction metadata's data_collection
  std::vector<ColumnPlan> cols;
  std::vector<int> key_cols;
  std::string db_piece;     // ,"db":"<db>","sequence":null,"ts_us":
  std::string table_piece;  // ,"table":"<table>","server_id":
  std::string key_schema_json;
  std::string value_schema_json;
  std::string key_open;     // {"schema":...,"payload":
  std::string value_open;   // {"schema":...,"payload":
};

namespace {

int IntWidth(const ColumnSchema& c, const std::string& ct, bool is_unsigned) {
  switch (c.mysql_type) {
    case kMyTiny: return 16;
    case kMyShort: return is_unsigned ? 32 : 16;
    case kMyInt24: return 32;
    case kMyLong: return is_unsigned ? 64 : 32;
    case kMyLongLong: return 64;
    case kMyYear: return 32;
    default: break;
  }
  if (StartsWith(ct, "tinyint") || StartsWith(ct, "bool")) return 16;
  if (StartsWith(ct, "smallint")) return is_unsigned ? 32 : 16;
  if (StartsWith(ct, "mediumint")) return 32;
  if (StartsWith(ct, "int")) return is_unsigned ? 64 : 32;
  if (StartsWith(ct, "year")) return 32;
  return 64;
}

bool IsYear(const ColumnSchema& c, const std::string& ct) {
  return c.mysql_type == kMyYear || StartsWith(ct, "year");
}

ColumnPlan Classify(const ColumnSchema& c, const DebeziumOptions& o) {
  ColumnPlan p;
  p.kind = c.kind;
  p.nullable = c.nullable;
  p.field_prefix = Quoted(c.name) + ":";
  p.sep_prefix = "," + p.field_prefix;
  const std::string ct = Lower(c.column_type);
  const bool connect = o.time_precision == TimePrecision::kConnect;
  p.fsp = c.fsp;
  if (p.fsp == 0 && ParenInt(ct) > 0 &&
      (StartsWith(ct, "datetime") || StartsWith(ct, "timestamp") || StartsWith(ct, "time"))) {
    p.fsp = ParenInt(ct);
  }
  switch (c.kind) {
    case ValueKind::kInt:
      p.enc = Enc::kInt;
      break;
    case ValueKind::kUInt: {
      const bool bigint = c.mysql_type == kMyLongLong || StartsWith(ct, "bigint") ||
                          (c.mysql_type == 0 && ct.empty());
      if (!bigint) {
        p.enc = Enc::kUInt;
      } else {
        p.enc = o.bigint_unsigned == BigIntUnsignedHandling::kLong ? Enc::kUIntWrap : Enc::kUIntDecimal;
      }
      break;
    }
    case ValueKind::kFloat: {
      // FLOAT(M,D) is FLOAT64 in Debezium; plain FLOAT / FLOAT(p<=24) is FLOAT32.
      const bool with_scale = StartsWith(ct, "float(") && ct.find(',') != std::string::npos;
      p.enc = with_scale ? Enc::kFloat64 : Enc::kFloat32;
      break;
    }
    case ValueKind::kDouble:
      p.enc = Enc::kFloat64;
      break;
    case ValueKind::kDecimal:
      p.enc = o.decimal_handling == DecimalHandling::kPrecise  ? Enc::kDecimalPrecise
              : o.decimal_handling == DecimalHandling::kDouble ? Enc::kDecimalDouble
                                                              : Enc::kDecimalString;
      break;
    case ValueKind::kString:
      p.enc = Enc::kString;
      break;
    case ValueKind::kJson:
      p.enc = Enc::kJson;
      break;
    case ValueKind::kBytes:
      if (c.mysql_type == kMyVector || StartsWith(ct, "vector")) {
        p.enc = Enc::kFloatVector;
        break;
      }
      p.enc = Enc::kBytes;
      // DBZ-254: BINARY(n) values are right-padded with 0x00 to n bytes.
      if (c.mysql_type == kMyString || StartsWith(ct, "binary")) {
        p.num_bytes = c.length > 0 ? c.length : std::max(ParenInt(ct), 0);
      }
      break;
    case ValueKind::kDate:
      p.enc = Enc::kDate;
      break;
    case ValueKind::kTime:
      p.enc = connect ? Enc::kTimeMillis : Enc::kTimeMicros;
      break;
    case ValueKind::kDateTime:
      p.enc = connect || p.fsp <= 3 ? Enc::kDateTimeMillis : Enc::kDateTimeMicros;
      break;
    case ValueKind::kTimestamp:
      p.enc = Enc::kTimestamp;
      break;
    case ValueKind::kBit: {
      int bits = c.length > 0 ? c.length : ParenInt(ct);
      if (bits <= 0) bits = 1;
      if (bits == 1) {
        p.enc = Enc::kBool;
      } else {
        p.enc = Enc::kBits;
        p.num_bytes = bits / 8 + (bits % 8 == 0 ? 0 : 1);
      }
      break;
    }
    case ValueKind::kGeometry:
      p.enc = StartsWith(ct, "point") ? Enc::kPoint : Enc::kGeometry;
      break;
  }
  return p;
}

/// Writes the little-endian bytes of a BIT(n) value, sized to ceil(n/8) (io.debezium.data.Bits).
void WriteBits(JsonWriter& w, uint64_t v, int num_bytes) {
  char bytes[8];
  for (int i = 0; i < num_bytes && i < 8; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  w.Base64(std::string_view(bytes, static_cast<size_t>(std::min(num_bytes, 8))));
}

void WriteBinary(JsonWriter& w, std::string_view b, BinaryHandling mode) {
  switch (mode) {
    case BinaryHandling::kBytes:  // BYTES: JsonConverter writes base64
    case BinaryHandling::kBase64:
      w.Base64(b);
      break;
    case BinaryHandling::kBase64UrlSafe:
      w.Base64(b, true);
      break;
    case BinaryHandling::kHex:
      w.Hex(b);
      break;
  }
}

double BitsToDouble(int64_t bits) { return std::bit_cast<double>(bits); }

/// Geometry: MySQL stores a 4-byte little-endian SRID before the WKB (BinlogGeometry.fromBytes);
/// SRID 0 is written as null.
void SplitGeometry(std::string_view b, std::string_view* wkb, int32_t* srid) {
  if (b.size() < 4) Throw(ErrorKind::kData, "cannot encode GEOMETRY value: {} bytes, expected SRID + WKB", b.size());
  uint32_t s = 0;
  for (int i = 3; i >= 0; --i) s = (s << 8) | static_cast<unsigned char>(b[static_cast<size_t>(i)]);
  *srid = static_cast<int32_t>(s);
  *wkb = b.substr(4);
}

void WriteSrid(JsonWriter& w, int32_t srid) {
  if (srid == 0) {
    w.Null();
  } else {
    w.Int(srid);
  }
}

double ReadWkbDouble(const unsigned char* p, bool little) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[little ? i : 7 - i]} << (8 * i);
  return std::bit_cast<double>(v);
}

/// Writes a value that is not SQL NULL. `fixed` holds fixed-kind values, `bytes` var-kind ones.
void WriteValue(JsonWriter& w, const ColumnPlan& cp, const DebeziumOptions& o, int64_t fixed,
                std::string_view bytes) {
  switch (cp.enc) {
    case Enc::kInt:
    case Enc::kUIntWrap:
      w.Int(fixed);
      return;
    case Enc::kUInt:
      w.UInt(static_cast<uint64_t>(fixed));
      return;
    case Enc::kUIntDecimal: {
      char text[24];
      const auto r = std::to_chars(text, text + sizeof text, static_cast<uint64_t>(fixed));
      uint8_t out[48];
      const size_t n = DecimalToBytes(std::string_view(text, static_cast<size_t>(r.ptr - text)), out);
      w.Base64(std::string_view(reinterpret_cast<const char*>(out), n));
      return;
    }
    case Enc::kFloat32:
      w.JavaFloat(static_cast<float>(BitsToDouble(fixed)));
      return;
    case Enc::kFloat64:
      w.JavaDouble(BitsToDouble(fixed));
      return;
    case Enc::kDecimalPrecise: {
      uint8_t out[48];
      const size_t n = DecimalToBytes(bytes, out);
      w.Base64(std::string_view(reinterpret_cast<const char*>(out), n));
      return;
    }
    case Enc::kDecimalDouble: {
      DecimalParts parts;
      if (!ParseDecimalText(bytes, &parts)) BadDecimal(bytes);
      double d = 0;
      const char* b = bytes.data();
      if (*b == '+') ++b;
      std::from_chars(b, bytes.data() + bytes.size(), d);
      if (d == 0) d = 0.0;  // BigDecimal has no negative zero: "-0.00" -> 0.0
      w.JavaDouble(d);
      return;
    }
    case Enc::kDecimalString: {
      // Debezium's string mode is BigDecimal.toPlainString(): the digits with the column's
      // scale, never E notation ("0.0000000001", "0.0000000000"); no negative zero.
      DecimalParts parts;
      if (!ParseDecimalText(bytes, &parts)) BadDecimal(bytes);
      std::string_view t = bytes;
      if (!t.empty() && t[0] == '+') t.remove_prefix(1);
      if (!t.empty() && t[0] == '-' && t.find_first_of("123456789") == std::string_view::npos) t.remove_prefix(1);
      w.String(t);
      return;
    }
    case Enc::kString:
      w.String(bytes);
      return;
    case Enc::kJson:
      // An empty JSON value (possible in the binlog) is null, or "{}" for NOT NULL (convertJson).
      if (bytes.empty()) {
        if (cp.nullable) {
          w.Null();
        } else {
          w.Raw("\"{}\"");
        }
        return;
      }
      w.String(bytes);
      return;
    case Enc::kBytes:
      if (cp.num_bytes > 0 && bytes.size() < static_cast<size_t>(cp.num_bytes)) {
        thread_local std::string padded;
        padded.assign(bytes);
        padded.resize(static_cast<size_t>(cp.num_bytes), '\0');
        WriteBinary(w, padded, o.binary_handling);
      } else {
        WriteBinary(w, bytes, o.binary_handling);
      }
      return;
    case Enc::kDate:
      w.Int(o.enable_time_adjuster ? AdjustDays(fixed) : fixed);
      return;
    case Enc::kTimeMicros:
      w.Int(fixed);
      return;
    case Enc::kTimeMillis:
      // org.apache.kafka.connect.data.Time only holds 00:00..24:00; Debezium fails to convert
      // other values and leaves the field null.
      if (fixed < 0 || fixed >= kMicrosPerDay) {
        w.Null();
      } else {
        w.Int(fixed / 1000);
      }
      return;
    case Enc::kDateTimeMillis:
      w.Int(FloorDiv(o.enable_time_adjuster ? AdjustMicros(fixed) : fixed, 1000));
      return;
    case Enc::kDateTimeMicros:
      w.Int(o.enable_time_adjuster ? AdjustMicros(fixed) : fixed);
      return;
    case Enc::kTimestamp:
      WriteZonedTimestamp(w, fixed, cp.fsp);
      return;
    case Enc::kBool:
      w.Bool((static_cast<uint64_t>(fixed) & 1) != 0);
      return;
    case Enc::kBits:
      WriteBits(w, static_cast<uint64_t>(fixed), cp.num_bytes);
      return;
    case Enc::kGeometry: {
      std::string_view wkb;
      int32_t srid;
      SplitGeometry(bytes, &wkb, &srid);
      w.Raw("{\"wkb\":");
      w.Base64(wkb);
      w.Raw(",\"srid\":");
      WriteSrid(w, srid);
      w.Char('}');
      return;
    }
    case Enc::kPoint: {
      std::string_view wkb;
      int32_t srid;
      SplitGeometry(bytes, &wkb, &srid);
      const auto* p = reinterpret_cast<const unsigned char*>(wkb.data());
      bool ok = wkb.size() == 21;
      const bool little = ok && p[0] != 0;
      if (ok) {
        const uint32_t type = little ? (p[1] | p[2] << 8 | p[3] << 16 | uint32_t{p[4]} << 24)
                                     : (uint32_t{p[1]} << 24 | p[2] << 16 | p[3] << 8 | p[4]);
        ok = type == 1;
      }
      if (!ok) Throw(ErrorKind::kData, "cannot encode POINT value: WKB is not a 2D point ({} bytes)", wkb.size());
      w.Raw("{\"x\":");
      w.JavaDouble(ReadWkbDouble(p + 5, little));
      w.Raw(",\"y\":");
      w.JavaDouble(ReadWkbDouble(p + 13, little));
      w.Raw(",\"wkb\":");
      w.Base64(wkb);
      w.Raw(",\"srid\":");
      WriteSrid(w, srid);
      w.Char('}');
      return;
    }
    case Enc::kFloatVector: {
      // N little-endian IEEE float32 values (MySQL's VECTOR storage).
      if (bytes.size() % 4 != 0) {
        Throw(ErrorKind::kData, "cannot encode VECTOR value: {} bytes is not a whole number of floats", bytes.size());
      }
      w.Char('[');
      for (size_t i = 0; i < bytes.size(); i += 4) {
        if (i) w.Char(',');
        uint32_t u = 0;
        for (int k = 3; k >= 0; --k) u = (u << 8) | static_cast<unsigned char>(bytes[i + static_cast<size_t>(k)]);
        w.JavaFloat(std::bit_cast<float>(u));
      }
      w.Char(']');
      return;
    }
  }
}

bool IsZero(const ColumnPlan& cp, int64_t fixed) {
  switch (cp.kind) {
    case ValueKind::kDate:
    case ValueKind::kDateTime:
      return fixed == kZeroDate;
    case ValueKind::kTimestamp:
      return fixed == 0;  // MySQL's zero TIMESTAMP; 1970-01-01 00:00:00 UTC itself is out of range
    default:
      return false;
  }
}

[[gnu::always_inline]] inline void WriteCell(JsonWriter& w, const ColumnPlan& cp, const DebeziumOptions& o,
                                              const ColumnVector& col, size_t row) {
  if (col.IsNull(row)) return w.Null();
  if (IsVarKind(cp.kind)) return WriteValue(w, cp, o, 0, col.GetBytes(row));
  const int64_t fixed = col.GetInt(row);
  if (IsZero(cp, fixed)) {
    // Zero dates: null when the column allows it, else the column default or the epoch.
    if (cp.nullable) return w.Null();
    return w.Raw(cp.zero_json);
  }
  WriteValue(w, cp, o, fixed, {});
}

// ---- Defaults and schemas --------------------------------------------------------------------

bool IsCurrentTimestamp(std::string_view v) {
  const std::string l = Lower(v);
  return StartsWith(l, "current_timestamp") || StartsWith(l, "now(") || StartsWith(l, "localtime") ||
         l == "now";
}

/// Renders the column default as Debezium puts it into the Connect schema ("default"), or
/// returns false when there is none (BinlogDefaultValueConverter semantics, see DEBEZIUM_COMPAT).
bool RenderDefault(const ColumnSchema& c, const ColumnPlan& cp, const DebeziumOptions& o, JsonWriter& w) {
  if (!c.has_default) return false;
  std::string_view v = Trim(c.default_value);
  if (IEquals(v, "NULL")) return false;
  std::string unquoted;
  // MariaDB's information_schema quotes literals ('abc'); MySQL does not. Strip a charset
  // introducer (_utf8mb4'abc') as Debezium does.
  if (v.size() >= 2 && v.front() == '_' && v.back() == '\'') {
    const size_t q = v.find('\'');
    if (q != std::string_view::npos) v = v.substr(q);
  }
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
    std::string_view inner = v.substr(1, v.size() - 2);
    for (size_t i = 0; i < inner.size(); ++i) {
      unquoted += inner[i];
      if (inner[i] == '\'' && i + 1 < inner.size() && inner[i + 1] == '\'') ++i;
    }
  } else {
    unquoted = std::string(v);
  }
  const std::string_view t = unquoted;
  const std::string_view tt = Trim(t);
  switch (cp.enc) {
    case Enc::kInt:
    case Enc::kUInt:
    case Enc::kUIntWrap:
    case Enc::kUIntDecimal: {
      int64_t iv = 0;
      if (IEquals(tt, "true") || IEquals(tt, "false")) {
        iv = IEquals(tt, "true") ? 1 : 0;
      } else if (cp.enc == Enc::kUIntWrap || cp.enc == Enc::kUIntDecimal || cp.enc == Enc::kUInt) {
        uint64_t u = 0;
        auto r = std::from_chars(tt.data(), tt.data() + tt.size(), u);
        if (r.ec != std::errc() || r.ptr != tt.data() + tt.size()) {
          double d = 0;
          auto rd = std::from_chars(tt.data(), tt.data() + tt.size(), d);
          if (rd.ec != std::errc()) return false;
          u = static_cast<uint64_t>(std::llround(d));
        }
        iv = static_cast<int64_t>(u);
      } else {
        auto r = std::from_chars(tt.data(), tt.data() + tt.size(), iv);
        if (r.ec != std::errc() || r.ptr != tt.data() + tt.size()) {
          double d = 0;  // BinlogValueConverters: Math.round(Double.parseDouble(default))
          auto rd = std::from_chars(tt.data(), tt.data() + tt.size(), d);
          if (rd.ec != std::errc()) return false;
          iv = std::llround(d);
        }
      }
      WriteValue(w, cp, o, iv, {});
      return true;
    }
    case Enc::kFloat32:
    case Enc::kFloat64: {
      double d = 0;
      auto r = std::from_chars(tt.data(), tt.data() + tt.size(), d);
      if (r.ec != std::errc()) return false;
      // Double.parseDouble; a FLOAT32 schema holds the value converted to float.
      WriteValue(w, cp, o, std::bit_cast<int64_t>(d), {});
      return true;
    }
    case Enc::kDecimalPrecise:
    case Enc::kDecimalDouble:
    case Enc::kDecimalString: {
      std::string text(tt);
      if (IEquals(tt, "true") || IEquals(tt, "false")) text = IEquals(tt, "true") ? "1" : "0";
      DecimalParts parts;
      if (!ParseDecimalText(text, &parts)) return false;
      WriteValue(w, cp, o, 0, RescaleDecimal(text, c.scale));
      return true;
    }
    case Enc::kString:
    case Enc::kBytes:
      WriteValue(w, cp, o, 0, t);
      return true;
    case Enc::kJson:
    case Enc::kGeometry:
    case Enc::kPoint:
    case Enc::kFloatVector:
      return false;
    case Enc::kBool:
    case Enc::kBits: {
      std::string_view b = tt;
      uint64_t bits = 0;
      if ((StartsWith(b, "b'") || StartsWith(b, "B'")) && b.back() == '\'') {
        b = b.substr(2, b.size() - 3);
        for (char ch : b) {
          if (ch != '0' && ch != '1') return false;
          bits = bits << 1 | static_cast<uint64_t>(ch - '0');
        }
      } else if (IEquals(b, "true") || IEquals(b, "false")) {
        bits = IEquals(b, "true") ? 1 : 0;
      } else {
        auto r = std::from_chars(b.data(), b.data() + b.size(), bits);
        if (r.ec != std::errc()) return false;
        if (cp.enc == Enc::kBits) {  // Debezium reads a BIT(n>1) default as a string of binary digits
          uint64_t binary = 0;
          for (char ch : b) {
            if (ch != '0' && ch != '1') return false;
            binary = binary << 1 | static_cast<uint64_t>(ch - '0');
          }
          bits = binary;
        }
      }
      WriteValue(w, cp, o, static_cast<int64_t>(bits), {});
      return true;
    }
    case Enc::kDate:
    case Enc::kDateTimeMillis:
    case Enc::kDateTimeMicros:
    case Enc::kTimestamp: {
      int64_t y = 1970, tod = 0;
      unsigned m = 1, d = 1;
      bool zero;
      if (IsCurrentTimestamp(tt)) {
        zero = cp.enc == Enc::kTimestamp;  // the DDL parser turns it into 1970-01-01 00:00:00
      } else if (tt == "0") {
        zero = true;
      } else if (!ParseDateTimeText(tt, &y, &m, &d, &tod)) {
        if (cp.nullable) return false;
        zero = true;
      } else {
        zero = y == 0 || m == 0 || d == 0;
        if (cp.enc == Enc::kTimestamp && y == 1970 && m == 1 && d == 1 && tod == 0) zero = true;
      }
      if (zero) {
        if (cp.nullable) return false;
        y = 1970, m = 1, d = 1, tod = 0;
      }
      const int64_t days = DaysFromCivil(y, m, d);
      if (cp.enc == Enc::kDate) {
        WriteValue(w, cp, o, days, {});
      } else if (cp.enc == Enc::kTimestamp) {
        // Debezium reads the literal in the JVM's zone; Sluice reads it as UTC (DEBEZIUM_COMPAT).
        if (zero) {
          w.Raw("\"1970-01-01T00:00:00Z\"");
        } else {
          WriteZonedTimestamp(w, days * kMicrosPerDay + tod, cp.fsp);
        }
      } else {
        WriteValue(w, cp, o, days * kMicrosPerDay + tod, {});
      }
      return true;
    }
    case Enc::kTimeMicros:
    case Enc::kTimeMillis: {
      int64_t us = 0;
      if (!ParseTimeText(tt, &us)) return false;
      WriteValue(w, cp, o, us, {});
      return true;
    }
  }
  return false;
}

struct SchemaShape {
  const char* type = "string";
  const char* name = nullptr;
  int version = 0;
  const char* doc = nullptr;
  const char* fields = nullptr;  // for struct types: the JSON array body
  const char* items = nullptr;   // for array types: the element schema
  std::vector<std::pair<std::string, std::string>> params;
};

std::string Joined(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += values[i];
  }
  return out;
}

SchemaShape ShapeOf(const ColumnSchema& c, const ColumnPlan& cp, const DebeziumOptions& o) {
  SchemaShape s;
  const std::string ct = Lower(c.column_type);
  const bool connect = o.time_precision == TimePrecision::kConnect;
  auto int_type = [&](int width) { return width == 16 ? "int16" : width == 32 ? "int32" : "int64"; };
  switch (cp.enc) {
    case Enc::kInt:
    case Enc::kUInt:
      if (IsYear(c, ct)) {
        s.type = "int32";
        s.name = "io.debezium.time.Year";
        s.version = 1;
      } else {
        s.type = int_type(IntWidth(c, ct, c.is_unsigned || c.kind == ValueKind::kUInt));
      }
      break;
    case Enc::kUIntWrap:
      s.type = "int64";
      break;
    case Enc::kUIntDecimal:
      s.type = "bytes";
      s.name = "org.apache.kafka.connect.data.Decimal";
      s.version = 1;
      s.params = {{"scale", "0"}, {"connect.decimal.precision", "20"}};
      break;
    case Enc::kFloat32:
      s.type = "float";
      break;
    case Enc::kFloat64:
    case Enc::kDecimalDouble:
      s.type = "double";
      break;
    case Enc::kDecimalPrecise:
      s.type = "bytes";
      s.name = "org.apache.kafka.connect.data.Decimal";
      s.version = 1;
      s.params = {{"scale", std::to_string(c.scale)},
                  {"connect.decimal.precision", std::to_string(c.precision > 0 ? c.precision : 10)}};
      break;
    case Enc::kDecimalString:
      s.type = "string";
      break;
    case Enc::kString:
      s.type = "string";
      if (c.is_enum || c.is_set) {
        s.name = c.is_enum ? "io.debezium.data.Enum" : "io.debezium.data.EnumSet";
        s.version = 1;
        s.params = {{"allowed", Joined(c.enum_values)}};
      }
      break;
    case Enc::kJson:
      s.type = "string";
      s.name = "io.debezium.data.Json";
      s.version = 1;
      break;
    case Enc::kBytes:
      s.type = o.binary_handling == BinaryHandling::kBytes ? "bytes" : "string";
      break;
    case Enc::kDate:
      s.type = "int32";
      s.name = connect ? "org.apache.kafka.connect.data.Date" : "io.debezium.time.Date";
      s.version = 1;
      break;
    case Enc::kTimeMicros:
      s.type = "int64";
      s.name = "io.debezium.time.MicroTime";
      s.version = 1;
      break;
    case Enc::kTimeMillis:
      s.type = "int32";
      s.name = "org.apache.kafka.connect.data.Time";
      s.version = 1;
      break;
    case Enc::kDateTimeMillis:
      s.type = "int64";
      s.name = connect ? "org.apache.kafka.connect.data.Timestamp" : "io.debezium.time.Timestamp";
      s.version = 1;
      break;
    case Enc::kDateTimeMicros:
      s.type = "int64";
      s.name = "io.debezium.time.MicroTimestamp";
      s.version = 1;
      break;
    case Enc::kTimestamp:
      s.type = "string";
      s.name = "io.debezium.time.ZonedTimestamp";
      s.version = 1;
      break;
    case Enc::kBool:
      s.type = "boolean";
      break;
    case Enc::kBits:
      s.type = "bytes";
      s.name = "io.debezium.data.Bits";
      s.version = 1;
      s.params = {{"length", std::to_string(c.length > 0 ? c.length : std::max(ParenInt(ct), 1))}};
      break;
    case Enc::kGeometry:
      s.type = "struct";
      s.fields = R"([{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}])";
      s.name = "io.debezium.data.geometry.Geometry";
      s.version = 1;
      s.doc = "Geometry";
      break;
    case Enc::kPoint:
      s.type = "struct";
      s.fields = R"([{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},)"
                 R"({"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}])";
      s.name = "io.debezium.data.geometry.Point";
      s.version = 1;
      s.doc = "Geometry (POINT)";
      break;
    case Enc::kFloatVector:
      s.type = "array";
      s.items = R"({"type":"float","optional":false})";
      s.name = "io.debezium.data.FloatVector";
      s.version = 1;
      break;
  }
  return s;
}

/// One field of a Connect struct schema, in JsonConverter.asJsonSchema key order.
std::string FieldSchemaJson(const ColumnSchema& c, const ColumnPlan& cp, const DebeziumOptions& o) {
  const SchemaShape s = ShapeOf(c, cp, o);
  JsonWriter w;
  w.Raw("{\"type\":\"");
  w.Raw(s.type);
  w.Char('"');
  if (s.fields) {
    w.Raw(",\"fields\":");
    w.Raw(s.fields);
  }
  if (s.items) {
    w.Raw(",\"items\":");
    w.Raw(s.items);
  }
  w.Raw(cp.nullable ? ",\"optional\":true" : ",\"optional\":false");
  if (s.name) {
    w.Raw(",\"name\":\"");
    w.Raw(s.name);
    w.Char('"');
  }
  if (s.version) {
    w.Raw(",\"version\":");
    w.Int(s.version);
  }
  if (s.doc) {
    w.Raw(",\"doc\":");
    w.String(s.doc);
  }
  if (!s.params.empty()) {
    w.Raw(",\"parameters\":{");
    for (size_t i = 0; i < s.params.size(); ++i) {
      if (i) w.Char(',');
      w.String(s.params[i].first);
      w.Char(':');
      w.String(s.params[i].second);
    }
    w.Char('}');
  }
  const size_t mark = w.size();
  w.Raw(",\"default\":");
  if (!RenderDefault(c, cp, o, w)) w.Truncate(mark);
  w.Raw(",\"field\":");
  w.String(c.name);
  w.Char('}');
  return std::string(w.view());
}

/// The NOT NULL zero-date replacement: the column default if it has one, else the epoch.
std::string ZeroJson(const ColumnSchema& c, const ColumnPlan& cp, const DebeziumOptions& o) {
  JsonWriter w;
  if (RenderDefault(c, cp, o, w)) return std::string(w.view());
  switch (cp.enc) {
    case Enc::kTimestamp: return "\"1970-01-01T00:00:00Z\"";
    default: return "0";
  }
}

std::string SourceSchemaJson(const DebeziumOptions& o) {
  return R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},)"
         R"({"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},)"
         R"({"type":"int64","optional":false,"field":"ts_ms"},)"
         R"({"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":)"
         R"({"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},)"
         R"("default":"false","field":"snapshot"},{"type":"string","optional":false,"field":"db"},)"
         R"({"type":"string","optional":true,"field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},)"
         R"({"type":"int64","optional":true,"field":"ts_ns"},{"type":"string","optional":true,"field":"table"},)"
         R"({"type":"int64","optional":false,"field":"server_id"},{"type":"string","optional":true,"field":"gtid"},)"
         R"({"type":"string","optional":false,"field":"file"},{"type":"int64","optional":false,"field":"pos"},)"
         R"({"type":"int32","optional":false,"field":"row"},{"type":"int64","optional":true,"field":"thread"},)"
         R"({"type":"string","optional":true,"field":"query"}],"optional":false,"name":)" +
         Quoted("io.debezium.connector." + o.connector + ".Source") + R"(,"version":1,"field":"source"})";
}

constexpr std::string_view kTransactionSchemaJson =
    R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},)"
    R"({"type":"int64","optional":false,"field":"total_order"},)"
    R"({"type":"int64","optional":false,"field":"data_collection_order"}],)"
    R"("optional":true,"name":"event.block","version":1,"field":"transaction"})";

const char* SnapshotName(SourceInfo::Snapshot s) {
  switch (s) {
    case SourceInfo::Snapshot::kFalse: return "\"false\"";
    case SourceInfo::Snapshot::kTrue: return "\"true\"";
    case SourceInfo::Snapshot::kFirst: return "\"first\"";
    case SourceInfo::Snapshot::kLast: return "\"last\"";
    case SourceInfo::Snapshot::kIncremental: return "\"incremental\"";
    case SourceInfo::Snapshot::kFirstInDataCollection: return "\"first_in_data_collection\"";
    case SourceInfo::Snapshot::kLastInDataCollection: return "\"last_in_data_collection\"";
  }
  return "\"false\"";
}

bool CellsEqual(const ColumnVector& a, size_t i, const ColumnVector& b, size_t j) {
  if (a.IsNull(i) || b.IsNull(j)) return a.IsNull(i) == b.IsNull(j);
  if (IsVarKind(a.kind())) return a.GetBytes(i) == b.GetBytes(j);
  return a.GetInt(i) == b.GetInt(j);
}

// ---- Option parsing --------------------------------------------------------------------------

template <typename E>
E ParseEnum(const std::map<std::string, std::string>& props, const char* key, E def,
            std::initializer_list<std::pair<const char*, E>> allowed) {
  auto it = props.find(key);
  if (it == props.end() || Trim(it->second).empty()) return def;
  const std::string_view v = Trim(it->second);
  std::string names;
  for (const auto& [name, value] : allowed) {
    if (IEquals(v, name)) return value;
    if (!names.empty()) names += ", ";
    names += name;
  }
  Throw(ErrorKind::kConfig, "invalid value '{}' for {}: allowed values are {}", it->second, key, names);
}

bool ParseBool(const std::map<std::string, std::string>& props, const char* key, bool def) {
  auto it = props.find(key);
  if (it == props.end() || Trim(it->second).empty()) return def;
  const std::string_view v = Trim(it->second);
  if (IEquals(v, "true")) return true;
  if (IEquals(v, "false")) return false;
  Throw(ErrorKind::kConfig, "invalid value '{}' for {}: allowed values are true, false", it->second, key);
}

}  // namespace

// ---- Public functions ------------------------------------------------------------------------

std::string DefaultDebeziumSourceVersion() {
  return std::string(kDebeziumCompatVersion) + ".Sluice-" + std::string(kSluiceVersion);
}

DebeziumOptions ParseDebeziumOptions(const std::map<std::string, std::string>& props) {
  DebeziumOptions o;
  auto prefix = props.find("topic.prefix");
  if (prefix == props.end() || Trim(prefix->second).empty()) {
    Throw(ErrorKind::kConfig,
          "topic.prefix is required: set it to the logical name of this source (topics are "
          "named <topic.prefix>.<db>.<table>)");
  }
  o.topic_prefix = std::string(Trim(prefix->second));
  o.connector_name = o.topic_prefix;
  o.decimal_handling = ParseEnum(props, "decimal.handling.mode", DecimalHandling::kPrecise,
                                 {{"precise", DecimalHandling::kPrecise},
                                  {"double", DecimalHandling::kDouble},
                                  {"string", DecimalHandling::kString}});
  o.time_precision = ParseEnum(props, "time.precision.mode", TimePrecision::kAdaptiveTimeMicroseconds,
                               {{"adaptive_time_microseconds", TimePrecision::kAdaptiveTimeMicroseconds},
                                {"connect", TimePrecision::kConnect}});
  o.bigint_unsigned = ParseEnum(props, "bigint.unsigned.handling.mode", BigIntUnsignedHandling::kLong,
                                {{"long", BigIntUnsignedHandling::kLong},
                                 {"precise", BigIntUnsignedHandling::kPrecise}});
  o.binary_handling = ParseEnum(props, "binary.handling.mode", BinaryHandling::kBytes,
                                {{"bytes", BinaryHandling::kBytes},
                                 {"base64", BinaryHandling::kBase64},
                                 {"base64-url-safe", BinaryHandling::kBase64UrlSafe},
                                 {"hex", BinaryHandling::kHex}});
  o.tombstones_on_delete = ParseBool(props, "tombstones.on.delete", true);
  o.schemas_enable = ParseBool(props, "schemas.enable", false);
  o.include_query = ParseBool(props, "include.query", false);
  o.enable_time_adjuster = ParseBool(props, "enable.time.adjuster", true);
  o.provide_transaction_metadata = ParseBool(props, "provide.transaction.metadata", false);
  if (auto it = props.find("topic.transaction"); it != props.end() && !it->second.empty()) {
    o.transaction_topic = it->second;
  }
  return o;
}

void AppendJsonLine(const DebeziumRecord& r, std::string* out) {
  out->append("{\"topic\":");
  // Topics from the encoder are [A-Za-z0-9._-] only; escape anything else without allocating.
  if (std::all_of(r.topic.begin(), r.topic.end(), [](char c) { return json::internal::kSafe.v[static_cast<unsigned char>(c)]; })) {
    out->push_back('"');
    out->append(r.topic);
    out->push_back('"');
  } else {
    thread_local JsonWriter w;
    w.Clear();
    w.String(r.topic);
    out->append(w.view());
  }
  out->append(",\"key\":");
  if (r.key_is_null) {
    out->append("null");
  } else {
    out->append(r.key);
  }
  out->append(",\"value\":");
  if (r.value_is_null) {
    out->append("null");
  } else {
    out->append(r.value);
  }
  out->append("}\n");
}

namespace debezium_internal {

std::string DecimalUnscaledBytes(std::string_view text) {
  uint8_t out[48];
  const size_t n = DecimalToBytes(text, out);
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string JavaBigDecimalString(std::string_view text) {
  JsonWriter w;
  WriteJavaBigDecimal(w, text);
  std::string_view v = w.view();
  return std::string(v.substr(1, v.size() - 2));
}



}  // namespace debezium_internal

// ---- Encoder ---------------------------------------------------------------------------------

DebeziumEncoder::DebeziumEncoder(DebeziumOptions options) : options_(std::move(options)) {
  if (options_.connector_name.empty()) options_.connector_name = options_.topic_prefix;
  source_schema_json_ = SourceSchemaJson(options_);
  transaction_schema_json_ = std::string(kTransactionSchemaJson);
  txn_topic_ = SanitizeTopic(options_.topic_prefix + "." + options_.transaction_topic);
  // {"version":"...","connector":"mysql","name":"...","ts_ms":
  source_head_ = "{\"version\":" + Quoted(options_.version) + ",\"connector\":" + Quoted(options_.connector) +
                 ",\"name\":" + Quoted(options_.connector_name) + ",\"ts_ms\":";
}

DebeziumEncoder::~DebeziumEncoder() = default;

std::string DebeziumTransactionId(const SourceInfo& source) {
  if (!source.gtid.empty()) return source.gtid;
  return source.file + ":" + std::to_string(source.pos);
}

void DebeziumEncoder::BeginTransaction(std::string id) {
  txn_open_ = true;
  txn_id_ = std::move(id);
  txn_total_ = 0;
  txn_collections_.clear();
}

DebeziumRecord DebeziumEncoder::TransactionRecord(bool begin, int64_t ts_ms) {
  // Debezium's io.debezium.connector.common.TransactionMetadataKey / ...Value.
  static constexpr std::string_view kKeySchema =
      R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,)"
      R"("name":"io.debezium.connector.common.TransactionMetadataKey"})";
  static constexpr std::string_view kValueSchema =
      R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},)"
      R"({"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},)"
      R"({"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,)"
      R"("field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],"optional":false},)"
      R"("optional":true,"field":"data_collections"},{"type":"int64","optional":false,"field":"ts_ms"}],)"
      R"("optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1})";
  JsonWriter& w = txn_writer_;
  w.Clear();
  const bool schemas = options_.schemas_enable;
  if (schemas) {
    w.Raw("{\"schema\":");
    w.Raw(kKeySchema);
    w.Raw(",\"payload\":");
  }
  w.Raw("{\"id\":");
  w.String(txn_id_);
  w.Char('}');
  if (schemas) w.Char('}');
  const size_t key_end = w.size();
  if (schemas) {
    w.Raw("{\"schema\":");
    w.Raw(kValueSchema);
    w.Raw(",\"payload\":");
  }
  w.Raw(begin ? "{\"status\":\"BEGIN\",\"id\":" : "{\"status\":\"END\",\"id\":");
  w.String(txn_id_);
  if (begin) {
    w.Raw(",\"event_count\":null,\"data_collections\":null");
  } else {
    w.Raw(",\"event_count\":");
    w.Int(txn_total_);
    w.Raw(",\"data_collections\":[");
    for (size_t i = 0; i < txn_collections_.size(); ++i) {
      if (i) w.Char(',');
      w.Raw("{\"data_collection\":");
      w.String(txn_collections_[i].first);
      w.Raw(",\"event_count\":");
      w.Int(txn_collections_[i].second);
      w.Char('}');
    }
    w.Char(']');
    txn_open_ = false;
  }
  w.Raw(",\"ts_ms\":");
  w.Int(ts_ms);
  w.Char('}');
  if (schemas) w.Char('}');
  DebeziumRecord r;
  r.topic = txn_topic_;
  r.key = w.view(0, key_end);
  r.value = w.view(key_end, w.size());
  return r;
}

void DebeziumEncoder::Clear() {
  plans_.clear();
  source_cache_plan_ = nullptr;
  last_schema_ = nullptr;
  last_plan_ = nullptr;
}

const DebeziumEncoder::TablePlan& DebeziumEncoder::PlanFor(const TableSchemaPtr& schema) {
  SLUICE_CHECK(schema != nullptr, "ChangeChunk without a schema");
  if (schema.get() == last_schema_) return *last_plan_;
  auto it = plans_.find(schema.get());
  if (it == plans_.end()) {
    if (plans_.size() >= 4096) Clear();  // bound memory across many DDLs; plans rebuild on demand
    auto plan = std::make_unique<TablePlan>();
    const TableSchema& t = *schema;
    plan->schema = schema;
    // A view's output (no database) goes to <topic.prefix>.<view> (issue 6).
    plan->topic = SanitizeTopic(t.database.empty() ? options_.topic_prefix + "." + t.table
                                                   : options_.topic_prefix + "." + t.database + "." + t.table);
    plan->topic_json = Quoted(plan->topic);
    plan->data_collection = t.database.empty() ? t.table : t.database + "." + t.table;
    plan->cols.reserve(t.columns.size());
    for (const ColumnSchema& c : t.columns) {
      ColumnPlan cp = Classify(c, options_);
      if (!cp.nullable && (c.kind == ValueKind::kDate || c.kind == ValueKind::kDateTime ||
                           c.kind == ValueKind::kTimestamp)) {
        cp.zero_json = ZeroJson(c, cp, options_);
      }
      cp.schema_json = FieldSchemaJson(c, cp, options_);
      plan->cols.push_back(std::move(cp));
    }
    plan->key_cols = t.primary_key;
    for (int k : plan->key_cols) {
      SLUICE_CHECK(k >= 0 && static_cast<size_t>(k) < t.columns.size(), "primary key index out of range");
    }
    plan->db_piece = ",\"db\":" + Quoted(t.database) + ",\"sequence\":null,\"ts_us\":";
    plan->table_piece = ",\"table\":" + Quoted(t.table) + ",\"server_id\":";

    // Connect schemas (JsonConverter with schemas.enable).
    std::string row_fields;
    for (size_t i = 0; i < plan->cols.size(); ++i) {
      if (i) row_fields += ',';
      row_fields += plan->cols[i].schema_json;
    }
    const std::string value_name = Quoted(plan->topic + ".Value");
    auto row_struct = [&](const char* field) {
      return "{\"type\":\"struct\",\"fields\":[" + row_fields + "],\"optional\":true,\"name\":" + value_name +
             ",\"field\":\"" + field + "\"}";
    };
    plan->value_schema_json = "{\"type\":\"struct\",\"fields\":[" + row_struct("before") + "," + row_struct("after") +
                              "," + source_schema_json_ + "," + transaction_schema_json_ +
                              R"(,{"type":"string","optional":false,"field":"op"},)"
                              R"({"type":"int64","optional":true,"field":"ts_ms"},)"
                              R"({"type":"int64","optional":true,"field":"ts_us"},)"
                              R"({"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":)" +
                              Quoted(plan->topic + ".Envelope") + ",\"version\":2}";
    if (!plan->key_cols.empty()) {
      std::string key_fields;
      for (size_t i = 0; i < plan->key_cols.size(); ++i) {
        if (i) key_fields += ',';
        key_fields += plan->cols[static_cast<size_t>(plan->key_cols[i])].schema_json;
      }
      plan->key_schema_json = "{\"type\":\"struct\",\"fields\":[" + key_fields + "],\"optional\":false,\"name\":" +
                              Quoted(plan->topic + ".Key") + "}";
      plan->key_open = "{\"schema\":" + plan->key_schema_json + ",\"payload\":";
    }
    plan->value_open = "{\"schema\":" + plan->value_schema_json + ",\"payload\":";
    it = plans_.emplace(schema.get(), std::move(plan)).first;
  }
  last_schema_ = schema.get();
  last_plan_ = it->second.get();
  return *last_plan_;
}

std::string_view DebeziumEncoder::Topic(const TableSchemaPtr& schema) { return PlanFor(schema).topic; }
std::string_view DebeziumEncoder::KeySchemaJson(const TableSchemaPtr& schema) {
  return PlanFor(schema).key_schema_json;
}
std::string_view DebeziumEncoder::ValueSchemaJson(const TableSchemaPtr& schema) {
  return PlanFor(schema).value_schema_json;
}

void DebeziumEncoder::WriteRow(const TablePlan& plan, const ChangeChunk& chunk, size_t row) {
  writer_.Char('{');
  for (size_t c = 0; c < plan.cols.size(); ++c) {
    const ColumnPlan& cp = plan.cols[c];
    writer_.Raw(c ? cp.sep_prefix : cp.field_prefix);
    WriteCell(writer_, cp, options_, chunk.column(c), row);
  }
  writer_.Char('}');
}

void DebeziumEncoder::WriteKey(const TablePlan& plan, const ChangeChunk& chunk, size_t row) {
  writer_.Char('{');
  for (size_t i = 0; i < plan.key_cols.size(); ++i) {
    const auto c = static_cast<size_t>(plan.key_cols[i]);
    if (i) writer_.Char(',');
    writer_.Raw(plan.cols[c].field_prefix);
    WriteCell(writer_, plan.cols[c], options_, chunk.column(c), row);
  }
  writer_.Char('}');
}

void DebeziumEncoder::WriteSource(const TablePlan& plan, const SourceInfo& s, uint32_t row_in_event) {
  JsonWriter& w = writer_;
  const SourceInfo& k = source_cache_key_;
  if (source_cache_plan_ == &plan && k.ts_ms == s.ts_ms && k.pos == s.pos && k.server_id == s.server_id &&
      k.snapshot == s.snapshot && k.file == s.file && k.gtid == s.gtid) {
    w.Raw(source_cache_);
  } else {
    const size_t begin = w.size();
    WriteSourceHead(plan, s);
    source_cache_.assign(w.view(begin, w.size()));
    source_cache_plan_ = &plan;
    source_cache_key_.ts_ms = s.ts_ms;
    source_cache_key_.pos = s.pos;
    source_cache_key_.server_id = s.server_id;
    source_cache_key_.snapshot = s.snapshot;
    source_cache_key_.file = s.file;
    source_cache_key_.gtid = s.gtid;
  }
  w.UInt(row_in_event);
  w.Raw(",\"thread\":");
  // The snapshot reader has no binlog thread id (Debezium writes null there).
  if (s.snapshot != SourceInfo::Snapshot::kFalse || s.thread == 0) {
    w.Null();
  } else {
    w.UInt(s.thread);
  }
  w.Raw(",\"query\":");
  if (options_.include_query && !s.query.empty()) {
    w.String(s.query);
  } else {
    w.Null();
  }
  w.Char('}');
}

void DebeziumEncoder::WriteSourceHead(const TablePlan& plan, const SourceInfo& s) {
  JsonWriter& w = writer_;
  w.Raw(source_head_);
  w.Int(s.ts_ms);
  w.Raw(",\"snapshot\":");
  w.Raw(SnapshotName(s.snapshot));
  w.Raw(plan.db_piece);
  w.Int(s.ts_ms * 1000);
  w.Raw(",\"ts_ns\":");
  w.Int(s.ts_ms * 1000000);
  w.Raw(plan.table_piece);
  w.UInt(s.server_id);
  w.Raw(",\"gtid\":");
  if (s.gtid.empty()) {
    w.Null();
  } else {
    w.String(s.gtid);
  }
  w.Raw(",\"file\":");
  w.String(s.file);
  w.Raw(",\"pos\":");
  w.UInt(s.pos);
  w.Raw(",\"row\":");
}

void DebeziumEncoder::WriteEnvelope(const TablePlan& plan, const ChangeChunk& chunk, char op, long before_row,
                                    long after_row, size_t source_row, int64_t now_ns) {
  JsonWriter& w = writer_;
  w.Raw("{\"before\":");
  if (before_row < 0) {
    w.Null();
  } else {
    WriteRow(plan, chunk, static_cast<size_t>(before_row));
  }
  w.Raw(",\"after\":");
  if (after_row < 0) {
    w.Null();
  } else {
    WriteRow(plan, chunk, static_cast<size_t>(after_row));
  }
  w.Raw(",\"source\":");
  WriteSource(plan, chunk.source(source_row), chunk.row_in_event(source_row));
  if (txn_open_ && chunk.source(source_row).snapshot == SourceInfo::Snapshot::kFalse) {
    const std::string& name = plan.data_collection;
    auto it = std::find_if(txn_collections_.begin(), txn_collections_.end(),
                           [&](const auto& kv) { return kv.first == name; });
    if (it == txn_collections_.end()) it = txn_collections_.insert(txn_collections_.end(), {name, 0});
    ++it->second;
    ++txn_total_;
    w.Raw(",\"transaction\":{\"id\":");
    w.String(txn_id_);
    w.Raw(",\"total_order\":");
    w.Int(txn_total_);
    w.Raw(",\"data_collection_order\":");
    w.Int(it->second);
    w.Raw("},\"op\":\"");
  } else {
    w.Raw(",\"transaction\":null,\"op\":\"");
  }
  w.Char(op);
  if (now_ns >= 1000000) {
    // ts_ms and ts_us are the leading digits of ts_ns: format it once.
    char ns[20] = {};
    const size_t n = json::internal::FormatUInt(static_cast<uint64_t>(now_ns), ns);
    // Each number is copied as 20 bytes (room: 2n + 39 <= 3n + 40) and the excess overwritten.
    char* p = w.Ensure(3 * n + 40);
    char* const start = p;
    std::memcpy(p, "\",\"ts_ms\":", 10);
    p += 10;
    std::memcpy(p, ns, 20);
    p += n - 6;
    std::memcpy(p, ",\"ts_us\":", 9);
    p += 9;
    std::memcpy(p, ns, 20);
    p += n - 3;
    std::memcpy(p, ",\"ts_ns\":", 9);
    p += 9;
    std::memcpy(p, ns, 20);
    p += n;
    *p++ = '}';
    w.Advance(static_cast<size_t>(p - start));
    return;
  }
  w.Raw("\",");
  WriteTimestamps(w, now_ns);
  w.Char('}');
}

void DebeziumEncoder::AddValueRecord(const TablePlan& plan, const ChangeChunk& chunk, size_t key_row, char op,
                                     long before_row, long after_row, size_t source_row, int64_t now_ns,
                                     const char* header_name, size_t header_row) {
  Pending& p = pending_[num_pending_++];
  p = Pending{};
  const bool has_key = !plan.key_cols.empty();
  p.key_is_null = !has_key;
  if (has_key) {
    p.key_begin = writer_.size();
    if (options_.schemas_enable) writer_.Raw(plan.key_open);
    WriteKey(plan, chunk, key_row);
    if (options_.schemas_enable) writer_.Char('}');
    p.key_end = writer_.size();
  }
  if (header_name != nullptr && has_key) {
    p.header_name = header_name;
    p.header_begin = writer_.size();
    WriteKey(plan, chunk, header_row);
    p.header_end = writer_.size();
  }
  p.value_begin = writer_.size();
  if (options_.schemas_enable) writer_.Raw(plan.value_open);
  WriteEnvelope(plan, chunk, op, before_row, after_row, source_row, now_ns);
  if (options_.schemas_enable) writer_.Char('}');
  p.value_end = writer_.size();
}

void DebeziumEncoder::AddTombstone(const Pending& of) {
  Pending& p = pending_[num_pending_++];
  p = Pending{};
  p.key_is_null = of.key_is_null;
  p.key_begin = of.key_begin;
  p.key_end = of.key_end;
  p.value_is_null = true;
}

void DebeziumEncoder::Finish(const TablePlan& plan) {
  for (size_t i = 0; i < num_pending_; ++i) {
    const Pending& p = pending_[i];
    DebeziumRecord& r = records_[i];
    r = DebeziumRecord{};
    r.topic = plan.topic;
    r.key_is_null = p.key_is_null;
    if (!p.key_is_null) r.key = writer_.view(p.key_begin, p.key_end);
    r.value_is_null = p.value_is_null;
    if (!p.value_is_null) r.value = writer_.view(p.value_begin, p.value_end);
    if (p.header_name != nullptr) {
      r.header_name = p.header_name;
      r.header_value = writer_.view(p.header_begin, p.header_end);
    }
    r.upsert = p.upsert;
    r.version = p.version;
    r.has_before = p.has_before;
    if (p.has_before) r.before = writer_.view(p.before_begin, p.before_end);
  }
  num_records_ = num_pending_;
}

void DebeziumEncoder::AddUpsertRecord(const TablePlan& plan, const ChangeChunk& chunk, size_t key_row,
                                      long after_row, long before_row) {
  Pending& p = pending_[num_pending_++];
  p = Pending{};
  p.upsert = true;
  p.version = chunk.version(key_row);
  p.key_is_null = plan.key_cols.empty();
  if (!p.key_is_null) {
    p.key_begin = writer_.size();
    WriteKey(plan, chunk, key_row);
    p.key_end = writer_.size();
  }
  p.value_is_null = after_row < 0;
  if (after_row >= 0) {
    p.value_begin = writer_.size();
    WriteRow(plan, chunk, static_cast<size_t>(after_row));
    p.value_end = writer_.size();
  }
  p.has_before = before_row >= 0;
  if (before_row >= 0) {
    p.before_begin = writer_.size();
    WriteRow(plan, chunk, static_cast<size_t>(before_row));
    p.before_end = writer_.size();
  }
}

const DebeziumEncoder::TablePlan& DebeziumEncoder::StartChange(const ChangeChunk& chunk, size_t row) {
  SLUICE_CHECK(row < chunk.size(), "encoding past the end of the chunk");
  const TablePlan& plan = PlanFor(chunk.schema());
  SLUICE_CHECK(chunk.num_columns() == plan.cols.size(), "chunk columns do not match its schema");
  writer_.Clear();
  num_records_ = 0;
  num_pending_ = 0;
  return plan;
}

size_t DebeziumEncoder::EncodeUpsert(const ChangeChunk& chunk, size_t row) {
  const TablePlan& plan = StartChange(chunk, row);
  const auto r = static_cast<long>(row);
  size_t consumed = 1;
  switch (chunk.op(row)) {
    case RowOp::kInsert:
      AddUpsertRecord(plan, chunk, row, r, -1);
      break;
    case RowOp::kDelete:
      AddUpsertRecord(plan, chunk, row, -1, r);
      break;
    case RowOp::kUpdateBefore: {
      SLUICE_CHECK(row + 1 < chunk.size() && chunk.op(row + 1) == RowOp::kUpdateAfter,
                   "kUpdateBefore row not followed by its kUpdateAfter row");
      const auto after = static_cast<long>(row + 1);
      consumed = 2;
      if (!plan.key_cols.empty() && KeyChanged(plan, chunk, row, row + 1)) {
        AddUpsertRecord(plan, chunk, row, -1, r);
        AddUpsertRecord(plan, chunk, row + 1, after, -1);
      } else {
        AddUpsertRecord(plan, chunk, row + 1, after, r);
      }
      break;
    }
    case RowOp::kUpdateAfter:
      SLUICE_CHECK(false, "kUpdateAfter row without a preceding kUpdateBefore row");
  }
  Finish(plan);
  return consumed;
}

bool DebeziumEncoder::KeyChanged(const TablePlan& plan, const ChangeChunk& chunk, size_t a, size_t b) const {
  for (int k : plan.key_cols) {
    const ColumnVector& col = chunk.column(static_cast<size_t>(k));
    if (!CellsEqual(col, a, col, b)) return true;
  }
  return false;
}

DebeziumRecord DebeziumEncoder::EncodeTruncate(const TableSchemaPtr& schema, const SourceInfo& at) {
  const TablePlan& plan = PlanFor(schema);
  writer_.Clear();
  num_records_ = 0;
  num_pending_ = 0;
  JsonWriter& w = writer_;
  if (options_.schemas_enable) {
    w.Raw("{\"schema\":");
    w.Raw(plan.value_schema_json);
    w.Raw(",\"payload\":");
  }
  w.Raw("{\"before\":null,\"after\":null,\"source\":");
  WriteSource(plan, at, 0);
  const int64_t now_ns = fixed_now_ns_ != 0 ? fixed_now_ns_ : NowNs();
  w.Raw(",\"transaction\":null,\"op\":\"t\",");
  WriteTimestamps(w, now_ns);
  w.Char('}');
  if (options_.schemas_enable) w.Char('}');
  DebeziumRecord r;
  r.topic = plan.topic;
  r.key_is_null = true;
  r.value = w.view(0, w.size());
  return r;
}

size_t DebeziumEncoder::Encode(const ChangeChunk& chunk, size_t row) {
  const TablePlan& plan = StartChange(chunk, row);
  const int64_t now_ns = fixed_now_ns_ != 0 ? fixed_now_ns_ : NowNs();
  const auto r = static_cast<long>(row);
  size_t consumed = 1;
  switch (chunk.op(row)) {
    case RowOp::kInsert: {
      const char op = chunk.source(row).snapshot == SourceInfo::Snapshot::kFalse ? 'c' : 'r';
      AddValueRecord(plan, chunk, row, op, -1, r, row, now_ns, nullptr, 0);
      break;
    }
    case RowOp::kDelete:
      AddValueRecord(plan, chunk, row, 'd', r, -1, row, now_ns, nullptr, 0);
      if (options_.tombstones_on_delete) AddTombstone(pending_[0]);
      break;
    case RowOp::kUpdateBefore: {
      SLUICE_CHECK(row + 1 < chunk.size() && chunk.op(row + 1) == RowOp::kUpdateAfter,
                   "kUpdateBefore row not followed by its kUpdateAfter row");
      const size_t after = row + 1;
      consumed = 2;
      if (!plan.key_cols.empty() && KeyChanged(plan, chunk, row, after)) {
        // Debezium's primary-key update: delete (old key) [+ tombstone] + create (new key).
        AddValueRecord(plan, chunk, row, 'd', r, -1, after, now_ns, "__debezium.newkey", after);
        if (options_.tombstones_on_delete) AddTombstone(pending_[0]);
        AddValueRecord(plan, chunk, after, 'c', -1, static_cast<long>(after), after, now_ns, "__debezium.oldkey",
                       row);
      } else {
        AddValueRecord(plan, chunk, after, 'u', r, static_cast<long>(after), after, now_ns, nullptr, 0);
      }
      break;
    }
    case RowOp::kUpdateAfter:
      SLUICE_CHECK(false, "kUpdateAfter row without a preceding kUpdateBefore row");
  }
  Finish(plan);
  return consumed;
}

}  // namespace sluice
