// `sluice transform CONFIG` (bus.type kafka): the views of transform.sql between Kafka topics —
// source topics <topic.prefix>.<db>.<table> in, one topic <topic.prefix>.<view> per view out, as
// Debezium envelopes with the `sluice.schema` header, so `sluice sink` writes each view to its own
// ClickHouse table exactly as `sluice run` does.
//
// State: the views' operator state and the next offset of every input partition are stored in
// state.dir in one atomic write (ViewStage::CommitState), after every output record before it was
// acknowledged by the brokers. A restart resumes from those offsets with that state, so every
// input change is applied to the views exactly once; outputs produced after the last store are
// produced again (the sink collapses them by `_version`).

#include <chrono>
#include <map>
#include <set>
#include <sstream>

#include "bus/kafka_admin.h"
#include "bus/kafka_config.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_producer.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "event/debezium_json.h"
#include "event/debezium_reader.h"
#include "mysql/connection.h"
#include "mysql/source_info.h"
#include "pipeline/transform_command.h"
#include "pipeline/view_stage.h"
#include "state/state_store.h"

namespace sluice::pipeline {

namespace {

using Clock = std::chrono::steady_clock;
using Offsets = std::map<kafka::TopicPartition, int64_t>;

std::string SerializeOffsets(const Offsets& o) {
  std::string s;
  for (const auto& [tp, off] : o) s += fmt::format("{}\t{}\t{}\n", tp.topic, tp.partition, off);
  return s;
}

Offsets ParseOffsets(const std::string& s) {
  Offsets o;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find('\t'), b = line.rfind('\t');
    if (a == std::string::npos || a == b) continue;
    o[{line.substr(0, a), static_cast<int32_t>(std::stol(line.substr(a + 1, b - a - 1)))}] = std::stoll(line.substr(b + 1));
  }
  return o;
}

class TransformLoop : public kafka::RebalanceListener {
 public:
  TransformLoop(const Config& config, const kafka::KafkaSettings& ks, StateStore& state, ViewStage& views,
                Offsets stored, bool from_earliest)
      : config_(config),
        ks_(ks),
        state_(state),
        views_(views),
        encoder_(DebeziumFromConfig(config)),
        decoder_(DebeziumDecoderOptions{DebeziumFromConfig(config),
                                        [](std::string_view f) { return mysql::BinlogFileSequence(std::string(f)); }}),
        producer_(ks),
        next_(std::move(stored)),
        from_earliest_(from_earliest),
        delay_(std::chrono::milliseconds(config.GetInt("sink", "batch.max.delay.ms"))) {
    for (const auto& t : views.SourceTables()) inputs_.insert(std::string(encoder_.Topic(t)));
  }

  int Run(bool exit_when_caught_up) {
    consumer_ = std::make_unique<kafka::KafkaConsumer>(ks_, config_.GetString("transform", "group.id"), this);
    std::vector<std::string> topics(inputs_.begin(), inputs_.end());
    if (exit_when_caught_up) {
      for (const auto& tp : kafka::ListPartitions(consumer_->handle(), [&](const std::string& t) { return inputs_.count(t) > 0; })) {
        auto [lo, hi] = consumer_->Watermarks(tp);
        if (hi > lo) targets_[tp] = hi;
      }
    }
    consumer_->Subscribe(topics);
    SLOG_INFO("transform: {} view(s) over {} in group {}", views_.size(), fmt::join(topics, ", "),
              config_.GetString("transform", "group.id"));
    auto last_process = Clock::now(), last_checkpoint = Clock::now();
    bool caught_up = false;
    while (!StopRequested()) {
      auto m = consumer_->Poll(100);
      if (m) {
        next_[{std::string(m->topic), m->partition}] = m->offset + 1;
        try {
          decoder_.Decode(m->topic, m->key, m->value, m->Header(std::string(kSchemaHeader).c_str()));
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::kData) throw;
          Throw(ErrorKind::kData, "record {}[{}]@{} cannot be read: {}", m->topic, m->partition, m->offset, e.what());
        }
        ++records_;
      }
      const auto now = Clock::now();
      if (decoder_.pending_rows() >= 16384 || (!m && decoder_.pending_rows() > 0) ||
          now - last_process >= std::chrono::milliseconds(100)) {
        Process();
        last_process = now;
      }
      if (now - last_checkpoint >= delay_) {
        Checkpoint();
        last_checkpoint = Clock::now();
      }
      if (exit_when_caught_up && !m && CaughtUp()) {
        caught_up = true;
        break;
      }
    }
    Checkpoint();
    consumer_->Close();
    SLOG_INFO("transform stopped{}: {} records in, {} records out; {}", caught_up ? " (caught up)" : "", records_,
              produced_, views_.StateSummary());
    return 0;
  }

  void OnRevoke(const std::vector<kafka::TopicPartition>&) override { Checkpoint(); }

  std::optional<int64_t> OnAssign(const kafka::TopicPartition& tp) override {
    auto it = next_.find(tp);
    if (it != next_.end()) return it->second;  // the offset stored with the view state
    if (from_earliest_) return consumer_->Watermarks(tp).first;
    return std::nullopt;
  }

 private:
  /// Pushes what was decoded through the views and produces their changes.
  void Process() {
    auto chunks = decoder_.TakeChunks();
    std::stable_sort(chunks.begin(), chunks.end(),
                     [](const ChangeChunk& a, const ChangeChunk& b) { return a.version(0) < b.version(0); });
    std::vector<ChangeChunk> out;
    for (const auto& c : chunks) {
      views_.Push(c);
      views_.Commit(out);
    }
    for (auto& c : out) Produce(c);
  }

