#pragma once
/// Process-wide metrics: counters, gauges and histograms with labels, rendered in the Prometheus
/// text format (served by common/metrics_server.h). Updating a metric is one relaxed atomic
/// operation; looking one up by name and labels takes a lock, so hot paths look a metric up once
/// (per table, per stream) and keep the reference: metrics are never destroyed, references stay
/// valid for the life of the process.
///
/// Also here: the freshness watermark behind `sluice_lag_seconds` and the pipeline graph (source
/// tables -> views -> ClickHouse tables) that the web page draws.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::metrics {

/// Label pairs, e.g. {{"table", "shop.orders"}}. Order is kept as given.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// A monotonically increasing count. Thread-safe.
class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

/// A value that goes up and down. Thread-safe.
class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

/// Observations counted in buckets with fixed upper bounds (Prometheus `le`), plus sum and count.
/// Thread-safe; Observe is a few relaxed atomic operations.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative;  ///< per bound, then +Inf last
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

/// Bucket bounds: `count` values starting at `start`, each `factor` times the previous.
std::vector<double> ExponentialBuckets(double start, double factor, size_t count);

enum class MetricType { kCounter, kGauge, kHistogram };

/// Owns every metric of the process. Thread-safe.
class Registry {
 public:
  Registry();
  ~Registry();

  /// Returns the metric `name` with `labels`, creating it on first use. `help` is kept from the
  /// first call. A name is of one type only (a CHECK failure otherwise).
  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help, const std::vector<double>& upper_bounds,
                          const Labels& labels = {});

  /// A gauge family computed when scraped (RSS, state directory size, ...): `fn` appends
  /// (labels, value) samples.
  using Collect = std::function<void(std::vector<std::pair<Labels, double>>& out)>;
  void AddCollector(std::string_view name, std::string_view help, Collect fn);

  /// Returns the value of a counter or gauge, or `missing` when it does not exist.
  double Value(std::string_view name, const Labels& labels = {}, double missing = 0) const;
  /// Returns every (labels, value) of a counter or gauge family (sum/count not included for
  /// histograms).
  std::vector<std::pair<Labels, double>> Series(std::string_view name) const;

  /// Renders every metric in the Prometheus text exposition format (version 0.0.4).
  std::string RenderPrometheus() const;

 private:
  struct Family;
  Family& FamilyFor(std::string_view name, std::string_view help, MetricType type);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

/// The process-wide registry.
Registry& Default();

/// Escapes a label value for the text format (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view v);

/// How far ClickHouse is behind the source, as a watermark: the source time up to which every
/// change is acknowledged by ClickHouse. Acknowledging an offset moves it to that transaction's
/// commit time; a heartbeat from an idle source moves it to the heartbeat's time once everything
/// before the heartbeat's position is acknowledged (so the lag stays truthful when tables are
/// idle). Thread-safe.
class Freshness {
 public:
  /// The offset at binlog (file_seq, pos), committed in the source at `commit_ts_ms`, is
  /// acknowledged downstream (stored in the state directory).
  void Acked(uint32_t file_seq, uint64_t pos, int64_t commit_ts_ms);
  /// The source had nothing after (file_seq, pos) at wall time `now_ms` (heartbeat when idle).
  void SourceIdle(uint32_t file_seq, uint64_t pos, int64_t now_ms);
  /// The watermark in ms since the epoch, 0 before the first acknowledgement.
  int64_t watermark_ms() const { return watermark_ms_.load(std::memory_order_relaxed); }
  /// Seconds between `now_ms` and the watermark; negative when unknown (nothing acknowledged).
  double LagSeconds(int64_t now_ms) const;
  void Reset();

 private:
  void Advance(int64_t ts_ms);
  std::mutex mu_;
  std::atomic<int64_t> watermark_ms_{0};
  bool has_acked_ = false;
  uint32_t acked_seq_ = 0;
  uint64_t acked_pos_ = 0;
  bool has_idle_ = false;
  uint32_t idle_seq_ = 0;
  uint64_t idle_pos_ = 0;
  int64_t idle_ts_ms_ = 0;
};

/// The process-wide freshness watermark.
Freshness& PipelineFreshness();

/// Milliseconds since the epoch (system clock).
int64_t NowMs();

/// One node of the pipeline graph.
struct GraphNode {
  std::string kind;  ///< "source" (a MySQL table), "view" or "clickhouse" (a ClickHouse table)
  std::string name;  ///< "db.table" or the view name
};

/// One edge of the pipeline graph with what its rate and lag are computed from.
struct GraphEdge {
  GraphNode from, to;
  const Counter* rows = nullptr;           ///< rows that crossed the edge (rate = its derivative)
  const Gauge* oldest_pending_ts = nullptr;  ///< commit time (s) of the oldest row not yet acknowledged past the edge, 0 when none
};

/// Edges registered by the stages as they learn about tables and views. Thread-safe.
class PipelineGraph {
 public:
  /// Adds (or updates the counters of) the edge from -> to.
  void AddEdge(GraphEdge edge);
  std::vector<GraphEdge> Edges() const;
  void Clear();

 private:
  mutable std::mutex mu_;
  std::vector<GraphEdge> edges_;
};

/// The process-wide pipeline graph.
PipelineGraph& Graph();

/// Remembers the last error a stage retried or stopped on (for `/api/status` and `sluice status`)
/// and counts it in sluice_errors_total{stage}. Thread-safe; called on errors only.
void RecordError(std::string_view stage, std::string_view message);
/// "<UTC time> <stage>: <message>" of the last recorded error, or "" when none.
std::string LastError();

/// Formats ms since the epoch as "2026-12-02T01:16:52.123Z".
std::string IsoTime(int64_t unix_ms);

/// Resident set size of this process in bytes (0 when /proc is not readable).
uint64_t ProcessRssBytes();
/// Total size of the regular files under `dir` in bytes (0 when it does not exist).
uint64_t DirectoryBytes(const std::string& dir);

}  // namespace sluice::metrics
