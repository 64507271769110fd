#include "sql/expr.h"

#include <charconv>
#include <cmath>

#include <simdjson.h>

#include "common/error.h"
#include "sql/scalar_functions.h"

namespace sluice::sql {

std::string Expr::ToString() const {
  std::string s;
  switch (kind) {
    case ExprKind::kColumn: return fmt::format("#{}", column);
    case ExprKind::kConst: return fmt::format("{}:{}", FormatValue(constant, type), TypeToString(type));
    default: break;
  }
  s = fmt::format("({}{}{}{}{}{}:{}", static_cast<int>(kind), op ? std::string(1, op) : "", negated ? "!" : "",
                  case_insensitive ? "i" : "", has_else ? "e" : "", func, TypeToString(type));
  for (const auto& a : args) s += " " + a->ToString();
  return s + ")";
}

namespace {

[[noreturn]] void Overflow(const char* what) { Throw(ErrorKind::kData, "{} out of range", what); }

/// Text cast to an integer type `type_name` (int64_t: bigint, uint64_t: bigint unsigned), with
/// PostgreSQL's errors. `s` is already trimmed; `original` is shown in the syntax error.
template <typename T>
T ParseIntegral(const std::string& s, const std::string& original, const char* type_name) {
  T x;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  if (ec == std::errc::result_out_of_range) Overflow(type_name);
  if (ec != std::errc() || p != s.data() + s.size()) {
    Throw(ErrorKind::kData, "invalid input syntax for type {}: \"{}\"", type_name, original);
  }
  return x;
}

int64_t ToInt64Checked(Int128 v) {
  if (v > INT64_MAX || v < INT64_MIN) Overflow("bigint");
  return static_cast<int64_t>(v);
}

Value ArithInt(char op, int64_t a, int64_t b) {
  int64_t r = 0;
  switch (op) {
    case '+': if (__builtin_add_overflow(a, b, &r)) Overflow("bigint"); break;
    case '-': if (__builtin_sub_overflow(a, b, &r)) Overflow("bigint"); break;
    case '*': if (__builtin_mul_overflow(a, b, &r)) Overflow("bigint"); break;
    case '/':
      if (b == 0) Throw(ErrorKind::kData, "division by zero");
      if (a == INT64_MIN && b == -1) Overflow("bigint");
      r = a / b;
      break;
    case '%':
      if (b == 0) Throw(ErrorKind::kData, "division by zero");
      r = b == -1 ? 0 : a % b;
      break;
    default: CheckFailed(__FILE__, __LINE__, "unreachable", "bad int op");
  }
  return Value::Int(r);
}

Value ArithDecimal(char op, Int128 a, int sa, Int128 b, int sb, int sr) {
  switch (op) {
    case '+': return Value::Decimal(CheckedAdd128(RescaleDecimal(a, sa, sr), RescaleDecimal(b, sb, sr)));
    case '-': return Value::Decimal(CheckedAdd128(RescaleDecimal(a, sa, sr), -RescaleDecimal(b, sb, sr)));
    case '*': return Value::Decimal(RescaleDecimal(CheckedMul128(a, b), sa + sb, sr));
    case '/': {
      if (b == 0) Throw(ErrorKind::kData, "division by zero");
      // a/10^sa / (b/10^sb) scaled by 10^sr = a * 10^(sr + sb - sa) / b
      int shift = sr + sb - sa;
      if (shift >= 0) return Value::Decimal(DivRound128(CheckedMul128(a, Pow10(shift)), b));
      return Value::Decimal(DivRound128(a, CheckedMul128(b, Pow10(-shift))));
    }
    case '%': {
      if (b == 0) Throw(ErrorKind::kData, "division by zero");
      int s = std::max(sa, sb);
      Int128 x = RescaleDecimal(a, sa, s), y = RescaleDecimal(b, sb, s);
      return Value::Decimal(RescaleDecimal(x % y, s, sr));
    }
    default: CheckFailed(__FILE__, __LINE__, "unreachable", "bad decimal op");
  }
}

Value ArithDouble(char op, double a, double b) {
  switch (op) {
    case '+': return Value::Double(a + b);
    case '-': return Value::Double(a - b);
    case '*': return Value::Double(a * b);
    case '/':
      if (b == 0) Throw(ErrorKind::kData, "division by zero");
      return Value::Double(a / b);
    case '%':
      if (b == 0) Throw(ErrorKind::kData, "division by zero");
      return Value::Double(std::fmod(a, b));
    default: CheckFailed(__FILE__, __LINE__, "unreachable", "bad double op");
  }
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

/// Byte offset of code point `k` (0-based) in `s`, or s.size().
size_t Utf8Offset(std::string_view s, size_t k) {
  size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (k == 0) return i;
      --k;
    }
  }
  return s.size();
}

std::string Trim(std::string_view s, std::string_view chars, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) while (b < e && chars.find(s[b]) != std::string_view::npos) ++b;
  if (right) while (e > b && chars.find(s[e - 1]) != std::string_view::npos) --e;
  return std::string(s.substr(b, e - b));
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Value DateTrunc(std::string unit, int64_t us) {
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int64_t days = FloorDiv(us, kMicrosPerDay), rem = us - days * kMicrosPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  if (unit == "microseconds") return Value::Int(us);
  if (unit == "milliseconds") return Value::Int(FloorDiv(us, 1000) * 1000);
  if (unit == "second") return Value::Int(FloorDiv(us, 1000000) * 1000000);
  if (unit == "minute") return Value::Int(days * kMicrosPerDay + rem / 60000000 * 60000000);
  if (unit == "hour") return Value::Int(days * kMicrosPerDay + rem / 3600000000LL * 3600000000LL);
  if (unit == "day") return Value::Int(days * kMicrosPerDay);
  if (unit == "week") {
    int64_t dow = ((days % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday; Monday = 0
    return Value::Int((days - dow) * kMicrosPerDay);
  }
  if (unit == "month") return Value::Int(DaysFromCivil(y, m, 1) * kMicrosPerDay);
  if (unit == "quarter") return Value::Int(DaysFromCivil(y, (m - 1) / 3 * 3 + 1, 1) * kMicrosPerDay);
  if (unit == "year") return Value::Int(DaysFromCivil(y, 1, 1) * kMicrosPerDay);
  if (unit == "decade") return Value::Int(DaysFromCivil(y - ((y % 10) + 10) % 10, 1, 1) * kMicrosPerDay);
  Throw(ErrorKind::kData, "date_trunc: unit \"{}\" not recognized", unit);
}

Value Extract(std::string field, int64_t us, bool is_time, const SqlType& out) {
  for (auto& c : field) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int64_t days = is_time ? 0 : FloorDiv(us, kMicrosPerDay), rem = us - days * kMicrosPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  auto result = [&](int64_t v) {
    return out.id == TypeId::kDecimal ? Value::Decimal(static_cast<Int128>(v) * Pow10(out.scale)) : Value::Int(v);
  };
  if (field == "second") return Value::Decimal(rem % 60000000);
  if (field == "epoch") return Value::Decimal(us);
  if (field == "minute") return result(rem / 60000000 % 60);
  if (field == "hour") return result(rem / 3600000000LL);
  if (field == "milliseconds") return Value::Decimal(rem % 60000000);  // numeric(38,3): seconds * 1000
  if (field == "microseconds") return result(rem % 60000000);
  if (is_time) Throw(ErrorKind::kData, "extract: field \"{}\" not supported for time", field);
  if (field == "day") return result(d);
  if (field == "month") return result(m);
  if (field == "quarter") return result((m - 1) / 3 + 1);
  if (field == "year") return result(y);
  if (field == "dow") return result(((days % 7) + 7 + 4) % 7);  // Sunday = 0
  if (field == "isodow") return result(((days % 7) + 7 + 3) % 7 + 1);
  if (field == "doy") return result(days - DaysFromCivil(y, 1, 1) + 1);
  if (field == "week" || field == "isoyear") {  // ISO 8601: weeks start on Monday, week 1 holds January 4
    int64_t iy, iw;
    IsoWeek(days, iy, iw);
    return result(field == "isoyear" ? iy : iw);
  }
  if (field == "millennium") return result(y > 0 ? (y + 999) / 1000 : -((999 - y) / 1000));
  if (field == "decade") return result(FloorDiv(y, 10));
  if (field == "century") return result(y > 0 ? (y + 99) / 100 : -((99 - y) / 100));
  Throw(ErrorKind::kData, "extract: field \"{}\" not recognized", field);
}

int64_t AsMicros(const Value& v, TypeId t) { return t == TypeId::kDate ? v.i * kMicrosPerDay : v.i; }

/// PostgreSQL's json -> (as_text false) and ->> (true): the member `key` of an object (the last
/// one of that name, as json does with duplicates) or the element `index` of an array (negative:
/// from the end); SQL NULL when there is none, and for ->> of a JSON null. Objects and arrays come
/// back as their JSON text as written (MySQL writes JSON as PostgreSQL's jsonb prints it).
Value JsonGet(const std::string& json, const Value& sel, bool by_index, bool as_text) {
  namespace od = simdjson::ondemand;
  thread_local od::parser parser;
  const simdjson::padded_string padded(json);
  auto fail = [&](simdjson::error_code code) {
    Throw(ErrorKind::kData, "invalid input syntax for type json: {} ({})",
          json.size() > 60 ? json.substr(0, 60) + "..." : json, simdjson::error_message(code));
  };
  // A value's raw JSON text (objects and arrays whole; scalars as their token).
  auto raw_of = [&](od::value& v) -> std::string_view {
    od::json_type t;
    if (auto err = v.type().get(t)) fail(err);
    std::string_view r;
    simdjson::error_code err;
    if (t == od::json_type::object) {
      od::object o;
      if ((err = v.get_object().get(o)) || (err = o.raw_json().get(r))) fail(err);
    } else if (t == od::json_type::array) {
      od::array a;
      if ((err = v.get_array().get(a)) || (err = a.raw_json().get(r))) fail(err);
    } else {
      r = v.raw_json_token();
    }
    return r;
  };
  od::document doc;
  if (auto err = parser.iterate(padded).get(doc)) fail(err);
  od::json_type top;
  if (auto err = doc.type().get(top)) fail(err);
  // The selected value's raw JSON text.
  std::optional<std::string_view> raw;
  if (!by_index) {
    if (top != od::json_type::object) return Value::Null();
    od::object obj;
    if (auto err = doc.get_object().get(obj)) fail(err);
    for (auto field : obj) {
      std::string_view k;
      if (auto err = field.unescaped_key().get(k)) fail(err);
      od::value v;
      if (auto err = field.value().get(v)) fail(err);
      const std::string_view r = raw_of(v);
      if (k == sel.s) raw = r;
    }
  } else {
    if (top != od::json_type::array) return Value::Null();
    od::array arr;
    if (auto err = doc.get_array().get(arr)) fail(err);
    std::vector<std::string_view> items;
    for (auto item : arr) {
      od::value v;
      if (auto err = item.get(v)) fail(err);
      items.push_back(raw_of(v));
    }
    const int64_t n = static_cast<int64_t>(items.size());
    const int64_t i = sel.i < 0 ? n + sel.i : sel.i;
    if (i < 0 || i >= n) return Value::Null();
    raw = items[static_cast<size_t>(i)];
  }
  if (!raw) return Value::Null();
  std::string_view r = *raw;
  while (!r.empty() && (r.back() == ' ' || r.back() == '\n' || r.back() == '\t' || r.back() == '\r')) r.remove_suffix(1);
  if (!as_text) return Value::String(std::string(r));
  if (r == "null") return Value::Null();
  if (!r.empty() && r.front() == '"') {
    // The string's value, unescaped: parse the token on its own.
    const simdjson::padded_string one(r);
    od::document d;
    std::string_view str;
    if (auto err = parser.iterate(one).get(d)) fail(err);
    if (auto err = d.get_string().get(str)) fail(err);
    return Value::String(std::string(str));
  }
  return Value::String(std::string(r));
}

Value EvalFunc(const Expr& e, const Row& row) {
  std::vector<Value> a;
  a.reserve(e.args.size());
  for (const auto& x : e.args) a.push_back(Eval(*x, row));
  const std::string& f = e.func;
  if (f == "concat") {
    std::string s;
    for (const auto& v : a) if (!v.null) s += v.s;
    return Value::String(std::move(s));
  }
  if (f == "concat_ws") {
    if (a[0].null) return Value::Null();
    std::string s;
    bool first = true;
    for (size_t k = 1; k < a.size(); ++k) {
      if (a[k].null) continue;
      if (!first) s += a[0].s;
      s += a[k].s;
      first = false;
    }
    return Value::String(std::move(s));
  }
  if (f == "greatest" || f == "least") {  // NULLs are ignored
    const Value* best = nullptr;
    for (const auto& v : a) {
      if (v.null) continue;
      if (!best) { best = &v; continue; }
      int c = CompareValues(v, *best, e.type);
      if (f == "greatest" ? c > 0 : c < 0) best = &v;
    }
    return best ? *best : Value::Null();
  }
  for (const auto& v : a) if (v.null) return Value::Null();
  if (f == "||") return Value::String(a[0].s + a[1].s);
  if (f == "json_get" || f == "json_get_text") {
    return JsonGet(a[0].s, a[1], e.args[1]->type.id == TypeId::kInt, f == "json_get_text");
  }
  if (f == "lower" || f == "upper") return Value::String(MapCase(a[0].s, f == "upper"));
  if (f == "length") return Value::Int(static_cast<int64_t>(Utf8Length(a[0].s)));
  if (f == "initcap") return Value::String(InitCap(a[0].s));
  if (f == "reverse") return Value::String(ReverseChars(a[0].s));
  if (f == "md5") return Value::String(Md5Hex(a[0].s));
  if (f == "lpad" || f == "rpad") return Value::String(Pad(a[0].s, a[1].i, a.size() > 2 ? a[2].s : " ", f == "lpad"));
  if (f == "repeat") return Value::String(Repeat(a[0].s, a[1].i));
  if (f == "starts_with") return Value::Bool(a[0].s.compare(0, a[1].s.size(), a[1].s) == 0);
  if (f == "regexp_replace") return Value::String(RegexpReplace(a[0].s, a[1].s, a[2].s, a.size() > 3 ? a[3].s : ""));
  if (f == "regexp_like") return Value::Bool(RegexpMatches(a[0].s, a[1].s, a[2].i != 0) != (a[3].i != 0));
  if (f == "make_date") {
    if (a[1].i < 1 || a[1].i > 12 || a[2].i < 1 || a[2].i > 31 || a[0].i == 0 || a[0].i < -4713 || a[0].i > 294276) {
      Throw(ErrorKind::kData, "date field value out of range: {}-{:02}-{:02}", a[0].i, a[1].i, a[2].i);
    }
    const int64_t y = a[0].i < 0 ? a[0].i + 1 : a[0].i;  // PostgreSQL's year -1 is 1 BC (year 0)
    const int64_t days = DaysFromCivil(y, static_cast<unsigned>(a[1].i), static_cast<unsigned>(a[2].i));
    int64_t cy;
    unsigned cm, cd;
    CivilFromDays(days, cy, cm, cd);
    if (cd != static_cast<unsigned>(a[2].i)) {
      Throw(ErrorKind::kData, "date field value out of range: {}-{:02}-{:02}", a[0].i, a[1].i, a[2].i);
    }
    return Value::Int(days);
  }
  if (f == "to_timestamp") {
    const double us = a[0].d * 1e6;
    if (!std::isfinite(us) || std::fabs(us) >= 9.2e18) Throw(ErrorKind::kData, "timestamp out of range: {}", a[0].d);
    return Value::Int(std::llround(us));
  }
  if (f == "replace") {
    if (a[1].s.empty()) return a[0];
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = a[0].s.find(a[1].s, pos)) != std::string::npos; pos = hit + a[1].s.size()) {
      out.append(a[0].s, pos, hit - pos);
      out += a[2].s;
    }
    out.append(a[0].s, pos, std::string::npos);
    return Value::String(std::move(out));
  }
  if (f == "left" || f == "right") {  // negative n: all but the last (first) |n| characters
    int64_t len = static_cast<int64_t>(Utf8Length(a[0].s)), n = a[1].i;
    int64_t keep = n >= 0 ? std::min(n, len) : std::max<int64_t>(len + n, 0);
    size_t from = f == "left" ? 0 : Utf8Offset(a[0].s, static_cast<size_t>(len - keep));
    size_t to = f == "left" ? Utf8Offset(a[0].s, static_cast<size_t>(keep)) : a[0].s.size();
    return Value::String(a[0].s.substr(from, to - from));
  }
  if (f == "strpos") {
    size_t hit = a[0].s.find(a[1].s);
    if (hit == std::string::npos) return Value::Int(0);
    return Value::Int(static_cast<int64_t>(Utf8Length(std::string_view(a[0].s).substr(0, hit))) + 1);
  }
  if (f == "octet_length") return Value::Int(static_cast<int64_t>(a[0].s.size()));
  if (f == "split_part") {  // PostgreSQL 14+: a negative n counts from the end
    const std::string& str = a[0].s;
    const std::string& sep = a[1].s;
    const int64_t n = a[2].i;
    if (n == 0) Throw(ErrorKind::kData, "field position must not be zero");
    std::vector<std::string_view> parts;
    if (sep.empty()) {
      if (!str.empty()) parts.emplace_back(str);
    } else {
      size_t pos = 0;
      for (size_t hit; (hit = str.find(sep, pos)) != std::string::npos; pos = hit + sep.size()) {
        parts.emplace_back(std::string_view(str).substr(pos, hit - pos));
      }
      parts.emplace_back(std::string_view(str).substr(pos));
    }
    const int64_t count = static_cast<int64_t>(parts.size());
    const int64_t idx = n > 0 ? n - 1 : count + n;
    if (idx < 0 || idx >= count) return Value::String("");
    return Value::String(std::string(parts[static_cast<size_t>(idx)]));
  }
  if (f == "power") {
    const double x = a[0].d, y = a[1].d;
    if (x == 0 && y < 0) Throw(ErrorKind::kData, "zero raised to a negative power is undefined");
    if (x < 0 && std::floor(y) != y) Throw(ErrorKind::kData, "a negative number raised to a non-integer power yields a complex result");
    const double r = std::pow(x, y);
    if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) Throw(ErrorKind::kData, "value out of range: overflow");
    if (r == 0 && x != 0 && std::isfinite(x) && std::isfinite(y)) Throw(ErrorKind::kData, "value out of range: underflow");
    return Value::Double(r);
  }
  if (f == "sqrt") {
    if (a[0].d < 0) Throw(ErrorKind::kData, "cannot take square root of a negative number");
    return Value::Double(std::sqrt(a[0].d));
  }
  if (f == "cbrt") return Value::Double(std::cbrt(a[0].d));
  if (f == "exp") {
    const double r = std::exp(a[0].d);
    if (std::isinf(r) && std::isfinite(a[0].d)) Throw(ErrorKind::kData, "value out of range: overflow");
    if (r == 0 && std::isfinite(a[0].d)) Throw(ErrorKind::kData, "value out of range: underflow");
    return Value::Double(r);
  }
  if (f == "ln" || f == "log10") {
    if (a[0].d == 0) Throw(ErrorKind::kData, "cannot take logarithm of zero");
    if (a[0].d < 0) Throw(ErrorKind::kData, "cannot take logarithm of a negative number");
    return Value::Double(f == "ln" ? std::log(a[0].d) : std::log10(a[0].d));
  }
  if (f == "substring") {
    int64_t start = a[1].i;
    int64_t end = INT64_MAX;
    if (a.size() > 2) {
      if (a[2].i < 0) Throw(ErrorKind::kData, "negative substring length not allowed");
      if (__builtin_add_overflow(start, a[2].i, &end)) end = INT64_MAX;
    }
    int64_t b = std::max<int64_t>(start, 1);
    if (end <= b) return Value::String("");
    size_t bo = Utf8Offset(a[0].s, static_cast<size_t>(b - 1));
    size_t eo = end == INT64_MAX ? a[0].s.size() : Utf8Offset(a[0].s, static_cast<size_t>(end - 1));
    return Value::String(a[0].s.substr(bo, eo - bo));
  }
  if (f == "btrim" || f == "ltrim" || f == "rtrim") {
    std::string_view chars = a.size() > 1 ? std::string_view(a[1].s) : std::string_view(" ");
    return Value::String(Trim(a[0].s, chars, f != "rtrim", f != "ltrim"));
  }
  if (f == "add_interval") {  // temporal + interval constant (months, days, micros)
    const Interval iv{a[1].i, a[2].i, a[3].i};
    const TypeId t = e.args[0]->type.id;
    if (t == TypeId::kTime) {  // the time of day only, wrapping around midnight
      int64_t us = (a[0].i + iv.micros % kMicrosPerDay) % kMicrosPerDay;
      return Value::Int(us < 0 ? us + kMicrosPerDay : us);
    }
    if (a[0].i == kZeroDate) return Value::Null();  // MySQL's '0000-00-00' is no date
    int64_t us = a[0].i;
    if (t == TypeId::kDate && __builtin_mul_overflow(a[0].i, kMicrosPerDay, &us)) Overflow("timestamp");
    return Value::Int(AddInterval(us, iv));
  }
  if (f == "date_trunc") {
    TypeId t = e.args[1]->type.id;
    return DateTrunc(a[0].s, AsMicros(a[1], t));
  }
  if (f == "extract") {
    TypeId t = e.args[1]->type.id;
    return Extract(a[0].s, AsMicros(a[1], t), t == TypeId::kTime, e.type);
  }
  const SqlType& t0 = e.args[0]->type;
  if (f == "to_char") return Value::String(ToChar(AsMicros(a[0], t0.id), a[1].s));
  if (f == "sign") {
    if (t0.id == TypeId::kDecimal) return Value::Decimal(a[0].dec > 0 ? 1 : a[0].dec < 0 ? -1 : 0);
    return Value::Double(a[0].d > 0 ? 1.0 : a[0].d < 0 ? -1.0 : 0.0);
  }
  if (f == "abs") {
    switch (t0.id) {
      case TypeId::kInt: if (a[0].i == INT64_MIN) Overflow("bigint"); return Value::Int(std::llabs(a[0].i));
      case TypeId::kDecimal: return Value::Decimal(a[0].dec < 0 ? -a[0].dec : a[0].dec);
      default: return Value::Double(std::fabs(a[0].d));
    }
  }
  if (f == "trunc") {
    switch (t0.id) {
      case TypeId::kInt: return a[0];
      case TypeId::kDecimal: {
        Int128 p = Pow10(t0.scale - e.type.scale);  // toward zero
        return Value::Decimal(a[0].dec / p);
      }
      default: return Value::Double(std::trunc(a[0].d));
    }
  }
  if (f == "round" || f == "floor" || f == "ceil") {
    switch (t0.id) {
      case TypeId::kInt: return a[0];
      case TypeId::kDecimal: {
        int to = e.type.scale;
        if (f == "round") return Value::Decimal(RescaleDecimal(a[0].dec, t0.scale, to));
        Int128 p = Pow10(t0.scale), q = a[0].dec / p, r = a[0].dec % p;
        if (f == "floor" && r < 0) --q;
        if (f == "ceil" && r > 0) ++q;
        return Value::Decimal(q);
      }
      default:
        return Value::Double(f == "round" ? std::round(a[0].d) : f == "floor" ? std::floor(a[0].d) : std::ceil(a[0].d));
    }
  }
  CheckFailed(__FILE__, __LINE__, "unreachable", "unknown function " + f);
}

}  // namespace

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

