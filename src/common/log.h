#pragma once
/// Logging: spdlog to stderr (data goes only to stdout). One process-wide logger.
///
/// Two formats (`--log-format`): `text` (the default, for people) and `json`: one JSON object per
/// line, every string escaped, with the fields `ts` (UTC, ISO 8601, ms), `level`, `msg`, and, when
/// the logging thread has set them, `table` and `position` (see ScopedLogTable / ScopedLogPosition).

#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace sluice {

/// Configures the process-wide logger. `level` is trace|debug|info|warn|error|off; `format` is
/// "text" or "json". Throws Error(kConfig) on an unknown level or format.
void InitLogging(const std::string& level, const std::string& format = "text");

/// True when the logger writes JSON lines (progress bars and other free text stay off stderr).
bool LogIsJson();

/// Writes the message of an error that ends the process: `error: <message>` in text, a JSON line
/// with level "error" in json.
void LogFatal(std::string_view message);

/// Formats one JSON log line (no trailing newline) into `out`; exposed for tests.
void FormatJsonLogLine(std::string& out, int64_t unix_ms, std::string_view level, std::string_view msg,
                       std::string_view table, std::string_view position);

/// Names the table this thread works on in its structured log lines, for the guard's lifetime.
/// The string must outlive the guard. Nests (the previous table is restored).
class ScopedLogTable {
 public:
  explicit ScopedLogTable(const std::string* table);
  ~ScopedLogTable();
  ScopedLogTable(const ScopedLogTable&) = delete;
  ScopedLogTable& operator=(const ScopedLogTable&) = delete;

 private:
  const std::string* previous_;
};

/// Names the binlog position this thread is at (`file:pos`, read from the two variables when a
/// line is logged, so updating them costs nothing) for the guard's lifetime.
class ScopedLogPosition {
 public:
  ScopedLogPosition(const std::string* file, const uint64_t* pos);
  ~ScopedLogPosition();
  ScopedLogPosition(const ScopedLogPosition&) = delete;
  ScopedLogPosition& operator=(const ScopedLogPosition&) = delete;

 private:
  const std::string* previous_file_;
  const uint64_t* previous_pos_;
};

}  // namespace sluice

#define SLOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define SLOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define SLOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define SLOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define SLOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
