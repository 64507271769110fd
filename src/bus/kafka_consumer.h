#pragma once
/// KafkaConsumer: a librdkafka consumer-group member with manual offset commits. Auto-commit and
/// auto offset store are off: the caller commits an offset only once what came before it is
/// durable downstream. Partition assignment changes are reported to a RebalanceListener on the
/// polling thread (before partitions are taken away, so the caller can deliver and commit).
/// Owned by one thread.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/kafka_admin.h"
#include "bus/kafka_config.h"

typedef struct rd_kafka_message_s rd_kafka_message_t;
typedef struct rd_kafka_topic_partition_list_s rd_kafka_topic_partition_list_t;

namespace sluice::kafka {

class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  /// Partitions are about to be taken away: deliver what was read from them and commit.
  virtual void OnRevoke(const std::vector<TopicPartition>& partitions) = 0;
  /// Partitions were given to this member. Returns the offset to start each from (or nullopt:
  /// the committed offset, else auto.offset.reset).
  virtual std::optional<int64_t> OnAssign(const TopicPartition& tp) = 0;
};

/// One consumed record; views are valid until the next Poll().
struct Message {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;
  std::optional<std::string_view> key, value;
  /// Returns the value of header `name`, if present.
  std::optional<std::string_view> Header(const char* name) const;
  rd_kafka_message_t* raw = nullptr;
};

class KafkaConsumer {
 public:
  KafkaConsumer(const KafkaSettings& settings, const std::string& group_id, RebalanceListener* listener);
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  /// Subscribes to topic names; a name starting with '^' is a regex (librdkafka's rule).
  void Subscribe(const std::vector<std::string>& topics);
  /// Waits up to `timeout_ms` for a record. nullopt on timeout. Throws Error(kBus) on fatal errors.
  std::optional<Message> Poll(int timeout_ms);
  /// Commits `next_offsets` (the offset of the next record to read, per partition) synchronously.
  void Commit(const std::map<TopicPartition, int64_t>& next_offsets);
  /// The group's committed offsets (-1 when none) of `partitions` (any, not only assigned ones).
  std::map<TopicPartition, int64_t> Committed(const std::vector<TopicPartition>& partitions);
  /// (low, high) watermarks of a partition, asked from the broker.
  std::pair<int64_t, int64_t> Watermarks(const TopicPartition& tp);
  /// The first offset whose timestamp is >= `timestamp_ms` (the high watermark when none is).
  int64_t OffsetForTime(const TopicPartition& tp, int64_t timestamp_ms);
  /// Leaves the group (revoking partitions through the listener).
  void Close();

  rd_kafka_t* handle() { return rk_; }

 private:
  /// Wakes the broker threads of assigned partitions that are behind the broker's end while
  /// nothing is queued locally. librdkafka < 2.1 stops fetching a partition whose prefetch queue is
  /// over queued.max.messages.kbytes and looks at it again only when its broker thread wakes up:
  /// on a request or response, else once a second. A consumer that drains the queue faster than
  /// that would wait for the rest of the second with the broker full of records.
  void WakeParkedFetchers();
  static void OnRebalance(rd_kafka_t* rk, int err, rd_kafka_topic_partition_list_t* parts, void* opaque);

  rd_kafka_t* rk_ = nullptr;
  RebalanceListener* listener_;
  rd_kafka_message_t* last_ = nullptr;
  bool closed_ = false;
  bool delivered_since_wake_ = false;  // a record was returned since the last WakeParkedFetchers

};

}  // namespace sluice::kafka
