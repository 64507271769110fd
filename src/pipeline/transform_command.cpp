// `sluice transform CONFIG` (bus.type kafka): the views of transform.sql between Kafka topics —
// source topics <topic.prefix>.<db>.<table> in, one topic <topic.prefix>.<view> per view out, as
// Debezium envelopes with the `sluice.schema` header, so `sluice sink` writes each view to its own
// ClickHouse table exactly as `sluice run` does.
//
// State: the views' operator state, the next offset of every input partition and the views'
// output records since the last checkpoint (the outbox) are stored in state.dir in one atomic write
// (ViewStage::CommitState); only then are those records produced. A restart first produces the
// stored outbox again (the sink collapses the duplicates by `_version`), then resumes from the
// stored offsets with that state, so every input change is applied to the views exactly once.
//
// Why the outbox: input partitions arrive in no global order, so a replay after a crash can apply
// the same changes in another interleaving. Had the crashed run already produced a view row from
// a change it applied after the checkpoint, the replay need not touch that key again (e.g. a
// batch joined to a facility's old name there, to its new name in the replay) and the row would
// stay in ClickHouse for good. Records never leave before the state that derived them is durable.
//
// Several processes of one group: the group elects the reader through a one-partition lease topic
// (TakeOver, Sweep; docs/ARCHITECTURE.md), the others stand by and take over when it goes.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <atomic>
#include <unordered_map>

#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "bus/kafka_admin.h"
#include "bus/kafka_config.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_producer.h"
#include "common/config.h"
#include "common/crash_point.h"
#include "common/error.h"
#include "common/log.h"
#include "event/debezium_json.h"
#include "event/debezium_reader.h"
#include "mysql/connection.h"
#include "mysql/source_info.h"
#include "pipeline/transaction_gate.h"
#include "pipeline/transform_command.h"
#include "pipeline/view_stage.h"
#include "state/state_store.h"

namespace sluice::pipeline {

namespace {

using Clock = std::chrono::steady_clock;
using Offsets = std::map<kafka::TopicPartition, int64_t>;

/// Scratch range of the state store for a takeover's sweep (TransformLoop::Sweep).
constexpr const char* kSweepPrefix = "transform/sweep/";
/// In the sweep's scratch values: the record is an upsert record.
constexpr uint32_t kUpsertBit = 0x80000000u;

/// The smallest key above every key that starts with `prefix` (which ends below 0xff).
std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

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

/// The views' output records between two checkpoints, in the form stored in the state directory:
/// pieces of up to kPieceBytes holding records (destination index, key, value), plus one table of
/// the destinations (topic and schema header; one per view output schema).
class Outbox {
 public:
  static constexpr size_t kPieceBytes = 4 << 20;
  /// A checkpoint is taken once this many bytes of records wait (bounds the memory they take).
  static constexpr size_t kCheckpointBytes = 16 << 20;
  static constexpr const char* kCount = "transform/outbox/count";
  static constexpr const char* kTables = "transform/outbox/tables";
  /// Names the stored outbox; the transaction that produces it also writes it to the lease
  /// partition (`produced=`), so a restart knows whether it reached Kafka.
  static constexpr const char* kToken = "transform/outbox/token";

  /// What an upsert record carries in headers besides the schema: its version and the row its key
  /// had (null: none).
  struct Upsert {
    uint64_t version = 0;
    const std::string_view* before = nullptr;
  };

  /// `dest` identifies the (topic, header) pair; null key/value/upsert: nullptr.
  void Add(const void* dest, std::string_view topic, const std::string& header, const std::string_view* key,
           const std::string_view* value, const Upsert* upsert = nullptr) {
    if (pieces_.empty() || pieces_.back().size() >= kPieceBytes) pieces_.emplace_back();
    std::string& p = pieces_.back();
    const size_t before = p.size();
    auto [d, fresh] = dest_index_.try_emplace(dest, static_cast<uint32_t>(dests_.size()));
    if (fresh) dests_.emplace_back(std::string(topic), header);
    PutU32(p, d->second | (upsert ? kUpsertFlag : 0));
    PutBytes(p, key);
    PutBytes(p, value);
    if (upsert) {
      p.append(reinterpret_cast<const char*>(&upsert->version), sizeof upsert->version);
      PutBytes(p, upsert->before);
    }
    bytes_ += p.size() - before;
    ++records_;
  }

  bool empty() const { return records_ == 0; }
  size_t bytes() const { return bytes_; }
  size_t records() const { return records_; }
  size_t pieces() const { return pieces_.size(); }
  std::vector<std::string> topics() const {
    std::set<std::string> t;
    for (const auto& d : dests_) t.insert(d.first);
    return {t.begin(), t.end()};
  }

  static std::string PieceKey(size_t i) { return fmt::format("transform/outbox/{:06}", i); }

  /// The state writes storing this outbox in place of one of `stored_pieces` pieces.
  void AppendPuts(std::vector<std::pair<std::string, std::string>>& puts, size_t stored_pieces) const {
    std::string tables;
    PutU32(tables, static_cast<uint32_t>(dests_.size()));
    for (const auto& [topic, header] : dests_) {
      const std::string_view t(topic), h(header);
      PutBytes(tables, &t);
      PutBytes(tables, &h);
    }
    puts.emplace_back(kTables, std::move(tables));
    for (size_t i = 0; i < std::max(pieces_.size(), stored_pieces); ++i) {
      puts.emplace_back(PieceKey(i), i < pieces_.size() ? pieces_[i] : std::string());
    }
    puts.emplace_back(kCount, std::to_string(pieces_.size()));
  }

  /// Calls `f(topic, header, key, value)` (null key/value: nullptr) for every record, in order.
  template <class F>
  void ForEach(F&& f) const {
    for (const auto& p : pieces_) Decode(p, f);
  }

  void Clear() {
    pieces_.clear();
    dests_.clear();
    dest_index_.clear();
    bytes_ = records_ = 0;
  }

  /// Reads the outbox stored by AppendPuts (`pieces`: how many it stored). Throws Error(kState)
  /// when it is damaged.
  static Outbox Load(const StateStore& state, size_t& pieces) {
    Outbox o;
    pieces = 0;
    if (auto c = state.Get(kCount)) pieces = std::stoull(*c);
    if (pieces == 0) return o;
    auto tables = state.Get(kTables);
    if (!tables) Throw(ErrorKind::kState, "the state directory's transform outbox has no table of topics");
    std::string_view in(*tables);
    const uint32_t n = GetU32(in);
    for (uint32_t i = 0; i < n; ++i) {
      const std::string_view topic = GetBytes(in), header = GetBytes(in);
      o.dests_.emplace_back(std::string(topic), std::string(header));
    }
    for (size_t i = 0; i < pieces; ++i) {
      auto p = state.Get(PieceKey(i));
      if (!p) Throw(ErrorKind::kState, "the state directory's transform outbox misses piece {}", i);
      o.Decode(*p, [&](const std::string&, const std::string&, const std::string_view*, const std::string_view*,
                       const Upsert*) { ++o.records_; });
      o.bytes_ += p->size();
      o.pieces_.push_back(std::move(*p));
    }
    return o;
  }

 private:
  static void PutU32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), sizeof v); }
  static void PutBytes(std::string& s, const std::string_view* b) {
    PutU32(s, b ? static_cast<uint32_t>(b->size()) : UINT32_MAX);
    if (b) s.append(*b);
  }
  static uint32_t GetU32(std::string_view& in) {
    uint32_t v;
    if (in.size() < sizeof v) Throw(ErrorKind::kState, "the state directory's transform outbox is truncated");
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
  /// The bytes; a null field as a view with a null data().
  static std::string_view GetBytes(std::string_view& in) {
    const uint32_t n = GetU32(in);
    if (n == UINT32_MAX) return {};
    if (in.size() < n) Throw(ErrorKind::kState, "the state directory's transform outbox is truncated");
    std::string_view b = in.substr(0, n);
    in.remove_prefix(n);
    return b;
  }
  template <class F>
  void Decode(std::string_view in, F&& f) const {
    while (!in.empty()) {
      const uint32_t word = GetU32(in);
      const uint32_t d = word & ~kUpsertFlag;
      if (d >= dests_.size()) Throw(ErrorKind::kState, "the state directory's transform outbox refers to an unknown topic");
      const std::string_view key = GetBytes(in), value = GetBytes(in);
      Upsert u;
      std::string_view before;
      if (word & kUpsertFlag) {
        if (in.size() < sizeof u.version) Throw(ErrorKind::kState, "the state directory's transform outbox is truncated");
        std::memcpy(&u.version, in.data(), sizeof u.version);
        in.remove_prefix(sizeof u.version);
        before = GetBytes(in);
        u.before = before.data() ? &before : nullptr;
      }
      f(dests_[d].first, dests_[d].second, key.data() ? &key : nullptr, value.data() ? &value : nullptr,
        (word & kUpsertFlag) ? &u : nullptr);
    }
  }

  static constexpr uint32_t kUpsertFlag = 0x80000000u;  ///< on a record's destination: upsert fields follow
  std::vector<std::string> pieces_;
  std::vector<std::pair<std::string, std::string>> dests_;  ///< (topic, schema header)
  std::unordered_map<const void*, uint32_t> dest_index_;
  size_t bytes_ = 0, records_ = 0;
};

