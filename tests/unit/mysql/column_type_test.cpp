#include "mysql/column_type.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace sluice::mysql {
namespace {

// Expected values follow https://dev.mysql.com/doc/refman/8.0/en/data-types.html and the
// enum_field_types codes of include/field_types.h (the codes written in TABLE_MAP events).

TEST(ColumnType, Integers) {
  ColumnSchema c = MakeColumnSchema("a", "tinyint(1)", "", false);
  EXPECT_EQ(c.name, "a");
  EXPECT_EQ(c.kind, ValueKind::kInt);
  EXPECT_EQ(c.mysql_type, 1);
  EXPECT_EQ(c.length, 1);
  EXPECT_FALSE(c.nullable);
  EXPECT_FALSE(c.is_unsigned);
  EXPECT_EQ(c.column_type, "tinyint(1)");
  EXPECT_EQ(c.charset, "");

  c = MakeColumnSchema("b", "int(10) unsigned zerofill", "", true);
  EXPECT_EQ(c.kind, ValueKind::kUInt);
  EXPECT_EQ(c.mysql_type, 3);
  EXPECT_TRUE(c.is_unsigned);
  EXPECT_EQ(c.length, 10);
  EXPECT_TRUE(c.nullable);
  EXPECT_EQ(c.column_type, "int(10) unsigned zerofill");

  EXPECT_EQ(MakeColumnSchema("x", "smallint", "", true).mysql_type, 2);
  EXPECT_EQ(MakeColumnSchema("x", "mediumint(8) unsigned", "", true).mysql_type, 9);
  EXPECT_EQ(MakeColumnSchema("x", "bigint(20) unsigned", "", true).kind, ValueKind::kUInt);
  EXPECT_EQ(MakeColumnSchema("x", "bigint", "", true).mysql_type, 8);
  EXPECT_EQ(MakeColumnSchema("x", "BIGINT UNSIGNED", "", true).column_type, "bigint unsigned");
  // ZEROFILL alone implies UNSIGNED.
  c = MakeColumnSchema("x", "int zerofill", "", true);
  EXPECT_TRUE(c.is_unsigned);
  EXPECT_EQ(c.column_type, "int unsigned zerofill");
  // Aliases.
  EXPECT_EQ(MakeColumnSchema("x", "INTEGER", "", true).column_type, "int");
  EXPECT_EQ(MakeColumnSchema("x", "boolean", "", true).column_type, "tinyint(1)");
  EXPECT_EQ(MakeColumnSchema("x", "bool", "", true).mysql_type, 1);
  c = MakeColumnSchema("x", "serial", "", false);
  EXPECT_EQ(c.mysql_type, 8);
  EXPECT_EQ(c.kind, ValueKind::kUInt);
  EXPECT_EQ(MakeColumnSchema("x", "int8", "", true).mysql_type, 8);
  EXPECT_EQ(MakeColumnSchema("x", "middleint", "", true).mysql_type, 9);
  // Signed is accepted and ignored.
  EXPECT_EQ(MakeColumnSchema("x", "int signed", "", true).kind, ValueKind::kInt);
}

TEST(ColumnType, YearIsInt) {
  ColumnSchema c = MakeColumnSchema("y", "year(4)", "", true);
  EXPECT_EQ(c.kind, ValueKind::kInt);
  EXPECT_EQ(c.mysql_type, 13);
  EXPECT_EQ(c.length, 4);
  EXPECT_EQ(c.column_type, "year(4)");
  EXPECT_EQ(MakeColumnSchema("y", "year", "", true).column_type, "year");
}

TEST(ColumnType, FloatingPoint) {
  ColumnSchema c = MakeColumnSchema("f", "float", "", true);
  EXPECT_EQ(c.kind, ValueKind::kFloat);
  EXPECT_EQ(c.mysql_type, 4);
  c = MakeColumnSchema("f", "float(7,3)", "", true);
  EXPECT_EQ(c.kind, ValueKind::kFloat);
  EXPECT_EQ(c.precision, 7);
  EXPECT_EQ(c.scale, 3);
  EXPECT_EQ(c.column_type, "float(7,3)");
  // FLOAT(p): 0..24 single, 25..53 double (MySQL manual 11.1.4).
  EXPECT_EQ(MakeColumnSchema("f", "float(24)", "", true).kind, ValueKind::kFloat);
  c = MakeColumnSchema("f", "float(25)", "", true);
  EXPECT_EQ(c.kind, ValueKind::kDouble);
  EXPECT_EQ(c.mysql_type, 5);
  EXPECT_EQ(c.column_type, "double");
  c = MakeColumnSchema("d", "double unsigned", "", true);
  EXPECT_EQ(c.kind, ValueKind::kDouble);
  EXPECT_TRUE(c.is_unsigned);
  EXPECT_EQ(c.column_type, "double unsigned");
  EXPECT_EQ(MakeColumnSchema("d", "real", "", true).kind, ValueKind::kDouble);
  EXPECT_EQ(MakeColumnSchema("d", "double precision", "", true).column_type, "double");
  EXPECT_EQ(MakeColumnSchema("d", "double(10,2)", "", true).scale, 2);
  EXPECT_THROW(MakeColumnSchema("f", "float(54)", "", true), Error);
}

TEST(ColumnType, Decimal) {
  ColumnSchema c = MakeColumnSchema("m", "decimal(10,2) unsigned", "", true);
  EXPECT_EQ(c.kind, ValueKind::kDecimal);
  EXPECT_EQ(c.mysql_type, 246);
  EXPECT_EQ(c.precision, 10);
  EXPECT_EQ(c.scale, 2);
  EXPECT_TRUE(c.is_unsigned);
  EXPECT_EQ(c.column_type, "decimal(10,2) unsigned");
  c = MakeColumnSchema("m", "DECIMAL", "", true);  // DECIMAL = DECIMAL(10,0)
  EXPECT_EQ(c.precision, 10);
  EXPECT_EQ(c.scale, 0);
  EXPECT_EQ(c.column_type, "decimal(10,0)");
  c = MakeColumnSchema("m", "numeric(5)", "", true);
  EXPECT_EQ(c.precision, 5);
  EXPECT_EQ(c.scale, 0);
  EXPECT_EQ(MakeColumnSchema("m", "decimal(65,30)", "", true).scale, 30);
  EXPECT_EQ(MakeColumnSchema("m", "fixed(4,1)", "", true).column_type, "decimal(4,1)");
  EXPECT_THROW(MakeColumnSchema("m", "decimal(66,2)", "", true), Error);
  EXPECT_THROW(MakeColumnSchema("m", "decimal(5,6)", "", true), Error);
}

TEST(ColumnType, Temporal) {
  ColumnSchema c = MakeColumnSchema("t", "datetime(6)", "", true);
  EXPECT_EQ(c.kind, ValueKind::kDateTime);
  EXPECT_EQ(c.mysql_type, 18);
  EXPECT_EQ(c.fsp, 6);
  EXPECT_EQ(c.column_type, "datetime(6)");
  c = MakeColumnSchema("t", "time(3)", "", true);
  EXPECT_EQ(c.kind, ValueKind::kTime);
  EXPECT_EQ(c.mysql_type, 19);
  EXPECT_EQ(c.fsp, 3);
  c = MakeColumnSchema("t", "timestamp(6)", "", false);
  EXPECT_EQ(c.kind, ValueKind::kTimestamp);
  EXPECT_EQ(c.mysql_type, 17);
  EXPECT_EQ(c.fsp, 6);
  c = MakeColumnSchema("t", "timestamp", "", false);
  EXPECT_EQ(c.fsp, 0);
  EXPECT_EQ(c.column_type, "timestamp");
  c = MakeColumnSchema("t", "date", "", true);
  EXPECT_EQ(c.kind, ValueKind::kDate);
  EXPECT_EQ(c.mysql_type, 10);
  // MariaDB marks columns in the pre-5.6 temporal format; their binlog codes are the old ones.
  c = MakeColumnSchema("t", "datetime /* mariadb-5.3 */", "", true);
  EXPECT_EQ(c.mysql_type, 12);
  EXPECT_EQ(c.column_type, "datetime");
  EXPECT_EQ(MakeColumnSchema("t", "time /* mariadb-5.3 */", "", true).mysql_type, 11);
  EXPECT_EQ(MakeColumnSchema("t", "timestamp /* mariadb-5.3 */", "", true).mysql_type, 7);
  EXPECT_THROW(MakeColumnSchema("t", "time(7)", "", true), Error);
}

TEST(ColumnType, Strings) {
  ColumnSchema c = MakeColumnSchema("s", "varchar(20)", "utf8mb4", true);
  EXPECT_EQ(c.kind, ValueKind::kString);
  EXPECT_EQ(c.mysql_type, 15);
  EXPECT_EQ(c.length, 20);
  EXPECT_EQ(c.charset, "utf8mb4");
  EXPECT_TRUE(IsCharacterColumn(c));
  c = MakeColumnSchema("s", "char(36)", "latin1", true);
  EXPECT_EQ(c.mysql_type, 254);
  EXPECT_EQ(c.length, 36);
  EXPECT_EQ(c.charset, "latin1");
  c = MakeColumnSchema("s", "char", "utf8", true);
  EXPECT_EQ(c.length, 1);
  EXPECT_EQ(c.charset, "utf8mb3");
  EXPECT_EQ(c.column_type, "char(1)");
  c = MakeColumnSchema("s", "longtext", "utf8mb4", true);
  EXPECT_EQ(c.kind, ValueKind::kString);
  EXPECT_EQ(c.mysql_type, 252);
  EXPECT_EQ(c.charset, "utf8mb4");
  EXPECT_EQ(MakeColumnSchema("s", "tinytext", "latin1", true).mysql_type, 252);
  EXPECT_EQ(MakeColumnSchema("s", "mediumtext", "latin1", true).length, 16777215);
  // A character type in the binary charset carries bytes.
  c = MakeColumnSchema("s", "varchar(10)", "binary", true);
  EXPECT_EQ(c.kind, ValueKind::kBytes);
  // NATIONAL types are utf8mb3.
  c = MakeColumnSchema("s", "nvarchar(10)", "", true);
  EXPECT_EQ(c.charset, "utf8mb3");
  EXPECT_EQ(c.column_type, "varchar(10)");
  EXPECT_EQ(MakeColumnSchema("s", "national char(3)", "", true).column_type, "char(3)");
  EXPECT_EQ(MakeColumnSchema("s", "character varying(7)", "", true).mysql_type, 15);
  EXPECT_EQ(MakeColumnSchema("s", "long varchar", "", true).column_type, "mediumtext");
  // TEXT(M) picks the smallest TEXT type holding M characters.
  EXPECT_EQ(MakeColumnSchema("s", "text(100)", "latin1", true).column_type, "tinytext");
  // Without a charset the size waits for ApplyColumnCharset.
  c = MakeColumnSchema("s", "text(100)", "", true);
  EXPECT_EQ(c.column_type, "text(100)");
  EXPECT_EQ(c.mysql_type, 252);
  ApplyColumnCharset(c, "utf8mb4");
  EXPECT_EQ(c.column_type, "text");
  EXPECT_EQ(MakeColumnSchema("s", "text(100)", "utf8mb4", true).column_type, "text");
  EXPECT_EQ(MakeColumnSchema("s", "blob(70000)", "", true).column_type, "mediumblob");
}

TEST(ColumnType, Binary) {
  ColumnSchema c = MakeColumnSchema("b", "varbinary(16)", "", true);
  EXPECT_EQ(c.kind, ValueKind::kBytes);
  EXPECT_EQ(c.mysql_type, 15);
  EXPECT_EQ(c.length, 16);
  EXPECT_EQ(c.charset, "binary");
  EXPECT_FALSE(IsCharacterColumn(c));
  c = MakeColumnSchema("b", "binary(16)", "utf8mb4", true);  // charset is forced to binary
  EXPECT_EQ(c.mysql_type, 254);
  EXPECT_EQ(c.charset, "binary");
  c = MakeColumnSchema("b", "mediumblob", "", true);
  EXPECT_EQ(c.kind, ValueKind::kBytes);
  EXPECT_EQ(c.mysql_type, 252);
  EXPECT_EQ(c.charset, "binary");
  EXPECT_EQ(MakeColumnSchema("b", "long varbinary", "", true).column_type, "mediumblob");
}

TEST(ColumnType, EnumAndSet) {
  ColumnSchema c = MakeColumnSchema("e", "enum('a','b''c')", "utf8mb4", false);
  EXPECT_EQ(c.kind, ValueKind::kString);
  EXPECT_EQ(c.mysql_type, 247);
  EXPECT_TRUE(c.is_enum);
  EXPECT_FALSE(c.is_set);
  ASSERT_EQ(c.enum_values.size(), 2u);
  EXPECT_EQ(c.enum_values[0], "a");
  EXPECT_EQ(c.enum_values[1], "b'c");
  EXPECT_EQ(c.column_type, "enum('a','b''c')");
  EXPECT_EQ(c.charset, "utf8mb4");
  c = MakeColumnSchema("s", "set('x','y')", "latin1", true);
  EXPECT_EQ(c.mysql_type, 248);
  EXPECT_TRUE(c.is_set);
  EXPECT_EQ(c.enum_values, (std::vector<std::string>{"x", "y"}));
  // Members keep their case and inner spaces; keywords are case-insensitive; backslash escapes.
  c = MakeColumnSchema("e", "ENUM('Small', 'Extra Large', 'a\\\\b', 'c,d', 'e)f')", "utf8mb4", true);
  EXPECT_EQ(c.enum_values, (std::vector<std::string>{"Small", "Extra Large", "a\\b", "c,d", "e)f"}));
  EXPECT_EQ(c.column_type, "enum('Small','Extra Large','a\\\\b','c,d','e)f')");
  // Round trip through the normalised text.
  ColumnSchema again = MakeColumnSchema("e", c.column_type, "utf8mb4", true);
  EXPECT_EQ(again.enum_values, c.enum_values);
  EXPECT_EQ(MakeColumnSchema("e", "enum('')", "utf8mb4", true).enum_values, (std::vector<std::string>{""}));
  EXPECT_THROW(MakeColumnSchema("e", "enum(1,2)", "utf8mb4", true), Error);
}

TEST(ColumnType, JsonBitGeometry) {
  ColumnSchema c = MakeColumnSchema("j", "json", "", true);
  EXPECT_EQ(c.kind, ValueKind::kJson);
  EXPECT_EQ(c.mysql_type, 245);
  c = MakeColumnSchema("j", "longtext", "utf8mb4", true);
  MarkMariaDbJson(c);
  EXPECT_EQ(c.kind, ValueKind::kJson);
  EXPECT_EQ(c.mysql_type, 252);
  EXPECT_EQ(c.column_type, "longtext");
  c = MakeColumnSchema("b", "bit(1)", "", true);
  EXPECT_EQ(c.kind, ValueKind::kBit);
  EXPECT_EQ(c.mysql_type, 16);
  EXPECT_EQ(c.length, 1);
  EXPECT_EQ(MakeColumnSchema("b", "bit(64)", "", true).length, 64);
  EXPECT_EQ(MakeColumnSchema("b", "bit", "", true).length, 1);
  EXPECT_THROW(MakeColumnSchema("b", "bit(65)", "", true), Error);
  for (const char* g : {"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
                        "multipolygon", "geometrycollection"}) {
    c = MakeColumnSchema("g", g, "", true);
    EXPECT_EQ(c.kind, ValueKind::kGeometry) << g;
    EXPECT_EQ(c.mysql_type, 255) << g;
    EXPECT_EQ(c.column_type, g);
  }
  EXPECT_EQ(MakeColumnSchema("g", "GEOMCOLLECTION", "", true).column_type, "geometrycollection");
}

TEST(ColumnType, MariaDbTypePlugins) {
  // Decoded to MariaDB's text form (mysql/row_decoder), so a string column without a charset.
  ColumnSchema c = MakeColumnSchema("u", "UUID", "", true);
  EXPECT_EQ(c.kind, ValueKind::kString);
  EXPECT_EQ(c.mysql_type, 254);
  EXPECT_EQ(c.length, 16);
  EXPECT_EQ(c.column_type, "uuid");
  EXPECT_EQ(c.charset, "");
  ColumnSchema i4 = MakeColumnSchema("a", "inet4", "", true);
  EXPECT_EQ(i4.kind, ValueKind::kString);
  EXPECT_EQ(i4.length, 4);
  EXPECT_EQ(i4.column_type, "inet4");
  ColumnSchema i6 = MakeColumnSchema("a", "Inet6", "", false);
  EXPECT_EQ(i6.kind, ValueKind::kString);
  EXPECT_EQ(i6.length, 16);
  EXPECT_EQ(i6.column_type, "inet6");
  EXPECT_FALSE(IsCharacterColumn(i6));  // a table's CONVERT TO CHARACTER SET leaves it alone
  ApplyColumnCharset(i6, "latin1");
  EXPECT_EQ(i6.charset, "");
  EXPECT_EQ(ColumnTypeText(i6), "inet6");
  EXPECT_THROW(MakeColumnSchema("u", "uuid(16)", "", true), Error);
}

TEST(ColumnType, Vector) {
  // MySQL 9 VECTOR(N): N float32 values, MYSQL_TYPE_VECTOR = 242.
  ColumnSchema c = MakeColumnSchema("v", "vector(3)", "", true);
  EXPECT_EQ(c.kind, ValueKind::kBytes);
  EXPECT_EQ(c.mysql_type, 242);
  EXPECT_EQ(c.length, 3);
  EXPECT_EQ(c.charset, "binary");
  EXPECT_EQ(MakeColumnSchema("v", "VECTOR", "", true).length, 2048);
}

TEST(ColumnType, UnknownTypeNamesColumn) {
  try {
    MakeColumnSchema("weird", "hyperloglog(3)", "", true);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    std::string m = e.what();
    EXPECT_NE(m.find("weird"), std::string::npos) << m;
    EXPECT_NE(m.find("hyperloglog"), std::string::npos) << m;
  }
  EXPECT_THROW(MakeColumnSchema("x", "", "", true), Error);
  EXPECT_THROW(MakeColumnSchema("x", "varchar(", "", true), Error);
  EXPECT_THROW(MakeColumnSchema("x", "varchar(10) unsigned", "", true), Error);
  EXPECT_THROW(MakeColumnSchema("x", "int(10) foo", "", true), Error);
}

TEST(ColumnType, Collations) {
  EXPECT_EQ(CharsetOfCollation("utf8mb4_general_ci"), "utf8mb4");
  EXPECT_EQ(CharsetOfCollation("utf8mb4_0900_ai_ci"), "utf8mb4");
  EXPECT_EQ(CharsetOfCollation("utf8_bin"), "utf8mb3");
  EXPECT_EQ(CharsetOfCollation("utf8mb3_general_ci"), "utf8mb3");
  EXPECT_EQ(CharsetOfCollation("latin1_swedish_ci"), "latin1");
  EXPECT_EQ(CharsetOfCollation("binary"), "binary");
  EXPECT_EQ(CharsetOfCollation("UTF16LE_GENERAL_CI"), "utf16le");
  EXPECT_EQ(CharsetOfCollation("uca1400_ai_ci"), "");
  EXPECT_EQ(NormalizeCharset("UTF8"), "utf8mb3");
}

TEST(ColumnType, TypeTextRebuilt) {
  ColumnSchema c = MakeColumnSchema("m", "decimal(10,2)", "", true);
  EXPECT_EQ(ColumnTypeText(c), "decimal(10,2)");
  c.column_type.clear();
  EXPECT_EQ(ColumnTypeText(c), "decimal(10,2)");
  c = MakeColumnSchema("e", "enum('a','b''c')", "", true);
  c.column_type.clear();
  EXPECT_EQ(ColumnTypeText(c), "enum('a','b''c')");
}

}  // namespace
}  // namespace sluice::mysql

