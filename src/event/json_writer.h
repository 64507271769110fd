#pragma once
/// A small append-only JSON writer for the Kafka / `--output jsonl` boundary, tuned for the
/// Debezium encoder: it writes straight into one reusable byte buffer, never allocates in steady
/// state and formats numbers the way Debezium's JVM stack (Kafka's JsonConverter over Jackson)
/// prints them, so that our bytes can be compared with Debezium's field by field.
///
/// It does not track structure: the caller writes `{`, `,` and keys itself (the encoder knows its
/// shapes; checking them per byte would cost more than the writing).

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice::json {

namespace internal {

/// 1 for bytes that can be copied into a JSON string verbatim: printable ASCII except `"` and `\`.
struct SafeTable {
  bool v[256];
  constexpr SafeTable() : v() {
    for (int c = 0; c < 256; ++c) v[c] = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
  }
};
inline constexpr SafeTable kSafe{};

inline constexpr char kHexUpper[] = "0123456789ABCDEF";
inline constexpr char kHexLower[] = "0123456789abcdef";
inline constexpr char kBase64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
inline constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 of every 12-bit value as two characters: one table lookup per two output characters.
struct Base64Pairs {
  char v[4096 * 2];
  constexpr explicit Base64Pairs(const char* alphabet) : v() {
    for (int i = 0; i < 4096; ++i) {
      v[2 * i] = alphabet[i >> 6];
      v[2 * i + 1] = alphabet[i & 63];
    }
  }
};
inline constexpr Base64Pairs kBase64StdPairs{kBase64Std};
inline constexpr Base64Pairs kBase64UrlPairs{kBase64Url};

#if defined(__SSE2__)
/// Bit i set when byte i of `v` is not kSafe: a signed compare with 0x20 catches both the control
/// characters and every byte >= 0x80 (negative as int8).
inline unsigned UnsafeMask(__m128i v) {
  const __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return static_cast<unsigned>(_mm_movemask_epi8(bad));
}
#endif

/// Length of the well-formed UTF-8 sequence at `p` (Unicode 15, table 3-7), or 0 when the bytes
/// at `p` do not start one. `*subpart` receives how many bytes one U+FFFD replaces (>= 1), as
/// java.lang.String(byte[], UTF_8) decides it (what Debezium does to column bytes): the maximal
/// subpart (Unicode's "best practice"), except that an encoded UTF-16 surrogate (ED A0..BF xx)
/// is replaced as a whole, and ED A0..BF counts as a prefix (Java checks surrogates after
/// decoding). Verified against OpenJDK 17 on 100k random byte strings.
inline size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end, size_t* subpart) {
  const unsigned char c = p[0];
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *subpart = 1;  // 0x80..0xC1, 0xF5..0xFF: never a valid lead byte
    return 0;
  }
  if (p + 1 >= end || p[1] < lo || p[1] > hi) {
    *subpart = 1;
    return 0;
  }
  for (size_t i = 2; i < need; ++i) {
    if (p + i >= end || p[i] < 0x80 || p[i] > 0xBF) {
      *subpart = i;
      return 0;
    }
  }
  if (c == 0xED && p[1] >= 0xA0) {  // U+D800..U+DFFF: a surrogate is not a character
    *subpart = 3;
    return 0;
  }
  return need;
}

inline constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline constexpr uint64_t kPow10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
                                       10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
                                       100000000000ULL, 1000000000000ULL, 10000000000000ULL,
                                       100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
                                       100000000000000000ULL, 1000000000000000000ULL,
                                       10000000000000000000ULL};

/// Number of decimal digits of `v` (1 for 0): log10 estimated from the bit width, corrected by
/// one comparison.
[[gnu::always_inline]] inline size_t DigitCount(uint64_t v) {
  const auto bits = static_cast<size_t>(64 - __builtin_clzll(v | 1));
  const size_t t = (bits * 1233) >> 12;  // 1233 / 4096 ~ log10(2)
  return t + 1 - static_cast<size_t>((v | 1) < kPow10[t]);
}

/// Writes the decimal digits of `v` at `out` (room for 20 bytes); returns their count.
[[gnu::always_inline]] inline size_t FormatUInt(uint64_t v, char* out) {
  const size_t n = DigitCount(v);
  char* p = out + n;
  while (v >= 100) {
    const auto i = static_cast<size_t>(v % 100) * 2;
    v /= 100;
    p -= 2;
    std::memcpy(p, kDigitPairs + i, 2);
  }
  if (v >= 10) {
    std::memcpy(p - 2, kDigitPairs + static_cast<size_t>(v) * 2, 2);
  } else {
    p[-1] = static_cast<char>('0' + v);
  }
  return n;
}

