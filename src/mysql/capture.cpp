#include "mysql/capture.h"

#include <unistd.h>

#include <array>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <cstdio>
#include <map>
#include <thread>
#include <unordered_map>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "mysql/binlog_event.h"
#include "mysql/binlog_stream.h"
#include "mysql/gtid_set.h"
#include "mysql/row_decoder.h"
#include "mysql/schema_history.h"
#include "mysql/source_info.h"
#include "mysql/text_value.h"
#include "state/state_store.h"

namespace sluice::mysql {

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// (file sequence, position) ordering of binlog coordinates; no file is before every position.
bool AtOrAfter(const std::string& file, uint64_t pos, const std::string& tfile, uint64_t tpos) {
  if (file.empty()) return false;
  if (tfile.empty()) return true;
  uint32_t a = BinlogFileSequence(file), b = BinlogFileSequence(tfile);
  return a != b ? a > b : pos >= tpos;
}

// The file sequence number of `file`, 0 for none (an offset holding only a GTID set).
uint32_t FileSeq(const std::string& file) { return file.empty() ? 0 : BinlogFileSequence(file); }

// SQL literal of a snapshot key value as read with the text protocol.
std::string KeyLiteral(Connection& conn, const ColumnSchema& col, std::string_view text) {
  if (col.kind == ValueKind::kInt || col.kind == ValueKind::kUInt) return std::string(text);
  if (col.kind == ValueKind::kBytes || col.kind == ValueKind::kBit || col.kind == ValueKind::kGeometry) {
    static const char* hex = "0123456789ABCDEF";
    std::string out = "X'";
    for (unsigned char c : text) {
      out += hex[c >> 4];
      out += hex[c & 15];
    }
    return out + "'";
  }
  return "'" + conn.Escape(text) + "'";
}

class Progress {
 public:
  Progress(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1 && !LogIsJson()) {}
  void Update(const std::string& table, uint64_t table_rows, uint64_t table_total, uint64_t all_rows,
              uint64_t all_total, bool force = false) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (!force && now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5))) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? static_cast<double>(all_rows) / secs : 0;
    double eta = rate > 0 && all_total > all_rows ? static_cast<double>(all_total - all_rows) / rate : 0;
    double frac = table_total ? std::min(1.0, static_cast<double>(table_rows) / static_cast<double>(table_total)) : 1.0;
    if (tty_) {
      int filled = static_cast<int>(frac * 30);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(30, '.');
      std::fprintf(stderr, "\r snapshot %-32.32s [%s] %3d%% %10llu rows %9.0f rows/s ETA %5.0fs ", table.c_str(),
                   bar.c_str(), static_cast<int>(frac * 100), static_cast<unsigned long long>(table_rows), rate, eta);
      if (force) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    } else {
      SLOG_INFO("snapshot {}: {} of ~{} rows; all tables {} of ~{} rows, {:.0f} rows/s, ETA {:.0f}s", table,
                table_rows, table_total, all_rows, all_total, rate, eta);
    }
  }

 private:
  bool enabled_, tty_;
  Clock::time_point start_ = Clock::now(), last_{};
};

}  // namespace

/// The capture's metrics, looked up once per table / event type; updated per chunk and per
/// transaction on the capture thread (events are counted locally and added at each commit).
struct CaptureMetrics {
  struct TableCounters {
    metrics::Counter *read, *insert, *update, *del, *bytes;
  };
  std::unordered_map<std::string, TableCounters> tables;
  std::array<metrics::Counter*, 256> events{};
  std::array<uint64_t, 256> pending_events{};
  metrics::Registry& reg = metrics::Default();
  metrics::Counter& transactions = reg.GetCounter("sluice_source_transactions_total",
                                                  "source transactions read from the binlog (all tables)");
  metrics::Gauge& file_number = reg.GetGauge("sluice_source_binlog_file_number",
                                             "binlog file sequence number read up to (mysql-bin.000042 -> 42)");
  metrics::Gauge& position = reg.GetGauge("sluice_source_binlog_position", "binlog position read up to (end of the last transaction)");
  metrics::Gauge& last_commit_ts = reg.GetGauge("sluice_source_last_commit_timestamp_seconds",
                                                "source commit time of the last transaction read");
  metrics::Gauge& snapshot_running = reg.GetGauge("sluice_snapshot_running", "1 while the initial snapshot reads tables");

  TableCounters& For(const std::string& table) {
    auto it = tables.find(table);
    if (it != tables.end()) return it->second;
    const char* help = "rows captured from the source (op: read = snapshot, insert, update, delete)";
    TableCounters c;
    c.read = &reg.GetCounter("sluice_source_rows_total", help, {{"table", table}, {"op", "read"}});
    c.insert = &reg.GetCounter("sluice_source_rows_total", help, {{"table", table}, {"op", "insert"}});
    c.update = &reg.GetCounter("sluice_source_rows_total", help, {{"table", table}, {"op", "update"}});
    c.del = &reg.GetCounter("sluice_source_rows_total", help, {{"table", table}, {"op", "delete"}});
    c.bytes = &reg.GetCounter("sluice_source_bytes_total", "bytes of captured rows (in-memory column size)",
                              {{"table", table}});
    return tables.emplace(table, c).first->second;
  }
  void CountRows(const ChangeChunk& chunk, bool snapshot) {
    if (chunk.empty() || !chunk.schema()) return;
    TableCounters& c = For(chunk.schema()->QualifiedName());
    c.bytes->Inc(chunk.ByteSize());
    if (snapshot) {
      c.read->Inc(chunk.size());
      return;
    }
    uint64_t ins = 0, upd = 0, del = 0;
    for (size_t i = 0; i < chunk.size(); ++i) {
      switch (chunk.op(i)) {
        case RowOp::kInsert: ++ins; break;
        case RowOp::kUpdateAfter: ++upd; break;
        case RowOp::kDelete: ++del; break;
        default: break;
      }
    }
    if (ins) c.insert->Inc(ins);
    if (upd) c.update->Inc(upd);
    if (del) c.del->Inc(del);
  }
  void FlushEvents() {
    for (size_t t = 0; t < pending_events.size(); ++t) {
      if (!pending_events[t]) continue;
      if (!events[t]) {
        events[t] = &reg.GetCounter("sluice_source_events_total", "binlog events read, by type",
                                    {{"type", EventTypeName(static_cast<uint8_t>(t))}});
      }
      events[t]->Inc(pending_events[t]);
      pending_events[t] = 0;
    }
  }
  void Committed(const SourceOffset& o) {
    transactions.Inc();
    file_number.Set(BinlogFileSequence(o.file));
    position.Set(static_cast<double>(o.pos));
    if (o.ts_ms > 0) last_commit_ts.Set(static_cast<double>(o.ts_ms) / 1000.0);
    FlushEvents();
  }
};

