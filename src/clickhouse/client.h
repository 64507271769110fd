#pragma once
/// A ClickHouse client over the HTTP interface (libcurl): statements in the POST body, inserts as
/// `INSERT INTO db.t (cols) FORMAT RowBinary|Native` in the URL with the rows streamed in the body.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clickhouse/server_info.h"
#include "common/error.h"

namespace sluice::clickhouse {

/// Connection settings (the sink's `hostname`, `port`, `ssl`, `username`, `password`, ...).
struct ClientOptions {
  std::string hostname = "127.0.0.1";
  int port = 8123;
  bool ssl = false;                  ///< https
  std::string username = "default";
  std::string password;
  std::string database;              ///< default database of statements (`database` URL parameter)
  int connect_timeout_ms = 10000;
  int request_timeout_ms = 300000;   ///< whole request, including a large insert
  bool gzip = false;                 ///< send request bodies with Content-Encoding: gzip (18.16+)
};

/// ClickHouse settings sent as URL parameters with one request, e.g. {"mutations_sync", "2"}.
using QuerySettings = std::vector<std::pair<std::string, std::string>>;

/// One keep-alive HTTP connection to one ClickHouse server. Not thread-safe: one owner thread.
/// Every failure throws Error(kSink); `retryable()` is set for network errors, timeouts, 5xx
/// without a ClickHouse error code and the ClickHouse codes that mean "try again".
class ClickHouseClient {
 public:
  explicit ClickHouseClient(ClientOptions options);
  ~ClickHouseClient();
  ClickHouseClient(const ClickHouseClient&) = delete;
  ClickHouseClient& operator=(const ClickHouseClient&) = delete;

  /// Runs `sql` and returns the response body (use FORMAT TSV etc. in `sql`).
  std::string Query(std::string_view sql, const QuerySettings& settings = {});

  /// Inserts RowBinary `rows` into `database`.`table` (`columns` are quoted identifiers).
  void InsertRowBinary(std::string_view database, std::string_view table, const std::vector<std::string>& columns,
                       std::string_view rows, const QuerySettings& settings = {});

  /// Inserts `rows` in `format` ("RowBinary", "Native") into `database`.`table`.
  void Insert(std::string_view database, std::string_view table, const std::vector<std::string>& columns,
              std::string_view format, std::string_view rows, const QuerySettings& settings = {});

  /// Returns the server's version and features; asks the server on the first call.
  const ServerFeatures& Features();

  /// Returns "http(s)://host:port" for messages.
  std::string Endpoint() const;
  const ClientOptions& options() const { return options_; }

 private:
  std::string Post(const QuerySettings& params, std::string_view body, std::string_view statement);

  ClientOptions options_;
  void* curl_ = nullptr;  // CURL*
  std::string response_;
  std::string compressed_;
  std::optional<ServerFeatures> features_;
};

/// Returns the ClickHouse error code in an error body ("Code: 60. DB::Exception: ..."), or -1.
int ParseExceptionCode(std::string_view body);

/// True for ClickHouse error codes after which the same request may succeed later.
bool IsRetryableCode(int code);

/// Builds the Error for an HTTP answer with status `status` and `body` to `statement`.
Error MakeHttpError(long status, std::string_view body, std::string_view statement, std::string_view endpoint,
                    std::string_view username);

/// Returns `sql` cut to at most `max` bytes for messages.
std::string TrimStatement(std::string_view sql, size_t max = 300);

}  // namespace sluice::clickhouse
