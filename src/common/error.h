#pragma once
/// Errors (DuckDB exceptions + Velox user/internal split). A user error says what is wrong, where
/// and what to do; it is either retryable (the caller backs off and tries again) or fatal.

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace sluice {

/// Category of an error, used to decide between retry and stop.
enum class ErrorKind {
  kConfig,      ///< bad config file / CLI arguments (fatal)
  kSql,         ///< bad view SQL (fatal)
  kSource,      ///< MySQL side: connection, privilege, binlog settings
  kSink,        ///< ClickHouse side
  kBus,         ///< Kafka side
  kState,       ///< state directory
  kData,        ///< a value that cannot be decoded or converted
  kInternal,    ///< a broken invariant: a bug
};

/// A user-facing error. `retryable()` tells whether backing off and retrying may succeed
/// (network drop, server restart, 5xx) or whether the process must stop.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, bool retryable = false)
      : std::runtime_error(std::move(message)), kind_(kind), retryable_(retryable) {}
  ErrorKind kind() const { return kind_; }
  bool retryable() const { return retryable_; }

 private:
  ErrorKind kind_;
  bool retryable_;
};

/// Throws an Error of `kind` with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void Throw(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(kind, fmt::format(f, std::forward<Args>(args)...));
}

/// Throws a retryable Error of `kind` with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void ThrowRetryable(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(kind, fmt::format(f, std::forward<Args>(args)...), true);
}

[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const std::string& msg);

}  // namespace sluice

/// Always-on invariant check; failure is an internal error (a bug), never a user error.
#define SLUICE_CHECK(cond, msg)                                            \
  do {                                                                     \
    if (!(cond)) ::sluice::CheckFailed(__FILE__, __LINE__, #cond, (msg));  \
  } while (0)
