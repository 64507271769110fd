#include "mysql/row_decoder.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "event/civil_time.h"
#include "common/error.h"
#include "mysql/charset.h"
#include "mysql/json_binary.h"

namespace sluice::mysql {
namespace {

using namespace column_type;

constexpr int kDig2Bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr uint32_t kPow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
constexpr int64_t kMicrosPerDay = 86400LL * 1000000LL;


enum class Op : uint8_t {
  kNull, kInt, kYear, kFloat, kDouble, kDecimal, kBit, kDate, kTimeOld, kTime2, kDateTimeOld,
  kDateTime2, kTimestampOld, kTimestamp2, kVarString, kFixedString, kBlob, kEnum, kSet, kJson,
  kGeometry, kUuid, kInet4, kInet6
};

struct ColumnPlan {
  Op op = Op::kNull;
  uint8_t type = 0;
  uint8_t real_type = 0;
  uint16_t meta = 0;
  uint32_t max_length = 0;
  uint8_t int_bytes = 0;
  bool is_unsigned = false;
  ValueKind kind = ValueKind::kString;
  Charset cs;
  int precision = 0, scale = 0;
  uint32_t pad_to = 0;       // BINARY(n): re-pad to n bytes with 0x00
  bool mysql_json = false;   // binary JSON (MySQL) vs text (MariaDB)
  const std::vector<std::string>* members = nullptr;  // ENUM/SET
};

struct Plan {
  TableSchemaPtr schema;
  std::vector<TableMapColumn> map_columns;  // identity of the table map this plan was built for
  std::vector<std::vector<std::string>> map_members;
  std::vector<ColumnPlan> cols;
  size_t json_columns = 0;
};

bool SameColumns(const std::vector<TableMapColumn>& a, const std::vector<TableMapColumn>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].real_type != b[i].real_type || a[i].meta != b[i].meta ||
        a[i].max_length != b[i].max_length) {
      return false;
    }
  }
  return true;
}

[[noreturn]] void Mismatch(const TableSchema& s, size_t i, const TableMapColumn& c, const char* why = nullptr) {
  const ColumnSchema& cs = s.columns[i];
  Throw(ErrorKind::kData,
        "column {}.{}.{}: the binlog table map says {} but the schema says {}{}{} (schema history is "
        "out of sync with the binlog)",
        s.database, s.table, cs.name, ColumnTypeName(c.real_type), ValueKindName(cs.kind),
        why ? ": " : "", why ? why : "");
}

bool KindIn(ValueKind k, std::initializer_list<ValueKind> ks) {
  return std::find(ks.begin(), ks.end(), k) != ks.end();
}