/// One task of `sluice transform`: some views (all of them with transform.parallelism 1), or one
/// shard of one view, maintained between Kafka topics with its own state directory, lease
/// partition, transactional id and input consumer (TaskSpec). Created when the group gives this
/// member the task's lease partition (TransformCoordinator), stopped when it is taken away.
struct TaskSpec {
  std::string name;              ///< "views" (parallelism 1), else the views and the shard
  int index = 0;                 ///< the task's partition of the lease topic
  ViewSelection selection;       ///< with `all_views`, unused
  bool all_views = true;
  std::string state_dir;         ///< the task's state directory
  std::string txn_id;            ///< Kafka transactional.id of its producer
  std::string commit_group;      ///< consumer group its input offsets are committed to (lag, CaughtUp)
  std::set<std::string> inputs;  ///< the topics it reads
  std::string output_topic;            ///< parallelism > 1: the topic of the view it maintains (or a shard of)
  std::set<std::string> view_inputs;   ///< parallelism > 1: the topics of the views it reads
  size_t task_count = 1;         ///< of the group: memory budgets are shared among them
};

/// The Kafka settings of the input consumer of one of `tasks` tasks: the prefetch bound (16 MiB by
/// default) shared among them, unless bus sets queued.max.messages.kbytes.
kafka::KafkaSettings TaskConsumerSettings(const kafka::KafkaSettings& ks, size_t tasks) {
  kafka::KafkaSettings out = ks;
  for (const auto& [k, v] : ks.properties) {
    if (k == "queued.max.messages.kbytes") return out;
  }
  if (tasks > 1) {
    out.properties.emplace_back("queued.max.messages.kbytes", std::to_string(std::max<size_t>(1024, 16384 / tasks)));
  }
  return out;
}

class TransformLoop {
 public:
  TransformLoop(const Config& config, const kafka::KafkaSettings& ks, const TaskSpec& spec,
                std::unique_ptr<StateStore> state, std::unique_ptr<ViewStage> views, Offsets stored)
      : state_owned_(std::move(state)),
        views_owned_(std::move(views)),
        config_(config),
        ks_(ks),
        spec_(spec),
        checkpoint_bytes_(std::max<size_t>(1 << 20, Outbox::kCheckpointBytes / std::max<size_t>(1, spec.task_count))),
        state_(*state_owned_),
        views_(*views_owned_),
        encoder_(DebeziumFromConfig(config)),
        decoder_(DebeziumDecoderOptions{DebeziumFromConfig(config),
                                        [](std::string_view f) { return mysql::BinlogFileSequence(std::string(f)); }}),
        producer_(ks),
        next_(std::move(stored)),
        delay_(std::chrono::milliseconds(config.GetInt("sink", "batch.max.delay.ms"))) {
    for (const auto& t : views_.SourceTables()) inputs_.insert(std::string(encoder_.Topic(t)));
    view_targets_set_ = views_.InputViews().empty();
    for (const auto& v : views_.InputViews()) {
      // Another task's view, read from its topic: only records of its current definition.
      view_inputs_[std::string(encoder_.Topic(v))] = EncodeSchemaHeader(*v);
      inputs_.insert(std::string(encoder_.Topic(v)));
    }
    if (encoder_.options().provide_transaction_metadata) {
      // Whole source transactions only (TransactionGate): the transaction topic is an input too.
      std::set<std::string> names;
      for (const auto& t : views_.SourceTables()) names.insert(t->database + "." + t->table);
      gate_ = std::make_unique<TransactionGate>(
          std::move(names),
          static_cast<size_t>(config.GetInt("transform", "transaction.buffer.max.bytes")) / std::max<size_t>(1, spec.task_count),
          std::chrono::milliseconds(config.GetInt("transform", "transaction.wait.ms")));
      txn_topic_ = encoder_.TransactionTopic();
      inputs_.insert(txn_topic_);
      if (!next_.empty()) {
        if (auto held = state_.Get(kHeldKey)) gate_->Load(*held);
      }
    }
    if (!next_.empty()) {
      // The TRUNCATEs applied so far: their tables' earlier changes are skipped when read again.
      if (auto v = state_.Get(kTruncatedKey)) {
        std::istringstream in(*v);
        std::string db, table, version;
        while (std::getline(in, db, '\t') && std::getline(in, table, '\t') && std::getline(in, version)) {
          truncated_[{db, table}] = std::stoull(version);
          decoder_.DropBelow(db, table, std::stoull(version));
        }
      }
    }
    lease_ = {LeaseTopic(config), spec.index};
    txn_id_ = spec.txn_id;
    log_ = spec.all_views ? std::string("transform: ") : fmt::format("transform: task {}: ", spec.name);
    if (auto id = state_.Get("transform/owner")) {
      owner_ = *id;
    } else {
      std::random_device rd;
      owner_ = fmt::format("{:08x}{:08x}", rd(), rd());
      state_.Put("transform/owner", owner_);
    }
  }

