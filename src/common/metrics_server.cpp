#include "common/metrics_server.h"

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>
#include <httplib.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"

namespace sluice::metrics {

namespace {

constexpr size_t kHistorySamples = 600;  // 10 minutes at one sample per second
constexpr int64_t kRateWindowMs = 5000;

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string JsonNumber(double v) {
  if (!(v == v) || v > 1e300 || v < -1e300) return "null";
  return fmt::format("{}", v);
}

std::string NodeId(const GraphNode& n) { return n.kind + ":" + n.name; }

std::string LabelOf(const Labels& labels, std::string_view key) {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return "";
}

// Rows counted at a node: captured (source), produced (view) or acknowledged (clickhouse).
std::map<std::string, double> NodeRows() {
  std::map<std::string, double> rows;
  for (const auto& [labels, v] : Default().Series("sluice_source_rows_total")) rows["source:" + LabelOf(labels, "table")] += v;
  for (const auto& [labels, v] : Default().Series("sluice_view_rows_total")) rows["view:" + LabelOf(labels, "view")] += v;
  for (const auto& [labels, v] : Default().Series("sluice_sink_rows_total")) rows["clickhouse:" + LabelOf(labels, "table")] += v;
  return rows;
}

double EdgeLag(const GraphEdge& e, int64_t now_ms) {
  double lag = PipelineFreshness().LagSeconds(now_ms);
  if (e.oldest_pending_ts) {
    const double pending = e.oldest_pending_ts->value();
    if (pending > 0) lag = std::max(lag, static_cast<double>(now_ms) / 1000.0 - pending);
  }
  return lag;
}

}  // namespace

struct MetricsServer::Impl {
  MetricsServerOptions options;
  httplib::Server server;
  std::thread listener, sampler;
  int port = 0;
  bool started = false;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  struct Sample {
    int64_t t_ms = 0;
    double lag = -1;
    std::map<std::string, double> counts;  // edge and node ids -> rows
  };
  std::deque<Sample> history;

  Sample TakeSample() const {
    Sample s;
    s.t_ms = NowMs();
    s.lag = PipelineFreshness().LagSeconds(s.t_ms);
    for (const auto& e : Graph().Edges()) {
      if (e.rows) s.counts["edge:" + NodeId(e.from) + ">" + NodeId(e.to)] = static_cast<double>(e.rows->value());
    }
    for (const auto& [id, v] : NodeRows()) s.counts["node:" + id] = v;
    return s;
  }

  void SampleLoop() {
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      Sample s = TakeSample();
      lock.lock();
      history.push_back(std::move(s));
      while (history.size() > kHistorySamples) history.pop_front();
      cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; });
    }
  }

  // Rows per second of `key` over the last few seconds of history (and the current value).
  double Rate(const std::string& key, double now_value, int64_t now_ms) const {
    const Sample* base = nullptr;
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      if (now_ms - it->t_ms > kRateWindowMs && base) break;
      base = &*it;
    }
    if (!base || now_ms - base->t_ms < 200) return 0;
    auto c = base->counts.find(key);
    const double then = c == base->counts.end() ? 0 : c->second;
    return std::max(0.0, (now_value - then) * 1000.0 / static_cast<double>(now_ms - base->t_ms));
  }
};

