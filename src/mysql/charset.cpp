#include "mysql/charset.h"

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>

#include "common/error.h"

namespace sluice::mysql {
namespace {

// Charset of collation ids 1..255 (MySQL 8 and MariaDB 10.x agree on these).
constexpr std::array<const char*, 256> BuildLowCollations() {
  std::array<const char*, 256> t{};
  const char* base[100] = {
      nullptr,   "big5",    "latin2",  "dec8",     "cp850",   "latin1",  "hp8",     "koi8r",
      "latin1",  "latin2",  "swe7",    "ascii",    "ujis",    "sjis",    "cp1251",  "latin1",
      "hebrew",  nullptr,   "tis620",  "euckr",    "latin7",  "latin2",  "koi8u",   "cp1251",
      "gb2312",  "greek",   "cp1250",  "latin2",   "gbk",     "cp1257",  "latin5",  "latin1",
      "armscii8", "utf8mb3", "cp1250", "ucs2",     "cp866",   "keybcs2", "macce",   "macroman",
      "cp852",   "latin7",  "latin7",  "macce",    "cp1250",  "utf8mb4", "utf8mb4", "latin1",
      "latin1",  "latin1",  "cp1251",  "cp1251",   "cp1251",  "macroman", "utf16",  "utf16",
      "utf16le", "cp1256",  "cp1257",  "cp1257",   "utf32",   "utf32",   "utf16le", "binary",
      "armscii8", "ascii",  "cp1250",  "cp1256",   "cp866",   "dec8",    "greek",   "hebrew",
      "hp8",     "keybcs2", "koi8r",   "koi8u",    "utf8mb3", "latin2",  "latin5",  "latin7",
      "cp850",   "cp852",   "swe7",    "utf8mb3",  "big5",    "euckr",   "gb2312",  "gbk",
      "sjis",    "tis620",  "ucs2",    "ujis",     "geostd8", "geostd8", "latin1",  "cp932",
      "cp932",   "eucjpms", "eucjpms", "cp1250"};
  for (int i = 0; i < 100; ++i) t[i] = base[i];
  for (int i = 101; i <= 124; ++i) t[i] = "utf16";
  for (int i = 128; i <= 151; ++i) t[i] = "ucs2";
  t[159] = "ucs2";
  for (int i = 160; i <= 183; ++i) t[i] = "utf32";
  for (int i = 192; i <= 215; ++i) t[i] = "utf8mb3";
  t[223] = "utf8mb3";
  for (int i = 224; i <= 247; ++i) t[i] = "utf8mb4";
  t[248] = t[249] = t[250] = "gb18030";
  t[255] = "utf8mb4";
  return t;
}
constexpr std::array<const char*, 256> kLowCollations = BuildLowCollations();

// MySQL latin1 (= cp1252) bytes 0x80..0x9F; the undefined five map to C1 controls as in MySQL.
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

struct IconvName {
  const char* mysql;
  const char* iconv;
};
constexpr IconvName kIconvNames[] = {
    {"big5", "BIG5"},          {"latin2", "ISO-8859-2"},   {"dec8", "DEC-MCS"},
    {"cp850", "CP850"},        {"hp8", "HP-ROMAN8"},       {"koi8r", "KOI8-R"},
    {"swe7", "ISO646-SE"},     {"ujis", "EUC-JP"},         {"sjis", "SHIFT_JIS"},
    {"cp1251", "CP1251"},      {"hebrew", "ISO-8859-8"},   {"tis620", "TIS-620"},
    {"euckr", "EUC-KR"},       {"latin7", "ISO-8859-13"},  {"koi8u", "KOI8-U"},
    {"gb2312", "GB2312"},      {"greek", "ISO-8859-7"},    {"cp1250", "CP1250"},
    {"gbk", "GBK"},            {"cp1257", "CP1257"},       {"latin5", "ISO-8859-9"},
    {"armscii8", "ARMSCII-8"}, {"ucs2", "UCS-2BE"},        {"cp866", "CP866"},
    {"keybcs2", "CP895"},      {"macce", "MAC-CENTRALEUROPE"}, {"macroman", "MACINTOSH"},
    {"cp852", "CP852"},        {"utf16", "UTF-16BE"},      {"utf16le", "UTF-16LE"},
    {"cp1256", "CP1256"},      {"utf32", "UTF-32BE"},      {"geostd8", "GEORGIAN-PS"},
    {"cp932", "CP932"},        {"eucjpms", "EUC-JP-MS"},   {"gb18030", "GB18030"},
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}


constexpr char kReplacement[] = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence starting at p (0 when invalid).
size_t Utf8SeqLen(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (n >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && p[1] >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;
    if (c == 0xF4 && p[1] >= 0x90) return 0;
    return 4;
  }
  return 0;
}

// Index of the first non-ASCII byte (fast path, 8 bytes at a time).
size_t AsciiPrefix(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ull) break;
    i += 8;
  }
  while (i < n && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

class IconvCache {
 public:
  ~IconvCache() {
    for (auto& [name, cd] : cds_) iconv_close(cd);
  }
  iconv_t Get(const char* name) {
    auto it = cds_.find(name);
    if (it != cds_.end()) return it->second;
    iconv_t cd = iconv_open("UTF-8", name);
    cds_.emplace(name, cd);
    return cd;
  }

 private:
  std::unordered_map<std::string, iconv_t> cds_;
};

void AppendViaIconv(const Charset& cs, std::string_view in, std::string& out) {
  thread_local IconvCache cache;
  iconv_t cd = cache.Get(cs.iconv_name);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    // No converter on this system: keep what is valid UTF-8, replace the rest.
    AppendSanitizedUtf8(in, out);
    return;
  }
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset shift state
  char buf[1024];
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  while (src_left > 0) {
    char* dst = buf;
    size_t dst_left = sizeof buf;
    size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
    out.append(buf, static_cast<size_t>(dst - buf));
    if (r == static_cast<size_t>(-1)) {
      if (errno == E2BIG) continue;
      // EILSEQ / EINVAL: replace one byte and go on.
      out.append(kReplacement, 3);
      ++src;
      --src_left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
    }
  }
  char* dst = buf;
  size_t dst_left = sizeof buf;
  iconv(cd, nullptr, nullptr, &dst, &dst_left);
  out.append(buf, static_cast<size_t>(dst - buf));
}

}  // namespace

