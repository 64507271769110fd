#include "pipeline/commands.h"

#include <csignal>
#include <filesystem>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include <yaml-cpp/yaml.h>

#include "bus/embedded_queue.h"
#include "clickhouse/sink.h"
#include "common/config.h"
#include "common/crash_point.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_server.h"
#include "event/debezium_json.h"
#include "mysql/capture.h"
#include "mysql/source_info.h"
#include "pipeline/capture_messages.h"
#include "pipeline/kafka_commands.h"
#include "pipeline/pipelined_consumer.h"
#include "pipeline/transform_command.h"
#include "pipeline/view_stage.h"
#include "state/state_store.h"

namespace sluice::pipeline {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};  ///< SIGHUP: `run` re-reads its config at the next commit
mysql::MySqlCapture* g_capture = nullptr;

void OnSignal(int) {
  g_stop = true;
  if (g_capture) g_capture->Stop();
}

}  // namespace

Config LoadConfig(const CommonFlags& flags, bool source_connection) {
  Config c = Config::LoadFile(flags.config_path, source_connection);
  for (const auto& w : c.warnings()) SLOG_WARN("{}", w);
  return c;
}

DebeziumOptions DebeziumFromConfig(const Config& c) {
  std::map<std::string, std::string> props;
  for (const char* k : {"topic.prefix", "decimal.handling.mode", "time.precision.mode", "bigint.unsigned.handling.mode",
                        "binary.handling.mode", "tombstones.on.delete", "schemas.enable", "include.query",
                        "enable.time.adjuster", "provide.transaction.metadata", "topic.transaction"}) {
    props[k] = c.GetString("source", k);
  }
  // Only `sluice sink` may load a config without topic.prefix (Config::LoadFile's
  // source_connection): it reads topics named by sink.topics(.regex) and encodes none.
  if (props["topic.prefix"].empty()) props["topic.prefix"] = "sluice";
  return ParseDebeziumOptions(props);
}

clickhouse::SinkOptions SinkFromConfig(const Config& c) {
  if (!c.HasSection("sink")) {
    Throw(ErrorKind::kConfig, "{}: `sluice run` needs a `sink` section (type: clickhouse, hostname, database, ...)",
          c.file());
  }
  YAML::Node n;
  for (const auto& [k, v] : c.Entries("sink")) {
    if (k == "tables" || k == "buffer.max.bytes" || IsKafkaSinkKey(k)) continue;  // tables below; the rest is the pipeline's
    n[k] = v;
  }
  // Defaults of keys not written, so the sink sees the documented defaults.
  for (const auto& spec : ConfigSpec()) {
    if (std::string(spec.section) != "sink" || spec.type == ConfigType::kMap || !spec.default_value) continue;
    if (std::string(spec.key) == "buffer.max.bytes" || IsKafkaSinkKey(spec.key)) continue;
    if (!c.Has("sink", spec.key)) n[spec.key] = spec.default_value;
  }
  const auto configured = c.GetMap("sink", "tables");
  for (const auto& [table, settings] : configured) {
    for (const auto& [k, v] : settings) n["tables"][table][k] = v;
  }
  // RisingWave's CREATE SINK ... FROM view WITH (connector = 'clickhouse', clickhouse.table = t,
  // clickhouse.database = d) in transform.sql names the view's table; sink.tables, when it names
  // the view too, wins.
  for (const auto& d : DeclaredSinks(c)) {
    if (d.options.count("connector") == 0 || d.options.at("connector") != "clickhouse") continue;
    if (configured.count(d.from)) continue;
    for (const auto& [opt, key] : {std::pair{"clickhouse.table", "table"}, {"clickhouse.database", "database"}}) {
      if (d.options.count(opt) && !d.options.at(opt).empty()) n["tables"][d.from][key] = d.options.at(opt);
    }
  }
  return clickhouse::SinkOptions::FromYaml(n);
}

std::unique_ptr<StateStore> OpenState(const Config& config) {
  return StateStore::Open(config.GetPath("state", "dir"), /*read_only=*/false,
                          static_cast<uint64_t>(std::max<int64_t>(0, config.GetInt("state", "min.free.bytes"))));
}

size_t CaptureQueueBytes(const Config& config) {
  return static_cast<size_t>(std::clamp<int64_t>(config.GetInt("bus", "queue.max.bytes"), 1, 16 << 20));
}

