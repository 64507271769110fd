#include "sql/source_ddl.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace sluice::sql {
namespace {

TEST(SourceDdl, RisingWaveTableIsTakenOutAndParsed) {
  const std::string text =
      "-- a comment; with a semicolon\n"
      "CREATE TABLE \"Orders\" (\n"
      "  id BIGINT, amount DECIMAL(10,2) NOT NULL, note VARCHAR, PRIMARY KEY (id)\n"
      ") WITH (connector = 'kafka', topic = 'shop.db.orders', properties.bootstrap.server = 'b:9092',\n"
      "        scan.startup.mode = 'earliest') FORMAT DEBEZIUM ENCODE JSON (schema.registry = 'x;y');\n"
      "CREATE MATERIALIZED VIEW v AS SELECT 'CREATE TABLE x;' AS s FROM \"Orders\";\n";
  std::vector<DeclaredSource> out;
  const std::string rest = ExtractSourceTables("f.sql", text, &out);
  ASSERT_EQ(out.size(), 1u);
  const auto& d = out[0];
  EXPECT_EQ(d.name, "Orders");
  EXPECT_EQ(d.location.line, 2);
  EXPECT_EQ(d.location.column, 1);
  EXPECT_EQ(d.columns, (std::vector<std::string>{"id", "amount", "note"}));
  EXPECT_EQ(d.column_types[1], "numeric(10,2)");
  EXPECT_EQ(d.primary_key, std::vector<std::string>{"id"});
  EXPECT_EQ(d.options.at("topic"), "shop.db.orders");
  EXPECT_EQ(d.options.at("properties.bootstrap.server"), "b:9092");
  EXPECT_EQ(d.options.at("scan.startup.mode"), "earliest");
  EXPECT_EQ(d.format, "DEBEZIUM");
  EXPECT_EQ(d.encode, "JSON");
  // The declaration is blanked with its newlines kept: the view stays at line 6, column 1.
  ASSERT_EQ(rest.size(), text.size());
  EXPECT_EQ(rest.find("CREATE TABLE \"Orders\""), std::string::npos);
  const size_t view = rest.find("CREATE MATERIALIZED VIEW");
  EXPECT_EQ(view, text.find("CREATE MATERIALIZED VIEW"));
  EXPECT_EQ(std::count(rest.begin(), rest.begin() + static_cast<long>(view), '\n'), 5);
  EXPECT_NE(rest.find("'CREATE TABLE x;'"), std::string::npos);  // a string is not a statement
}

TEST(SourceDdl, ColumnPrimaryKeyAndIfNotExists) {
  std::vector<DeclaredSource> out;
  ExtractSourceTables("f.sql",
                      "create table if not exists s.t (k int primary key, v text) with (connector='kafka', "
                      "topic='a.b.c') format debezium encode json",
                      &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "t");
  EXPECT_EQ(out[0].primary_key, std::vector<std::string>{"k"});
}

std::string ErrorOf(const std::string& text) {
  std::vector<DeclaredSource> out;
  try {
    ExtractSourceTables("f.sql", text, &out);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kSql);
    return e.what();
  }
  return "no error";
}

