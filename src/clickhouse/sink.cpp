#include "clickhouse/sink.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "common/crash_point.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"

namespace sluice::clickhouse {

struct ClickHouseSink::Table {
  std::shared_ptr<const TableSchema> schema;  // the source shape the ClickHouse table matches
  const TableSchema* last_seen = nullptr;     // schema object of the last chunk (fast path)
  std::string db, name;
  std::vector<ColumnType> types;
  std::vector<int> key_columns;
  std::vector<std::string> insert_columns;
  std::unique_ptr<RowBinaryEncoder> encoder;
  bool native = false;  // INSERT ... FORMAT Native (one block per chunk), else RowBinary
  std::unique_ptr<ChangeChunk> pending;  // native: rows of small chunks, not yet a block in `buffer`
  std::string buffer;
  std::vector<size_t> row_starts;  // only with errors.tolerance = all (for bisection)
  size_t rows = 0;
  Clock::time_point first_row_at;
  int64_t newest_ts_ms = 0;  // source commit time of the newest buffered row
  // Metrics of the ClickHouse table (looked up once; updated per chunk and per INSERT).
  metrics::Counter* rows_total = nullptr;
  metrics::Counter* bytes_total = nullptr;
  metrics::Counter* inserts_total = nullptr;
  metrics::Histogram* batch_rows = nullptr;
  metrics::Histogram* insert_seconds = nullptr;
  metrics::Gauge* oldest_pending_ts = nullptr;
  metrics::Gauge* last_acked_ts = nullptr;
};

namespace {

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// ClickHouse error codes that mean "this data cannot go in" (bisected into the dead-letter table).
bool IsDataErrorCode(int code) {
  switch (code) {
    case 6: case 27: case 32: case 33: case 38: case 41: case 53: case 69: case 70: case 72:
    case 117: case 131: case 349: case 407: case 469:
      return true;
    default:
      return false;
  }
}

std::string UnescapeTsv(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[++i];
      switch (c) {
        case 't': out.push_back('\t'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case '0': out.push_back('\0'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        default: out.push_back(c); break;
      }
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool SameShape(const TableSchema& a, const TableSchema& b) {
  if (a.columns.size() != b.columns.size() || a.primary_key != b.primary_key) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const ColumnSchema& x = a.columns[i];
    const ColumnSchema& y = b.columns[i];
    if (x.name != y.name || x.kind != y.kind || x.nullable != y.nullable || x.column_type != y.column_type ||
        x.precision != y.precision || x.scale != y.scale || x.fsp != y.fsp || x.is_unsigned != y.is_unsigned ||
        x.mysql_type != y.mysql_type) {
      return false;
    }
  }
  return true;
}

const std::string* FindActual(const std::vector<std::pair<std::string, std::string>>& cols, std::string_view name) {
  for (const auto& [n, t] : cols) {
    if (n == name) return &t;
  }
  return nullptr;
}

// Native: a chunk with fewer rows is gathered with others into one block (a block repeats every
// column's name and type, and ClickHouse parses the type names of each block).
constexpr size_t kNativeMinBlockRows = 1024;

int64_t MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
}

metrics::Counter& RetriesTotal() {
  static metrics::Counter& c = metrics::Default().GetCounter(
      "sluice_sink_retries_total", "ClickHouse requests retried after a retryable error (network, 5xx, timeouts)");
  return c;
}

metrics::Counter& DlqRowsTotal() {
  static metrics::Counter& c = metrics::Default().GetCounter(
      "sluice_sink_dlq_rows_total", "rows written to the dead-letter table (errors.tolerance all)");
  return c;
}

}  // namespace

uint64_t StableHash64(std::string_view data) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ data.size();
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    h ^= w * 0xBF58476D1CE4E5B9ull;
    h = ((h << 31) | (h >> 33)) * 0x94D049BB133111EBull;
  }
  for (; i < data.size(); ++i) h = (h ^ static_cast<uint8_t>(data[i])) * 0x100000001B3ull;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return h;
}

std::string DescribeSchemas(const std::vector<std::pair<std::string, std::string>>& expected,
                            const std::vector<std::pair<std::string, std::string>>& actual) {
  size_t w = 6;
  for (const auto& [n, t] : expected) w = std::max(w, n.size());
  for (const auto& [n, t] : actual) w = std::max(w, n.size());
  size_t wt = 22;
  for (const auto& [n, t] : expected) wt = std::max(wt, t.size());
  std::string s = fmt::format("    {:<{}}  {:<{}}  {}\n", "column", w, "expected (from source)", wt, "in ClickHouse");
  for (const auto& [n, t] : expected) {
    const std::string* a = FindActual(actual, n);
    s += fmt::format("  {} {:<{}}  {:<{}}  {}\n", (a && *a == t) ? ' ' : '*', n, w, t, wt, a ? *a : "(missing)");
  }
  for (const auto& [n, t] : actual) {
    bool known = false;
    for (const auto& e : expected) known |= e.first == n;
    if (!known) s += fmt::format("    {:<{}}  {:<{}}  {}\n", n, w, "(not in source)", wt, t);
  }
  return s;
}

