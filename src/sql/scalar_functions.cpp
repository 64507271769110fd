#include "sql/scalar_functions.h"

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fmt/format.h>
#include <openssl/evp.h>
#include <pcre2.h>

#include "common/error.h"
#include "event/civil_time.h"
#include "sql/value.h"

namespace sluice::sql {

namespace {

locale_t Utf8Locale() {
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return utf8;
}

/// The code point at s[i] (its length in `n`); a byte that starts no valid sequence: itself, n 1,
/// valid false.
uint32_t DecodeUtf8(std::string_view s, size_t i, size_t& n, bool& valid) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    n = 1;
    valid = true;
    return c;
  }
  n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  uint32_t cp = n == 4 ? c & 0x07u : n == 3 ? c & 0x0Fu : c & 0x1Fu;
  valid = n > 1 && i + n <= s.size() && c < 0xF8;
  for (size_t k = 1; valid && k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    valid = (b & 0xC0) == 0x80;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (!valid) n = 1;
  return valid ? cp : c;
}

void AppendUtf8(std::string& out, uint32_t m) {
  if (m < 0x80) {
    out.push_back(static_cast<char>(m));
  } else if (m < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (m >> 6)));
    out.push_back(static_cast<char>(0x80 | (m & 0x3F)));
  } else if (m < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (m >> 12)));
    out.push_back(static_cast<char>(0x80 | ((m >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (m & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (m >> 18)));
    out.push_back(static_cast<char>(0x80 | ((m >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((m >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (m & 0x3F)));
  }
}

/// Appends code point `cp` (from `s` at `i`, `n` bytes, `valid`) case-mapped.
void AppendMapped(std::string& out, std::string_view s, size_t i, size_t n, bool valid, uint32_t cp, bool upper) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(upper ? std::toupper(static_cast<int>(cp)) : std::tolower(static_cast<int>(cp))));
  } else if (!valid || Utf8Locale() == static_cast<locale_t>(nullptr)) {
    out.append(s.substr(i, n));
  } else {
    AppendUtf8(out, static_cast<uint32_t>(upper ? towupper_l(static_cast<wint_t>(cp), Utf8Locale())
                                                : towlower_l(static_cast<wint_t>(cp), Utf8Locale())));
  }
}

/// Byte offsets of the characters of `s` (and s.size() at the end); stray continuation bytes at
/// the start count as a character (not UTF-8: still at least one character per non-empty text).
std::vector<size_t> CharStarts(std::string_view s) {
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 0 || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) at.push_back(i);
  }
  at.push_back(s.size());
  return at;
}

}  // namespace

std::string MapCase(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0, n = 0; i < s.size(); i += n) {
    bool valid = false;
    const uint32_t cp = DecodeUtf8(s, i, n, valid);
    AppendMapped(out, s, i, n, valid, cp, upper);
  }
  return out;
}

std::string InitCap(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_word = false;
  for (size_t i = 0, n = 0; i < s.size(); i += n) {
    bool valid = false;
    const uint32_t cp = DecodeUtf8(s, i, n, valid);
    const bool alnum = cp < 0x80 ? std::isalnum(static_cast<int>(cp)) != 0
                                 : valid && Utf8Locale() != static_cast<locale_t>(nullptr) &&
                                       iswalnum_l(static_cast<wint_t>(cp), Utf8Locale()) != 0;
    AppendMapped(out, s, i, n, valid, cp, alnum && !in_word);
    in_word = alnum;
  }
  return out;
}

std::string Pad(std::string_view s, int64_t length, std::string_view fill, bool left) {
  if (length <= 0) return {};
  if (length > (256 << 20)) Throw(ErrorKind::kData, "requested length too large");
  const auto at = CharStarts(s);
  const size_t have = at.size() - 1, want = static_cast<size_t>(length);
  if (have >= want) return std::string(s.substr(0, at[want]));  // cut to `length` characters
  if (fill.empty()) return std::string(s);
  const auto fat = CharStarts(fill);
  const size_t fill_chars = fat.size() - 1;
  std::string pad;
  for (size_t k = 0; k < want - have; ++k) {
    const size_t c = k % fill_chars;
    pad.append(fill.substr(fat[c], fat[c + 1] - fat[c]));
  }
  return left ? pad + std::string(s) : std::string(s) + pad;
}

std::string ReverseChars(std::string_view s) {
  const auto at = CharStarts(s);
  std::string out;
  out.reserve(s.size());
  for (size_t c = at.size() - 1; c-- > 0;) out.append(s.substr(at[c], at[c + 1] - at[c]));
  return out;
}

std::string Repeat(std::string_view s, int64_t n) {
  if (n <= 0 || s.empty()) return {};
  if (static_cast<uint64_t>(n) > (uint64_t{256} << 20) / s.size()) Throw(ErrorKind::kData, "requested length too large");
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) out.append(s);
  return out;
}

// ---- regular expressions (PCRE2, which shares PostgreSQL's syntax for what views use) ----