/// Copies `n` bytes with a few fixed-size (overlapping) moves when n <= 32: the strings the
/// encoder copies are mostly short (keys, field prefixes, digits), where calling memcpy costs
/// more than the copy.
[[gnu::always_inline]] inline void CopySmall(char* dst, const char* src, size_t n) {
  if (n > 32) {
    std::memcpy(dst, src, n);
  } else if (n >= 16) {
    std::memcpy(dst, src, 16);
    std::memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 8) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else if (n > 0) {
    dst[0] = src[0];
    dst[n / 2] = src[n / 2];
    dst[n - 1] = src[n - 1];
  }
}

/// Parsed shortest round-trip digits of a binary floating-point value: value = 0.d1d2.. * 10^(exp+1),
/// i.e. d1.d2d3... * 10^exp.
struct Digits {
  char d[24];
  int n = 0;
  int exp = 0;
  bool neg = false;
};

/// Parses the output of std::to_chars(..., chars_format::scientific[, precision]).
inline void ParseScientific(const char* s, const char* e, Digits* out) {
  out->n = 0;
  out->neg = false;
  if (*s == '-') {
    out->neg = true;
    ++s;
  }
  while (s < e && *s != 'e') {
    if (*s != '.') out->d[out->n++] = *s;
    ++s;
  }
  ++s;  // 'e'
  int sign = 1;
  if (*s == '-') {
    sign = -1;
    ++s;
  } else if (*s == '+') {
    ++s;
  }
  int x = 0;
  while (s < e) x = x * 10 + (*s++ - '0');
  out->exp = sign * x;
  // to_chars never emits trailing zeros in shortest mode; the 2-digit form may end in '0'.
  while (out->n > 1 && out->d[out->n - 1] == '0') --out->n;
}

/// Shortest digits as Java 19+ `Double.toString`/`Float.toString` choose them: the shortest
/// decimal that rounds back to the value, except that when one digit would do, the closest of
/// the one- and two-digit candidates wins (so Double.MIN_VALUE prints as 4.9E-324, not 5E-324).
template <typename T>
inline void JavaDigits(T v, Digits* out) {
  char buf[48];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  ParseScientific(buf, r.ptr, out);
  if (out->n == 1) {
    char buf2[48];
    auto r2 = std::to_chars(buf2, buf2 + sizeof buf2, v, std::chars_format::scientific, 1);
    T back{};
    std::from_chars(buf2, r2.ptr, back, std::chars_format::scientific);
    if (back == v) {
      Digits two;
      ParseScientific(buf2, r2.ptr, &two);
      if (two.n == 2) *out = two;
    }
  }
}

/// Formats finite `v` as Java's Double.toString / Float.toString do: plain notation with at least
/// one fractional digit for 1e-3 <= |v| < 1e7, otherwise "d.dddE[-]x". Returns the length.
template <typename T>
inline size_t FormatJava(T v, char* out) {
  char* p = out;
  if (v == 0) {
    if (std::signbit(v)) *p++ = '-';
    std::memcpy(p, "0.0", 3);
    return static_cast<size_t>(p + 3 - out);
  }
  Digits d;
  JavaDigits(v, &d);
  if (d.neg) *p++ = '-';
  const T a = v < 0 ? -v : v;
  if (a >= static_cast<T>(1e-3) && a < static_cast<T>(1e7)) {
    if (d.exp >= 0) {
      const int int_len = d.exp + 1;
      for (int i = 0; i < int_len; ++i) *p++ = i < d.n ? d.d[i] : '0';
      *p++ = '.';
      if (d.n > int_len) {
        for (int i = int_len; i < d.n; ++i) *p++ = d.d[i];
      } else {
        *p++ = '0';
      }
    } else {
      *p++ = '0';
      *p++ = '.';
      for (int i = 0; i < -d.exp - 1; ++i) *p++ = '0';
      for (int i = 0; i < d.n; ++i) *p++ = d.d[i];
    }
  } else {
    *p++ = d.d[0];
    *p++ = '.';
    if (d.n > 1) {
      for (int i = 1; i < d.n; ++i) *p++ = d.d[i];
    } else {
      *p++ = '0';
    }
    *p++ = 'E';
    auto r = std::to_chars(p, p + 8, d.exp);
    p = r.ptr;
  }
  return static_cast<size_t>(p - out);
}

}  // namespace internal

/// Appends JSON text to one growable buffer. Reuse one writer across rows: Clear() keeps the
/// capacity. Not thread-safe; views returned by view() are invalidated by the next write.
class JsonWriter {
 public:
  JsonWriter() { buf_.resize(4096); }

  void Clear() { len_ = 0; }
  size_t size() const { return len_; }
  std::string_view view() const { return std::string_view(buf_.data(), len_); }
  std::string_view view(size_t from, size_t to) const {
    return std::string_view(buf_.data() + from, to - from);
  }
  /// Drops everything written after `size` (used to roll back a partial write).
  void Truncate(size_t size) { len_ = size; }

