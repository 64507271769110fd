/// Scalar functions of views beyond the operators (PostgreSQL's semantics): text padding and
/// shaping, regular expressions, date formatting. Pure functions of their arguments; each throws
/// Error(kData) saying what is wrong with a value (the binder has checked types and constants).
/// Called by expr.cpp's function evaluation; tested through tests/sql/expressions.test.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::sql {

/// lower()/upper() of UTF-8 text: every letter with a one-to-one Unicode case mapping (glibc's
/// C.UTF-8: é/É, ω/Ω; not ß -> SS), as PostgreSQL in a UTF-8 locale and RisingWave map them.
/// Bytes that are not valid UTF-8 stay as they are.
std::string MapCase(std::string_view s, bool upper);
/// initcap(): the first letter of every word upper case, the others lower (words: runs of
/// letters and digits).
std::string InitCap(std::string_view s);
/// lpad/rpad(s, length, fill): `s` cut or filled with `fill` to `length` characters (not bytes).
std::string Pad(std::string_view s, int64_t length, std::string_view fill, bool left);
/// reverse() by characters.
std::string ReverseChars(std::string_view s);
/// repeat(s, n); an error past 256 MiB.
std::string Repeat(std::string_view s, int64_t n);

/// regexp_replace(s, pattern, replacement, flags): the first match replaced (every one with flag
/// g; i: case-insensitive); \1..\9 in `replacement` are the groups, \& the match. Patterns are
/// PCRE2's (UTF-8), which share PostgreSQL's syntax for what views use (classes, \d \w \s,
/// groups, alternation, quantifiers, anchors, lookahead); backtracking is bounded.
std::string RegexpReplace(std::string_view s, const std::string& pattern, std::string_view replacement,
                          std::string_view flags);
/// md5(): the lowercase hex MD5 digest of the bytes.
std::string Md5Hex(std::string_view s);
/// s ~ pattern (case-insensitive: ~*).
bool RegexpMatches(std::string_view s, const std::string& pattern, bool icase);
/// Throws Error(kData) naming what is wrong when `pattern` / `flags` are not valid.
void CheckRegexp(const std::string& pattern, std::string_view flags);

/// The ISO 8601 week-numbering year and week (weeks start on Monday; week 1 holds January 4) of
/// the date `days` days after 1970-01-01; shared by to_char (IYYY, IW) and extract (isoyear, week).
void IsoWeek(int64_t days, int64_t& iso_year, int64_t& week);

/// to_char(timestamp, format) with PostgreSQL's date/time patterns (YYYY YY MM DD HH24 HH12 HH MI
/// SS MS US AM PM Mon Month Dy Day D ID DDD IW WW Q, FM fill mode, "quoted text"); `us`:
/// microseconds since 1970-01-01.
std::string ToChar(int64_t us, std::string_view format);
/// Throws Error(kData) for a pattern ToChar does not know in `format` (none do: unknown letters
/// are copied, as PostgreSQL does); checks quotes are closed.
void CheckToCharFormat(std::string_view format);

}  // namespace sluice::sql
