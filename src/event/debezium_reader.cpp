#include "event/debezium_reader.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include <simdjson.h>

#include "common/error.h"
#include "event/civil_time.h"
#include "event/json_writer.h"

namespace sluice {

namespace dom = simdjson::dom;

namespace {

constexpr uint8_t kMyTiny = 1, kMyShort = 2, kMyLong = 3, kMyLongLong = 8, kMyInt24 = 9, kMyYear = 13;

// ---- small codecs ------------------------------------------------------------------------------

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/// Decodes standard or URL-safe base64 (padding optional). Returns false on a bad character.
bool DecodeBase64(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    if (c == '=') break;
    const int v = Base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

bool DecodeHex(std::string_view in, std::string* out) {
  if (in.size() % 2) return false;
  out->clear();
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); i += 2) {
    const int a = nib(in[i]), b = nib(in[i + 1]);
    if (a < 0 || b < 0) return false;
    out->push_back(static_cast<char>(a * 16 + b));
  }
  return true;
}

/// Big-endian two's-complement bytes (java.math.BigInteger.toByteArray) of an unscaled value ->
/// canonical decimal text with `scale` fraction digits ("-12.50", "0.00"; no negative zero).
bool UnscaledBytesToDecimal(std::string_view bytes, int scale, std::string* out) {
  if (bytes.empty() || bytes.size() > 64) return false;
  std::vector<uint8_t> mag(bytes.begin(), bytes.end());
  const bool negative = (mag[0] & 0x80) != 0;
  if (negative) {  // two's complement -> magnitude
    for (auto& b : mag) b = static_cast<uint8_t>(~b);
    for (size_t i = mag.size(); i-- > 0;) {
      if (++mag[i] != 0) break;
    }
  }
  // Repeated division by 10^9 of the big-endian magnitude.
  std::vector<uint32_t> groups;  // little-endian base 10^9
  while (true) {
    bool zero = true;
    uint64_t rem = 0;
    for (auto& b : mag) {
      const uint64_t cur = (rem << 8) | b;
      b = static_cast<uint8_t>(cur / 1000000000u);
      rem = cur % 1000000000u;
      if (b) zero = false;
    }
    groups.push_back(static_cast<uint32_t>(rem));
    if (zero) break;
  }
  std::string digits = std::to_string(groups.back());
  for (size_t i = groups.size() - 1; i-- > 0;) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%09u", groups[i]);
    digits += buf;
  }
  const bool is_zero = digits.find_first_not_of('0') == std::string::npos;
  if (static_cast<int>(digits.size()) <= scale) digits.insert(0, static_cast<size_t>(scale) + 1 - digits.size(), '0');
  out->clear();
  if (negative && !is_zero) out->push_back('-');
  const size_t int_len = digits.size() - static_cast<size_t>(scale);
  out->append(digits, 0, int_len);
  if (scale > 0) {
    out->push_back('.');
    out->append(digits, int_len, std::string::npos);
  }
  return true;
}

/// Canonical decimal text of a number/string with `scale` digits (used for decimal.handling.mode
/// string and double, which carry the digits as text or a double).
bool NormalizeDecimalText(std::string_view in, int scale, std::string* out) {
  bool neg = false;
  size_t i = 0;
  if (i < in.size() && (in[i] == '-' || in[i] == '+')) neg = in[i++] == '-';
  std::string ip, fp;
  while (i < in.size() && std::isdigit(static_cast<unsigned char>(in[i]))) ip += in[i++];
  if (i < in.size() && in[i] == '.') {
    ++i;
    while (i < in.size() && std::isdigit(static_cast<unsigned char>(in[i]))) fp += in[i++];
  }
  if (i != in.size() || (ip.empty() && fp.empty())) return false;
  const size_t b = ip.find_first_not_of('0');
  ip = b == std::string::npos ? "0" : ip.substr(b);
  if (static_cast<int>(fp.size()) > scale) {
    if (fp.find_first_not_of('0', static_cast<size_t>(scale)) != std::string::npos) return false;
    fp.resize(static_cast<size_t>(scale));
  }
  fp.resize(static_cast<size_t>(scale), '0');
  const bool zero = ip == "0" && fp.find_first_not_of('0') == std::string::npos;
  out->clear();
  if (neg && !zero) out->push_back('-');
  *out += ip;
  if (scale > 0) *out += "." + fp;
  return true;
}

/// Parses io.debezium.time.ZonedTimestamp text ("2024-01-02T03:04:05.12Z", offsets allowed) to
/// microseconds since the epoch.
bool ParseZonedTimestamp(std::string_view s, int64_t* us) {
  size_t i = 0;
  auto num = [&](size_t n, int64_t* v) {
    if (i + n > s.size()) return false;
    int64_t x = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = s[i + k];
      if (c < '0' || c > '9') return false;
      x = x * 10 + (c - '0');
    }
    i += n;
    *v = x;
    return true;
  };
  bool neg_year = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg_year = s[i++] == '-';
  size_t ylen = 0;
  while (i + ylen < s.size() && std::isdigit(static_cast<unsigned char>(s[i + ylen]))) ++ylen;
  int64_t y, mo, d, h, mi, sec = 0;
  if (ylen < 4 || !num(ylen, &y)) return false;
  if (neg_year) y = -y;
  if (i >= s.size() || s[i++] != '-' || !num(2, &mo) || i >= s.size() || s[i++] != '-' || !num(2, &d)) return false;
  if (i >= s.size() || (s[i] != 'T' && s[i] != ' ')) return false;
  ++i;
  if (!num(2, &h) || i >= s.size() || s[i++] != ':' || !num(2, &mi)) return false;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!num(2, &sec)) return false;
  }
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
  int64_t offset_s = 0;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const bool neg = s[i++] == '-';
    int64_t oh, om = 0;
    if (!num(2, &oh)) return false;
    if (i < s.size() && s[i] == ':') ++i;
    if (i < s.size()) num(2, &om);
    offset_s = (oh * 60 + om) * 60 * (neg ? -1 : 1);
  }
  if (i != s.size() || mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  *us = ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_s) * 1000000 + frac;
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