  void Produce(ChangeChunk& c) {
    if (c.empty()) return;
    // The view change's `_version` travels as the binlog coordinates the sink derives it from.
    const uint64_t v = c.version(0);
    SourceInfo si = c.source(0);
    si.file = fmt::format("sluice-view.{:06}", v >> 32);
    si.pos = v & 0xffffffffu;
    si.snapshot = SourceInfo::Snapshot::kFalse;
    const uint32_t idx = c.AddSource(std::move(si));
    for (size_t r = 0; r < c.size(); ++r) c.SetRowSource(r, idx);
    auto& header = headers_[c.schema().get()];
    if (header.first.empty()) {
      header.first = EncodeSchemaHeader(*c.schema());
      header.second = c.schema();
      const std::string topic(encoder_.Topic(c.schema()));
      if (!created_.count(topic)) {
        kafka::EnsureTopic(producer_.handle(), topic, ks_.topics);
        created_.insert(topic);
      }
    }
    std::vector<kafka::Header> headers{{kSchemaHeader, header.first}};
    encoder_.EncodeChunk(c, [&](const DebeziumRecord& r) {
      producer_.Produce(r.topic, r.key_is_null ? nullptr : &r.key, r.value_is_null ? nullptr : &r.value, headers);
      ++produced_;
    });
  }

  /// Everything consumed so far through the views, their output acknowledged, then state + offsets.
  void Checkpoint() {
    Process();
    producer_.Flush();
    views_.CommitState({{"transform/offsets", SerializeOffsets(next_)}});
    if (consumer_ && !next_.empty()) {
      try {
        consumer_->Commit(next_);  // for the group's lag; the stored offsets are what counts
      } catch (const Error& e) {
        SLOG_WARN("transform: committing offsets to the group failed (the state directory has them): {}", e.what());
      }
    }
  }

  bool CaughtUp() {
    for (const auto& [tp, hi] : targets_) {
      auto it = next_.find(tp);
      if (it == next_.end() || it->second < hi) return false;
    }
    return true;
  }

  const Config& config_;
  const kafka::KafkaSettings& ks_;
  StateStore& state_;
  ViewStage& views_;
  DebeziumEncoder encoder_;
  DebeziumDecoder decoder_;
  kafka::KafkaProducer producer_;
  std::unique_ptr<kafka::KafkaConsumer> consumer_;
  Offsets next_;
  bool from_earliest_;
  std::chrono::milliseconds delay_;
  std::set<std::string> inputs_;
  std::set<std::string> created_;
  std::map<const TableSchema*, std::pair<std::string, TableSchemaPtr>> headers_;
  std::map<kafka::TopicPartition, int64_t> targets_;
  uint64_t records_ = 0, produced_ = 0;
};

}  // namespace

int Transform(const CommonFlags& flags, const TransformFlags& tflags) {
  Config config = LoadConfig(flags);
  if (config.GetString("bus", "type") != "kafka") {
    Throw(ErrorKind::kConfig, "{}: `sluice transform` reads and writes Kafka topics: set bus.type: kafka and "
          "bus.bootstrap.servers (in one process, `sluice run` maintains the views without Kafka)", config.file());
  }
  if (config.GetList("transform", "sql").empty()) {
    Throw(ErrorKind::kConfig, "{}: `sluice transform` needs views: set transform.sql to the files of "
          "CREATE MATERIALIZED VIEW statements", config.file());
  }
  if (!tflags.reset_offsets.empty() && tflags.reset_offsets != "earliest") {
    Throw(ErrorKind::kConfig, "--reset-offsets: only 'earliest' (rebuild every view from the topics) is supported");
  }
  kafka::KafkaSettings ks = kafka::KafkaSettingsFromConfig(config, "transform");
  mysql::TableFilter filter(config);
  auto options = mysql::CaptureOptions::FromConfig(config);
  // The source tables' schemas bind the views (read from the source database, as `run` does).
  const std::vector<TableSchemaPtr> tables = LoadEmittedSchemas(options, filter);
  // The state store first: the views' state manager uses it until the views are destroyed.
  auto state = OpenState(config);
  ViewStage views(config, tables);
  views.set_monotonic_versions(true);
  Offsets stored;
  const bool from_earliest = tflags.reset_offsets == "earliest";
  if (!from_earliest) {
    if (auto v = state->Get("transform/offsets")) stored = ParseOffsets(*v);
  }
  const auto rebuild = views.Restore(*state, "transform/", !stored.empty(), false,
                                     static_cast<size_t>(config.GetInt("transform", "memory.max.bytes")));
  if (!rebuild.empty()) {
    Throw(ErrorKind::kConfig,
          "view(s) {} are new or changed since the last run: rebuild the views from the topics with "
          "`sluice transform {} --reset-offsets earliest` (the source topics must still hold every change: "
          "retention or cleanup.policy compact)",
          fmt::join(rebuild, ", "), flags.config_path);
  }
  if (from_earliest) SLOG_INFO("transform: --reset-offsets earliest: every view is rebuilt from the topics");
  TransformLoop loop(config, ks, *state, views, std::move(stored), from_earliest);
  return loop.Run(flags.exit_when_caught_up);
}

}  // namespace sluice::pipeline