bool LikeMatch(std::string_view s, std::string_view p, bool ci) {
  auto eq = [ci](char a, char b) {
    return ci ? std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)) : a == b;
  };
  // Iterative matcher with backtracking to the last '%'. '_' matches one byte of ASCII or one
  // UTF-8 code point.
  size_t si = 0, pi = 0, star_p = std::string_view::npos, star_s = 0;
  auto cp_len = [&](size_t i) {
    size_t n = 1;
    while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
    return n;
  };
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '%') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    if (pi < p.size() && p[pi] == '_') {
      si += cp_len(si);
      ++pi;
      continue;
    }
    if (pi < p.size()) {
      char pc = p[pi];
      size_t adv = 1;
      if (pc == '\\' && pi + 1 < p.size()) { pc = p[pi + 1]; adv = 2; }
      if (eq(pc, s[si])) {
        ++si;
        pi += adv;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    star_s += cp_len(star_s);
    si = star_s;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

Value CastValue(const Value& v, const SqlType& from, const SqlType& to) {
  if (v.null || from.id == TypeId::kNull) return Value::Null();
  if (from == to) return v;
  const TypeId f = from.id;
  auto to_text = [&]() -> std::string {
    if (f == TypeId::kBool) return v.i ? "true" : "false";
    return FormatValue(v, from);
  };
  auto trimmed = [&]() { return Trim(v.s, " \t\n", true, true); };
  if (f == TypeId::kWideDecimal && to.id != TypeId::kWideDecimal && !IsStringLike(to.id)) {
    // Numbers, booleans: through numeric(38, s), which this value must fit.
    Int128 d;
    try {
      d = ParseDecimal(v.s, from.scale);
    } catch (const Error&) {
      Throw(ErrorKind::kData, "numeric value {} (a {} column) does not fit the 38 digits arithmetic, sum, avg "
            "and casts to other types compute with; use the column as it is, or round it first",
            v.s, TypeToString(from));
    }
    return CastValue(Value::Decimal(d), SqlType{TypeId::kDecimal, from.scale, 38}, to);
  }
  switch (to.id) {
    case TypeId::kWideDecimal: {
      std::string text;
      if (f == TypeId::kWideDecimal) {
        text = v.s;
      } else if (f == TypeId::kDecimal) {
        text = FormatDecimal(v.dec, from.scale);
      } else if (f == TypeId::kInt || f == TypeId::kBool) {
        text = std::to_string(v.i);
      } else if (f == TypeId::kUInt || f == TypeId::kBit) {
        text = std::to_string(static_cast<uint64_t>(v.i));
      } else if (f == TypeId::kDouble || f == TypeId::kFloat) {
        if (!std::isfinite(v.d)) Throw(ErrorKind::kData, "cannot convert {} to numeric", v.d);
        text = fmt::format("{:.{}f}", v.d, to.scale);
      } else if (IsStringLike(f)) {
        text = trimmed();
      } else {
        break;
      }
      std::string r = NormalizeDecimal(text, to.scale);
      const size_t sign = r[0] == '-' ? 1 : 0;
      const size_t int_digits = std::min(r.find('.'), r.size()) - sign;
      if (int_digits > static_cast<size_t>(std::max(to.precision - to.scale, 1)) ||
          (to.precision == to.scale && r[sign] != '0')) {
        Throw(ErrorKind::kData, "numeric field overflow: value does not fit numeric({},{})", to.precision, to.scale);
      }
      return Value::String(std::move(r));
    }
    case TypeId::kBool: {
      if (IsIntegral(f) || f == TypeId::kBool) return Value::Bool(v.i != 0);
      if (IsStringLike(f)) {
        std::string s = trimmed();
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (s == "t" || s == "true" || s == "1" || s == "yes" || s == "y" || s == "on") return Value::Bool(true);
        if (s == "f" || s == "false" || s == "0" || s == "no" || s == "n" || s == "off") return Value::Bool(false);
        Throw(ErrorKind::kData, "invalid input syntax for type boolean: \"{}\"", v.s);
      }
      break;
    }
    case TypeId::kInt: {
      if (f == TypeId::kInt || f == TypeId::kBool) return Value::Int(v.i);
      if (f == TypeId::kUInt || f == TypeId::kBit) {
        if (v.i < 0) Overflow("bigint");
        return Value::Int(v.i);
      }
      if (f == TypeId::kDecimal) return Value::Int(ToInt64Checked(RescaleDecimal(v.dec, from.scale, 0)));
      if (f == TypeId::kDouble || f == TypeId::kFloat) {
        double r = std::nearbyint(v.d);
        if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0)) Overflow("bigint");
        return Value::Int(static_cast<int64_t>(r));
      }
      if (IsStringLike(f)) return Value::Int(ParseIntegral<int64_t>(trimmed(), v.s, "bigint"));
      break;
    }
    case TypeId::kUInt: {
      if (IsStringLike(f)) {  // up to 2^64-1 (kept as the bit pattern in Value::i)
        return Value::Int(static_cast<int64_t>(ParseIntegral<uint64_t>(trimmed(), v.s, "bigint unsigned")));
      }
      Value i = CastValue(v, from, SqlType{TypeId::kInt});
      if (i.i < 0) Overflow("bigint unsigned");
      return i;
    }
    case TypeId::kFloat:
    case TypeId::kDouble: {
      if (f == TypeId::kDouble || f == TypeId::kFloat) return Value::Double(v.d);
      if (f == TypeId::kInt || f == TypeId::kBool) return Value::Double(static_cast<double>(v.i));
      if (f == TypeId::kUInt || f == TypeId::kBit) return Value::Double(static_cast<double>(static_cast<uint64_t>(v.i)));
      std::string s = f == TypeId::kDecimal ? FormatDecimal(v.dec, from.scale) : trimmed();
      if (IsStringLike(f) || f == TypeId::kDecimal) {
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size()) {
          Throw(ErrorKind::kData, "invalid input syntax for type double precision: \"{}\"", s);
        }
        return Value::Double(d);
      }
      break;
    }
    case TypeId::kDecimal: {
      Int128 r;
      if (f == TypeId::kDecimal) {
        r = RescaleDecimal(v.dec, from.scale, to.scale);
      } else if (f == TypeId::kInt || f == TypeId::kBool) {
        r = CheckedMul128(v.i, Pow10(to.scale));
      } else if (f == TypeId::kUInt || f == TypeId::kBit) {
        r = CheckedMul128(static_cast<Int128>(static_cast<uint64_t>(v.i)), Pow10(to.scale));
      } else if (f == TypeId::kDouble || f == TypeId::kFloat) {
        if (!std::isfinite(v.d)) Throw(ErrorKind::kData, "cannot convert {} to numeric", v.d);
        r = ParseDecimal(fmt::format("{:.15g}", v.d), to.scale);
      } else if (IsStringLike(f)) {
        r = ParseDecimal(trimmed(), to.scale);
      } else {
        break;
      }
      if (to.precision < 38) {
        Int128 lim = Pow10(to.precision);
        if (r >= lim || r <= -lim) {
          Throw(ErrorKind::kData, "numeric field overflow: value does not fit numeric({},{})", to.precision, to.scale);
        }
      }
      return Value::Decimal(r);
    }
    case TypeId::kString:
    case TypeId::kBytes:
    case TypeId::kJson: return Value::String(IsStringLike(f) ? v.s : to_text());
    case TypeId::kDate:
      if (IsStringLike(f)) return Value::Int(ParseDate(trimmed()));
      if (f == TypeId::kDateTime || f == TypeId::kTimestamp) return Value::Int(FloorDiv(v.i, kMicrosPerDay));
      break;
    case TypeId::kDateTime:
    case TypeId::kTimestamp:
      if (IsStringLike(f)) return Value::Int(ParseDateTime(trimmed()));
      if (f == TypeId::kDate) return Value::Int(v.i * kMicrosPerDay);
      if (f == TypeId::kDateTime || f == TypeId::kTimestamp) return v;
      break;
    case TypeId::kTime:
      if (IsStringLike(f)) return Value::Int(ParseTime(trimmed()));
      if (f == TypeId::kDateTime || f == TypeId::kTimestamp) {
        return Value::Int(v.i - FloorDiv(v.i, kMicrosPerDay) * kMicrosPerDay);
      }
      break;
    default: break;
  }
  Throw(ErrorKind::kData, "cannot cast type {} to {}", TypeToString(from), TypeToString(to));
}

