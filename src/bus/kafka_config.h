#pragma once
/// The Kafka side of the config (`bus` with `type: kafka`): bootstrap servers, topic settings and
/// every other `bus` key as a librdkafka property, checked by librdkafka itself at load time so a
/// bad one is reported like any config error (file:line, key, what librdkafka said).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_s rd_kafka_t;

namespace sluice {
class Config;
}

namespace sluice::kafka {

/// Settings of the topics `sluice capture` creates.
struct TopicSettings {
  bool create = true;
  int partitions = -1;          ///< -1: the broker's default
  int replication_factor = -1;  ///< -1: the broker's default
  std::string retention_ms;     ///< empty: the broker's default
  std::string cleanup_policy = "delete";
};

/// Plain value type, read once from the Config.
struct KafkaSettings {
  std::string bootstrap_servers;
  /// librdkafka properties written in `bus` (after ${VAR} expansion), in file order by key.
  std::vector<std::pair<std::string, std::string>> properties;
  TopicSettings topics;
  std::string config_file;
};

/// Reads and validates the Kafka settings. Throws Error(kConfig) when bus.type is not kafka
/// (saying `command` needs it) or bootstrap.servers is missing, and ConfigError listing every
/// property librdkafka rejects.
KafkaSettings KafkaSettingsFromConfig(const Config& config, const char* command);

/// Builds a librdkafka configuration: `defaults`, then the user's properties (which win over
/// defaults), then `forced` (which win over the user's: what the command's guarantees need).
/// The caller owns the result (or hands it to rd_kafka_new).
rd_kafka_conf_t* MakeConf(const KafkaSettings& settings,
                          const std::vector<std::pair<std::string, std::string>>& defaults,
                          const std::vector<std::pair<std::string, std::string>>& forced);

/// Installs log/error callbacks that route librdkafka's messages to sluice's log, and records
/// fatal problems (authentication failure, fatal idempotence errors) for CheckFatal().
void InstallCallbacks(rd_kafka_conf_t* conf);

/// Throws Error(kBus) when the client hit a fatal error or the broker refused its credentials or
/// ACLs (these are not retried: the user must fix the config).
void CheckFatal(rd_kafka_t* rk);

/// True when `code` (a client's fatal error, rd_kafka_fatal_error) says a transactional producer
/// was fenced: another one started transactions with its transactional.id.
bool IsFencedError(int code);

}  // namespace sluice::kafka
