#pragma once
/// KafkaProducer: an idempotent librdkafka producer that tracks delivery. Every message gets a
/// sequence number; AckedBelow() is the number below which every message was acknowledged by
/// the brokers (acks=all), so a caller stores a source offset only once every message before it
/// is durable in Kafka. Owned by one thread (Produce/Poll/Flush); delivery reports are served on
/// that thread inside Poll/Produce/Flush.

#include <cstdint>
#include <memory>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/kafka_config.h"

typedef struct rd_kafka_message_s rd_kafka_message_t;

namespace sluice::kafka {

/// A Kafka record header.
struct Header {
  std::string_view name;
  std::string_view value;
};

class KafkaProducer {
 public:
  /// `extra` are forced librdkafka properties on top of the defaults and the user's.
  explicit KafkaProducer(const KafkaSettings& settings,
                         const std::vector<std::pair<std::string, std::string>>& extra = {});
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  /// Queues one record (null key / null value when the optional is empty). While librdkafka's
  /// queue is full it serves delivery reports and retries (backpressure). Returns its sequence.
  /// Throws Error(kBus) on a failed delivery reported meanwhile or a fatal client error.
  /// `partition` -1: the partitioner picks it (by key).
  uint64_t Produce(std::string_view topic, const std::string_view* key, const std::string_view* value,
                   const std::vector<Header>& headers, int32_t partition = -1);

  /// Serves delivery reports for up to `timeout_ms`; throws Error(kBus) if a delivery failed.
  void Poll(int timeout_ms);
  /// Waits until every queued record is acknowledged (logging while brokers are unreachable);
  /// throws Error(kBus) if one failed.
  void Flush();

  /// Kafka transactions (only for a producer made with a `transactional.id`): fences every earlier
  /// producer with the same id — their open transaction is aborted, and their next produce or
  /// commit fails — and waits until the brokers agreed. Throws Error(kBus) when the cluster does
  /// not allow it (no transaction support, no TransactionalId ACL).
  void InitTransactions();
  /// Runs `produce` (Produce calls) in one transaction and commits it. False when the transaction
  /// was aborted (a delivery failed or timed out, a broker refused it): nothing of it is visible
  /// to read_committed consumers and the caller may run it again. Throws Error(kBus) when this
  /// producer was fenced (another one called InitTransactions with its id) or failed for good.
  bool RunTransaction(const std::function<void()>& produce);
  /// True once the brokers fenced this producer.
  bool fenced() const { return fenced_; }

  /// Every record with a sequence below this is acknowledged.
  uint64_t AckedBelow() const { return outstanding_.empty() ? next_seq_ : *outstanding_.begin(); }
  uint64_t produced() const { return next_seq_; }
  uint64_t in_flight() const { return outstanding_.size(); }

  rd_kafka_t* handle() { return rk_; }

 private:
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  void ThrowIfFailed();

  rd_kafka_t* rk_ = nullptr;
  uint64_t next_seq_ = 0;
  std::set<uint64_t> outstanding_;
  std::string failure_;
  bool fenced_ = false;
};

}  // namespace sluice::kafka