void AppendCodePoint(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

Charset ResolveCharset(std::string_view name) {
  if (name.empty() || EqualsIgnoreCase(name, "utf8mb4") || EqualsIgnoreCase(name, "utf8mb3") ||
      EqualsIgnoreCase(name, "utf8") || EqualsIgnoreCase(name, "ascii")) {
    return Charset{CharsetKind::kUtf8, name.empty() ? std::string_view("utf8mb4") : name, ""};
  }
  if (EqualsIgnoreCase(name, "latin1")) return Charset{CharsetKind::kLatin1, "latin1", ""};
  if (EqualsIgnoreCase(name, "binary")) return Charset{CharsetKind::kBinary, "binary", ""};
  for (const auto& n : kIconvNames) {
    if (EqualsIgnoreCase(name, n.mysql)) return Charset{CharsetKind::kIconv, n.mysql, n.iconv};
  }
  // Unknown to us: let iconv try the name as given (static storage needed for iconv_name).
  thread_local std::unordered_map<std::string, std::string> unknown;
  auto& stored = unknown.emplace(std::string(name), std::string(name)).first->second;
  return Charset{CharsetKind::kIconv, stored, stored.c_str()};
}

std::string_view CharsetOfCollation(uint32_t id) {
  if (id < 256) return kLowCollations[id] ? kLowCollations[id] : "";
  if (id >= 256 && id <= 327) return "utf8mb4";  // MySQL 8 utf8mb4_0900_* and friends
  if (id >= 576 && id <= 607) return "utf8mb3";  // MariaDB extra UCA collations
  if (id >= 608 && id <= 639) return "utf8mb4";
  if (id >= 640 && id <= 671) return "ucs2";
  if (id >= 672 && id <= 735) return "utf16";
  if (id >= 736 && id <= 767) return "utf32";
  if (id >= 1024 && id < 2048) {  // MariaDB NO PAD variants: id = 1024 + base id
    std::string_view base = CharsetOfCollation(id - 1024);
    return base;
  }
  if (id >= 2048 && id < 2304) return "utf8mb3";  // MariaDB 10.10+ uca1400 collations
  if (id >= 2304 && id < 2560) return "utf8mb4";
  if (id >= 2560 && id < 2816) return "ucs2";
  if (id >= 2816 && id < 3072) return "utf16";
  if (id >= 3072 && id < 3328) return "utf32";
  return "";
}

bool IsValidUtf8(std::string_view s) {
  size_t i = AsciiPrefix(s);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    size_t n = Utf8SeqLen(p + i, s.size() - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void AppendSanitizedUtf8(std::string_view in, std::string& out) {
  size_t i = AsciiPrefix(in);
  if (i == in.size()) {
    out.append(in.data(), in.size());
    return;
  }
  out.append(in.data(), i);
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  while (i < in.size()) {
    size_t n = Utf8SeqLen(p + i, in.size() - i);
    if (n == 0) {
      out.append(kReplacement, 3);
      ++i;
    } else {
      out.append(in.data() + i, n);
      i += n;
    }
  }
}

void AppendAsUtf8(const Charset& cs, std::string_view in, std::string& out) {
  switch (cs.kind) {
    case CharsetKind::kUtf8:
    case CharsetKind::kBinary:
      if (cs.kind == CharsetKind::kBinary) {
        out.append(in.data(), in.size());
      } else {
        AppendSanitizedUtf8(in, out);
      }
      return;
    case CharsetKind::kLatin1: {
      size_t i = AsciiPrefix(in);
      out.append(in.data(), i);
      for (; i < in.size(); ++i) {
        auto c = static_cast<unsigned char>(in[i]);
        if (c < 0x80) {
          out.push_back(static_cast<char>(c));
        } else if (c < 0xA0) {
          AppendCodePoint(kCp1252High[c - 0x80], out);
        } else {
          AppendCodePoint(c, out);
        }
      }
      return;
    }
    case CharsetKind::kIconv:
      AppendViaIconv(cs, in, out);
      return;
  }
}

}  // namespace sluice::mysql
