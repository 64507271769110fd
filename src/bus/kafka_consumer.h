#pragma once
/// KafkaConsumer: a librdkafka consumer-group member with manual offset commits. Auto-commit and
/// auto offset store are off: the caller commits an offset only once what came before it is
/// durable downstream. Partition assignment changes are reported to a RebalanceListener on the
/// polling thread (before partitions are taken away, so the caller can deliver and commit).
/// Owned by one thread.

#include <cstdint>
#include <exception>
#include <functional>
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
  /// Called first when the group gives `given` to this member: the partitions to read instead
  /// (OnAssign is then asked for those), or nullopt to read `given`. A member that uses the group
  /// only to elect who reads (sluice transform's lease) reads other partitions than it was given.
  virtual std::optional<std::vector<TopicPartition>> Reassign(const std::vector<TopicPartition>& given) {
    (void)given;
    return std::nullopt;
  }
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

/// The value of the last record of `tp` (nullopt when the partition holds none), read by a
/// short-lived consumer outside any group. Throws Error(kBus) after `timeout_ms`.
std::optional<std::string> ReadLastValue(const KafkaSettings& settings, const TopicPartition& tp,
                                         int timeout_ms = 30000);

/// Reads every record of `partitions` from the log start (or, with `tail` > 0, only the last
/// `tail` offsets of each) to the end offset at the call, in offset order per partition, calling
/// `fn(const Message&)` for each (a short-lived consumer outside any group). Throws Error(kBus)
/// when a partition cannot be read.
void ReadAll(const KafkaSettings& settings, const std::vector<TopicPartition>& partitions,
             const std::function<void(const Message&)>& fn, int64_t tail = 0);

class KafkaConsumer {
 public:
  /// `sticky`: the cooperative-sticky assignor (a member keeps its partitions when others join;
  /// sluice transform's lease) instead of range/roundrobin.
  KafkaConsumer(const KafkaSettings& settings, const std::string& group_id, RebalanceListener* listener,
                bool sticky = false);
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
  /// (low, high) watermarks of a partition as the last fetch response for it said (no request);
  /// nullopt before any. The low one is -1 when no response said it.
  std::optional<std::pair<int64_t, int64_t>> CachedWatermarks(const TopicPartition& tp);
  /// The offset of the next record this consumer hands out for an assigned partition (nullopt
  /// before its start offset is known).
  std::optional<int64_t> Position(const TopicPartition& tp);
  /// The first offset whose timestamp is >= `timestamp_ms` (the high watermark when none is).
  int64_t OffsetForTime(const TopicPartition& tp, int64_t timestamp_ms);
  /// Also reads `partitions` from now on, each from its offset (-2: the log start), besides the
  /// current assignment (the group's assignment stays what it was).
  void AssignMore(const std::map<TopicPartition, int64_t>& partitions);
  /// Reads `partitions` (assigned now, by the group or AssignMore) again from their log start:
  /// records fetched but not yet returned by Poll are dropped.
  void Rewind(const std::vector<TopicPartition>& partitions);
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
  void Rebalance(rd_kafka_t* rk, int err, rd_kafka_topic_partition_list_t* parts);

  rd_kafka_t* rk_ = nullptr;
  RebalanceListener* listener_;
  rd_kafka_message_t* last_ = nullptr;
  bool closed_ = false;
  bool sticky_ = false;         // cooperative-sticky assignor
  bool ever_assigned_ = false;  // a rebalance assigned (even nothing): the assignor has its state
  bool delivered_since_wake_ = false;  // a record was returned since the last WakeParkedFetchers
  bool reassigned_ = false;            // the listener's Reassign replaced what the group gave
  std::exception_ptr pending_error_;   // thrown by the listener during a rebalance; Poll rethrows it

};

}  // namespace sluice::kafka