void ReportAcked(const SourceOffset& offset) {
  static metrics::Gauge& file = metrics::Default().GetGauge(
      "sluice_acked_binlog_file_number", "binlog file sequence number of the last offset stored after ClickHouse acknowledged it");
  static metrics::Gauge& pos = metrics::Default().GetGauge(
      "sluice_acked_binlog_position", "binlog position of the last offset stored after ClickHouse acknowledged it");
  static metrics::Gauge& ts = metrics::Default().GetGauge(
      "sluice_acked_commit_timestamp_seconds", "source commit time of the last transaction acknowledged downstream");
  static metrics::Counter& stored = metrics::Default().GetCounter(
      "sluice_offsets_stored_total", "offsets stored in the state directory (checkpoints)");
  if (offset.file.empty()) return;
  const uint32_t seq = BinlogFileSequence(offset.file);
  file.Set(seq);
  pos.Set(static_cast<double>(offset.pos));
  if (offset.ts_ms > 0) ts.Set(static_cast<double>(offset.ts_ms) / 1000.0);
  stored.Inc();
  metrics::PipelineFreshness().Acked(seq, offset.pos, offset.ts_ms);
}

CaptureOptions CaptureOptions::FromConfig(const Config& config) {
  CaptureOptions o;
  o.connection.host = config.GetString("source", "database.hostname");
  o.connection.port = static_cast<int>(config.GetInt("source", "database.port"));
  o.connection.user = config.GetString("source", "database.user");
  o.connection.password = config.GetString("source", "database.password");
  o.connection.ssl_mode = config.GetString("source", "database.ssl.mode");
  // PEM paths are relative to the config file's directory, as other file settings.
  o.connection.ssl_ca = config.GetString("source", "database.ssl.ca").empty() ? "" : config.GetPath("source", "database.ssl.ca");
  o.connection.ssl_cert = config.GetString("source", "database.ssl.cert").empty() ? "" : config.GetPath("source", "database.ssl.cert");
  o.connection.ssl_key = config.GetString("source", "database.ssl.key").empty() ? "" : config.GetPath("source", "database.ssl.key");
  o.connection.ssl_key_password = config.GetString("source", "database.ssl.key.password");
  o.connection.ssl_cipher = config.GetString("source", "database.ssl.cipher");
  o.connection.ssl_tls_versions = config.GetString("source", "database.ssl.tls.versions");
  o.connection.connect_timeout_ms = static_cast<int>(config.GetInt("source", "connect.timeout.ms"));
  int64_t sid = config.GetInt("source", "database.server.id");
  if (sid <= 0 || sid > 0xFFFFFFFFll) {
    Throw(ErrorKind::kConfig, "{}: source.database.server.id must be between 1 and 4294967295, got {}",
          config.Where("source", "database.server.id"), sid);
  }
  o.server_id = static_cast<uint32_t>(sid);
  o.snapshot_mode = config.GetString("source", "snapshot.mode");
  int64_t fetch = config.GetInt("source", "snapshot.fetch.size");
  if (fetch <= 0) {
    Throw(ErrorKind::kConfig, "{}: source.snapshot.fetch.size must be positive", config.Where("source", "snapshot.fetch.size"));
  }
  o.snapshot_fetch_size = static_cast<size_t>(fetch);
  int64_t threads = config.GetInt("source", "snapshot.max.threads");
  if (threads <= 0 || threads > 64) {
    Throw(ErrorKind::kConfig, "{}: source.snapshot.max.threads must be between 1 and 64, got {}",
          config.Where("source", "snapshot.max.threads"), threads);
  }
  o.snapshot_max_threads = static_cast<size_t>(threads);
  const int64_t hb = config.GetInt("source", "heartbeat.interval.ms");
  if (hb < 0 || hb > 3600000) {
    Throw(ErrorKind::kConfig, "{}: source.heartbeat.interval.ms must be between 0 and 3600000, got {}",
          config.Where("source", "heartbeat.interval.ms"), hb);
  }
  o.heartbeat_ms = hb == 0 ? 1000 : static_cast<int>(hb);
  o.heartbeat_action_query = config.GetString("source", "heartbeat.action.query");
  o.gtid_filter = GtidSourceFilter(config);
  o.gtid_filter_dml = config.GetBool("source", "gtid.source.filter.dml.events");
  const auto ops = config.GetList("source", "skipped.operations");
  for (const auto& op : ops) {
    if (op == "c") o.skip_inserts = true;
    else if (op == "u") o.skip_updates = true;
    else if (op == "d") o.skip_deletes = true;
    else if (op == "t") o.skip_truncates = config.Has("source", "skipped.operations");
    else if (op == "none" && ops.size() == 1) continue;
    else {
      Throw(ErrorKind::kConfig, "{}: source.skipped.operations: '{}' is not an operation; list c, u, d, t "
            "(comma-separated), or write none", config.Where("source", "skipped.operations"), op);
    }
  }
  return o;
}

MySqlCapture::MySqlCapture(CaptureOptions options, TableFilter filter, StateStore* state, std::string state_prefix)
    : options_(std::move(options)),
      filter_(std::move(filter)),
      state_(state),
      history_(std::make_unique<SchemaHistory>(state, std::move(state_prefix))),
      metrics_(std::make_unique<CaptureMetrics>()) {}

MySqlCapture::~MySqlCapture() = default;

const std::vector<int>& MySqlCapture::EmittedColumns(const TableSchemaPtr& full) {
  Emitted(full);
  return projections_.at(full.get()).keep;
}

TableSchemaPtr MySqlCapture::Emitted(const TableSchemaPtr& full) {
  auto it = projections_.find(full.get());
  if (it != projections_.end()) return it->second.emitted;
  Projection p;
  p.emitted = EmittedSchema(full, filter_, &p.keep);
  p.full = full;  // keeps the key's address from being reused
  auto emitted = p.emitted;
  projections_.emplace(full.get(), std::move(p));
  return emitted;
}