  /// The group's lease topic (one partition per task).
  static std::string LeaseTopic(const Config& config) {
    std::string group = config.GetString("transform", "group.id");
    for (char& ch : group) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') ch = '_';
    }
    return "sluice-lease." + group;
  }

  /// Produces the outbox a previous run stored with its last checkpoint (it may have been produced
  /// before that run stopped, or not). Only as the lease holder that stored it: a member that took
  /// over since rebuilt the views without it.
  void ProduceStoredOutbox() {
    outbox_ = Outbox::Load(state_, stored_pieces_);
    if (outbox_.empty()) return;
    outbox_token_ = state_.Get(Outbox::kToken).value_or(std::string());
    if (!outbox_token_.empty() && outbox_token_ == produced_token_) {
      // The lease partition says its transaction committed: producing it again would duplicate
      // every record (readers that do not collapse by `_version`, views reading this view).
      SLOG_INFO("{}the {} view change(s) stored with the last checkpoint reached Kafka before the last stop",
                log_, outbox_.records());
      ForgetOutbox();
      return;
    }
    SLOG_INFO("{}producing the {} view change(s) stored with the last checkpoint again (they may not "
              "have reached Kafka before the last stop)", log_, outbox_.records());
    for (const auto& t : outbox_.topics()) EnsureTopic(t);
    ProduceOutbox();
  }

  /// Given the lease: take over (rebuilding the views from the topics unless this state directory
  /// is the last one that ran them) and read every input partition. `targets`: the end offsets
  /// of the input partitions when the process started (--exit-when-caught-up).
  void Start(const Offsets& targets) {
    active_ = true;
    consumer_ = std::make_unique<kafka::KafkaConsumer>(TaskConsumerSettings(ks_, spec_.task_count), spec_.commit_group,
                                                       nullptr);
    for (const auto& [tp, hi] : targets) {
      if (inputs_.count(tp.topic)) targets_[tp] = hi;
    }
    // Kafka transactions with one id per task: starting them fences an earlier holder that lost
    // the lease without noticing (paused past the session timeout): its open transaction is
    // aborted and its next write fails, so none of its records reach read_committed readers.
    txn_ = std::make_unique<kafka::KafkaProducer>(
        ks_, std::vector<std::pair<std::string, std::string>>{{"transactional.id", txn_id_},
                                                               {"transaction.timeout.ms", "60000"},
                                                               {"message.timeout.ms", "60000"}});
    txn_->InitTransactions();
    SLOG_INFO("{}{} view(s) over {} (lease {}[{}])", log_, views_.size(), fmt::join(inputs_, ", "), lease_.topic,
              lease_.partition);
    TakeOver();
    std::map<kafka::TopicPartition, int64_t> from;
    for (const auto& tp : InputPartitions()) {
      assigned_.insert(tp);
      from[tp] = StartOffset(tp);
    }
    ExpectSnapshotRows(assigned_);
    consumer_->AssignMore(from);
    last_process_ = last_checkpoint_ = last_refresh_ = Clock::now();
  }

  /// One round: reads a record (waiting up to `poll_ms`), pushes what is due through the views,
  /// checkpoints when due. Returns whether a record was read.
  bool Step(int poll_ms) {
    auto m = consumer_->Poll(poll_ms);
    if (m) {
      next_[{std::string(m->topic), m->partition}] = m->offset + 1;
      const auto header = m->Header(std::string(kSchemaHeader).c_str());
      auto view_input = view_inputs_.find(m->topic);
      if (view_input != view_inputs_.end()) {
        // A view's changelog: whole transactions already (one Kafka transaction of its task). A
        // record of an earlier definition of the view is not its current content.
        if (header && *header == view_input->second) DecodeView(*m, *header);
      } else if (!gate_) {
        Decode(m->topic, m->partition, m->offset, m->key, m->value, header);
      } else {
        Gate(*m, header);
      }
      ++records_;
    }
    if (gate_) {
      // Give up on a missing change only once the transaction topic has been quiet for a second
      // (read to its end): while catching up on a backlog, an END may simply be further on.
      const auto now = Clock::now();
      if (!gate_->unsettled().empty() && (!m || now - last_settle_ >= std::chrono::milliseconds(100))) {
        SettleReadPartitions();
        last_settle_ = now;
      }
      for (const auto& r : gate_->TakeReleased(now, now - last_metadata_ >= std::chrono::seconds(1))) {
        Decode(r.topic, r.partition, r.offset, r.key, r.value, r.schema_header);
      }
      if (gate_->released_incomplete() > warned_incomplete_) {
        SLOG_WARN("{}{} source transaction(s) applied before all their changes were read (END read "
                  "over transform.transaction.wait.ms ago, or over transform.transaction.buffer.max.bytes held; "
                  "a compacted or deleted topic loses changes): the views may show part of them until the rest "
                  "arrives", log_, gate_->released_incomplete() - warned_incomplete_);
        warned_incomplete_ = gate_->released_incomplete();
      }
    }
    if (rebuild_) {
      RebuildAfterTruncate();
      return true;
    }
    const auto now = Clock::now();
    if (decoder_.pending_rows() >= 16384 || (!m && decoder_.pending_rows() > 0) ||
        now - last_process_ >= std::chrono::milliseconds(100)) {
      Process();
      last_process_ = now;
    }
    if (now - last_checkpoint_ >= delay_ || outbox_.bytes() >= checkpoint_bytes_) {
      Checkpoint();
      last_checkpoint_ = Clock::now();
    }
    if (now - last_refresh_ >= std::chrono::seconds(5)) {
      RefreshInputs();  // input topics created since (a table captured later)
      last_refresh_ = now;
    }
    return m.has_value();
  }

  /// --exit-when-caught-up: everything up to the end offsets at start was processed (call after a
  /// Step that read nothing).
  bool Done() {
    if (!view_targets_set_ || !CaughtUp()) return false;
    if (gate_ && !gate_->unsettled().empty()) {
      // Every partition was read to its end at start (or was empty then): no snapshot row of
      // that range is unread. The next round releases what waited for them.
      gate_->SettleAll();
      return false;
    }
    if (records_ != checkpointed_records_) {
      // In Kafka before it counts as done: the views reading this task's view wait for it.
      Checkpoint();
      last_checkpoint_ = Clock::now();
    }
    return true;
  }

  /// --exit-when-caught-up: the end offsets of the topics of the views this task reads, once every
  /// task of those views is done (before, a view's topic has not all it will have).
  void SetViewTargets(const Offsets& targets) {
    for (const auto& [tp, hi] : targets) {
      if (view_inputs_.count(tp.topic)) targets_[tp] = hi;
    }
    view_targets_set_ = true;
  }

  /// Stores and produces what was read so far and stops reading. `revoked`: the group took the
  /// lease away — a successor that already fenced this task's transactions supersedes what it
  /// derived since its last checkpoint (a warning, not an error).
  void Stop(bool revoked) {
    try {
      Checkpoint();
    } catch (const Error& e) {
      if (!revoked || !txn_ || !txn_->fenced()) throw;
      SLOG_WARN("{}", e.what());
    }
    consumer_->Close();
    txn_.reset();
    active_ = false;
    SLOG_INFO("{}stopped: {} records in, {} records out; {}{}", log_, records_, produced_, views_.StateSummary(),
              gate_ ? fmt::format("; {} change(s) of unfinished source transactions held (stored with the "
                                  "checkpoint), {} transaction(s) applied incomplete",
                                  gate_->held_records(), gate_->released_incomplete())
                    : std::string());
  }

  uint64_t records() const { return records_; }
  uint64_t produced() const { return produced_; }
  const std::string& name() const { return spec_.name; }

 private:
  static constexpr const char* kHeldKey = "transform/held";

  int64_t StartOffset(const kafka::TopicPartition& tp) const {
    auto it = next_.find(tp);
    if (it != next_.end()) return it->second;  // the offset stored with the view state
    // Views need a table's whole history: never the group's offsets (another member's) or "latest".
    return RD_KAFKA_OFFSET_BEGINNING;
  }
  static constexpr const char* kTruncatedKey = "transform/truncated";

  /// Decodes one input record: a Debezium envelope, or an upsert record of a view's topic (its
  /// `version` and `before` headers given).
  void Decode(std::string_view topic, int32_t partition, int64_t offset, const std::optional<std::string_view>& key,
              const std::optional<std::string_view>& value, const std::optional<std::string_view>& header,
              const std::optional<std::string_view>& version = std::nullopt,
              const std::optional<std::string_view>& before = std::nullopt) {
    try {
      decoder_.DecodeRecord(topic, key, value, header, version, before);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kData) throw;
      Throw(ErrorKind::kData, "record {}[{}]@{} cannot be read: {}", topic, partition, offset, e.what());
    }
    if (auto t = decoder_.TakeTruncate()) {
      // Once per TRUNCATE (sluice's capture puts its event on every partition of the topic; a
      // replay reads it again): the views keep no input rows to retract, so they are rebuilt.
      uint64_t& at = truncated_[{t->database, t->table}];
      if (t->version > at) {
        at = t->version;
        decoder_.DropBelow(t->database, t->table, t->version);
        rebuild_ = true;
        SLOG_WARN("{}TRUNCATE of {}.{} read from {}[{}]@{}: every view is rebuilt from the input topics, "
                  "without the table's changes before it", log_, t->database, t->table, topic, partition, offset);
      }
    }
  }
  void Decode(std::string_view topic, int32_t partition, int64_t offset, const std::optional<std::string>& key,
              const std::optional<std::string>& value, const std::optional<std::string>& header) {
    auto view = [](const std::optional<std::string>& s) {
      return s ? std::optional<std::string_view>(*s) : std::nullopt;
    };
    Decode(topic, partition, offset, view(key), view(value), view(header));
  }

  /// A record of a view's topic (of its current definition: `header`), in either format.
  void DecodeView(const kafka::Message& m, std::string_view header) {
    Decode(m.topic, m.partition, m.offset, m.key, m.value, header, m.Header(std::string(kVersionHeader).c_str()),
           m.Header(std::string(kBeforeHeader).c_str()));
  }

  /// A record with the transaction gate on: metadata feeds the gate; a change waits in it for the
  /// rest of its source transaction unless it has none.
  void Gate(const kafka::Message& m, const std::optional<std::string_view>& header) {
    try {
      if (m.topic == txn_topic_) {
        last_metadata_ = Clock::now();
        if (m.value) gate_->OnMetadata(*m.value);
        return;
      }
      TransactionGate::Record r;
      r.topic = std::string(m.topic);
      r.partition = m.partition;
      r.offset = m.offset;
      if (m.key) r.key = std::string(*m.key);
      if (m.value) r.value = std::string(*m.value);
      if (header) r.schema_header = std::string(*header);
      if (auto now = gate_->OnChange(std::move(r))) {
        Decode(now->topic, now->partition, now->offset, now->key, now->value, now->schema_header);
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kData) throw;
      Throw(ErrorKind::kData, "record {}[{}]@{} cannot be read: {}", m.topic, m.partition, m.offset, e.what());
    }
  }

  std::vector<kafka::TopicPartition> InputPartitions() {
    return kafka::ListPartitions(consumer_->handle(), [&](const std::string& t) { return inputs_.count(t) > 0; });
  }

  void RefreshInputs() {
    std::map<kafka::TopicPartition, int64_t> added;
    std::vector<kafka::TopicPartition> fresh;
    for (const auto& tp : InputPartitions()) {
      if (assigned_.insert(tp).second) {
        added[tp] = StartOffset(tp);
        fresh.push_back(tp);
      }
    }
    ExpectSnapshotRows(fresh);
    consumer_->AssignMore(added);
  }

  /// With the gate: the change partitions among `tps` may hold snapshot rows until read to their
  /// end or past them (TransactionGate::ExpectPartitions).
  template <typename Partitions>
  void ExpectSnapshotRows(const Partitions& tps) {
    if (!gate_) return;
    std::vector<TransactionGate::Partition> changes;
    for (const auto& tp : tps) {
      if (tp.topic != txn_topic_ && !view_inputs_.count(tp.topic)) changes.emplace_back(tp.topic, tp.partition);
    }
    gate_->ExpectPartitions(changes);
  }

  /// Settles the gate's partitions that were read to the end their last fetch saw.
  void SettleReadPartitions() {
    std::vector<TransactionGate::Partition> done;
    for (const auto& p : gate_->unsettled()) {
      kafka::TopicPartition tp{p.first, p.second};
      auto marks = consumer_->CachedWatermarks(tp);
      if (!marks) continue;
      // Read up to the end: what this member read, else where the consumer stands (a partition
      // with nothing to read: empty, or compacted/deleted up to its end).
      auto it = next_.find(tp);
      std::optional<int64_t> at = it != next_.end() ? std::optional<int64_t>(it->second) : consumer_->Position(tp);
      if (marks->second == 0 || (at && *at >= marks->second) || (marks->first >= 0 && marks->first >= marks->second)) {
        done.push_back(p);
      }
    }
    for (const auto& p : done) gate_->Settled(p);
  }

  /// Reads who held the lease last. Another member (or a state directory that is not this one):
  /// this state is older than what that member produced, and replaying from it could leave rows it
  /// produced and this replay never touches; so every view is rebuilt from the topics, its
  /// versions above every version that member produced.
  void TakeOver() {
    std::string last_owner;
    uint64_t last_version = 0;
    std::string produced;
    auto parse = [](const std::string& v, std::string* owner, uint64_t* version, std::string* produced) {
      std::istringstream in(v);
      std::string word;
      while (in >> word) {
        if (owner && word.rfind("owner=", 0) == 0) *owner = word.substr(6);
        if (produced && word.rfind("produced=", 0) == 0) *produced = word.substr(9);
        if (word.rfind("version=", 0) == 0) *version = std::max<uint64_t>(*version, std::stoull(word.substr(8)));
      }
    };
    if (auto v = kafka::ReadLastValue(ks_, lease_)) parse(*v, &last_owner, &last_version, &produced);
    if (last_owner != owner_) {
      // The other tasks' leases too: under another layout of the tasks (transform.parallelism or
      // the views changed) they wrote these view topics, with versions up to theirs.
      uint64_t all_version = last_version;
      bool others = false;
      kafka::ReadAll(
          ks_, kafka::ListPartitions(consumer_->handle(), [&](const std::string& t) { return t == lease_.topic; }),
          [&](const kafka::Message& m) {
            if (!m.value || m.partition == lease_.partition) return;
            others = true;
            parse(std::string(*m.value), nullptr, &all_version, nullptr);
          },
          /*tail=*/16);
      if (!last_owner.empty()) {
        SLOG_WARN("{}taking over the views from member {} of the group: this state directory is not the "
                  "last one that maintained them, so every view is rebuilt from the topics (their versions above {})",
                  log_, last_owner, all_version);
        Process();
        RebuildFromTopics(all_version + 1);
        return;
      }
      if (others) {
        // Even with a checkpoint of its own: under the other layout another member may have taken
        // this directory's views over since.
        SLOG_WARN("{}holding the lease of a task new to the group (transform.parallelism or the views changed): "
                  "the rows an earlier layout of the tasks left in its view topics are deleted and its views "
                  "built from the topics (their versions above {})", log_, all_version);
        Process();
        RebuildFromTopics(all_version + 1);
        return;
      }
    }
    SLOG_INFO("{}holding the lease; resuming from this state directory's checkpoint", log_);
    produced_token_ = produced;
    // Later versions exceed the lease's: also the deletes of a rebuild that crashed before storing.
    views_.RaiseVersionFloor(last_version);
    WriteLease();
    ProduceStoredOutbox();
  }

  /// Resets every view and deletes every key their topics hold (at `version`, above every version
  /// produced so far), then stores the empty state with offsets that read every input from its
  /// start: the rebuild's changes (above `version`) fill the views again. The rebuild need not
  /// derive again a key produced before (by another member, from its own interleaving of the
  /// partitions; or before a TRUNCATE), hence the deletes.
  void RebuildFromTopics(uint64_t version) {
    // What this directory stored but may not have produced is superseded by the rebuild (its
    // pieces in the state are overwritten or deleted with the next outbox).
    if (auto c = state_.Get(Outbox::kCount)) stored_pieces_ = std::stoull(*c);
    views_.Reset([](const TableSchema&) {});
    next_.clear();
    if (gate_) gate_->Clear();
    Sweep(version);
    SLUICE_CRASH_POINT("transform.after_sweep");
    views_.RaiseVersionFloor(version);
    auto puts = StatePuts();
    if (!outbox_.empty()) StoreOutbox(puts);
    // Stored before the lease names this directory: a crash in between takes over again.
    views_.CommitState(std::move(puts));
    WriteLease();
    ProduceOutbox();
  }

  /// A TRUNCATE of an input table was read: the views keep no input rows to retract, so every view
  /// is rebuilt from the input topics (RebuildFromTopics), its table's earlier changes skipped.
  void RebuildAfterTruncate() {
    rebuild_ = false;
    // What was read or derived since the last checkpoint is dropped, not produced: the rebuild
    // derives it again, and a record produced after the sweep below would stay (a key new since
    // the checkpoint is not in the topics for the sweep to delete). A crash before the rebuild is
    // stored resumes from that checkpoint and reads the TRUNCATE again.
    decoder_.TakeChunks();
    outbox_.Clear();
    outbox_token_.clear();
    const uint64_t version = views_.last_version() + 1;
    // The lease names the deletes' version before they are produced: should this process crash
    // before storing the rebuild, its restart (TakeOver) produces above them.
    views_.RaiseVersionFloor(version);
    WriteLease();
    RebuildFromTopics(version);
    consumer_->Rewind(std::vector<kafka::TopicPartition>(assigned_.begin(), assigned_.end()));
    ExpectSnapshotRows(assigned_);
  }

  /// The state stored with every checkpoint besides the views' own: input offsets, changes of
  /// unfinished source transactions, TRUNCATEs applied.
  std::vector<std::pair<std::string, std::string>> StatePuts() const {
    std::vector<std::pair<std::string, std::string>> puts{{"transform/offsets", SerializeOffsets(next_)}};
    // Changes of unfinished transactions: read (the offsets are past them) but not applied yet.
    if (gate_) puts.emplace_back(kHeldKey, gate_->Serialize());
    std::string t;
    for (const auto& [name, version] : truncated_) t += fmt::format("{}\t{}\t{}\n", name.first, name.second, version);
    puts.emplace_back(kTruncatedKey, std::move(t));
    return puts;
  }

  /// Produces a delete (at `version`) of every key the views' topics hold alive. Records written
  /// under another definition of a view (another schema) are left alone. Memory stays bounded
  /// whatever the topics hold: the last record of every key is collected in a scratch range of
  /// the state store (kSweepPrefix, unsynced: a crash before the lease names this member sweeps
  /// again from scratch), then read back in key order and produced in Kafka transactions of at
  /// most checkpoint_bytes_.
  void Sweep(uint64_t version) {
    std::map<std::string, std::pair<TableSchemaPtr, std::string>> views;  // topic -> (schema, header)
    for (const auto& schema : views_.OutputSchemas()) {
      views[std::string(encoder_.Topic(schema))] = {schema, EncodeSchemaHeader(*schema)};
    }
    auto parts = kafka::ListPartitions(consumer_->handle(), [&](const std::string& t) { return views.count(t) > 0; });
    rocksdb::DB* db = state_.db();
    const std::string begin = kSweepPrefix, end = PrefixEnd(kSweepPrefix);
    rocksdb::WriteOptions wo;  // unsynced: the scratch range only has to outlive this call
    auto check = [&](const rocksdb::Status& st, const char* what) {
      if (!st.ok()) Throw(ErrorKind::kState, "state directory '{}': {} the transform's sweep: {}", state_.dir(), what, st.ToString());
    };
    check(db->DeleteRange(wo, db->DefaultColumnFamily(), begin, end), "clearing");
    // Key: prefix, topic, NUL, record key. Value: header length (4 bytes), header, record value.
    // A tombstone deletes the key: what stays is the last record of each key still alive.
    rocksdb::WriteBatch batch;
    size_t records = 0;
    std::string k, v;
    kafka::ReadAll(ks_, parts, [&](const kafka::Message& m) {
      ++records;
      if (!m.key) return;
      k.assign(kSweepPrefix).append(m.topic).push_back('\0');
      k.append(*m.key);
      if (!m.value) {
        batch.Delete(k);
      } else {
        auto h = m.Header(std::string(kSchemaHeader).c_str());
        // The high bit: an upsert record (its value is the row itself).
        const bool upsert = m.Header(std::string(kVersionHeader).c_str()).has_value();
        const uint32_t hl = (h ? static_cast<uint32_t>(h->size()) : 0) | (upsert ? kUpsertBit : 0);
        v.assign(reinterpret_cast<const char*>(&hl), sizeof hl);
        if (h) v.append(*h);
        v.append(*m.value);
        batch.Put(k, v);
      }
      if (batch.GetDataSize() >= (4u << 20)) {
        check(db->Write(wo, &batch), "writing");
        batch.Clear();
      }
    });
    check(db->Write(wo, &batch), "writing");
    batch.Clear();

    DebeziumDecoder decoder(DebeziumDecoderOptions{DebeziumFromConfig(config_), [](std::string_view f) {
                                                     return mysql::BinlogFileSequence(std::string(f));
                                                   }});
    size_t other_schema = 0, deletes = 0, pending_bytes = 0;
    auto emit = [&] {
      for (const auto& c : decoder.TakeChunks()) {
        const TableSchemaPtr& schema = views[std::string(encoder_.Topic(c.schema()))].first;
        if (!schema) continue;
        ChangeChunk del(schema);
        const uint32_t si = del.AddSource(c.source(0));
        for (size_t r = 0; r < c.size(); ++r) {
          if (c.op(r) == RowOp::kDelete || c.op(r) == RowOp::kUpdateBefore) continue;
          if (!views_.OwnsOutputRow(c, r)) continue;  // another shard's row of the view
          del.BeginRow(RowOp::kDelete, version, si, 0);
          for (size_t col = 0; col < c.num_columns(); ++col) del.column(col).AppendFrom(c.column(col), r);
          ++deletes;
        }
        Produce(del);
      }
      ProduceOutbox();
      pending_bytes = 0;
    };
    rocksdb::ReadOptions ro;
    const rocksdb::Slice upper(end);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    for (it->Seek(begin); it->Valid(); it->Next()) {
      const std::string_view key(it->key().data() + begin.size(), it->key().size() - begin.size());
      const size_t nul = key.find('\0');
      const std::string_view val(it->value().data(), it->value().size());
      uint32_t hl = 0;
      if (nul == std::string_view::npos || val.size() < sizeof hl) continue;
      std::memcpy(&hl, val.data(), sizeof hl);
      const bool upsert = (hl & kUpsertBit) != 0;
      hl &= ~kUpsertBit;
      if (val.size() < sizeof hl + hl) continue;
      const std::string topic(key.substr(0, nul));
      const std::string_view header = val.substr(sizeof hl, hl), value = val.substr(sizeof hl + hl);
      if (header != views[topic].second) {
        ++other_schema;
        continue;
      }
      // An upsert record's row is the row alive: decoded as an insert (any version will do).
      decoder.DecodeRecord(topic, key.substr(nul + 1), value, header,
                           upsert ? std::optional<std::string_view>("0") : std::nullopt, std::nullopt);
      pending_bytes += it->key().size() + it->value().size();
      if (pending_bytes >= checkpoint_bytes_) emit();
    }
    check(it->status(), "reading");
    it.reset();
    emit();
    check(db->DeleteRange(wo, db->DefaultColumnFamily(), begin, end), "clearing");
    SLOG_INFO("{}read {} record(s) of the view topics; deleted the {} view row(s) they hold{}", log_, records,
              deletes,
              other_schema ? fmt::format(" ({} written under an earlier definition of their view left alone)",
                                         other_schema)
                           : std::string());
  }

  /// The lease record: who maintains the views now, and a version no view record produced so far
  /// exceeds. Acknowledged before any record it covers is produced.
  void WriteLease() {
    const std::string key = "lease";
    const std::string value = LeaseValue(produced_token_);
    const std::string_view k(key), v(value);
    Transaction([&] { txn_->Produce(lease_.topic, &k, &v, {}, lease_.partition); });
  }

  /// Runs `produce` (calls of txn_->Produce) as one Kafka transaction of the lease holder, again
  /// while the brokers abort it; an error once another member fenced this one.
  void Transaction(const std::function<void()>& produce) {
    SLUICE_CHECK(txn_ != nullptr, "transform: producing view records without holding the lease");
    int backoff_ms = 200;
    try {
      while (!txn_->RunTransaction(produce)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
        backoff_ms = std::min(backoff_ms * 2, 10000);
      }
    } catch (const Error& e) {
      if (!txn_->fenced()) throw;
      Throw(ErrorKind::kBus,
            "transform: another member of group {} took over the views while this one was not heard from (paused "
            "or cut off longer than session.timeout.ms), and fenced its Kafka transactions ({}): nothing this one "
            "wrote since is visible to read_committed readers, the new holder rebuilds it (should this process "
            "stop on it, restart it: it stands by)",
            config_.GetString("transform", "group.id"), e.what());
    }
  }

  /// Pushes what was decoded through the views and produces their changes.
  void Process() {
    auto chunks = decoder_.TakeChunks();
    std::stable_sort(chunks.begin(), chunks.end(),
                     [](const ChangeChunk& a, const ChangeChunk& b) { return a.version(0) < b.version(0); });
    std::vector<ChangeChunk> out;
    for (const auto& c : chunks) {
      views_.Push(c);
      // Without the gate a chunk is the unit; with it, the decoder holds whole transactions only,
      // and one commit after them all keeps a transaction that spans tables (chunks) whole.
      if (!gate_) views_.Commit(out);
    }
    if (gate_) views_.Commit(out);
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
      EnsureTopic(std::string(encoder_.Topic(c.schema())));
    }
    auto add = [&](const DebeziumRecord& r) {
      Outbox::Upsert u;
      u.version = r.version;
      u.before = r.has_before ? &r.before : nullptr;
      outbox_.Add(c.schema().get(), r.topic, header.first, r.key_is_null ? nullptr : &r.key,
                  r.value_is_null ? nullptr : &r.value, r.upsert ? &u : nullptr);
    };
    if (views_.WritesUpsert(c.schema()->table)) {
      encoder_.EncodeUpsertChunk(c, add);
    } else {
      encoder_.EncodeChunk(c, add);
    }
  }

  void EnsureTopic(const std::string& topic) {
    if (created_.insert(topic).second) kafka::EnsureTopic(producer_.handle(), topic, ks_.topics);
  }

  /// The lease record: this directory, a version no view record produced so far exceeds, the
  /// task, and the token of the last stored outbox known to be in Kafka.
  std::string LeaseValue(const std::string& produced) const {
    return fmt::format("owner={} version={} task={}{}", owner_, views_.last_version(), spec_.name,
                       produced.empty() ? std::string() : " produced=" + produced);
  }

  /// Adds the outbox to the state writes of a checkpoint, under a fresh token.
  void StoreOutbox(std::vector<std::pair<std::string, std::string>>& puts) {
    outbox_.AppendPuts(puts, stored_pieces_);
    stored_pieces_ = std::max(stored_pieces_, outbox_.pieces());
    outbox_token_ = fmt::format("{:016x}", std::uniform_int_distribution<uint64_t>()(rng_));
    puts.emplace_back(Outbox::kToken, outbox_token_);
  }

  /// Produces the outbox and waits until the brokers acknowledged it; then forgets it. A stored
  /// outbox's transaction also writes the lease record naming its token: exactly once in Kafka
  /// even when a crash comes before the state forgets it.
  void ProduceOutbox() {
    if (outbox_.empty()) return;
    size_t n = 0;
    const std::string key = "lease";
    const std::string marker = outbox_token_.empty() ? std::string() : LeaseValue(outbox_token_);
    Transaction([&] {
      n = 0;
      std::string version;
      std::vector<kafka::Header> headers;
      outbox_.ForEach([&](const std::string& topic, const std::string& header, const std::string_view* key,
                          const std::string_view* value, const Outbox::Upsert* upsert) {
        headers.assign({{kSchemaHeader, header}});
        if (upsert) {
          version = std::to_string(upsert->version);
          headers.push_back({kVersionHeader, version});
          if (upsert->before) headers.push_back({kBeforeHeader, *upsert->before});
        }
        txn_->Produce(topic, key, value, headers);
        ++n;
      });
      if (!marker.empty()) {
        const std::string_view k(key), v(marker);
        txn_->Produce(lease_.topic, &k, &v, {}, lease_.partition);
      }
    });
    produced_ += n;
    if (!outbox_token_.empty()) {
      produced_token_ = outbox_token_;
      SLUICE_CRASH_POINT("transform.after_produce");  // in Kafka, still in the state directory
    }
    ForgetOutbox();
  }

  /// Drops the outbox from memory and the state directory.
  void ForgetOutbox() {
    // Not synced: should it be lost, a restart finds its token in the lease partition.
    std::vector<std::string> pieces{Outbox::kTables, Outbox::kToken};
    for (size_t i = 0; i < stored_pieces_; ++i) pieces.push_back(Outbox::PieceKey(i));
    state_.Write({{Outbox::kCount, "0"}}, pieces, false);
    stored_pieces_ = 0;
    outbox_.Clear();
    outbox_token_.clear();
  }

  /// Everything consumed so far through the views; state, offsets and the views' output since the
  /// last checkpoint stored together; then that output produced.
  void Checkpoint() {
    if (!active_) return;  // not started: nothing read, nothing to store
    checkpointed_records_ = records_;
    Process();
    auto puts = StatePuts();
    if (!outbox_.empty()) {
      // The lease record first: should another member take over before this outbox is produced
      // (after a crash, at the restart), its versions still exceed every one in it.
      if (active_) WriteLease();
      StoreOutbox(puts);
    }
    views_.CommitState(std::move(puts));
    // The outbox is stored, not produced (counted only for checkpoints that have one).
    if (!outbox_.empty()) SLUICE_CRASH_POINT("transform.after_checkpoint");
    ProduceOutbox();
    if (consumer_ && !next_.empty()) {
      try {
        consumer_->Commit(next_);  // for the group's lag; the stored offsets are what counts
      } catch (const Error& e) {
        SLOG_WARN("{}committing offsets to the group failed (the state directory has them): {}", log_, e.what());
      }
    }
  }

  /// Everything up to the end offsets at start was processed by this task (its offsets).
  bool CaughtUp() {
    for (const auto& [tp, hi] : targets_) {
      auto it = next_.find(tp);
      if (it != next_.end() && it->second >= hi) continue;
      // Past a transactional partition's last record stands its commit marker: the consumer's
      // position is beyond it once nothing more is there.
      auto pos = it != next_.end() ? consumer_->Position(tp) : std::nullopt;
      if (!pos || *pos < hi) return false;
    }
    return true;
  }

  std::unique_ptr<StateStore> state_owned_;  ///< before the views: their state manager uses it
  std::unique_ptr<ViewStage> views_owned_;
  const Config& config_;
  const kafka::KafkaSettings& ks_;
  TaskSpec spec_;
  size_t checkpoint_bytes_;  ///< a checkpoint is taken once this many bytes of view records wait
  StateStore& state_;
  ViewStage& views_;
  DebeziumEncoder encoder_;
  DebeziumDecoder decoder_;
  kafka::KafkaProducer producer_;  ///< topic administration
  std::unique_ptr<kafka::KafkaProducer> txn_;  ///< the lease holder's transactional producer
  std::string txn_id_;
  std::unique_ptr<kafka::KafkaConsumer> consumer_;
  Offsets next_;
  std::chrono::milliseconds delay_;
  std::set<std::string> inputs_;
  std::set<std::string> created_;
  std::map<const TableSchema*, std::pair<std::string, TableSchemaPtr>> headers_;
  std::map<kafka::TopicPartition, int64_t> targets_;
  kafka::TopicPartition lease_;
  std::string owner_;  ///< this state directory's name in lease records
  bool active_ = false;
  std::string log_;  ///< prefix of its log lines
  Clock::time_point last_process_{}, last_checkpoint_{}, last_refresh_{};
  std::map<std::pair<std::string, std::string>, uint64_t> truncated_;  ///< (db, table) -> its last TRUNCATE's version
  bool rebuild_ = false;  ///< a TRUNCATE was read: rebuild before reading on
  std::set<kafka::TopicPartition> assigned_;
  std::map<std::string, std::string, std::less<>> view_inputs_;  ///< topic of a view read -> its schema header
  Outbox outbox_;
  std::string outbox_token_;    ///< the token of outbox_ when it is stored (StoreOutbox)
  std::string produced_token_;  ///< the token of the last stored outbox produced (in the lease records)
  std::mt19937_64 rng_{std::random_device{}()};
  size_t stored_pieces_ = 0;  ///< outbox pieces the state store may hold (overwritten by the next)
  uint64_t records_ = 0, produced_ = 0;
  uint64_t checkpointed_records_ = 0;  ///< records_ at the last checkpoint
  bool view_targets_set_ = true;       ///< false until SetViewTargets when views are read
  Clock::time_point last_settle_{};
  std::unique_ptr<TransactionGate> gate_;  ///< provide.transaction.metadata: whole transactions only
  std::string txn_topic_;
  uint64_t warned_incomplete_ = 0;
  Clock::time_point last_metadata_{};  ///< when the last transaction topic record was read
};

