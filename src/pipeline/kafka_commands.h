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
/// `sluice sink CONFIG`: Kafka topics -> ClickHouse, offsets committed after ClickHouse acknowledged.
int Sink(const CommonFlags& flags, const SinkFlags& sink_flags);

}  // namespace sluice::pipeline
