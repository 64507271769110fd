#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "common/error.h"

namespace sluice {

void InitLogging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    Throw(ErrorKind::kConfig, "--log-level: unknown level '{}'; use trace, debug, info, warn, error or off",
          level);
  }
  auto logger = spdlog::stderr_color_mt("sluice");
  if (format == "json") {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%v"})");
  } else if (format == "text") {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  } else {
    Throw(ErrorKind::kConfig, "--log-format: unknown format '{}'; use text or json", format);
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
}

}  // namespace sluice