int ParenInt(std::string_view ct) {
  const size_t a = ct.find('(');
  if (a == std::string_view::npos) return -1;
  int v = 0;
  auto r = std::from_chars(ct.data() + a + 1, ct.data() + ct.size(), v);
  return r.ec == std::errc() ? v : -1;
}

// ---- column plans ------------------------------------------------------------------------------

/// How one column's JSON value is read.
enum class Dec : uint8_t {
  kInt, kUIntWrap, kUIntDecimal, kFloat32, kFloat64, kDecimalBytes, kDecimalText, kString, kJsonText,
  kBytesBase64, kBytesHex, kDate, kTimeMicros, kTimeMillis, kTimeNanos, kDateTimeMillis, kDateTimeMicros,
  kDateTimeNanos, kTimestampText, kBool, kBits, kGeometry, kAnyText,
};

struct ColPlan {
  Dec dec = Dec::kString;
  int scale = 0;
};

std::vector<ColPlan> PlanFromHeaderSchema(const TableSchema& t, const DebeziumOptions& o) {
  std::vector<ColPlan> plans;
  const bool connect = o.time_precision == TimePrecision::kConnect;
  for (const auto& c : t.columns) {
    ColPlan p;
    const std::string ct = Lower(c.column_type);
    int fsp = c.fsp;
    if (fsp == 0 && ParenInt(ct) > 0 && (StartsWith(ct, "datetime") || StartsWith(ct, "timestamp") || StartsWith(ct, "time"))) {
      fsp = ParenInt(ct);
    }
    switch (c.kind) {
      case ValueKind::kInt: p.dec = Dec::kInt; break;
      case ValueKind::kUInt: {
        const bool bigint = c.mysql_type == kMyLongLong || StartsWith(ct, "bigint") || (c.mysql_type == 0 && ct.empty());
        p.dec = !bigint ? Dec::kInt : o.bigint_unsigned == BigIntUnsignedHandling::kLong ? Dec::kUIntWrap : Dec::kUIntDecimal;
        break;
      }
      case ValueKind::kFloat: p.dec = Dec::kFloat32; break;
      case ValueKind::kDouble: p.dec = Dec::kFloat64; break;
      case ValueKind::kDecimal:
        p.dec = o.decimal_handling == DecimalHandling::kPrecise ? Dec::kDecimalBytes : Dec::kDecimalText;
        p.scale = c.scale;
        break;
      case ValueKind::kString: p.dec = Dec::kString; break;
      case ValueKind::kJson: p.dec = Dec::kString; break;
      case ValueKind::kBytes:
        p.dec = o.binary_handling == BinaryHandling::kHex ? Dec::kBytesHex : Dec::kBytesBase64;
        break;
      case ValueKind::kDate: p.dec = Dec::kDate; break;
      case ValueKind::kTime: p.dec = connect ? Dec::kTimeMillis : Dec::kTimeMicros; break;
      case ValueKind::kDateTime: p.dec = connect || fsp <= 3 ? Dec::kDateTimeMillis : Dec::kDateTimeMicros; break;
      case ValueKind::kTimestamp: p.dec = Dec::kTimestampText; break;
      case ValueKind::kBit: {
        int bits = c.length > 0 ? c.length : ParenInt(ct);
        p.dec = bits <= 1 ? Dec::kBool : Dec::kBits;
        break;
      }
      case ValueKind::kGeometry: p.dec = Dec::kGeometry; break;
    }
    plans.push_back(p);
  }
  return plans;
}