namespace {

struct CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

/// Compiled (and JIT-compiled where the platform has it) patterns, shared by every view (patterns
/// are constants of the views' text).
const pcre2_code* Compiled(const std::string& pattern, bool icase) {
  static std::mutex mu;
  static std::map<std::pair<std::string, bool>, std::unique_ptr<pcre2_code, CodeFree>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[{pattern, icase}];
  if (!slot) {
    int err = 0;
    PCRE2_SIZE at = 0;
    const uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (icase ? PCRE2_CASELESS : 0u);
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err,
                                     &at, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      Throw(ErrorKind::kData, "invalid regular expression \"{}\": {} at offset {}", pattern,
            reinterpret_cast<const char*>(msg), at);
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // no JIT: interpreted, same results
    slot.reset(code);
  }
  return slot.get();
}

/// Finds the next match of `code` in `s` from byte `start`; false when there is none. Backtracking
/// is bounded (PCRE2's match and heap limits): a pattern too costly for a value is an error, not a
/// stall or a crash.
bool Search(const pcre2_code* code, std::string_view s, size_t start, pcre2_match_data* md) {
  // A JIT stack of up to 8 MiB per thread (PCRE2's own default is 32 KiB: long values would fail).
  struct Context {
    pcre2_jit_stack* stack = pcre2_jit_stack_create(32 << 10, 8 << 20, nullptr);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    Context() {
      if (stack && context) pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~Context() {
      pcre2_match_context_free(context);
      pcre2_jit_stack_free(stack);
    }
  };
  static thread_local Context ctx;
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), start, 0, md, ctx.context);
  if (rc >= 0) return true;
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  PCRE2_UCHAR msg[256];
  pcre2_get_error_message(rc, msg, sizeof msg);
  Throw(ErrorKind::kData, "regular expression match failed on a value of {} bytes: {}", s.size(),
        reinterpret_cast<const char*>(msg));
}

}  // namespace

void CheckRegexp(const std::string& pattern, std::string_view flags) {
  for (char f : flags) {
    if (f != 'g' && f != 'i' && f != 'c') Throw(ErrorKind::kData, "invalid regular expression option: \"{}\"", f);
  }
  Compiled(pattern, flags.find('i') != std::string_view::npos);
}

std::string RegexpReplace(std::string_view s, const std::string& pattern, std::string_view replacement,
                          std::string_view flags) {
  const bool global = flags.find('g') != std::string_view::npos;
  const pcre2_code* code = Compiled(pattern, flags.find('i') != std::string_view::npos);
  std::unique_ptr<pcre2_match_data, MatchDataFree> md(pcre2_match_data_create_from_pattern(code, nullptr));
  std::string out;
  size_t pos = 0;  // copied up to here
  size_t from = 0;  // next search from here
  while (from <= s.size() && Search(code, s, from, md.get())) {
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const uint32_t groups = pcre2_get_ovector_count(md.get());
    const size_t b = ov[0], e = ov[1];
    out.append(s.substr(pos, b - pos));
    for (size_t k = 0; k < replacement.size(); ++k) {
      const char c = replacement[k];
      if (c == '\\' && k + 1 < replacement.size()) {
        const char d = replacement[k + 1];
        if ((d >= '1' && d <= '9') || d == '&') {
          const uint32_t g = d == '&' ? 0 : static_cast<uint32_t>(d - '0');
          if (g < groups && ov[2 * g] != PCRE2_UNSET) out.append(s.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
          ++k;
          continue;
        }
        if (d == '\\') {
          out.push_back('\\');
          ++k;
          continue;
        }
      }
      out.push_back(c);
    }
    pos = e;
    if (!global) break;
    if (e == b) {  // an empty match: the next search starts one character on
      if (e >= s.size()) break;
      size_t n = 1;
      while (e + n < s.size() && (static_cast<unsigned char>(s[e + n]) & 0xC0) == 0x80) ++n;
      from = e + n;
    } else {
      from = e;
    }
  }
  out.append(s.substr(std::min(pos, s.size())));
  return out;
}

bool RegexpMatches(std::string_view s, const std::string& pattern, bool icase) {
  const pcre2_code* code = Compiled(pattern, icase);
  std::unique_ptr<pcre2_match_data, MatchDataFree> md(pcre2_match_data_create_from_pattern(code, nullptr));
  return Search(code, s, 0, md.get());
}

std::string Md5Hex(std::string_view s) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), digest, &n, EVP_md5(), nullptr) != 1) {
    Throw(ErrorKind::kInternal, "md5: OpenSSL's digest failed");
  }
  std::string hex;
  hex.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

// ---- to_char ----

namespace {

constexpr const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};
constexpr const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

/// `name` in the case of the pattern that asked for it (MONTH, Month, month), blank-padded to
/// `width` unless fill mode.
std::string Named(std::string_view name, std::string_view pattern, size_t width, bool fm) {
  std::string s(name);
  if (std::isupper(static_cast<unsigned char>(pattern[1]))) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  } else if (std::islower(static_cast<unsigned char>(pattern[0]))) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!fm && s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(s[i])) != p[i]) return false;
  }
  return true;
}

}  // namespace

