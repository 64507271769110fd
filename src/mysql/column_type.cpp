#include "mysql/column_type.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <optional>
#include <vector>

#include "common/error.h"

namespace sluice::mysql {
namespace {

/// MYSQL_TYPE_* codes as written in TABLE_MAP events (enum_field_types in include/field_types.h).
namespace mysql_type {
inline constexpr uint8_t kVector = 242, kTiny = 1, kShort = 2, kLong = 3, kFloat = 4, kDouble = 5, kTimestamp = 7,
                         kLongLong = 8, kInt24 = 9, kDate = 10, kTime = 11, kDateTime = 12,
                         kYear = 13, kNewDate = 14, kVarchar = 15, kBit = 16, kTimestamp2 = 17,
                         kDateTime2 = 18, kTime2 = 19, kJson = 245, kNewDecimal = 246, kEnum = 247,
                         kSet = 248, kTinyBlob = 249, kMediumBlob = 250, kLongBlob = 251, kBlob = 252,
                         kVarString = 253, kString = 254, kGeometry = 255;
}  // namespace mysql_type

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// One argument inside the parentheses of a type: a number or a quoted ENUM/SET member.
struct TypeArg {
  bool quoted = false;
  std::string text;  ///< digits, or the unescaped member
};

/// The pieces of a COLUMN_TYPE text: "decimal(10,2) unsigned zerofill".
struct TypeText {
  std::vector<std::string> words;  ///< base type words before '(' (lower-case)
  bool has_args = false;
  std::vector<TypeArg> args;
  bool is_unsigned = false;
  bool is_signed = false;
  bool zerofill = false;
  bool old_temporal = false;  ///< MariaDB "/* mariadb-5.3 */": pre-5.6 temporal binlog format
};

[[noreturn]] void BadType(const std::string& name, std::string_view type, std::string_view why) {
  Throw(ErrorKind::kData, "column `{}`: cannot interpret type \"{}\": {}", name, type, why);
}

/// Splits a COLUMN_TYPE text into words, arguments and attributes.
TypeText Split(const std::string& name, std::string_view in) {
  TypeText t;
  size_t i = 0;
  const size_t n = in.size();
  bool after_args = false;
  auto skip_space_and_comments = [&]() {
    for (;;) {
      while (i < n && std::isspace(static_cast<unsigned char>(in[i]))) ++i;
      if (i + 1 < n && in[i] == '/' && in[i + 1] == '*') {
        size_t end = in.find("*/", i + 2);
        std::string body = Lower(in.substr(i + 2, (end == std::string_view::npos ? n : end) - i - 2));
        if (body.find("mariadb-5.3") != std::string::npos) t.old_temporal = true;
        i = end == std::string_view::npos ? n : end + 2;
        continue;
      }
      break;
    }
  };
  for (;;) {
    skip_space_and_comments();
    if (i >= n) break;
    char c = in[i];
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = i;
      while (i < n && (std::isalnum(static_cast<unsigned char>(in[i])) || in[i] == '_')) ++i;
      std::string w = Lower(in.substr(start, i - start));
      if (w == "unsigned") {
        t.is_unsigned = true;
        after_args = true;
      } else if (w == "signed") {
        t.is_signed = true;
        after_args = true;
      } else if (w == "zerofill") {
        t.zerofill = true;
        after_args = true;
      } else if (after_args) {
        BadType(name, in, fmt::format("unexpected word \"{}\"", w));
      } else {
        t.words.push_back(std::move(w));
      }
      continue;
    }
    if (c == '(') {
      if (t.has_args || t.words.empty()) BadType(name, in, "unexpected '('");
      t.has_args = true;
      ++i;
      for (;;) {
        skip_space_and_comments();
        if (i >= n) BadType(name, in, "unterminated '('");
        if (in[i] == ')' && t.args.empty()) {
          ++i;
          break;
        }
        TypeArg arg;
        if (in[i] == '\'' || in[i] == '"') {
          char q = in[i++];
          arg.quoted = true;
          bool closed = false;
          while (i < n) {
            char ch = in[i++];
            if (ch == q) {
              if (i < n && in[i] == q) {
                arg.text.push_back(q);
                ++i;
                continue;
              }
              closed = true;
              break;
            }
            if (ch == '\\' && i < n) {
              char e = in[i++];
              switch (e) {
                case '0': arg.text.push_back('\0'); break;
                case 'n': arg.text.push_back('\n'); break;
                case 'r': arg.text.push_back('\r'); break;
                case 't': arg.text.push_back('\t'); break;
                case 'b': arg.text.push_back('\b'); break;
                case 'Z': arg.text.push_back('\x1a'); break;
                default: arg.text.push_back(e); break;
              }
              continue;
            }
            arg.text.push_back(ch);
          }
          if (!closed) BadType(name, in, "unterminated quoted member");
        } else {
          size_t start = i;
          while (i < n && std::isdigit(static_cast<unsigned char>(in[i]))) ++i;
          if (start == i) BadType(name, in, "expected a number or a quoted value inside '(...)'");
          arg.text = std::string(in.substr(start, i - start));
        }
        t.args.push_back(std::move(arg));
        skip_space_and_comments();
        if (i < n && in[i] == ',') {
          ++i;
          continue;
        }
        if (i < n && in[i] == ')') {
          ++i;
          break;
        }
        BadType(name, in, "expected ',' or ')'");
      }
      after_args = true;
      continue;
    }
    BadType(name, in, fmt::format("unexpected character '{}'", c));
  }
  if (t.words.empty()) BadType(name, in, "no type name");
  return t;
}

int ArgInt(const std::string& name, std::string_view type, const TypeArg& a) {
  if (a.quoted) BadType(name, type, "expected a number");
  if (a.text.size() > 9) BadType(name, type, "number too large");
  return std::stoi(a.text);
}

/// Base type after alias resolution.
enum class Base {
  kTinyInt, kSmallInt, kMediumInt, kInt, kBigInt, kFloat, kDouble, kDecimal, kDate, kTime,
  kDateTime, kTimestamp, kYear, kChar, kVarchar, kBinary, kVarbinary, kTinyText, kText,
  kMediumText, kLongText, kTinyBlob, kBlob, kMediumBlob, kLongBlob, kEnum, kSet, kJson, kBit,
  kGeometry, kUuid, kInet6, kInet4, kVector,
};

struct BaseInfo {
  Base base;
  std::string canonical;   ///< type name as information_schema writes it
  bool national = false;   ///< NCHAR/NATIONAL: utf8mb3
  bool forced_tinyint1 = false;  ///< BOOL/BOOLEAN
  bool serial = false;     ///< SERIAL = BIGINT UNSIGNED
};

std::optional<BaseInfo> ResolveBase(const std::vector<std::string>& w) {
  auto is = [&](std::initializer_list<const char*> ws) {
    if (ws.size() != w.size()) return false;
    size_t k = 0;
    for (const char* s : ws) {
      if (w[k++] != s) return false;
    }
    return true;
  };
  const std::string& a = w[0];
  if (w.size() == 1) {
    static const std::array<std::pair<const char*, Base>, 53> kSingle = {{
        {"tinyint", Base::kTinyInt}, {"int1", Base::kTinyInt}, {"smallint", Base::kSmallInt},
        {"int2", Base::kSmallInt}, {"mediumint", Base::kMediumInt}, {"int3", Base::kMediumInt},
        {"middleint", Base::kMediumInt}, {"int", Base::kInt}, {"integer", Base::kInt},
        {"int4", Base::kInt}, {"bigint", Base::kBigInt}, {"int8", Base::kBigInt},
        {"float", Base::kFloat}, {"float4", Base::kFloat}, {"double", Base::kDouble},
        {"float8", Base::kDouble}, {"real", Base::kDouble}, {"decimal", Base::kDecimal},
        {"dec", Base::kDecimal}, {"numeric", Base::kDecimal}, {"fixed", Base::kDecimal},
        {"number", Base::kDecimal}, {"date", Base::kDate}, {"time", Base::kTime},
        {"datetime", Base::kDateTime}, {"timestamp", Base::kTimestamp}, {"year", Base::kYear},
        {"char", Base::kChar}, {"character", Base::kChar}, {"varchar", Base::kVarchar},
        {"varchar2", Base::kVarchar}, {"binary", Base::kBinary}, {"varbinary", Base::kVarbinary},
        {"tinytext", Base::kTinyText}, {"text", Base::kText}, {"mediumtext", Base::kMediumText},
        {"longtext", Base::kLongText}, {"long", Base::kMediumText}, {"tinyblob", Base::kTinyBlob},
        {"blob", Base::kBlob}, {"mediumblob", Base::kMediumBlob}, {"longblob", Base::kLongBlob},
        {"enum", Base::kEnum}, {"set", Base::kSet}, {"json", Base::kJson}, {"bit", Base::kBit},
        {"uuid", Base::kUuid}, {"inet6", Base::kInet6}, {"inet4", Base::kInet4},
        {"clob", Base::kLongText}, {"raw", Base::kVarbinary}, {"nvarchar", Base::kVarchar},
        {"vector", Base::kVector},
    }};
    for (const auto& [s, b] : kSingle) {
      if (a == s) {
        BaseInfo info{b, "", false, false, false};
        info.national = (a == "nvarchar");
        return info;
      }
    }
    if (a == "nchar") return BaseInfo{Base::kChar, "", true, false, false};
    if (a == "bool" || a == "boolean") return BaseInfo{Base::kTinyInt, "", false, true, false};
    if (a == "serial") return BaseInfo{Base::kBigInt, "", false, false, true};
    static const char* kGeo[] = {"geometry", "point", "linestring", "polygon", "multipoint",
                                 "multilinestring", "multipolygon", "geometrycollection",
                                 "geomcollection"};
    for (const char* g : kGeo) {
      if (a == g) return BaseInfo{Base::kGeometry, a, false, false, false};
    }
    return std::nullopt;
  }
  if (is({"double", "precision"})) return BaseInfo{Base::kDouble, "", false, false, false};
  if (is({"character", "varying"}) || is({"char", "varying"})) return BaseInfo{Base::kVarchar, "", false, false, false};
  if (is({"national", "char"}) || is({"national", "character"})) return BaseInfo{Base::kChar, "", true, false, false};
  if (is({"national", "varchar"}) || is({"national", "char", "varying"}) ||
      is({"national", "character", "varying"}) || is({"nchar", "varchar"}) || is({"nchar", "varying"})) {
    return BaseInfo{Base::kVarchar, "", true, false, false};
  }
  if (is({"long", "varchar"}) || is({"long", "char", "varying"})) return BaseInfo{Base::kMediumText, "", false, false, false};
  if (is({"long", "varbinary"})) return BaseInfo{Base::kMediumBlob, "", false, false, false};
  if (is({"char", "byte"})) return BaseInfo{Base::kBinary, "", false, false, false};
  return std::nullopt;
}

int MaxBytesPerChar(std::string_view cs) {
  if (cs == "utf8mb4" || cs == "utf16" || cs == "utf16le" || cs == "utf32" || cs == "gb18030") return 4;
  if (cs == "utf8mb3" || cs == "utf8" || cs == "ujis" || cs == "eucjpms") return 3;
  if (cs == "ucs2" || cs == "big5" || cs == "sjis" || cs == "cp932" || cs == "gbk" ||
      cs == "gb2312" || cs == "euckr") {
    return 2;
  }
  return 1;
}

const char* const kKnownCharsets[] = {
    "armscii8", "ascii", "big5", "binary", "cp1250", "cp1251", "cp1256", "cp1257", "cp850",
    "cp852", "cp866", "cp932", "dec8", "eucjpms", "euckr", "gb18030", "gb2312", "gbk", "geostd8",
    "greek", "hebrew", "hp8", "keybcs2", "koi8r", "koi8u", "latin1", "latin2", "latin5", "latin7",
    "macce", "macroman", "sjis", "swe7", "tis620", "ucs2", "ujis", "utf16", "utf16le", "utf32",
    "utf8", "utf8mb3", "utf8mb4"};

}  // namespace