void MySqlCapture::Run(ChangeConsumer& consumer, const SourceOffset& resume) {
  // A stored offset is acknowledged by definition: the lag is known from the start, and an idle
  // source's heartbeats move it forward even before the next transaction is delivered.
  if (!resume.empty()) metrics::PipelineFreshness().Acked(FileSeq(resume.file), resume.pos, resume.ts_ms);
  Connection conn(options_.connection);
  conn.Connect();
  SourceFacts facts = ValidateSource(conn, options_.server_id);
  is_mariadb_ = facts.is_mariadb;
  server_gtids_ = ServerUsesGtids(conn, is_mariadb_);
  history_->set_mariadb(is_mariadb_);
  SLOG_INFO("connected to {} at {}:{} (server_id {})", facts.version, options_.connection.host,
            options_.connection.port, facts.server_id);
  SourceOffset offset = resume;
  const std::string& mode = options_.snapshot_mode;

  if (!offset.empty() && !offset.snapshot_running) {
    // Does the server still have what follows our position? By GTID when the offset resumes
    // from its GTIDs (the server may be another one, e.g. a promoted replica, with other binlog
    // files), else by the binlog file.
    auto files = ListBinlogFiles(conn);
    std::string missing;
    if (ResumesByGtid(offset)) {
      missing = PurgedSince(conn, offset);
    } else if (std::find(files.begin(), files.end(), offset.file) == files.end()) {
      missing = fmt::format("binlog file {} which the server has purged", offset.file);
    }
    if (!missing.empty()) {
      const std::string oldest = files.empty() ? "none" : files.front();
      if (mode == "when_needed") {
        SLOG_WARN("the stored offset {} needs {} (oldest binlog: {}); snapshot.mode is when_needed: taking a new "
                  "snapshot",
                  offset.ToString(), missing, oldest);
        offset = SourceOffset{};
      } else {
        Throw(ErrorKind::kSource,
              "the stored offset {} needs {} (oldest available: {}). "
              "Changes since then are lost to the binlog: set source.snapshot.mode to when_needed to re-snapshot "
              "automatically, or delete the state directory to start over",
              offset.ToString(), missing, oldest);
      }
    }
    if (!offset.empty() && mode == "always") {
      SLOG_INFO("snapshot.mode always: taking a new snapshot");
      offset = SourceOffset{};
    }
  }

  if (offset.empty() || offset.snapshot_running) {
    bool with_data = mode != "no_data" && mode != "never";
    if (mode == "never" && offset.empty()) {
      // Debezium's `never`: no snapshot; stream from the oldest binlog still on the server with
      // the current schemas.
      auto files = ListBinlogFiles(conn);
      offset.file = files.empty() ? "" : files.front();
      offset.pos = 4;
      auto cs = LoadCharsetDefaults(conn, filter_);
      history_->SetCharsetDefaults(cs.server, cs.databases, cs.tables);
      const std::vector<TableSchemaPtr> tables = LoadSchemas(conn, filter_);
      history_->Reset(tables, BinlogFileSequence(offset.file), offset.pos);
      offset.snapshot_done = true;
      for (const auto& t : tables) consumer.OnSchema(nullptr, Emitted(t));
    } else {
      conn.Close();
      Snapshot(consumer, offset, with_data);
      if (stop_) return;
    }
    if (mode == "initial_only") {
      SLOG_INFO("snapshot.mode initial_only: snapshot complete, not streaming");
      consumer.OnCaughtUp();
      return;
    }
  } else {
    if (mode == "initial_only") {
      SLOG_INFO("snapshot.mode initial_only: snapshot already complete, nothing to do");
      consumer.OnCaughtUp();
      return;
    }
    // An offset holding only GTIDs (taken on another server) continues with the latest schema.
    const bool loaded = offset.file.empty() ? history_->LoadAt(UINT32_MAX, UINT64_MAX)
                                            : history_->LoadAt(BinlogFileSequence(offset.file), offset.pos);
    if (!loaded) {
      Throw(ErrorKind::kState, "the state directory has an offset ({}) but no schema history; delete the state "
            "directory to start over", offset.ToString());
    }
    conn.Close();
  }
  Stream(consumer, offset);
}

namespace {

// One piece of a snapshot unit: a chunk of rows and the key literals of its last row.
struct SnapshotPiece {
  ChangeChunk chunk;
  std::vector<std::string> last_key;
};

// What the snapshot reads of one table (built on the capture thread before the readers start).
struct SnapshotTable {
  TableSchemaPtr full, schema;
  std::string name, cols, order;
  std::vector<int> key_pos;             // key columns within the selected ones
  std::vector<std::string> resume_key;  // the offset's last key when the table was begun
};

// A part of a table one reader reads in keyset pages: the whole table, or a range of its first
// key column. Units are emitted in order, so a table's rows leave in primary-key order.
struct SnapshotUnit {
  size_t table = 0;
  std::string range;                   // SQL predicate bounding the range ("" = none)
  std::vector<std::string> after_key;  // start after this key (a resumed table's first unit)
  bool last_of_table = false;
  std::deque<SnapshotPiece> pieces;    // read, not yet emitted
  bool claimed = false, done = false;
};

// Parses a base-10 integer (MIN/MAX of an integer column) into 128 bits.
__int128 ParseInt128(const std::string& s) {
  __int128 v = 0;
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  for (; i < s.size(); ++i) v = v * 10 + (s[i] - '0');
  return (!s.empty() && s[0] == '-') ? -v : v;
}

std::string Int128Text(__int128 v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  std::string out;
  for (; v != 0; v /= 10) out += static_cast<char>('0' + static_cast<int>(neg ? -(v % 10) : v % 10));
  if (neg) out += '-';
  return std::string(out.rbegin(), out.rend());
}

// (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...: index-friendly keyset pagination.
std::string KeysetAfter(const TableSchema& full, const std::vector<std::string>& key) {
  std::string where;
  for (size_t i = 0; i < full.primary_key.size(); ++i) {
    std::string term;
    for (size_t j = 0; j < i; ++j) {
      term += QuoteIdent(full.columns[static_cast<size_t>(full.primary_key[j])].name) + " = " + key[j] + " AND ";
    }
    term += QuoteIdent(full.columns[static_cast<size_t>(full.primary_key[i])].name) + " > " + key[i];
    where += (where.empty() ? "(" : " OR (") + term + ")";
  }
  return where;
}

}  // namespace