  /// Returns space for at least `n` more bytes; commit what was written with Advance().
  [[gnu::always_inline]] char* Ensure(size_t n) {
    if (__builtin_expect(len_ + n > buf_.size(), 0)) Grow(n);
    return buf_.data() + len_;
  }
  void Advance(size_t n) { len_ += n; }

  [[gnu::always_inline]] void Raw(std::string_view s) {
    char* p = Ensure(s.size());
    internal::CopySmall(p, s.data(), s.size());
    len_ += s.size();
  }
  [[gnu::always_inline]] void Char(char c) {
    *Ensure(1) = c;
    ++len_;
  }
  [[gnu::always_inline]] void Null() { Raw("null"); }
  void Bool(bool b) { Raw(b ? std::string_view("true") : std::string_view("false")); }
  [[gnu::always_inline]] void Int(int64_t v) {
    char* p = Ensure(24);
    if (v < 0) {
      *p = '-';
      len_ += 1 + internal::FormatUInt(0 - static_cast<uint64_t>(v), p + 1);
    } else {
      len_ += internal::FormatUInt(static_cast<uint64_t>(v), p);
    }
  }
  [[gnu::always_inline]] void UInt(uint64_t v) { len_ += internal::FormatUInt(v, Ensure(24)); }

  /// Writes a double as Jackson does (Double.toString): 1.5, 100.0, 1.0E10, 1.0E-5. NaN and
  /// infinities become the strings "NaN", "Infinity", "-Infinity" (Jackson's default
  /// WRITE_NAN_AS_STRINGS), keeping the output valid JSON.
  void JavaDouble(double v) {
    if (!std::isfinite(v)) return NonFinite(v);
    char* p = Ensure(32);
    len_ += internal::FormatJava(v, p);
  }
  /// Writes a float as Jackson does for a FLOAT32 value (Float.toString): 1.1f -> 1.1.
  void JavaFloat(float v) {
    if (!std::isfinite(v)) return NonFinite(static_cast<double>(v));
    char* p = Ensure(32);
    len_ += internal::FormatJava(v, p);
  }

  /// Writes a quoted JSON string from UTF-8 text (RFC 8259): `"` and `\` escaped, control
  /// characters as \b \t \n \f \r or \u00XX (uppercase hex, as Jackson), everything else
  /// verbatim. Ill-formed UTF-8 becomes U+FFFD per maximal subpart, as Java's decoder does.
  void String(std::string_view s) {
    Char('"');
    StringBody(s);
    Char('"');
  }
  /// Like String() but without the quotes (to build one string from several pieces).
  void StringBody(std::string_view s);

  /// Writes bytes as a quoted base64 string with padding (java.util.Base64 / Jackson's
  /// MIME_NO_LINEFEEDS variant; url_safe uses '-' and '_' as Base64.getUrlEncoder()).
  void Base64(std::string_view bytes, bool url_safe = false) {
    Char('"');
    Base64Body(bytes, url_safe);
    Char('"');
  }
  void Base64Body(std::string_view bytes, bool url_safe = false);

  /// Writes bytes as a quoted lowercase hex string (Debezium's HexConverter).
  void Hex(std::string_view bytes) {
    const size_t n = bytes.size();
    char* p = Ensure(2 * n + 2);
    *p++ = '"';
    const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
    for (size_t i = 0; i < n; ++i) {
      *p++ = internal::kHexLower[in[i] >> 4];
      *p++ = internal::kHexLower[in[i] & 15];
    }
    *p++ = '"';
    len_ += 2 * n + 2;
  }

 private:
  [[gnu::noinline]] void Grow(size_t n) {
    size_t cap = buf_.size() * 2;
    if (cap < len_ + n) cap = len_ + n;
    buf_.resize(cap);
  }
  void NonFinite(double v) {
    if (std::isnan(v)) return Raw("\"NaN\"");
    Raw(v > 0 ? std::string_view("\"Infinity\"") : std::string_view("\"-Infinity\""));
  }

  std::string buf_;  // size() is the capacity; len_ the bytes written
  size_t len_ = 0;
};

