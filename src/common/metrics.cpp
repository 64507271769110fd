#include "common/metrics.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "common/error.h"

namespace sluice::metrics {

namespace {

std::string RenderLabels(const Labels& labels, std::string_view extra_key = {}, std::string_view extra_value = {}) {
  if (labels.empty() && extra_key.empty()) return "";
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) s += ',';
    first = false;
    s += k;
    s += "=\"";
    s += EscapeLabelValue(v);
    s += '"';
  }
  if (!extra_key.empty()) {
    if (!first) s += ',';
    s += extra_key;
    s += "=\"";
    s += extra_value;
    s += '"';
  }
  s += '}';
  return s;
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

void AtomicAdd(std::atomic<double>& a, double d) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Gauge::Add(double d) { AtomicAdd(v_, d); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = bounds_;
  uint64_t cum = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cum += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(cum);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = cum;  // consistent with the buckets even while others observe
  return s;
}

std::vector<double> ExponentialBuckets(double start, double factor, size_t count) {
  std::vector<double> b;
  double v = start;
  for (size_t i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

struct Registry::Family {
  MetricType type = MetricType::kCounter;
  std::string help;
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  std::map<std::string, Series> series;  // by rendered labels
  Collect collect;                       // set for collected gauge families
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::FamilyFor(std::string_view name, std::string_view help, MetricType type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto f = std::make_unique<Family>();
    f->type = type;
    f->help = std::string(help);
    it = families_.emplace(std::string(name), std::move(f)).first;
  }
  SLUICE_CHECK(it->second->type == type, fmt::format("metric {} registered with two types", name));
  return *it->second;
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = FamilyFor(name, help, MetricType::kCounter);
  auto& s = f.series[RenderLabels(labels)];
  if (!s.counter) {
    s.labels = labels;
    s.counter = std::make_unique<Counter>();
  }
  return *s.counter;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = FamilyFor(name, help, MetricType::kGauge);
  auto& s = f.series[RenderLabels(labels)];
  if (!s.gauge) {
    s.labels = labels;
    s.gauge = std::make_unique<Gauge>();
  }
  return *s.gauge;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help, const std::vector<double>& upper_bounds,
                                  const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = FamilyFor(name, help, MetricType::kHistogram);
  auto& s = f.series[RenderLabels(labels)];
  if (!s.histogram) {
    s.labels = labels;
    s.histogram = std::make_unique<Histogram>(upper_bounds);
  }
  return *s.histogram;
}

void Registry::AddCollector(std::string_view name, std::string_view help, Collect fn) {
  std::lock_guard lock(mu_);
  Family& f = FamilyFor(name, help, MetricType::kGauge);
  f.collect = std::move(fn);
}

double Registry::Value(std::string_view name, const Labels& labels, double missing) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return missing;
  auto s = it->second->series.find(RenderLabels(labels));
  if (s == it->second->series.end()) return missing;
  if (s->second.counter) return static_cast<double>(s->second.counter->value());
  if (s->second.gauge) return s->second.gauge->value();
  return missing;
}

std::vector<std::pair<Labels, double>> Registry::Series(std::string_view name) const {
  std::vector<std::pair<Labels, double>> out;
  Collect collect;
  {
    std::lock_guard lock(mu_);
    auto it = families_.find(name);
    if (it == families_.end()) return out;
    for (const auto& [key, s] : it->second->series) {
      if (s.counter) out.emplace_back(s.labels, static_cast<double>(s.counter->value()));
      if (s.gauge) out.emplace_back(s.labels, s.gauge->value());
    }
    collect = it->second->collect;
  }
  if (collect) collect(out);
  return out;
}

std::string Registry::RenderPrometheus() const {
  // Collectors run outside the lock (they may read other metrics).
  std::vector<std::pair<std::string, Collect>> collectors;
  std::string out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, f] : families_) {
      if (f->collect) collectors.emplace_back(name, f->collect);
    }
  }
  std::map<std::string, std::vector<std::pair<Labels, double>>> collected;
  for (auto& [name, fn] : collectors) fn(collected[name]);

  std::lock_guard lock(mu_);
  for (const auto& [name, f] : families_) {
    auto c = collected.find(name);
    const bool has_collected = c != collected.end() && !c->second.empty();
    if (f->series.empty() && !has_collected) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(f->help), name, TypeName(f->type));
    for (const auto& [key, s] : f->series) {
      if (s.counter) out += fmt::format("{}{} {}\n", name, key, s.counter->value());
      if (s.gauge) out += fmt::format("{}{} {}\n", name, key, FormatNumber(s.gauge->value()));
      if (s.histogram) {
        const Histogram::Snapshot h = s.histogram->snapshot();
        for (size_t i = 0; i < h.cumulative.size(); ++i) {
          const std::string le = i < h.upper_bounds.size() ? FormatNumber(h.upper_bounds[i]) : "+Inf";
          out += fmt::format("{}_bucket{} {}\n", name, RenderLabels(s.labels, "le", le), h.cumulative[i]);
        }
        out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, key, FormatNumber(h.sum), name, key, h.count);
      }
    }
    if (has_collected) {
      for (const auto& [labels, v] : c->second) out += fmt::format("{}{} {}\n", name, RenderLabels(labels), FormatNumber(v));
    }
  }
  return out;
}