/// The views split into tasks (TaskSpec). Parallelism 1: one task with every view, in state.dir
/// (the layout of earlier versions). Otherwise every view is a task, reading the views it reads
/// from their topics, and a view whose work splits by key (sql::ShardKeyOf) is `parallelism`
/// tasks, one per shard.
std::vector<TaskSpec> PlanTasks(const Config& config, const std::vector<ViewInfo>& views, int parallelism) {
  DebeziumEncoder encoder(DebeziumFromConfig(config));
  const std::string group = config.GetString("transform", "group.id");
  const std::string state_dir = config.GetPath("state", "dir");
  std::map<std::string, const ViewInfo*> by_name;
  for (const auto& v : views) by_name[v.name] = &v;
  auto inputs_of = [&](const std::vector<const ViewInfo*>& vs, bool local_views) {
    std::set<std::string> topics;
    for (const ViewInfo* v : vs) {
      for (const auto& t : v->read_tables) topics.insert(std::string(encoder.Topic(t)));
      if (local_views) continue;
      for (const auto& r : v->read_views) topics.insert(std::string(encoder.Topic(by_name.at(r)->output)));
    }
    if (encoder.options().provide_transaction_metadata) topics.insert(encoder.TransactionTopic());
    return topics;
  };
  std::vector<TaskSpec> tasks;
  if (parallelism <= 1) {
    TaskSpec t;
    t.name = "views";
    t.state_dir = state_dir;
    t.txn_id = "sluice-transform." + group;
    t.commit_group = group + ".views";
    std::vector<const ViewInfo*> all;
    for (const auto& v : views) all.push_back(&v);
    t.inputs = inputs_of(all, /*local_views=*/true);
    tasks.push_back(std::move(t));
    return tasks;
  }
  auto safe = [](std::string n) {
    for (char& ch : n) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') ch = '_';
    }
    return n;
  };
  const std::set<std::string> split = SplitViews(views);
  for (const auto& v : views) {
    const std::string name = safe(v.name);
    const uint32_t shards = split.count(v.name) ? static_cast<uint32_t>(parallelism) : 1;
    for (uint32_t sh = 0; sh < shards; ++sh) {
      TaskSpec t;
      t.name = shards > 1 ? fmt::format("{}.shard-{}-of-{}", name, sh, shards) : name;
      t.all_views = false;
      t.selection.views.insert(v.name);
      t.selection.shard = sh;
      t.selection.shards = shards;
      t.state_dir = (std::filesystem::path(state_dir) / "tasks" / t.name).string();
      t.txn_id = "sluice-transform." + group + "." + t.name;
      t.commit_group = group + "." + t.name;
      t.inputs = inputs_of({&v}, /*local_views=*/false);
      for (const auto& r : v.read_views) t.view_inputs.insert(std::string(encoder.Topic(by_name.at(r)->output)));
      t.output_topic = std::string(encoder.Topic(v.output));
      tasks.push_back(std::move(t));
    }
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    tasks[i].index = static_cast<int>(i);
    tasks[i].task_count = tasks.size();
  }
  return tasks;
}

