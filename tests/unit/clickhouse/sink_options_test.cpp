#include "clickhouse/sink_options.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include <yaml-cpp/yaml.h>

namespace sluice::clickhouse {
namespace {

TEST(SinkOptionsTest, DefaultsMatchTheSpec) {
  const SinkOptions o = SinkOptions::FromYaml(YAML::Load("type: clickhouse"));
  EXPECT_EQ(o.batch_max_rows, 100000u);
  EXPECT_EQ(o.batch_max_bytes, 16u << 20);
  EXPECT_EQ(o.batch_max_delay_ms, 1000);
  EXPECT_EQ(o.errors_tolerance, ErrorsTolerance::kNone);
  EXPECT_EQ(o.client.port, 8123);
  EXPECT_FALSE(o.auto_evolve);
}

TEST(SinkOptionsTest, ReadsKafkaConnectNamesAndOverrides) {
  const SinkOptions o = SinkOptions::FromYaml(YAML::Load(R"(
type: clickhouse
hostname: ch.example
port: 8443
ssl: true
database: smile_olap
username: writer
password: "p:w"
cluster: sluice_cluster
batch.max.rows: 5000
batch.max.delay.ms: 250
auto.evolve: true
errors.tolerance: all
retry.max.ms: 30000
topic2TableMap: "smile.a.b=b_table, smile.a.c = c_table"
tables:
  smile.stock_movements:
    table: moves
    order.by: (facility_id, id)
    partition.by: toYYYYMM(created_at)
    settings: index_granularity = 8192
  logs:
    order.by: (ts, host)
)"));
  EXPECT_EQ(o.client.hostname, "ch.example");
  EXPECT_EQ(o.client.port, 8443);
  EXPECT_TRUE(o.client.ssl);
  EXPECT_EQ(o.client.username, "writer");
  EXPECT_EQ(o.client.password, "p:w");
  EXPECT_EQ(o.database, "smile_olap");
  EXPECT_EQ(o.cluster, "sluice_cluster");
  EXPECT_EQ(o.batch_max_rows, 5000u);
  EXPECT_EQ(o.batch_max_delay_ms, 250);
  EXPECT_TRUE(o.auto_evolve);
  EXPECT_EQ(o.errors_tolerance, ErrorsTolerance::kAll);
  EXPECT_EQ(o.retry_max_ms, 30000);
  EXPECT_EQ(o.topic2table.at("smile.a.c"), "c_table");
  TableSchema s;
  s.database = "smile";
  s.table = "stock_movements";
  EXPECT_EQ(o.OverrideFor(s).table, "moves");
  EXPECT_EQ(o.OverrideFor(s).partition_by, "toYYYYMM(created_at)");
  s.database = "other";
  s.table = "logs";
  EXPECT_EQ(o.OverrideFor(s).order_by, "(ts, host)");
  s.table = "nothing";
  EXPECT_TRUE(o.OverrideFor(s).order_by.empty());
}

TEST(SinkOptionsTest, RejectsUnknownKeysAndBadValues) {
  EXPECT_THROW(SinkOptions::FromYaml(YAML::Load("hostnme: x")), Error);
  EXPECT_THROW(SinkOptions::FromYaml(YAML::Load("errors.tolerance: some")), Error);
  EXPECT_THROW(SinkOptions::FromYaml(YAML::Load("port: abc")), Error);
  EXPECT_THROW(SinkOptions::FromYaml(YAML::Load("tables: {t: {orderby: x}}")), Error);
  try {
    SinkOptions::FromYaml(YAML::Load("type: clickhouse\nbatch.max.rowz: 3"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("sink.batch.max.rowz: unknown setting (line 2)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice::clickhouse
