#pragma once
/// Topic administration through an existing client handle: create missing topics with the
/// configured partitions / replication factor / retention / cleanup policy, list topics and
/// partitions, read watermarks. Calls block; used from the owning thread of the handle.

#include <cstdint>
#include <string>
#include <vector>

#include "bus/kafka_config.h"

namespace sluice::kafka {

/// Creates `topic` when missing (settings.create), or checks that it exists (otherwise). Waits
/// while the brokers are unreachable or restarting (a warning every 10 s; fewer brokers than the
/// replication factor for 10 minutes at most). Throws Error(kBus) when it is missing and may not
/// be created, or the broker refuses the creation.
void EnsureTopic(rd_kafka_t* rk, const std::string& topic, const TopicSettings& settings);

/// Adds partitions to existing `topic` until it has at least `partitions` (a topic never shrinks).
/// Throws Error(kBus) when the broker refuses.
void EnsurePartitions(rd_kafka_t* rk, const std::string& topic, int partitions);

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator<(const TopicPartition& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
  bool operator==(const TopicPartition& o) const { return topic == o.topic && partition == o.partition; }
};

/// Every partition of the topics whose names match `match` (called per topic name), from the
/// cluster metadata. Retries while no broker answers (logging).
template <typename Match>
std::vector<TopicPartition> ListPartitions(rd_kafka_t* rk, Match&& match);

/// All topic names with their partition counts (internal topics excluded). Retries while no
/// broker answers; with `give_up_ms` >= 0, throws a retryable Error(kBus) after that long instead.
std::vector<std::pair<std::string, int>> ListTopics(rd_kafka_t* rk, int give_up_ms = -1);

template <typename Match>
std::vector<TopicPartition> ListPartitions(rd_kafka_t* rk, Match&& match) {
  std::vector<TopicPartition> out;
  for (const auto& [name, n] : ListTopics(rk)) {
    if (!match(name)) continue;
    for (int p = 0; p < n; ++p) out.push_back({name, p});
  }
  return out;
}

}  // namespace sluice::kafka