/// This process's member of the transform group: the group hands out the lease topic's
/// partitions, one per task (cooperative-sticky assignor: a member joining moves only what it
/// takes), and the coordinator runs the tasks whose partitions it holds, each on its own thread,
/// starting a task when its partition comes and stopping it when it goes.
class TransformCoordinator : public kafka::RebalanceListener {
 public:
  TransformCoordinator(const Config& config, const kafka::KafkaSettings& ks, std::vector<TableSchemaPtr> tables,
                       std::vector<TaskSpec> tasks, bool from_earliest, std::string config_path)
      : config_(config),
        ks_(ks),
        tables_(std::move(tables)),
        tasks_(std::move(tasks)),
        from_earliest_(from_earliest),
        config_path_(std::move(config_path)),
        lease_topic_(TransformLoop::LeaseTopic(config)) {}

  /// Checks every task whose state directory is here: its views must be the ones it last ran
  /// (else the error that asks for --reset-offsets earliest, before joining the group).
  void CheckStoredTasks() {
    if (from_earliest_) return;  // every view is rebuilt anyway
    for (const auto& t : tasks_) {
      if (std::filesystem::exists(t.state_dir)) OpenState(t);
    }
  }

  int Run(bool exit_when_caught_up) {
    group_ = std::make_unique<kafka::KafkaConsumer>(ks_, config_.GetString("transform", "group.id"), this,
                                                    /*sticky=*/true);
    if (exit_when_caught_up) {
      // The views' topics get their targets once the tasks writing them are done (AllDone).
      std::set<std::string> inputs;
      for (const auto& t : tasks_) {
        for (const auto& topic : t.inputs) {
          if (!t.view_inputs.count(topic)) inputs.insert(topic);
        }
      }
      for (const auto& tp : kafka::ListPartitions(group_->handle(), [&](const std::string& t) { return inputs.count(t) > 0; })) {
        auto [lo, hi] = group_->Watermarks(tp);
        if (hi > lo) targets_[tp] = hi;
      }
    }
    {
      kafka::KafkaProducer admin(ks_);
      kafka::TopicSettings lease_settings = ks_.topics;
      lease_settings.partitions = static_cast<int>(tasks_.size());
      kafka::EnsureTopic(admin.handle(), lease_topic_, lease_settings);
      kafka::EnsurePartitions(admin.handle(), lease_topic_, static_cast<int>(tasks_.size()));
    }
    group_->Subscribe({lease_topic_});
    std::vector<std::string> names;
    for (const auto& t : tasks_) names.push_back(t.name);
    SLOG_INFO("transform: {} task(s) in group {} (lease {}, one partition each): {}", tasks_.size(),
              config_.GetString("transform", "group.id"), lease_topic_, fmt::join(names, ", "));
    exit_when_caught_up_ = exit_when_caught_up;
    bool caught_up = false;
    try {
      while (!StopRequested()) {
        // Rebalances (Reassign, OnRevoke) come through the group consumer's poll; the tasks run
        // on their own threads.
        group_->Poll(100);
        for (auto& [i, r] : running_) {
          if (r->finished.load()) StopRunner(*r, false);  // failed: rethrows its error
        }
        if (exit_when_caught_up && AllDone()) {
          caught_up = true;
          break;
        }
      }
    } catch (...) {
      StopAll();
      throw;
    }
    StopAll(/*rethrow=*/true);
    closing_ = true;
    group_->Close();
    SLOG_INFO("transform stopped{}: {} records in, {} records out", caught_up ? " (caught up)" : "", records_,
              produced_);
    return 0;
  }