Value Eval(const Expr& e, const Row& row) {
  switch (e.kind) {
    case ExprKind::kColumn: return row[static_cast<size_t>(e.column)];
    case ExprKind::kConst: return e.constant;
    case ExprKind::kArith: {
      Value a = Eval(*e.args[0], row);
      if (e.op == 'n') {
        if (a.null) return a;
        switch (e.type.id) {
          case TypeId::kInt: return ArithInt('-', 0, a.i);
          case TypeId::kDecimal: return Value::Decimal(-a.dec);
          default: return Value::Double(-a.d);
        }
      }
      if (a.null) return a;
      Value b = Eval(*e.args[1], row);
      if (b.null) return b;
      const SqlType& ta = e.args[0]->type;
      const SqlType& tb = e.args[1]->type;
      if (ta.id == TypeId::kDate) {  // date +/- int, date - date
        if (tb.id == TypeId::kDate) return Value::Int(a.i - b.i);
        return Value::Int(ArithInt(e.op, a.i, b.i).i);
      }
      if (tb.id == TypeId::kDate) return ArithInt('+', a.i, b.i);  // int + date
      switch (e.type.id) {
        case TypeId::kInt: return ArithInt(e.op, a.i, b.i);
        case TypeId::kDecimal: return ArithDecimal(e.op, a.dec, ta.scale, b.dec, tb.scale, e.type.scale);
        default: return ArithDouble(e.op, a.d, b.d);
      }
    }
    case ExprKind::kCompare: {
      if (e.op == 'd' || e.op == 'e') {  // IS [NOT] DISTINCT FROM: NULLs compare equal
        Value a = Eval(*e.args[0], row), b = Eval(*e.args[1], row);
        bool same = (a.null && b.null) || (!a.null && !b.null && CompareValues(a, b, e.args[0]->type) == 0);
        return Value::Bool(same == (e.op == 'e'));
      }
      Value a = Eval(*e.args[0], row);
      if (a.null) return Value::Null();
      Value b = Eval(*e.args[1], row);
      if (b.null) return Value::Null();
      int c = CompareValues(a, b, e.args[0]->type);
      switch (e.op) {
        case '=': return Value::Bool(c == 0);
        case '!': return Value::Bool(c != 0);
        case '<': return Value::Bool(c < 0);
        case '>': return Value::Bool(c > 0);
        case 'l': return Value::Bool(c <= 0);
        case 'g': return Value::Bool(c >= 0);
      }
      CheckFailed(__FILE__, __LINE__, "unreachable", "bad compare op");
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      const bool is_and = e.kind == ExprKind::kAnd;
      bool saw_null = false;
      for (const auto& x : e.args) {
        Value v = Eval(*x, row);
        if (v.null) {
          saw_null = true;
        } else if ((v.i != 0) != is_and) {
          return Value::Bool(!is_and);
        }
      }
      return saw_null ? Value::Null() : Value::Bool(is_and);
    }
    case ExprKind::kNot: {
      Value v = Eval(*e.args[0], row);
      return v.null ? v : Value::Bool(v.i == 0);
    }
    case ExprKind::kIsNull: return Value::Bool(Eval(*e.args[0], row).null != e.negated);
    case ExprKind::kCase: {
      size_t n = e.args.size() - (e.has_else ? 1 : 0);
      for (size_t k = 0; k + 1 < n; k += 2) {
        if (IsTrue(Eval(*e.args[k], row))) return Eval(*e.args[k + 1], row);
      }
      return e.has_else ? Eval(*e.args.back(), row) : Value::Null();
    }
    case ExprKind::kCoalesce:
      for (const auto& x : e.args) {
        Value v = Eval(*x, row);
        if (!v.null) return v;
      }
      return Value::Null();
    case ExprKind::kNullIf: {
      Value a = Eval(*e.args[0], row);
      if (a.null) return a;
      Value b = Eval(*e.args[1], row);
      if (!b.null && CompareValues(a, b, e.args[0]->type) == 0) return Value::Null();
      return a;
    }
    case ExprKind::kCast: return CastValue(Eval(*e.args[0], row), e.args[0]->type, e.type);
    case ExprKind::kIn: {
      Value a = Eval(*e.args[0], row);
      if (a.null) return a;
      bool saw_null = false;
      for (size_t k = 1; k < e.args.size(); ++k) {
        Value b = Eval(*e.args[k], row);
        if (b.null) {
          saw_null = true;
        } else if (CompareValues(a, b, e.args[0]->type) == 0) {
          return Value::Bool(!e.negated);
        }
      }
      return saw_null ? Value::Null() : Value::Bool(e.negated);
    }
    case ExprKind::kLike: {
      Value a = Eval(*e.args[0], row);
      if (a.null) return a;
      Value p = Eval(*e.args[1], row);
      if (p.null) return p;
      if (e.case_insensitive && !IsAscii(a.s)) {  // ILIKE beyond ASCII: both sides lower-cased
        return Value::Bool(LikeMatch(MapCase(a.s, false), MapCase(p.s, false), false) != e.negated);
      }
      return Value::Bool(LikeMatch(a.s, p.s, e.case_insensitive) != e.negated);
    }
    case ExprKind::kFunc: return EvalFunc(e, row);
  }
  CheckFailed(__FILE__, __LINE__, "unreachable", "bad expression kind");
}

}  // namespace sluice::sql