void CheckToCharFormat(std::string_view format) {
  bool quoted = false;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '\\' && i + 1 < format.size()) {
      ++i;
    } else if (format[i] == '"') {
      quoted = !quoted;
    }
  }
  if (quoted) Throw(ErrorKind::kData, "to_char: unterminated quoted text in format \"{}\"", format);
}

void IsoWeek(int64_t days, int64_t& iso_year, int64_t& week) {
  const int64_t thursday = days + 3 - (((days % 7) + 7 + 3) % 7);  // of the same Monday-based week
  unsigned m, d;
  CivilFromDays(thursday, iso_year, m, d);
  week = (thursday - DaysFromCivil(iso_year, 1, 1)) / 7 + 1;
}

std::string ToChar(int64_t us, std::string_view f) {
  const int64_t days = us >= 0 ? us / kMicrosPerDay : -((-us + kMicrosPerDay - 1) / kMicrosPerDay);
  const int64_t rem = us - days * kMicrosPerDay;
  int64_t y;
  unsigned mo, d;
  CivilFromDays(days, y, mo, d);
  const int64_t hour = rem / 3600000000LL, minute = rem / 60000000 % 60, second = rem / 1000000 % 60;
  const int64_t micro = rem % 1000000;
  const int64_t dow = ((days % 7) + 7 + 4) % 7;  // Sunday = 0
  const int64_t isodow = dow == 0 ? 7 : dow;
  const int64_t doy = days - DaysFromCivil(y, 1, 1) + 1;
  int64_t iy, iw;
  IsoWeek(days, iy, iw);
  std::string out;
  auto num = [&](int64_t v, int width, bool fm) {
    out += fm ? std::to_string(v) : fmt::format("{:0{}}", v, v < 0 ? width + 1 : width);
  };
  for (size_t i = 0; i < f.size();) {
    const std::string_view r = f.substr(i);
    bool fm = false;
    std::string_view p = r;
    if (StartsWithNoCase(p, "FM")) {
      fm = true;
      p.remove_prefix(2);
    }
    const size_t skip = fm ? 2 : 0;
    auto take = [&](std::string_view pat) {
      if (!StartsWithNoCase(p, pat)) return false;
      i += skip + pat.size();
      return true;
    };
    if (take("HH24")) { num(hour, 2, fm); continue; }
    if (take("HH12") || take("HH")) { num(hour % 12 == 0 ? 12 : hour % 12, 2, fm); continue; }
    if (take("MI")) { num(minute, 2, fm); continue; }
    if (take("SS")) { num(second, 2, fm); continue; }
    if (take("MS")) { num(micro / 1000, 3, fm); continue; }
    if (take("US")) { num(micro, 6, fm); continue; }
    if (p.substr(0, 2) == "AM" || p.substr(0, 2) == "PM") { i += skip + 2; out += hour < 12 ? "AM" : "PM"; continue; }
    if (p.substr(0, 2) == "am" || p.substr(0, 2) == "pm") { i += skip + 2; out += hour < 12 ? "am" : "pm"; continue; }
    if (take("IYYY")) { num(iy, 4, fm); continue; }
    if (take("YYYY")) { num(y, 4, fm); continue; }
    if (take("YYY")) { num(((y % 1000) + 1000) % 1000, 3, fm); continue; }
    if (take("YY")) { num(((y % 100) + 100) % 100, 2, fm); continue; }
    if (take("Y")) { num(((y % 10) + 10) % 10, 1, fm); continue; }
    if (StartsWithNoCase(p, "MONTH")) { out += Named(kMonths[mo - 1], p, 9, fm); i += skip + 5; continue; }
    if (StartsWithNoCase(p, "MON")) { out += Named(std::string_view(kMonths[mo - 1]).substr(0, 3), p, 3, fm); i += skip + 3; continue; }
    if (take("MM")) { num(mo, 2, fm); continue; }
    if (StartsWithNoCase(p, "DAY")) { out += Named(kDays[dow], p, 9, fm); i += skip + 3; continue; }
    if (StartsWithNoCase(p, "DY")) { out += Named(std::string_view(kDays[dow]).substr(0, 3), p, 3, fm); i += skip + 2; continue; }
    if (take("DDD")) { num(doy, 3, fm); continue; }
    if (take("DD")) { num(d, 2, fm); continue; }
    if (take("ID")) { num(isodow, 1, fm); continue; }
    if (take("IW")) { num(iw, 2, fm); continue; }
    if (take("WW")) { num((doy - 1) / 7 + 1, 2, fm); continue; }
    if (take("D")) { num(dow + 1, 1, fm); continue; }
    if (take("Q")) { num((mo - 1) / 3 + 1, 1, fm); continue; }
    if (r[0] == '"') {  // quoted text, \" inside
      size_t k = 1;
      for (; k < r.size() && r[k] != '"'; ++k) {
        if (r[k] == '\\' && k + 1 < r.size()) ++k;
        out.push_back(r[k]);
      }
      i += std::min(k + 1, r.size());
      continue;
    }
    if (r[0] == '\\' && r.size() > 1) {
      out.push_back(r[1]);
      i += 2;
      continue;
    }
    out.push_back(r[0]);
    ++i;
  }
  return out;
}

}  // namespace sluice::sql
