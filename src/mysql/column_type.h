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

namespace sluice::mysql {

/// Builds the schema of one column from its COLUMN_TYPE text, e.g. "decimal(10,2) unsigned",
/// "enum('a','b''c')", "varchar(20)", "datetime(6)", "int(10) unsigned zerofill".
/// Keywords are case-insensitive; ENUM/SET members keep their case, with '' and backslash
/// escapes resolved. `charset` is CHARACTER_SET_NAME ("" when NULL or unknown); it is kept for
/// character types only, and "binary" is forced for BINARY/VARBINARY/BLOB. A character type with
/// the binary charset becomes kBytes. Throws Error(kData) naming the column for an unknown type.
/// MySQL type codes: VARCHAR/VARBINARY -> kVarchar (15), CHAR/BINARY -> kString (254), every
/// BLOB/TEXT size -> kBlob (252), DATE -> kDate (10), TIME/DATETIME/TIMESTAMP -> the *2 codes.
/// MariaDB's UUID, INET6 and INET4 -> kString (their canonical text, as SELECT shows it), binlog
/// type kString (254), length 16/16/4 bytes, column_type "uuid"/"inet6"/"inet4", no charset.
ColumnSchema MakeColumnSchema(std::string name, std::string_view column_type, std::string_view charset,
                              bool nullable);

/// Marks `column` as a MariaDB JSON column: MariaDB stores JSON as LONGTEXT (binlog type BLOB)
/// with a `json_valid(col)` CHECK constraint, and information_schema shows "longtext". Call it
/// when information_schema.CHECK_CONSTRAINTS has json_valid(`col`) for the column, or when a
/// MariaDB CREATE TABLE says JSON. Sets kind kJson and keeps mysql_type (kBlob) and charset.
void MarkMariaDbJson(ColumnSchema& column);

/// Sets the character set of a character column (CHAR/VARCHAR/TEXT/ENUM/SET); other columns are
/// left alone. The binary charset turns CHAR/VARCHAR/TEXT into BINARY/VARBINARY/BLOB, as MySQL
/// does, and the kind into kBytes. With `resize_text` (ALTER TABLE ... CONVERT TO CHARACTER SET),
/// a TEXT column moves to the smallest TEXT type holding its characters in the new charset
/// (latin1 TEXT -> utf8mb4 MEDIUMTEXT). A JSON column keeps kind kJson.
void ApplyColumnCharset(ColumnSchema& column, std::string_view charset, bool resize_text = false);

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

}  // namespace sluice::mysql