/// A column and how to read it, from a Kafka Connect field schema (schemas.enable=true).
std::pair<ColumnSchema, ColPlan> ColumnFromConnect(dom::object field) {
  ColumnSchema c;
  ColPlan p;
  std::string_view name, type, logical;
  if (field["field"].get(name)) Throw(ErrorKind::kData, "a Connect schema field has no \"field\" name");
  c.name = std::string(name);
  if (field["type"].get(type)) {}
  if (field["name"].get(logical)) {}
  bool optional = true;
  if (field["optional"].get(optional)) {}
  c.nullable = optional;
  dom::object params;
  const bool has_params = !field["parameters"].get(params);
  auto param = [&](const char* k) -> std::string {
    std::string_view v;
    if (has_params && !params[k].get(v)) return std::string(v);
    return "";
  };
  auto set = [&](ValueKind k, Dec d, const char* ct, uint8_t my = 0) {
    c.kind = k;
    p.dec = d;
    c.column_type = ct;
    c.mysql_type = my;
  };
  if (logical == "org.apache.kafka.connect.data.Decimal") {
    c.scale = std::atoi(param("scale").c_str());
    const std::string prec = param("connect.decimal.precision");
    c.precision = prec.empty() ? 65 : std::atoi(prec.c_str());
    if (c.scale < 0 || c.scale > 65 || c.precision < 1 || c.precision > 65) {
      Throw(ErrorKind::kData,
            "field \"{}\": Connect Decimal with scale {} and precision {} is out of MySQL's range "
            "(precision 1..65, scale 0..65)",
            c.name, c.scale, c.precision);
    }
    set(ValueKind::kDecimal, Dec::kDecimalBytes, "decimal");
    c.column_type = "decimal(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")";
    p.scale = c.scale;
  } else if (logical == "io.debezium.time.Date" || logical == "org.apache.kafka.connect.data.Date") {
    set(ValueKind::kDate, Dec::kDate, "date");
  } else if (logical == "io.debezium.time.Timestamp" || logical == "org.apache.kafka.connect.data.Timestamp") {
    set(ValueKind::kDateTime, Dec::kDateTimeMillis, "datetime(3)");
    c.fsp = 3;
  } else if (logical == "io.debezium.time.MicroTimestamp") {
    set(ValueKind::kDateTime, Dec::kDateTimeMicros, "datetime(6)");
    c.fsp = 6;
  } else if (logical == "io.debezium.time.NanoTimestamp") {
    set(ValueKind::kDateTime, Dec::kDateTimeNanos, "datetime(6)");
    c.fsp = 6;
  } else if (logical == "io.debezium.time.ZonedTimestamp") {
    set(ValueKind::kTimestamp, Dec::kTimestampText, "timestamp(6)");
    c.fsp = 6;
  } else if (logical == "io.debezium.time.MicroTime") {
    set(ValueKind::kTime, Dec::kTimeMicros, "time(6)");
    c.fsp = 6;
  } else if (logical == "io.debezium.time.NanoTime") {
    set(ValueKind::kTime, Dec::kTimeNanos, "time(6)");
    c.fsp = 6;
  } else if (logical == "io.debezium.time.Time" || logical == "org.apache.kafka.connect.data.Time") {
    set(ValueKind::kTime, Dec::kTimeMillis, "time(3)");
    c.fsp = 3;
  } else if (logical == "io.debezium.time.Year") {
    set(ValueKind::kInt, Dec::kInt, "year", kMyYear);
  } else if (logical == "io.debezium.data.Json") {
    set(ValueKind::kJson, Dec::kString, "json");
  } else if (logical == "io.debezium.data.Bits") {
    set(ValueKind::kBit, Dec::kBits, "bit");
    c.length = std::atoi(param("length").c_str());
  } else if (logical == "io.debezium.data.geometry.Geometry" || logical == "io.debezium.data.geometry.Point") {
    set(ValueKind::kGeometry, Dec::kGeometry, "geometry");
  } else if (type == "int8" || type == "int16") {
    set(ValueKind::kInt, Dec::kInt, "smallint", kMyShort);
  } else if (type == "int32") {
    set(ValueKind::kInt, Dec::kInt, "int", kMyLong);
  } else if (type == "int64") {
    set(ValueKind::kInt, Dec::kInt, "bigint", kMyLongLong);
  } else if (type == "float" || type == "float32") {
    set(ValueKind::kFloat, Dec::kFloat32, "float");
  } else if (type == "double" || type == "float64") {
    set(ValueKind::kDouble, Dec::kFloat64, "double");
  } else if (type == "boolean") {
    set(ValueKind::kBit, Dec::kBool, "bit(1)");
    c.length = 1;
  } else if (type == "bytes") {
    set(ValueKind::kBytes, Dec::kBytesBase64, "longblob");
  } else if (type == "string") {
    set(ValueKind::kString, Dec::kString, "longtext");
    c.charset = "utf8mb4";
  } else {
    // struct / array / map without a known logical type: kept as JSON text.
    set(ValueKind::kJson, Dec::kJsonText, "json");
  }
  (void)kMyTiny;
  (void)kMyInt24;
  return {std::move(c), p};
}

/// A column inferred from a JSON value (no schema at all).
std::pair<ColumnSchema, ColPlan> ColumnFromJson(std::string_view name, dom::element v) {
  ColumnSchema c;
  ColPlan p;
  c.name = std::string(name);
  c.nullable = true;
  switch (v.type()) {
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
      c.kind = ValueKind::kInt;
      c.column_type = "bigint";
      c.mysql_type = kMyLongLong;
      p.dec = Dec::kInt;
      break;
    case dom::element_type::DOUBLE:
      c.kind = ValueKind::kDouble;
      c.column_type = "double";
      p.dec = Dec::kFloat64;
      break;
    case dom::element_type::BOOL:
      c.kind = ValueKind::kBit;
      c.column_type = "bit(1)";
      c.length = 1;
      p.dec = Dec::kBool;
      break;
    case dom::element_type::ARRAY:
    case dom::element_type::OBJECT:
      c.kind = ValueKind::kJson;
      c.column_type = "json";
      p.dec = Dec::kJsonText;
      break;
    default:
      c.kind = ValueKind::kString;
      c.column_type = "longtext";
      c.charset = "utf8mb4";
      p.dec = Dec::kAnyText;
      break;
  }
  return {std::move(c), p};
}

/// One decoded value, before it is appended.
struct Cell {
  bool null = true;
  int64_t fixed = 0;
  std::string bytes;
};

}  // namespace

// ---- schema header -----------------------------------------------------------------------------