std::string NormalizeCharset(std::string_view charset) {
  std::string cs = Lower(charset);
  if (cs == "utf8") return "utf8mb3";
  return cs;
}

std::string CharsetOfCollation(std::string_view collation) {
  std::string c = Lower(collation);
  if (c == "binary") return "binary";
  size_t us = c.find('_');
  std::string prefix = c.substr(0, us);
  for (const char* k : kKnownCharsets) {
    if (prefix == k) return NormalizeCharset(prefix);
  }
  return "";
}

std::string QuoteEnumValue(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

ColumnSchema MakeColumnSchema(std::string name, std::string_view column_type, std::string_view charset,
                              bool nullable) {
  ColumnSchema col;
  col.name = std::move(name);
  col.nullable = nullable;
  const std::string& nm = col.name;
  TypeText t = Split(nm, column_type);
  std::optional<BaseInfo> info = ResolveBase(t.words);
  if (!info) {
    std::string joined;
    for (const auto& w : t.words) joined += (joined.empty() ? "" : " ") + w;
    Throw(ErrorKind::kData, "column `{}`: unknown MySQL type \"{}\" (in \"{}\")", nm, joined, column_type);
  }
  if (t.zerofill) t.is_unsigned = true;  // ZEROFILL implies UNSIGNED
  if (info->serial) t.is_unsigned = true;
  std::string cs = NormalizeCharset(charset);
  if (info->national) cs = "utf8mb3";

  auto nargs = t.args.size();
  auto require_args = [&](size_t max) {
    if (nargs > max) BadType(nm, column_type, fmt::format("too many arguments ({})", nargs));
    for (const auto& a : t.args) {
      if (a.quoted) BadType(nm, column_type, "unexpected quoted argument");
    }
  };
  auto suffix = [&]() {
    std::string s;
    if (t.is_unsigned) s += " unsigned";
    if (t.zerofill) s += " zerofill";
    return s;
  };
  auto width = [&]() { return nargs ? "(" + t.args[0].text + ")" : std::string(); };

  auto set_int = [&](ValueKind, uint8_t code, const char* canon) {
    require_args(1);
    col.kind = t.is_unsigned ? ValueKind::kUInt : ValueKind::kInt;
    col.mysql_type = code;
    col.is_unsigned = t.is_unsigned;
    col.length = nargs ? ArgInt(nm, column_type, t.args[0]) : 0;
    col.column_type = canon + width() + suffix();
  };
  auto set_char = [&](uint8_t code, const char* canon, int default_len, bool binary) {
    require_args(1);
    col.mysql_type = code;
    col.length = nargs ? ArgInt(nm, column_type, t.args[0]) : default_len;
    col.charset = binary ? "binary" : cs;
    col.kind = (binary || col.charset == "binary") ? ValueKind::kBytes : ValueKind::kString;
    if (nargs || default_len > 0) {
      col.column_type = fmt::format("{}({})", canon, col.length);
    } else {
      col.column_type = canon;
    }
  };
  auto set_lob = [&](const char* canon, int64_t bytes, bool binary) {
    col.mysql_type = mysql_type::kBlob;
    col.charset = binary ? "binary" : cs;
    col.kind = (binary || col.charset == "binary") ? ValueKind::kBytes : ValueKind::kString;
    col.length = static_cast<int>(std::min<int64_t>(bytes, INT_MAX));
    col.column_type = canon;
  };
  auto set_temporal = [&](ValueKind kind, uint8_t code2, uint8_t old_code, const char* canon) {
    require_args(1);
    col.kind = kind;
    col.mysql_type = t.old_temporal ? old_code : code2;
    col.fsp = nargs ? ArgInt(nm, column_type, t.args[0]) : 0;
    if (col.fsp > 6) BadType(nm, column_type, "fractional seconds precision above 6");
    col.column_type = col.fsp ? fmt::format("{}({})", canon, col.fsp) : std::string(canon);
  };

  switch (info->base) {
    case Base::kTinyInt:
      if (info->forced_tinyint1) {
        require_args(0);
        t.args = {TypeArg{false, "1"}};
        nargs = 1;
      }
      set_int(ValueKind::kInt, mysql_type::kTiny, "tinyint");
      break;
    case Base::kSmallInt: set_int(ValueKind::kInt, mysql_type::kShort, "smallint"); break;
    case Base::kMediumInt: set_int(ValueKind::kInt, mysql_type::kInt24, "mediumint"); break;
    case Base::kInt: set_int(ValueKind::kInt, mysql_type::kLong, "int"); break;
    case Base::kBigInt: set_int(ValueKind::kInt, mysql_type::kLongLong, "bigint"); break;
    case Base::kFloat:
    case Base::kDouble: {
      require_args(2);
      bool is_double = info->base == Base::kDouble;
      if (!is_double && nargs == 1) {
        // FLOAT(p): p in 0..24 is FLOAT, 25..53 is DOUBLE, without display width.
        int p = ArgInt(nm, column_type, t.args[0]);
        if (p > 53) BadType(nm, column_type, "FLOAT precision above 53");
        is_double = p > 24;
        nargs = 0;
      } else if (is_double && nargs == 1) {
        BadType(nm, column_type, "DOUBLE takes (M,D)");
      }
      col.kind = is_double ? ValueKind::kDouble : ValueKind::kFloat;
      col.mysql_type = is_double ? mysql_type::kDouble : mysql_type::kFloat;
      col.is_unsigned = t.is_unsigned;
      std::string canon = is_double ? "double" : "float";
      if (nargs == 2) {
        col.precision = ArgInt(nm, column_type, t.args[0]);
        col.scale = ArgInt(nm, column_type, t.args[1]);
        canon += fmt::format("({},{})", col.precision, col.scale);
      }
      col.column_type = canon + suffix();
      break;
    }
    case Base::kDecimal:
      require_args(2);
      col.kind = ValueKind::kDecimal;
      col.mysql_type = mysql_type::kNewDecimal;
      col.is_unsigned = t.is_unsigned;
      col.precision = nargs >= 1 ? ArgInt(nm, column_type, t.args[0]) : 10;
      col.scale = nargs >= 2 ? ArgInt(nm, column_type, t.args[1]) : 0;
      if (col.precision == 0) col.precision = 10;  // DECIMAL(0) is DECIMAL(10)
      if (col.precision > 65 || col.scale > 30 || col.scale > col.precision) {
        BadType(nm, column_type, "DECIMAL precision/scale out of range (max 65,30; scale <= precision)");
      }
      col.column_type = fmt::format("decimal({},{})", col.precision, col.scale) + suffix();
      break;
    case Base::kDate:
      require_args(0);
      col.kind = ValueKind::kDate;
      col.mysql_type = mysql_type::kDate;
      col.column_type = "date";
      break;
    case Base::kTime: set_temporal(ValueKind::kTime, mysql_type::kTime2, mysql_type::kTime, "time"); break;
    case Base::kDateTime:
      set_temporal(ValueKind::kDateTime, mysql_type::kDateTime2, mysql_type::kDateTime, "datetime");
      break;
    case Base::kTimestamp:
      set_temporal(ValueKind::kTimestamp, mysql_type::kTimestamp2, mysql_type::kTimestamp, "timestamp");
      break;
    case Base::kYear:
      require_args(1);
      col.kind = ValueKind::kInt;
      col.mysql_type = mysql_type::kYear;
      col.length = nargs ? ArgInt(nm, column_type, t.args[0]) : 4;
      col.column_type = "year" + width();
      break;
    case Base::kChar: set_char(mysql_type::kString, "char", 1, false); break;
    case Base::kVarchar: set_char(mysql_type::kVarchar, "varchar", 0, false); break;
    case Base::kBinary: set_char(mysql_type::kString, "binary", 1, true); break;
    case Base::kVarbinary: set_char(mysql_type::kVarchar, "varbinary", 0, true); break;
    case Base::kTinyText:
    case Base::kText:
    case Base::kMediumText:
    case Base::kLongText:
    case Base::kTinyBlob:
    case Base::kBlob:
    case Base::kMediumBlob:
    case Base::kLongBlob: {
      require_args(1);
      bool binary = info->base >= Base::kTinyBlob;
      int level = static_cast<int>(info->base) - static_cast<int>(binary ? Base::kTinyBlob : Base::kTinyText);
      if (nargs == 1 && info->base == Base::kText && cs.empty()) {
        // TEXT(M) without a known charset: the size is decided when ApplyColumnCharset gives one.
        int m = ArgInt(nm, column_type, t.args[0]);
        set_lob("text", m, false);
        col.column_type = fmt::format("text({})", m);
        break;
      }
      if (nargs == 1 && (info->base == Base::kText || info->base == Base::kBlob)) {
        // TEXT(M)/BLOB(M): the smallest type holding M characters (bytes for BLOB).
        int64_t bytes = static_cast<int64_t>(ArgInt(nm, column_type, t.args[0])) *
                        (binary ? 1 : MaxBytesPerChar(cs));
        level = bytes <= 255 ? 0 : bytes <= 65535 ? 1 : bytes <= 16777215 ? 2 : 3;
      }
      static const char* kText[] = {"tinytext", "text", "mediumtext", "longtext"};
      static const char* kBlob[] = {"tinyblob", "blob", "mediumblob", "longblob"};
      static const int64_t kBytes[] = {255, 65535, 16777215, 4294967295LL};
      set_lob(binary ? kBlob[level] : kText[level], kBytes[level], binary);
      break;
    }
    case Base::kEnum:
    case Base::kSet: {
      bool is_enum = info->base == Base::kEnum;
      col.kind = ValueKind::kString;
      col.mysql_type = is_enum ? mysql_type::kEnum : mysql_type::kSet;
      col.is_enum = is_enum;
      col.is_set = !is_enum;
      col.charset = cs;
      if (cs == "binary") col.kind = ValueKind::kBytes;
      std::string text = is_enum ? "enum(" : "set(";
      for (size_t k = 0; k < t.args.size(); ++k) {
        if (!t.args[k].quoted) BadType(nm, column_type, "ENUM/SET members must be quoted");
        col.enum_values.push_back(t.args[k].text);
        if (k) text += ",";
        text += QuoteEnumValue(t.args[k].text);
      }
      if (!is_enum && col.enum_values.size() > 64) BadType(nm, column_type, "SET with more than 64 members");
      col.column_type = text + ")";
      break;
    }
    case Base::kJson:
      require_args(0);
      col.kind = ValueKind::kJson;
      col.mysql_type = mysql_type::kJson;
      col.column_type = "json";
      break;
    case Base::kBit:
      require_args(1);
      col.kind = ValueKind::kBit;
      col.mysql_type = mysql_type::kBit;
      col.length = nargs ? ArgInt(nm, column_type, t.args[0]) : 1;
      if (col.length == 0) col.length = 1;
      if (col.length > 64) BadType(nm, column_type, "BIT wider than 64");
      col.column_type = fmt::format("bit({})", col.length);
      break;
    case Base::kGeometry:
      require_args(0);
      col.kind = ValueKind::kGeometry;
      col.mysql_type = mysql_type::kGeometry;
      col.column_type = info->canonical == "geomcollection" ? "geometrycollection" : info->canonical;
      break;
    case Base::kVector:
      // MySQL 9 VECTOR(N): N little-endian float32 values, logged as MYSQL_TYPE_VECTOR.
      require_args(1);
      col.kind = ValueKind::kBytes;
      col.mysql_type = mysql_type::kVector;
      col.charset = "binary";
      col.length = nargs ? ArgInt(nm, column_type, t.args[0]) : 2048;
      if (col.length < 1 || col.length > 16383) BadType(nm, column_type, "VECTOR dimension out of range 1..16383");
      col.column_type = fmt::format("vector({})", col.length);
      break;
    case Base::kUuid:
    case Base::kInet6:
    case Base::kInet4:
      // MariaDB data type plugins, logged as fixed binary (MYSQL_TYPE_STRING, 16 or 4 bytes) and
      // decoded by mysql/row_decoder to MariaDB's text form, which is also what SELECT returns:
      // kString without a charset (the text is ASCII).
      require_args(0);
      col.kind = ValueKind::kString;
      col.mysql_type = mysql_type::kString;
      col.length = info->base == Base::kInet4 ? 4 : 16;
      col.column_type = info->base == Base::kUuid ? "uuid" : info->base == Base::kInet6 ? "inet6" : "inet4";
      break;
  }
  if (t.is_unsigned && col.kind != ValueKind::kInt && col.kind != ValueKind::kUInt &&
      col.kind != ValueKind::kFloat && col.kind != ValueKind::kDouble && col.kind != ValueKind::kDecimal) {
    BadType(nm, column_type, "UNSIGNED/ZEROFILL on a non-numeric type");
  }
  if (info->base == Base::kYear && t.is_unsigned) BadType(nm, column_type, "UNSIGNED on YEAR");
  return col;
}

void MarkMariaDbJson(ColumnSchema& column) {
  column.kind = ValueKind::kJson;
}

bool IsCharacterColumn(const ColumnSchema& column) {
  if (column.is_enum || column.is_set) return true;
  std::string_view t = column.column_type;
  size_t end = t.find_first_of("( ");
  std::string_view base = t.substr(0, end);
  return base == "char" || base == "varchar" || base == "tinytext" || base == "text" ||
         base == "mediumtext" || base == "longtext";
}

void ApplyColumnCharset(ColumnSchema& column, std::string_view charset, bool resize_text) {
  if (!IsCharacterColumn(column) || charset.empty()) return;
  std::string cs = NormalizeCharset(charset);
  std::string_view t = column.column_type;
  std::string base(t.substr(0, t.find_first_of("( ")));
  bool is_text = base.size() >= 4 && base.compare(base.size() - 4, 4, "text") == 0;
  static const char* kText[] = {"tinytext", "text", "mediumtext", "longtext"};
  static const int64_t kBytes[] = {255, 65535, 16777215, 4294967295LL};
  if (base == "text" && t.size() > 4 && t[4] == '(') {
    // TEXT(M) from a DDL without a charset: the smallest TEXT type holding M characters.
    int64_t bytes = static_cast<int64_t>(column.length) * MaxBytesPerChar(NormalizeCharset(charset));
    int level = bytes <= 255 ? 0 : bytes <= 65535 ? 1 : bytes <= 16777215 ? 2 : 3;
    base = kText[level];
    column.column_type = base;
    column.length = static_cast<int>(std::min<int64_t>(kBytes[level], INT_MAX));
  } else if (is_text && resize_text && !column.charset.empty()) {
    int64_t chars = static_cast<int64_t>(column.length) / MaxBytesPerChar(column.charset);
    if (column.length >= INT_MAX) chars = 4294967295LL / MaxBytesPerChar(column.charset);
    int64_t bytes = chars * MaxBytesPerChar(cs);
    int level = bytes <= 255 ? 0 : bytes <= 65535 ? 1 : bytes <= 16777215 ? 2 : 3;
    base = kText[level];
    column.column_type = base;
    column.length = static_cast<int>(std::min<int64_t>(kBytes[level], INT_MAX));
  }
  column.charset = cs;
  if (column.kind == ValueKind::kJson) return;
  if (cs == "binary") {
    column.kind = ValueKind::kBytes;
    std::string& ct = column.column_type;
    if (base == "char") {
      ct = "binary" + ct.substr(4);
    } else if (base == "varchar") {
      ct = "varbinary" + ct.substr(7);
    } else if (is_text) {
      ct = base.substr(0, base.size() - 4) + "blob";
    }
  } else if (column.kind == ValueKind::kBytes) {
    column.kind = ValueKind::kString;
  }
}

std::string ColumnTypeText(const ColumnSchema& column) {
  if (!column.column_type.empty()) return column.column_type;
  auto u = [&]() { return std::string(column.is_unsigned ? " unsigned" : ""); };
  auto fsp = [&](const char* n) { return column.fsp ? fmt::format("{}({})", n, column.fsp) : std::string(n); };
  switch (column.mysql_type) {
    case mysql_type::kTiny: return "tinyint" + u();
    case mysql_type::kShort: return "smallint" + u();
    case mysql_type::kInt24: return "mediumint" + u();
    case mysql_type::kLong: return "int" + u();
    case mysql_type::kLongLong: return "bigint" + u();
    case mysql_type::kFloat: return "float" + u();
    case mysql_type::kDouble: return "double" + u();
    case mysql_type::kNewDecimal: return fmt::format("decimal({},{})", column.precision, column.scale) + u();
    case mysql_type::kDate:
    case mysql_type::kNewDate: return "date";
    case mysql_type::kTime:
    case mysql_type::kTime2: return fsp("time");
    case mysql_type::kDateTime:
    case mysql_type::kDateTime2: return fsp("datetime");
    case mysql_type::kTimestamp:
    case mysql_type::kTimestamp2: return fsp("timestamp");
    case mysql_type::kYear: return "year";
    case mysql_type::kBit: return fmt::format("bit({})", column.length);
    case mysql_type::kJson: return "json";
    case mysql_type::kGeometry: return "geometry";
    case mysql_type::kEnum:
    case mysql_type::kSet: {
      std::string s = column.mysql_type == mysql_type::kEnum ? "enum(" : "set(";
      for (size_t k = 0; k < column.enum_values.size(); ++k) {
        if (k) s += ",";
        s += QuoteEnumValue(column.enum_values[k]);
      }
      return s + ")";
    }
    case mysql_type::kVarchar:
    case mysql_type::kVarString:
      return fmt::format("{}({})", column.charset == "binary" ? "varbinary" : "varchar", column.length);
    case mysql_type::kString:
      return fmt::format("{}({})", column.charset == "binary" ? "binary" : "char", column.length);
    case mysql_type::kTinyBlob:
    case mysql_type::kMediumBlob:
    case mysql_type::kLongBlob:
    case mysql_type::kBlob: {
      bool bin = column.charset == "binary";
      int64_t len = column.length;
      int level = len <= 255 ? 0 : len <= 65535 ? 1 : len <= 16777215 ? 2 : 3;
      if (len == 0) level = 1;
      static const char* kText[] = {"tinytext", "text", "mediumtext", "longtext"};
      static const char* kBlob[] = {"tinyblob", "blob", "mediumblob", "longblob"};
      return bin ? kBlob[level] : kText[level];
    }
    default: return "";
  }
}

}  // namespace sluice::mysql