ClickHouseSink::ClickHouseSink(SinkOptions options) : options_(std::move(options)) {
  ClientOptions co = options_.client;
  co.gzip = options_.compression == "gzip" || (options_.compression == "auto" && !IsLoopback(co.hostname));
  client_ = std::make_unique<ClickHouseClient>(co);
  ctx_.cluster = options_.cluster;
}

ClickHouseSink::~ClickHouseSink() = default;

template <typename F>
void ClickHouseSink::WithRetry(const std::string& what, F&& f) {
  const auto start = Clock::now();
  int64_t backoff = std::max<int64_t>(1, options_.retry_backoff_ms);
  for (int attempt = 1;; ++attempt) {
    try {
      f();
      return;
    } catch (const Error& e) {
      if (!e.retryable()) throw;
      const int64_t elapsed = MsSince(start);
      if (options_.retry_max_ms >= 0 && elapsed + backoff > options_.retry_max_ms) {
        throw Error(ErrorKind::kSink,
                    fmt::format("{}: still failing after {} attempts in {} ms (sink.retry.max.ms = {}): {}", what,
                                attempt, elapsed, options_.retry_max_ms, e.what()),
                    true);
      }
      SLOG_WARN("clickhouse: {} failed (attempt {}), retrying in {} ms: {}", what, attempt, backoff, e.what());
      metrics::RecordError("sink", fmt::format("{} failed (attempt {}): {}", what, attempt, e.what()));
      ++stats_.retries;
      RetriesTotal().Inc();
      for (int64_t slept = 0; slept < backoff; slept += 50) {
        if (cancel_ && cancel_->load()) {
          throw Error(ErrorKind::kSink, fmt::format("{}: stopped retrying because a shutdown was requested: {}", what,
                                                    e.what()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, backoff - slept)));
      }
      backoff = std::min(backoff * 2, std::max<int64_t>(backoff, options_.retry_backoff_max_ms));
    }
  }
}

void ClickHouseSink::Connect() {
  if (connected_) return;
  ctx_.features = client_->Features();
  EnsureDatabase(options_.database);
  connected_ = true;
}

const ServerFeatures& ClickHouseSink::features() {
  Connect();
  return ctx_.features;
}

void ClickHouseSink::EnsureDatabase(const std::string& db) {
  if (std::find(created_databases_.begin(), created_databases_.end(), db) != created_databases_.end()) return;
  std::string n;
  WithRetry("check database", [&] {
    n = client_->Query("SELECT count() FROM system.databases WHERE name = " + QuoteString(db) + " FORMAT TSV");
  });
  if (n.empty() || n[0] == '0') {
    try {
      WithRetry("create database", [&] { client_->Query(CreateDatabaseSql(db, ctx_)); });
      SLOG_INFO("clickhouse: created database {}", db);
    } catch (const Error& e) {
      if (e.retryable()) throw;
      throw Error(ErrorKind::kSink,
                  fmt::format("cannot create ClickHouse database `{}` (sink.database): {}\n  Create it, or grant "
                              "CREATE DATABASE to user '{}'",
                              db, e.what(), options_.client.username));
    }
  }
  created_databases_.push_back(db);
}

std::pair<std::string, std::string> ClickHouseSink::TargetOf(const TableSchema& schema) const {
  const TableOverride& ov = options_.OverrideFor(schema);
  return {ov.database.empty() ? options_.database : ov.database, ov.table.empty() ? schema.table : ov.table};
}

std::vector<std::pair<std::string, std::string>> ClickHouseSink::ReadColumns(const std::string& db,
                                                                             const std::string& table) {
  std::string body;
  WithRetry("read system.columns", [&] {
    body = client_->Query("SELECT name, type FROM system.columns WHERE database = " + QuoteString(db) +
                          " AND table = " + QuoteString(table) + " FORMAT TSV");
  });
  std::vector<std::pair<std::string, std::string>> cols;
  size_t start = 0;
  while (start < body.size()) {
    size_t nl = body.find('\n', start);
    if (nl == std::string::npos) nl = body.size();
    const std::string_view line(body.data() + start, nl - start);
    const size_t tab = line.find('\t');
    if (tab != std::string_view::npos) {
      cols.emplace_back(UnescapeTsv(line.substr(0, tab)), UnescapeTsv(line.substr(tab + 1)));
    }
    start = nl + 1;
  }
  return cols;
}