  void OnRevoke(const std::vector<kafka::TopicPartition>& parts) override {
    for (const auto& tp : parts) {
      auto it = running_.find(tp.partition);
      if (tp.topic != lease_topic_ || it == running_.end()) continue;
      auto r = std::move(it->second);
      running_.erase(it);
      StopRunner(*r, true);
      if (!closing_) {
        SLOG_INFO("transform: the group took the lease of task {} away (a member joined or left){}",
                  tasks_[static_cast<size_t>(tp.partition)].name, running_.empty() ? "; standing by" : "");
      }
    }
  }

  /// Given lease partitions: starts their tasks, each on a thread of its own. The group's
  /// partitions themselves are not read.
  std::optional<std::vector<kafka::TopicPartition>> Reassign(const std::vector<kafka::TopicPartition>& given) override {
    for (const auto& tp : given) {
      if (tp.topic != lease_topic_ || tp.partition < 0 || static_cast<size_t>(tp.partition) >= tasks_.size()) continue;
      if (running_.count(tp.partition)) continue;
      const TaskSpec& spec = tasks_[static_cast<size_t>(tp.partition)];
      auto r = std::make_unique<Runner>();
      r->task = Open(spec);
      reset_done_.insert(spec.index);
      if (auto vt = view_targets_.find(spec.index); vt != view_targets_.end()) r->view_targets = vt->second;
      Runner* raw = r.get();
      r->thread = std::thread([this, raw] { RunTask(*raw); });
      running_[tp.partition] = std::move(r);
    }
    if (running_.empty() && !closing_) {
      SLOG_INFO("transform: other members of group {} hold the lease of every task; standing by",
                config_.GetString("transform", "group.id"));
    }
    return std::vector<kafka::TopicPartition>{};
  }