ColumnPlan BuildColumn(const TableSchema& s, size_t i, const TableMapColumn& c, const TableMap& map) {
  const ColumnSchema& sc = s.columns[i];
  ColumnPlan p;
  p.type = c.type;
  p.real_type = c.real_type;
  p.meta = c.meta;
  p.max_length = c.max_length;
  p.kind = sc.kind;
  p.is_unsigned = sc.is_unsigned || sc.kind == ValueKind::kUInt;
  using VK = ValueKind;
  auto expect = [&](std::initializer_list<VK> ks) {
    if (!KindIn(sc.kind, ks)) Mismatch(s, i, c);
  };
  switch (c.real_type) {
    case kTiny: case kShort: case kInt24: case kLong: case kLongLong:
      expect({VK::kInt, VK::kUInt});
      p.op = Op::kInt;
      p.int_bytes = c.real_type == kTiny ? 1 : c.real_type == kShort ? 2 : c.real_type == kInt24 ? 3
                    : c.real_type == kLong ? 4 : 8;
      break;
    case kYear: expect({VK::kInt, VK::kUInt}); p.op = Op::kYear; break;
    case kFloat: expect({VK::kFloat, VK::kDouble}); p.op = Op::kFloat; break;
    case kDouble: expect({VK::kDouble, VK::kFloat}); p.op = Op::kDouble; break;
    case kNewDecimal:
      expect({VK::kDecimal});
      p.op = Op::kDecimal;
      p.precision = c.meta >> 8;
      p.scale = c.meta & 0xff;
      if (p.precision < 1 || p.precision > 65 || p.scale > 30 || p.scale > p.precision) {
        Mismatch(s, i, c, "invalid DECIMAL precision/scale in the table map");
      }
      break;
    case kBit: expect({VK::kBit, VK::kUInt, VK::kInt}); p.op = Op::kBit; break;
    case kDate: case kNewDate: expect({VK::kDate}); p.op = Op::kDate; break;
    case kTime: expect({VK::kTime}); p.op = Op::kTimeOld; break;
    case kTime2: expect({VK::kTime}); p.op = Op::kTime2; break;
    case kDateTime: expect({VK::kDateTime}); p.op = Op::kDateTimeOld; break;
    case kDateTime2: expect({VK::kDateTime}); p.op = Op::kDateTime2; break;
    case kTimestamp: expect({VK::kTimestamp}); p.op = Op::kTimestampOld; break;
    case kTimestamp2: expect({VK::kTimestamp}); p.op = Op::kTimestamp2; break;
    case kVarchar: case kVarString:
      expect({VK::kString, VK::kBytes});
      p.op = Op::kVarString;
      break;
    case kString:
      expect({VK::kString, VK::kBytes});
      p.op = Op::kFixedString;
      if (sc.kind == VK::kBytes) p.pad_to = c.max_length;
      if (sc.kind == VK::kString && (sc.column_type == "uuid" || sc.column_type == "inet6" ||
                                     sc.column_type == "inet4")) {
        // MariaDB's UUID/INET6/INET4: BINARY(16)/BINARY(16)/BINARY(4) in the row image.
        const bool inet4 = sc.column_type == "inet4";
        if (c.max_length != (inet4 ? 4u : 16u)) {
          Mismatch(s, i, c, inet4 ? "INET4 must be logged as 4 bytes" : "UUID/INET6 must be logged as 16 bytes");
        }
        p.op = inet4 ? Op::kInet4 : sc.column_type == "uuid" ? Op::kUuid : Op::kInet6;
      }
      break;
    case kBlob: case kTinyBlob: case kMediumBlob: case kLongBlob:
      expect({VK::kString, VK::kBytes, VK::kJson});
      p.op = Op::kBlob;
      if (c.max_length < 1 || c.max_length > 4) Mismatch(s, i, c, "bad BLOB pack length");
      break;
    case kEnum: case kSet: {
      expect({VK::kString});
      p.op = c.real_type == kEnum ? Op::kEnum : Op::kSet;
      if (!sc.enum_values.empty()) {
        p.members = &sc.enum_values;
      } else {
        const auto& mv = c.real_type == kEnum ? map.enum_values : map.set_values;
        if (i < mv.size() && !mv[i].empty()) p.members = &mv[i];
      }
      if (!p.members) Mismatch(s, i, c, "no ENUM/SET member list in the schema nor the table map");
      size_t max_bytes = c.real_type == kEnum ? 2 : 8;
      if (c.max_length < 1 || c.max_length > max_bytes) Mismatch(s, i, c, "bad ENUM/SET pack length");
      break;
    }
    case kJson:
      expect({VK::kJson, VK::kString});
      p.op = Op::kJson;
      p.mysql_json = true;
      if (c.max_length < 1 || c.max_length > 4) Mismatch(s, i, c, "bad JSON pack length");
      break;
    case kGeometry:
      expect({VK::kGeometry, VK::kBytes});
      p.op = Op::kGeometry;
      if (c.max_length < 1 || c.max_length > 4) Mismatch(s, i, c, "bad GEOMETRY pack length");
      break;
    case kVector:
      expect({VK::kBytes});
      p.op = Op::kBlob;
      if (c.max_length < 1 || c.max_length > 4) Mismatch(s, i, c, "bad VECTOR pack length");
      break;
    case kNull:
      p.op = Op::kNull;
      break;
    case kMariaVarcharCompressed: case kMariaBlobCompressed:
      Mismatch(s, i, c, "MariaDB COMPRESSED columns are not supported yet");
    default:
      Mismatch(s, i, c, "unsupported binlog column type");
  }
  if (sc.kind == VK::kString || sc.kind == VK::kJson) {
    p.cs = ResolveCharset(sc.charset.empty() ? std::string_view("utf8mb4") : std::string_view(sc.charset));
    if (p.cs.kind == CharsetKind::kBinary) p.cs = ResolveCharset("utf8mb4");  // kString promises UTF-8
  }
  return p;
}

[[noreturn]] void ShortRow(size_t need, size_t have) {
  Throw(ErrorKind::kData, "row image truncated: value needs {} bytes but {} remain", need, have);
}

struct Cursor {
  const char* p;
  const char* end;
  void Need(size_t n) const {
    if (static_cast<size_t>(end - p) < n) ShortRow(n, static_cast<size_t>(end - p));
  }
  uint64_t LE(size_t n) {
    Need(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
    p += n;
    return v;
  }
  uint64_t BE(size_t n) {
    Need(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    p += n;
    return v;
  }
  std::string_view Take(size_t n) {
    Need(n);
    std::string_view v(p, n);
    p += n;
    return v;
  }
  size_t remaining() const { return static_cast<size_t>(end - p); }
};

// Fraction of TIMESTAMP2/DATETIME2 in microseconds.
int64_t ReadFraction(Cursor& c, uint16_t fsp) {
  switch (fsp) {
    case 0: return 0;
    case 1: case 2: return static_cast<int64_t>(c.BE(1)) * 10000;
    case 3: case 4: return static_cast<int64_t>(c.BE(2)) * 100;
    default: return static_cast<int64_t>(c.BE(3));
  }
}

}  // namespace

// ---------------------------------------------------------------- MariaDB UUID, INET4, INET6

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Copies a logged fixed-binary value into `buf` of `n` bytes, restoring the stripped 0x00 tail.
void Unstrip(std::string_view logged, uint8_t* buf, size_t n, const char* type) {
  if (logged.size() > n) {
    Throw(ErrorKind::kData, "{} value of {} bytes in the row image; {} holds at most {}", type, logged.size(), type, n);
  }
  std::memset(buf, 0, n);
  std::memcpy(buf, logged.data(), logged.size());
}

void AppendDottedQuad(const uint8_t* b, std::string& out) {
  char text[16];
  char* p = text;
  for (int k = 0; k < 4; ++k) {
    if (k) *p++ = '.';
    p = std::to_chars(p, text + sizeof text, static_cast<unsigned>(b[k])).ptr;
  }
  out.append(text, static_cast<size_t>(p - text));
}

}  // namespace