namespace {
std::string SourceLabel(const TableSchema& s) { return s.database.empty() ? "view " + s.table : s.QualifiedName(); }
}  // namespace

void ClickHouseSink::ClaimTarget(const TableSchema& schema, const std::string& db, const std::string& name) {
  const bool mapped = !options_.OverrideFor(schema).table.empty();
  auto [it, fresh] = targets_.try_emplace({db, name}, SourceLabel(schema), mapped);
  if (fresh || it->second.first == SourceLabel(schema)) return;
  if (it->second.second && mapped) return;  // both sent to this table by the config: merged on purpose
  const std::string other = it->second.first;
  // The suggestion maps a captured table ("db.table", never a view: sink.tables."<name>" would
  // also match a captured table of that name), this one unless this one is a view.
  const std::string table = schema.database.empty() ? other : schema.QualifiedName();
  std::string suggest = table;
  std::replace(suggest.begin(), suggest.end(), '.', '_');
  Throw(ErrorKind::kConfig,
        "{} and {} would both be written to ClickHouse table {}.{} (a captured table or view keeps its name in "
        "sink.database, without its source database), where their rows would overwrite each other: give one its own "
        "table, e.g. sink.tables.\"{}\".table: {}{} (to merge tables on purpose, set sink.tables.<t>.table for each)",
        other, SourceLabel(schema), db, name, table, suggest,
        schema.database.empty() || other.starts_with("view ") ? ", or rename the view" : "");
}

