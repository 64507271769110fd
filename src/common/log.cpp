#include "common/log.h"

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "common/error.h"

namespace sluice {

namespace {

std::atomic<bool> g_json{false};
thread_local const std::string* t_table = nullptr;
thread_local const std::string* t_file = nullptr;
thread_local const uint64_t* t_pos = nullptr;

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid (overlong, surrogate,
// beyond U+10FFFF or truncated).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

// Appends `s` as a JSON string: quotes, backslashes and control characters escaped, invalid
// UTF-8 replaced by U+FFFD so that every line is valid JSON whatever a message carries.
void AppendJsonString(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  out += '"';
}

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    std::string position;
    if (t_file && t_pos && !t_file->empty()) position = *t_file + ":" + std::to_string(*t_pos);
    line_.clear();
    const auto level = spdlog::level::to_string_view(msg.level);
    FormatJsonLogLine(line_, ms, std::string_view(level.data(), level.size()),
                      std::string_view(msg.payload.data(), msg.payload.size()), t_table ? *t_table : "", position);
    line_ += '\n';
    dest.append(line_.data(), line_.data() + line_.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }

 private:
  std::string line_;
};

}  // namespace

void FormatJsonLogLine(std::string& out, int64_t unix_ms, std::string_view level, std::string_view msg,
                       std::string_view table, std::string_view position) {
  const time_t secs = static_cast<time_t>(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char ts[96];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(((unix_ms % 1000) + 1000) % 1000));
  out += "{\"ts\":\"";
  out += ts;
  out += "\",\"level\":";
  AppendJsonString(out, level);
  out += ",\"msg\":";
  AppendJsonString(out, msg);
  if (!table.empty()) {
    out += ",\"table\":";
    AppendJsonString(out, table);
  }
  if (!position.empty()) {
    out += ",\"position\":";
    AppendJsonString(out, position);
  }
  out += '}';
}

void InitLogging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    Throw(ErrorKind::kConfig, "--log-level: unknown level '{}'; use trace, debug, info, warn, error or off",
          level);
  }
  if (format != "json" && format != "text") {
    Throw(ErrorKind::kConfig, "--log-format: unknown format '{}'; use text or json", format);
  }
  spdlog::drop("sluice");
  auto logger = spdlog::stderr_color_mt("sluice");
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  g_json = format == "json";
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
}

bool LogIsJson() { return g_json; }

void LogFatal(std::string_view message) {
  std::fflush(stdout);
  if (g_json) {
    std::string line;
    FormatJsonLogLine(line, std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count(),
                      "error", message, "", "");
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  } else {
    std::fprintf(stderr, "error: %.*s\n", static_cast<int>(message.size()), message.data());
  }
  std::fflush(stderr);
}

ScopedLogTable::ScopedLogTable(const std::string* table) : previous_(t_table) { t_table = table; }
ScopedLogTable::~ScopedLogTable() { t_table = previous_; }

ScopedLogPosition::ScopedLogPosition(const std::string* file, const uint64_t* pos)
    : previous_file_(t_file), previous_pos_(t_pos) {
  t_file = file;
  t_pos = pos;
}
ScopedLogPosition::~ScopedLogPosition() {
  t_file = previous_file_;
  t_pos = previous_pos_;
}

}  // namespace sluice