void MySqlCapture::Snapshot(ChangeConsumer& consumer, SourceOffset& offset, bool with_data) {
  // Reader connections; all see one consistent view, taken at the binlog position `at` under a
  // short global read lock.
  std::vector<std::unique_ptr<Connection>> conns;
  const size_t wanted = with_data ? std::max<size_t>(1, options_.snapshot_max_threads) : 1;
  for (size_t i = 0; i < wanted; ++i) {
    conns.push_back(std::make_unique<Connection>(options_.connection));
    conns.back()->Connect();
  }
  Connection& conn = *conns[0];
  bool locked = false;
  size_t usable = 1;
  std::vector<Connection*> raw;
  for (auto& c : conns) raw.push_back(c.get());
  const BinlogCoordinates at = BeginSharedSnapshot(raw, is_mariadb_, &locked, &usable);
  conns.resize(usable);
  std::vector<TableSchemaPtr> tables = LoadSchemas(conn, filter_);
  CharsetDefaults charsets = LoadCharsetDefaults(conn, filter_);
  history_->SetCharsetDefaults(charsets.server, charsets.databases, charsets.tables);
  if (locked) conn.Execute("UNLOCK TABLES");

  const bool resuming = offset.snapshot_running;
  uint32_t snap_seq = BinlogFileSequence(at.file);
  if (!resuming) {
    offset = SourceOffset{};
    offset.file = at.file;
    offset.pos = at.pos;
    offset.gtid_set = KeptGtids(at.gtid_set);
    offset.gtid_full = server_gtids_;
    offset.snapshot_running = with_data;
    offset.snapshot_done = !with_data;
    offset.ts_ms = NowMs();
    history_->Reset(tables, snap_seq, at.pos);
    SLOG_INFO("snapshot at {}:{} (gtid {}) of {} table(s){}", at.file, at.pos, at.gtid_set, tables.size(),
              with_data ? fmt::format(" on {} connection(s)", conns.size()) : std::string(" (schema only)"));
  } else {
    // The stream resumes from the first snapshot's position; the schema at that position is in
    // the history. Rows read now are at `at`, which is later: streamed changes between the two
    // positions carry lower versions and are superseded where the snapshot already has them.
    if (!history_->LoadAt(BinlogFileSequence(offset.file), offset.pos)) {
      history_->Reset(tables, BinlogFileSequence(offset.file), offset.pos);
    }
    SLOG_INFO("resuming the snapshot on {} connection(s): {} table(s) done, continuing {} after its last key ({} "
              "rows so far)",
              conns.size(), offset.tables_done.size(),
              offset.current_table.empty() ? "with the next table" : offset.current_table, offset.rows_done);
  }
  for (const auto& t : tables) consumer.OnSchema(nullptr, Emitted(t));
  if (with_data && !resuming) consumer.OnSnapshotStart(offset);
  if (!with_data) {
    conn.Execute("COMMIT");
    consumer.OnCommit(offset);
    return;
  }

  // Row estimates for progress.
  std::map<std::string, uint64_t> estimates;
  uint64_t total = 0;
  for (const auto& t : tables) {
    auto v = conn.QueryValue("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" +
                             conn.Escape(t->database) + "' AND TABLE_NAME = '" + conn.Escape(t->table) + "'");
    uint64_t n = v ? std::stoull(*v) : 0;
    estimates[t->QualifiedName()] = n;
    total += n;
    metrics_->reg.GetGauge("sluice_snapshot_rows_estimated", "rows the snapshot expects to read (information_schema estimate)",
                           {{"table", t->QualifiedName()}}).Set(static_cast<double>(n));
  }
  snapshot_total_ = total;

  // The work: each table not done yet, large tables with an integer first key column split into
  // ranges of about kRangeChunks chunks (split points evenly between its MIN and MAX).
  constexpr size_t kRangeChunks = 2;
  const size_t fetch = options_.snapshot_fetch_size;
  std::vector<SnapshotTable> plan;
  std::deque<SnapshotUnit> units;  // a deque: references stay valid while readers hold them
  for (const auto& full : tables) {
    const std::string name = full->QualifiedName();
    if (std::find(offset.tables_done.begin(), offset.tables_done.end(), name) != offset.tables_done.end()) continue;
    SnapshotTable t;
    t.full = full;
    t.name = name;
    t.schema = Emitted(full);
    const std::vector<int>& keep = EmittedColumns(full);
    if (offset.current_table == name) t.resume_key = offset.last_key;
    if (full->primary_key.empty()) {
      SLOG_WARN("table {} has no primary key: its snapshot is read in one pass (not resumable mid-table) and its "
                "events have a null key",
                name);
    }
    for (int k : keep) t.cols += (t.cols.empty() ? "" : ", ") + QuoteIdent(full->columns[static_cast<size_t>(k)].name);
    for (int pk : full->primary_key) {
      t.order += (t.order.empty() ? "" : ", ") + QuoteIdent(full->columns[static_cast<size_t>(pk)].name);
    }
    // Key column positions within the selected columns (the key is always selected: excluded key
    // columns are re-added below).
    for (int pk : full->primary_key) {
      auto it = std::find(keep.begin(), keep.end(), pk);
      if (it == keep.end()) {
        Throw(ErrorKind::kConfig, "column.exclude.list removes primary-key column {}.{}; key columns cannot be excluded",
              name, full->columns[static_cast<size_t>(pk)].name);
      }
      t.key_pos.push_back(static_cast<int>(it - keep.begin()));
    }
    const size_t ti = plan.size();
    std::vector<std::string> splits;  // integer literals, increasing
    const uint64_t est = estimates[name];
    if (conns.size() > 1 && !full->primary_key.empty() && est > kRangeChunks * fetch * 2) {
      const ColumnSchema& k1 = full->columns[static_cast<size_t>(full->primary_key[0])];
      if (k1.kind == ValueKind::kInt || k1.kind == ValueKind::kUInt) {
        const std::string q = QuoteIdent(k1.name);
        ResultSet mm = conn.Query("SELECT MIN(" + q + "), MAX(" + q + ") FROM " + QuoteIdent(full->database) + "." +
                                  QuoteIdent(full->table));
        if (!mm.rows.empty() && mm.rows[0][0] && mm.rows[0][1]) {
          const __int128 lo = ParseInt128(*mm.rows[0][0]), hi = ParseInt128(*mm.rows[0][1]);
          const __int128 from = t.resume_key.empty() ? lo : std::max(lo, ParseInt128(t.resume_key[0]));
          const size_t ranges = std::min<size_t>(1024, est / (kRangeChunks * fetch) + 1);
          const __int128 span = hi - lo + 1;
          for (size_t r = 1; r < ranges; ++r) {
            const __int128 s = lo + span * static_cast<__int128>(r) / static_cast<__int128>(ranges);
            // A split at or below the resume key would start a range already read.
            if (s <= from) continue;
            const std::string text = Int128Text(s);
            if (splits.empty() || splits.back() != text) splits.push_back(text);
          }
        }
      }
    }
    const std::string k1 = full->primary_key.empty()
                               ? std::string()
                               : QuoteIdent(full->columns[static_cast<size_t>(full->primary_key[0])].name);
    for (size_t r = 0; r <= splits.size(); ++r) {
      SnapshotUnit u;
      u.table = ti;
      if (r > 0) u.range = k1 + " >= " + splits[r - 1];
      if (r < splits.size()) u.range += (u.range.empty() ? "" : " AND ") + k1 + " < " + splits[r];
      if (r == 0) u.after_key = t.resume_key;
      u.last_of_table = r == splits.size();
      units.push_back(std::move(u));
    }
    plan.push_back(std::move(t));
  }

  metrics_->snapshot_running.Set(1);
  Progress progress(options_.progress);
  const uint64_t version = MakeVersion(snap_seq, at.pos, 0) - 1;

  // Readers: conns.size() threads claim units in order, at most kWindow units ahead of the one
  // being emitted, and hold at most kUnitPieces read chunks per unit; this thread emits the units
  // in order. Memory: at most kWindow * kUnitPieces chunks of snapshot.fetch.size rows.
  const size_t kWindow = 2 * conns.size();
  constexpr size_t kUnitPieces = kRangeChunks + 1;
  std::mutex mu;
  std::condition_variable cv;
  size_t head = 0, next = 0;
  bool aborting = false;
  std::exception_ptr failure;
  auto read_unit = [&](Connection& c, SnapshotUnit& u) {
    const SnapshotTable& t = plan[u.table];
    ScopedLogTable log_table(&t.name);
    std::vector<std::string> last_key = u.after_key;
    std::vector<std::string> last_raw(t.key_pos.size());
    size_t page_rows = 0;  // rows of the previous page
    SourceInfo src;
    src.file = at.file;
    src.pos = at.pos;
    src.gtid = "";
    src.server_id = 0;
    src.snapshot = SourceInfo::Snapshot::kTrue;
    auto push = [&](ChangeChunk&& chunk, std::vector<std::string> key) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return aborting || u.pieces.size() < kUnitPieces; });
      if (aborting) return false;
      u.pieces.push_back(SnapshotPiece{std::move(chunk), std::move(key)});
      cv.notify_all();
      return true;
    };
    while (!stop_) {
      std::string sql = "SELECT " + t.cols + " FROM " + QuoteIdent(t.full->database) + "." + QuoteIdent(t.full->table);
      if (!t.full->primary_key.empty()) {
        std::string where = u.range;
        if (!last_key.empty()) where += (where.empty() ? "(" : " AND (") + KeysetAfter(*t.full, last_key) + ")";
        if (!where.empty()) sql += " WHERE " + where;
        sql += " ORDER BY " + t.order + " LIMIT " + std::to_string(fetch);
      }
      ChangeChunk chunk(t.schema);
      // After a full page the next one is likely full too: size the columns once instead of
      // growing them by doubling (copies and fresh pages). The first page of a unit reserves
      // nothing (a small table stays small).
      if (page_rows > 0) {
        for (size_t i = 0; i < chunk.num_columns(); ++i) chunk.column(i).Reserve(page_rows);
      }
      src.ts_ms = NowMs();
      uint32_t src_idx = chunk.AddSource(src);
      size_t n = 0;
      bool aborted = false;
      auto on_row = [&](MYSQL_ROW row, const unsigned long* len, MYSQL_FIELD*, unsigned ncols) {
        if (aborted) return;
        chunk.BeginRow(RowOp::kInsert, version, src_idx, 0);
        for (unsigned i = 0; i < ncols; ++i) {
          const ColumnSchema& col = t.schema->columns[i];
          if (!row[i]) {
            chunk.column(i).AppendNull();
          } else {
            AppendTextValue(col, std::string_view(row[i], len[i]), chunk.column(i));
          }
        }
        ++n;
        // Keep the raw key of the row (no allocation once warm); literals are made once per chunk.
        for (size_t k = 0; k < t.key_pos.size(); ++k) last_raw[k].assign(row[t.key_pos[k]], len[t.key_pos[k]]);
        // A table without a key is read in one pass; pass it on in bounded pieces.
        if (t.key_pos.empty() && chunk.size() >= fetch) {
          if (!push(std::move(chunk), {})) aborted = true;
          chunk = ChangeChunk(t.schema);
          src_idx = chunk.AddSource(src);
        }
      };
      c.QueryStream(sql, on_row);
      if (aborted) return;
      page_rows = std::min(n, fetch);
      if (!t.key_pos.empty() && n > 0) {
        last_key.clear();
        for (size_t k = 0; k < t.key_pos.size(); ++k) {
          last_key.push_back(KeyLiteral(c, t.schema->columns[static_cast<size_t>(t.key_pos[k])], last_raw[k]));
        }
      }
      if (!chunk.empty() && !push(std::move(chunk), last_key)) return;
      if (t.key_pos.empty() || n < fetch) break;
    }
  };
  auto reader = [&](Connection& c) {
    try {
      for (;;) {
        SnapshotUnit* u = nullptr;
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return aborting || next >= units.size() || next < head + kWindow; });
          if (aborting || next >= units.size()) return;
          u = &units[next++];
          u->claimed = true;
        }
        read_unit(c, *u);
        std::lock_guard<std::mutex> lock(mu);
        if (stop_ || aborting) return;
        u->done = true;
        cv.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!failure) failure = std::current_exception();
      aborting = true;
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (auto& c : conns) threads.emplace_back(reader, std::ref(*c));
  auto stop_readers = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      aborting = true;
      cv.notify_all();
    }
    for (auto& th : threads) th.join();
    threads.clear();
  };

  bool first_row = !resuming;
  uint64_t all_rows = offset.rows_done;
  // One chunk is held back so that the last row of each table (and of the whole snapshot) can be
  // marked as Debezium marks it; offsets that follow a held chunk wait with it.
  ChangeChunk pending;
  std::vector<SourceOffset> pending_offsets;
  auto mark = [](ChangeChunk& c, size_t row, SourceInfo::Snapshot what) {
    SourceInfo si = c.source(row);
    si.snapshot = what;
    c.SetRowSource(row, c.AddSource(std::move(si)));
  };
  auto release = [&] {
    metrics_->CountRows(pending, /*snapshot=*/true);
    if (!pending.empty()) consumer.OnRows(std::move(pending));
    pending = ChangeChunk();
    for (const auto& o : pending_offsets) consumer.OnCommit(o);
    pending_offsets.clear();
  };
  auto emit = [&](ChangeChunk&& c) {
    if (c.empty()) return;
    release();
    pending = std::move(c);
  };
  auto commit_offset = [&](const SourceOffset& o) {
    if (pending.empty()) consumer.OnCommit(o);
    else pending_offsets.push_back(o);
  };

  // Emits the units in order, as their readers pass pieces on.
  size_t current = SIZE_MAX;  // the table being emitted
  uint64_t table_rows = 0;
  metrics::Gauge* table_done_gauge = nullptr;
  try {
    while (head < units.size() && !stop_) {
      SnapshotUnit& u = units[head];
      const SnapshotTable& t = plan[u.table];
      if (current != u.table) {
        current = u.table;
        table_rows = 0;
        offset.current_table = t.name;
        offset.last_key = t.resume_key;
        table_done_gauge = &metrics_->reg.GetGauge("sluice_snapshot_rows_done", "rows the snapshot has read (this run)",
                                                   {{"table", t.name}});
      }
      SnapshotPiece piece;
      bool unit_done = false;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return failure || !u.pieces.empty() || u.done; });
        if (failure) break;
        if (!u.pieces.empty()) {
          piece = std::move(u.pieces.front());
          u.pieces.pop_front();
          cv.notify_all();
        } else if (u.done) {
          unit_done = true;
          ++head;
          cv.notify_all();
        } else {
          continue;  // waiting (and looking at stop_ now and then)
        }
      }
      const uint64_t table_total = estimates[t.name];
      if (!unit_done) {
        ChangeChunk& chunk = piece.chunk;
        if (first_row) {
          mark(chunk, 0, SourceInfo::Snapshot::kFirst);
        } else if (table_rows == 0 && t.resume_key.empty()) {
          mark(chunk, 0, SourceInfo::Snapshot::kFirstInDataCollection);
        }
        first_row = false;
        table_rows += chunk.size();
        all_rows += chunk.size();
        snapshot_done_ = all_rows;
        table_done_gauge->Set(static_cast<double>(table_rows));
        emit(std::move(chunk));
        progress.Update(t.name, table_rows, table_total, all_rows, total);
        if (!t.key_pos.empty()) {
          offset.rows_done = all_rows;
          offset.last_key = std::move(piece.last_key);
          commit_offset(offset);
        }
        continue;
      }
      if (!u.last_of_table) continue;
      offset.rows_done = all_rows;
      offset.tables_done.push_back(t.name);
      offset.current_table.clear();
      offset.last_key.clear();
      if (!pending.empty() && pending.schema() == t.schema) {
        mark(pending, pending.size() - 1, SourceInfo::Snapshot::kLastInDataCollection);
      }
      commit_offset(offset);
      progress.Update(t.name, table_rows, table_total, all_rows, total, /*force=*/true);
    }
  } catch (...) {
    stop_readers();
    throw;
  }
  stop_readers();
  if (failure) std::rethrow_exception(failure);
  metrics_->snapshot_running.Set(0);
  if (stop_) {
    release();
    return;
  }
  if (!pending.empty()) mark(pending, pending.size() - 1, SourceInfo::Snapshot::kLast);
  release();
  for (auto& c : conns) c->Execute("COMMIT");
  offset.snapshot_running = false;
  offset.snapshot_done = true;
  offset.current_table.clear();
  offset.last_key.clear();
  consumer.OnCommit(offset);
  SLOG_INFO("snapshot complete: {} rows from {} table(s)", all_rows, tables.size());
}

