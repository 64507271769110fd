#pragma once
/// A client connection to the MySQL/MariaDB source (libmariadb). Owns one MYSQL handle; not
/// thread-safe; one per thread. Errors become sluice::Error(kSource) whose message names the
/// config key to fix; network-level failures are marked retryable.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <mysql.h>

namespace sluice::mysql {

/// Connection settings, from the `source` section (Debezium property names).
struct ConnectionOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user;
  std::string password;
  std::string ssl_mode = "preferred";  ///< disabled|preferred|required|verify_ca|verify_identity
  std::string ssl_ca;                  ///< PEM CA file (database.ssl.ca)
  std::string ssl_cert;                ///< PEM client certificate (database.ssl.cert)
  std::string ssl_key;                 ///< PEM client key (database.ssl.key)
  std::string ssl_key_password;        ///< passphrase of ssl_key (database.ssl.key.password)
  std::string ssl_cipher;              ///< OpenSSL cipher list (database.ssl.cipher)
  std::string ssl_tls_versions;        ///< e.g. "TLSv1.2,TLSv1.3" (database.ssl.tls.versions)
  int connect_timeout_ms = 30000;
  int read_timeout_s = 0;  ///< 0: none (binlog streaming uses server heartbeats instead)
};

/// One row of a result: NULL is std::nullopt.
using Row = std::vector<std::optional<std::string>>;

/// A result fully read into memory (for small metadata queries).
struct ResultSet {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  int Col(std::string_view name) const;  ///< index of a column (case-insensitive) or -1
};

class Connection {
 public:
  explicit Connection(ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Connects; throws Error(kSource) naming host/port/user and what to do.
  void Connect();
  void Close();
  bool connected() const { return mysql_ != nullptr; }

  void Execute(const std::string& sql);
  ResultSet Query(const std::string& sql);
  /// Streams a (possibly large) result row by row without holding it in memory. The callback gets
  /// the raw MYSQL_ROW, the lengths and the field metadata.
  void QueryStream(const std::string& sql,
                   const std::function<void(MYSQL_ROW, const unsigned long*, MYSQL_FIELD*, unsigned)>& on_row);
  /// Returns the single value of a one-row, one-column query (nullopt for NULL or no row).
  std::optional<std::string> QueryValue(const std::string& sql);
  std::string Escape(std::string_view s);

  MYSQL* handle() { return mysql_; }
  const ConnectionOptions& options() const { return options_; }
  std::string ServerVersion() const;
  bool IsMariaDB() const;
  /// The TLS cipher of the connection, "" when it is not encrypted.
  std::string TlsCipher() const;

  /// Throws the Error describing the last failure of this handle, for `what` (e.g. the query).
  [[noreturn]] void Fail(const std::string& what);

 private:
  void ApplyTlsOptions();
  ConnectionOptions options_;
  MYSQL* mysql_ = nullptr;
};

/// Quotes an identifier with backquotes (doubling embedded backquotes).
std::string QuoteIdent(std::string_view name);

}  // namespace sluice::mysql
