#include "pipeline/transaction_gate.h"

#include <algorithm>
#include <cstring>

#include <simdjson.h>

#include "common/error.h"
#include "mysql/source_info.h"

namespace sluice::pipeline {

namespace dom = simdjson::dom;

namespace {

constexpr size_t kRecentReleased = 4096;

dom::parser& Parser() {
  thread_local dom::parser parser;
  return parser;
}

/// The Debezium envelope of `value` (the "payload" when written with schemas.enable).
dom::object Envelope(std::string_view value, const char* what) {
  dom::element root;
  if (Parser().parse(value.data(), value.size()).get(root)) {
    Throw(ErrorKind::kData, "{} is not JSON", what);
  }
  dom::object obj;
  if (root.get(obj)) Throw(ErrorKind::kData, "{} is not a JSON object", what);
  dom::element payload;
  if (!obj["payload"].get(payload) && !obj["schema"].error()) {
    dom::object inner;
    if (!payload.get(inner)) return inner;
  }
  return obj;
}

void PutU64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), sizeof v); }
void PutStr(std::string& s, std::string_view v) {
  PutU64(s, v.size());
  s.append(v);
}
void PutOpt(std::string& s, const std::optional<std::string>& v) {
  s.push_back(v ? 1 : 0);
  if (v) PutStr(s, *v);
}