std::string EncodeSchemaHeader(const TableSchema& t, const std::map<std::string, std::string>& renames) {
  json::JsonWriter w;
  w.Raw("{\"db\":");
  w.String(t.database);
  w.Raw(",\"table\":");
  w.String(t.table);
  w.Raw(",\"pk\":[");
  for (size_t i = 0; i < t.primary_key.size(); ++i) {
    if (i) w.Char(',');
    w.Int(t.primary_key[i]);
  }
  w.Raw("],\"cols\":[");
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const ColumnSchema& c = t.columns[i];
    if (i) w.Char(',');
    w.Raw("{\"n\":");
    w.String(c.name);
    w.Raw(",\"k\":");
    w.Int(static_cast<int>(c.kind));
    w.Raw(",\"t\":");
    w.Int(c.mysql_type);
    w.Raw(",\"ct\":");
    w.String(c.column_type);
    w.Raw(",\"f\":");
    // flags: 1 nullable, 2 unsigned, 4 enum, 8 set, 16 generated, 32 has default
    w.Int((c.nullable ? 1 : 0) | (c.is_unsigned ? 2 : 0) | (c.is_enum ? 4 : 0) | (c.is_set ? 8 : 0) |
          (c.generated ? 16 : 0) | (c.has_default ? 32 : 0));
    w.Raw(",\"l\":");
    w.Int(c.length);
    w.Raw(",\"p\":");
    w.Int(c.precision);
    w.Raw(",\"s\":");
    w.Int(c.scale);
    w.Raw(",\"fsp\":");
    w.Int(c.fsp);
    if (!c.charset.empty()) {
      w.Raw(",\"cs\":");
      w.String(c.charset);
    }
    if (c.has_default) {
      w.Raw(",\"dv\":");
      w.String(c.default_value);
    }
    if (!c.enum_values.empty()) {
      w.Raw(",\"ev\":[");
      for (size_t k = 0; k < c.enum_values.size(); ++k) {
        if (k) w.Char(',');
        w.String(c.enum_values[k]);
      }
      w.Char(']');
    }
    w.Char('}');
  }
  w.Char(']');
  if (!renames.empty()) {
    w.Raw(",\"rn\":[");
    bool first = true;
    for (const auto& [from, to] : renames) {
      if (!first) w.Char(',');
      first = false;
      w.Char('[');
      w.String(from);
      w.Char(',');
      w.String(to);
      w.Char(']');
    }
    w.Char(']');
  }
  w.Char('}');
  return std::string(w.view());
}

TableSchemaPtr DecodeSchemaHeader(std::string_view text, std::map<std::string, std::string>* renames) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(text.data(), text.size()).get(root)) {
    Throw(ErrorKind::kData, "the {} header is not valid JSON", kSchemaHeader);
  }
  auto t = std::make_shared<TableSchema>();
  std::string_view s;
  int64_t n = 0;
  if (root["db"].get(s)) Throw(ErrorKind::kData, "the {} header has no \"db\"", kSchemaHeader);
  t->database = std::string(s);
  if (root["table"].get(s)) Throw(ErrorKind::kData, "the {} header has no \"table\"", kSchemaHeader);
  t->table = std::string(s);
  dom::array arr;
  if (!root["pk"].get(arr)) {
    for (auto v : arr) {
      if (!v.get(n)) t->primary_key.push_back(static_cast<int>(n));
    }
  }
  if (root["cols"].get(arr)) Throw(ErrorKind::kData, "the {} header has no \"cols\"", kSchemaHeader);
  for (dom::element e : arr) {
    ColumnSchema c;
    if (e["n"].get(s)) Throw(ErrorKind::kData, "a column of the {} header has no name", kSchemaHeader);
    c.name = std::string(s);
    if (!e["k"].get(n)) {
      if (n < 0 || n > static_cast<int64_t>(ValueKind::kGeometry)) Throw(ErrorKind::kData, "bad column kind {}", n);
      c.kind = static_cast<ValueKind>(n);
    }
    if (!e["t"].get(n)) c.mysql_type = static_cast<uint8_t>(n);
    if (!e["ct"].get(s)) c.column_type = std::string(s);
    if (!e["f"].get(n)) {
      c.nullable = n & 1;
      c.is_unsigned = n & 2;
      c.is_enum = n & 4;
      c.is_set = n & 8;
      c.generated = n & 16;
      c.has_default = n & 32;
    }
    if (!e["l"].get(n)) c.length = static_cast<int>(n);
    if (!e["p"].get(n)) c.precision = static_cast<int>(n);
    if (!e["s"].get(n)) c.scale = static_cast<int>(n);
    if (!e["fsp"].get(n)) c.fsp = static_cast<int>(n);
    if (c.precision < 0 || c.precision > 65 || c.scale < 0 || c.scale > 65 || c.fsp < 0 || c.fsp > 6) {
      Throw(ErrorKind::kData, "column \"{}\" of the {} header has precision {}, scale {}, fsp {} out of range",
            c.name, kSchemaHeader, c.precision, c.scale, c.fsp);
    }
    if (!e["cs"].get(s)) c.charset = std::string(s);
    if (!e["dv"].get(s)) c.default_value = std::string(s);
    dom::array ev;
    if (!e["ev"].get(ev)) {
      for (auto v : ev) {
        if (!v.get(s)) c.enum_values.emplace_back(s);
      }
    }
    t->columns.push_back(std::move(c));
  }
  for (int k : t->primary_key) {
    if (k < 0 || static_cast<size_t>(k) >= t->columns.size()) Throw(ErrorKind::kData, "bad primary key index {}", k);
  }
  dom::array rn;
  if (renames && !root["rn"].get(rn)) {
    for (dom::element pair : rn) {
      std::string_view from, to;
      if (pair.at(0).get(from) || pair.at(1).get(to)) Throw(ErrorKind::kData, "bad rename in the {} header", kSchemaHeader);
      (*renames)[std::string(from)] = std::string(to);
    }
  }
  return t;
}

// ---- decoder -----------------------------------------------------------------------------------

struct DebeziumDecoder::Impl {
  DebeziumDecoderOptions options;
  dom::parser parser;
  dom::parser key_parser;

  /// A schema and its read plan.
  struct Shape {
    TableSchemaPtr schema;
    std::vector<ColPlan> plans;
    std::map<std::string, std::string> renames;
  };
  std::unordered_map<const TableSchema*, std::shared_ptr<Shape>> by_schema;  // for RenamesOf
  std::unordered_map<std::string, std::shared_ptr<Shape>> by_header;   // header text -> shape
  std::unordered_map<std::string, std::shared_ptr<Shape>> by_connect;  // minified Connect schema -> shape
  std::unordered_map<std::string, std::shared_ptr<Shape>> inferred;    // topic -> inferred shape

  struct Pending {
    std::shared_ptr<Shape> shape;
    ChangeChunk chunk;
  };
  std::vector<Pending> pending;  // in first-seen order
  std::unordered_map<const TableSchema*, size_t> pending_index;