bool MySqlCapture::ResumesByGtid(const SourceOffset& offset) const {
  return server_gtids_ && !offset.gtid_set.empty() && (offset.gtid_full || is_mariadb_);
}

std::string MySqlCapture::KeptGtids(const std::string& server_set) const {
  const auto keep = [&](const std::string& src) { return options_.gtid_filter.Keep(src); };
  if (is_mariadb_) return MariaGtidPosition::Parse(server_set).Filter(keep).ToString();
  return server_gtids_ ? MySqlGtidSet::Parse(server_set).Filter(keep).ToString() : std::string();
}

StreamStart MySqlCapture::PlanStart(const SourceOffset& offset) {
  StreamStart start;
  start.file = offset.file;
  start.pos = offset.pos;
  if (!ResumesByGtid(offset)) return start;
  // Sources gtid.source.* leaves out of the offset are skipped: the server's current GTIDs of
  // those sources go into the requested set (as Debezium does).
  const GtidSourceFilter& f = options_.gtid_filter;
  std::string server_set;
  if (f.active()) {
    Connection conn(options_.connection);
    conn.Connect();
    server_set = conn.QueryValue(is_mariadb_ ? "SELECT @@global.gtid_binlog_pos" : "SELECT @@global.gtid_executed")
                     .value_or("");
  }
  const auto excluded = [&](const std::string& src) { return !f.Keep(src); };
  if (is_mariadb_) {
    MariaGtidPosition pos = MariaGtidPosition::Parse(offset.gtid_set);
    if (f.active()) pos.AddMissing(MariaGtidPosition::Parse(server_set).Filter(excluded));
    start.mode = StreamStart::Mode::kMariaGtid;
    start.mariadb_gtid = pos.ToString();
  } else {
    MySqlGtidSet set = MySqlGtidSet::Parse(offset.gtid_set);
    if (f.active()) set.Merge(MySqlGtidSet::Parse(server_set).Filter(excluded));
    start.mode = StreamStart::Mode::kMySqlGtid;
    start.mysql_gtid = set.ToString();
    start.mysql_gtid_encoded = set.Encode();
  }
  return start;
}