void ClickHouseSink::EnsureTable(const TableSchema& schema) {
  Connect();
  auto existing = tables_.find(schema.QualifiedName());
  if (existing != tables_.end() && existing->second->rows > 0) FlushTable(*existing->second);

  const TableOverride& ov = options_.OverrideFor(schema);
  const std::string key = SinkOptions::OverrideKey(schema);
  auto t = std::make_unique<Table>();
  std::tie(t->db, t->name) = TargetOf(schema);
  ClaimTarget(schema, t->db, t->name);
  for (const auto& c : schema.columns) {
    if (c.name != "_version" && c.name != "_is_deleted") continue;
    auto escape = [](const std::string& s) {
      std::string r;
      for (char ch : s) {
        if (std::strchr(".\\^$|()[]{}*+?", ch)) r += '\\';
        r += ch;
      }
      return r;
    };
    Throw(ErrorKind::kConfig,
          "{} has a column named {}, which sluice adds to every ClickHouse table (the row version and delete marker "
          "of ReplacingMergeTree): {}",
          SourceLabel(schema), c.name,
          schema.database.empty()
              ? fmt::format("name the view's column differently (AS another_name)")
              : fmt::format("leave it out with source.column.exclude.list: {}\\.{}\\.{}", escape(schema.database),
                            escape(schema.table), escape(c.name)));
  }
  if (t->db != options_.database) EnsureDatabase(t->db);
  t->schema = std::make_shared<const TableSchema>(schema);
  for (const auto& c : schema.columns) t->types.push_back(MapColumnType(c, ctx_.features));
  const std::string order_by = OrderByExpression(schema, ov, ctx_, key);  // validates the key
  t->key_columns = KeyColumns(schema, ov);

  auto actual = ReadColumns(t->db, t->name);
  if (actual.empty()) {
    const std::string sql = CreateTableSql(schema, t->types, t->db, t->name, ov, ctx_, key);
    WithRetry("create table", [&] { client_->Query(sql); });
    SLOG_INFO("clickhouse: created table {}.{} for {} (ORDER BY {})", t->db, t->name, schema.QualifiedName(), order_by);
  } else {
    std::vector<size_t> missing, mismatched;
    for (size_t i = 0; i < schema.columns.size(); ++i) {
      const std::string* a = FindActual(actual, schema.columns[i].name);
      if (!a) {
        missing.push_back(i);
      } else if (!AdaptToExistingType(t->types[i], *a)) {
        mismatched.push_back(i);
      }
    }
    const std::string* ver = FindActual(actual, "_version");
    const std::string* del = FindActual(actual, "_is_deleted");
    const bool meta_ok = ver && *ver == "UInt64" && del && *del == "UInt8";
    if (!missing.empty() || !mismatched.empty() || !meta_ok) {
      if (options_.auto_evolve && meta_ok) {
        const std::string alter = "ALTER TABLE " + QuoteIdent(t->db) + "." + QuoteIdent(t->name) +
                                  (ctx_.cluster.empty() ? "" : " ON CLUSTER " + QuoteIdent(ctx_.cluster)) + " ";
        for (size_t i : missing) {
          const std::string sql = alter + "ADD COLUMN " + QuoteIdent(schema.columns[i].name) + " " + t->types[i].Full();
          WithRetry("alter table", [&] { client_->Query(sql); });
        }
        for (size_t i : mismatched) {
          t->types[i] = MapColumnType(schema.columns[i], ctx_.features);
          const std::string sql = alter + "MODIFY COLUMN " + QuoteIdent(schema.columns[i].name) + " " + t->types[i].Full();
          WithRetry("alter table", [&] { client_->Query(sql); });
        }
        SLOG_INFO("clickhouse: evolved {}.{}: {} column(s) added, {} modified (auto.evolve)", t->db, t->name,
                  missing.size(), mismatched.size());
      } else {
        std::vector<std::pair<std::string, std::string>> expected;
        for (const auto& c : schema.columns) expected.emplace_back(c.name, MapColumnType(c, ctx_.features).Full());
        expected.emplace_back("_version", "UInt64");
        expected.emplace_back("_is_deleted", "UInt8");
        throw Error(ErrorKind::kSink,
                    fmt::format("ClickHouse table {}.{} does not match source table {} (* marks the differences):\n{}"
                                "  Set sink.auto.evolve: true to let Sluice add/modify the columns{}, or drop the "
                                "table so that Sluice creates it.",
                                t->db, t->name, schema.QualifiedName(), DescribeSchemas(expected, actual),
                                meta_ok ? "" : " (it cannot add _version/_is_deleted: the engine must use them)"));
      }
    }
  }
  {
    // Per ClickHouse table; the graph edge is source table (or view) -> ClickHouse table.
    auto& reg = metrics::Default();
    const metrics::Labels l = {{"table", t->db + "." + t->name}};
    t->rows_total = &reg.GetCounter("sluice_sink_rows_total", "rows acknowledged by ClickHouse (deletes included)", l);
    t->bytes_total = &reg.GetCounter("sluice_sink_bytes_total",
                                     "INSERT body bytes (Native or RowBinary) acknowledged by ClickHouse", l);
    t->inserts_total = &reg.GetCounter("sluice_sink_inserts_total", "INSERT requests acknowledged by ClickHouse", l);
    t->batch_rows = &reg.GetHistogram("sluice_sink_insert_rows", "rows per INSERT",
                                      metrics::ExponentialBuckets(1, 10, 7), l);
    t->insert_seconds = &reg.GetHistogram("sluice_sink_insert_seconds",
                                          "seconds from sending an INSERT until ClickHouse acknowledged it, retries included",
                                          metrics::ExponentialBuckets(0.001, 4, 10), l);
    t->oldest_pending_ts = &reg.GetGauge("sluice_sink_oldest_pending_timestamp_seconds",
                                         "source commit time of the oldest buffered row not yet inserted (0: none)", l);
    t->last_acked_ts = &reg.GetGauge("sluice_sink_last_commit_timestamp_seconds",
                                     "source commit time of the newest row acknowledged by ClickHouse", l);
    const bool view = schema.database.empty();  // views' output schemas have no database
    metrics::Graph().AddEdge({{view ? "view" : "source", view ? schema.table : schema.QualifiedName()},
                              {"clickhouse", t->db + "." + t->name},
                              t->rows_total,
                              t->oldest_pending_ts});
    t->oldest_pending_ts->Set(0);  // rows of an earlier Table object were inserted or dropped
  }
  for (const auto& c : schema.columns) t->insert_columns.push_back(QuoteIdent(c.name));
  t->insert_columns.push_back("`_version`");
  t->insert_columns.push_back("`_is_deleted`");
  // Native needs the exact type names and has no row boundaries: RowBinary when rows may be bisected
  // (errors.tolerance = all) or a column is LowCardinality (its Native form is a dictionary).
  t->native = options_.insert_format == InsertFormat::kNative && options_.errors_tolerance == ErrorsTolerance::kNone;
  for (const auto& ct : t->types) t->native &= ct.base.find("LowCardinality") == std::string::npos;
  std::vector<std::string> names;
  for (const auto& c : schema.columns) names.push_back(c.name);
  t->encoder = std::make_unique<RowBinaryEncoder>(t->types, t->key_columns, std::move(names));
  tables_[schema.QualifiedName()] = std::move(t);
}

ClickHouseSink::Table& ClickHouseSink::StateFor(const TableSchema& schema) {
  auto it = tables_.find(schema.QualifiedName());
  if (it == tables_.end()) {
    EnsureTable(schema);
    it = tables_.find(schema.QualifiedName());
  }
  return *it->second;
}

