#pragma once
// Where the local services started by scripts/services listen, for integration tests.
//
// Each value comes from the environment variable of the same name, else from the `export` lines
// of <run dir>/env that `scripts/services start` writes (run dir: $SLUICE_RUN_DIR, else
// <source dir>/.run), else from the default below — the same defaults scripts/services uses.
// So a test run by plain `ctest` after `scripts/services start` finds the services without
// sourcing anything, and `KAFKA_BROKERS=3 scripts/services start` is picked up too.

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <string_view>

namespace sluice::test {

namespace internal {

/// Reads `export NAME=value` / `export NAME='value'` lines of the services' env file once.
inline const std::map<std::string, std::string>& RunEnvFile() {
  static const std::map<std::string, std::string> values = [] {
    std::map<std::string, std::string> out;
    std::string dir;
    if (const char* d = std::getenv("SLUICE_RUN_DIR"); d != nullptr && *d != '\0') {
      dir = d;
    } else {
#ifdef SLUICE_SOURCE_DIR
      dir = std::string(SLUICE_SOURCE_DIR) + "/.run";
#else
      return out;
#endif
    }
    std::ifstream in(dir + "/env");
    std::string line;
    while (std::getline(in, line)) {
      constexpr std::string_view kExport = "export ";
      if (line.rfind(kExport, 0) != 0) continue;
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string name = line.substr(kExport.size(), eq - kExport.size());
      std::string value = line.substr(eq + 1);
      if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      out[name] = value;
    }
    return out;
  }();
  return values;
}

}  // namespace internal

/// Returns the environment variable NAME, else its value in .run/env, else DEFAULT_VALUE.
inline std::string EnvOr(const char* name, std::string_view default_value) {
  if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  const auto& file = internal::RunEnvFile();
  if (auto it = file.find(name); it != file.end() && !it->second.empty()) return it->second;
  return std::string(default_value);
}

/// Like EnvOr, parsed as an int (DEFAULT_VALUE when unset or not a number).
inline int EnvIntOr(const char* name, int default_value) {
  const std::string v = EnvOr(name, "");
  if (v.empty()) return default_value;
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  return (end != nullptr && *end == '\0') ? static_cast<int>(n) : default_value;
}

/// Connection settings of the local services (scripts/services); see scripts/README.md.
struct ServicesEnv {
  // MariaDB 10.11: binlog ROW/FULL, GTID; `sluice` is the CDC user, `root` may write.
  std::string mysql_host = EnvOr("SLUICE_MYSQL_HOST", "127.0.0.1");
  int mysql_port = EnvIntOr("SLUICE_MYSQL_PORT", 13306);
  std::string mysql_user = EnvOr("SLUICE_MYSQL_USER", "sluice");
  std::string mysql_password = EnvOr("SLUICE_MYSQL_PASSWORD", "sluice");
  std::string mysql_root_user = "root";
  std::string mysql_root_password = EnvOr("SLUICE_MYSQL_ROOT_PASSWORD", "root");

  // ZooKeeper (for ClickHouse Replicated tables).
  int zk_port = EnvIntOr("SLUICE_ZK_PORT", 12181);

  // ClickHouse 18.16: replica r1 and, when ch_replicas == 2, replica r2 of one shard.
  std::string ch_host = EnvOr("SLUICE_CH_HOST", "127.0.0.1");
  int ch_http_port = EnvIntOr("SLUICE_CH_HTTP_PORT", 18123);
  int ch_tcp_port = EnvIntOr("SLUICE_CH_TCP_PORT", 19000);
  int ch2_http_port = EnvIntOr("SLUICE_CH2_HTTP_PORT", 18124);
  int ch2_tcp_port = EnvIntOr("SLUICE_CH2_TCP_PORT", 19001);
  std::string ch_user = EnvOr("SLUICE_CH_USER", "default");
  std::string ch_password = EnvOr("SLUICE_CH_PASSWORD", "");
  std::string ch_cluster = EnvOr("SLUICE_CH_CLUSTER", "sluice_cluster");
  int ch_replicas = EnvIntOr("SLUICE_CH_REPLICAS", 1);

  // Apache Kafka 4.4 (KRaft): 1 broker, or 3 with KAFKA_BROKERS=3.
  std::string kafka_bootstrap = EnvOr("SLUICE_KAFKA_BOOTSTRAP", "127.0.0.1:19092");
  int kafka_brokers = EnvIntOr("SLUICE_KAFKA_BROKERS", 1);

  /// Returns "http://host:port" of ClickHouse replica 1 or 2.
  std::string ClickHouseUrl(int replica = 1) const {
    return "http://" + ch_host + ":" + std::to_string(replica == 2 ? ch2_http_port : ch_http_port);
  }
};

/// Returns the settings, read once.
inline const ServicesEnv& Services() {
  static const ServicesEnv env;
  return env;
}

}  // namespace sluice::test
