#pragma once
/// The HTTP endpoint of config section `metrics:` (cpp-httplib, one listening thread plus a
/// 1-second sampler thread):
///   GET /metrics       every metric of metrics::Default() in the Prometheus text format
///   GET /api/pipeline  the pipeline graph with rows/s and lag per edge, and the lag history (JSON)
///   GET /api/status    the live part of `sluice status` (text)
///   GET /              a small page drawing that graph and a lag-over-time plot
/// Owned by the command that runs the pipeline; stops (and joins its threads) when destroyed.

#include <memory>
#include <string>

namespace sluice {
class Config;
}

namespace sluice::metrics {

struct MetricsServerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;           ///< 0: any free port (see MetricsServer::port())
  std::string state_dir;  ///< for sluice_state_dir_bytes; empty: not reported
};

class MetricsServer {
 public:
  explicit MetricsServer(MetricsServerOptions options);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// Binds and starts serving. Throws Error(kConfig) when the address cannot be bound.
  void Start();
  /// Stops serving; idempotent.
  void Stop();
  /// The bound port (the chosen one when options.port was 0).
  int port() const;

  /// The JSON of /api/pipeline (exposed for tests).
  std::string PipelineJson() const;
  /// The text of /api/status (what `sluice status` prints for a running process).
  std::string StatusText() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Starts the server when `config` has a `metrics` section; returns null otherwise.
std::unique_ptr<MetricsServer> StartMetricsServer(const Config& config);

/// Asks a running sluice with this config's `metrics` section for its /api/status text; returns
/// "" when the config has no `metrics` section or nothing answers on that port.
std::string FetchLiveStatus(const Config& config);

/// The embedded page served at `/`.
extern const char* const kPipelinePageHtml;

}  // namespace sluice::metrics