void AppendMariaDbUuidText(std::string_view logged, std::string& out) {
  uint8_t b[16];
  Unstrip(logged, b, 16, "UUID");
  char text[36];
  char* p = text;
  for (int k = 0; k < 16; ++k) {
    if (k == 4 || k == 6 || k == 8 || k == 10) *p++ = '-';
    *p++ = kHexDigits[b[k] >> 4];
    *p++ = kHexDigits[b[k] & 15];
  }
  out.append(text, sizeof text);
}

void AppendInet4Text(std::string_view logged, std::string& out) {
  uint8_t b[4];
  Unstrip(logged, b, 4, "INET4");
  AppendDottedQuad(b, out);
}

void AppendInet6Text(std::string_view logged, std::string& out) {
  uint8_t b[16];
  Unstrip(logged, b, 16, "INET6");
  unsigned words[8];
  for (int k = 0; k < 8; ++k) words[k] = (static_cast<unsigned>(b[2 * k]) << 8) | b[2 * k + 1];
  // The gap: the first of the longest runs of zero words, however short (MariaDB compresses a
  // single zero word too, unlike RFC 5952).
  int gap_pos = -1, gap_len = 0;
  for (int k = 0; k < 8;) {
    if (words[k] != 0) {
      ++k;
      continue;
    }
    int start = k;
    while (k < 8 && words[k] == 0) ++k;
    if (k - start > gap_len) gap_pos = start, gap_len = k - start;
  }
  char text[48];
  char* p = text;
  for (int k = 0; k < 8; ++k) {
    if (k == gap_pos) {
      if (k == 0) *p++ = ':';
      *p++ = ':';
      k += gap_len - 1;
    } else if (k == 6 && gap_pos == 0 && (gap_len == 6 || (gap_len == 5 && words[5] == 0xffff))) {
      // IPv4-compatible (::a.b.c.d) or IPv4-mapped (::ffff:a.b.c.d).
      out.append(text, static_cast<size_t>(p - text));
      AppendDottedQuad(b + 12, out);
      return;
    } else {
      p = std::to_chars(p, text + sizeof text, words[k], 16).ptr;
      if (k != 7) *p++ = ':';
    }
  }
  out.append(text, static_cast<size_t>(p - text));
}

// ---------------------------------------------------------------- decimals

size_t BinaryDecimalSize(int precision, int scale) {
  int intg = precision - scale;
  return static_cast<size_t>((intg / 9) * 4 + kDig2Bytes[intg % 9] + (scale / 9) * 4 + kDig2Bytes[scale % 9]);
}

namespace {

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/// Writes v (< 10^9) as exactly 9 digits.
inline char* Put9(char* p, uint32_t v) {
  *p++ = static_cast<char>('0' + v / 100000000);
  v %= 100000000;
  const uint32_t hi = v / 10000, lo = v % 10000;
  std::memcpy(p, kDigitPairs + 2 * (hi / 100), 2);
  std::memcpy(p + 2, kDigitPairs + 2 * (hi % 100), 2);
  std::memcpy(p + 4, kDigitPairs + 2 * (lo / 100), 2);
  std::memcpy(p + 6, kDigitPairs + 2 * (lo % 100), 2);
  return p + 8;
}

/// Writes v (< 10^width) as exactly `width` (1..9) digits.
inline char* PutWidth(char* p, uint32_t v, int width) {
  char tmp[9];
  Put9(tmp, v);
  std::memcpy(p, tmp + 9 - width, static_cast<size_t>(width));
  return p + width;
}

}  // namespace

