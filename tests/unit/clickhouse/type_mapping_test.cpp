#include "clickhouse/type_mapping.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace sluice::clickhouse {
namespace {

using testing::Col;
using testing::DecimalCol;
using testing::TimeCol;

const ServerFeatures kOld = ServerFeatures::ForVersion(ServerVersion::Parse("18.16.1"));
const ServerFeatures kNew = ServerFeatures::ForVersion(ServerVersion::Parse("24.8.4.13"));

std::string Map(const ColumnSchema& c, const ServerFeatures& f = kOld) { return MapColumnType(c, f).Full(); }

TEST(ServerVersionTest, ParsesAndComparesReleases) {
  const ServerVersion v = ServerVersion::Parse("18.16.1\n");
  EXPECT_EQ(v.major, 18);
  EXPECT_EQ(v.minor, 16);
  EXPECT_EQ(v.patch, 1);
  EXPECT_TRUE(v.AtLeast(18, 16));
  EXPECT_FALSE(v.AtLeast(20, 1));
  EXPECT_EQ(ServerVersion::Parse("24.8.4.13").ToString(), "24.8.4");
  EXPECT_THROW(ServerVersion::Parse("hello"), Error);
}

TEST(ServerVersionTest, FeaturesByRelease) {
  EXPECT_FALSE(kOld.datetime64);
  EXPECT_FALSE(kOld.is_deleted_param);
  EXPECT_FALSE(kOld.rename_column);
  EXPECT_FALSE(kOld.decimal256);
  EXPECT_FALSE(kOld.nullable_key);
  EXPECT_TRUE(kNew.datetime64);
  EXPECT_TRUE(kNew.is_deleted_param);
  EXPECT_TRUE(kNew.rename_column);
  EXPECT_TRUE(kNew.decimal256);
  EXPECT_TRUE(kNew.nullable_key);
  const auto v23_1 = ServerFeatures::ForVersion(ServerVersion::Parse("23.1.3"));
  EXPECT_FALSE(v23_1.is_deleted_param);
  EXPECT_TRUE(ServerFeatures::ForVersion(ServerVersion::Parse("23.2.1")).is_deleted_param);
}

TEST(TypeMappingTest, IntegersBySizeAndSign) {
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "tinyint(4)")), "Int8");
  EXPECT_EQ(Map(Col("a", ValueKind::kUInt, "tinyint(3) unsigned")), "UInt8");
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "smallint(6)")), "Int16");
  EXPECT_EQ(Map(Col("a", ValueKind::kUInt, "smallint unsigned")), "UInt16");
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "mediumint(9)")), "Int32");
  EXPECT_EQ(Map(Col("a", ValueKind::kUInt, "mediumint(8) unsigned")), "UInt32");
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "int(11)")), "Int32");
  EXPECT_EQ(Map(Col("a", ValueKind::kUInt, "int(10) unsigned")), "UInt32");
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "bigint(20)")), "Int64");
  EXPECT_EQ(Map(Col("a", ValueKind::kUInt, "bigint(20) unsigned")), "UInt64");
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "int", true)), "Nullable(Int32)");
  // mysql_type wins over column_type; views (no type info) get 64 bits.
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "", false, /*MYSQL_TYPE_SHORT*/ 2)), "Int16");
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "")), "Int64");
  EXPECT_EQ(Map(Col("a", ValueKind::kUInt, "")), "UInt64");
  // "integer" and "interval"-like names must not confuse the prefix match.
  EXPECT_EQ(Map(Col("a", ValueKind::kInt, "integer")), "Int32");
}

TEST(TypeMappingTest, YearBitFloatsStrings) {
  EXPECT_EQ(Map(Col("y", ValueKind::kInt, "year(4)")), "UInt16");
  EXPECT_EQ(Map(Col("y", ValueKind::kInt, "", false, /*MYSQL_TYPE_YEAR*/ 13)), "UInt16");
  EXPECT_EQ(Map(Col("b", ValueKind::kBit, "bit(10)")), "UInt64");
  EXPECT_EQ(Map(Col("f", ValueKind::kFloat, "float")), "Float32");
  EXPECT_EQ(Map(Col("d", ValueKind::kDouble, "double", true)), "Nullable(Float64)");
  EXPECT_EQ(Map(Col("s", ValueKind::kString, "varchar(20)")), "String");
  EXPECT_EQ(Map(Col("s", ValueKind::kString, "enum('a','b')")), "String");
  EXPECT_EQ(Map(Col("s", ValueKind::kString, "set('a','b')")), "String");
  EXPECT_EQ(Map(Col("s", ValueKind::kBytes, "blob")), "String");
  EXPECT_EQ(Map(Col("s", ValueKind::kJson, "json", true)), "Nullable(String)");
  const ColumnType g = MapColumnType(Col("g", ValueKind::kGeometry, "geometry"), kOld);
  EXPECT_EQ(g.Full(), "String");
  EXPECT_EQ(g.encoding, Encoding::kGeometryWkb);
}

