#pragma once
/// `sluice transform CONFIG` (bus.type kafka): the views of transform.sql from the source topics to
/// one topic per view (pipeline/transform_command.cpp).

#include <string>
#include <vector>

#include "bus/kafka_config.h"
#include "pipeline/commands.h"

namespace sluice::pipeline {

struct TransformFlags {
  std::string reset_offsets;  ///< "" or "earliest": drop the views' state and re-read every source topic
};

int Transform(const CommonFlags& flags, const TransformFlags& tflags);

/// The source tables' schemas read from their topics (`sluice transform` and `check` without
/// source.database.hostname): per `<topic.prefix>.<db>.<table>` topic within the table filters,
/// the newest record carrying its schema among the last ones of each partition.
std::vector<TableSchemaPtr> SchemasFromTopics(const Config& config, const kafka::KafkaSettings& ks);

}  // namespace sluice::pipeline