size_t DecodeBinaryDecimal(std::string_view bin, int precision, int scale, char* out, size_t* out_len) {
  if (precision < 1 || precision > 65 || scale < 0 || scale > 30 || scale > precision) {
    Throw(ErrorKind::kData, "DECIMAL({},{}) is not a valid precision/scale", precision, scale);
  }
  const int intg = precision - scale;
  const int intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
  const size_t size = BinaryDecimalSize(precision, scale);
  if (bin.size() < size) {
    Throw(ErrorKind::kData, "DECIMAL({},{}) needs {} bytes but {} remain", precision, scale, size, bin.size());
  }
  // The sign is the inverted top bit; a negative number stores every byte complemented.
  const auto* b = reinterpret_cast<const uint8_t*>(bin.data());
  const uint8_t mask = (b[0] & 0x80) == 0 ? 0xff : 0x00;
  const bool negative = mask != 0;
  size_t pos = 0;
  auto group = [&](int bytes, uint32_t limit) -> uint32_t {
    uint32_t v = 0;
    for (int k = 0; k < bytes; ++k) {
      uint8_t x = b[pos] ^ mask;
      if (pos == 0) x ^= 0x80;
      v = (v << 8) | x;
      ++pos;
    }
    if (v >= limit) {
      Throw(ErrorKind::kData, "DECIMAL({},{}) has an invalid digit group {}", precision, scale, v);
    }
    return v;
  };
  // Integer digit groups, most significant first (a partial group of intg0x digits leads), then
  // the fraction's (a partial group of frac0x digits ends).
  uint32_t ints[8], fracs[4];
  int n_int = 0;
  uint32_t any = 0;
  if (intg0x) any |= ints[n_int++] = group(kDig2Bytes[intg0x], kPow10[intg0x]);
  for (int k = 0; k < intg0; ++k) any |= ints[n_int++] = group(4, 1000000000);
  for (int k = 0; k < frac0; ++k) any |= fracs[k] = group(4, 1000000000);
  uint32_t last = 0;
  if (frac0x) any |= last = group(kDig2Bytes[frac0x], kPow10[frac0x]);
  char* p = out;
  if (negative && any != 0) *p++ = '-';
  int k = 0;
  while (k < n_int && ints[k] == 0) ++k;
  if (k == n_int) {
    *p++ = '0';
  } else {
    p = std::to_chars(p, out + 2 + 96, ints[k]).ptr;  // the leading group without leading zeros
    for (++k; k < n_int; ++k) p = Put9(p, ints[k]);
  }
  if (scale > 0) {
    *p++ = '.';
    for (int f = 0; f < frac0; ++f) p = Put9(p, fracs[f]);
    if (frac0x) p = PutWidth(p, last, frac0x);
  }
  *out_len = static_cast<size_t>(p - out);
  return size;
}

size_t DecodeBinaryDecimal(std::string_view bin, int precision, int scale, std::string& out) {
  char text[kMaxDecimalTextBytes];
  size_t len = 0;
  const size_t used = DecodeBinaryDecimal(bin, precision, scale, text, &len);
  out.append(text, len);
  return used;
}

// ---------------------------------------------------------------- schema from table map

ValueKind DefaultKindFor(const TableMapColumn& c, bool binary_charset) {
  switch (c.real_type) {
    case kTiny: case kShort: case kInt24: case kLong: case kLongLong: case kYear: return ValueKind::kInt;
    case kFloat: return ValueKind::kFloat;
    case kDouble: return ValueKind::kDouble;
    case kNewDecimal: case kDecimal: return ValueKind::kDecimal;
    case kBit: return ValueKind::kBit;
    case kDate: case kNewDate: return ValueKind::kDate;
    case kTime: case kTime2: return ValueKind::kTime;
    case kDateTime: case kDateTime2: return ValueKind::kDateTime;
    case kTimestamp: case kTimestamp2: return ValueKind::kTimestamp;
    case kEnum: case kSet: return ValueKind::kString;
    case kJson: return ValueKind::kJson;
    case kGeometry: return ValueKind::kGeometry;
    case kVector: return ValueKind::kBytes;
    case kVarchar: case kVarString: case kString: case kBlob: case kTinyBlob: case kMediumBlob:
    case kLongBlob: case kMariaVarcharCompressed: case kMariaBlobCompressed:
      return binary_charset ? ValueKind::kBytes : ValueKind::kString;
    default: return ValueKind::kString;
  }
}

TableSchemaPtr SchemaFromTableMap(const TableMap& map) {
  auto s = std::make_shared<TableSchema>();
  s->database = map.database;
  s->table = map.table;
  for (size_t i = 0; i < map.columns.size(); ++i) {
    const TableMapColumn& c = map.columns[i];
    ColumnSchema cs;
    cs.name = i < map.column_names.size() ? map.column_names[i] : "@" + std::to_string(i + 1);
    cs.mysql_type = c.real_type;
    cs.nullable = c.nullable;
    uint32_t coll = i < map.collation.size() ? map.collation[i] : 0;
    std::string_view charset = coll ? CharsetOfCollation(coll) : std::string_view();
    bool binary = charset == "binary";
    cs.kind = DefaultKindFor(c, binary);
    cs.is_unsigned = i < map.is_unsigned.size() && map.is_unsigned[i];
    if (cs.is_unsigned && cs.kind == ValueKind::kInt && c.real_type != kYear) cs.kind = ValueKind::kUInt;
    if (cs.kind == ValueKind::kString || cs.kind == ValueKind::kBytes) {
      cs.charset = charset.empty() ? "utf8mb4" : std::string(charset);
      cs.length = static_cast<int>(c.max_length);
    }
    if (c.real_type == kNewDecimal) {
      cs.precision = c.meta >> 8;
      cs.scale = c.meta & 0xff;
    }
    if (c.real_type == kBit) cs.length = static_cast<int>(c.max_length);
    if (c.real_type == kTime2 || c.real_type == kDateTime2 || c.real_type == kTimestamp2) cs.fsp = c.meta;
    if (c.real_type == kEnum) {
      cs.is_enum = true;
      if (i < map.enum_values.size()) cs.enum_values = map.enum_values[i];
    }
    if (c.real_type == kSet) {
      cs.is_set = true;
      if (i < map.set_values.size()) cs.enum_values = map.set_values[i];
    }
    s->columns.push_back(std::move(cs));
  }
  for (uint16_t k : map.primary_key) s->primary_key.push_back(k);
  return s;
}