struct Reader {
  std::string_view in;
  uint64_t U64() {
    if (in.size() < sizeof(uint64_t)) Throw(ErrorKind::kState, "transform state: held transactions are truncated");
    uint64_t v;
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
  std::string Str() {
    const uint64_t n = U64();
    if (in.size() < n) Throw(ErrorKind::kState, "transform state: held transactions are truncated");
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
  std::optional<std::string> Opt() {
    if (in.empty()) Throw(ErrorKind::kState, "transform state: held transactions are truncated");
    const bool has = in[0] != 0;
    in.remove_prefix(1);
    if (!has) return std::nullopt;
    return Str();
  }
};

}  // namespace

TransactionGate::TransactionGate(std::set<std::string> tables, size_t max_bytes, std::chrono::milliseconds wait)
    : tables_(std::move(tables)), max_bytes_(max_bytes), wait_(wait) {}

void TransactionGate::ExpectPartitions(const std::vector<Partition>& partitions) {
  unsettled_.insert(partitions.begin(), partitions.end());
}

std::optional<TransactionGate::Record> TransactionGate::OnChange(Record r) {
  if (!r.value) return r;  // a tombstone
  dom::object env = Envelope(*r.value, "the record's value");
  {
    // A snapshot row (op "r"; an incremental snapshot's rows interleave with the stream and are
    // not ahead of it) leaves its partition unsettled; a streamed change settles it.
    std::string_view op, snapshot;
    dom::object source;
    const bool snapshot_row = !env["op"].get(op) && op == "r" &&
                              !(!env["source"].get(source) && !source["snapshot"].get(snapshot) &&
                                snapshot == "incremental");
    Partition at{r.topic, r.partition};
    if (snapshot_row) {
      unsettled_.insert(std::move(at));
    } else if (!unsettled_.empty()) {
      unsettled_.erase(at);
    }
  }
  dom::object txn;
  if (env["transaction"].get(txn)) return r;  // absent or null: not in a tracked transaction
  std::string_view id;
  int64_t order = 0;
  if (txn["id"].get(id) || txn["total_order"].get(order)) {
    Throw(ErrorKind::kData, "its \"transaction\" block has no \"id\"/\"total_order\" (Debezium's transaction metadata)");
  }
  std::string key(id);
  if (recent_.count(key)) return r;  // a change of a transaction already applied, read again
  // Commit order: a transaction's events are contiguous in the binlog, so the position of its
  // first change orders it among the others.
  std::pair<uint64_t, uint64_t> at{0, 0};
  dom::object source;
  std::string_view file;
  int64_t pos = 0;
  if (!env["source"].get(source) && !source["file"].get(file) && !source["pos"].get(pos)) {
    at = {mysql::BinlogFileSequence(std::string(file)), static_cast<uint64_t>(pos)};
  }
  Txn& t = txns_[key];
  if (t.seq == 0) {
    t.seq = ++seq_;
    t.first_seen = Clock::now();
  }
  if (t.changes.empty() || at < t.first) t.first = at;
  const size_t bytes = r.topic.size() + (r.key ? r.key->size() : 0) + r.value->size() +
                       (r.schema_header ? r.schema_header->size() : 0) + 64;
  if (t.changes.try_emplace(order, std::move(r)).second) {
    ++held_records_;
    held_bytes_ += bytes;
    t.bytes += bytes;
  }
  return std::nullopt;
}

void TransactionGate::OnMetadata(std::string_view value) {
  dom::object env = Envelope(value, "the transaction metadata record");
  std::string_view status, id;
  if (env["status"].get(status) || env["id"].get(id)) {
    Throw(ErrorKind::kData, "a transaction metadata record needs \"status\" and \"id\" (Debezium's BEGIN/END)");
  }
  if (status != "END") return;
  std::string key(id);
  if (recent_.count(key)) return;  // END of a transaction already applied, read again
  int64_t expected = 0;
  dom::array collections;
  if (!env["data_collections"].get(collections)) {
    for (dom::element e : collections) {
      std::string_view name;
      int64_t n = 0;
      if (e["data_collection"].get(name) || e["event_count"].get(n)) continue;
      if (tables_.count(std::string(name))) expected += n;
    }
  }
  Txn& t = txns_[key];
  if (t.seq == 0) {
    t.seq = ++seq_;
    t.first_seen = Clock::now();
  }
  if (t.ended) return;
  t.ended = true;
  t.expected = expected;
  t.ended_at = Clock::now();
}

void TransactionGate::Release(const std::string& id, std::vector<Record>& out) {
  auto it = txns_.find(id);
  if (it == txns_.end()) return;
  Txn& t = it->second;
  for (auto& [order, rec] : t.changes) out.push_back(std::move(rec));
  held_records_ -= t.changes.size();
  held_bytes_ -= t.bytes;
  txns_.erase(it);
  recent_.insert(id);
  recent_order_.push_back(id);
  if (recent_order_.size() > kRecentReleased) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

std::vector<TransactionGate::Record> TransactionGate::TakeReleased(Clock::time_point now, bool may_give_up) {
  std::vector<Record> out;
  if (txns_.empty()) return out;
  // Snapshot rows may still be unread (unsettled partitions): every transaction waits, but for
  // the memory bound.
  if (unsettled_.empty()) {
    // A transaction may go when it is complete, or gave up waiting (`wait` after its END, or after
    // its first change when no END came), and no transaction committed before it still waits: one
    // committed earlier that touched a key it touched has its change of that key before it in that
    // key's partition, so it is held here, and it goes first.
    std::pair<uint64_t, uint64_t> blocker{UINT64_MAX, UINT64_MAX};
    std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> ready;
    for (const auto& [id, t] : txns_) {
      const bool gave_up = may_give_up && now - (t.ended ? t.ended_at : t.first_seen) >= wait_;
      if (Complete(t) || gave_up) {
        ready.emplace_back(t.changes.empty() ? std::pair<uint64_t, uint64_t>{0, 0} : t.first, id);
      } else if (!t.changes.empty()) {
        blocker = std::min(blocker, t.first);
      }
    }
    std::sort(ready.begin(), ready.end());
    for (const auto& [first, id] : ready) {
      Txn& t = txns_.at(id);
      if (!t.changes.empty() && first > blocker) break;
      if (!Complete(t)) ++released_incomplete_;
      Release(id, out);
    }
  }
  if (held_bytes_ > max_bytes_) {
    // Over the bound: apply what is held, the earliest committed first, whole or not.
    std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> order;
    for (const auto& [id, t] : txns_) {
      if (!t.changes.empty()) order.emplace_back(t.first, id);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [first, id] : order) {
      if (held_bytes_ <= max_bytes_ / 2) break;
      ++released_incomplete_;
      Release(id, out);
    }
  }
  return out;
}

std::string TransactionGate::Serialize() const {
  std::string s;
  // Transactions in their arrival order, so that a Load keeps the END order.
  std::vector<std::pair<uint64_t, const std::string*>> order;
  for (const auto& [id, t] : txns_) order.emplace_back(t.seq, &id);
  std::sort(order.begin(), order.end());
  PutU64(s, order.size());
  for (const auto& [seq, id] : order) {
    const Txn& t = txns_.at(*id);
    PutStr(s, *id);
    PutU64(s, t.ended ? 1 : 0);
    PutU64(s, static_cast<uint64_t>(t.expected));
    PutU64(s, t.first.first);
    PutU64(s, t.first.second);
    PutU64(s, t.changes.size());
    for (const auto& [o, r] : t.changes) {
      PutU64(s, static_cast<uint64_t>(o));
      PutStr(s, r.topic);
      PutU64(s, static_cast<uint64_t>(static_cast<uint32_t>(r.partition)));
      PutU64(s, static_cast<uint64_t>(r.offset));
      PutOpt(s, r.key);
      PutOpt(s, r.value);
      PutOpt(s, r.schema_header);
    }
  }
  return s;
}

void TransactionGate::Load(std::string_view bytes) {
  Clear();
  if (bytes.empty()) return;
  Reader in{bytes};
  const auto now = Clock::now();
  const uint64_t n = in.U64();
  for (uint64_t i = 0; i < n; ++i) {
    std::string id = in.Str();
    Txn& t = txns_[id];
    t.seq = ++seq_;
    t.ended = in.U64() != 0;
    t.expected = static_cast<int64_t>(in.U64());
    t.first.first = in.U64();
    t.first.second = in.U64();
    t.ended_at = t.first_seen = now;
    const uint64_t changes = in.U64();
    for (uint64_t c = 0; c < changes; ++c) {
      const auto o = static_cast<int64_t>(in.U64());
      Record r;
      r.topic = in.Str();
      r.partition = static_cast<int32_t>(static_cast<uint32_t>(in.U64()));
      r.offset = static_cast<int64_t>(in.U64());
      r.key = in.Opt();
      r.value = in.Opt();
      r.schema_header = in.Opt();
      const size_t b = r.topic.size() + (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0) +
                       (r.schema_header ? r.schema_header->size() : 0) + 64;
      t.changes.emplace(o, std::move(r));
      t.bytes += b;
      held_bytes_ += b;
      ++held_records_;
    }
  }
  if (!in.in.empty()) Throw(ErrorKind::kState, "transform state: held transactions have trailing bytes");
}

void TransactionGate::Clear() {
  txns_.clear();
  held_records_ = held_bytes_ = 0;
}

}  // namespace sluice::pipeline