  std::optional<int64_t> OnAssign(const kafka::TopicPartition&) override { return std::nullopt; }

 private:
  /// A task's state directory, views and stored offsets.
  struct TaskState {
    std::unique_ptr<StateStore> state;
    std::unique_ptr<ViewStage> views;
    Offsets stored;
  };

  /// The task's state and views, checked to be the ones it last ran.
  TaskState OpenState(const TaskSpec& t) {
    std::filesystem::create_directories(t.state_dir);
    auto state = StateStore::Open(t.state_dir, /*read_only=*/false,
                                  static_cast<uint64_t>(std::max<int64_t>(0, config_.GetInt("state", "min.free.bytes"))));
    auto views = std::make_unique<ViewStage>(config_, tables_, t.all_views ? nullptr : &t.selection);
    views->set_monotonic_versions(true);
    Offsets stored;
    const bool reset = from_earliest_ && !reset_done_.count(t.index);
    if (!reset) {
      if (auto v = state->Get("transform/offsets")) stored = ParseOffsets(*v);
    }
    const size_t budget = static_cast<size_t>(config_.GetInt("transform", "memory.max.bytes")) / tasks_.size();
    const auto rebuild = views->Restore(*state, "transform/", !stored.empty(), false, budget);
    if (!rebuild.empty()) {
      Throw(ErrorKind::kConfig,
            "view(s) {} are new or changed since the last run{}: rebuild the views from the topics with "
            "`sluice transform {} --reset-offsets earliest` (the source topics must still hold every change: "
            "retention or cleanup.policy compact)",
            fmt::join(rebuild, ", "), t.all_views ? std::string() : " of task " + t.name, config_path_);
    }
    if (reset) SLOG_INFO("transform: --reset-offsets earliest: task {} rebuilds its views from the topics", t.name);
    return TaskState{std::move(state), std::move(views), std::move(stored)};
  }

  std::unique_ptr<TransformLoop> Open(const TaskSpec& t) {
    TaskState ts = OpenState(t);
    return std::make_unique<TransformLoop>(config_, ks_, t, std::move(ts.state), std::move(ts.views),
                                           std::move(ts.stored));
  }

  /// A task on its thread: started (taking over or resuming), stepped until told to stop, then
  /// stopped (its last checkpoint). An error ends the thread; the coordinator rethrows it.
  struct Runner {
    std::unique_ptr<TransformLoop> task;
    std::thread thread;
    std::atomic<bool> stop{false}, revoked{false}, done{false}, finished{false};
    std::exception_ptr error;  ///< written by the thread before `finished`
    std::mutex mutex;          ///< guards view_targets
    std::optional<Offsets> view_targets;  ///< AllDone -> the thread: TransformLoop::SetViewTargets
  };

  void RunTask(Runner& r) {
    try {
      r.task->Start(targets_);
      while (!r.stop.load()) {
        {
          std::lock_guard<std::mutex> lock(r.mutex);
          if (r.view_targets) r.task->SetViewTargets(*std::exchange(r.view_targets, std::nullopt));
        }
        const bool read = r.task->Step(100);
        if (exit_when_caught_up_) r.done = !read && r.task->Done();
      }
      r.task->Stop(r.revoked.load());
    } catch (...) {
      r.error = std::current_exception();
    }
    r.finished = true;
  }

  /// Stops the task (its thread checkpoints and ends); rethrows the error it ended with.
  void StopRunner(Runner& r, bool revoked) {
    r.revoked = revoked;
    r.stop = true;
    if (r.thread.joinable()) r.thread.join();
    records_ += r.task->records();
    produced_ += r.task->produced();
    if (r.error) std::rethrow_exception(std::exchange(r.error, nullptr));
  }