// ---------------------------------------------------------------- decoder

struct RowDecoder::Impl {
  std::vector<std::unique_ptr<Plan>> plans;  // small MRU cache
  std::string scratch;
  std::string json_scratch;
  std::vector<uint8_t> before_present, after_present;
  std::vector<std::string_view> before_json;  // per column, JSON bytes of the current before image
  std::vector<uint8_t> before_json_set;

  const Plan& GetPlan(const TableMap& map, const TableSchemaPtr& schema);
  void DecodeImage(const Plan& plan, Cursor& cur, const std::vector<uint8_t>& present, size_t n_present,
                   ChangeChunk& out, bool after, bool partial_image, bool is_before_of_update,
                   RowsDecodeResult& res, size_t& col_index);
  void DecodeValue(const ColumnPlan& p, Cursor& cur, ColumnVector& v);
};

RowDecoder::RowDecoder() : impl_(std::make_unique<Impl>()) {}
RowDecoder::~RowDecoder() = default;

const Plan& RowDecoder::Impl::GetPlan(const TableMap& map, const TableSchemaPtr& schema) {
  for (size_t k = 0; k < plans.size(); ++k) {
    Plan& p = *plans[k];
    if (p.schema == schema && SameColumns(p.map_columns, map.columns) &&
        (p.map_members.empty() || (p.map_members.size() == map.enum_values.size() + map.set_values.size()))) {
      if (k != 0) std::swap(plans[0], plans[k]);
      return *plans[0];
    }
  }
  SLUICE_CHECK(schema != nullptr, "DecodeRows needs a schema");
  const TableSchema& s = *schema;
  if (s.columns.size() != map.columns.size()) {
    Throw(ErrorKind::kData,
          "table {}.{}: the binlog table map has {} columns but the schema has {} (schema history is "
          "out of sync with the binlog)",
          map.database, map.table, map.columns.size(), s.columns.size());
  }
  auto plan = std::make_unique<Plan>();
  plan->schema = schema;
  plan->map_columns = map.columns;
  // Keep our own copy of member lists that come from the table map (the map may go away).
  plan->map_members.reserve(map.enum_values.size() + map.set_values.size());
  for (const auto& v : map.enum_values) plan->map_members.push_back(v);
  for (const auto& v : map.set_values) plan->map_members.push_back(v);
  TableMap members_only;
  members_only.enum_values.assign(plan->map_members.begin(), plan->map_members.begin() + static_cast<std::ptrdiff_t>(map.enum_values.size()));
  members_only.set_values.assign(plan->map_members.begin() + static_cast<std::ptrdiff_t>(map.enum_values.size()), plan->map_members.end());
  plan->cols.reserve(map.columns.size());
  for (size_t i = 0; i < map.columns.size(); ++i) {
    ColumnPlan cp = BuildColumn(s, i, map.columns[i], members_only);
    if (cp.members && !s.columns[i].enum_values.empty()) {
      cp.members = &s.columns[i].enum_values;
    } else if (cp.members) {
      size_t idx = map.columns[i].real_type == kEnum ? i : map.enum_values.size() + i;
      cp.members = &plan->map_members[idx];
    }
    plan->json_columns += map.columns[i].type == kJson;
    plan->cols.push_back(cp);
  }
  if (plans.size() >= 32) plans.pop_back();
  plans.insert(plans.begin(), std::move(plan));
  return *plans[0];
}