  std::vector<Cell> before, after;
  std::string scratch;

  std::shared_ptr<Shape> ShapeFromHeader(std::string_view header) {
    auto it = by_header.find(std::string(header));
    if (it != by_header.end()) return it->second;
    auto shape = std::make_shared<Shape>();
    shape->schema = DecodeSchemaHeader(header, &shape->renames);
    shape->plans = PlanFromHeaderSchema(*shape->schema, options.modes);
    by_header.emplace(std::string(header), shape);
    by_schema[shape->schema.get()] = shape;
    return shape;
  }

  std::shared_ptr<Shape> ShapeFromConnect(dom::element schema, dom::element key_schema, std::string_view db,
                                          std::string_view table) {
    std::string cache_key = simdjson::minify(schema);
    cache_key += '\x01';
    cache_key += db;
    cache_key += '.';
    cache_key += table;
    if (key_schema.type() == dom::element_type::OBJECT) cache_key += simdjson::minify(key_schema);
    auto it = by_connect.find(cache_key);
    if (it != by_connect.end()) return it->second;
    dom::array fields;
    if (schema["fields"].get(fields)) Throw(ErrorKind::kData, "the value schema has no \"fields\"");
    dom::object row_schema;
    bool found = false;
    for (dom::element f : fields) {
      std::string_view name;
      if (f["field"].get(name)) continue;
      if (name == "after" || (name == "before" && !found)) {
        if (!f.get(row_schema)) found = true;
        if (name == "after") break;
      }
    }
    if (!found) Throw(ErrorKind::kData, "the value schema has no \"before\"/\"after\" struct: not a Debezium envelope");
    dom::array cols;
    if (row_schema["fields"].get(cols)) Throw(ErrorKind::kData, "the \"after\" schema has no \"fields\"");
    auto t = std::make_shared<TableSchema>();
    t->database = std::string(db);
    t->table = std::string(table);
    auto shape = std::make_shared<Shape>();
    for (dom::element f : cols) {
      dom::object fo;
      if (f.get(fo)) Throw(ErrorKind::kData, "a field of the \"after\" schema is not an object");
      auto [c, p] = ColumnFromConnect(fo);
      t->columns.push_back(std::move(c));
      shape->plans.push_back(p);
    }
    dom::array key_fields;
    if (key_schema.type() == dom::element_type::OBJECT && !key_schema["fields"].get(key_fields)) {
      for (dom::element f : key_fields) {
        std::string_view name;
        if (f["field"].get(name)) continue;
        const int idx = t->FindColumn(name);
        if (idx >= 0) t->primary_key.push_back(idx);
      }
    }
    shape->schema = t;
    by_connect.emplace(std::move(cache_key), shape);
    return shape;
  }

  std::shared_ptr<Shape> ShapeInferred(std::string_view topic, dom::object row, dom::element key, std::string_view db,
                                       std::string_view table) {
    auto it = inferred.find(std::string(topic));
    if (it != inferred.end()) {
      // Reuse while the field names match (in order).
      const auto& cols = it->second->schema->columns;
      size_t i = 0;
      bool same = it->second->schema->database == db && it->second->schema->table == table;
      for (auto [k, v] : row) {
        if (!same) break;
        if (i >= cols.size() || cols[i].name != k) same = false;
        ++i;
      }
      if (same && i == cols.size()) return it->second;
    }
    auto t = std::make_shared<TableSchema>();
    t->database = std::string(db);
    t->table = std::string(table);
    auto shape = std::make_shared<Shape>();
    for (auto [k, v] : row) {
      auto [c, p] = ColumnFromJson(k, v);
      t->columns.push_back(std::move(c));
      shape->plans.push_back(p);
    }
    dom::object ko;
    if (key.type() == dom::element_type::OBJECT && !key.get(ko)) {
      for (auto [k, v] : ko) {
        const int idx = t->FindColumn(k);
        if (idx >= 0) {
          t->primary_key.push_back(idx);
          t->columns[static_cast<size_t>(idx)].nullable = false;
        }
      }
    }
    shape->schema = t;
    inferred[std::string(topic)] = shape;
    return shape;
  }

  [[noreturn]] void Bad(const ColumnSchema& c, std::string_view what) {
    Throw(ErrorKind::kData, "column {}: {}", c.name, what);
  }

