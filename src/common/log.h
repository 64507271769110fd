#pragma once
/// Logging: spdlog to stderr (data goes only to stdout). One process-wide logger.

#include <string>

#include <spdlog/spdlog.h>

namespace sluice {

/// Configures the process-wide logger. `level` is trace|debug|info|warn|error|off; `format` is
/// "text" or "json". Throws Error(kConfig) on an unknown level or format.
void InitLogging(const std::string& level, const std::string& format = "text");

}  // namespace sluice

#define SLOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define SLOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define SLOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define SLOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define SLOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
