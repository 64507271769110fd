#include "mysql/schema_catalog.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "mysql/column_type.h"

// Each step's expected schema is worked out by hand from the MySQL 8.0 manual (ALTER TABLE:
// column positions, "columns dropped are removed from any index of which they are a part",
// primary key columns are NOT NULL, CONVERT TO CHARACTER SET; RENAME TABLE).

namespace sluice::mysql {
namespace {

using Strings = std::vector<std::string>;
using Status = CatalogUpdate::Status;

std::vector<std::string> Names(const TableSchemaPtr& t) {
  std::vector<std::string> out;
  for (const auto& c : t->columns) out.push_back(c.name);
  return out;
}

CatalogUpdate ApplySql(SchemaCatalog& cat, std::string_view sql, std::string_view db = "shop", bool mariadb = false) {
  DdlParseOptions opt;
  opt.mariadb = mariadb;
  return cat.Apply(ParseDdl(sql, db, opt));
}

/// Names of the primary key columns, in key order.
Strings Pk(const TableSchemaPtr& t) {
  Strings out;
  for (int i : t->primary_key) out.push_back(t->columns[static_cast<size_t>(i)].name);
  return out;
}

TEST(SchemaCatalog, CreateResolvesCharsets) {
  SchemaCatalog cat;
  cat.SetServerCharset("latin1");
  cat.SetDatabaseCharset("shop", "utf8mb4");
  CatalogUpdate u = ApplySql(cat, "CREATE TABLE t (id int PRIMARY KEY, a varchar(10), b varchar(10) CHARSET ascii, "
                             "e enum('x'), n int) DEFAULT CHARSET=utf8");
  ASSERT_EQ(u.status, Status::kApplied) << u.message;
  ASSERT_EQ(u.changes.size(), 1u);
  EXPECT_EQ(u.changes[0].first, nullptr);
  TableSchemaPtr t = cat.Get("shop", "t");
  ASSERT_TRUE(t);
  EXPECT_EQ(u.changes[0].second, t);
  EXPECT_EQ(t->version, 1u);
  EXPECT_EQ(t->columns[1].charset, "utf8mb3");  // table default
  EXPECT_EQ(t->columns[2].charset, "ascii");
  EXPECT_EQ(t->columns[3].charset, "utf8mb3");
  EXPECT_EQ(t->columns[4].charset, "");
  EXPECT_EQ(cat.TableCharset("shop", "t"), "utf8mb3");
  // No table charset: the database's; unknown database: the server's.
  ApplySql(cat, "CREATE TABLE t2 (a text)");
  EXPECT_EQ(cat.Get("shop", "t2")->columns[0].charset, "utf8mb4");
  ApplySql(cat, "CREATE TABLE other.t3 (a char(1))");
  EXPECT_EQ(cat.Get("other", "t3")->columns[0].charset, "latin1");
  // CREATE DATABASE sets the charset for later tables.
  ApplySql(cat, "CREATE DATABASE d2 CHARACTER SET cp1251");
  ApplySql(cat, "CREATE TABLE d2.t (a char(1))");
  EXPECT_EQ(cat.Get("d2", "t")->columns[0].charset, "cp1251");
  ApplySql(cat, "ALTER DATABASE d2 CHARACTER SET koi8r");
  EXPECT_EQ(cat.DatabaseCharset("d2"), "koi8r");
}

TEST(SchemaCatalog, SequenceOfAlters) {
  SchemaCatalog cat;
  cat.SetDatabaseCharset("shop", "utf8mb4");
  ASSERT_EQ(ApplySql(cat, "CREATE TABLE `orders` (`id` int NOT NULL, `customer` varchar(20), `amount` decimal(8,2), "
                     "PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=latin1")
                .status,
            Status::kApplied);
  TableSchemaPtr v1 = cat.Get("shop", "orders");

  // ADD at the end, FIRST and AFTER.
  CatalogUpdate u = ApplySql(cat, "ALTER TABLE orders ADD COLUMN note text, ADD region char(2) FIRST, "
                             "ADD placed datetime(3) AFTER id");
  ASSERT_EQ(u.status, Status::kApplied) << u.message;
  TableSchemaPtr v2 = cat.Get("shop", "orders");
  EXPECT_EQ(Names(v2), (Strings{"region", "id", "placed", "customer", "amount", "note"}));
  EXPECT_EQ(v2->version, v1->version + 1);
  EXPECT_EQ(Pk(v2), (Strings{"id"}));
  EXPECT_EQ(v2->columns[5].charset, "latin1");  // the table's default, not the database's
  ASSERT_EQ(u.changes.size(), 1u);
  EXPECT_EQ(u.changes[0].first, v1);
  EXPECT_EQ(u.changes[0].second, v2);
  // The old snapshot is untouched.
  EXPECT_EQ(Names(v1), (Strings{"id", "customer", "amount"}));

  // CHANGE renames and retypes, keeping the PK identity; MODIFY moves.
  ApplySql(cat, "ALTER TABLE orders CHANGE COLUMN id order_id bigint unsigned NOT NULL, MODIFY region char(3) AFTER amount");
  TableSchemaPtr v3 = cat.Get("shop", "orders");
  EXPECT_EQ(Names(v3), (Strings{"order_id", "placed", "customer", "amount", "region", "note"}));
  EXPECT_EQ(Pk(v3), (Strings{"order_id"}));
  EXPECT_EQ(v3->columns[0].kind, ValueKind::kUInt);
  EXPECT_EQ(v3->columns[4].column_type, "char(3)");
  EXPECT_EQ(v3->columns[4].charset, "latin1");

  // Column names are case-insensitive; RENAME COLUMN keeps the position.
  ApplySql(cat, "ALTER TABLE orders RENAME COLUMN CUSTOMER TO client, DROP COLUMN Note");
  TableSchemaPtr v4 = cat.Get("shop", "orders");
  EXPECT_EQ(Names(v4), (Strings{"order_id", "placed", "client", "amount", "region"}));

  // Composite PK, then drop one of its columns: the PK shrinks.
  ApplySql(cat, "ALTER TABLE orders DROP PRIMARY KEY, ADD PRIMARY KEY (placed, order_id)");
  TableSchemaPtr v5 = cat.Get("shop", "orders");
  EXPECT_EQ(Pk(v5), (Strings{"placed", "order_id"}));
  EXPECT_FALSE(v5->columns[1].nullable);  // PK columns become NOT NULL
  ApplySql(cat, "ALTER TABLE orders DROP COLUMN placed");
  TableSchemaPtr v6 = cat.Get("shop", "orders");
  EXPECT_EQ(Names(v6), (Strings{"order_id", "client", "amount", "region"}));
  EXPECT_EQ(Pk(v6), (Strings{"order_id"}));
  EXPECT_EQ(v6->primary_key, (std::vector<int>{0}));
  // Moving a PK column moves its index.
  ApplySql(cat, "ALTER TABLE orders MODIFY order_id bigint unsigned NOT NULL AFTER region");
  TableSchemaPtr v7 = cat.Get("shop", "orders");
  EXPECT_EQ(Names(v7), (Strings{"client", "amount", "region", "order_id"}));
  EXPECT_EQ(v7->primary_key, (std::vector<int>{3}));

  // Defaults.
  ApplySql(cat, "ALTER TABLE orders ALTER COLUMN amount SET DEFAULT '0.00', ALTER region SET DEFAULT 'EU'");
  EXPECT_TRUE(cat.Get("shop", "orders")->columns[1].has_default);
  EXPECT_EQ(cat.Get("shop", "orders")->columns[1].default_value, "0.00");
  ApplySql(cat, "ALTER TABLE orders ALTER COLUMN amount DROP DEFAULT");
  EXPECT_FALSE(cat.Get("shop", "orders")->columns[1].has_default);
  EXPECT_EQ(cat.Get("shop", "orders")->columns[2].default_value, "EU");

  // Versions count every change.
  EXPECT_EQ(cat.Get("shop", "orders")->version, v7->version + 2);

  // Options-only ALTERs change nothing.
  u = ApplySql(cat, "ALTER TABLE orders ENGINE=InnoDB, ALGORITHM=COPY");
  EXPECT_EQ(u.status, Status::kNoop);
  EXPECT_EQ(cat.Get("shop", "orders")->version, v7->version + 2);
}

TEST(SchemaCatalog, AddPrimaryKeyInlineAndDrop) {
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE t (a int, b int)");
  EXPECT_TRUE(cat.Get("shop", "t")->primary_key.empty());
  ApplySql(cat, "ALTER TABLE t ADD COLUMN id int AUTO_INCREMENT PRIMARY KEY FIRST");
  TableSchemaPtr t = cat.Get("shop", "t");
  EXPECT_EQ(Names(t), (Strings{"id", "a", "b"}));
  EXPECT_EQ(t->primary_key, (std::vector<int>{0}));
  EXPECT_FALSE(t->columns[0].nullable);
  ApplySql(cat, "ALTER TABLE t DROP PRIMARY KEY");
  EXPECT_TRUE(cat.Get("shop", "t")->primary_key.empty());
  ApplySql(cat, "ALTER TABLE t ADD CONSTRAINT PRIMARY KEY (b, a)");
  EXPECT_EQ(cat.Get("shop", "t")->primary_key, (std::vector<int>{2, 1}));
  // Dropping every PK column drops the key.
  ApplySql(cat, "ALTER TABLE t DROP a, DROP b");
  EXPECT_TRUE(cat.Get("shop", "t")->primary_key.empty());
  EXPECT_EQ(Names(cat.Get("shop", "t")), (Strings{"id"}));
}

TEST(SchemaCatalog, RenameTables) {
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE a (x int)");
  ApplySql(cat, "CREATE TABLE b (y int)");
  // Swap through a temporary name, as pt-online-schema-change and gh-ost do.
  CatalogUpdate u = ApplySql(cat, "RENAME TABLE a TO tmp, b TO a, tmp TO b");
  ASSERT_EQ(u.status, Status::kApplied) << u.message;
  EXPECT_EQ(u.changes.size(), 3u);
  EXPECT_EQ(Names(cat.Get("shop", "a")), (Strings{"y"}));
  EXPECT_EQ(Names(cat.Get("shop", "b")), (Strings{"x"}));
  EXPECT_EQ(cat.Get("shop", "tmp"), nullptr);
  EXPECT_EQ(cat.Get("shop", "a")->table, "a");
  // Across databases.
  ApplySql(cat, "RENAME TABLE shop.a TO archive.a_old");
  EXPECT_EQ(cat.Get("shop", "a"), nullptr);
  TableSchemaPtr moved = cat.Get("archive", "a_old");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->database, "archive");
  EXPECT_EQ(moved->QualifiedName(), "archive.a_old");
  // ALTER ... RENAME with column changes.
  u = ApplySql(cat, "ALTER TABLE b ADD z int, RENAME TO c");
  ASSERT_EQ(u.status, Status::kApplied);
  EXPECT_EQ(cat.Get("shop", "b"), nullptr);
  EXPECT_EQ(Names(cat.Get("shop", "c")), (Strings{"x", "z"}));
  EXPECT_EQ(u.changes[0].first->table, "b");
  EXPECT_EQ(u.changes[0].second->table, "c");
  // Unknown source: the caller may want the new table.
  u = ApplySql(cat, "RENAME TABLE nowhere TO somewhere");
  EXPECT_EQ(u.status, Status::kUnknownTable);
  ASSERT_EQ(u.reread.size(), 1u);
  EXPECT_EQ(u.reread[0], (QualifiedName{"shop", "somewhere"}));
}

TEST(SchemaCatalog, OnlineSchemaChangeToolFlow) {
  // gh-ost writes its statements with a /* gh-ost */ comment after the verb; pt-osc is alike.
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE `test`.`t` (`id` int NOT NULL, `v` varchar(10), PRIMARY KEY (`id`))", "test");
  ApplySql(cat, "create /* gh-ost */ table `test`.`_t_gho` like `test`.`t`", "test");
  ApplySql(cat, "alter /* gh-ost */ table `test`.`_t_gho` add column `w` int not null default 0 after `id`", "test");
  CatalogUpdate u = ApplySql(cat, "rename /* gh-ost */ table `test`.`t` to `test`.`_t_del`, `test`.`_t_gho` to `test`.`t`",
                             "test");
  ASSERT_EQ(u.status, Status::kApplied) << u.message;
  ApplySql(cat, "drop /* gh-ost */ table if exists `test`.`_t_del`", "test");
  EXPECT_EQ(cat.size(), 1u);
  TableSchemaPtr t = cat.Get("test", "t");
  EXPECT_EQ(Names(t), (Strings{"id", "w", "v"}));
  EXPECT_EQ(Pk(t), (Strings{"id"}));
}

TEST(SchemaCatalog, TableNamesAreCaseSensitive) {
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE T (a int)");
  ApplySql(cat, "CREATE TABLE t (b int)");
  EXPECT_EQ(cat.size(), 2u);
  EXPECT_EQ(Names(cat.Get("shop", "T")), (Strings{"a"}));
  EXPECT_EQ(Names(cat.Get("shop", "t")), (Strings{"b"}));
  EXPECT_EQ(cat.Get("SHOP", "t"), nullptr);
}

TEST(SchemaCatalog, DropTruncateAndIfExists) {
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE a (x int)");
  ApplySql(cat, "CREATE TABLE b (x int)");
  ApplySql(cat, "CREATE TABLE other.c (x int)");
  EXPECT_EQ(ApplySql(cat, "TRUNCATE TABLE a").status, Status::kNoop);
  CatalogUpdate u = ApplySql(cat, "DROP TABLE IF EXISTS a, missing, b");
  EXPECT_EQ(u.status, Status::kApplied);
  ASSERT_EQ(u.changes.size(), 2u);
  EXPECT_EQ(u.changes[0].second, nullptr);
  EXPECT_EQ(cat.size(), 1u);
  // CREATE TABLE IF NOT EXISTS on an existing table keeps it.
  ApplySql(cat, "CREATE TABLE other.c2 (x int)");
  u = ApplySql(cat, "CREATE TABLE IF NOT EXISTS other.c2 (completely int, different int)");
  EXPECT_EQ(u.status, Status::kNoop);
  EXPECT_EQ(Names(cat.Get("other", "c2")), (Strings{"x"}));
  // MariaDB CREATE OR REPLACE replaces it, with a higher version.
  uint64_t v = cat.Get("other", "c2")->version;
  u = ApplySql(cat, "CREATE OR REPLACE TABLE other.c2 (y int)");
  EXPECT_EQ(u.status, Status::kApplied);
  EXPECT_EQ(Names(cat.Get("other", "c2")), (Strings{"y"}));
  EXPECT_EQ(cat.Get("other", "c2")->version, v + 1);
  // DROP DATABASE drops its tables.
  u = ApplySql(cat, "DROP DATABASE other");
  EXPECT_EQ(u.changes.size(), 2u);
  EXPECT_EQ(cat.size(), 0u);
  // A re-created table continues the version count of its name.
  ApplySql(cat, "CREATE TABLE other.c2 (z int)");
  EXPECT_EQ(cat.Get("other", "c2")->version, v + 2);
  // MariaDB IF EXISTS in ALTER.
  u = ApplySql(cat, "ALTER TABLE other.c2 ADD COLUMN IF NOT EXISTS z int, DROP COLUMN IF EXISTS nope, ADD w int");
  EXPECT_EQ(u.status, Status::kApplied) << u.message;
  EXPECT_EQ(Names(cat.Get("other", "c2")), (Strings{"z", "w"}));
  EXPECT_EQ(ApplySql(cat, "ALTER TABLE IF EXISTS other.nope ADD x int").status, Status::kNoop);
}

TEST(SchemaCatalog, CreateLike) {
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE src (id int PRIMARY KEY, s varchar(3)) CHARSET latin1");
  CatalogUpdate u = ApplySql(cat, "CREATE TABLE copy LIKE src");
  ASSERT_EQ(u.status, Status::kApplied);
  TableSchemaPtr c = cat.Get("shop", "copy");
  EXPECT_EQ(Names(c), (Strings{"id", "s"}));
  EXPECT_EQ(c->table, "copy");
  EXPECT_EQ(c->primary_key, (std::vector<int>{0}));
  EXPECT_EQ(cat.TableCharset("shop", "copy"), "latin1");
  u = ApplySql(cat, "CREATE TABLE copy2 LIKE unknown_src");
  EXPECT_EQ(u.status, Status::kNeedsReread);
  ASSERT_EQ(u.reread.size(), 1u);
  EXPECT_EQ(u.reread[0], (QualifiedName{"shop", "copy2"}));
}

TEST(SchemaCatalog, ConvertCharset) {
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE t (a varchar(10), b text, c int, d varbinary(3), e enum('x')) DEFAULT CHARSET=latin1");
  ApplySql(cat, "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
  TableSchemaPtr t = cat.Get("shop", "t");
  EXPECT_EQ(t->columns[0].charset, "utf8mb4");
  EXPECT_EQ(t->columns[1].charset, "utf8mb4");
  EXPECT_EQ(t->columns[1].column_type, "mediumtext");  // latin1 TEXT needs MEDIUMTEXT in utf8mb4
  EXPECT_EQ(t->columns[2].charset, "");
  EXPECT_EQ(t->columns[3].charset, "binary");
  EXPECT_EQ(t->columns[4].charset, "utf8mb4");
  EXPECT_EQ(cat.TableCharset("shop", "t"), "utf8mb4");
  // DEFAULT CHARSET only changes the default for later columns.
  ApplySql(cat, "ALTER TABLE t DEFAULT CHARSET=latin2, ADD f char(1)");
  t = cat.Get("shop", "t");
  EXPECT_EQ(t->columns[0].charset, "utf8mb4");
  EXPECT_EQ(t->columns[5].charset, "latin2");
}

TEST(SchemaCatalog, TextWithLengthUsesTheResolvedCharset) {
  // TEXT(M) is the smallest TEXT type holding M characters (MySQL manual 13.3.4): 100 utf8mb4
  // characters need 400 bytes -> TEXT; 100 latin1 characters fit TINYTEXT. Checked on MariaDB 10.11.
  SchemaCatalog cat;
  cat.SetDatabaseCharset("shop", "utf8mb4");
  ApplySql(cat, "CREATE TABLE t (a text(100), b text(100) CHARACTER SET latin1, c text(70000))");
  TableSchemaPtr t = cat.Get("shop", "t");
  EXPECT_EQ(t->columns[0].column_type, "text");
  EXPECT_EQ(t->columns[1].column_type, "tinytext");
  EXPECT_EQ(t->columns[2].column_type, "mediumtext");
  EXPECT_EQ(t->columns[0].length, 65535);
}

TEST(SchemaCatalog, FailuresAskForReread) {
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE t (a int, b int)");
  TableSchemaPtr before = cat.Get("shop", "t");
  for (const char* sql : {"ALTER TABLE t DROP COLUMN nope", "ALTER TABLE t ADD a int",
                          "ALTER TABLE t ADD c int AFTER nope", "ALTER TABLE t CHANGE nope x int",
                          "ALTER TABLE t RENAME COLUMN a TO b", "ALTER TABLE t ADD PRIMARY KEY (nope)",
                          "ALTER TABLE t ADD c int, ADD d weird_type", "ALTER TABLE t ADD SYSTEM VERSIONING"}) {
    CatalogUpdate u = ApplySql(cat, sql);
    EXPECT_EQ(u.status, Status::kNeedsReread) << sql;
    ASSERT_EQ(u.reread.size(), 1u) << sql;
    EXPECT_EQ(u.reread[0], (QualifiedName{"shop", "t"}));
    EXPECT_FALSE(u.message.empty());
    EXPECT_EQ(cat.Get("shop", "t"), before) << sql;  // unchanged
  }
  // An ALTER of a table the catalog does not hold.
  CatalogUpdate u = ApplySql(cat, "ALTER TABLE nothere ADD x int");
  EXPECT_EQ(u.status, Status::kUnknownTable);
  // Ignored statements.
  EXPECT_EQ(ApplySql(cat, "GRANT ALL ON *.* TO x").status, Status::kNoop);
}

TEST(SchemaCatalog, PutGetRemoveList) {
  SchemaCatalog cat;
  TableSchema s;
  s.database = "db";
  s.table = "t";
  s.columns.push_back(MakeColumnSchema("id", "int", "", false));
  s.columns.push_back(MakeColumnSchema("s", "varchar(5)", "utf8mb4", true));
  s.primary_key = {0};
  TableSchemaPtr p1 = cat.Put(s, "utf8mb4");
  EXPECT_EQ(p1->version, 1u);
  TableSchemaPtr p2 = cat.Put(s, "utf8mb4");
  EXPECT_EQ(p2->version, 2u);
  EXPECT_EQ(cat.Get("db", "t"), p2);
  s.table = "a";
  cat.Put(s);
  std::vector<TableSchemaPtr> all = cat.List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->table, "a");
  EXPECT_EQ(all[1]->table, "t");
  EXPECT_TRUE(cat.Remove("db", "a"));
  EXPECT_FALSE(cat.Remove("db", "a"));
  EXPECT_EQ(cat.size(), 1u);
  // Columns added later use the charset given to Put.
  ApplySql(cat, "ALTER TABLE db.t ADD c text");
  EXPECT_EQ(cat.Get("db", "t")->columns[2].charset, "utf8mb4");
}

TEST(SchemaCatalog, SerializeRoundTrip) {
  SchemaCatalog cat;
  cat.SetServerCharset("latin1");
  cat.SetDatabaseCharset("shop", "utf8mb4");
  ApplySql(cat, "CREATE TABLE `we\"ird\\name` (`id` bigint unsigned NOT NULL, `ключ` varchar(3) DEFAULT 'a\"\\\\b\n', "
           "e enum('x','y''z') NOT NULL, d decimal(10,2), t datetime(6), j json, g point, "
           "v int AS (id + 1) VIRTUAL, PRIMARY KEY (`ключ`, id)) CHARSET latin2");
  ApplySql(cat, "CREATE TABLE other.t (a int)");
  ApplySql(cat, "CREATE TABLE shop.gone (a int)");
  ApplySql(cat, "ALTER TABLE shop.gone ADD b int");
  ApplySql(cat, "DROP TABLE shop.gone");
  std::string text = cat.Serialize();
  SchemaCatalog back = SchemaCatalog::Deserialize(text);
  EXPECT_EQ(back.Serialize(), text);
  EXPECT_EQ(back.server_charset(), "latin1");
  EXPECT_EQ(back.DatabaseCharset("shop"), "utf8mb4");
  EXPECT_EQ(back.TableCharset("shop", "we\"ird\\name"), "latin2");
  ASSERT_EQ(back.size(), 2u);
  TableSchemaPtr a = cat.Get("shop", "we\"ird\\name");
  TableSchemaPtr b = back.Get("shop", "we\"ird\\name");
  ASSERT_TRUE(b);
  EXPECT_EQ(a->version, b->version);
  EXPECT_EQ(a->primary_key, b->primary_key);
  ASSERT_EQ(a->columns.size(), b->columns.size());
  for (size_t i = 0; i < a->columns.size(); ++i) {
    const ColumnSchema& x = a->columns[i];
    const ColumnSchema& y = b->columns[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.mysql_type, y.mysql_type);
    EXPECT_EQ(x.column_type, y.column_type);
    EXPECT_EQ(x.nullable, y.nullable);
    EXPECT_EQ(x.is_unsigned, y.is_unsigned);
    EXPECT_EQ(x.length, y.length);
    EXPECT_EQ(x.precision, y.precision);
    EXPECT_EQ(x.scale, y.scale);
    EXPECT_EQ(x.fsp, y.fsp);
    EXPECT_EQ(x.charset, y.charset);
    EXPECT_EQ(x.enum_values, y.enum_values);
    EXPECT_EQ(x.is_enum, y.is_enum);
    EXPECT_EQ(x.is_set, y.is_set);
    EXPECT_EQ(x.generated, y.generated);
    EXPECT_EQ(x.has_default, y.has_default);
    EXPECT_EQ(x.default_value, y.default_value);
  }
  EXPECT_EQ(b->columns[1].default_value, "a\"\\b\n");
  // The version of a dropped name survives the round trip.
  ApplySql(back, "CREATE TABLE shop.gone (a int)");
  EXPECT_EQ(back.Get("shop", "gone")->version, 3u);
  // A MariaDB JSON column (kind json, type longtext) survives too.
  SchemaCatalog m;
  ApplySql(m, "CREATE TABLE t (j JSON)", "shop", /*mariadb=*/true);
  SchemaCatalog m2 = SchemaCatalog::Deserialize(m.Serialize());
  EXPECT_EQ(m2.Get("shop", "t")->columns[0].kind, ValueKind::kJson);
  EXPECT_EQ(m2.Get("shop", "t")->columns[0].mysql_type, 252);
}

TEST(SchemaCatalog, MariaDbUuidAndInetColumns) {
  SchemaCatalog cat;
  ApplySql(cat, "CREATE TABLE t (id UUID PRIMARY KEY, a INET4, b INET6 NOT NULL) CHARSET latin1", "shop",
           /*mariadb=*/true);
  ApplySql(cat, "ALTER TABLE shop.t CONVERT TO CHARACTER SET utf8mb4", "shop", /*mariadb=*/true);
  TableSchemaPtr t = cat.Get("shop", "t");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->columns.size(), 3u);
  for (const ColumnSchema& c : t->columns) {
    EXPECT_EQ(c.kind, ValueKind::kString) << c.name;
    EXPECT_EQ(c.mysql_type, 254) << c.name;
    EXPECT_EQ(c.charset, "") << c.name;
  }
  EXPECT_EQ(t->columns[0].column_type, "uuid");
  EXPECT_EQ(t->columns[1].column_type, "inet4");
  EXPECT_EQ(t->columns[2].column_type, "inet6");
  EXPECT_EQ(SchemaCatalog::Deserialize(cat.Serialize()).Get("shop", "t")->columns[0].kind, ValueKind::kString);
  // A history stored before these were decoded to text has them as bytes: read as text now.
  std::string old_format =
      "{\"format\":1,\"tables\":[{\"db\":\"shop\",\"table\":\"o\",\"columns\":[{\"name\":\"u\","
      "\"kind\":\"bytes\",\"mysql_type\":254,\"type\":\"uuid\",\"length\":16,\"charset\":\"binary\"},"
      "{\"name\":\"b\",\"kind\":\"bytes\",\"mysql_type\":254,\"type\":\"binary(16)\",\"length\":16,"
      "\"charset\":\"binary\"}]}]}";
  TableSchemaPtr o = SchemaCatalog::Deserialize(old_format).Get("shop", "o");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->columns[0].kind, ValueKind::kString);
  EXPECT_EQ(o->columns[0].charset, "");
  EXPECT_EQ(o->columns[1].kind, ValueKind::kBytes);  // BINARY(16) stays bytes
}

TEST(SchemaCatalog, DeserializeRejectsGarbage) {
  for (const char* bad : {"", "{", "[]", "{\"format\":2}", "{\"format\":1,\"tables\":[{\"db\":1}]}",
                          "{\"format\":1,\"tables\":[{\"db\":\"a\",\"table\":\"b\",\"columns\":[{\"name\":\"x\","
                          "\"kind\":\"nope\",\"type\":\"int\"}]}]}",
                          "{\"format\":1,\"tables\":[{\"db\":\"a\",\"table\":\"b\",\"primary_key\":[0]}]}",
                          "{\"format\":1} trailing"}) {
    try {
      SchemaCatalog::Deserialize(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kState) << bad;
    }
  }
  // An empty catalog round-trips.
  SchemaCatalog empty;
  EXPECT_EQ(SchemaCatalog::Deserialize(empty.Serialize()).size(), 0u);
}

}  // namespace
}  // namespace sluice::mysql
