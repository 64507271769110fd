#include "mysql/connection.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

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
  // require_secure_transport=ON: MySQL's ER_SECURE_TRANSPORT_REQUIRED (3159); MariaDB's number
  // differs between versions, its text does not.
  if (err == 3159 || msg.find("insecure transport") != std::string::npos) {
    throw Error(ErrorKind::kSource,
                fmt::format("MySQL at {} accepts only encrypted connections (require_secure_transport=ON) and this one "
                            "was not encrypted (source.database.ssl.mode is {}): {}. Set source.database.ssl.mode to "
                            "verify_ca (with source.database.ssl.ca, the PEM file of the CA that signed the server's "
                            "certificate), verify_identity or required.",
                            where, options_.ssl_mode, msg));
  }
  if (err == CR_SSL_CONNECTION_ERROR) {
    std::string hint;
    if (msg.find("verify") != std::string::npos || msg.find("certificate") != std::string::npos) {
      hint = options_.ssl_mode == "verify_identity"
                 ? fmt::format("the server's certificate must be signed by the CA in source.database.ssl.ca ('{}') "
                               "and name the host '{}' (subjectAltName); use verify_ca to check only the CA",
                               options_.ssl_ca, options_.host)
                 : fmt::format("the server's certificate must be signed by the CA in source.database.ssl.ca ('{}'); "
                               "give the CA that issued it",
                               options_.ssl_ca);
    } else {
      hint = "check the server's TLS setup and source.database.ssl.* (mode, ca, cert, key, tls.versions, cipher)";
    }
    throw Error(ErrorKind::kSource, fmt::format("TLS connection to MySQL at {} failed (source.database.ssl.mode {}): "
                                                "{}. {}.", where, options_.ssl_mode, msg, hint));
  }
  switch (err) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
      // MariaDB answers an unencrypted login under require_secure_transport=ON (or to a user
      // created REQUIRE SSL) with this same error.
      throw Error(ErrorKind::kSource,
                  fmt::format("MySQL at {} rejected user '{}': {}. Check source.database.user and "
                              "source.database.password (and that the user may connect from this host).{}",
                              where, options_.user, msg,
                              options_.ssl_mode == "disabled"
                                  ? " The connection was not encrypted (source.database.ssl.mode is disabled): if "
                                    "the server accepts only encrypted connections (require_secure_transport=ON, "
                                    "or the user REQUIRE SSL), set source.database.ssl.mode to verify_ca (with "
                                    "source.database.ssl.ca), verify_identity or required."
                                  : ""));
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
  ApplyTlsOptions();
  if (!mysql_real_connect(mysql_, options_.host.c_str(), options_.user.c_str(), options_.password.c_str(),
                          nullptr, static_cast<unsigned>(options_.port), nullptr, CLIENT_MULTI_RESULTS)) {
    Fail("connect");
  }
  const std::string& mode = options_.ssl_mode;
  if ((mode == "required" || mode == "verify_ca" || mode == "verify_identity") && TlsCipher().empty()) {
    const std::string where = fmt::format("{}:{}", options_.host, options_.port);
    Close();
    throw Error(ErrorKind::kSource,
                fmt::format("source.database.ssl.mode is {} but the connection to MySQL at {} is not encrypted: the "
                            "server does not offer TLS. Configure TLS on the server (ssl_cert, ssl_key, ssl_ca; "
                            "SHOW VARIABLES LIKE 'have_ssl' must say YES) or set source.database.ssl.mode to "
                            "preferred or disabled",
                            mode, where));
  }
  // Session settings every reader relies on: UTC for TIMESTAMP, exact values.
  Execute("SET time_zone = '+00:00'");
  Execute("SET NAMES utf8mb4");
}

void Connection::ApplyTlsOptions() {
  const ConnectionOptions& o = options_;
  const std::string& mode = o.ssl_mode;
  my_bool off = 0, on = 1;
  if (mode == "disabled") {
    mysql_optionsv(mysql_, MYSQL_OPT_SSL_ENFORCE, &off);
    return;
  }
  if (mode != "preferred" && mode != "required" && mode != "verify_ca" && mode != "verify_identity") {
    Throw(ErrorKind::kConfig, "source.database.ssl.mode is '{}'; use one of disabled, preferred, required, "
          "verify_ca, verify_identity", mode);
  }
  const bool verify = mode == "verify_ca" || mode == "verify_identity";
  if (verify && o.ssl_ca.empty()) {
    Throw(ErrorKind::kConfig, "source.database.ssl.mode {} verifies the server's certificate and needs "
          "source.database.ssl.ca: the PEM file of the CA that signed it", mode);
  }
  for (const auto& [key, path] : {std::pair<const char*, const std::string*>{"database.ssl.ca", &o.ssl_ca},
                                  {"database.ssl.cert", &o.ssl_cert}, {"database.ssl.key", &o.ssl_key}}) {
    if (!path->empty() && access(path->c_str(), R_OK) != 0) {
      Throw(ErrorKind::kConfig, "source.{}: cannot read '{}': {}; give the path of a readable PEM file", key, *path,
            std::strerror(errno));
    }
  }
  if (o.ssl_cert.empty() != o.ssl_key.empty()) {
    Throw(ErrorKind::kConfig, "source.database.ssl.cert and source.database.ssl.key go together (a client certificate "
          "and its private key); set both or neither");
  }
  // TLS whenever the server offers it; the modes past `preferred` check after connecting that
  // the session is encrypted (libmariadb falls back to plain text when the server has no TLS).
  mysql_optionsv(mysql_, MYSQL_OPT_SSL_ENFORCE, &on);
  // libmariadb verifies the chain against the CA when one is given, and the host name only with
  // MYSQL_OPT_SSL_VERIFY_SERVER_CERT.
  if (verify) mysql_optionsv(mysql_, MYSQL_OPT_SSL_CA, o.ssl_ca.c_str());
  if (!o.ssl_cert.empty()) {
    mysql_optionsv(mysql_, MYSQL_OPT_SSL_CERT, o.ssl_cert.c_str());
    mysql_optionsv(mysql_, MYSQL_OPT_SSL_KEY, o.ssl_key.c_str());
  }
  if (!o.ssl_key_password.empty()) mysql_optionsv(mysql_, MARIADB_OPT_TLS_PASSPHRASE, o.ssl_key_password.c_str());
  if (!o.ssl_cipher.empty()) mysql_optionsv(mysql_, MYSQL_OPT_SSL_CIPHER, o.ssl_cipher.c_str());
  if (!o.ssl_tls_versions.empty()) mysql_optionsv(mysql_, MARIADB_OPT_TLS_VERSION, o.ssl_tls_versions.c_str());
  my_bool identity = mode == "verify_identity" ? on : off;
  mysql_optionsv(mysql_, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &identity);
}

std::string Connection::TlsCipher() const {
  const char* c = mysql_ ? mysql_get_ssl_cipher(mysql_) : nullptr;
  return c ? c : "";
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