std::vector<TableSchemaPtr> LoadEmittedSchemas(const mysql::CaptureOptions& options, const mysql::TableFilter& filter) {
  mysql::Connection conn(options.connection);
  conn.Connect();
  std::vector<TableSchemaPtr> r;
  for (const auto& t : mysql::LoadSchemas(conn, filter)) r.push_back(mysql::EmittedSchema(t, filter));
  return r;
}

namespace {

std::string StatePrefix(const char* command) { return std::string(command) + "/"; }

/// Progress through the queue between the capture thread and the sink thread.
using Item = std::variant<ChangeChunk, SchemaMsg, TruncateMsg, CommitMsg, CaughtUpMsg>;

class QueueConsumer : public mysql::ChangeConsumer {
 public:
  explicit QueueConsumer(BoundedQueue<Item>& q) : q_(q) {}
  void OnRows(ChangeChunk&& chunk) override {
    size_t bytes = chunk.ByteSize();
    if (!q_.Push(Item(std::move(chunk)), bytes)) Interrupted();
  }
  void OnSchema(const TableSchemaPtr& before, const TableSchemaPtr& after,
                const std::map<std::string, std::string>& renames) override {
    if (!q_.Push(Item(SchemaMsg{before, after, renames}), 256)) Interrupted();
  }
  void OnTruncate(const TableSchemaPtr& table, const SourceInfo& at) override {
    if (!q_.Push(Item(TruncateMsg{table, at}), 256)) Interrupted();
  }
  void OnCommit(const mysql::SourceOffset& offset) override {
    if (!q_.Push(Item(CommitMsg{offset}), 256)) Interrupted();
  }
  void OnCaughtUp() override { q_.Push(Item(CaughtUpMsg{}), 0); }

 private:
  [[noreturn]] void Interrupted() { throw Error(ErrorKind::kInternal, "the sink stopped; capture interrupted"); }
  BoundedQueue<Item>& q_;
};

/// Writes Debezium JSON lines to stdout; offsets are stored once the lines are flushed.
class JsonlConsumer : public mysql::ChangeConsumer {
 public:
  JsonlConsumer(DebeziumOptions options, StateStore* state, std::string key)
      : encoder_(std::move(options)), state_(state), key_(std::move(key)) {}
  void OnRows(ChangeChunk&& chunk) override {
    if (encoder_.options().provide_transaction_metadata && !encoder_.in_transaction() && !chunk.empty() &&
        chunk.source(0).snapshot == SourceInfo::Snapshot::kFalse) {
      txn_ts_ms_ = chunk.source(0).ts_ms;
      encoder_.BeginTransaction(DebeziumTransactionId(chunk.source(0)));
      AppendJsonLine(encoder_.TransactionRecord(true, txn_ts_ms_), &buf_);
    }
    // Written out every MiB: a large transaction's chunk does not grow the buffer to its size.
    encoder_.EncodeChunk(chunk, [&](const DebeziumRecord& r) {
      AppendJsonLine(r, &buf_);
      if (buf_.size() > (1u << 20)) Write();
    });
  }
  void OnSchema(const TableSchemaPtr&, const TableSchemaPtr&, const std::map<std::string, std::string>&) override {}
  /// Debezium's truncate event (op "t"): written unless skipped.operations lists t explicitly.
  void OnTruncate(const TableSchemaPtr& table, const SourceInfo& at) override {
    AppendJsonLine(encoder_.EncodeTruncate(table, at), &buf_);
  }
  void OnCommit(const mysql::SourceOffset& offset) override {
    if (encoder_.in_transaction()) AppendJsonLine(encoder_.TransactionRecord(false, txn_ts_ms_), &buf_);
    pending_ = offset;
    has_pending_ = true;
    auto now = std::chrono::steady_clock::now();
    if (buf_.size() > (256u << 10) || now - last_ > std::chrono::milliseconds(200)) Checkpoint();
  }
  void OnCaughtUp() override { Checkpoint(); }
  void OnIdle() override { Checkpoint(); }
  void OnSnapshotStart(const mysql::SourceOffset& offset) override {
    OnCommit(offset);
    Checkpoint();  // stored before the first snapshot line is written
  }
  void Checkpoint() {
    Write();
    if (std::fflush(stdout) != 0) Throw(ErrorKind::kInternal, "writing to stdout failed: {}", std::strerror(errno));
    if (has_pending_) {
      state_->Put(key_, pending_.Serialize());
      mysql::ReportAcked(pending_);  // metrics: acked position and lag
      has_pending_ = false;
    }
    last_ = std::chrono::steady_clock::now();
  }

