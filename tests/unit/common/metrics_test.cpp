#include "common/metrics.h"

#include <gtest/gtest.h>

#include <httplib.h>

#include <thread>

#include "common/config.h"
#include "common/metrics_server.h"

namespace sluice::metrics {
namespace {

TEST(Metrics, CountersGaugesAndLabelsRenderInTextFormat) {
  Registry r;
  r.GetCounter("sluice_test_rows_total", "rows", {{"table", "shop.orders"}}).Inc(3);
  r.GetCounter("sluice_test_rows_total", "rows", {{"table", "shop.orders"}}).Inc(2);
  r.GetCounter("sluice_test_rows_total", "rows", {{"table", "a\"b\\c\nd"}}).Inc();
  r.GetGauge("sluice_test_gauge", "a gauge").Set(2.5);
  const std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("# HELP sluice_test_rows_total rows\n# TYPE sluice_test_rows_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_test_rows_total{table=\"shop.orders\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_test_rows_total{table=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE sluice_test_gauge gauge\nsluice_test_gauge 2.5\n"), std::string::npos) << text;
  EXPECT_EQ(r.Value("sluice_test_rows_total", {{"table", "shop.orders"}}), 5);
  EXPECT_EQ(r.Value("sluice_test_missing", {}, -1), -1);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Registry r;
  Histogram& h = r.GetHistogram("sluice_test_seconds", "latency", {0.1, 1, 10}, {{"table", "t"}});
  for (double v : {0.05, 0.1, 0.5, 5.0, 50.0}) h.Observe(v);
  const std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("sluice_test_seconds_bucket{table=\"t\",le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_test_seconds_bucket{table=\"t\",le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_test_seconds_bucket{table=\"t\",le=\"10\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_test_seconds_bucket{table=\"t\",le=\"+Inf\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_test_seconds_count{table=\"t\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_test_seconds_sum{table=\"t\"} 55.65\n"), std::string::npos) << text;
}

TEST(Metrics, CountersAreExactUnderConcurrentIncrements) {
  Registry r;
  Counter& c = r.GetCounter("sluice_test_concurrent_total", "c");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) c.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 400000u);
}

TEST(Metrics, CollectorsRunAtScrape) {
  Registry r;
  int calls = 0;
  r.AddCollector("sluice_test_collected", "computed", [&](std::vector<std::pair<Labels, double>>& out) {
    ++calls;
    out.push_back({{{"dir", "/x"}}, 42});
  });
  EXPECT_NE(r.RenderPrometheus().find("sluice_test_collected{dir=\"/x\"} 42\n"), std::string::npos);
  EXPECT_EQ(calls, 1);
}

TEST(Freshness, AckMovesToCommitTimeAndIdleHeartbeatsKeepLagTruthful) {
  Freshness f;
  EXPECT_LT(f.LagSeconds(1000000), 0);  // unknown before the first acknowledgement
  f.Acked(3, 1000, 500000);
  EXPECT_DOUBLE_EQ(f.LagSeconds(510000), 10);
  // Idle at a position already acknowledged: the lag drops to the heartbeat's age.
  f.SourceIdle(3, 1000, 509000);
  EXPECT_DOUBLE_EQ(f.LagSeconds(510000), 1);
  // Idle at a later position: counts only once the sink acknowledged up to it.
  f.SourceIdle(3, 2000, 520000);
  EXPECT_DOUBLE_EQ(f.LagSeconds(521000), 12);
  f.Acked(3, 2000, 515000);
  EXPECT_DOUBLE_EQ(f.LagSeconds(521000), 1);
  // The watermark never goes back.
  f.Acked(4, 4, 100);
  EXPECT_EQ(f.watermark_ms(), 520000);
}

TEST(MetricsServer, ServesMetricsPipelineJsonAndThePage) {
  Counter& rows = Default().GetCounter("sluice_sink_rows_total", "rows", {{"table", "olap.orders"}});
  rows.Inc(7);
  Default().GetCounter("sluice_source_rows_total", "rows", {{"table", "shop.orders"}, {"op", "insert"}}).Inc(7);
  Graph().AddEdge({{"source", "shop.orders"}, {"clickhouse", "olap.orders"}, &rows, nullptr});
  PipelineFreshness().Acked(1, 100, NowMs() - 2000);

  Config c = Config::LoadString("source: {database.hostname: h, database.user: u, database.server.id: 1, "
                                "topic.prefix: p}\nmetrics: {port: 0}\nstate: {dir: /nonexistent-sluice-test}\n",
                                "t.yaml");
  auto server = StartMetricsServer(c);
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);
  httplib::Client cli("127.0.0.1", server->port());
  auto m = cli.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("sluice_sink_rows_total{table=\"olap.orders\"} 7"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("sluice_lag_seconds "), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("sluice_table_lag_seconds{table=\"olap.orders\",source=\"shop.orders\"}"), std::string::npos);
  EXPECT_NE(m->body.find("sluice_process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(m->body.find("sluice_state_dir_bytes{dir=\"/nonexistent-sluice-test\"} 0"), std::string::npos);
  auto j = cli.Get("/api/pipeline");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(j->body.find("\"from\":\"source:shop.orders\",\"to\":\"clickhouse:olap.orders\",\"rows\":7"),
            std::string::npos)
      << j->body;
  EXPECT_NE(j->body.find("\"id\":\"source:shop.orders\",\"kind\":\"source\",\"name\":\"shop.orders\",\"rows\":7"),
            std::string::npos)
      << j->body;
  auto page = cli.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("/api/pipeline"), std::string::npos);
  server->Stop();
  Graph().Clear();
}

TEST(MetricsServer, BusyPortIsAConfigErrorNamingTheKey) {
  MetricsServer a({"127.0.0.1", 0, ""});
  a.Start();
  MetricsServer b({"127.0.0.1", a.port(), ""});
  try {
    b.Start();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("metrics.port"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice::metrics