std::string MySqlCapture::PurgedSince(Connection& conn, const SourceOffset& offset) {
  const auto keep = [&](const std::string& src) { return options_.gtid_filter.Keep(src); };
  if (is_mariadb_) {
    // The GTID_LIST at the start of the oldest binlog is what was purged before it.
    std::vector<std::string> files = ListBinlogFiles(conn);
    if (files.empty()) return "";
    const MariaGtidPosition purged = MariaGtidPosition::FromState(GtidListAtStartOf(conn, files.front())).Filter(keep);
    const MariaGtidPosition ours = MariaGtidPosition::Parse(offset.gtid_set);
    std::string gaps;
    for (const auto& [domain, g] : purged.domains()) {
      auto it = ours.domains().find(domain);
      if (it != ours.domains().end() && it->second.seq_no < g.seq_no) {
        gaps += fmt::format("{}transactions {}-*-{}..{} of domain {}", gaps.empty() ? "" : ", ", domain,
                            it->second.seq_no + 1, g.seq_no, domain);
      }
    }
    return gaps.empty() ? "" : gaps + fmt::format(", purged before binlog {}", files.front());
  }
  const MySqlGtidSet purged =
      MySqlGtidSet::Parse(conn.QueryValue("SELECT @@global.gtid_purged").value_or("")).Filter(keep);
  const MySqlGtidSet missing = MySqlGtidSet::Parse(offset.gtid_set).Missing(purged);
  return missing.empty() ? "" : "GTIDs " + missing.ToString() + " which the server has purged (@@gtid_purged)";
}

void MySqlCapture::Stream(ChangeConsumer& consumer, SourceOffset offset) {
  // The target for --exit-when-caught-up: the binlog end when streaming starts.
  SourceOffset target;
  {
    Connection conn(options_.connection);
    conn.Connect();
    BinlogCoordinates end = CurrentBinlogEnd(conn, is_mariadb_);
    target.file = end.file;
    target.pos = end.pos;
    target.gtid_set = end.gtid_set;
  }
  SLOG_INFO("streaming the binlog from {} (end of binlog now {}:{})", offset.ToString(), target.file, target.pos);
  int backoff_ms = 500;
  while (!stop_) {
    try {
      StreamOnce(consumer, offset, target);
      return;
    } catch (const Error& e) {
      if (!e.retryable() || stop_) throw;
      SLOG_WARN("{}; reconnecting in {} ms from {}", e.what(), backoff_ms, offset.ToString());
      metrics::RecordError("source", e.what());
      for (int waited = 0; waited < backoff_ms && !stop_; waited += 100) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      backoff_ms = std::min(backoff_ms * 2, 30000);
    }
  }
}