void RowDecoder::Impl::DecodeValue(const ColumnPlan& p, Cursor& cur, ColumnVector& v) {
  switch (p.op) {
    case Op::kNull:
      v.AppendNull();
      return;
    case Op::kInt: {
      uint64_t raw = cur.LE(p.int_bytes);
      if (p.is_unsigned) {
        v.AppendUInt(raw);
      } else {
        int shift = 64 - 8 * p.int_bytes;
        v.AppendInt(static_cast<int64_t>(raw << shift) >> shift);
      }
      return;
    }
    case Op::kYear: {
      uint64_t y = cur.LE(1);
      v.AppendInt(y == 0 ? 0 : static_cast<int64_t>(1900 + y));
      return;
    }
    case Op::kFloat: {
      uint32_t bits = static_cast<uint32_t>(cur.LE(4));
      float f;
      std::memcpy(&f, &bits, 4);
      v.AppendDouble(static_cast<double>(f));
      return;
    }
    case Op::kDouble: {
      uint64_t bits = cur.LE(8);
      double d;
      std::memcpy(&d, &bits, 8);
      v.AppendDouble(d);
      return;
    }
    case Op::kDecimal: {
      char text[kMaxDecimalTextBytes];
      size_t len = 0;
      cur.p += DecodeBinaryDecimal(std::string_view(cur.p, cur.remaining()), p.precision, p.scale, text, &len);
      v.AppendBytes(std::string_view(text, len));
      return;
    }
    case Op::kBit: {
      size_t bytes = (p.meta >> 8) + ((p.meta & 0xff) ? 1 : 0);
      v.AppendUInt(cur.BE(bytes));
      return;
    }
    case Op::kDate: {
      uint64_t x = cur.LE(3);
      unsigned day = x & 31, month = (x >> 5) & 15;
      int64_t year = static_cast<int64_t>(x >> 9);
      if (month == 0 || day == 0) {
        v.AppendInt(kZeroDate);
      } else {
        v.AppendInt(DaysFromCivil(year, month, day));
      }
      return;
    }
    case Op::kTimeOld: {
      uint64_t raw = cur.LE(3);
      int64_t x = static_cast<int64_t>(raw << 40) >> 40;
      bool neg = x < 0;
      if (neg) x = -x;
      int64_t us = ((x / 10000) * 3600 + (x / 100 % 100) * 60 + x % 100) * 1000000;
      v.AppendInt(neg ? -us : us);
      return;
    }
    case Op::kTime2: {
      int64_t packed;
      int64_t intpart = static_cast<int64_t>(cur.BE(3)) - 0x800000;
      switch (p.meta) {
        case 0:
          packed = intpart * (1LL << 24);
          break;
        case 1: case 2: {
          int64_t frac = static_cast<int64_t>(cur.BE(1));
          if (intpart < 0 && frac) {
            ++intpart;
            frac -= 0x100;
          }
          packed = intpart * (1LL << 24) + frac * 10000;
          break;
        }
        case 3: case 4: {
          int64_t frac = static_cast<int64_t>(cur.BE(2));
          if (intpart < 0 && frac) {
            ++intpart;
            frac -= 0x10000;
          }
          packed = intpart * (1LL << 24) + frac * 100;
          break;
        }
        default: {
          int64_t frac = static_cast<int64_t>(cur.BE(3));
          packed = intpart * (1LL << 24) + frac;
          break;
        }
      }
      bool neg = packed < 0;
      uint64_t tmp = neg ? static_cast<uint64_t>(-packed) : static_cast<uint64_t>(packed);
      uint64_t hms = tmp >> 24;
      int64_t frac = static_cast<int64_t>(tmp % (1ull << 24));
      int64_t hour = static_cast<int64_t>((hms >> 12) % (1u << 10));
      int64_t minute = static_cast<int64_t>((hms >> 6) % (1u << 6));
      int64_t second = static_cast<int64_t>(hms % (1u << 6));
      int64_t us = (hour * 3600 + minute * 60 + second) * 1000000 + frac;
      v.AppendInt(neg ? -us : us);
      return;
    }
    case Op::kDateTimeOld: {
      uint64_t x = cur.LE(8);
      uint64_t date = x / 1000000, time = x % 1000000;
      unsigned day = static_cast<unsigned>(date % 100), month = static_cast<unsigned>(date / 100 % 100);
      int64_t year = static_cast<int64_t>(date / 10000);
      if (month == 0 || day == 0 || month > 12 || day > 31) {
        v.AppendInt(kZeroDate);
        return;
      }
      int64_t secs = static_cast<int64_t>(time / 10000) * 3600 + static_cast<int64_t>(time / 100 % 100) * 60 +
                     static_cast<int64_t>(time % 100);
      v.AppendInt(DaysFromCivil(year, month, day) * kMicrosPerDay + secs * 1000000);
      return;
    }
    case Op::kDateTime2: {
      int64_t intpart = static_cast<int64_t>(cur.BE(5)) - 0x8000000000LL;
      int64_t frac = ReadFraction(cur, p.meta);
      if (intpart < 0) intpart = -intpart;  // DATETIME is never negative; be defensive
      uint64_t ymdhms = static_cast<uint64_t>(intpart);
      uint64_t ymd = ymdhms >> 17, ym = ymd >> 5, hms = ymdhms % (1u << 17);
      unsigned day = static_cast<unsigned>(ymd % 32), month = static_cast<unsigned>(ym % 13);
      int64_t year = static_cast<int64_t>(ym / 13);
      if (month == 0 || day == 0) {
        v.AppendInt(kZeroDate);
        return;
      }
      int64_t secs = static_cast<int64_t>(hms >> 12) * 3600 + static_cast<int64_t>((hms >> 6) % 64) * 60 +
                     static_cast<int64_t>(hms % 64);
      v.AppendInt(DaysFromCivil(year, month, day) * kMicrosPerDay + secs * 1000000 + frac);
      return;
    }
    case Op::kTimestampOld:
      v.AppendInt(static_cast<int64_t>(cur.LE(4)) * 1000000);
      return;
    case Op::kTimestamp2: {
      int64_t secs = static_cast<int64_t>(cur.BE(4));
      v.AppendInt(secs * 1000000 + ReadFraction(cur, p.meta));
      return;
    }
    case Op::kVarString:
    case Op::kFixedString: {
      size_t len = static_cast<size_t>(cur.LE(p.max_length > 255 ? 2 : 1));
      std::string_view s = cur.Take(len);
      if (p.kind == ValueKind::kBytes) {
        if (p.pad_to > len) {
          scratch.assign(s.data(), s.size());
          scratch.resize(p.pad_to, '\0');
          v.AppendBytes(scratch);
        } else {
          v.AppendBytes(s);
        }
      } else if (p.cs.kind == CharsetKind::kUtf8 && IsValidUtf8(s)) {
        v.AppendBytes(s);
      } else {
        scratch.clear();
        AppendAsUtf8(p.cs, s, scratch);
        v.AppendBytes(scratch);
      }
      return;
    }
    case Op::kUuid:
    case Op::kInet4:
    case Op::kInet6: {
      std::string_view s = cur.Take(static_cast<size_t>(cur.LE(1)));
      scratch.clear();
      if (p.op == Op::kUuid) {
        AppendMariaDbUuidText(s, scratch);
      } else if (p.op == Op::kInet4) {
        AppendInet4Text(s, scratch);
      } else {
        AppendInet6Text(s, scratch);
      }
      v.AppendBytes(scratch);
      return;
    }
    case Op::kBlob:
    case Op::kGeometry: {
      size_t len = static_cast<size_t>(cur.LE(p.max_length));
      std::string_view s = cur.Take(len);
      if (p.kind == ValueKind::kString || p.kind == ValueKind::kJson) {
        if (p.cs.kind == CharsetKind::kUtf8 && IsValidUtf8(s)) {
          v.AppendBytes(s);
        } else {
          scratch.clear();
          AppendAsUtf8(p.cs, s, scratch);
          v.AppendBytes(scratch);
        }
      } else {
        v.AppendBytes(s);
      }
      return;
    }
    case Op::kJson: {
      size_t len = static_cast<size_t>(cur.LE(p.max_length));
      std::string_view s = cur.Take(len);
      scratch.clear();
      JsonBinaryToText(s, scratch);
      v.AppendBytes(scratch);
      return;
    }
    case Op::kEnum: {
      uint64_t idx = cur.LE(p.max_length);
      if (idx == 0) {
        v.AppendBytes(std::string_view());
      } else if (idx > p.members->size()) {
        Throw(ErrorKind::kData, "ENUM index {} but the column has {} members", idx, p.members->size());
      } else {
        v.AppendBytes((*p.members)[idx - 1]);
      }
      return;
    }
    case Op::kSet: {
      uint64_t bits = cur.LE(p.max_length);
      scratch.clear();
      for (size_t k = 0; bits != 0; ++k, bits >>= 1) {
        if (!(bits & 1)) continue;
        if (k >= p.members->size()) {
          Throw(ErrorKind::kData, "SET bit {} set but the column has {} members", k, p.members->size());
        }
        if (!scratch.empty()) scratch.push_back(',');
        scratch.append((*p.members)[k]);
      }
      v.AppendBytes(scratch);
      return;
    }
  }
}

