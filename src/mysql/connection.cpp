#include "mysql/connection.h"

#include <algorithm>
#include <cctype>

#include <errmsg.h>
#include <mysqld_error.h>

#include "common/error.h"
#include "common/log.h"

namespace sluice::mysql {

int ResultSet::Col(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].size() == name.size() &&
        std::equal(name.begin(), name.end(), columns[i].begin(),
                   [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); })) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  out += '`';
  return out;
}

Connection::Connection(ConnectionOptions options) : options_(std::move(options)) {}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (mysql_) {
    mysql_close(mysql_);
    mysql_ = nullptr;
  }
}

void Connection::Fail(const std::string& what) {
  unsigned err = mysql_ ? mysql_errno(mysql_) : 0;
  std::string msg = mysql_ ? mysql_error(mysql_) : "no connection";
  const std::string where = fmt::format("{}:{}", options_.host, options_.port);
  switch (err) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
      throw Error(ErrorKind::kSource,
                  fmt::format("MySQL at {} rejected user '{}': {}. Check source.database.user and "
                              "source.database.password (and that the user may connect from this host).",
                              where, options_.user, msg));
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
      throw Error(ErrorKind::kSource,
                  fmt::format("MySQL at {}: user '{}' lacks a privilege for {}: {}. A CDC user needs: GRANT "
                              "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* "
                              "TO '{}'@'%';",
                              where, options_.user, what, msg, options_.user));
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case ER_SERVER_SHUTDOWN:
    case ER_CON_COUNT_ERROR:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
      throw Error(ErrorKind::kSource,
                  fmt::format("cannot reach MySQL at {} ({}): {}. Check source.database.hostname and "
                              "source.database.port, and that the server is running.",
                              where, what, msg),
                  /*retryable=*/true);
    default:
      throw Error(ErrorKind::kSource, fmt::format("MySQL at {}: {} failed: {} (error {})", where, what, msg, err));
  }
}

void Connection::Connect() {
  Close();
  mysql_ = mysql_init(nullptr);
  SLUICE_CHECK(mysql_ != nullptr, "mysql_init failed (out of memory)");
  unsigned timeout = static_cast<unsigned>(std::max(1, options_.connect_timeout_ms / 1000));
  mysql_optionsv(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (options_.read_timeout_s > 0) {
    unsigned rt = static_cast<unsigned>(options_.read_timeout_s);
    mysql_optionsv(mysql_, MYSQL_OPT_READ_TIMEOUT, &rt);
  }
  mysql_optionsv(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  my_bool off = 0, on = 1;
  if (options_.ssl_mode == "disabled") {
    mysql_optionsv(mysql_, MYSQL_OPT_SSL_ENFORCE, &off);
  } else if (options_.ssl_mode == "required" || options_.ssl_mode == "verify_ca" ||
             options_.ssl_mode == "verify_identity") {
    mysql_optionsv(mysql_, MYSQL_OPT_SSL_ENFORCE, &on);
    if (!options_.ssl_ca.empty()) mysql_optionsv(mysql_, MYSQL_OPT_SSL_CA, options_.ssl_ca.c_str());
    my_bool verify = options_.ssl_mode == "verify_identity" ? 1 : 0;
    mysql_optionsv(mysql_, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  } else {
    // preferred: TLS when the server offers it, never verify.
    mysql_optionsv(mysql_, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
  }
  if (!mysql_real_connect(mysql_, options_.host.c_str(), options_.user.c_str(), options_.password.c_str(),
                          nullptr, static_cast<unsigned>(options_.port), nullptr, CLIENT_MULTI_RESULTS)) {
    Fail("connect");
  }
  // Session settings every reader relies on: UTC for TIMESTAMP, exact values.
  Execute("SET time_zone = '+00:00'");
  Execute("SET NAMES utf8mb4");
}

void Connection::Execute(const std::string& sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) Fail(sql);
  // Drain any results.
  do {
    if (MYSQL_RES* r = mysql_store_result(mysql_)) mysql_free_result(r);
  } while (mysql_next_result(mysql_) == 0);
}

ResultSet Connection::Query(const std::string& sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) Fail(sql);
  ResultSet rs;
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (!res) {
    if (mysql_field_count(mysql_) != 0) Fail(sql);
    return rs;
  }
  unsigned n = mysql_num_fields(res);
  MYSQL_FIELD* fields = mysql_fetch_fields(res);
  for (unsigned i = 0; i < n; ++i) rs.columns.emplace_back(fields[i].name);
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* len = mysql_fetch_lengths(res);
    Row r(n);
    for (unsigned i = 0; i < n; ++i) {
      if (row[i]) r[i] = std::string(row[i], len[i]);
    }
    rs.rows.push_back(std::move(r));
  }
  mysql_free_result(res);
  while (mysql_next_result(mysql_) == 0) {
    if (MYSQL_RES* r = mysql_store_result(mysql_)) mysql_free_result(r);
  }
  return rs;
}

void Connection::QueryStream(const std::string& sql,
                             const std::function<void(MYSQL_ROW, const unsigned long*, MYSQL_FIELD*, unsigned)>& on_row) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) Fail(sql);
  MYSQL_RES* res = mysql_use_result(mysql_);
  if (!res) Fail(sql);
  unsigned n = mysql_num_fields(res);
  MYSQL_FIELD* fields = mysql_fetch_fields(res);
  try {
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      on_row(row, mysql_fetch_lengths(res), fields, n);
    }
  } catch (...) {
    mysql_free_result(res);
    throw;
  }
  bool failed = mysql_errno(mysql_) != 0;
  if (failed) Fail(sql);
  mysql_free_result(res);
}

std::optional<std::string> Connection::QueryValue(const std::string& sql) {
  ResultSet rs = Query(sql);
  if (rs.rows.empty() || rs.rows[0].empty()) return std::nullopt;
  return rs.rows[0][0];
}

std::string Connection::Escape(std::string_view s) {
  std::string out(s.size() * 2 + 1, '\0');
  unsigned long n = mysql_real_escape_string(mysql_, out.data(), s.data(), s.size());
  out.resize(n);
  return out;
}

std::string Connection::ServerVersion() const { return mysql_ ? mysql_get_server_info(mysql_) : ""; }

bool Connection::IsMariaDB() const {
  std::string v = ServerVersion();
  std::transform(v.begin(), v.end(), v.begin(), ::tolower);
  return v.find("mariadb") != std::string::npos;
}

}  // namespace sluice::mysql
