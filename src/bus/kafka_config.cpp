#include "bus/kafka_config.h"

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <mutex>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"

namespace sluice::kafka {

namespace {

bool IsDeclared(const std::string& key) {
  for (const auto& s : ConfigSpec()) {
    if (std::string(s.section) == "bus" && key == s.key) return true;
  }
  return false;
}

int LineOf(const Config& c, const std::string& key) {
  const std::string where = c.Where("bus", key);
  const size_t colon = where.rfind(':');
  if (colon == std::string::npos) return 0;
  return std::atoi(where.c_str() + colon + 1);
}

void Set(rd_kafka_conf_t* conf, const std::string& k, const std::string& v, const char* who) {
  char err[512];
  if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    Throw(ErrorKind::kConfig, "Kafka property {}={} ({}): {}", k, v, who, err);
  }
}

}  // namespace

KafkaSettings KafkaSettingsFromConfig(const Config& c, const char* command) {
  if (c.GetString("bus", "type") != "kafka") {
    Throw(ErrorKind::kConfig,
          "{}: `sluice {}` talks through Kafka: set bus.type: kafka and bus.bootstrap.servers (bus.type is '{}')",
          c.file(), command, c.GetString("bus", "type"));
  }
  KafkaSettings s;
  s.config_file = c.file();
  s.bootstrap_servers = c.GetString("bus", "bootstrap.servers");
  std::vector<ConfigProblem> problems;
  if (s.bootstrap_servers.empty()) {
    problems.push_back({0, "bus: bootstrap.servers is required with type kafka (e.g. 127.0.0.1:9092)"});
  }
  s.topics.create = c.GetBool("bus", "topic.create");
  s.topics.partitions = static_cast<int>(c.GetInt("bus", "topic.partitions"));
  s.topics.replication_factor = static_cast<int>(c.GetInt("bus", "topic.replication.factor"));
  s.topics.retention_ms = c.GetString("bus", "topic.retention.ms");
  s.topics.cleanup_policy = c.GetString("bus", "topic.cleanup.policy");
  if (s.topics.partitions == 0 || s.topics.partitions < -1) {
    problems.push_back({LineOf(c, "topic.partitions"), "bus.topic.partitions: must be -1 or at least 1"});
  }
  if (s.topics.replication_factor == 0 || s.topics.replication_factor < -1) {
    problems.push_back(
        {LineOf(c, "topic.replication.factor"), "bus.topic.replication.factor: must be -1 or at least 1"});
  }
  // Every undeclared key is a librdkafka property: let librdkafka judge it.
  rd_kafka_conf_t* probe = rd_kafka_conf_new();
  for (const auto& [k, v] : c.Entries("bus")) {
    if (IsDeclared(k)) continue;
    char err[512];
    if (rd_kafka_conf_set(probe, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::string msg = fmt::format("bus.{}: rejected by librdkafka: {}", k, err);
      if (std::string(err).find("No such configuration property") != std::string::npos) {
        msg += " (bus keys other than type, queue.max.bytes, bootstrap.servers and topic.* are librdkafka "
               "properties; see librdkafka's CONFIGURATION.md)";
      }
      problems.push_back({LineOf(c, k), msg});
      continue;
    }
    s.properties.emplace_back(k, v);
  }
  rd_kafka_conf_destroy(probe);
  if (!problems.empty()) throw ConfigError(c.file(), std::move(problems));
  return s;
}

rd_kafka_conf_t* MakeConf(const KafkaSettings& settings, const std::vector<std::pair<std::string, std::string>>& defaults,
                          const std::vector<std::pair<std::string, std::string>>& forced) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : defaults) Set(conf, k, v, "sluice default");
  Set(conf, "bootstrap.servers", settings.bootstrap_servers, "bus.bootstrap.servers");
  for (const auto& [k, v] : settings.properties) Set(conf, k, v, "from bus");
  for (const auto& [k, v] : forced) Set(conf, k, v, "needed by sluice");
  InstallCallbacks(conf);
  return conf;
}

namespace {

void LogCb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  (void)rk;
  if (level <= 3) {
    SLOG_ERROR("kafka: {}: {}", fac, buf);
  } else if (level <= 4) {
    SLOG_WARN("kafka: {}: {}", fac, buf);
  } else if (level <= 6) {
    SLOG_INFO("kafka: {}: {}", fac, buf);
  } else {
    SLOG_DEBUG("kafka: {}: {}", fac, buf);
  }
}

std::mutex g_fatal_mu;
std::string g_fatal;

void ErrorCb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  (void)rk;
  (void)opaque;
  const auto e = static_cast<rd_kafka_resp_err_t>(err);
  if (e == RD_KAFKA_RESP_ERR__FATAL && rk) {
    // A transactional producer fenced by its successor fails for good, but only that client:
    // its owner sees it (KafkaProducer::fenced); the process's other clients are fine.
    char buf[512];
    const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, buf, sizeof buf);
    if (IsFencedError(cause)) {
      SLOG_WARN("kafka: {}", buf);
      return;
    }
  }
  if (e == RD_KAFKA_RESP_ERR__AUTHENTICATION || e == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
      e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
      e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR__FATAL) {
    std::lock_guard<std::mutex> lock(g_fatal_mu);
    if (g_fatal.empty()) {
      g_fatal = fmt::format("{}: {}", rd_kafka_err2name(e), reason);
    }
    SLOG_ERROR("kafka: {}: {}", rd_kafka_err2name(e), reason);
    return;
  }
  if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    SLOG_WARN("kafka: no broker of bus.bootstrap.servers is reachable ({}); retrying with backoff", reason);
  } else if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__RESOLVE) {
    SLOG_WARN("kafka: {} (retrying)", reason);
  } else {
    SLOG_WARN("kafka: {}: {}", rd_kafka_err2name(e), reason);
  }
}

}  // namespace

bool IsFencedError(int code) {
  return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

void CheckFatal(rd_kafka_t* rk) {
  char buf[512];
  if (rk && rd_kafka_fatal_error(rk, buf, sizeof buf) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Throw(ErrorKind::kBus, "Kafka client failed: {} (restart from the last stored offset)", buf);
  }
  std::lock_guard<std::mutex> lock(g_fatal_mu);
  if (!g_fatal.empty()) {
    Throw(ErrorKind::kBus,
          "Kafka refused the client: {}. Check the security settings in `bus` (security.protocol, sasl.mechanism, "
          "sasl.username, sasl.password, ssl.*) and the ACLs of the topics and group",
          g_fatal);
  }
}

void InstallCallbacks(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_log_cb(conf, LogCb);
  rd_kafka_conf_set_error_cb(conf, ErrorCb);
}

}  // namespace sluice::kafka