void ClickHouseSink::WaitForMutations(const std::string& db, const std::string& table) {
  const auto start = Clock::now();
  for (;;) {
    std::string n;
    WithRetry("wait for mutations", [&] {
      n = client_->Query("SELECT count() FROM system.mutations WHERE database = " + QuoteString(db) +
                         " AND table = " + QuoteString(table) + " AND is_done = 0 FORMAT TSV");
    });
    if (n.empty() || n[0] == '0') return;
    if (MsSince(start) > options_.client.request_timeout_ms) {
      Throw(ErrorKind::kSink, "mutation on {}.{} not done after {} ms; see system.mutations", db, table,
            options_.client.request_timeout_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void ClickHouseSink::Truncate(const TableSchema& schema) {
  Connect();
  auto it = tables_.find(schema.QualifiedName());
  if (it != tables_.end()) FlushTable(*it->second);
  const auto [db, name] = TargetOf(schema);
  if (ReadColumns(db, name).empty()) return;
  const std::string sql = "TRUNCATE TABLE " + QuoteIdent(db) + "." + QuoteIdent(name) +
                          (ctx_.cluster.empty() ? "" : " ON CLUSTER " + QuoteIdent(ctx_.cluster));
  WithRetry("truncate " + db + "." + name, [&] { client_->Query(sql); });
  SLOG_INFO("clickhouse: truncated {}.{} (TRUNCATE TABLE {} in the source)", db, name, schema.QualifiedName());
}

void ClickHouseSink::TruncateBelow(const TableSchema& schema, uint64_t version) {
  Connect();
  auto it = tables_.find(schema.QualifiedName());
  if (it != tables_.end()) FlushTable(*it->second);
  const auto [db, name] = TargetOf(schema);
  const auto cols = ReadColumns(db, name);
  if (cols.empty()) return;
  std::string list;
  bool versioned = false, deletable = false;
  for (const auto& [c, type] : cols) {
    if (c == "_version") {
      versioned = true;
    } else if (c == "_is_deleted") {
      deletable = true;
    } else {
      list += (list.empty() ? "" : ", ") + QuoteIdent(c);
    }
  }
  const std::string table = QuoteIdent(db) + "." + QuoteIdent(name);
  if (!versioned || !deletable) {
    SLOG_WARN("clickhouse: TRUNCATE of {} not applied to {}.{}: the table has no _version/_is_deleted columns",
              schema.QualifiedName(), db, name);
    return;
  }
  const std::string v = std::to_string(version);
  const std::string sql = "INSERT INTO " + table + " (" + list + ", _version, _is_deleted) SELECT " + list +
                          ", toUInt64(" + v + "), toUInt8(1) FROM " + table + " FINAL WHERE _version < " + v +
                          " AND _is_deleted = 0";
  WithRetry("truncate " + db + "." + name, [&] { client_->Query(sql); });
  SLOG_INFO("clickhouse: truncated {}.{} below version {} (TRUNCATE TABLE {} in the source)", db, name, version,
            schema.QualifiedName());
}

void ClickHouseSink::ResetTable(const TableSchema& schema) {
  Connect();
  tables_.erase(schema.QualifiedName());
  const auto [db, name] = TargetOf(schema);
  const std::string sql = "DROP TABLE IF EXISTS " + QuoteIdent(db) + "." + QuoteIdent(name) +
                          (ctx_.cluster.empty() ? "" : " ON CLUSTER " + QuoteIdent(ctx_.cluster));
  WithRetry("drop " + db + "." + name, [&] { client_->Query(sql); });
  SLOG_INFO("clickhouse: dropped {}.{} to rebuild view {}", db, name, schema.table);
  EnsureTable(schema);
}

void ClickHouseSink::RenameTable(const TableSchema& old_schema, const TableSchema& new_schema) {
  Connect();
  auto it = tables_.find(old_schema.QualifiedName());
  if (it != tables_.end()) {
    FlushTable(*it->second);
    tables_.erase(it);
  }
  const auto [odb, oname] = TargetOf(old_schema);
  const auto [ndb, nname] = TargetOf(new_schema);
  auto owner = targets_.find({odb, oname});
  if (owner != targets_.end() && owner->second.first == SourceLabel(old_schema)) targets_.erase(owner);
  if (!ReadColumns(odb, oname).empty() && ReadColumns(ndb, nname).empty()) {
    EnsureDatabase(ndb);
    const std::string sql = "RENAME TABLE " + QuoteIdent(odb) + "." + QuoteIdent(oname) + " TO " + QuoteIdent(ndb) +
                            "." + QuoteIdent(nname) +
                            (ctx_.cluster.empty() ? "" : " ON CLUSTER " + QuoteIdent(ctx_.cluster));
    WithRetry("rename " + odb + "." + oname, [&] { client_->Query(sql); });
    SLOG_INFO("clickhouse: renamed {}.{} to {}.{} (RENAME TABLE in the source)", odb, oname, ndb, nname);
  }
  EnsureTable(new_schema);
}

void ClickHouseSink::ApplySchemaChange(const TableSchema& old_schema, const TableSchema& new_schema,
                                       const std::map<std::string, std::string>& renames) {
  Connect();
  auto it = tables_.find(old_schema.QualifiedName());
  if (it != tables_.end()) FlushTable(*it->second);
  WriteDeadLetters();
  const auto [db, name] = TargetOf(new_schema);
  auto actual = ReadColumns(db, name);
  if (actual.empty()) {  // nothing there yet: create it in the new shape
    tables_.erase(old_schema.QualifiedName());
    EnsureTable(new_schema);
    return;
  }
  const std::vector<int> old_key = KeyColumns(old_schema, options_.OverrideFor(old_schema));
  const auto steps = AlterTableSteps(old_schema, new_schema, db, name, old_key, ctx_, renames);
  auto has = [&](const std::string& col) -> std::string* {
    for (auto& [n, t] : actual) {
      if (n == col) return &t;
    }
    return nullptr;
  };
  using K = DdlStep::Kind;
  for (const DdlStep& s : steps) {
    bool skip = false;
    switch (s.kind) {
      case K::kRename: skip = !has(s.from_column) && has(s.column); break;
      case K::kAdd: skip = has(s.column) != nullptr; break;
      case K::kUpdate: skip = !has(s.from_column); break;
      case K::kDrop: skip = !has(s.column); break;
      case K::kModify: skip = has(s.column) && *has(s.column) == s.type; break;
    }
    if (skip) {
      SLOG_INFO("clickhouse: {}.{} already reflects: {}", db, name, TrimStatement(s.sql, 200));
      continue;
    }
    WithRetry("alter table", [&] { client_->Query(s.sql); });
    SLOG_INFO("clickhouse: {}", TrimStatement(s.sql, 500));
    switch (s.kind) {
      case K::kRename: *std::find_if(actual.begin(), actual.end(), [&](auto& p) { return p.first == s.from_column; }) =
                           {s.column, *has(s.from_column)};
        break;
      case K::kAdd: actual.emplace_back(s.column, s.type); break;
      case K::kUpdate: break;
      case K::kDrop: std::erase_if(actual, [&](auto& p) { return p.first == s.column; }); break;
      case K::kModify: *has(s.column) = s.type; break;
    }
    if (s.wait_mutations) WaitForMutations(db, name);
  }
  tables_.erase(old_schema.QualifiedName());
  EnsureTable(new_schema);
}

void ClickHouseSink::Write(const ChangeChunk& chunk) {
  if (chunk.empty()) return;
  SLUICE_CHECK(chunk.schema() != nullptr, "chunk without schema");
  Table* t = &StateFor(*chunk.schema());
  if (t->last_seen != chunk.schema().get()) {
    if (!SameShape(*t->schema, *chunk.schema())) {
      const std::shared_ptr<const TableSchema> old = t->schema;
      ApplySchemaChange(*old, *chunk.schema());
      t = &StateFor(*chunk.schema());
    }
    t->last_seen = chunk.schema().get();
  }
  const bool tolerate = options_.errors_tolerance == ErrorsTolerance::kAll;
  // A bulk load (the buffer is past 1 MiB): reserve the whole batch once instead of growing by
  // doubling (each step copies the buffer and faults in fresh pages). The batch ends after the
  // chunk that crosses batch.max.bytes, hence the room for half a batch more. Pages not written
  // are never touched; the capacity is kept for the next batches (as it was before).
  if (t->buffer.size() >= (1u << 20) && t->buffer.capacity() < options_.batch_max_bytes) {
    t->buffer.reserve(options_.batch_max_bytes + options_.batch_max_bytes / 2);
  }
  std::vector<RejectedRow> rejected;
  size_t n = 0;
  if (!t->native) {
    n = t->encoder->Encode(chunk, t->buffer, tolerate ? &t->row_starts : nullptr, tolerate ? &rejected : nullptr);
  } else if (chunk.size() >= kNativeMinBlockRows) {
    EncodePending(*t);  // keeps the rows in order
    n = t->encoder->EncodeNative(chunk, t->buffer);
  } else {
    if (!t->pending) t->pending = std::make_unique<ChangeChunk>(chunk.schema());
    n = t->encoder->AppendSelected(chunk, *t->pending);
    if (t->pending->size() >= kNativeMinBlockRows) EncodePending(*t);
  }
  for (auto& r : rejected) {
    SLOG_WARN("clickhouse: row to dead-letter table: {}", r.error);
    dead_letters_.push_back({chunk.schema()->QualifiedName(), t->db + "." + t->name, std::move(r.error), "", r.version});
  }
  if (n > 0 && t->rows == 0) {
    t->first_row_at = Clock::now();
    t->oldest_pending_ts->Set(static_cast<double>(chunk.source(0).ts_ms) / 1000.0);
  }
  if (n > 0) t->newest_ts_ms = std::max(t->newest_ts_ms, chunk.source(chunk.size() - 1).ts_ms);
  t->rows += n;
  if (t->rows >= options_.batch_max_rows || t->buffer.size() >= options_.batch_max_bytes) FlushTable(*t);
}

bool ClickHouseSink::FlushDue() const {
  if (!dead_letters_.empty()) return true;
  for (const auto& [k, t] : tables_) {
    if (t->rows > 0 && MsSince(t->first_row_at) >= options_.batch_max_delay_ms) return true;
  }
  return false;
}

void ClickHouseSink::Flush() {
  for (auto& [k, t] : tables_) FlushTable(*t);
  WriteDeadLetters();
}

size_t ClickHouseSink::BufferedRows() const {
  size_t n = 0;
  for (const auto& [k, t] : tables_) n += t->rows;
  return n;
}

size_t ClickHouseSink::BufferedBytes() const {
  size_t n = 0;
  for (const auto& [k, t] : tables_) n += t->buffer.size() + (t->pending ? t->pending->ByteSize() : 0);
  return n;
}

void ClickHouseSink::EncodePending(Table& t) {
  if (!t.pending || t.pending->empty()) return;
  t.encoder->EncodeNative(*t.pending, t.buffer);
  t.pending.reset();
}

void ClickHouseSink::InsertRange(Table& t, size_t lo, size_t hi) {
  std::string_view body = t.buffer;
  if (!t.row_starts.empty()) {
    const size_t b = t.row_starts[lo];
    const size_t e = hi < t.row_starts.size() ? t.row_starts[hi] : t.buffer.size();
    body = body.substr(b, e - b);
  }
  QuerySettings settings;
  if (ctx_.features.insert_dedup_token) {
    settings.emplace_back("insert_deduplication_token",
                          fmt::format("sluice-{}-{:016x}-{}", t.name, StableHash64(body), hi - lo));
  }
  const auto started = Clock::now();
  WithRetry(fmt::format("insert {} rows into {}.{}", hi - lo, t.db, t.name), [&] {
    try {
      client_->Insert(t.db, t.name, t.insert_columns, t.native ? "Native" : "RowBinary", body, settings);
    } catch (const Error& e) {
      // UNKNOWN_TABLE / UNKNOWN_DATABASE: a server shutting down answers so while it detaches its
      // tables (seen on 18.16), and a table dropped by hand is gone for good. Create it again (IF NOT
      // EXISTS: a no-op when it is there) and insert; a server on its way down fails that with a
      // retryable error, and the retry finds the table again once it is back.
      const int code = ParseExceptionCode(e.what());
      if (e.retryable() || (code != 60 && code != 81)) throw;
      SLOG_WARN("clickhouse: {}.{} is missing (dropped, or the server is shutting down); creating it again: {}", t.db,
                t.name, e.what());
      const TableOverride& ov = options_.OverrideFor(*t.schema);
      client_->Query(CreateDatabaseSql(t.db, ctx_));
      client_->Query(CreateTableSql(*t.schema, t.types, t.db, t.name, ov, ctx_, SinkOptions::OverrideKey(*t.schema)));
      client_->Insert(t.db, t.name, t.insert_columns, t.native ? "Native" : "RowBinary", body, settings);
    }
  });
  stats_.rows_inserted += hi - lo;
  stats_.bytes_inserted += body.size();
  ++stats_.inserts;
  SLUICE_CRASH_POINT("sink.after_insert");  // ClickHouse has the rows; the offset is not stored yet
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  SLOG_DEBUG("clickhouse: inserted {} rows ({} bytes) into {}.{} in {:.3f} s", hi - lo, body.size(), t.db, t.name,
             seconds);
  t.insert_seconds->Observe(seconds);
  t.batch_rows->Observe(static_cast<double>(hi - lo));
  t.rows_total->Inc(hi - lo);
  t.bytes_total->Inc(body.size());
  t.inserts_total->Inc();
}

void ClickHouseSink::InsertBisecting(Table& t, size_t lo, size_t hi) {
  try {
    InsertRange(t, lo, hi);
  } catch (const Error& e) {
    if (e.retryable() || !IsDataErrorCode(ParseExceptionCode(e.what()))) throw;
    if (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      InsertBisecting(t, lo, mid);
      InsertBisecting(t, mid, hi);
      return;
    }
    // errors.tolerance = all tolerates bad rows, not a broken table: when most rows of a batch
    // are rejected one by one, the cause is not in the data; stop with the error.
    if (++rejected_in_flush_ > std::max<size_t>(100, t.rows / 2)) {
      throw Error(ErrorKind::kSink,
                  fmt::format("{}.{} rejected more than {} rows of one batch one by one; this is not a "
                              "bad-row problem (errors.tolerance = all does not apply): {}",
                              t.db, t.name, rejected_in_flush_ - 1, e.what()));
    }
    const size_t b = t.row_starts[lo];
    const size_t end = hi < t.row_starts.size() ? t.row_starts[hi] : t.buffer.size();
    std::string row = t.buffer.substr(b, end - b);
    uint64_t version = 0;
    if (row.size() >= 9) std::memcpy(&version, row.data() + row.size() - 9, 8);
    SLOG_WARN("clickhouse: {}.{} rejected the row with _version {}; written to {}: {}", t.db, t.name, version,
              options_.dlq_table, e.what());
    dead_letters_.push_back({t.schema->QualifiedName(), t.db + "." + t.name, e.what(), std::move(row), version});
  }
}

void ClickHouseSink::FlushTable(Table& t) {
  if (t.rows == 0) return;
  const std::string log_name = t.db + "." + t.name;
  ScopedLogTable log_table(&log_name);  // structured logs name the table being inserted
  EncodePending(t);
  if (!t.row_starts.empty()) {
    rejected_in_flush_ = 0;
    InsertBisecting(t, 0, t.rows);
  } else {
    InsertRange(t, 0, t.rows);
  }
  t.buffer.clear();
  t.row_starts.clear();
  t.rows = 0;
  t.oldest_pending_ts->Set(0);
  if (t.newest_ts_ms > 0) t.last_acked_ts->Set(static_cast<double>(t.newest_ts_ms) / 1000.0);
  if (t.buffer.capacity() > 4 * options_.batch_max_bytes) t.buffer.shrink_to_fit();
}

void ClickHouseSink::EnsureDeadLetterTable() {
  if (dlq_ready_) return;
  const std::string q = QuoteIdent(options_.database) + "." + QuoteIdent(options_.dlq_table);
  std::string engine = "MergeTree";
  if (!ctx_.cluster.empty()) {
    engine = "ReplicatedMergeTree(" +
             QuoteString(fmt::format("/clickhouse/tables/{{shard}}/{}/{}", options_.database, options_.dlq_table)) +
             ", '{replica}')";
  }
  const std::string sql = "CREATE TABLE IF NOT EXISTS " + q +
                          (ctx_.cluster.empty() ? "" : " ON CLUSTER " + QuoteIdent(ctx_.cluster)) +
                          " (`ts` DateTime, `source_table` String, `target_table` String, `_version` UInt64, "
                          "`error` String, `row_binary` String) ENGINE = " + engine + " ORDER BY (`ts`)";
  WithRetry("create dead-letter table", [&] { client_->Query(sql); });
  dlq_ready_ = true;
}

void ClickHouseSink::WriteDeadLetters() {
  if (dead_letters_.empty()) return;
  Connect();
  EnsureDeadLetterTable();
  std::string body;
  const uint32_t now = static_cast<uint32_t>(std::time(nullptr));
  auto put_string = [&](std::string_view s) {
    RowBinaryEncoder::PutVarUInt(s.size(), body);
    body.append(s);
  };
  for (const auto& d : dead_letters_) {
    body.append(reinterpret_cast<const char*>(&now), 4);
    put_string(d.source_table);
    put_string(d.target_table);
    body.append(reinterpret_cast<const char*>(&d.version), 8);
    put_string(d.error);
    put_string(d.row);
  }
  const std::vector<std::string> cols = {"`ts`", "`source_table`", "`target_table`", "`_version`", "`error`", "`row_binary`"};
  WithRetry("insert into dead-letter table",
            [&] { client_->InsertRowBinary(options_.database, options_.dlq_table, cols, body); });
  stats_.dlq_rows += dead_letters_.size();
  DlqRowsTotal().Inc(dead_letters_.size());
  dead_letters_.clear();
}

}  // namespace sluice::clickhouse
