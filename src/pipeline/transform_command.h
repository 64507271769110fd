#pragma once
/// `sluice transform CONFIG` (bus.type kafka): the views of transform.sql from the source topics to
/// one topic per view (pipeline/transform_command.cpp).

#include <string>

#include "pipeline/commands.h"

namespace sluice::pipeline {

struct TransformFlags {
  std::string reset_offsets;  ///< "" or "earliest": drop the views' state and re-read every source topic
};

int Transform(const CommonFlags& flags, const TransformFlags& tflags);

}  // namespace sluice::pipeline
