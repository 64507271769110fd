#include "clickhouse/client.h"

#include <charconv>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>
#include <zlib.h>

#include "clickhouse/ddl.h"
#include "common/log.h"

namespace sluice::clickhouse {
namespace {

size_t WriteToString(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

void GzipCompress(std::string_view in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    Throw(ErrorKind::kInternal, "deflateInit2 failed");
  }
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) Throw(ErrorKind::kInternal, "gzip compression failed ({})", rc);
  out.resize(zs.total_out);
}

bool IsAuthCode(int code) {
  return code == 192 || code == 193 || code == 194 || code == 195 || code == 516;
}

}  // namespace

std::string TrimStatement(std::string_view sql, size_t max) {
  if (sql.size() <= max) return std::string(sql);
  return std::string(sql.substr(0, max)) + "...";
}

int ParseExceptionCode(std::string_view body) {
  const size_t at = body.find("Code: ");
  if (at == std::string_view::npos) return -1;
  int code = -1;
  const char* p = body.data() + at + 6;
  auto [end, ec] = std::from_chars(p, body.data() + body.size(), code);
  return ec == std::errc() ? code : -1;
}

bool IsRetryableCode(int code) {
  switch (code) {
    case 3:     // UNEXPECTED_END_OF_FILE (body cut by the network)
    case 159:   // TIMEOUT_EXCEEDED
    case 164:   // READONLY (replica/server temporarily read-only)
    case 202:   // TOO_MANY_SIMULTANEOUS_QUERIES
    case 203:   // NO_FREE_CONNECTION
    case 209:   // SOCKET_TIMEOUT
    case 210:   // NETWORK_ERROR
    case 225:   // NO_ZOOKEEPER
    case 236:   // ABORTED
    case 241:   // MEMORY_LIMIT_EXCEEDED
    case 242:   // TABLE_IS_READ_ONLY
    case 244:   // UNEXPECTED_ZOOKEEPER_ERROR
    case 252:   // TOO_MANY_PARTS
    case 279:   // ALL_CONNECTION_TRIES_FAILED
    case 285:   // TOO_FEW_LIVE_REPLICAS
    case 286:   // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    case 319:   // UNKNOWN_STATUS_OF_INSERT
    case 394:   // QUERY_WAS_CANCELLED
    case 425:   // SYSTEM_ERROR
    case 439:   // CANNOT_SCHEDULE_TASK
    case 473:   // DEADLOCK_AVOIDED
    case 999:   // KEEPER_EXCEPTION
    case 1000:  // POCO_EXCEPTION (mostly network)
      return true;
    default:
      return false;
  }
}

Error MakeHttpError(long status, std::string_view body, std::string_view statement, std::string_view endpoint,
                    std::string_view username) {
  std::string text(body);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() > 2000) text = text.substr(0, 2000) + "...";
  const int code = ParseExceptionCode(body);
  if (IsAuthCode(code) || (code < 0 && (status == 401 || status == 403))) {
    return Error(ErrorKind::kSink,
                 fmt::format("ClickHouse at {} refused user '{}': {} (HTTP {}). Check sink.username and "
                             "sink.password (and that the user may connect from this host)",
                             endpoint, username, text, status));
  }
  const bool retryable = code >= 0 ? IsRetryableCode(code) : status >= 500;
  return Error(ErrorKind::kSink,
               fmt::format("ClickHouse at {} failed (HTTP {}{}): {}\n  statement: {}", endpoint, status,
                           retryable ? ", will retry" : "", text.empty() ? "(empty answer)" : text,
                           TrimStatement(statement)),
               retryable);
}

ClickHouseClient::ClickHouseClient(ClientOptions options) : options_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* c = curl_easy_init();
  if (!c) Throw(ErrorKind::kInternal, "curl_easy_init failed");
  curl_ = c;
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteToString);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response_);
}

ClickHouseClient::~ClickHouseClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string ClickHouseClient::Endpoint() const {
  return fmt::format("{}://{}:{}", options_.ssl ? "https" : "http", options_.hostname, options_.port);
}

std::string ClickHouseClient::Post(const QuerySettings& params, std::string_view body, std::string_view statement) {
  CURL* c = static_cast<CURL*>(curl_);
  std::string url = Endpoint() + "/?";
  bool first = true;
  auto add_param = [&](std::string_view k, std::string_view v) {
    char* ek = curl_easy_escape(c, k.data(), static_cast<int>(k.size()));
    char* ev = curl_easy_escape(c, v.data(), static_cast<int>(v.size()));
    if (!first) url += '&';
    first = false;
    url += ek;
    url += '=';
    url += ev;
    curl_free(ek);
    curl_free(ev);
  };
  if (!options_.database.empty()) add_param("database", options_.database);
  for (const auto& [k, v] : params) add_param(k, v);

  std::string_view payload = body;
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip on large bodies
  headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  if (options_.gzip && body.size() > 512) {
    GzipCompress(body, compressed_);
    payload = compressed_;
    headers = curl_slist_append(headers, "Content-Encoding: gzip");
  }
  response_.clear();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    throw Error(ErrorKind::kSink,
                fmt::format("cannot reach ClickHouse at {} ({}); check sink.hostname/sink.port and that the "
                            "server is up\n  statement: {}",
                            Endpoint(), curl_easy_strerror(rc), TrimStatement(statement)),
                true);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) throw MakeHttpError(status, response_, statement, Endpoint(), options_.username);
  return std::move(response_);
}

std::string ClickHouseClient::Query(std::string_view sql, const QuerySettings& settings) {
  SLOG_DEBUG("clickhouse: {}", TrimStatement(sql, 500));
  return Post(settings, sql, sql);
}

void ClickHouseClient::InsertRowBinary(std::string_view database, std::string_view table,
                                       const std::vector<std::string>& columns, std::string_view rows,
                                       const QuerySettings& settings) {
  Insert(database, table, columns, "RowBinary", rows, settings);
}

void ClickHouseClient::Insert(std::string_view database, std::string_view table,
                              const std::vector<std::string>& columns, std::string_view format, std::string_view rows,
                              const QuerySettings& settings) {
  std::string sql = "INSERT INTO " + QuoteIdent(database) + "." + QuoteIdent(table) + " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) sql += ", ";
    sql += columns[i];
  }
  sql += ") FORMAT ";
  sql += format;
  QuerySettings params;
  params.reserve(settings.size() + 1);
  params.emplace_back("query", sql);
  params.insert(params.end(), settings.begin(), settings.end());
  Post(params, rows, sql);
}

const ServerFeatures& ClickHouseClient::Features() {
  if (!features_) {
    const ServerVersion v = ServerVersion::Parse(Query("SELECT version()"));
    ServerFeatures f = ServerFeatures::ForVersion(v);
    const std::string n =
        Query("SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token' FORMAT TSV");
    f.insert_dedup_token = !n.empty() && n[0] == '1';
    features_ = f;
    SLOG_INFO("clickhouse: connected to {} (version {})", Endpoint(), v.ToString());
  }
  return *features_;
}

}  // namespace sluice::clickhouse