void MySqlCapture::StreamOnce(ChangeConsumer& consumer, SourceOffset& offset, const SourceOffset& target) {
  // `offset` is the last commit passed on; a reconnect restarts from it.
  BinlogStream stream(options_.connection, options_.server_id);
  const StreamStart start = PlanStart(offset);
  const bool by_gtid = start.mode != StreamStart::Mode::kFilePos;
  SLOG_INFO("binlog dump from {}{}", start.ToString(),
            by_gtid ? fmt::format(" (resuming by GTID; stored offset {})", offset.ToString()) : std::string());
  stream.Open(start, /*non_blocking=*/false, options_.heartbeat_ms);

  // The offset's file:pos are coordinates of this stream. After a resume by GTID they may be
  // another server's until the first commit here replaces them; until then only GTIDs compare.
  bool offset_on_stream = !by_gtid;
  if (options_.exit_when_caught_up) {
    bool caught_up = false;
    if (!by_gtid) {
      caught_up = AtOrAfter(offset.file, offset.pos, target.file, target.pos);
    } else {
      const auto keep = [&](const std::string& src) { return options_.gtid_filter.Keep(src); };
      caught_up = is_mariadb_ ? MariaGtidPosition::Parse(offset.gtid_set)
                                    .Covers(MariaGtidPosition::Parse(target.gtid_set).Filter(keep))
                              : MySqlGtidSet::Parse(offset.gtid_set)
                                    .Contains(MySqlGtidSet::Parse(target.gtid_set).Filter(keep));
    }
    if (caught_up) {
      consumer.OnCaughtUp();
      return;
    }
  }
  // After a resume by GTID, the first transaction's coordinates must not be before the stored
  // ones: _version and the schema history are ordered by binlog coordinates.
  bool check_coordinates = by_gtid && !offset.file.empty();

  // Metadata queries cannot share the replication connection (it is busy streaming).
  Connection meta(options_.connection);
  auto meta_conn = [&]() -> Connection* {
    if (!meta.connected()) meta.Connect();
    return &meta;
  };
  BinlogDecoder decoder;
  RowDecoder rows;
  std::string file = offset.file;
  // Structured logs name the event being handled and the table of the rows being decoded.
  uint64_t log_pos = offset.pos;
  std::string log_table;
  ScopedLogPosition log_position_guard(&file, &log_pos);
  ScopedLogTable log_table_guard(&log_table);
  uint32_t file_seq = FileSeq(file);
  // The executed GTIDs up to `offset`, advanced at each commit (only complete sets are kept up
  // to date; see SourceOffset::gtid_full).
  MariaGtidPosition maria_gtids;
  MySqlGtidSet mysql_gtids;
  if (offset.gtid_full || is_mariadb_) {
    if (is_mariadb_) maria_gtids = MariaGtidPosition::Parse(offset.gtid_set);
    else mysql_gtids = MySqlGtidSet::Parse(offset.gtid_set);
  }
  const GtidSourceFilter& gtid_filter = options_.gtid_filter;

  // Transaction state.
  bool in_txn = false;
  std::string txn_gtid;
  uint32_t txn_domain = 0;
  uint32_t txn_server = 0;
  uint64_t txn_seq = 0;
  bool txn_gtid_kept = true;  // the transaction's GTID source passes gtid.source.*
  // Debezium's `source` of an event of the current transaction.
  auto source_at = [&](const EventHeader& h, uint64_t thread_id, std::string_view statement) {
    SourceInfo s;
    s.ts_ms = static_cast<int64_t>(h.timestamp) * 1000;
    s.file = file;
    s.pos = h.position();
    s.gtid = txn_gtid;
    s.server_id = h.server_id;
    s.thread = thread_id;
    s.query = std::string(statement);
    return s;
  };
  uint64_t thread = 0;
  std::string query;
  ChangeChunk chunk;
  TableSchemaPtr chunk_full;
  auto flush = [&] {
    if (!chunk.empty()) {
      metrics_->CountRows(chunk, /*snapshot=*/false);
      consumer.OnRows(std::move(chunk).Project(Emitted(chunk_full), EmittedColumns(chunk_full)));
    }
    chunk = ChangeChunk();
    chunk_full.reset();
  };
  uint32_t event_ts = 0;  // header timestamp of the event being handled
  // heartbeat.action.query: run at most every heartbeat_ms, checked per transaction and heartbeat.
  auto last_action = Clock::now();
  auto heartbeat_action = [&] {
    if (options_.heartbeat_action_query.empty()) return;
    const auto now = Clock::now();
    if (now - last_action < std::chrono::milliseconds(options_.heartbeat_ms)) return;
    last_action = now;
    try {
      meta_conn()->Execute(options_.heartbeat_action_query);
    } catch (const Error& e) {
      if (!e.retryable()) {
        Throw(ErrorKind::kSource, "source.heartbeat.action.query failed: {} (fix the statement or the privileges of "
              "database.user)", e.what());
      }
      SLOG_WARN("source.heartbeat.action.query failed, trying again later: {}", e.what());
      metrics::RecordError("source", e.what());
      meta.Close();
    }
  };
  auto commit = [&](uint64_t next_pos) {
    flush();
    offset.file = file;
    offset.pos = next_pos;
    offset_on_stream = true;
    if (event_ts) offset.ts_ms = static_cast<int64_t>(event_ts) * 1000;
    if (!txn_gtid.empty() && txn_gtid_kept) {
      if (is_mariadb_) {
        maria_gtids.Set(txn_domain, {txn_server, txn_seq});
        offset.gtid_set = maria_gtids.ToString();
        offset.gtid_full = true;
      } else if (offset.gtid_full) {
        mysql_gtids.AddGtid(txn_gtid);
        offset.gtid_set = mysql_gtids.ToString();
      } else {
        offset.gtid_set = txn_gtid;  // no complete set yet (see PREVIOUS_GTIDS below): resume by file:pos
      }
    }
    in_txn = false;
    txn_gtid.clear();
    txn_gtid_kept = true;
    query.clear();
    thread = 0;
    log_table.clear();
    metrics_->Committed(offset);
    consumer.OnCommit(offset);
    heartbeat_action();
    if (options_.exit_when_caught_up && AtOrAfter(offset.file, offset.pos, target.file, target.pos)) {
      consumer.OnCaughtUp();
      stop_ = true;
    }
  };

  // The first transaction after a resume by GTID: its coordinates on this server must not be
  // before the stored offset's.
  auto check_first = [&](const EventHeader& h) {
    check_coordinates = false;
    if (AtOrAfter(file, h.position(), offset.file, offset.pos)) return;
    Throw(ErrorKind::kSource,
          "resumed by GTID ({}) on {}:{}, whose next transaction is at binlog {}:{}, before the stored offset's "
          "coordinates {}:{} (the offset was taken on another server, e.g. before a failover). _version and the "
          "schema history are ordered by binlog coordinates, so rows changed from here on would lose to rows "
          "already delivered. Re-snapshot (set source.snapshot.mode to always for one start, or delete the state "
          "directory). To fail over without a new snapshot, give replicas a binlog numbering above their "
          "primary's (RESET MASTER TO <n> on a fresh replica before it starts replicating)",
          start.ToString(), options_.connection.host, options_.connection.port, file, h.position(), offset.file,
          offset.pos);
  };
  std::vector<std::string_view> pending;  // inner events of a TRANSACTION_PAYLOAD
  while (!stop_) {
    std::string_view raw = stream.Next();
    if (raw.empty()) break;
    BinlogEvent ev = decoder.Decode(raw);
    std::vector<BinlogEvent> events;
    if (const auto* payload = ev.As<TransactionPayloadEvent>()) {
      for (auto inner : payload->events) events.push_back(decoder.DecodeInner(inner));
    } else {
      events.push_back(std::move(ev));
    }
    for (BinlogEvent& e : events) {
      const EventHeader& h = e.header;
      ++metrics_->pending_events[h.type];
      log_pos = h.position();
      if (h.timestamp) event_ts = h.timestamp;
      if (const auto* rot = e.As<RotateEvent>()) {
        file = rot->next_file;
        file_seq = BinlogFileSequence(file);
        if (!in_txn && offset_on_stream &&
            ((h.flags & kLogEventArtificialFlag) == 0 || file_seq > FileSeq(offset.file))) {
          // A real rotate: the next transaction starts in the new file. An artificial one to a
          // later file than the offset's: the server has sent all of the offset's file, which
          // ended without a ROTATE (a STOP at shutdown, or a crash), and goes on in the next.
          // Without this, --exit-when-caught-up would wait forever for a commit after a restart.
          offset.file = file;
          offset.pos = rot->position;
        }
        continue;
      }
      if (const auto* prev = e.As<PreviousGtidsEvent>()) {
        // MySQL: everything executed before this binlog file. Between transactions at the start
        // of a file, it completes an offset that has no full set yet (e.g. stored by an older
        // version, or started by file:pos).
        if (!is_mariadb_ && !in_txn && server_gtids_ && offset_on_stream && (h.flags & kLogEventArtificialFlag) == 0 &&
            offset.file == file) {
          mysql_gtids.Merge(MySqlGtidSet::Parse(prev->ToString()).Filter(
              [&](const std::string& src) { return gtid_filter.Keep(src); }));
          if (!offset.gtid_full) SLOG_INFO("GTID set complete from {}'s PREVIOUS_GTIDS: resumes use GTIDs from now on", file);
          offset.gtid_full = true;
          offset.gtid_set = mysql_gtids.ToString();
        }
      }
      if (e.Is<FormatDescriptionEvent>() || e.Is<PreviousGtidsEvent>() || e.Is<MariaGtidListEvent>() ||
          e.Is<MariaBinlogCheckpointEvent>() || e.Is<StopEvent>()) {
        // Between transactions, the position after these events is a valid resume point; moving
        // to it lets --exit-when-caught-up see that a freshly rotated binlog has been read.
        if (!in_txn && offset_on_stream && h.log_pos > offset.pos && offset.file == file &&
            (h.flags & kLogEventArtificialFlag) == 0) {
          offset.pos = h.log_pos;
          if (options_.exit_when_caught_up && AtOrAfter(offset.file, offset.pos, target.file, target.pos)) {
            consumer.OnCommit(offset);
            consumer.OnCaughtUp();
            stop_ = true;
          }
        }
        continue;
      }
      if (const auto* hb = e.As<HeartbeatEvent>()) {
        if (!in_txn) {
          // Nothing after `offset` in the source right now: once it is acknowledged, the data is
          // as fresh as this moment (the lag stays truthful while captured tables are idle).
          if (offset_on_stream) metrics::PipelineFreshness().SourceIdle(FileSeq(offset.file), offset.pos, metrics::NowMs());
          metrics_->FlushEvents();
          consumer.OnIdle();
        }
        heartbeat_action();
        if (!in_txn && offset_on_stream && options_.exit_when_caught_up) {
          std::string hb_file = hb->log_file.empty() ? file : hb->log_file;
          if (AtOrAfter(hb_file, hb->log_pos, target.file, target.pos) &&
              AtOrAfter(offset.file, offset.pos, hb_file, hb->log_pos)) {
            consumer.OnCaughtUp();
            stop_ = true;
          }
        }
        continue;
      }
      if (const auto* mg = e.As<MariaGtidEvent>()) {
        // MariaDB's GTID event is the BEGIN of its group, unless the group is a standalone
        // statement (DDL) that ends itself.
        in_txn = !mg->standalone();
        thread = 0;  // unknown until a BEGIN says (Debezium writes null)
        txn_gtid = mg->gtid;
        txn_domain = mg->domain_id;
        txn_server = mg->server_id;
        txn_seq = mg->seq_no;
        txn_gtid_kept = gtid_filter.Keep(std::to_string(mg->domain_id));
        if (check_coordinates) check_first(h);
        continue;
      }
      if (const auto* g = e.As<GtidEvent>()) {
        txn_gtid = g->gtid;  // MySQL: BEGIN follows for transactions; DDL comes without one
        txn_gtid_kept = g->anonymous || gtid_filter.Keep(FormatUuid(g->uuid));
        thread = 0;
        if (check_coordinates) check_first(h);
        continue;
      }
      if (const auto* rq = e.As<RowsQueryEvent>()) {
        query.assign(rq->query);
        continue;
      }
      if (const auto* q = e.As<QueryEvent>()) {
        std::string_view sql = q->query;
        auto starts = [&](std::string_view prefix) {
          if (sql.size() < prefix.size()) return false;
          for (size_t i = 0; i < prefix.size(); ++i) {
            if (std::toupper(static_cast<unsigned char>(sql[i])) != prefix[i]) return false;
          }
          return true;
        };
        if (sql == "BEGIN" || starts("XA START")) {
          in_txn = true;
          thread = q->thread_id;  // MySQL logs BEGIN with the session's id; MariaDB has no BEGIN
          continue;
        }
        if (sql == "COMMIT" || starts("XA COMMIT") || sql == "ROLLBACK" || starts("XA ROLLBACK")) {
          commit(h.log_pos);
          continue;
        }
        if (starts("SAVEPOINT") || starts("ROLLBACK TO") || starts("RELEASE SAVEPOINT") || starts("XA END") ||
            starts("XA PREPARE")) {
          continue;  // inside a transaction; nothing to apply
        }
        // DDL (or another statement-logged change). Inside a transaction (e.g. CREATE TEMPORARY
        // TABLE) it does not end it; otherwise it is its own transaction.
        const bool own_txn = !in_txn;
        if (own_txn) flush();
        DdlOutcome ddl = history_->ApplyDdl(std::string(q->database), sql, file_seq, h.log_pos, meta_conn());
        for (const auto& t : ddl.truncated) {
          if (!filter_.IncludeTable(t->database, t->table) || options_.skip_truncates) continue;
          consumer.OnTruncate(Emitted(t), source_at(h, q->thread_id, sql));
        }
        for (auto& [before, after, renames] : ddl.changes) {
          bool in_before = before && filter_.IncludeTable(before->database, before->table);
          bool in_after = after && filter_.IncludeTable(after->database, after->table);
          if (in_before || in_after) {
            log_table = (after ? after : before)->QualifiedName();
            SLOG_INFO("schema change of {}: {}", log_table, sql.substr(0, std::min<size_t>(sql.size(), 300)));
          }
          if (in_before && in_after) {
            // Same table changed, or renamed (names differ: downstream renames its table).
            consumer.OnSchema(Emitted(before), Emitted(after), renames);
          } else {
            // A rename is a drop of the old name and a create of the new one downstream.
            if (in_before) consumer.OnSchema(Emitted(before), nullptr);
            if (in_after) consumer.OnSchema(nullptr, Emitted(after));
          }
        }
        if (own_txn) commit(h.log_pos);
        continue;
      }
      if (e.Is<XidEvent>()) {
        commit(h.log_pos);
        continue;
      }
      if (e.Is<TableMapEvent>()) continue;  // kept by the decoder
      if (const auto* re = e.As<RowsEvent>()) {
        in_txn = true;
        if (!re->table) {
          Throw(ErrorKind::kData, "rows event at {}:{} refers to table id {} without a preceding TABLE_MAP", file,
                h.position(), re->table_id);
        }
        const TableMap& map = *re->table;
        if (!filter_.IncludeTable(map.database, map.table)) continue;
        if (!txn_gtid_kept && options_.gtid_filter_dml) continue;  // gtid.source.filter.dml.events
        // skipped.operations
        if (re->kind == RowsKind::kWrite ? options_.skip_inserts
            : re->kind == RowsKind::kDelete ? options_.skip_deletes
                                            : options_.skip_updates) {
          continue;
        }
        TableSchemaPtr full = history_->Get(map.database, map.table);
        if (!full) {
          // Created before our history started (e.g. filter widened): learn it now.
          full = LoadTableSchema(*meta_conn(), map.database, map.table);
          if (!full) full = SchemaFromTableMap(map);
          SLOG_WARN("table {} was not in the schema history; using its current definition", map.QualifiedName());
          history_->Put(full, file_seq, h.position());
          consumer.OnSchema(nullptr, Emitted(full));
        }
        if (chunk_full != full || chunk.size() >= options_.max_chunk_rows || chunk.ByteSize() >= options_.max_chunk_bytes) {
          flush();
          chunk = ChangeChunk(full);
          chunk_full = full;
          log_table = full->QualifiedName();
        }
        uint32_t si = chunk.AddSource(source_at(h, thread, query));
        const uint64_t event_pos = h.position();
        RowsDecodeResult r = rows.Decode(*re, map, full, chunk, si, [&](uint32_t row) {
          return MakeVersion(file_seq, event_pos, row);
        });
        if (!r.all_present) {
          Throw(ErrorKind::kSource,
                "rows event at {}:{} for {} does not carry every column (binlog_row_image is not FULL for the "
                "session that wrote it). Set binlog_row_image=FULL globally and for all sessions; sluice stops "
                "rather than write incomplete rows",
                file, event_pos, map.QualifiedName());
        }
        continue;
      }
      if (const auto* inc = e.As<IncidentEvent>()) {
        Throw(ErrorKind::kSource, "the source logged an INCIDENT at {}:{} ({}): it lost events; re-snapshot",
              file, h.position(), inc->message);
      }
      if (const auto* sk = e.As<SkippedEvent>()) {
        if (!sk->known) SLOG_WARN("skipping binlog event {} at {}:{}: {}", EventTypeName(h.type), file, h.position(), sk->reason);
        continue;
      }
    }
  }
  flush();
}

}  // namespace sluice::mysql