TEST(SourceDdl, BadDeclarationsSayWhatAndWhere) {
  const std::string with = " WITH (connector = 'kafka', topic = 't') FORMAT DEBEZIUM ENCODE JSON;";
  EXPECT_EQ(ErrorOf("\n  CREATE TABLE t (id INT PRIMARY KEY);"),
            "f.sql:2:3: unsupported: CREATE TABLE t without WITH (connector = 'kafka', topic = '...') FORMAT DEBEZIUM "
            "ENCODE JSON — a view's tables are the captured source tables, or Debezium topics declared that way");
  EXPECT_NE(ErrorOf("CREATE TABLE t (id INT)" + with).find("f.sql:1:1: CREATE TABLE t: FORMAT DEBEZIUM needs a PRIMARY KEY"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE TABLE t (id INT PRIMARY KEY) WITH (connector = 'kafka') FORMAT DEBEZIUM ENCODE JSON")
                .find("names no topic"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE TABLE t (id INT PRIMARY KEY) WITH (connector = 'kafka', topic = 't') FORMAT UPSERT "
                    "ENCODE JSON")
                .find("FORMAT UPSERT ENCODE JSON is not supported"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE TABLE t (id INT PRIMARY KEY, ) " + with).find("f.sql:1:37: syntax error"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE TABLE t (id INT PRIMARY KEY) WITH (connector = 'kafka', topic = ) FORMAT DEBEZIUM")
                .find("option topic has no value"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE SOURCE s (id INT) WITH (connector = 'kafka', topic = 't') FORMAT PLAIN ENCODE JSON;")
                .find("f.sql:1:1: unsupported: CREATE SOURCE"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE TABLE t (id INT PRIMARY KEY)" + with + " 'unterminated").find("unterminated string"),
            std::string::npos);
}

TEST(SourceDdl, RisingWaveSinksAreTakenOut) {
  const std::string text =
      "CREATE MATERIALIZED VIEW v AS SELECT 1 AS a;\n"
      "CREATE SINK IF NOT EXISTS s1 FROM public.\"V\" WITH (\n"
      "  connector = 'clickhouse', type = 'upsert', clickhouse.url = 'http://ch:8123', clickhouse.table = 'v_out',\n"
      "  primary_key = 'a');\n"
      "CREATE SINK s2 FROM v WITH (connector = 'kafka', topic = 't') FORMAT UPSERT ENCODE JSON (force_append_only = 'true');\n"
      "CREATE MATERIALIZED VIEW w AS SELECT 2 AS b;\n";
  std::vector<DeclaredSource> tables;
  std::vector<DeclaredSink> sinks;
  const std::string rest = ExtractSourceTables("f.sql", text, &tables, &sinks);
  EXPECT_TRUE(tables.empty());
  ASSERT_EQ(sinks.size(), 2u);
  EXPECT_EQ(sinks[0].name, "s1");
  EXPECT_EQ(sinks[0].from, "V");  // quoted: as written
  EXPECT_EQ(sinks[0].location.line, 2);
  EXPECT_EQ(sinks[0].options.at("connector"), "clickhouse");
  EXPECT_EQ(sinks[0].options.at("clickhouse.table"), "v_out");
  EXPECT_EQ(sinks[1].from, "v");
  EXPECT_EQ(sinks[1].options.at("connector"), "kafka");
  EXPECT_EQ(sinks[1].format, "upsert");
  EXPECT_EQ(sinks[0].format, "");
  // Both blanked, lines kept: the second view stays on line 6.
  ASSERT_EQ(rest.size(), text.size());
  EXPECT_EQ(rest.find("SINK"), std::string::npos);
  EXPECT_EQ(rest.find("CREATE MATERIALIZED VIEW w"), text.find("CREATE MATERIALIZED VIEW w"));
  // Without a sink list they are still taken out (the views compile around them).
  std::vector<DeclaredSource> t2;
  EXPECT_EQ(ExtractSourceTables("f.sql", text, &t2), rest);
  EXPECT_NE(ErrorOf("CREATE SINK s AS SELECT 1 AS a WITH (connector = 'clickhouse');")
                .find("f.sql:1:15: unsupported: CREATE SINK s AS SELECT"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE SINK s FROM v WITH (connector = 'iceberg');")
                .find("f.sql:1:1: CREATE SINK s: connector 'iceberg' is not supported"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE SINK s WITH (connector = 'kafka');").find("expected FROM <view> after CREATE SINK s"),
            std::string::npos);
  {
    std::vector<DeclaredSource> t3;
    std::vector<DeclaredSink> s3;
    ExtractSourceTables("f.sql", "CREATE SINK d FROM v WITH (connector = 'kafka') format debezium encode json;", &t3, &s3);
    ASSERT_EQ(s3.size(), 1u);
    EXPECT_EQ(s3[0].format, "debezium");
  }
  EXPECT_NE(ErrorOf("CREATE SINK s FROM v WITH (connector = 'kafka', topic = 't') FORMAT PLAIN ENCODE JSON;")
                .find("f.sql:1:69: CREATE SINK s: FORMAT PLAIN (an append-only stream) is not supported"),
            std::string::npos);
  EXPECT_NE(ErrorOf("CREATE SINK s FROM v WITH (connector = 'kafka') FORMAT UPSERT ENCODE AVRO;")
                .find("CREATE SINK s: ENCODE AVRO is not supported (sluice writes ENCODE JSON)"),
            std::string::npos);
}

TEST(SourceDdl, TextWithoutDeclarationsIsUnchanged) {
  const std::string text = "CREATE MATERIALIZED VIEW v AS SELECT 1 AS a; /* CREATE TABLE x (a int) */";
  std::vector<DeclaredSource> out;
  EXPECT_EQ(ExtractSourceTables("f.sql", text, &out), text);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sluice::sql
