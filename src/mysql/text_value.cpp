#include "mysql/text_value.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/error.h"

namespace sluice::mysql {


namespace {

[[noreturn]] void Bad(const ColumnSchema& col, std::string_view text) {
  Throw(ErrorKind::kData, "column '{}' ({}): cannot parse value '{}' read from the source", col.name,
        col.column_type, std::string(text.substr(0, 64)));
}

// Parses digits [p, e) into v; returns false on a non-digit.
bool Digits(std::string_view s, size_t p, size_t n, int64_t* v) {
  if (p + n > s.size()) return false;
  int64_t x = 0;
  for (size_t i = p; i < p + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return true;
}

// Fraction ".ffffff" at p (optional) -> micros.
int64_t Fraction(std::string_view s, size_t p) {
  if (p >= s.size() || s[p] != '.') return 0;
  int64_t us = 0;
  int digits = 0;
  for (size_t i = p + 1; i < s.size() && digits < 6; ++i, ++digits) {
    if (s[i] < '0' || s[i] > '9') break;
    us = us * 10 + (s[i] - '0');
  }
  for (; digits < 6; ++digits) us *= 10;
  return us;
}

bool ParseDate(std::string_view s, int64_t* days) {
  int64_t y, m, d;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !Digits(s, 0, 4, &y) || !Digits(s, 5, 2, &m) ||
      !Digits(s, 8, 2, &d)) {
    return false;
  }
  if (m == 0 || d == 0) {
    *days = kZeroDate;
  } else {
    *days = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  }
  return true;
}

bool ParseDateTime(std::string_view s, int64_t* micros) {
  int64_t days;
  if (!ParseDate(s, &days)) return false;
  int64_t h = 0, mi = 0, se = 0;
  if (s.size() >= 19) {
    if (!Digits(s, 11, 2, &h) || !Digits(s, 14, 2, &mi) || !Digits(s, 17, 2, &se)) return false;
  }
  if (days == kZeroDate) {
    *micros = kZeroDate;
    return true;
  }
  *micros = ((days * 24 + h) * 60 + mi) * 60 * 1000000 + se * 1000000 + Fraction(s, 19);
  return true;
}

bool ParseTime(std::string_view s, int64_t* micros) {
  bool neg = false;
  size_t p = 0;
  if (!s.empty() && s[0] == '-') neg = true, p = 1;
  size_t c1 = s.find(':', p);
  if (c1 == std::string_view::npos) return false;
  int64_t h, m, sec;
  if (!Digits(s, p, c1 - p, &h) || !Digits(s, c1 + 1, 2, &m) || !Digits(s, c1 + 4, 2, &sec)) return false;
  int64_t us = ((h * 60 + m) * 60 + sec) * 1000000 + Fraction(s, c1 + 6);
  *micros = neg ? -us : us;
  return true;
}

}  // namespace

void AppendTextValue(const ColumnSchema& col, std::string_view text, ColumnVector& out) {
  switch (col.kind) {
    case ValueKind::kInt: {
      int64_t v;
      auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size()) Bad(col, text);
      out.AppendInt(v);
      return;
    }
    case ValueKind::kUInt: {
      uint64_t v;
      auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size()) Bad(col, text);
      out.AppendUInt(v);
      return;
    }
    case ValueKind::kFloat:
    case ValueKind::kDouble: {
      // strtof/strtod (not from_chars: subnormals must parse, as MySQL prints them); a stack copy
      // gives the terminating NUL without allocating.
      char buf[128];
      if (text.size() >= sizeof buf) Bad(col, text);
      std::memcpy(buf, text.data(), text.size());
      buf[text.size()] = '\0';
      char* end;
      double d = col.kind == ValueKind::kFloat ? static_cast<double>(std::strtof(buf, &end)) : std::strtod(buf, &end);
      if (end != buf + text.size()) Bad(col, text);
      out.AppendDouble(d);
      return;
    }
    case ValueKind::kBit: {
      // The text protocol sends BIT(n) as ceil(n/8) big-endian bytes.
      uint64_t v = 0;
      for (unsigned char c : text) v = (v << 8) | c;
      out.AppendUInt(v);
      return;
    }
    case ValueKind::kDate: {
      int64_t d;
      if (!ParseDate(text, &d)) Bad(col, text);
      out.AppendInt(d);
      return;
    }
    case ValueKind::kDateTime:
    case ValueKind::kTimestamp: {
      int64_t us;
      if (!ParseDateTime(text, &us)) Bad(col, text);
      // A zero TIMESTAMP is stored as 0 (see ValueKind::kTimestamp).
      if (col.kind == ValueKind::kTimestamp && us == kZeroDate) us = 0;
      out.AppendInt(us);
      return;
    }
    case ValueKind::kTime: {
      int64_t us;
      if (!ParseTime(text, &us)) Bad(col, text);
      out.AppendInt(us);
      return;
    }
    case ValueKind::kDecimal:
    case ValueKind::kString:
    case ValueKind::kBytes:
    case ValueKind::kJson:
    case ValueKind::kGeometry:
      out.AppendBytes(text);
      return;
  }
}

}  // namespace sluice::mysql
