#pragma once
/// MySQL/MariaDB character sets -> UTF-8. latin1 is MySQL's latin1, i.e. Windows cp1252 (with the
/// five undefined cp1252 bytes mapped to the C1 controls, as MySQL does); utf8mb3/utf8mb4/utf8 and
/// ascii pass through; every other charset goes through iconv. Invalid input never fails: each
/// byte that does not start a valid sequence becomes U+FFFD (so the result is always valid UTF-8).

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::mysql {

/// How a charset is converted.
enum class CharsetKind : uint8_t {
  kUtf8,    ///< utf8mb4, utf8mb3, utf8, ascii: validated, passed through
  kLatin1,  ///< MySQL latin1 (cp1252)
  kBinary,  ///< "binary": bytes, not text
  kIconv,   ///< anything else, through iconv
};

/// A resolved charset. Cheap to copy; `iconv_name` points to static storage.
struct Charset {
  CharsetKind kind = CharsetKind::kUtf8;
  std::string_view name;        ///< MySQL name ("latin2")
  const char* iconv_name = "";  ///< iconv name for kIconv ("ISO-8859-2")
};

/// Resolves a MySQL charset name (case-insensitive; "utf8" means utf8mb3). Unknown names resolve
/// to kIconv with the name itself, so conversion is attempted and invalid bytes are replaced.
Charset ResolveCharset(std::string_view mysql_name);

/// Returns the charset name of a MySQL/MariaDB collation id ("utf8mb4", "latin1", "binary"), or
/// "" when the id is unknown.
std::string_view CharsetOfCollation(uint32_t collation_id);

/// Appends `in` converted from `cs` to UTF-8 to `out` (kBinary: appends the bytes unchanged).
void AppendAsUtf8(const Charset& cs, std::string_view in, std::string& out);

/// True when `s` is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

/// Appends `in` to `out`, replacing each invalid UTF-8 byte with U+FFFD.
void AppendSanitizedUtf8(std::string_view in, std::string& out);

/// Appends the UTF-8 encoding of code point `cp` (< 0x110000) to `out`.
void AppendCodePoint(uint32_t cp, std::string& out);

}  // namespace sluice::mysql