MetricsServer::MetricsServer(MetricsServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

MetricsServer::~MetricsServer() { Stop(); }

int MetricsServer::port() const { return impl_->port; }

std::string MetricsServer::PipelineJson() const {
  const int64_t now = NowMs();
  const Impl::Sample cur = impl_->TakeSample();
  std::lock_guard lock(impl_->mu);
  const auto edges = Graph().Edges();
  const auto node_rows = NodeRows();
  std::string j = "{";
  j += fmt::format("\"now_ms\":{},\"lag_seconds\":{},\"watermark_ms\":{}", now,
                   cur.lag < 0 ? "null" : JsonNumber(cur.lag), PipelineFreshness().watermark_ms());
  auto gauge = [](const char* name) { return Default().Value(name, {}, 0); };
  j += fmt::format(",\"source\":{{\"binlog_file_number\":{},\"binlog_position\":{},\"acked_file_number\":{},"
                   "\"acked_position\":{}}}",
                   JsonNumber(gauge("sluice_source_binlog_file_number")), JsonNumber(gauge("sluice_source_binlog_position")),
                   JsonNumber(gauge("sluice_acked_binlog_file_number")), JsonNumber(gauge("sluice_acked_binlog_position")));
  auto sum = [](const char* name) {
    double total = 0;
    for (const auto& [labels, v] : Default().Series(name)) total += v;
    return total;
  };
  j += fmt::format(",\"snapshot\":{{\"running\":{},\"rows_done\":{},\"rows_estimated\":{}}}",
                   gauge("sluice_snapshot_running") > 0 ? "true" : "false", JsonNumber(sum("sluice_snapshot_rows_done")),
                   JsonNumber(sum("sluice_snapshot_rows_estimated")));
  j += fmt::format(",\"process\":{{\"rss_bytes\":{}}}", ProcessRssBytes());
  // Nodes: every endpoint of an edge, plus captured tables with no edge yet.
  std::map<std::string, GraphNode> nodes;
  for (const auto& e : edges) {
    nodes[NodeId(e.from)] = e.from;
    nodes[NodeId(e.to)] = e.to;
  }
  for (const auto& [id, v] : node_rows) {
    if (!nodes.count(id)) {
      const size_t colon = id.find(':');
      nodes[id] = GraphNode{id.substr(0, colon), id.substr(colon + 1)};
    }
  }
  j += ",\"nodes\":[";
  bool first = true;
  for (const auto& [id, n] : nodes) {
    if (!first) j += ',';
    first = false;
    auto r = node_rows.find(id);
    const double rows = r == node_rows.end() ? 0 : r->second;
    j += "{\"id\":";
    AppendJsonString(j, id);
    j += ",\"kind\":";
    AppendJsonString(j, n.kind);
    j += ",\"name\":";
    AppendJsonString(j, n.name);
    j += fmt::format(",\"rows\":{},\"rows_per_s\":{}}}", JsonNumber(rows),
                     JsonNumber(impl_->Rate("node:" + id, rows, now)));
  }
  j += "],\"edges\":[";
  first = true;
  for (const auto& e : edges) {
    if (!first) j += ',';
    first = false;
    const double rows = e.rows ? static_cast<double>(e.rows->value()) : 0;
    const double lag = EdgeLag(e, now);
    j += "{\"from\":";
    AppendJsonString(j, NodeId(e.from));
    j += ",\"to\":";
    AppendJsonString(j, NodeId(e.to));
    j += fmt::format(",\"rows\":{},\"rows_per_s\":{},\"lag_seconds\":{}}}", JsonNumber(rows),
                     JsonNumber(impl_->Rate("edge:" + NodeId(e.from) + ">" + NodeId(e.to), rows, now)),
                     lag < 0 ? "null" : JsonNumber(lag));
  }
  j += "],\"lag_history\":[";
  first = true;
  for (const auto& s : impl_->history) {
    if (!first) j += ',';
    first = false;
    j += fmt::format("[{},{}]", s.t_ms, s.lag < 0 ? "null" : JsonNumber(s.lag));
  }
  j += "]}";
  return j;
}

std::string MetricsServer::StatusText() const {
  const int64_t now = NowMs();
  auto gauge = [](const char* name) { return Default().Value(name, {}, 0); };
  auto sum = [](const char* name) {
    double total = 0;
    for (const auto& [labels, v] : Default().Series(name)) total += v;
    return total;
  };
  std::string s = fmt::format("live (pid {}, metrics on port {}):\n", static_cast<long>(getpid()), impl_->port);
  const double lag = PipelineFreshness().LagSeconds(now);
  s += lag < 0 ? std::string("  lag: unknown (nothing acknowledged yet)\n") : fmt::format("  lag: {:.2f} s\n", lag);
  s += fmt::format("  binlog read: #{}:{}   acked: #{}:{}\n", gauge("sluice_source_binlog_file_number"),
                   gauge("sluice_source_binlog_position"), gauge("sluice_acked_binlog_file_number"),
                   gauge("sluice_acked_binlog_position"));
  if (gauge("sluice_snapshot_running") > 0) {
    s += fmt::format("  snapshot: running, {} of ~{} rows\n", sum("sluice_snapshot_rows_done"),
                     sum("sluice_snapshot_rows_estimated"));
  }
  const Impl::Sample cur = impl_->TakeSample();
  std::lock_guard lock(impl_->mu);
  for (const auto& e : Graph().Edges()) {
    const double rows = e.rows ? static_cast<double>(e.rows->value()) : 0;
    const double elag = EdgeLag(e, now);
    s += fmt::format("  {} -> {}: {} rows, {:.1f} rows/s, lag {}\n", e.from.name, e.to.name, rows,
                     impl_->Rate("edge:" + NodeId(e.from) + ">" + NodeId(e.to), rows, now),
                     elag < 0 ? std::string("unknown") : fmt::format("{:.2f} s", elag));
  }
  s += fmt::format("  inserts: {}, retries: {}, dead-letter rows: {}, RSS: {} MiB\n", sum("sluice_sink_inserts_total"),
                   gauge("sluice_sink_retries_total"), gauge("sluice_sink_dlq_rows_total"), ProcessRssBytes() >> 20);
  const std::string err = LastError();
  s += "  last error: " + (err.empty() ? std::string("none") : err) + "\n";
  return s;
}

std::string FetchLiveStatus(const Config& config) {
  if (!config.HasSection("metrics")) return "";
  std::string host = config.GetString("metrics", "bind.address");
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  const int64_t port = config.GetInt("metrics", "port");
  if (port <= 0 || port > 65535) return "";
  httplib::Client cli(host, static_cast<int>(port));
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(3, 0);
  auto res = cli.Get("/api/status");
  if (!res || res->status != 200) return "";
  return res->body;
}

void MetricsServer::Start() {
  Impl& im = *impl_;
  if (im.started) return;
  const auto start_ms = NowMs();
  Registry& r = Default();
  r.AddCollector("sluice_lag_seconds",
                 "seconds between now and the source commit time up to which every change is acknowledged by "
                 "ClickHouse (heartbeats advance it when the source is idle); absent until the first acknowledgement",
                 [](std::vector<std::pair<Labels, double>>& out) {
                   const double lag = PipelineFreshness().LagSeconds(NowMs());
                   if (lag >= 0) out.push_back({{}, lag});
                 });
  r.AddCollector("sluice_table_lag_seconds",
                 "per ClickHouse table: the pipeline lag, or the age of the table's oldest row not yet acknowledged "
                 "when that is larger",
                 [](std::vector<std::pair<Labels, double>>& out) {
                   const int64_t now = NowMs();
                   for (const auto& e : Graph().Edges()) {
                     if (e.to.kind != "clickhouse") continue;
                     const double lag = EdgeLag(e, now);
                     if (lag >= 0) out.push_back({{{"table", e.to.name}, {"source", e.from.name}}, lag});
                   }
                 });
  r.AddCollector("sluice_process_resident_memory_bytes", "resident set size of the sluice process",
                 [](std::vector<std::pair<Labels, double>>& out) {
                   out.push_back({{}, static_cast<double>(ProcessRssBytes())});
                 });
  r.AddCollector("sluice_process_uptime_seconds", "seconds since the metrics endpoint started",
                 [start_ms](std::vector<std::pair<Labels, double>>& out) {
                   out.push_back({{}, static_cast<double>(NowMs() - start_ms) / 1000.0});
                 });
  if (!im.options.state_dir.empty()) {
    // Walking the state directory is cheap for RocksDB's few files, but keep it to once per 5 s.
    struct Cache {
      std::mutex mu;
      int64_t at_ms = 0;
      uint64_t bytes = 0;
    };
    auto cache = std::make_shared<Cache>();
    r.AddCollector("sluice_state_dir_bytes", "bytes of the files in the state directory (state.dir)",
                   [cache, dir = im.options.state_dir](std::vector<std::pair<Labels, double>>& out) {
                     std::lock_guard lock(cache->mu);
                     const int64_t now = NowMs();
                     if (now - cache->at_ms > 5000) {
                       cache->bytes = DirectoryBytes(dir);
                       cache->at_ms = now;
                     }
                     out.push_back({{{"dir", dir}}, static_cast<double>(cache->bytes)});
                   });
  }

  im.server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second sluice share the port.
  im.server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  im.server.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(Default().RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });
  im.server.Get("/api/pipeline", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(PipelineJson(), "application/json");
  });
  im.server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kPipelinePageHtml, "text/html; charset=utf-8");
  });
  im.server.Get("/api/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusText(), "text/plain; charset=utf-8");
  });
  im.server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });

  if (im.options.port == 0) {
    im.port = im.server.bind_to_any_port(im.options.bind_address);
  } else {
    im.port = im.server.bind_to_port(im.options.bind_address, im.options.port) ? im.options.port : -1;
  }
  if (im.port <= 0) {
    Throw(ErrorKind::kConfig,
          "metrics: cannot listen on {}:{} (metrics.bind.address / metrics.port): {}; choose a free port or stop "
          "the process that uses it",
          im.options.bind_address, im.options.port, std::strerror(errno));
  }
  im.started = true;
  im.listener = std::thread([&im] { im.server.listen_after_bind(); });
  // stop() before the listening loop runs would be lost: wait until it runs.
  for (int i = 0; i < 5000 && !im.server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  im.sampler = std::thread([&im] { im.SampleLoop(); });
  SLOG_INFO("metrics: serving http://{}:{}/ (page), /metrics (Prometheus), /api/pipeline (JSON)",
            im.options.bind_address, im.port);
}

void MetricsServer::Stop() {
  Impl& im = *impl_;
  if (!im.started) return;
  im.server.stop();
  {
    std::lock_guard lock(im.mu);
    im.stopping = true;
  }
  im.cv.notify_all();
  if (im.listener.joinable()) im.listener.join();
  if (im.sampler.joinable()) im.sampler.join();
  im.started = false;
}

std::unique_ptr<MetricsServer> StartMetricsServer(const Config& config) {
  if (!config.HasSection("metrics")) return nullptr;
  MetricsServerOptions o;
  o.bind_address = config.GetString("metrics", "bind.address");
  const int64_t port = config.GetInt("metrics", "port");
  if (port < 0 || port > 65535) {
    Throw(ErrorKind::kConfig, "{}: metrics.port must be between 0 and 65535 (0: any free port), got {}",
          config.Where("metrics", "port"), port);
  }
  o.port = static_cast<int>(port);
  o.state_dir = config.GetPath("state", "dir");
  auto s = std::make_unique<MetricsServer>(std::move(o));
  s->Start();
  return s;
}

}  // namespace sluice::metrics