void RowDecoder::Impl::DecodeImage(const Plan& plan, Cursor& cur, const std::vector<uint8_t>& present,
                                   size_t n_present, ChangeChunk& out, bool after, bool partial_event,
                                   bool is_before_of_update, RowsDecodeResult& res, size_t& col_index) {
  const size_t ncols = plan.cols.size();
  // PARTIAL_UPDATE_ROWS after image: value_options, then the partial-JSON bitmap.
  std::string_view partial_bits;
  if (after && partial_event) {
    uint64_t options = 0;
    {
      // packed integer
      cur.Need(1);
      uint8_t f = static_cast<uint8_t>(*cur.p++);
      if (f < 0xfb) options = f;
      else if (f == 0xfc) options = cur.LE(2);
      else if (f == 0xfd) options = cur.LE(3);
      else if (f == 0xfe) options = cur.LE(8);
      else Throw(ErrorKind::kData, "bad value_options prefix");
    }
    if (options & 1) partial_bits = cur.Take((plan.json_columns + 7) / 8);
  }
  std::string_view nulls = cur.Take((n_present + 7) / 8);
  size_t k = 0;       // index among present columns (null bitmap)
  size_t json_k = 0;  // index among present JSON columns (partial bitmap)
  const uint32_t chunk_row = static_cast<uint32_t>(out.size() - 1);
  for (size_t i = 0; i < ncols; ++i) {
    col_index = i;
    const ColumnPlan& p = plan.cols[i];
    ColumnVector& v = out.column(i);
    if (!present[i]) {
      v.AppendNull();
      res.all_present = false;
      if (is_before_of_update) before_json_set[i] = 0;
      continue;
    }
    bool is_null = (static_cast<uint8_t>(nulls[k / 8]) >> (k % 8)) & 1;
    ++k;
    bool partial = false;
    if (p.type == kJson) {
      if (!partial_bits.empty()) partial = (static_cast<uint8_t>(partial_bits[json_k / 8]) >> (json_k % 8)) & 1;
      ++json_k;
    }
    if (is_null) {
      v.AppendNull();
      if (is_before_of_update) before_json_set[i] = 0;
      continue;
    }
    if (p.op == Op::kJson && (partial || is_before_of_update)) {
      size_t len = static_cast<size_t>(cur.LE(p.max_length));
      std::string_view data = cur.Take(len);
      if (is_before_of_update) {
        before_json[i] = data;
        before_json_set[i] = 1;
        scratch.clear();
        JsonBinaryToText(data, scratch);
        v.AppendBytes(scratch);
        continue;
      }
      // Partial after image: diffs against the before image of this row.
      if (!before_json_set[i]) {
        v.AppendNull();
        res.all_present = false;
        res.unresolved_json.emplace_back(chunk_row, static_cast<uint32_t>(i));
        continue;
      }
      std::vector<JsonDiff> diffs = ParseJsonDiffs(data);
      json_scratch.clear();
      if (diffs.empty()) {
        JsonBinaryToText(before_json[i], json_scratch);
      } else {
        ApplyJsonDiffs(before_json[i], diffs, json_scratch);
      }
      v.AppendBytes(json_scratch);
      continue;
    }
    DecodeValue(p, cur, v);
  }
}