namespace sluice::mysql {
namespace {

TEST(ColumnType, ApplyCharset) {
  ColumnSchema c = MakeColumnSchema("s", "varchar(10)", "", true);
  ApplyColumnCharset(c, "UTF8");
  EXPECT_EQ(c.charset, "utf8mb3");
  EXPECT_EQ(c.kind, ValueKind::kString);
  // CHARACTER SET binary turns character types into binary ones (MySQL manual 10.3.5).
  ApplyColumnCharset(c, "binary");
  EXPECT_EQ(c.kind, ValueKind::kBytes);
  EXPECT_EQ(c.column_type, "varbinary(10)");
  EXPECT_EQ(c.charset, "binary");
  // ... and after that it is no longer a character column.
  ApplyColumnCharset(c, "latin1");
  EXPECT_EQ(c.charset, "binary");
  c = MakeColumnSchema("s", "char(4)", "", true);
  ApplyColumnCharset(c, "binary");
  EXPECT_EQ(c.column_type, "binary(4)");
  c = MakeColumnSchema("s", "mediumtext", "", true);
  ApplyColumnCharset(c, "binary");
  EXPECT_EQ(c.column_type, "mediumblob");
  // Non-character columns are untouched.
  c = MakeColumnSchema("i", "int", "", true);
  ApplyColumnCharset(c, "utf8mb4");
  EXPECT_EQ(c.charset, "");
  // CONVERT TO: latin1 TEXT (65535 chars) needs 262140 bytes in utf8mb4 -> MEDIUMTEXT.
  c = MakeColumnSchema("t", "text", "latin1", true);
  ApplyColumnCharset(c, "utf8mb4", /*resize_text=*/true);
  EXPECT_EQ(c.column_type, "mediumtext");
  EXPECT_EQ(c.charset, "utf8mb4");
  c = MakeColumnSchema("t", "text", "utf8mb4", true);
  ApplyColumnCharset(c, "utf8mb4", true);
  EXPECT_EQ(c.column_type, "text");
  // ENUM keeps its members and gets the charset.
  c = MakeColumnSchema("e", "enum('a')", "", true);
  ApplyColumnCharset(c, "latin1");
  EXPECT_EQ(c.charset, "latin1");
  EXPECT_EQ(c.kind, ValueKind::kString);
  // A MariaDB JSON column stays JSON.
  c = MakeColumnSchema("j", "longtext", "", true);
  MarkMariaDbJson(c);
  ApplyColumnCharset(c, "utf8mb4");
  EXPECT_EQ(c.kind, ValueKind::kJson);
}

}  // namespace
}  // namespace sluice::mysql