  void ReadCell(const ColumnSchema& c, const ColPlan& p, dom::element v, Cell* out) {
    out->bytes.clear();
    out->fixed = 0;
    out->null = v.is_null();
    if (out->null) return;
    int64_t i64;
    uint64_t u64;
    double d;
    bool b;
    std::string_view s;
    auto as_int = [&](int64_t* x) {
      if (!v.get(*x)) return true;
      if (!v.get(u64)) {
        *x = static_cast<int64_t>(u64);
        return true;
      }
      return false;
    };
    switch (p.dec) {
      case Dec::kInt:
      case Dec::kUIntWrap:
        if (!as_int(&i64)) Bad(c, "expected an integer");
        out->fixed = i64;
        return;
      case Dec::kUIntDecimal:
        if (v.get(s) || !DecodeBase64(s, &scratch) || !UnscaledBytesToDecimal(scratch, 0, &out->bytes)) {
          Bad(c, "expected a base64 Decimal");
        }
        if (std::from_chars(out->bytes.data(), out->bytes.data() + out->bytes.size(), u64).ec != std::errc()) {
          Bad(c, "unsigned value out of range");
        }
        out->bytes.clear();
        out->fixed = static_cast<int64_t>(u64);
        return;
      case Dec::kFloat32: {
        if (v.get(d)) Bad(c, "expected a number");
        out->fixed = std::bit_cast<int64_t>(static_cast<double>(static_cast<float>(d)));
        return;
      }
      case Dec::kFloat64:
        if (v.get(d)) Bad(c, "expected a number");
        out->fixed = std::bit_cast<int64_t>(d);
        return;
      case Dec::kDecimalBytes:
        if (v.get(s) || !DecodeBase64(s, &scratch) || !UnscaledBytesToDecimal(scratch, p.scale, &out->bytes)) {
          Bad(c, "expected a base64 Decimal (decimal.handling.mode precise)");
        }
        return;
      case Dec::kDecimalText: {
        std::string text;
        if (!v.get(s)) {
          text = std::string(s);
        } else if (!v.get(d)) {
          char buf[512];
          std::snprintf(buf, sizeof buf, "%.*f", p.scale, d);
          text = buf;
        } else {
          Bad(c, "expected a decimal string or number");
        }
        if (!NormalizeDecimalText(text, p.scale, &out->bytes)) Bad(c, "not a decimal: " + text);
        return;
      }
      case Dec::kString:
        if (v.get(s)) Bad(c, "expected a string");
        out->bytes.assign(s);
        return;
      case Dec::kAnyText:
        if (!v.get(s)) {
          out->bytes.assign(s);
        } else {
          out->bytes = simdjson::minify(v);
        }
        return;
      case Dec::kJsonText:
        if (!v.get(s)) {
          out->bytes.assign(s);
        } else {
          out->bytes = simdjson::minify(v);
        }
        return;
      case Dec::kBytesBase64:
        if (v.get(s) || !DecodeBase64(s, &out->bytes)) Bad(c, "expected base64 bytes");
        return;
      case Dec::kBytesHex:
        if (v.get(s) || !DecodeHex(s, &out->bytes)) Bad(c, "expected hex bytes");
        return;
      case Dec::kDate:
        if (!as_int(&i64)) Bad(c, "expected days since the epoch");
        out->fixed = i64;
        return;
      case Dec::kTimeMicros:
      case Dec::kDateTimeMicros:
        if (!as_int(&i64)) Bad(c, "expected microseconds");
        out->fixed = i64;
        return;
      case Dec::kTimeMillis:
      case Dec::kDateTimeMillis:
        if (!as_int(&i64)) Bad(c, "expected milliseconds");
        if (__builtin_mul_overflow(i64, int64_t{1000}, &out->fixed)) Bad(c, "milliseconds out of range");
        return;
      case Dec::kTimeNanos:
      case Dec::kDateTimeNanos:
        if (!as_int(&i64)) Bad(c, "expected nanoseconds");
        out->fixed = i64 / 1000;
        return;
      case Dec::kTimestampText:
        if (v.get(s) || !ParseZonedTimestamp(s, &i64)) Bad(c, "expected an ISO-8601 timestamp");
        out->fixed = i64;
        return;
      case Dec::kBool:
        if (!v.get(b)) {
          out->fixed = b ? 1 : 0;
        } else if (as_int(&i64)) {
          out->fixed = i64;
        } else {
          Bad(c, "expected a boolean");
        }
        return;
      case Dec::kBits: {
        if (v.get(s) || !DecodeBase64(s, &scratch) || scratch.size() > 8) Bad(c, "expected base64 bits");
        uint64_t x = 0;
        for (size_t k = 0; k < scratch.size(); ++k) x |= uint64_t{static_cast<unsigned char>(scratch[k])} << (8 * k);
        out->fixed = static_cast<int64_t>(x);
        return;
      }
      case Dec::kGeometry: {
        dom::object g;
        if (v.get(g) || g["wkb"].get(s) || !DecodeBase64(s, &scratch)) Bad(c, "expected a geometry {wkb, srid}");
        int64_t srid = 0;
        dom::element se;
        if (!g["srid"].get(se) && !se.is_null()) if (se.get(srid)) {}
        const auto u = static_cast<uint32_t>(srid);
        char head[4] = {static_cast<char>(u & 0xFF), static_cast<char>((u >> 8) & 0xFF),
                        static_cast<char>((u >> 16) & 0xFF), static_cast<char>((u >> 24) & 0xFF)};
        out->bytes.assign(head, 4);
        out->bytes += scratch;
        return;
      }
    }
  }

  /// Reads a row object into `cells` following the shape's columns.
  void ReadRow(const Shape& shape, dom::object row, std::vector<Cell>& cells) {
    const auto& cols = shape.schema->columns;
    cells.resize(cols.size());
    std::vector<bool> seen(cols.size(), false);
    size_t i = 0;
    for (auto [k, v] : row) {
      size_t idx = i;
      if (idx >= cols.size() || cols[idx].name != k) {
        const int f = shape.schema->FindColumn(k);
        if (f < 0) continue;  // a field the schema does not know (e.g. a column added later): ignored
        idx = static_cast<size_t>(f);
      }
      ReadCell(cols[idx], shape.plans[idx], v, &cells[idx]);
      seen[idx] = true;
      ++i;
    }
    for (size_t c = 0; c < cols.size(); ++c) {
      if (!seen[c]) {
        cells[c].null = true;
        cells[c].bytes.clear();
      }
    }
  }

  void Append(ChangeChunk& chunk, RowOp op, uint64_t version, uint32_t source_index, uint32_t row,
              const std::vector<Cell>& cells) {
    chunk.BeginRow(op, version, source_index, row);
    for (size_t c = 0; c < cells.size(); ++c) {
      ColumnVector& col = chunk.column(c);
      const Cell& cell = cells[c];
      if (cell.null) {
        col.AppendNull();
      } else if (IsVarKind(col.kind())) {
        col.AppendBytes(cell.bytes);
      } else {
        col.AppendInt(cell.fixed);
      }
    }
  }

  Pending& PendingFor(const std::shared_ptr<Shape>& shape) {
    auto it = pending_index.find(shape->schema.get());
    if (it != pending_index.end()) return pending[it->second];
    pending_index[shape->schema.get()] = pending.size();
    pending.push_back(Pending{shape, ChangeChunk(shape->schema)});
    return pending.back();
  }
};