 private:
  void Write() {
    if (buf_.empty()) return;
    if (std::fwrite(buf_.data(), 1, buf_.size(), stdout) != buf_.size()) {
      Throw(ErrorKind::kInternal, "writing to stdout failed: {}", std::strerror(errno));
    }
    buf_.clear();
  }
  DebeziumEncoder encoder_;
  StateStore* state_;
  std::string key_;
  std::string buf_;
  mysql::SourceOffset pending_;
  bool has_pending_ = false;
  int64_t txn_ts_ms_ = 0;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

mysql::SourceOffset LoadOffset(StateStore& state, const std::string& key) {
  auto v = state.Get(key);
  if (!v) return {};
  return mysql::SourceOffset::Parse(*v);
}

}  // namespace

bool StopRequested() { return g_stop; }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = [](int) { g_reload = true; };
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int Capture(const CommonFlags& flags, const std::string& output) {
  if (output.empty()) return CaptureToKafka(flags);  // pipeline/kafka_commands.cpp
  Config config = LoadConfig(flags);
  auto metrics_server = metrics::StartMetricsServer(config);  // null without a `metrics` section
  DebeziumOptions dopts = DebeziumFromConfig(config);
  mysql::TableFilter filter(config);
  auto options = mysql::CaptureOptions::FromConfig(config);
  options.exit_when_caught_up = flags.exit_when_caught_up;
  auto state = OpenState(config);
  const std::string prefix = StatePrefix("capture");
  mysql::MySqlCapture capture(options, filter, state.get(), prefix);
  g_capture = &capture;
  if (g_stop) capture.Stop();
  JsonlConsumer consumer(dopts, state.get(), prefix + "offset");
  mysql::SourceOffset resume = LoadOffset(*state, prefix + "offset");
  (void)output;
  {
    // Large chunks are encoded and written on a second thread while this one decodes on.
    PipelinedConsumer pipelined(consumer, CaptureQueueBytes(config));
    capture.Run(pipelined, resume);
    pipelined.Finish();
  }
  consumer.Checkpoint();
  g_capture = nullptr;
  return 0;
}

int Run(const CommonFlags& flags) {
  Config config = LoadConfig(flags);
  auto metrics_server = metrics::StartMetricsServer(config);  // null without a `metrics` section
  mysql::TableFilter filter(config);
  auto options = mysql::CaptureOptions::FromConfig(config);
  options.exit_when_caught_up = flags.exit_when_caught_up;
  auto sink_owner = std::make_unique<clickhouse::ClickHouseSink>(SinkFromConfig(config));
  clickhouse::ClickHouseSink* sink = sink_owner.get();
  sink->SetCancelFlag(&g_stop);
  // ClickHouse first: a wrong password or an unreachable server stops us before reading anything.
  sink->Connect();
  auto state = OpenState(config);
  const std::string prefix = StatePrefix("run");
  const std::string offset_key = prefix + "offset";
  mysql::SourceOffset resume = LoadOffset(*state, offset_key);
  if (!resume.empty()) SLOG_INFO("resuming from {}", resume.ToString());

  // Views (transform.sql), compiled against the captured tables' current schemas; each view is a
  // ClickHouse table like a captured one. New or changed views are backfilled before streaming.
  std::unique_ptr<ViewStage> views;
  bool views_fresh = resume.empty();
  auto delay = std::chrono::milliseconds(config.GetInt("sink", "batch.max.delay.ms"));
  size_t buffer_budget = static_cast<size_t>(config.GetInt("sink", "buffer.max.bytes"));
  auto reset_view_table = [&](const TableSchema& t) { sink->ResetTable(t); };
  auto write_view_chunk = [&](ChangeChunk&& c) {
    sink->Write(c);
    if (sink->BufferedBytes() > buffer_budget) sink->Flush();
  };
  auto store_view_state = [&] { views->CommitState({}); };
  if (!config.GetList("transform", "sql").empty()) {
    views = std::make_unique<ViewStage>(config, LoadEmittedSchemas(options, filter));
    const auto rebuild = views->Restore(*state, prefix, !resume.empty(), resume.snapshot_running,
                                        static_cast<size_t>(config.GetInt("transform", "memory.max.bytes")));
    // A first start derives every view anew; otherwise the views being rebuilt get new tables below.
    for (const auto& s : views->OutputSchemas(rebuild)) {
      if (resume.empty()) {
        sink->ResetTable(*s);
      } else {
        sink->EnsureTable(*s);
      }
    }
    if (!rebuild.empty()) {
      views->Backfill(rebuild, options, reset_view_table, write_view_chunk);
      sink->Flush();
      store_view_state();
    }
  }

  // SIGHUP: re-read the config; views and sink settings change without a restart (new or changed
  // views are backfilled, removed ones dropped); source, bus and state changes wait for a restart.
  auto reload = [&] {
    SLOG_INFO("SIGHUP: reloading {}", flags.config_path);
    std::unique_ptr<Config> next;
    std::unique_ptr<ViewStage> next_views;
    std::unique_ptr<clickhouse::ClickHouseSink> next_sink;
    try {
      next = std::make_unique<Config>(LoadConfig(flags));
      if (!next->GetList("transform", "sql").empty()) {
        next_views = std::make_unique<ViewStage>(*next, LoadEmittedSchemas(options, filter));
      }
      next_sink = std::make_unique<clickhouse::ClickHouseSink>(SinkFromConfig(*next));
      next_sink->SetCancelFlag(&g_stop);
      next_sink->Connect();
    } catch (const Error& e) {
      SLOG_ERROR("reload failed; the running configuration stays in effect: {}", e.what());
      return;
    }
    for (const char* section : {"source", "bus", "state"}) {
      if (next->Entries(section) != config.Entries(section)) {
        SLOG_WARN("reload: section '{}' changed; that takes effect at the next restart", section);
      }
    }
    sink->Flush();
    sink_owner = std::move(next_sink);
    sink = sink_owner.get();
    delay = std::chrono::milliseconds(next->GetInt("sink", "batch.max.delay.ms"));
    buffer_budget = static_cast<size_t>(next->GetInt("sink", "buffer.max.bytes"));
    // Its state goes with the offset the checkpoint before stored (written now if that
    // checkpoint, in a running snapshot, left it out).
    if (views && views->StateVolatile()) views->CommitState({});
    views.reset();
    views = std::move(next_views);
    std::vector<std::string> rebuild;
    if (views) {
      rebuild = views->Restore(*state, prefix, /*have_offset=*/true, /*snapshot_resumed=*/false,
                               static_cast<size_t>(next->GetInt("transform", "memory.max.bytes")));
      for (const auto& s : views->OutputSchemas(rebuild)) sink->EnsureTable(*s);
      if (!rebuild.empty()) {
        views->Backfill(rebuild, options, reset_view_table, write_view_chunk);
        sink->Flush();
      }
      store_view_state();
    }
    SLOG_INFO("reloaded {}: {} view(s), {} rebuilt; sink settings applied", flags.config_path,
              views ? views->size() : 0, rebuild.size());
  };

  BoundedQueue<Item> queue(static_cast<size_t>(config.GetInt("bus", "queue.max.bytes")));
  mysql::MySqlCapture capture(options, filter, state.get(), prefix);
  g_capture = &capture;
  if (g_stop) capture.Stop();
  std::exception_ptr capture_error;
  std::thread capture_thread([&] {
    QueueConsumer consumer(queue);
    try {
      capture.Run(consumer, resume);
    } catch (...) {
      capture_error = std::current_exception();
    }
    queue.Close();
  });

  // The sink stage runs here: write, flush at commit boundaries, then store the offset.
  mysql::SourceOffset pending;
  bool has_pending = false;
  bool caught_up = false;
  bool checkpoint_next_commit = false;
  auto last_flush = std::chrono::steady_clock::now();
  std::vector<std::string> rebuild_views;  // views reading a truncated table
  bool in_txn = false;                     // rows received since the last commit
  auto checkpoint = [&] {
    sink->Flush();
    if (has_pending) {
      // The views' state goes with the offset it corresponds to, in one atomic write.
      std::vector<std::pair<std::string, std::string>> puts{{offset_key, pending.Serialize()}};
      SLUICE_CRASH_POINT("checkpoint.before_offset_write");
      if (views && !(pending.snapshot_running && views->StateVolatile())) {
        views->CommitState(std::move(puts));
      } else {
        // Views fed by a snapshot that is still running: a crash rebuilds them all (Restore), so
        // their state is written once, with the first offset past the snapshot.
        state->Write(puts);
      }
      SLUICE_CRASH_POINT("checkpoint.after_offset_write");
      mysql::ReportAcked(pending);  // metrics: acked position and lag
      has_pending = false;
    }
    last_flush = std::chrono::steady_clock::now();
  };
  std::exception_ptr sink_error;
  try {
    while (true) {
      auto item = queue.Pop(std::chrono::milliseconds(100));
      if (!item) {
        if (queue.closed()) {
          item = queue.Pop(std::chrono::milliseconds(0));  // closed: anything left is returned at once
          if (!item) break;
        } else {
          if (has_pending && std::chrono::steady_clock::now() - last_flush >= delay) checkpoint();
          if (!in_txn && g_reload.exchange(false)) {  // idle between transactions
            checkpoint();
            reload();
          }
          continue;
        }
      }
      if (auto* chunk = std::get_if<ChangeChunk>(&*item)) {
        in_txn = true;
        if (views) {
          if (!views_fresh && !chunk->empty() && chunk->source(0).snapshot == SourceInfo::Snapshot::kFirst) {
            SLOG_INFO("the source is snapshotted again: the views start over");
            views->Reset(reset_view_table);
          }
          views_fresh = true;
          views->Push(*chunk);
        }
        sink->Write(*chunk);
        // Memory bound across tables: buffers are inserted early (safe: replays collapse by
        // _version) when together they exceed the budget; the offset waits for the next commit.
        if (sink->BufferedBytes() > buffer_budget) sink->Flush();
      } else if (auto* s = std::get_if<SchemaMsg>(&*item)) {
        // The DDL's own commit follows; store it right away so a restart never replays rows of
        // the old shape into the altered ClickHouse table.
        checkpoint_next_commit = true;
        if (s->after && !s->before) {
          sink->EnsureTable(*s->after);
        } else if (s->after && s->before && s->before->QualifiedName() != s->after->QualifiedName()) {
          sink->RenameTable(*s->before, *s->after);
          if (s->before->columns.size() != s->after->columns.size()) sink->ApplySchemaChange(*s->before, *s->after);
        } else if (s->after && s->before) {
          sink->ApplySchemaChange(*s->before, *s->after, s->renames);
        } else if (s->before) {
          SLOG_WARN("table {} was dropped in the source; its ClickHouse table is kept", s->before->QualifiedName());
        }
      } else if (auto* t = std::get_if<TruncateMsg>(&*item)) {
        sink->Truncate(*t->table);
        if (views) {
          for (auto& v : views->ReadersOf(*t->table)) rebuild_views.push_back(v);
        }
        checkpoint_next_commit = true;
      } else if (auto* c = std::get_if<CommitMsg>(&*item)) {
        in_txn = false;
        if (views) {
          std::vector<ChangeChunk> out;
          views->Commit(out);
          for (auto& v : out) sink->Write(v);
        }
        pending = c->offset;
        has_pending = true;
        if (!rebuild_views.empty()) {
          // A TRUNCATE of a view's source is not in the binlog row by row: rebuild those views
          // from a consistent read now; they skip the changes that read already holds.
          checkpoint();
          views->Backfill(rebuild_views, options, reset_view_table, write_view_chunk);
          rebuild_views.clear();
          sink->Flush();
          store_view_state();
        }
        if (checkpoint_next_commit || sink->FlushDue() || std::chrono::steady_clock::now() - last_flush >= delay) {
          checkpoint();
          checkpoint_next_commit = false;
        }
        if (g_reload.exchange(false)) {
          // SIGHUP, at a transaction boundary: everything so far is in ClickHouse and stored.
          checkpoint();
          reload();
        }
      } else if (std::holds_alternative<CaughtUpMsg>(*item)) {
        caught_up = true;
        checkpoint();
        if (flags.exit_when_caught_up) {
          capture.Stop();
        }
      }
    }
    checkpoint();
  } catch (...) {
    sink_error = std::current_exception();
    capture.Stop();
    queue.Close();
  }
  capture_thread.join();
  g_capture = nullptr;
  if (sink_error && g_stop) {
    try {
      std::rethrow_exception(sink_error);
    } catch (const Error& e) {
      // SIGINT/SIGTERM while ClickHouse was failing: stop now; the stored offset is where the next
      // start resumes, so nothing is lost.
      SLOG_WARN("stopped before ClickHouse took the last batch ({}); the next start resumes from {}", e.what(),
                LoadOffset(*state, offset_key).ToString());
      return 0;
    }
  }
  if (sink_error) std::rethrow_exception(sink_error);
  if (capture_error) std::rethrow_exception(capture_error);
  if (views) SLOG_INFO("{}", views->StateSummary());
  const auto& st = sink->stats();
  SLOG_INFO("stopped{}: {} rows in {} inserts ({} bytes), {} retries; offset {}", caught_up ? " (caught up)" : "",
            st.rows_inserted, st.inserts, st.bytes_inserted, st.retries,
            LoadOffset(*state, offset_key).ToString());
  return 0;
}

/// `sluice check`'s part for the source database: reachable, configured for CDC, tables to capture.
static void CheckSource(const Config& config, std::vector<std::string>& problems) {
  try {
    mysql::TableFilter filter(config);
    auto options = mysql::CaptureOptions::FromConfig(config);
    mysql::Connection conn(options.connection);
    conn.Connect();
    auto facts = mysql::ValidateSource(conn, options.server_id);
    auto tables = mysql::LoadSchemas(conn, filter);
    std::printf("source %s:%d: ok (%s, %zu table(s) match the filters)\n", options.connection.host.c_str(),
                options.connection.port, facts.version.c_str(), tables.size());
    if (tables.empty()) {
      problems.push_back("no table matches database.include.list / table.include.list: nothing would be captured");
    }
    for (const auto& t : tables) {
      if (t->primary_key.empty()) {
        std::printf("  warning: %s has no primary key (events get a null key; the sink needs "
                    "sink.tables.\"%s\".order.by)\n", t->QualifiedName().c_str(), t->QualifiedName().c_str());
      }
    }
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
}

int Check(const CommonFlags& flags) {
  std::vector<std::string> problems;
  // A config for `sluice sink` alone (Kafka, no database connection, no views) needs no `source`
  // connection settings; every other one does. Either load throws with every problem listed.
  // So does one for `sluice transform` alone: it reads the tables' columns from their topics.
  Config config = Config::LoadFile(flags.config_path, /*source_connection=*/false);
  const bool no_source = config.GetString("bus", "type") == "kafka" && !config.Has("source", "database.hostname");
  const bool sink_only = no_source && config.GetList("transform", "sql").empty();
  config = LoadConfig(flags, !no_source);  // its warnings logged once
  std::printf("config %s: ok\n", flags.config_path.c_str());
  if (sink_only) {
    std::printf("source: none (no source.database.hostname: a config for `sluice sink` alone)\n");
  } else if (no_source) {
    std::printf("source: none (no source.database.hostname: `sluice transform` reads the tables' columns from "
                "their topics)\n");
  } else {
    CheckSource(config, problems);
  }
  if (!config.GetList("transform", "sql").empty()) {
    try {
      ViewStage views(config, no_source ? SchemasFromTopics(config, kafka::KafkaSettingsFromConfig(config, "transform"))
                                        : LoadEmittedSchemas(mysql::CaptureOptions::FromConfig(config),
                                                             mysql::TableFilter(config)));
      std::printf("views: ok (%zu view(s) in transform.sql)\n", views.size());
      const int64_t parallelism = config.GetInt("transform", "parallelism");
      if (parallelism > 1) {
        // As `sluice transform` divides them (docs/OPERATIONS.md).
        const auto info = views.Describe();
        const std::set<std::string> shards = SplitViews(info);
        std::vector<std::string> split, whole;
        for (const auto& v : info) (shards.count(v.name) ? split : whole).push_back(v.name);
        std::printf("transform.parallelism %lld: split into %lld shards: %s; whole: %s\n",
                    static_cast<long long>(parallelism), static_cast<long long>(parallelism),
                    split.empty() ? "none" : fmt::format("{}", fmt::join(split, ", ")).c_str(),
                    whole.empty() ? "none" : fmt::format("{}", fmt::join(whole, ", ")).c_str());
      }
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  if (config.HasSection("sink")) {
    try {
      clickhouse::ClickHouseSink sink(SinkFromConfig(config));
      sink.Connect();
      std::printf("sink ClickHouse %s:%lld: ok (version %s)\n", config.GetString("sink", "hostname").c_str(),
                  static_cast<long long>(config.GetInt("sink", "port")), sink.features().version.ToString().c_str());
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  if (config.GetString("bus", "type") == "kafka") {
    try {
      std::printf("%s\n", CheckKafka(config).c_str());  // pipeline/kafka_commands.cpp
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  try {
    auto state = OpenState(config);
    std::printf("state %s: ok\n", config.GetPath("state", "dir").c_str());
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
  if (!problems.empty()) {
    std::fflush(stdout);
    std::fprintf(stderr, "%zu problem%s:\n", problems.size(), problems.size() == 1 ? "" : "s");
    for (const auto& p : problems) std::fprintf(stderr, "  - %s\n", p.c_str());
    return 1;
  }
  return 0;
}

namespace {

/// Prints the views whose state `state` stores under `cmd`'s prefix (`label` names the section).
void PrintViewStatus(StateStore& state, const char* cmd, const std::string& label) {
  const std::string vp = StatePrefix(cmd) + "views/";
  std::map<std::string, std::map<std::string, std::string>> views;
  for (auto& [k, v] : state.Scan(vp)) {
    const std::string rest = k.substr(vp.size());
    const size_t slash = rest.find('/');
    if (slash != std::string::npos) views[rest.substr(0, slash)][rest.substr(slash + 1)] = v;
  }
  if (views.empty()) return;
  std::printf("views (%s):\n", label.c_str());
  for (auto& [name, parts] : views) {
    unsigned long long skip = 0;
    std::sscanf(parts["meta"].c_str(), "%llu", &skip);
    const std::string shown = parts.count("name") ? parts["name"] : name;
    if (!parts.count("def")) {
      std::printf("  %s: being rebuilt (an interrupted backfill restarts at the next start)\n", shown.c_str());
    } else if (skip > 0) {
      std::printf("  %s: maintained; rebuilt from a consistent read at binlog file #%llu position %llu\n",
                  shown.c_str(), skip >> 32, (skip & 0xffffffffULL));
    } else {
      std::printf("  %s: maintained since the first snapshot\n", shown.c_str());
    }
  }
}

}  // namespace

int Status(const CommonFlags& flags) {
  Config config = LoadConfig(flags, /*source_connection=*/false);  // reads the state directory only
  const std::string dir = config.GetPath("state", "dir");
  // `sluice transform` with transform.parallelism > 1 keeps one state directory per task under
  // tasks/ (and none of its own unless it ran with parallelism 1 before).
  const std::filesystem::path tasks = std::filesystem::path(dir) / "tasks";
  const bool has_tasks = std::filesystem::is_directory(tasks);
  if (!has_tasks || std::filesystem::exists(std::filesystem::path(dir) / "CURRENT")) {
    auto state = StateStore::Open(dir, /*read_only=*/true);
    for (const char* cmd : {"run", "capture"}) {
      auto v = state->Get(StatePrefix(cmd) + "offset");
      if (!v) continue;
      auto o = mysql::SourceOffset::Parse(*v);
      std::printf("%s:\n  position: %s:%llu\n  gtid: %s\n  snapshot: %s\n", cmd, o.file.c_str(),
                  static_cast<unsigned long long>(o.pos), o.gtid_set.empty() ? "-" : o.gtid_set.c_str(),
                  o.snapshot_done ? "done"
                  : o.snapshot_running
                      ? fmt::format("in progress ({} tables done, at {}, {} rows)", o.tables_done.size(),
                                    o.current_table, o.rows_done)
                            .c_str()
                      : "not started");
      if (o.ts_ms > 0) std::printf("  source commit time: %s\n", metrics::IsoTime(o.ts_ms).c_str());
    }
    // Views whose state is stored (by `run` or `transform`), with where a rebuilt view took over.
    for (const char* cmd : {"run", "transform"}) PrintViewStatus(*state, cmd, cmd);
  }
  if (has_tasks) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(tasks)) {
      if (e.is_directory()) names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      auto task = StateStore::Open((tasks / n).string(), /*read_only=*/true);
      PrintViewStatus(*task, "transform", "transform task " + n);
    }
  }
  if (config.GetString("bus", "type") == "kafka") {
    try {
      std::printf("%s", KafkaStatus(config).c_str());  // pipeline/kafka_commands.cpp: the sink group's lag
    } catch (const Error& e) {
      std::printf("sink (Kafka): %s\n", e.what());
    }
  }
  std::printf("%s", metrics::FetchLiveStatus(config).c_str());  // lag, rates, last error of a running sluice
  return 0;
}

}  // namespace sluice::pipeline