TEST(TypeMappingTest, DecimalsByPrecisionAndVersion) {
  EXPECT_EQ(MapColumnType(DecimalCol("d", 9, 2), kOld).encoding, Encoding::kDecimal32);
  EXPECT_EQ(MapColumnType(DecimalCol("d", 10, 2), kOld).encoding, Encoding::kDecimal64);
  EXPECT_EQ(MapColumnType(DecimalCol("d", 19, 0), kOld).encoding, Encoding::kDecimal128);
  EXPECT_EQ(Map(DecimalCol("d", 10, 2)), "Decimal(10, 2)");
  EXPECT_EQ(Map(DecimalCol("d", 38, 10, true)), "Nullable(Decimal(38, 10))");
  // More than 38 digits: String on 18.16, Decimal256 on current servers.
  EXPECT_EQ(Map(DecimalCol("d", 65, 30), kOld), "String");
  const ColumnType wide = MapColumnType(DecimalCol("d", 65, 30), kNew);
  EXPECT_EQ(wide.Full(), "Decimal(65, 30)");
  EXPECT_EQ(wide.encoding, Encoding::kDecimal256);
  // Unknown precision (a view's computed decimal): lossless text.
  EXPECT_EQ(Map(DecimalCol("d", 0, 0), kNew), "String");
}

TEST(TypeMappingTest, TemporalTypesByVersion) {
  EXPECT_EQ(Map(Col("d", ValueKind::kDate, "date")), "Date");
  EXPECT_EQ(Map(Col("t", ValueKind::kTime, "time(6)")), "Int64");
  EXPECT_EQ(Map(TimeCol("t", ValueKind::kDateTime, "datetime", 0)), "DateTime('UTC')");
  EXPECT_EQ(Map(TimeCol("t", ValueKind::kTimestamp, "timestamp", 0, true)), "Nullable(DateTime('UTC'))");
  EXPECT_EQ(Map(TimeCol("t", ValueKind::kDateTime, "datetime(6)", 6), kOld), "String");
  EXPECT_EQ(MapColumnType(TimeCol("t", ValueKind::kDateTime, "datetime(6)", 6), kOld).encoding,
            Encoding::kDateTimeText);
  EXPECT_EQ(Map(TimeCol("t", ValueKind::kDateTime, "datetime(6)", 6), kNew), "DateTime64(6, 'UTC')");
  EXPECT_EQ(Map(TimeCol("t", ValueKind::kTimestamp, "timestamp(3)", 3), kNew), "DateTime64(3, 'UTC')");
}

TEST(TypeMappingTest, AdaptsToCompatibleExistingColumns) {
  ColumnType t = MapColumnType(Col("s", ValueKind::kString, "varchar(5)"), kOld);
  EXPECT_TRUE(AdaptToExistingType(t, "String"));
  EXPECT_FALSE(t.nullable);

  t = MapColumnType(Col("s", ValueKind::kString, "varchar(5)"), kOld);
  EXPECT_TRUE(AdaptToExistingType(t, "LowCardinality(String)"));

  t = MapColumnType(Col("s", ValueKind::kString, "varchar(5)"), kOld);  // NOT NULL source, Nullable column
  EXPECT_TRUE(AdaptToExistingType(t, "Nullable(String)"));
  EXPECT_TRUE(t.nullable);

  t = MapColumnType(Col("s", ValueKind::kString, "varchar(5)", true), kOld);  // NULLs need Nullable
  EXPECT_FALSE(AdaptToExistingType(t, "String"));

  t = MapColumnType(Col("i", ValueKind::kInt, "int"), kOld);
  EXPECT_FALSE(AdaptToExistingType(t, "Int64"));

  t = MapColumnType(TimeCol("t", ValueKind::kDateTime, "datetime", 0), kOld);
  EXPECT_TRUE(AdaptToExistingType(t, "DateTime"));
  t = MapColumnType(TimeCol("t", ValueKind::kDateTime, "datetime", 0), kOld);
  EXPECT_TRUE(AdaptToExistingType(t, "DateTime('Europe/Berlin')"));
  t = MapColumnType(TimeCol("t", ValueKind::kDateTime, "datetime(3)", 3), kNew);
  EXPECT_TRUE(AdaptToExistingType(t, "DateTime64(3)"));
  t = MapColumnType(TimeCol("t", ValueKind::kDateTime, "datetime(3)", 3), kNew);
  EXPECT_FALSE(AdaptToExistingType(t, "DateTime64(6, 'UTC')"));
  // Tables created on 18.16 keep their lossless String columns after a server upgrade.
  t = MapColumnType(TimeCol("t", ValueKind::kDateTime, "datetime(3)", 3, true), kNew);
  EXPECT_TRUE(AdaptToExistingType(t, "Nullable(String)"));
  EXPECT_EQ(t.encoding, Encoding::kDateTimeText);
  EXPECT_EQ(t.scale, 3);
  t = MapColumnType(DecimalCol("d", 65, 30), kNew);
  EXPECT_TRUE(AdaptToExistingType(t, "String"));
  EXPECT_EQ(t.encoding, Encoding::kString);
  t = MapColumnType(Col("i", ValueKind::kInt, "int"), kNew);
  EXPECT_FALSE(AdaptToExistingType(t, "String"));
}

}  // namespace
}  // namespace sluice::clickhouse