inline void JsonWriter::StringBody(std::string_view s) {
  const auto* in = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const begin = in;
  const auto* end = in + s.size();
  constexpr size_t kBlock = 16384;
  while (in < end) {
    // Worst case per input byte is 6 output bytes (\u00XX); +4 covers a sequence crossing the
    // block end.
    const size_t block = static_cast<size_t>(end - in) < kBlock ? static_cast<size_t>(end - in) : kBlock;
    char* const start = Ensure(block * 6 + 8);
    char* p = start;
    const auto* block_end = in + block;
    while (in < block_end) {
#if defined(__SSE2__)
      // 16 bytes at a time while they are all safe; the last 1..15 bytes with one overlapping
      // 16-, 8- or 4-byte load rather than byte by byte.
      const size_t rem = static_cast<size_t>(block_end - in);
      if (rem >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
        const unsigned mask = internal::UnsafeMask(v);
        // Room: p has 6 bytes per unread input byte and >= 16 bytes are unread.
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
        if (mask == 0) {
          in += 16;
          p += 16;
          continue;
        }
        const auto k = static_cast<unsigned>(__builtin_ctz(mask));
        in += k;
        p += k;
      } else {
        unsigned mask;  // bit i: byte in[i] needs attention (bits >= rem are clear)
        if (block_end - begin >= 16) {
          mask = internal::UnsafeMask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block_end - 16))) >>
                 (16 - rem);
        } else if (rem >= 8) {
          mask = (internal::UnsafeMask(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in))) & 0xFFu) |
                 (internal::UnsafeMask(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(block_end - 8))) & 0xFFu)
                     << (rem - 8);
        } else if (rem >= 4) {
          uint32_t lo, hi;
          std::memcpy(&lo, in, 4);
          std::memcpy(&hi, block_end - 4, 4);
          mask = (internal::UnsafeMask(_mm_cvtsi32_si128(static_cast<int>(lo))) & 0xFu) |
                 (internal::UnsafeMask(_mm_cvtsi32_si128(static_cast<int>(hi))) & 0xFu) << (rem - 4);
        } else {
          mask = 0;
          for (size_t i = 0; i < rem; ++i) mask |= static_cast<unsigned>(!internal::kSafe.v[in[i]]) << i;
        }
        const size_t k = mask == 0 ? rem : static_cast<size_t>(__builtin_ctz(mask));
        internal::CopySmall(p, reinterpret_cast<const char*>(in), k);
        in += k;
        p += k;
        if (in >= block_end) break;
      }
#else
      {
        const auto* run = in;
        while (in < block_end && internal::kSafe.v[*in]) ++in;
        if (in != run) {
          std::memcpy(p, run, static_cast<size_t>(in - run));
          p += in - run;
        }
      }
#endif
      if (in >= block_end) break;
      const unsigned char c = *in;
      if (c < 0x80) {
        *p++ = '\\';
        switch (c) {
          case '"': *p++ = '"'; break;
          case '\\': *p++ = '\\'; break;
          case '\b': *p++ = 'b'; break;
          case '\t': *p++ = 't'; break;
          case '\n': *p++ = 'n'; break;
          case '\f': *p++ = 'f'; break;
          case '\r': *p++ = 'r'; break;
          default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = internal::kHexUpper[c >> 4];
            *p++ = internal::kHexUpper[c & 15];
        }
        ++in;
        continue;
      }
      size_t subpart = 0;
      const size_t n = internal::Utf8SequenceLength(in, end, &subpart);
      if (n != 0) {
        std::memcpy(p, in, n);
        p += n;
        in += n;
      } else {
        std::memcpy(p, "\xEF\xBF\xBD", 3);  // U+FFFD
        p += 3;
        in += subpart;
      }
    }
    len_ += static_cast<size_t>(p - start);
  }
}

inline void JsonWriter::Base64Body(std::string_view bytes, bool url_safe) {
  const char* alphabet = url_safe ? internal::kBase64Url : internal::kBase64Std;
  const char* pairs = url_safe ? internal::kBase64UrlPairs.v : internal::kBase64StdPairs.v;
  const size_t n = bytes.size();
  const size_t out_len = (n + 2) / 3 * 4;
  char* p = Ensure(out_len);
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  // 6 bytes -> 8 characters per step from one 8-byte load (the last 2 bytes are read, not used).
  for (; i + 8 <= n; i += 6) {
    uint64_t x;
    std::memcpy(&x, in + i, 8);
    if constexpr (std::endian::native == std::endian::little) x = __builtin_bswap64(x);
    std::memcpy(p, pairs + 2 * ((x >> 52) & 0xFFF), 2);
    std::memcpy(p + 2, pairs + 2 * ((x >> 40) & 0xFFF), 2);
    std::memcpy(p + 4, pairs + 2 * ((x >> 28) & 0xFFF), 2);
    std::memcpy(p + 6, pairs + 2 * ((x >> 16) & 0xFFF), 2);
    p += 8;
  }
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    std::memcpy(p, pairs + 2 * (v >> 12), 2);
    std::memcpy(p + 2, pairs + 2 * (v & 0xFFF), 2);
    p += 4;
  }
  if (i < n) {
    uint32_t v = uint32_t{in[i]} << 16;
    if (i + 1 < n) v |= uint32_t{in[i + 1]} << 8;
    p[0] = alphabet[v >> 18];
    p[1] = alphabet[(v >> 12) & 63];
    p[2] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    p[3] = '=';
  }
  len_ += out_len;
}

}  // namespace sluice::json
