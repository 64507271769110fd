// Unit tests for event/json_writer.h. Expected texts come from the Java/Jackson behaviour the
// writer reproduces (cited per test), never from the writer itself.

#include "event/json_writer.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace sluice::json {
namespace {

std::string D(double v) {
  JsonWriter w;
  w.JavaDouble(v);
  return std::string(w.view());
}
std::string F(float v) {
  JsonWriter w;
  w.JavaFloat(v);
  return std::string(w.view());
}
std::string S(std::string_view v) {
  JsonWriter w;
  w.String(v);
  return std::string(w.view());
}
std::string B64(std::string_view v, bool url = false) {
  JsonWriter w;
  w.Base64(v, url);
  return std::string(w.view());
}

// java.lang.Double#toString(double) (JDK 19+ javadoc): plain notation with at least one fraction
// digit for 1e-3 <= |d| < 1e7, else computerized scientific notation "d.dddE[-]n"; shortest
// digits that uniquely identify the value; with one digit, the closest 1- or 2-digit decimal.
TEST(DebeziumJsonWriter, JavaDoubleToString) {
  EXPECT_EQ(D(0.0), "0.0");
  EXPECT_EQ(D(-0.0), "-0.0");
  EXPECT_EQ(D(1.0), "1.0");
  EXPECT_EQ(D(100.0), "100.0");
  EXPECT_EQ(D(1.5), "1.5");
  EXPECT_EQ(D(-12.5), "-12.5");
  EXPECT_EQ(D(0.1), "0.1");
  EXPECT_EQ(D(0.001), "0.001");
  EXPECT_EQ(D(0.0001), "1.0E-4");
  EXPECT_EQ(D(1.0E-5), "1.0E-5");
  EXPECT_EQ(D(123456.789), "123456.789");
  EXPECT_EQ(D(9999999.0), "9999999.0");
  EXPECT_EQ(D(1.0E7), "1.0E7");
  EXPECT_EQ(D(12345678.9), "1.23456789E7");
  EXPECT_EQ(D(1.0E23), "1.0E23");
  EXPECT_EQ(D(-1.25E-10), "-1.25E-10");
  EXPECT_EQ(D(DBL_MAX), "1.7976931348623157E308");
  EXPECT_EQ(D(std::numeric_limits<double>::denorm_min()), "4.9E-324");  // Double.MIN_VALUE javadoc
  // A FLOAT widened to double, as Debezium does for FLOAT(M,D) columns (convertDouble).
  EXPECT_EQ(D(static_cast<double>(1.1f)), "1.100000023841858");
}

// Jackson writes NaN/Infinity as strings by default (JsonWriteFeature.WRITE_NAN_AS_STRINGS).
TEST(DebeziumJsonWriter, NonFiniteAsStrings) {
  EXPECT_EQ(D(std::nan("")), "\"NaN\"");
  EXPECT_EQ(D(HUGE_VAL), "\"Infinity\"");
  EXPECT_EQ(D(-HUGE_VAL), "\"-Infinity\"");
}

// java.lang.Float#toString(float): same rules at float precision.
TEST(DebeziumJsonWriter, JavaFloatToString) {
  EXPECT_EQ(F(1.1f), "1.1");
  EXPECT_EQ(F(0.1f), "0.1");
  EXPECT_EQ(F(-2.5f), "-2.5");
  EXPECT_EQ(F(16777216.0f), "1.6777216E7");
  EXPECT_EQ(F(1.0E10f), "1.0E10");
  EXPECT_EQ(F(FLT_MAX), "3.4028235E38");
  EXPECT_EQ(F(std::numeric_limits<float>::denorm_min()), "1.4E-45");  // Float.MIN_VALUE javadoc
}

TEST(DebeziumJsonWriter, Integers) {
  JsonWriter w;
  w.Int(INT64_MIN);
  w.Char(',');
  w.UInt(UINT64_MAX);
  EXPECT_EQ(w.view(), "-9223372036854775808,18446744073709551615");
}

// Every digit count, both sides of each power of ten (the writer counts digits before writing).
TEST(DebeziumJsonWriter, IntegersAtEveryDigitCount) {
  uint64_t p = 1;
  for (int digits = 1; digits <= 19; ++digits, p *= 10) {
    for (uint64_t v : {p - 1, p, p + 1, 2 * p, 9 * p}) {
      JsonWriter w;
      w.UInt(v);
      EXPECT_EQ(w.view(), std::to_string(v));
      JsonWriter n;
      n.Int(-static_cast<int64_t>(v));
      EXPECT_EQ(n.view(), std::to_string(-static_cast<int64_t>(v)));
    }
  }
}

/// Reference escaping for well-formed input: byte by byte, the rules of the test below.
std::string SlowEscape(std::string_view in) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out = "\"";
  for (unsigned char c : in) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Strings of every length up to 80 with one character that needs attention (escape or UTF-8)
// at every position: the writer scans 16 bytes at a time and must stop at each of them.
TEST(DebeziumJsonWriter, EscapesAtEveryOffsetAndLength) {
  const std::vector<std::string> specials = {"\"", "\\", "\n", std::string(1, '\0'), "\x1f",
                                             "\xC3\xA9", "\xE6\x9D\xB1", "\xF0\x9F\x98\x80", "\x7f"};
  for (size_t len = 0; len <= 80; ++len) {
    const std::string plain(len, 'x');
    EXPECT_EQ(S(plain), SlowEscape(plain));
    for (const std::string& sp : specials) {
      for (size_t at = 0; at <= len; ++at) {
        const std::string in = plain.substr(0, at) + sp + plain.substr(at);
        ASSERT_EQ(S(in), SlowEscape(in)) << "length " << len << " at " << at;
      }
    }
  }
}

// RFC 8259 section 7 plus Jackson's escape table (CharTypes.sOutputEscapes128): short escapes for
// \b \t \n \f \r, \u00XX with uppercase hex for other control characters, '/' and DEL verbatim.
TEST(DebeziumJsonWriter, EscapesQuotesBackslashAndControlCharacters) {
  EXPECT_EQ(S("plain"), "\"plain\"");
  EXPECT_EQ(S("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
  EXPECT_EQ(S(std::string_view("\x00\x01\x1f", 3)), "\"\\u0000\\u0001\\u001F\"");
  EXPECT_EQ(S("\b\t\n\f\r"), "\"\\b\\t\\n\\f\\r\"");
  EXPECT_EQ(S("\x7f"), "\"\x7f\"");
}

TEST(DebeziumJsonWriter, ValidUtf8IsCopied) {
  EXPECT_EQ(S("h\xC3\xA9llo"), "\"h\xC3\xA9llo\"");                 // é
  EXPECT_EQ(S("\xE2\x82\xAC"), "\"\xE2\x82\xAC\"");                 // €
  EXPECT_EQ(S("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");         // U+1F600
  EXPECT_EQ(S("\xF4\x8F\xBF\xBF"), "\"\xF4\x8F\xBF\xBF\"");         // U+10FFFF
}

// Ill-formed UTF-8 -> U+FFFD as java.lang.String(byte[], UTF_8) replaces it (Debezium decodes
// column bytes that way; Jackson then writes EF BF BD): per maximal subpart (Unicode 15 section
// 3.9), except that a 3-byte encoded surrogate is one replacement. Expectations checked against
// OpenJDK 17's `new String(bytes, UTF_8).getBytes(UTF_8)`.
TEST(DebeziumJsonWriter, InvalidUtf8BecomesReplacementCharacter) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(S("\xFF"), "\"" + r + "\"");
  EXPECT_EQ(S("a\xC3"), "\"a" + r + "\"");                     // truncated 2-byte sequence
  EXPECT_EQ(S("\xF0\x9F\x98"), "\"" + r + "\"");                // truncated 4-byte: one subpart
  EXPECT_EQ(S("\xF0\x9F\x98z"), "\"" + r + "z\"");
  EXPECT_EQ(S("\xC0\x80"), "\"" + r + r + "\"");                // overlong NUL
  EXPECT_EQ(S("\xED\xA0\x80"), "\"" + r + "\"");                // UTF-16 surrogate D800
  EXPECT_EQ(S("\xED\xBF"), "\"" + r + "\"");                    // truncated surrogate prefix
  EXPECT_EQ(S("\xED\xA0\xE1"), "\"" + r + r + "\"");
  EXPECT_EQ(S("\xE0\x80\x80"), "\"" + r + r + r + "\"");        // overlong 3-byte
  EXPECT_EQ(S("\xF4\x90\x80\x80"), "\"" + r + r + r + r + "\""); // above U+10FFFF
  EXPECT_EQ(S("\x80x"), "\"" + r + "x\"");                      // lone continuation byte
}

TEST(DebeziumJsonWriter, LongStringsCrossBlocks) {
  std::string in(40000, 'a');
  in[16383] = '\xC3';  // a 2-byte sequence straddling the internal 16 KiB block boundary
  in[16384] = '\xA9';
  in[30000] = '\n';
  std::string expected = "\"" + in.substr(0, 30000) + "\\n" + in.substr(30001) + "\"";
  EXPECT_EQ(S(in), expected);
}

// RFC 4648 test vectors; java.util.Base64.getEncoder() / getUrlEncoder() keep the padding.
TEST(DebeziumJsonWriter, Base64) {
  EXPECT_EQ(B64(""), "\"\"");
  EXPECT_EQ(B64("f"), "\"Zg==\"");
  EXPECT_EQ(B64("fo"), "\"Zm8=\"");
  EXPECT_EQ(B64("foo"), "\"Zm9v\"");
  EXPECT_EQ(B64("foob"), "\"Zm9vYg==\"");
  EXPECT_EQ(B64("fooba"), "\"Zm9vYmE=\"");
  EXPECT_EQ(B64("foobar"), "\"Zm9vYmFy\"");
  EXPECT_EQ(B64("\xFB\xFF"), "\"+/8=\"");
  EXPECT_EQ(B64("\xFB\xFF", true), "\"-_8=\"");
  // Longer inputs go 6 bytes at a time, then 3, then the padded tail (Python's base64 module).
  std::string bytes;
  for (int i = 0; i < 40; ++i) bytes += static_cast<char>((i * 37 + 11) % 256);
  EXPECT_EQ(B64(bytes.substr(0, 13)), "\"CzBVep/E6Q4zWH2ixw==\"");
  EXPECT_EQ(B64(bytes.substr(0, 14)), "\"CzBVep/E6Q4zWH2ix+w=\"");
  EXPECT_EQ(B64(bytes.substr(0, 15)), "\"CzBVep/E6Q4zWH2ix+wR\"");
  EXPECT_EQ(B64(bytes.substr(0, 16)), "\"CzBVep/E6Q4zWH2ix+wRNg==\"");
  EXPECT_EQ(B64(bytes.substr(0, 40)), "\"CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrg==\"");
  EXPECT_EQ(B64(bytes, true), "\"CzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrg==\"");
}

// io.debezium.util.HexConverter uses lowercase digits.
TEST(DebeziumJsonWriter, Hex) {
  JsonWriter w;
  w.Hex(std::string_view("\x00\xAB\x7F", 3));
  EXPECT_EQ(w.view(), "\"00ab7f\"");
}

TEST(DebeziumJsonWriter, ClearKeepsWorking) {
  JsonWriter w;
  for (int i = 0; i < 3; ++i) {
    w.Clear();
    w.String(std::string(10000, 'x'));
    EXPECT_EQ(w.size(), 10002u);
  }
  w.Truncate(1);
  EXPECT_EQ(w.view(), "\"");
}

}  // namespace
}  // namespace sluice::json