  /// Stops every task; with `rethrow`, rethrows the first error once all have stopped.
  void StopAll(bool rethrow = false) {
    std::exception_ptr first;
    for (auto& [i, r] : running_) {
      try {
        StopRunner(*r, false);
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    running_.clear();
    if (rethrow && first) std::rethrow_exception(first);
  }

  /// --exit-when-caught-up: every task processed its inputs up to their end offsets at start —
  /// here (the task's own offsets), or at the member holding it (its commit group's offsets,
  /// asked at most once a second). A view's topic counts up to its end once every task of the
  /// view is done (tasks come in view creation order: a view's before the views reading it).
  bool AllDone() {
    const auto now = Clock::now();
    const bool ask_group = now - last_group_check_ >= std::chrono::seconds(1);
    if (ask_group) last_group_check_ = now;
    std::map<std::string, bool> view_done;  // output topic -> every task of the view done
    for (const auto& spec : tasks_) view_done.emplace(spec.output_topic, true);
    bool all = true;
    for (const auto& spec : tasks_) {
      const bool done = TaskDone(spec, ask_group, view_done);
      if (!spec.output_topic.empty() && !done) view_done[spec.output_topic] = false;
      all = all && done;
    }
    return all;
  }

  bool TaskDone(const TaskSpec& spec, bool ask_group, const std::map<std::string, bool>& view_done) {
    if (!spec.view_inputs.empty() && !view_targets_.count(spec.index)) {
      for (const auto& topic : spec.view_inputs) {
        auto it = view_done.find(topic);
        if (it != view_done.end() && !it->second) return false;
      }
      // What the views it reads produced is in their topics now.
      Offsets vt;
      for (const auto& tp : kafka::ListPartitions(group_->handle(), [&](const std::string& t) {
             return spec.view_inputs.count(t) > 0;
           })) {
        auto [lo, hi] = group_->Watermarks(tp);
        if (hi > lo) vt[tp] = hi;
      }
      view_targets_[spec.index] = vt;
      auto r = running_.find(spec.index);
      if (r != running_.end()) {
        std::lock_guard<std::mutex> lock(r->second->mutex);
        r->second->view_targets = vt;
      }
      return false;
    }
    auto r = running_.find(spec.index);
    if (r != running_.end()) return r->second->done.load();
    if (!ask_group) return false;
    std::map<kafka::TopicPartition, int64_t> want;
    for (const auto& [tp, hi] : targets_) {
      if (spec.inputs.count(tp.topic)) want[tp] = hi;
    }
    if (auto vt = view_targets_.find(spec.index); vt != view_targets_.end()) want.insert(vt->second.begin(), vt->second.end());
    if (want.empty()) return true;
    std::vector<kafka::TopicPartition> tps;
    for (const auto& [tp, hi] : want) tps.push_back(tp);
    auto& probe = probes_[spec.index];
    if (!probe) probe = std::make_unique<kafka::KafkaConsumer>(ks_, spec.commit_group, nullptr);
    const auto committed = probe->Committed(tps);
    for (const auto& [tp, hi] : want) {
      auto it = committed.find(tp);
      if (it == committed.end() || it->second < hi) return false;
    }
    return true;
  }

  const Config& config_;
  const kafka::KafkaSettings& ks_;
  std::vector<TableSchemaPtr> tables_;
  std::vector<TaskSpec> tasks_;
  bool from_earliest_;
  std::string config_path_;
  std::string lease_topic_;
  std::unique_ptr<kafka::KafkaConsumer> group_;
  std::map<int, std::unique_ptr<Runner>> running_;  ///< by lease partition
  bool exit_when_caught_up_ = false;
  std::map<int, std::unique_ptr<kafka::KafkaConsumer>> probes_;  ///< AllDone: other members' tasks
  std::set<int> reset_done_;  ///< --reset-offsets earliest applied (once per task and process)
  Offsets targets_;
  std::map<int, Offsets> view_targets_;  ///< AllDone: by task, the end offsets of the views' topics it reads
  bool closing_ = false;
  Clock::time_point last_group_check_{};
  uint64_t records_ = 0, produced_ = 0;
};

}  // namespace

/// The source tables' schemas read from their topics, for a transform without a source database
/// connection: `<topic.prefix>.<db>.<table>` topics (within the table filters), the newest
/// record that carries its schema (sluice's `sluice.schema` header, or Debezium's `schema` block
/// with schemas.enable) among the last records of each partition.
std::vector<TableSchemaPtr> SchemasFromTopics(const Config& config, const kafka::KafkaSettings& ks) {
  const DebeziumOptions dopts = DebeziumFromConfig(config);
  const std::string prefix = dopts.topic_prefix + ".";
  mysql::TableFilter filter(config);
  kafka::KafkaProducer admin(ks);
  std::vector<kafka::TopicPartition> parts;
  std::map<std::string, std::pair<std::string, std::string>> topics;  // topic -> (db, table)
  for (const auto& [name, n] : kafka::ListTopics(admin.handle(), 30000)) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const size_t dot = rest.find('.');
    if (dot == std::string::npos || rest.find('.', dot + 1) != std::string::npos) continue;  // a view's topic
    const std::string db = rest.substr(0, dot), table = rest.substr(dot + 1);
    if (!filter.IncludeTable(db, table)) continue;
    topics[name] = {db, table};
    for (int p = 0; p < n; ++p) parts.push_back({name, p});
  }
  struct Newest {
    int64_t ts = -1;
    std::string key, value, header;
    bool has_key = false, has_header = false;
  };
  std::map<std::string, Newest> newest;
  kafka::ReadAll(
      ks, parts,
      [&](const kafka::Message& m) {
        if (!m.value) return;  // a tombstone has no columns
        const auto h = m.Header(std::string(kSchemaHeader).c_str());
        if (!h && m.value->find("\"schema\"") == std::string_view::npos) return;
        Newest& n = newest[std::string(m.topic)];
        if (m.timestamp_ms < n.ts) return;
        n.ts = m.timestamp_ms;
        n.has_key = m.key.has_value();
        n.key = m.key ? std::string(*m.key) : std::string();
        n.value = std::string(*m.value);
        n.has_header = h.has_value();
        n.header = h ? std::string(*h) : std::string();
      },
      /*tail=*/16);
  std::vector<TableSchemaPtr> out;
  std::vector<std::string> without;
  for (const auto& [topic, dbt] : topics) {
    auto it = newest.find(topic);
    if (it == newest.end()) {
      without.push_back(topic);
      continue;
    }
    const Newest& n = it->second;
    DebeziumDecoder decoder(DebeziumDecoderOptions{dopts, [](std::string_view f) {
                                                     return mysql::BinlogFileSequence(std::string(f));
                                                   }});
    try {
      decoder.Decode(topic, n.has_key ? std::optional<std::string_view>(n.key) : std::nullopt,
                     std::string_view(n.value),
                     n.has_header ? std::optional<std::string_view>(n.header) : std::nullopt);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kData) throw;
      SLOG_WARN("transform: the columns of {} cannot be read from its newest record: {}", topic, e.what());
      without.push_back(topic);
      continue;
    }
    auto chunks = decoder.TakeChunks();
    if (chunks.empty() || !chunks.front().schema()) {
      without.push_back(topic);
      continue;
    }
    out.push_back(chunks.front().schema());
  }
  SLOG_INFO("transform: no source.database.hostname: the columns of {} table(s) come from their topics{}", out.size(),
            without.empty() ? std::string()
                            : fmt::format("; not from {} (no record with a schema among their last ones: empty, "
                                          "tombstones only, or Debezium JSON without schemas.enable; a view over "
                                          "them needs source.database.* or schemas.enable)",
                                          fmt::join(without, ", ")));
  return out;
}

int Transform(const CommonFlags& flags, const TransformFlags& tflags) {
  // Without source.database.hostname the source tables' columns come from their topics.
  Config config = LoadConfig(flags, /*source_connection=*/false);
  const bool from_topics = !config.Has("source", "database.hostname");
  if (!from_topics) config = LoadConfig(flags);
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
  const int parallelism = static_cast<int>(config.GetInt("transform", "parallelism"));
  if (parallelism < 1 || parallelism > 256) {
    Throw(ErrorKind::kConfig, "{}: transform.parallelism is {}: give the number of shards (1 to 256) each view whose "
          "work splits by key is divided into", config.file(), parallelism);
  }
  kafka::KafkaSettings ks = kafka::KafkaSettingsFromConfig(config, "transform");
  // The source tables' schemas bind the views: read from the source database, as `run` does, or
  // from the topics.
  const std::vector<TableSchemaPtr> tables =
      from_topics ? SchemasFromTopics(config, ks)
                  : LoadEmittedSchemas(mysql::CaptureOptions::FromConfig(config), mysql::TableFilter(config));
  const bool from_earliest = tflags.reset_offsets == "earliest";
  // Every view compiled once here: SQL errors stop the process before it joins the group.
  std::vector<TaskSpec> tasks;
  {
    ViewStage all(config, tables);
    const auto info = all.Describe();
    tasks = PlanTasks(config, info, parallelism);
    if (parallelism > 1) {
      const std::set<std::string> split = SplitViews(info);
      for (const auto& v : info) {
        if (!split.count(v.name)) {
          SLOG_INFO("transform: view {} runs as one task: its work does not split by key (a GROUP BY over a join on "
                    "other columns — make the join a view of its own and GROUP BY over it —, a join whose key is not "
                    "the view's, a global aggregate, UNION ALL, FULL JOIN; docs/ARCHITECTURE.md)", v.name);
        }
      }
    }
  }
  if (from_earliest) SLOG_INFO("transform: --reset-offsets earliest: every view is rebuilt from the topics");
  TransformCoordinator coordinator(config, ks, tables, std::move(tasks), from_earliest, flags.config_path);
  coordinator.CheckStoredTasks();
  return coordinator.Run(flags.exit_when_caught_up);
}

}  // namespace sluice::pipeline
