#pragma once
/// MySQL/MariaDB column types: turns the text of information_schema.COLUMNS.COLUMN_TYPE (or the
/// type written in a CREATE/ALTER TABLE, normalised by mysql/ddl_parser.h) into a ColumnSchema
/// with the value kind, the binlog MYSQL_TYPE_* code and the type parameters filled in.
/// See https://dev.mysql.com/doc/refman/8.0/en/data-types.html and
/// https://mariadb.com/kb/en/data-types/.

#include <cstdint>
#include <string>
#include <string_view>

#include "event/change.h"

namespace sluice {

/// MYSQL_TYPE_* codes as they appear in binlog TABLE_MAP events (enum_field_types in
/// include/field_types.h). ENUM/SET are the "real" types carried in the table map metadata.
namespace mysql_type {
inline constexpr uint8_t kDecimal = 0;   ///< old DECIMAL (pre-5.0), never produced here
inline constexpr uint8_t kTiny = 1;
inline constexpr uint8_t kShort = 2;
inline constexpr uint8_t kLong = 3;
inline constexpr uint8_t kFloat = 4;
inline constexpr uint8_t kDouble = 5;
inline constexpr uint8_t kNull = 6;
inline constexpr uint8_t kTimestamp = 7;
inline constexpr uint8_t kLongLong = 8;
inline constexpr uint8_t kInt24 = 9;
inline constexpr uint8_t kDate = 10;
inline constexpr uint8_t kTime = 11;
inline constexpr uint8_t kDateTime = 12;
inline constexpr uint8_t kYear = 13;
inline constexpr uint8_t kNewDate = 14;
inline constexpr uint8_t kVarchar = 15;
inline constexpr uint8_t kBit = 16;
inline constexpr uint8_t kTimestamp2 = 17;
inline constexpr uint8_t kDateTime2 = 18;
inline constexpr uint8_t kTime2 = 19;
inline constexpr uint8_t kTypedArray = 20;
inline constexpr uint8_t kJson = 245;
inline constexpr uint8_t kNewDecimal = 246;
inline constexpr uint8_t kEnum = 247;
inline constexpr uint8_t kSet = 248;
inline constexpr uint8_t kTinyBlob = 249;
inline constexpr uint8_t kMediumBlob = 250;
inline constexpr uint8_t kLongBlob = 251;
inline constexpr uint8_t kBlob = 252;
inline constexpr uint8_t kVarString = 253;
inline constexpr uint8_t kString = 254;
inline constexpr uint8_t kGeometry = 255;
}  // namespace mysql_type

/// Builds the schema of one column from its COLUMN_TYPE text, e.g. "decimal(10,2) unsigned",
/// "enum('a','b''c')", "varchar(20)", "datetime(6)", "int(10) unsigned zerofill".
/// Keywords are case-insensitive; ENUM/SET members keep their case, with '' and backslash
/// escapes resolved. `charset` is CHARACTER_SET_NAME ("" when NULL or unknown); it is kept for
/// character types only, and "binary" is forced for BINARY/VARBINARY/BLOB. A character type with
/// the binary charset becomes kBytes. Throws Error(kData) naming the column for an unknown type.
/// MySQL type codes: VARCHAR/VARBINARY -> kVarchar (15), CHAR/BINARY -> kString (254), every
/// BLOB/TEXT size -> kBlob (252), DATE -> kDate (10), TIME/DATETIME/TIMESTAMP -> the *2 codes.
ColumnSchema MakeColumnSchema(std::string name, std::string_view column_type, std::string_view charset,
                              bool nullable);

/// Marks `column` as a MariaDB JSON column: MariaDB stores JSON as LONGTEXT (binlog type BLOB)
/// with a `json_valid(col)` CHECK constraint, and information_schema shows "longtext". Call it
/// when information_schema.CHECK_CONSTRAINTS has json_valid(`col`) for the column, or when a
/// MariaDB CREATE TABLE says JSON. Sets kind kJson and keeps mysql_type (kBlob) and charset.
void MarkMariaDbJson(ColumnSchema& column);

/// Returns the normalised COLUMN_TYPE text of `column` (its column_type, or one rebuilt from the
/// fields when column_type is empty), lower-case except for ENUM/SET members.
std::string ColumnTypeText(const ColumnSchema& column);

/// Returns the character set a collation belongs to: "utf8mb4_general_ci" -> "utf8mb4",
/// "utf8_bin" -> "utf8mb3", "binary" -> "binary"; "" when unknown.
std::string CharsetOfCollation(std::string_view collation);

/// Returns the canonical name of a charset as information_schema shows it: lower-case, with the
/// alias "utf8" resolved to "utf8mb3" (MariaDB and MySQL 8 both report utf8mb3).
std::string NormalizeCharset(std::string_view charset);

/// Returns true for kinds that carry a character set (CHAR/VARCHAR/TEXT/ENUM/SET).
bool IsCharacterColumn(const ColumnSchema& column);

/// Quotes `value` as an ENUM/SET member the way information_schema writes it: in single quotes,
/// with ' doubled and backslash escaped.
std::string QuoteEnumValue(std::string_view value);

}  // namespace sluice
