#include "clickhouse/ddl.h"

#include <gtest/gtest.h>

#include "common/error.h"

#include "test_util.h"

namespace sluice::clickhouse {
namespace {

using testing::Col;
using testing::DecimalCol;
using testing::TimeCol;

const ServerFeatures kOld = ServerFeatures::ForVersion(ServerVersion::Parse("18.16.1"));
const ServerFeatures kNew = ServerFeatures::ForVersion(ServerVersion::Parse("24.8.4"));

TableSchema Orders() {
  TableSchema s;
  s.database = "shop";
  s.table = "orders";
  s.columns = {Col("id", ValueKind::kUInt, "bigint unsigned"), Col("region", ValueKind::kString, "varchar(8)"),
               DecimalCol("total", 12, 2, true), TimeCol("created", ValueKind::kDateTime, "datetime(6)", 6, true)};
  s.primary_key = {1, 0};
  return s;
}

std::vector<ColumnType> Types(const TableSchema& s, const ServerFeatures& f) {
  std::vector<ColumnType> t;
  for (const auto& c : s.columns) t.push_back(MapColumnType(c, f));
  return t;
}

std::string Create(const TableSchema& s, const DdlContext& ctx, const TableOverride& ov = {}) {
  return CreateTableSql(s, Types(s, ctx.features), "olap", ov.table.empty() ? s.table : ov.table, ov, ctx,
                        "sink.tables.\"shop.orders\"");
}

TEST(DdlTest, QuotesIdentifiersAndStrings) {
  EXPECT_EQ(QuoteIdent("a`b\\c"), "`a\\`b\\\\c`");
  EXPECT_EQ(QuoteString("it's"), "'it\\'s'");
}

TEST(DdlTest, CreateDatabase) {
  EXPECT_EQ(CreateDatabaseSql("olap", {"", kOld}), "CREATE DATABASE IF NOT EXISTS `olap`");
  EXPECT_EQ(CreateDatabaseSql("olap", {"c1", kOld}), "CREATE DATABASE IF NOT EXISTS `olap` ON CLUSTER `c1`");
}

TEST(DdlTest, CreateTableOn18_16) {
  EXPECT_EQ(Create(Orders(), {"", kOld}),
            "CREATE TABLE IF NOT EXISTS `olap`.`orders` (`id` UInt64, `region` String, "
            "`total` Nullable(Decimal(12, 2)), `created` Nullable(String), `_version` UInt64, `_is_deleted` UInt8) "
            "ENGINE = ReplacingMergeTree(`_version`) ORDER BY (`region`, `id`)");
}

TEST(DdlTest, CreateTableOnCurrentServer) {
  EXPECT_EQ(Create(Orders(), {"", kNew}),
            "CREATE TABLE IF NOT EXISTS `olap`.`orders` (`id` UInt64, `region` String, "
            "`total` Nullable(Decimal(12, 2)), `created` Nullable(DateTime64(6, 'UTC')), `_version` UInt64, "
            "`_is_deleted` UInt8) ENGINE = ReplacingMergeTree(`_version`, `_is_deleted`) ORDER BY (`region`, `id`)");
}

TEST(DdlTest, CreateReplicatedTableOnCluster) {
  TableOverride ov;
  ov.table = "orders_v2";
  ov.partition_by = "toYYYYMM(created)";
  ov.settings = "index_granularity = 4096";
  EXPECT_EQ(Create(Orders(), {"sluice_cluster", kOld}, ov),
            "CREATE TABLE IF NOT EXISTS `olap`.`orders_v2` ON CLUSTER `sluice_cluster` (`id` UInt64, `region` String, "
            "`total` Nullable(Decimal(12, 2)), `created` Nullable(String), `_version` UInt64, `_is_deleted` UInt8) "
            "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/olap/orders_v2', '{replica}', `_version`) "
            "PARTITION BY toYYYYMM(created) ORDER BY (`region`, `id`) SETTINGS index_granularity = 4096");
  EXPECT_NE(Create(Orders(), {"c", kNew}).find("'{replica}', `_version`, `_is_deleted`)"), std::string::npos);
}

TEST(DdlTest, TableWithoutPrimaryKeyNeedsOrderBy) {
  TableSchema s = Orders();
  s.primary_key.clear();
  try {
    Create(s, {"", kOld});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("shop.orders has no primary key"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sink.tables.\"shop.orders\".order.by"), std::string::npos) << e.what();
  }
  TableOverride ov;
  ov.order_by = "(region, `id`)";
  EXPECT_NE(Create(s, {"", kOld}, ov).find("ORDER BY (region, `id`)"), std::string::npos);
  EXPECT_EQ(KeyColumns(s, ov), (std::vector<int>{0, 1}));
  ov.order_by = "(toDate(created), 'id')";  // string literals are not columns
  EXPECT_EQ(KeyColumns(s, ov), (std::vector<int>{3}));
}

TEST(DdlTest, NullableKeyColumn) {
  TableSchema s = Orders();
  s.columns[1].nullable = true;
  // 18.16 cannot sort by Nullable: NULL and the default value are told apart by isNull() (a view's
  // key may be NULL: an outer join's padded side, a nullable GROUP BY column).
  const std::string sql = Create(s, {"", kOld});
  EXPECT_NE(sql.find("ORDER BY (isNull(`region`), assumeNotNull(`region`), `id`)"), std::string::npos) << sql;
  EXPECT_EQ(KeyColumns(s, {}), (std::vector<int>{1, 0}));
  EXPECT_NE(Create(s, {"", kNew}).find("SETTINGS allow_nullable_key = 1"), std::string::npos);
}

TEST(DdlTest, NullableColumnsInOrderByOfATableWithoutPrimaryKey) {
  // A table without a primary key and its order.by naming nullable columns ("total" and "created"
  // are nullable in Orders()): 18.16 refuses a Nullable sorting key, so a column named on its own
  // is sorted by (isNull(c), assumeNotNull(c)); expressions and non-nullable columns stay as written.
  TableSchema s = Orders();
  s.primary_key.clear();
  TableOverride ov;
  ov.order_by = " ( id, `total` ,\"created\", toDate(created) ) ";
  std::string sql = Create(s, {"", kOld}, ov);
  EXPECT_NE(sql.find("ORDER BY (id, isNull(`total`), assumeNotNull(`total`), isNull(`created`), "
                     "assumeNotNull(`created`), toDate(created))"),
            std::string::npos)
      << sql;
  EXPECT_EQ(KeyColumns(s, ov), (std::vector<int>{0, 2, 3}));
  ov.order_by = "total";  // no parentheses
  sql = Create(s, {"", kOld}, ov);
  EXPECT_NE(sql.find("ORDER BY (isNull(`total`), assumeNotNull(`total`))"), std::string::npos) << sql;
  ov.order_by = "(id, region)";  // nothing nullable: as written
  EXPECT_NE(Create(s, {"", kOld}, ov).find("ORDER BY (id, region)"), std::string::npos);
  ov.order_by = "(id, total)";  // servers with allow_nullable_key: as written
  EXPECT_NE(Create(s, {"", kNew}, ov).find("ORDER BY (id, total)"), std::string::npos);
  ov.order_by = "(id, 'total')";  // a string literal is not the column
  EXPECT_NE(Create(s, {"", kOld}, ov).find("ORDER BY (id, 'total')"), std::string::npos);
}

TableSchema WithColumns(std::vector<ColumnSchema> cols) {
  TableSchema s;
  s.database = "shop";
  s.table = "orders";
  s.columns = std::move(cols);
  s.primary_key = {0};
  return s;
}

std::vector<std::string> Sql(const std::vector<DdlStep>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) out.push_back(s.sql + (s.wait_mutations ? "  -- wait" : ""));
  return out;
}