RowsDecodeResult RowDecoder::Decode(const RowsEvent& event, const TableMap& map, const TableSchemaPtr& schema,
                                    ChangeChunk& out, uint32_t source_index,
                                    const std::function<uint64_t(uint32_t)>& version) {
  Impl& m = *impl_;
  RowsDecodeResult res;
  size_t col_index = SIZE_MAX;
  uint32_t row = 0;
  try {
    if (event.table_id != map.table_id) {
      Throw(ErrorKind::kData, "rows event is for table id {} but the table map given is for id {}",
            event.table_id, map.table_id);
    }
    if (event.column_count != map.columns.size()) {
      Throw(ErrorKind::kData, "rows event has {} columns but the table map has {}", event.column_count,
            map.columns.size());
    }
    const Plan& plan = m.GetPlan(map, schema);
    SLUICE_CHECK(out.num_columns() == plan.cols.size(), "ChangeChunk schema does not match DecodeRows schema");
    const size_t ncols = plan.cols.size();
    auto unpack = [&](std::string_view bits, std::vector<uint8_t>& present) {
      present.resize(ncols);
      size_t n = 0;
      for (size_t i = 0; i < ncols; ++i) {
        present[i] = (static_cast<uint8_t>(bits[i / 8]) >> (i % 8)) & 1;
        n += present[i];
      }
      return n;
    };
    const bool has_before = event.kind != RowsKind::kWrite;
    const bool has_after = event.kind != RowsKind::kDelete;
    size_t n_before = 0, n_after = 0;
    if (has_before) {
      n_before = unpack(event.columns_before, m.before_present);
      res.before_present = m.before_present;
      if (n_before != ncols) res.all_present = false;
    }
    if (has_after) {
      n_after = unpack(event.columns_after, m.after_present);
      res.after_present = m.after_present;
      if (n_after != ncols) res.all_present = false;
    }
    const bool update = event.kind == RowsKind::kUpdate || event.kind == RowsKind::kPartialUpdate;
    const bool partial = event.kind == RowsKind::kPartialUpdate;
    if (update) {
      m.before_json.assign(ncols, std::string_view());
      m.before_json_set.assign(ncols, 0);
    }
    Cursor cur{event.rows.data(), event.rows.data() + event.rows.size()};
    while (cur.p < cur.end) {
      const char* row_start = cur.p;
      uint64_t ver = version(row);
      if (event.kind == RowsKind::kWrite) {
        out.BeginRow(RowOp::kInsert, ver, source_index, row);
        m.DecodeImage(plan, cur, m.after_present, n_after, out, true, false, false, res, col_index);
        ++res.row_images;
      } else if (event.kind == RowsKind::kDelete) {
        out.BeginRow(RowOp::kDelete, ver, source_index, row);
        m.DecodeImage(plan, cur, m.before_present, n_before, out, false, false, false, res, col_index);
        ++res.row_images;
      } else {
        out.BeginRow(RowOp::kUpdateBefore, ver, source_index, row);
        m.DecodeImage(plan, cur, m.before_present, n_before, out, false, partial, true, res, col_index);
        out.BeginRow(RowOp::kUpdateAfter, ver, source_index, row);
        m.DecodeImage(plan, cur, m.after_present, n_after, out, true, partial, false, res, col_index);
        res.row_images += 2;
      }
      col_index = SIZE_MAX;
      if (cur.p == row_start) {
        Throw(ErrorKind::kData, "row image with no columns (empty columns-present bitmap)");
      }
      ++row;
    }
    res.rows = row;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kData) throw;
    std::string col = "?";
    if (schema && col_index < schema->columns.size()) col = schema->columns[col_index].name;
    std::string type = col_index < map.columns.size() ? ColumnTypeName(map.columns[col_index].real_type) : "";
    Throw(ErrorKind::kData, "binlog {} at position {}, table {}.{}, row {}{}{}{}: {}",
          EventTypeName(event.header.type), event.header.position(), map.database, map.table, row,
          col_index == SIZE_MAX ? "" : ", column ", col_index == SIZE_MAX ? "" : col,
          type.empty() ? "" : " (" + type + ")", e.what());
  }
  return res;
}

RowsDecodeResult DecodeRows(const RowsEvent& event, const TableMap& map, const TableSchemaPtr& schema,
                            ChangeChunk& out, uint32_t source_index,
                            const std::function<uint64_t(uint32_t)>& version) {
  thread_local RowDecoder decoder;
  return decoder.Decode(event, map, schema, out, source_index, version);
}

}  // namespace sluice::mysql
