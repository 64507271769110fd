#include "pipeline/kafka_commands.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <regex>
#include <set>
#include <thread>
#include <unordered_map>

#include "bus/kafka_admin.h"
#include "bus/kafka_config.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_producer.h"
#include "clickhouse/sink.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics_server.h"
#include "event/debezium_json.h"
#include "event/debezium_reader.h"
#include "mysql/capture.h"
#include "mysql/source_info.h"
#include "pipeline/commands.h"
#include "pipeline/pipelined_consumer.h"
#include "state/state_store.h"

namespace sluice::pipeline {

bool IsKafkaSinkKey(std::string_view key) {
  return key == "topics" || key == "topics.regex" || key == "group.id" || key == "errors.deadletterqueue.topic.name";
}

namespace {

using Clock = std::chrono::steady_clock;

/// Stops `capture` when SIGINT/SIGTERM arrives (the capture may be blocked reading the binlog).
class StopWatcher {
 public:
  explicit StopWatcher(mysql::MySqlCapture& capture)
      : thread_([this, &capture] {
          while (!done_) {
            if (StopRequested()) capture.Stop();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        }) {}
  ~StopWatcher() {
    done_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// ---- capture -> Kafka ----------------------------------------------------------------------------

/// Produces Debezium records to Kafka; stores the source offset of a transaction only once every
/// record produced before it was acknowledged by the brokers (at-least-once into Kafka: a crash
/// re-sends from the stored offset, and the re-sent records carry the same _version).
class KafkaCaptureConsumer : public mysql::ChangeConsumer {
 public:
  KafkaCaptureConsumer(DebeziumOptions options, kafka::KafkaProducer& producer, kafka::TopicSettings topics,
                       StateStore* state, std::string key)
      : encoder_(std::move(options)),
        producer_(producer),
        topics_(std::move(topics)),
        state_(state),
        key_(std::move(key)) {}

  void OnRows(ChangeChunk&& chunk) override {
    const TableInfo& info = InfoFor(chunk.schema());
    if (encoder_.options().provide_transaction_metadata && !encoder_.in_transaction() && !chunk.empty() &&
        chunk.source(0).snapshot == SourceInfo::Snapshot::kFalse) {
      txn_ts_ms_ = chunk.source(0).ts_ms;
      encoder_.BeginTransaction(DebeziumTransactionId(chunk.source(0)));
      ProduceTransactionRecord(true);
    }
    encoder_.EncodeChunk(chunk, [&](const DebeziumRecord& r) {
      headers_.clear();
      headers_.push_back({kSchemaHeader, info.header});
      if (!r.header_name.empty()) headers_.push_back({r.header_name, r.header_value});
      producer_.Produce(r.topic, r.key_is_null ? nullptr : &r.key, r.value_is_null ? nullptr : &r.value, headers_);
    });
    ++records_batches_;
  }
  void OnSchema(const TableSchemaPtr&, const TableSchemaPtr& after,
                const std::map<std::string, std::string>& renames) override {
    if (!after) return;
    // Every later schema of the table carries all renames seen so far (old name -> current name):
    // a sink may meet rows of any older shape after a newer one (partitions are not ordered), and
    // needs the chain to put their values in the right columns.
    auto& chain = renames_[after->QualifiedName()];
    for (const auto& [from, to] : renames) {
      for (auto& [old_name, cur] : chain) {
        if (cur == from) cur = to;
      }
      chain[from] = to;
    }
    std::erase_if(chain, [](const auto& kv) { return kv.first == kv.second; });
    InfoFor(after, chain);  // the topic exists from the start, also for an empty table
  }
  /// Debezium's truncate event (op "t", key null), once to every partition of the table's topic:
  /// each partition holds some of the table's earlier rows, and a sink reading it must know that
  /// its rows before the truncate are gone (partitions are not ordered among themselves).
  void OnTruncate(const TableSchemaPtr& table, const SourceInfo& at) override {
    const TableInfo& info = InfoFor(table);
    const DebeziumRecord r = encoder_.EncodeTruncate(table, at);
    const std::string topic(r.topic);
    int partitions = 1;
    for (const auto& [name, n] : kafka::ListTopics(producer_.handle())) {
      if (name == topic) partitions = std::max(n, 1);
    }
    headers_.clear();
    headers_.push_back({kSchemaHeader, info.header});
    for (int p = 0; p < partitions; ++p) producer_.Produce(topic, nullptr, &r.value, headers_, p);
    SLOG_INFO("TRUNCATE of {}: truncate event sent to the {} partition(s) of {}", table->QualifiedName(), partitions,
              topic);
  }
  void OnCommit(const mysql::SourceOffset& offset) override {
    if (encoder_.in_transaction()) ProduceTransactionRecord(false);
    commits_.push_back({producer_.produced(), offset});
    producer_.Poll(0);
    Advance(false);
    Heartbeat();
  }
  void OnCaughtUp() override { Checkpoint(); }
  void OnSnapshotStart(const mysql::SourceOffset& offset) override {
    Checkpoint();  // nothing of the new snapshot is produced yet: store its start right away
    state_->Put(key_, offset.Serialize());
    last_store_ = Clock::now();
  }
  void OnIdle() override {
    Checkpoint();
    Heartbeat();
  }

  /// Debezium's heartbeat (heartbeat.interval.ms): key {"serverName": <topic.prefix>}, value
  /// {"ts_ms": <now>} on <topic.heartbeat.prefix>.<topic.prefix>; lets consumers see the capture is
  /// alive on an idle source.
  void EnableHeartbeat(int64_t interval_ms, const std::string& heartbeat_prefix) {
    heartbeat_ms_ = interval_ms;
    heartbeat_topic_ = heartbeat_prefix + "." + encoder_.options().topic_prefix;
  }
  void Heartbeat() {
    if (heartbeat_ms_ <= 0) return;
    const auto now = Clock::now();
    if (now - last_heartbeat_ < std::chrono::milliseconds(heartbeat_ms_)) return;
    last_heartbeat_ = now;
    if (!created_.count(heartbeat_topic_)) {
      kafka::TopicSettings ts = topics_;
      ts.cleanup_policy = "compact";  // only the last beat matters
      ts.retention_ms.clear();
      kafka::EnsureTopic(producer_.handle(), heartbeat_topic_, ts);
      created_.insert(heartbeat_topic_);
    }
    const int64_t ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    std::string server = encoder_.options().topic_prefix;
    std::string key, value;
    if (encoder_.options().schemas_enable) {
      key = fmt::format(R"({{"schema":{{"type":"struct","fields":[{{"type":"string","optional":false,"field":"serverName"}}],)"
                        R"("optional":false,"name":"io.debezium.connector.common.ServerNameKey"}},"payload":{{"serverName":"{}"}}}})",
                        server);
      value = fmt::format(R"({{"schema":{{"type":"struct","fields":[{{"type":"int64","optional":false,"field":"ts_ms"}}],)"
                          R"("optional":false,"name":"io.debezium.connector.common.Heartbeat"}},"payload":{{"ts_ms":{}}}}})",
                          ts_ms);
    } else {
      key = fmt::format(R"({{"serverName":"{}"}})", server);
      value = fmt::format(R"({{"ts_ms":{}}})", ts_ms);
    }
    const std::string_view k(key), v(value);
    producer_.Produce(heartbeat_topic_, &k, &v, {});
  }

  /// Waits for every record to be acknowledged and stores the last offset.
  void Checkpoint() {
    producer_.Flush();
    Advance(true);
  }

 private:
  struct TableInfo {
    TableSchemaPtr schema;  // keeps the pointer key alive
    std::string header;
  };

  /// Debezium's BEGIN/END event on <topic.prefix>.transaction (provide.transaction.metadata).
  void ProduceTransactionRecord(bool begin) {
    const DebeziumRecord r = encoder_.TransactionRecord(begin, txn_ts_ms_);
    if (!created_.count(std::string(r.topic))) {
      kafka::EnsureTopic(producer_.handle(), std::string(r.topic), topics_);
      created_.insert(std::string(r.topic));
    }
    producer_.Produce(r.topic, &r.key, &r.value, {});
  }

  const TableInfo& InfoFor(const TableSchemaPtr& schema, const std::map<std::string, std::string>& renames = {}) {
    auto it = info_.find(schema.get());
    if (it != info_.end()) return it->second;
    std::string topic(encoder_.Topic(schema));
    if (!created_.count(topic)) {
      kafka::EnsureTopic(producer_.handle(), topic, topics_);
      created_.insert(topic);
    }
    TableInfo info{schema, EncodeSchemaHeader(*schema, renames)};
    return info_.emplace(schema.get(), std::move(info)).first->second;
  }

  /// Stores the newest offset all of whose records are acknowledged (at most every 200 ms unless
  /// `force`).
  void Advance(bool force) {
    const uint64_t acked = producer_.AckedBelow();
    while (!commits_.empty() && commits_.front().first <= acked) {
      ready_ = std::move(commits_.front().second);
      has_ready_ = true;
      commits_.pop_front();
    }
    if (has_ready_ && (force || Clock::now() - last_store_ > std::chrono::milliseconds(200))) {
      state_->Put(key_, ready_.Serialize());
      mysql::ReportAcked(ready_);  // metrics: position and lag up to Kafka's acknowledgement
      has_ready_ = false;
      last_store_ = Clock::now();
    }
  }

  DebeziumEncoder encoder_;
  kafka::KafkaProducer& producer_;
  kafka::TopicSettings topics_;
  StateStore* state_;
  std::string key_;
  std::vector<kafka::Header> headers_;
  std::unordered_map<const TableSchema*, TableInfo> info_;
  std::map<std::string, std::map<std::string, std::string>> renames_;  // per table: old -> current name
  std::set<std::string> created_;
  std::deque<std::pair<uint64_t, mysql::SourceOffset>> commits_;  // (records produced before it, offset)
  mysql::SourceOffset ready_;
  bool has_ready_ = false;
  Clock::time_point last_store_ = Clock::now();
  uint64_t records_batches_ = 0;
  int64_t heartbeat_ms_ = 0;
  int64_t txn_ts_ms_ = 0;
  std::string heartbeat_topic_;
  Clock::time_point last_heartbeat_{};
};

// ---- Kafka -> ClickHouse ---------------------------------------------------------------------------

/// The sink stage of `sluice sink`: decodes records into chunks, writes them through the
/// ClickHouseSink and commits Kafka offsets only after sink.Flush() returned.
class SinkLoop : public kafka::RebalanceListener {
 public:
  SinkLoop(const Config& config, const kafka::KafkaSettings& ks, const SinkFlags& flags)
      : config_(config),
        ks_(ks),
        sink_(SinkFromConfig(config)),
        decoder_(DebeziumDecoderOptions{DebeziumFromConfig(config),
                                        [](std::string_view f) { return mysql::BinlogFileSequence(std::string(f)); }}),
        delay_(std::chrono::milliseconds(config.GetInt("sink", "batch.max.delay.ms"))),
        buffer_budget_(static_cast<size_t>(config.GetInt("sink", "buffer.max.bytes"))),
        tolerate_(config.GetString("sink", "errors.tolerance") == "all"),
        dlq_topic_(config.GetString("sink", "errors.deadletterqueue.topic.name")),
        reset_(flags.reset_offsets) {
    if (!reset_.empty() && reset_ != "earliest" && reset_ != "latest") {
      char* end = nullptr;
      reset_ts_ = std::strtoll(reset_.c_str(), &end, 10);
      if (!end || *end || reset_ts_ < 0) {
        Throw(ErrorKind::kConfig, "--reset-offsets: '{}' is not earliest, latest or a timestamp in milliseconds",
              reset_);
      }
    }
    // Subscription: sink.topics, sink.topics.regex, or every <topic.prefix>.* topic.
    const auto topics = config.GetList("sink", "topics");
    const std::string regex = config.GetString("sink", "topics.regex");
    if (!topics.empty() && !regex.empty()) {
      Throw(ErrorKind::kConfig, "{}: set sink.topics or sink.topics.regex, not both", config.Where("sink", "topics"));
    }
    if (!topics.empty()) {
      subscription_ = topics;
      for (const auto& t : topics) names_.insert(t);
    } else {
      std::string re = regex;
      if (re.empty()) {
        const std::string prefix = config.GetString("source", "topic.prefix");
        for (char c : prefix) {
          if (std::string_view(".^$*+?()[]{}|\\").find(c) != std::string_view::npos) re += '\\';
          re += c;
        }
        re += "\\..*";
      }
      pattern_ = "^(" + re + ")$";
      try {
        matcher_ = std::regex(pattern_, std::regex::extended);
      } catch (const std::regex_error& e) {
        Throw(ErrorKind::kConfig, "{}: sink.topics.regex '{}' is not a valid regex: {}",
              config.Where("sink", "topics.regex"), regex, e.what());
      }
      subscription_ = {pattern_};
    }
  }

  int Run(bool exit_when_caught_up) {
    sink_.Connect();  // ClickHouse first: wrong credentials stop us before consuming anything
    consumer_ = std::make_unique<kafka::KafkaConsumer>(ks_, config_.GetString("sink", "group.id"), this);
    if (exit_when_caught_up) {
      // The end offsets at start: everything before them must be in ClickHouse before exiting.
      for (const auto& tp : kafka::ListPartitions(consumer_->handle(), [&](const std::string& t) { return Matches(t); })) {
        auto [lo, hi] = consumer_->Watermarks(tp);
        if (hi > lo) targets_[tp] = {lo, hi};
      }
      SLOG_INFO("sink: {} partition(s) with data to catch up with", targets_.size());
    }
    consumer_->Subscribe(subscription_);
    SLOG_INFO("sink: consuming {} in group {}", pattern_.empty() ? fmt::format("{}", fmt::join(subscription_, ", ")) : pattern_,
              config_.GetString("sink", "group.id"));
    auto last_flush = Clock::now();
    auto last_check = Clock::time_point{};
    bool caught_up = false;
    while (!StopRequested()) {
      auto m = consumer_->Poll(100);
      if (m) Process(*m);
      const auto now = Clock::now();
      if (!pending_.empty() &&
          (now - last_flush >= delay_ || sink_.FlushDue() || sink_.BufferedBytes() + decoder_.pending_bytes() > buffer_budget_)) {
        Checkpoint();
        last_flush = Clock::now();
      }
      if (exit_when_caught_up && (!m || now - last_check > std::chrono::seconds(1)) &&
          now - last_check > std::chrono::milliseconds(300)) {
        last_check = now;
        if (CaughtUp()) {
          caught_up = true;
          break;
        }
      }
    }
    Checkpoint();
    consumer_->Close();
    const auto& st = sink_.stats();
    SLOG_INFO("sink stopped{}: {} records, {} rows in {} inserts ({} bytes), {} retries, {} bad record(s)",
              caught_up ? " (caught up)" : "", records_, st.rows_inserted, st.inserts, st.bytes_inserted, st.retries,
              bad_);
    return 0;
  }

  void OnRevoke(const std::vector<kafka::TopicPartition>& parts) override {
    // Deliver and commit before another member takes the partitions over.
    Checkpoint();
    for (const auto& tp : parts) pending_.erase(tp);
  }

  std::optional<int64_t> OnAssign(const kafka::TopicPartition& tp) override {
    assigned_ = true;
    if (reset_.empty() || reset_done_.count(tp)) return std::nullopt;
    reset_done_.insert(tp);
    int64_t off;
    if (reset_ == "earliest") {
      off = consumer_->Watermarks(tp).first;
    } else if (reset_ == "latest") {
      off = consumer_->Watermarks(tp).second;
    } else {
      off = consumer_->OffsetForTime(tp, reset_ts_);
    }
    // Committed with the next checkpoint, so the group's position (and --exit-when-caught-up)
    // reflects the reset, not the offsets committed before it.
    pending_[tp] = off;
    done_[tp] = off;
    SLOG_INFO("sink: {}[{}] reset to offset {} (--reset-offsets {})", tp.topic, tp.partition, off, reset_);
    return off;
  }

 private:
  bool Matches(const std::string& topic) const {
    if (topic == dlq_topic_) return false;
    if (!names_.empty()) return names_.count(topic) > 0;
    return std::regex_match(topic, matcher_);
  }

  void Process(const kafka::Message& m) {
    ++records_;
    pending_[{std::string(m.topic), m.partition}] = m.offset + 1;
    if (m.topic == dlq_topic_) return;
    try {
      decoder_.DecodeRecord(m.topic, m.key, m.value, m.Header(std::string(kSchemaHeader).c_str()),
                            m.Header(std::string(kVersionHeader).c_str()), m.Header(std::string(kBeforeHeader).c_str()));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kData) throw;
      BadRecord(m, e.what());
    }
    if (auto t = decoder_.TakeTruncate()) {
      // The rows read before it go first; the truncate event is on every partition of the topic,
      // so once each partition's copy is applied every earlier row of the table is gone.
      PushChunks();
      TableSchema target;
      target.database = t->database;
      target.table = t->table;
      sink_.TruncateBelow(target, t->version);
      // Rows below it read later (from a partition whose copy has not come yet, or with Debezium's
      // single truncate event, from any other partition) were truncated too.
      decoder_.DropBelow(t->database, t->table, t->version);
    }
    if (decoder_.pending_rows() >= 65536) PushChunks();
  }

  void BadRecord(const kafka::Message& m, const std::string& what) {
    ++bad_;
    const std::string where = fmt::format("{}[{}]@{}", m.topic, m.partition, m.offset);
    if (!tolerate_) {
      Throw(ErrorKind::kData,
            "record {} cannot be read: {}. It is not a Debezium change event Sluice can write; to skip such "
            "records set sink.errors.tolerance: all (and errors.deadletterqueue.topic.name to keep them)",
            where, what);
    }
    if (dlq_topic_.empty()) {
      SLOG_WARN("skipping record {}: {} (errors.tolerance all, no errors.deadletterqueue.topic.name)", where, what);
      return;
    }
    if (!dlq_) {
      dlq_ = std::make_unique<kafka::KafkaProducer>(ks_);
      kafka::TopicSettings ts;
      ts.partitions = 1;
      kafka::EnsureTopic(dlq_->handle(), dlq_topic_, ts);
    }
    const std::string partition = std::to_string(m.partition), offset = std::to_string(m.offset);
    std::vector<kafka::Header> headers = {{"__connect.errors.topic", m.topic},
                                          {"__connect.errors.partition", partition},
                                          {"__connect.errors.offset", offset},
                                          {"__connect.errors.exception.message", what}};
    dlq_->Produce(dlq_topic_, m.key ? &*m.key : nullptr, m.value ? &*m.value : nullptr, headers);
    SLOG_WARN("record {} sent to dead-letter topic {}: {}", where, dlq_topic_, what);
  }

  void PushChunks() {
    auto chunks = decoder_.TakeChunks();
    // Partitions are not ordered among themselves: the rows of a table's older shape (before a
    // DDL) may come after rows of its newer shape. Rows of a newer shape have higher versions, so
    // write in version order, and write rows of an older shape that come late in the newer shape.
    std::stable_sort(chunks.begin(), chunks.end(),
                     [](const ChangeChunk& a, const ChangeChunk& b) { return a.version(0) < b.version(0); });
    for (auto& chunk : chunks) {
      Current& cur = current_[chunk.schema()->QualifiedName()];
      if (cur.schema && cur.schema != chunk.schema() && !SameColumns(*cur.schema, *chunk.schema()) &&
          chunk.version(0) < cur.max_version) {
        ChangeChunk projected = ProjectTo(chunk, cur.schema);
        Track(cur, projected);
        sink_.Write(projected);
        continue;
      }
      if (cur.schema != chunk.schema()) {
        // A column rename travels in the new schema's header: rename the ClickHouse column
        // (keeping its data) before the sink sees the new shape, which it would otherwise treat
        // as drop + add.
        if (const auto* renames = decoder_.RenamesOf(chunk.schema().get())) {
          if (cur.schema) {
            sink_.ApplySchemaChange(*cur.schema, *chunk.schema(), *renames);
          } else {
            // First sight in this process: the ClickHouse table may or may not be renamed yet;
            // compare it with the schema before the renames (steps already done are skipped).
            auto before = std::make_shared<TableSchema>(*chunk.schema());
            for (auto& c : before->columns) {
              for (const auto& [from, to] : *renames) {
                if (c.name == to) c.name = from;
              }
            }
            sink_.ApplySchemaChange(*before, *chunk.schema(), *renames);
          }
        } else if (!cur.schema && !chunk.schema()->primary_key.empty()) {
          // First sight in this process: the ClickHouse table may predate a DDL this process did
          // not see (e.g. ADD COLUMN while the sink was down). Add what it lacks, as `sluice run`
          // does at the DDL; nothing is dropped here (this shape may be an older one).
          auto keys_only = std::make_shared<TableSchema>(*chunk.schema());
          keys_only->columns.clear();
          keys_only->primary_key.clear();
          for (int k : chunk.schema()->primary_key) {
            keys_only->primary_key.push_back(static_cast<int>(keys_only->columns.size()));
            keys_only->columns.push_back(chunk.schema()->columns[static_cast<size_t>(k)]);
          }
          sink_.ApplySchemaChange(*keys_only, *chunk.schema());
        }
        cur.schema = chunk.schema();
      }
      Track(cur, chunk);
      sink_.Write(chunk);
    }
  }

  struct Current {
    TableSchemaPtr schema;     // the newest shape written for the table
    uint64_t max_version = 0;  // the highest _version written with it
  };
  static void Track(Current& cur, const ChangeChunk& c) {
    for (size_t r = 0; r < c.size(); ++r) cur.max_version = std::max(cur.max_version, c.version(r));
  }
  static bool SameColumns(const TableSchema& a, const TableSchema& b) {
    if (a.columns.size() != b.columns.size()) return false;
    for (size_t i = 0; i < a.columns.size(); ++i) {
      if (a.columns[i].name != b.columns[i].name || a.columns[i].kind != b.columns[i].kind) return false;
    }
    return true;
  }

  /// Rows of an older shape in the newer shape `target`: columns matched by name (through the
  /// target's renames), new columns get their default (NULL when nullable, else the zero value),
  /// dropped ones are left out — what the row holds in the source after the DDL.
  ChangeChunk ProjectTo(const ChangeChunk& in, const TableSchemaPtr& target) {
    const auto* renames = decoder_.RenamesOf(target.get());
    std::vector<int> from(target->columns.size(), -1);
    for (size_t i = 0; i < target->columns.size(); ++i) {
      std::string name = target->columns[i].name;
      if (renames) {
        for (const auto& [old_name, new_name] : *renames) {
          if (new_name == name) name = old_name;
        }
      }
      const int idx = in.schema()->FindColumn(name);
      if (idx >= 0 && in.schema()->columns[static_cast<size_t>(idx)].kind == target->columns[i].kind) from[i] = idx;
    }
    ChangeChunk out(target);
    std::unordered_map<const SourceInfo*, uint32_t> source_index;
    for (const auto& src : in.sources()) source_index[&src] = out.AddSource(src);
    for (size_t r = 0; r < in.size(); ++r) {
      out.BeginRow(in.op(r), in.version(r), source_index[&in.source(r)], in.row_in_event(r));
      for (size_t i = 0; i < target->columns.size(); ++i) {
        ColumnVector& col = out.column(i);
        if (from[i] >= 0) {
          col.AppendFrom(in.column(static_cast<size_t>(from[i])), r);
        } else if (target->columns[i].nullable) {
          col.AppendNull();
        } else if (IsVarKind(col.kind())) {
          const int scale = target->columns[i].scale;
          col.AppendBytes(col.kind() != ValueKind::kDecimal ? std::string()
                          : scale > 0 ? "0." + std::string(static_cast<size_t>(scale), '0')
                                      : std::string("0"));
        } else {
          col.AppendInt(0);
        }
      }
    }
    SLOG_INFO("sink: {} rows of {} in its shape before a schema change arrived after the change; written in the new "
              "shape", in.size(), target->QualifiedName());
    return out;
  }

  /// Everything read so far into ClickHouse (and the DLQ), then the offsets to Kafka.
  void Checkpoint() {
    PushChunks();
    sink_.Flush();
    if (dlq_) dlq_->Flush();
    if (!pending_.empty() && consumer_) {
      consumer_->Commit(pending_);
      for (const auto& [tp, off] : pending_) done_[tp] = off;
      pending_.clear();
    }
  }

  /// True once the group committed every target partition up to its end offset at start.
  bool CaughtUp() {
    // With --reset-offsets the group's old commits say nothing until our reset is committed.
    if (!reset_.empty() && !assigned_ && !targets_.empty()) return false;
    Checkpoint();
    std::vector<kafka::TopicPartition> left;
    for (const auto& [tp, range] : targets_) {
      auto it = done_.find(tp);
      if (it == done_.end() || it->second < range.second) left.push_back(tp);
    }
    if (left.empty()) return true;
    // A partition written with Kafka transactions (sluice transform's view topics, a connector
    // with exactly-once) ends with a commit marker, which no record's offset + 1 reaches: past the
    // last record, the consumer's position stands beyond it. Everything handed out was delivered
    // by the Checkpoint above, so that position may be committed.
    std::map<kafka::TopicPartition, int64_t> past;
    for (const auto& tp : left) {
      auto pos = consumer_->Position(tp);
      if (pos && *pos >= targets_[tp].second && *pos > done_[tp]) past[tp] = *pos;
    }
    if (!past.empty()) {
      consumer_->Commit(past);
      for (const auto& [tp, off] : past) done_[tp] = off;
    }
    for (const auto& [tp, off] : consumer_->Committed(left)) {
      if (off >= targets_[tp].second) done_[tp] = std::max(done_[tp], off);
    }
    for (const auto& tp : left) {
      if (done_[tp] < targets_[tp].second) return false;
    }
    return true;
  }

  const Config& config_;
  const kafka::KafkaSettings& ks_;
  clickhouse::ClickHouseSink sink_;
  DebeziumDecoder decoder_;
  std::unique_ptr<kafka::KafkaConsumer> consumer_;
  std::unique_ptr<kafka::KafkaProducer> dlq_;
  const std::chrono::milliseconds delay_;
  const size_t buffer_budget_;
  const bool tolerate_;
  const std::string dlq_topic_;
  std::string reset_;
  int64_t reset_ts_ = -1;
  std::set<kafka::TopicPartition> reset_done_;
  bool assigned_ = false;
  std::vector<std::string> subscription_;
  std::set<std::string> names_;
  std::string pattern_;
  std::regex matcher_;
  std::map<std::string, Current> current_;  // per source table
  std::map<kafka::TopicPartition, int64_t> pending_;  // next offset to commit, per partition
  std::map<kafka::TopicPartition, int64_t> done_;     // committed (by us or the group)
  std::map<kafka::TopicPartition, std::pair<int64_t, int64_t>> targets_;
  uint64_t records_ = 0, bad_ = 0;
};

}  // namespace

int CaptureToKafka(const CommonFlags& flags) {
  Config config = LoadConfig(flags);
  auto metrics_server = metrics::StartMetricsServer(config);  // null without a `metrics` section
  if (config.GetString("bus", "type") != "kafka") {
    Throw(ErrorKind::kConfig,
          "{}: `sluice capture` needs --output jsonl (events on stdout) or bus.type: kafka with "
          "bus.bootstrap.servers (events to Kafka topics); bus.type is '{}'",
          config.file(), config.GetString("bus", "type"));
  }
  kafka::KafkaSettings ks = kafka::KafkaSettingsFromConfig(config, "capture");
  DebeziumOptions dopts = DebeziumFromConfig(config);
  mysql::TableFilter filter(config);
  auto options = mysql::CaptureOptions::FromConfig(config);
  options.exit_when_caught_up = flags.exit_when_caught_up;
  auto state = OpenState(config);
  const std::string prefix = "capture/";
  kafka::KafkaProducer producer(ks);
  // Reach the brokers (and fail on bad credentials) before reading the source; while none answers,
  // wait (logging) until one does or SIGTERM.
  while (true) {
    try {
      (void)kafka::ListTopics(producer.handle(), 5000);
      break;
    } catch (const Error& e) {
      if (!e.retryable()) throw;
      SLOG_WARN("{}; retrying (nothing is read from the source until Kafka answers)", e.what());
      if (StopRequested()) return 0;
    }
  }
  mysql::MySqlCapture capture(options, filter, state.get(), prefix);
  KafkaCaptureConsumer consumer(dopts, producer, ks.topics, state.get(), prefix + "offset");
  // Heartbeat records only when heartbeat.interval.ms is written (Debezium's default is none).
  if (config.Has("source", "heartbeat.interval.ms")) {
    consumer.EnableHeartbeat(config.GetInt("source", "heartbeat.interval.ms"),
                             config.GetString("source", "topic.heartbeat.prefix"));
  }
  mysql::SourceOffset resume;
  if (auto v = state->Get(prefix + "offset")) resume = mysql::SourceOffset::Parse(*v);
  if (!resume.empty()) SLOG_INFO("resuming from {}", resume.ToString());
  {
    StopWatcher watcher(capture);
    // Large chunks are encoded and produced on a second thread while this one decodes on.
    PipelinedConsumer pipelined(consumer, CaptureQueueBytes(config));
    capture.Run(pipelined, resume);
    pipelined.Finish();
  }
  consumer.Checkpoint();
  SLOG_INFO("capture stopped: {} record(s) produced and acknowledged", producer.produced());
  return 0;
}

std::string CheckKafka(const Config& config) {
  kafka::KafkaSettings ks = kafka::KafkaSettingsFromConfig(config, "capture/sink");
  kafka::KafkaProducer producer(ks);
  const auto topics = kafka::ListTopics(producer.handle(), 10000);
  const std::string prefix = config.GetString("source", "topic.prefix") + ".";
  size_t ours = 0;
  for (const auto& [name, n] : topics) ours += name.rfind(prefix, 0) == 0 ? 1 : 0;
  return fmt::format("bus Kafka {}: ok ({} topic(s), {} of them {}*)", ks.bootstrap_servers, topics.size(), ours,
                     prefix);
}

std::string KafkaStatus(const Config& config) {
  kafka::KafkaSettings ks = kafka::KafkaSettingsFromConfig(config, "capture/sink");
  const std::string group = config.GetString("sink", "group.id");
  const std::string dlq = config.GetString("sink", "errors.deadletterqueue.topic.name");
  const auto wanted = config.GetList("sink", "topics");
  std::string re = config.GetString("sink", "topics.regex");
  if (re.empty()) {
    for (char c : config.GetString("source", "topic.prefix")) {
      if (std::string_view(".^$*+?()[]{}|\\").find(c) != std::string_view::npos) re += '\\';
      re += c;
    }
    re += "\\..*";
  }
  const std::regex matcher("^(" + re + ")$", std::regex::extended);
  kafka::KafkaConsumer consumer(ks, group, nullptr);
  (void)kafka::ListTopics(consumer.handle(), 10000);  // unreachable: a clear error, not a hang
  auto parts = kafka::ListPartitions(consumer.handle(), [&](const std::string& t) {
    if (t == dlq) return false;
    if (!wanted.empty()) return std::find(wanted.begin(), wanted.end(), t) != wanted.end();
    return std::regex_match(t, matcher);
  });
  const auto committed = consumer.Committed(parts);
  struct Row {
    int64_t end = 0, done = 0;
    int partitions = 0;
  };
  std::map<std::string, Row> rows;
  for (const auto& tp : parts) {
    auto [lo, hi] = consumer.Watermarks(tp);
    auto it = committed.find(tp);
    const int64_t c = it == committed.end() || it->second < 0 ? lo : std::max(it->second, lo);
    Row& r = rows[tp.topic];
    r.end += hi - lo;
    r.done += c - lo;
    ++r.partitions;
  }
  std::string out = fmt::format("sink (Kafka group {}):\n", group);
  if (rows.empty()) out += "  no topic matches yet\n";
  for (const auto& [topic, r] : rows) {
    out += fmt::format("  {}: {} of {} record(s) in retention committed, lag {} ({} partition(s))\n", topic, r.done,
                       r.end, r.end - r.done, r.partitions);
  }
  consumer.Close();
  return out;
}

int Sink(const CommonFlags& flags, const SinkFlags& sink_flags) {
  Config config = LoadConfig(flags, /*source_connection=*/false);  // reads topics only
  auto metrics_server = metrics::StartMetricsServer(config);  // null without a `metrics` section
  kafka::KafkaSettings ks = kafka::KafkaSettingsFromConfig(config, "sink");
  if (!config.HasSection("sink")) {
    Throw(ErrorKind::kConfig, "{}: `sluice sink` needs a `sink` section (type: clickhouse, hostname, database, ...)",
          config.file());
  }
  if (config.GetList("sink", "topics").empty() && config.GetString("sink", "topics.regex").empty() &&
      config.GetString("source", "topic.prefix").empty()) {
    Throw(ErrorKind::kConfig, "{}: `sluice sink` reads the topics in sink.topics, or those matching sink.topics.regex, "
          "or every <source.topic.prefix>.* topic: set one of them", config.file());
  }
  SinkLoop loop(config, ks, sink_flags);
  return loop.Run(flags.exit_when_caught_up);
}

}  // namespace sluice::pipeline