TEST(DdlTest, AlterAddDropModify) {
  const TableSchema a = WithColumns({Col("id", ValueKind::kInt, "int"), Col("n", ValueKind::kInt, "int"),
                                     Col("gone", ValueKind::kString, "text")});
  const TableSchema b = WithColumns({Col("id", ValueKind::kInt, "int"), Col("n", ValueKind::kInt, "bigint"),
                                     Col("note", ValueKind::kString, "varchar(5)", true)});
  // `gone`(text) → `note`(varchar, nullable) differ in definition: not a rename.
  EXPECT_EQ(Sql(AlterTableSteps(a, b, "olap", "orders", {0}, {"", kOld})),
            (std::vector<std::string>{
                "ALTER TABLE `olap`.`orders` DROP COLUMN `gone`",
                "ALTER TABLE `olap`.`orders` MODIFY COLUMN `n` Int64",
                "ALTER TABLE `olap`.`orders` ADD COLUMN `note` Nullable(String) AFTER `n`",
            }));
}

TEST(DdlTest, RenameByVersion) {
  const TableSchema a = WithColumns({Col("id", ValueKind::kInt, "int"), Col("qty", ValueKind::kInt, "int")});
  const TableSchema b = WithColumns({Col("id", ValueKind::kInt, "int"), Col("quantity", ValueKind::kInt, "int")});
  EXPECT_EQ(Sql(AlterTableSteps(a, b, "olap", "orders", {0}, {"", kNew})),
            (std::vector<std::string>{"ALTER TABLE `olap`.`orders` RENAME COLUMN `qty` TO `quantity`"}));
  EXPECT_EQ(Sql(AlterTableSteps(a, b, "olap", "orders", {0}, {"c", kOld})),
            (std::vector<std::string>{
                "ALTER TABLE `olap`.`orders` ON CLUSTER `c` ADD COLUMN `quantity` Int32 AFTER `qty`",
                "ALTER TABLE `olap`.`orders` ON CLUSTER `c` UPDATE `quantity` = `qty` WHERE 1  -- wait",
                "ALTER TABLE `olap`.`orders` ON CLUSTER `c` DROP COLUMN `qty`",
            }));
  // An explicit rename map wins over the positional guess.
  const TableSchema c = WithColumns({Col("id", ValueKind::kInt, "int"), Col("qty2", ValueKind::kInt, "bigint")});
  EXPECT_EQ(Sql(AlterTableSteps(a, c, "olap", "orders", {0}, {"", kNew}, {{"qty", "qty2"}})),
            (std::vector<std::string>{"ALTER TABLE `olap`.`orders` RENAME COLUMN `qty` TO `qty2`",
                                      "ALTER TABLE `olap`.`orders` MODIFY COLUMN `qty2` Int64"}));
}

TEST(DdlTest, KeyColumnsCannotBeDroppedOrRenamed) {
  const TableSchema a = WithColumns({Col("id", ValueKind::kInt, "int"), Col("x", ValueKind::kInt, "int")});
  const TableSchema b = WithColumns({Col("x", ValueKind::kInt, "int")});
  EXPECT_THROW(AlterTableSteps(a, b, "olap", "orders", {0}, {"", kNew}), Error);
  const TableSchema c = WithColumns({Col("ident", ValueKind::kInt, "int"), Col("x", ValueKind::kInt, "int")});
  EXPECT_THROW(AlterTableSteps(a, c, "olap", "orders", {0}, {"", kNew}), Error);
}

}  // namespace
}  // namespace sluice::clickhouse