Registry& Default() {
  static Registry* r = new Registry();  // never destroyed: threads may update metrics during exit
  return *r;
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// ---- Freshness -------------------------------------------------------------------------------

namespace {
bool AtOrBefore(uint32_t seq_a, uint64_t pos_a, uint32_t seq_b, uint64_t pos_b) {
  return seq_a != seq_b ? seq_a < seq_b : pos_a <= pos_b;
}
}  // namespace

void Freshness::Advance(int64_t ts_ms) {
  if (ts_ms > watermark_ms_.load(std::memory_order_relaxed)) watermark_ms_.store(ts_ms, std::memory_order_relaxed);
}

void Freshness::Acked(uint32_t file_seq, uint64_t pos, int64_t commit_ts_ms) {
  std::lock_guard lock(mu_);
  has_acked_ = true;
  acked_seq_ = file_seq;
  acked_pos_ = pos;
  Advance(commit_ts_ms);
  if (has_idle_ && AtOrBefore(idle_seq_, idle_pos_, acked_seq_, acked_pos_)) {
    Advance(idle_ts_ms_);
    has_idle_ = false;
  }
}

void Freshness::SourceIdle(uint32_t file_seq, uint64_t pos, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (has_acked_ && AtOrBefore(file_seq, pos, acked_seq_, acked_pos_)) {
    Advance(now_ms);
    has_idle_ = false;
    return;
  }
  // Keep the latest idle mark; it counts once the sink has acknowledged up to its position.
  has_idle_ = true;
  idle_seq_ = file_seq;
  idle_pos_ = pos;
  idle_ts_ms_ = now_ms;
}

double Freshness::LagSeconds(int64_t now_ms) const {
  const int64_t w = watermark_ms();
  if (w <= 0) return -1;
  return std::max<double>(0, static_cast<double>(now_ms - w) / 1000.0);
}

void Freshness::Reset() {
  std::lock_guard lock(mu_);
  watermark_ms_.store(0);
  has_acked_ = has_idle_ = false;
}

Freshness& PipelineFreshness() {
  static Freshness* f = new Freshness();
  return *f;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- Pipeline graph --------------------------------------------------------------------------

void PipelineGraph::AddEdge(GraphEdge edge) {
  std::lock_guard lock(mu_);
  for (auto& e : edges_) {
    if (e.from.kind == edge.from.kind && e.from.name == edge.from.name && e.to.kind == edge.to.kind &&
        e.to.name == edge.to.name) {
      e = std::move(edge);
      return;
    }
  }
  edges_.push_back(std::move(edge));
}

std::vector<GraphEdge> PipelineGraph::Edges() const {
  std::lock_guard lock(mu_);
  return edges_;
}

void PipelineGraph::Clear() {
  std::lock_guard lock(mu_);
  edges_.clear();
}

PipelineGraph& Graph() {
  static PipelineGraph* g = new PipelineGraph();
  return *g;
}

// ---- Errors ----------------------------------------------------------------------------------

namespace {
std::mutex g_error_mu;
std::string g_last_error;
}  // namespace

void RecordError(std::string_view stage, std::string_view message) {
  Default().GetCounter("sluice_errors_total", "errors a stage retried or stopped on", {{"stage", std::string(stage)}}).Inc();
  std::string m(message.substr(0, std::min<size_t>(message.size(), 2000)));
  std::lock_guard lock(g_error_mu);
  g_last_error = IsoTime(NowMs()) + " " + std::string(stage) + ": " + m;
}

std::string LastError() {
  std::lock_guard lock(g_error_mu);
  return g_last_error;
}

std::string IsoTime(int64_t unix_ms) {
  const time_t secs = static_cast<time_t>(unix_ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
}

// ---- Process ---------------------------------------------------------------------------------

uint64_t ProcessRssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t DirectoryBytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t total = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    if (it->is_regular_file(e2)) {
      const auto n = it->file_size(e2);
      if (!e2) total += n;
    }
  }
  return total;
}

}  // namespace sluice::metrics