DebeziumDecoder::DebeziumDecoder(DebeziumDecoderOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
DebeziumDecoder::~DebeziumDecoder() = default;

void DebeziumDecoder::DropBelow(const std::string& database, const std::string& table, uint64_t version) {
  uint64_t& at = drop_below_[database + std::string(1, '\0') + table];
  at = std::max(at, version);
}

size_t DebeziumDecoder::Decode(std::string_view topic, std::optional<std::string_view> key,
                               std::optional<std::string_view> value, std::optional<std::string_view> schema_header) {
  Impl& m = *impl_;
  if (!value) return 0;  // tombstone
  dom::element root;
  if (auto err = m.parser.parse(value->data(), value->size()).get(root)) {
    Throw(ErrorKind::kData, "the value is not valid JSON ({})", simdjson::error_message(err));
  }
  dom::object envelope;
  dom::element value_schema;
  bool has_schema = false;
  if (root.get(envelope)) Throw(ErrorKind::kData, "the value is not a JSON object: not a Debezium envelope");
  {
    dom::element payload;
    if (!envelope["payload"].get(payload) && !envelope["schema"].get(value_schema)) {
      if (payload.is_null()) return 0;  // a tombstone written with schemas
      if (payload.get(envelope)) Throw(ErrorKind::kData, "\"payload\" is not an object: not a Debezium envelope");
      has_schema = value_schema.type() == dom::element_type::OBJECT;
    }
  }
  std::string_view op;
  if (envelope["op"].get(op) || op.size() != 1) {
    // Debezium's transaction metadata (provide.transaction.metadata: BEGIN/END on
    // <topic.prefix>.transaction) is not a change: skipped like a tombstone.
    std::string_view status;
    if (!envelope["status"].get(status) && (status == "BEGIN" || status == "END") && !envelope["id"].error()) return 0;
    Throw(ErrorKind::kData, "no \"op\": not a Debezium change event");
  }
  if (op == "m") return 0;
  if (op != "c" && op != "r" && op != "u" && op != "d" && op != "t") Throw(ErrorKind::kData, "unknown op \"{}\"", op);
  dom::object source;
  if (envelope["source"].get(source)) Throw(ErrorKind::kData, "no \"source\" block: not a Debezium change event");
  std::string_view db, table, file, snapshot = "false";
  int64_t pos = 0, row = 0, ts_ms = 0;
  if (source["db"].get(db) || source["table"].get(table)) {
    Throw(ErrorKind::kData, "source has no \"db\"/\"table\" (only Debezium MySQL/MariaDB events are read)");
  }
  if (source["file"].get(file) || source["pos"].get(pos)) {
    Throw(ErrorKind::kData, "source has no binlog \"file\"/\"pos\" (only Debezium MySQL/MariaDB events are read)");
  }
  if (source["row"].get(row)) {}
  if (source["ts_ms"].get(ts_ms)) {}
  {
    dom::element se;
    if (!source["snapshot"].get(se) && !se.is_null()) {
      if (se.get(snapshot)) {
        bool sb = false;
        if (!se.get(sb)) snapshot = sb ? "true" : "false";
      }
    }
  }
  if (op == "t") {
    truncate_ = Truncate{std::string(db), std::string(table),
                         MakeVersion(m.options.file_sequence(file), static_cast<uint64_t>(pos), 0)};
    return 0;
  }
  dom::element before_el, after_el;
  const bool has_before = !envelope["before"].get(before_el) && !before_el.is_null();
  const bool has_after = !envelope["after"].get(after_el) && !after_el.is_null();
  dom::object before_obj, after_obj;
  if (has_before && before_el.get(before_obj)) Throw(ErrorKind::kData, "\"before\" is not an object");
  if (has_after && after_el.get(after_obj)) Throw(ErrorKind::kData, "\"after\" is not an object");
  if ((op == "c" || op == "r" || op == "u") && !has_after) Throw(ErrorKind::kData, "op \"{}\" without \"after\"", op);
  if ((op == "d" || op == "u") && !has_before) Throw(ErrorKind::kData, "op \"{}\" without \"before\"", op);

  std::shared_ptr<Impl::Shape> shape;
  if (schema_header) {
    shape = m.ShapeFromHeader(*schema_header);
  } else {
    // A default-constructed dom::element points to no document (type() would crash): both start
    // as a JSON null of their own (records without a key, keys without a Connect schema).
    static thread_local dom::parser null_parser;
    static thread_local const dom::element null_el = null_parser.parse(std::string_view("null")).value();
    dom::element key_el = null_el, key_schema = null_el;
    if (key) {
      if (m.key_parser.parse(key->data(), key->size()).get(key_el)) {
        Throw(ErrorKind::kData, "the key is not valid JSON");
      }
      dom::element kp;
      if (key_el.type() == dom::element_type::OBJECT && !key_el["payload"].get(kp) && !key_el["schema"].get(key_schema)) {
        key_el = kp;
      }
    }
    if (has_schema) {
      shape = m.ShapeFromConnect(value_schema, key_schema, db, table);
    } else {
      shape = m.ShapeInferred(topic, has_after ? after_obj : before_obj, key_el, db, table);
    }
  }

  if (has_before) m.ReadRow(*shape, before_obj, m.before);
  if (has_after) m.ReadRow(*shape, after_obj, m.after);

  const uint32_t seq = m.options.file_sequence(file);
  const bool is_snapshot = op == "r" && snapshot != "false";
  uint64_t version;
  if (is_snapshot) {
    version = MakeVersion(seq, static_cast<uint64_t>(pos), 0) - 1;
  } else {
    version = MakeVersion(seq, static_cast<uint64_t>(pos), static_cast<uint32_t>(row));
  }
  if (!drop_below_.empty()) {
    std::string name(db);
    name.push_back('\0');
    name.append(table);
    auto it = drop_below_.find(name);
    if (it != drop_below_.end() && version < it->second) return 0;  // truncated since
  }
  Impl::Pending& p = m.PendingFor(shape);
  // One SourceInfo per distinct (file, pos, ts): snapshot rows and the rows of one event share it.
  uint32_t src;
  const auto& sources = p.chunk.sources();
  const auto snap = is_snapshot ? SourceInfo::Snapshot::kTrue : SourceInfo::Snapshot::kFalse;
  if (!sources.empty() && sources.back().pos == static_cast<uint64_t>(pos) && sources.back().ts_ms == ts_ms &&
      sources.back().snapshot == snap && sources.back().file == file) {
    src = static_cast<uint32_t>(sources.size() - 1);
  } else {
    SourceInfo si;
    si.ts_ms = ts_ms;
    si.file = std::string(file);
    si.pos = static_cast<uint64_t>(pos);
    si.snapshot = snap;
    src = p.chunk.AddSource(std::move(si));
  }
  const auto r = static_cast<uint32_t>(row);
  size_t n = 0;
  if (op == "c" || op == "r") {
    m.Append(p.chunk, RowOp::kInsert, version, src, r, m.after);
    n = 1;
  } else if (op == "d") {
    m.Append(p.chunk, RowOp::kDelete, version, src, r, m.before);
    n = 1;
  } else {
    m.Append(p.chunk, RowOp::kUpdateBefore, version, src, r, m.before);
    m.Append(p.chunk, RowOp::kUpdateAfter, version, src, r, m.after);
    n = 2;
  }
  pending_rows_ += n;
  pending_bytes_ += value->size();
  return n;
}

size_t DebeziumDecoder::DecodeUpsert(std::string_view topic, std::optional<std::string_view> value,
                                     std::string_view schema_header, std::string_view version_header,
                                     std::optional<std::string_view> before_header) {
  Impl& m = *impl_;
  uint64_t version = 0;
  {
    const char* end = version_header.data() + version_header.size();
    auto [ptr, ec] = std::from_chars(version_header.data(), end, version);
    if (ec != std::errc() || ptr != end || version_header.empty()) {
      Throw(ErrorKind::kData, "the {} header '{}' of an upsert record of {} is not a number", kVersionHeader,
            version_header, topic);
    }
  }
  if (!value && !before_header) return 0;  // a tombstone of a key this writer did not know
  std::shared_ptr<Impl::Shape> shape = m.ShapeFromHeader(schema_header);
  auto read = [&](dom::parser& parser, std::string_view json, const char* what, std::vector<Cell>& cells) {
    dom::element root;
    dom::object row;
    if (parser.parse(json.data(), json.size()).get(root) || root.get(row)) {
      Throw(ErrorKind::kData, "the {} of an upsert record of {} is not a JSON object", what, topic);
    }
    m.ReadRow(*shape, row, cells);
  };
  if (value) read(m.parser, *value, "value", m.after);
  if (before_header) read(m.key_parser, *before_header, "sluice.before header", m.before);
  Impl::Pending& p = m.PendingFor(shape);
  // The version travels as the binlog coordinates a Debezium record of the view would carry.
  SourceInfo si;
  si.file = fmt::format("sluice-view.{:06}", version >> 32);
  si.pos = version & 0xffffffffu;
  si.snapshot = SourceInfo::Snapshot::kFalse;
  const auto& sources = p.chunk.sources();
  uint32_t src;
  if (!sources.empty() && sources.back().pos == si.pos && sources.back().file == si.file) {
    src = static_cast<uint32_t>(sources.size() - 1);
  } else {
    src = p.chunk.AddSource(std::move(si));
  }
  size_t n = 0;
  if (value && before_header) {
    m.Append(p.chunk, RowOp::kUpdateBefore, version, src, 0, m.before);
    m.Append(p.chunk, RowOp::kUpdateAfter, version, src, 0, m.after);
    n = 2;
  } else if (value) {
    m.Append(p.chunk, RowOp::kInsert, version, src, 0, m.after);
    n = 1;
  } else {
    m.Append(p.chunk, RowOp::kDelete, version, src, 0, m.before);
    n = 1;
  }
  pending_rows_ += n;
  pending_bytes_ += (value ? value->size() : 0) + (before_header ? before_header->size() : 0);
  return n;
}

size_t DebeziumDecoder::DecodeRecord(std::string_view topic, std::optional<std::string_view> key,
                                     std::optional<std::string_view> value, std::optional<std::string_view> schema_header,
                                     std::optional<std::string_view> version_header,
                                     std::optional<std::string_view> before_header) {
  if (!version_header) return Decode(topic, key, value, schema_header);
  if (!schema_header) {
    Throw(ErrorKind::kData, "an upsert record (header {}) without the {} header", kVersionHeader, kSchemaHeader);
  }
  return DecodeUpsert(topic, value, *schema_header, *version_header, before_header);
}

const std::map<std::string, std::string>* DebeziumDecoder::RenamesOf(const TableSchema* schema) const {
  auto it = impl_->by_schema.find(schema);
  if (it == impl_->by_schema.end() || it->second->renames.empty()) return nullptr;
  return &it->second->renames;
}

std::vector<ChangeChunk> DebeziumDecoder::TakeChunks() {
  std::vector<ChangeChunk> out;
  for (auto& p : impl_->pending) {
    if (!p.chunk.empty()) out.push_back(std::move(p.chunk));
  }
  impl_->pending.clear();
  impl_->pending_index.clear();
  pending_rows_ = 0;
  pending_bytes_ = 0;
  return out;
}


}  // namespace sluice
