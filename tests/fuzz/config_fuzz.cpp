// libFuzzer target: the strict YAML config loader (sluice::Config::LoadString). Any input must
// either load or throw sluice::Error (ConfigError) naming the problems — never crash.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    sluice::Config c = sluice::Config::LoadString(yaml, "fuzz.yaml", "/nonexistent");
    // Read every declared key back, as the commands do.
    for (const auto& spec : sluice::ConfigSpec()) {
      if (spec.type == sluice::ConfigType::kPassthrough) continue;
      if (spec.type == sluice::ConfigType::kMap) {
        c.GetMap(spec.section, spec.key);
      } else if (spec.type == sluice::ConfigType::kInt) {
        c.GetInt(spec.section, spec.key);
      } else if (spec.type == sluice::ConfigType::kBool) {
        c.GetBool(spec.section, spec.key);
      } else if (spec.type == sluice::ConfigType::kList) {
        c.GetList(spec.section, spec.key);
      } else {
        c.GetString(spec.section, spec.key);
      }
    }
    for (const char* section : {"source", "bus", "transform", "sink", "state", "metrics"}) c.Entries(section);
  } catch (const sluice::Error&) {
  }
  return 0;
}
