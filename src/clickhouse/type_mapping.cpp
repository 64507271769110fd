#include "clickhouse/type_mapping.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "common/error.h"

namespace sluice::clickhouse {
namespace {

ColumnType IntType(int bits, bool is_unsigned) {
  ColumnType t;
  switch (bits) {
    case 8: t.base = is_unsigned ? "UInt8" : "Int8";
      t.encoding = is_unsigned ? Encoding::kUInt8 : Encoding::kInt8; break;
    case 16: t.base = is_unsigned ? "UInt16" : "Int16";
      t.encoding = is_unsigned ? Encoding::kUInt16 : Encoding::kInt16; break;
    case 24:
    case 32: t.base = is_unsigned ? "UInt32" : "Int32";
      t.encoding = is_unsigned ? Encoding::kUInt32 : Encoding::kInt32; break;
    default: t.base = is_unsigned ? "UInt64" : "Int64";
      t.encoding = is_unsigned ? Encoding::kUInt64 : Encoding::kInt64; break;
  }
  return t;
}

std::string StripWrapper(std::string_view type, std::string_view wrapper) {
  if (type.size() > wrapper.size() + 2 && type.substr(0, wrapper.size()) == wrapper &&
      type[wrapper.size()] == '(' && type.back() == ')') {
    return std::string(type.substr(wrapper.size() + 1, type.size() - wrapper.size() - 2));
  }
  return std::string(type);
}

// True when `actual` (from system.columns, wrappers removed) takes the same RowBinary bytes as
// `expected`: identical, or a DateTime / DateTime64 of the same precision in another time zone.
bool SameWireType(const std::string& expected, const std::string& actual) {
  if (expected == actual) return true;
  if (expected == "DateTime('UTC')") {
    return actual == "DateTime" || actual.rfind("DateTime('", 0) == 0;
  }
  if (expected.rfind("DateTime64(", 0) == 0) {
    const std::string prec = expected.substr(0, expected.find(','));  // "DateTime64(6"
    return actual == prec + ")" || actual.rfind(prec + ",", 0) == 0;
  }
  return false;
}

}  // namespace

int DecimalWidth(Encoding e) {
  switch (e) {
    case Encoding::kDecimal32: return 4;
    case Encoding::kDecimal64: return 8;
    case Encoding::kDecimal128: return 16;
    case Encoding::kDecimal256: return 32;
    default: return 0;
  }
}

ColumnType MapColumnType(const ColumnSchema& c, const ServerFeatures& f) {
  ColumnType t;
  switch (c.kind) {
    case ValueKind::kInt:
      if (IsYearColumn(c)) {
        t.base = "UInt16";
        t.encoding = Encoding::kUInt16;
      } else {
        t = IntType(SourceIntegerBits(c), false);
      }
      break;
    case ValueKind::kUInt:
      t = IntType(SourceIntegerBits(c), true);
      break;
    case ValueKind::kBit:
      t.base = "UInt64";
      t.encoding = Encoding::kUInt64;
      break;
    case ValueKind::kFloat:
      t.base = "Float32";
      t.encoding = Encoding::kFloat32;
      break;
    case ValueKind::kDouble:
      t.base = "Float64";
      t.encoding = Encoding::kFloat64;
      break;
    case ValueKind::kDecimal: {
      const int p = c.precision;
      const int s = c.scale;
      if (p <= 0 || s < 0 || s > p || p > 76 || (p > 38 && !f.decimal256)) {
        t.base = "String";  // lossless canonical text; see docs/CLICKHOUSE_TYPES.md
        t.encoding = Encoding::kString;
      } else {
        t.base = fmt::format("Decimal({}, {})", p, s);
        t.scale = s;
        t.encoding = p <= 9 ? Encoding::kDecimal32
                   : p <= 18 ? Encoding::kDecimal64
                   : p <= 38 ? Encoding::kDecimal128
                             : Encoding::kDecimal256;
      }
      break;
    }
    case ValueKind::kString:
    case ValueKind::kBytes:
    case ValueKind::kJson:
      t.base = "String";
      t.encoding = Encoding::kString;
      break;
    case ValueKind::kGeometry:
      t.base = "String";
      t.encoding = Encoding::kGeometryWkb;
      break;
    case ValueKind::kDate:
      t.base = "Date";
      t.encoding = Encoding::kDate;
      break;
    case ValueKind::kTime:
      t.base = "Int64";
      t.encoding = Encoding::kTimeMicros;
      break;
    case ValueKind::kDateTime:
    case ValueKind::kTimestamp: {
      const int fsp = std::clamp(c.fsp, 0, 6);
      if (fsp == 0) {
        t.base = "DateTime('UTC')";
        t.encoding = Encoding::kDateTime;
      } else if (f.datetime64) {
        t.base = fmt::format("DateTime64({}, 'UTC')", fsp);
        t.encoding = Encoding::kDateTime64;
      } else {
        t.base = "String";
        t.encoding = Encoding::kDateTimeText;
      }
      t.scale = fsp;
      break;
    }
  }
  t.nullable = c.nullable;
  if (!f.datetime64) t.max_date_days = 49709;  // 18.16's date table ends at 2106-02-06
  return t;
}

bool AdaptToExistingType(ColumnType& expected, std::string_view actual) {
  std::string a(actual);
  bool nullable = false;
  std::string inner = StripWrapper(a, "Nullable");
  if (inner != a) {
    nullable = true;
    a = inner;
  }
  std::string lc = StripWrapper(a, "LowCardinality");
  if (lc != a) {
    a = lc;
    inner = StripWrapper(a, "Nullable");  // LowCardinality(Nullable(String))
    if (inner != a) {
      nullable = true;
      a = inner;
    }
  }
  if (!SameWireType(expected.base, a)) {
    // A String column holds the lossless text forms: a table created by an older server (or by
    // hand) keeps working when the mapping for this server would be DateTime64 or Decimal256.
    if (a != "String") return false;
    if (expected.encoding == Encoding::kDateTime64) {
      expected.encoding = Encoding::kDateTimeText;
    } else if (DecimalWidth(expected.encoding) > 0) {
      expected.encoding = Encoding::kString;
    } else {
      return false;
    }
  }
  if (expected.nullable && !nullable) return false;  // NULLs would have nowhere to go
  expected.base = std::string(actual);               // keep the server's spelling for messages
  if (nullable && !expected.nullable) {
    // Write the Nullable prefix byte; strip the outer Nullable from `base` for Full().
    expected.base = StripWrapper(actual, "Nullable");
    expected.nullable = true;
  } else if (nullable) {
    expected.base = StripWrapper(actual, "Nullable");
  }
  return true;
}

}  // namespace sluice::clickhouse
