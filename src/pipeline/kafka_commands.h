#pragma once
/// The distributed commands (bus.type: kafka): `sluice capture` producing Debezium events to
/// Kafka, and `sluice sink` consuming them into ClickHouse in a consumer group.

#include <string>

#include "pipeline/commands.h"

namespace sluice::pipeline {

struct SinkFlags {
  std::string reset_offsets;  ///< "", "earliest", "latest" or a timestamp in ms
};

/// `sluice capture CONFIG` with bus.type kafka: MySQL -> Kafka topics <topic.prefix>.<db>.<table>.
int CaptureToKafka(const CommonFlags& flags);
/// For `sluice check`: reaches the brokers of bus.bootstrap.servers (10 s at most) and returns a
/// one-line report; throws Error (kConfig for bad librdkafka properties, kBus when unreachable).
std::string CheckKafka(const Config& config);
/// For `sluice status`: the sink group's committed offsets against the topics' end offsets, per
/// topic (lag in records). Throws Error(kBus) when the brokers do not answer within 10 s.
std::string KafkaStatus(const Config& config);
/// `sluice sink CONFIG`: Kafka topics -> ClickHouse, offsets committed after ClickHouse acknowledged.
int Sink(const CommonFlags& flags, const SinkFlags& sink_flags);

}  // namespace sluice::pipeline
