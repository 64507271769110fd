// TransactionGate: `sluice transform` applies a source transaction to its views only once every
// change of it has been read from Kafka, using Debezium's transaction metadata
// (`provide.transaction.metadata`): each change event carries
// "transaction": {"id", "total_order", "data_collection_order"}, and the transaction topic
// (<topic.prefix>.transaction, one partition, commit order) carries BEGIN and END records; END
// names the event count per table ("data_collections").
//
// The changes of one transaction are spread over many partitions (one topic per table, partitions
// by key) that the consumer reads in no common order, so without the gate a view could show half
// of a transaction at a flush. The gate holds a change back until its transaction is complete —
// END read and as many distinct changes read as END counts for the tables the views read — and
// releases complete transactions in commit order (by the binlog position of their first change;
// the transaction topic may have several partitions, so END order is not commit order), never
// before a transaction committed earlier that still waits, each in its total_order.
// Changes without a transaction block (snapshot rows, or a capture without the metadata) pass
// straight through.
//
// Snapshot rows (op "r") carry no transaction, but every streamed transaction committed after
// them: a view must not show one while rows of the snapshot are still unread in another
// partition. So while any input partition may still hold snapshot rows — it was not read yet
// (ExpectPartitions), or its last record read was one — no transaction is released; a partition
// is settled by a streamed change read from it or by being read to its end (Settled).
//
// A transaction whose changes cannot all come (a compacted topic dropped some, a topic was
// deleted) is released anyway once its END was read `wait` ago (`wait` after its first change
// when no END comes), or when the held changes exceed `max_bytes`: then with a warning, as the
// view may show part of it for a moment.
//
// The held changes are part of `sluice transform`'s checkpoint (Serialize/Load): the input offsets
// stored with the view state are past them, so a restart must get them back from the state.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::pipeline {

class TransactionGate {
 public:
  using Clock = std::chrono::steady_clock;

  /// One Kafka record of a change topic, owned.
  struct Record {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    std::optional<std::string> key, value, schema_header;
  };

  /// `tables`: "db.table" of every table the views read (END counts only those).
  TransactionGate(std::set<std::string> tables, size_t max_bytes, std::chrono::milliseconds wait);

  /// A change record. Returns it back when it may be applied now (no transaction block); else
  /// the gate keeps it. Throws Error(kData) for a value that is not JSON.
  std::optional<Record> OnChange(Record r);
  /// A record of the transaction topic (BEGIN is ignored; END sets what its transaction needs).
  void OnMetadata(std::string_view value);
  /// The changes of the transactions that may be applied now, in commit order and within each in
  /// total_order. `now` decides the `wait` of incomplete ones; with `may_give_up` false (the
  /// transaction topic is still being read, e.g. while catching up on a backlog, so a missing END
  /// may just be later in it) none is given up on, whatever its wait.
  std::vector<Record> TakeReleased(Clock::time_point now = Clock::now(), bool may_give_up = true);

  using Partition = std::pair<std::string, int32_t>;
  /// The input partitions now read: each may hold snapshot rows until it is settled.
  void ExpectPartitions(const std::vector<Partition>& partitions);
  /// Partitions that may still hold snapshot rows ahead of the position read.
  const std::set<Partition>& unsettled() const { return unsettled_; }
  /// `partition` was read to its end (the high watermark of its last fetch).
  void Settled(const Partition& partition) { unsettled_.erase(partition); }
  /// Every partition was read to its end.
  void SettleAll() { unsettled_.clear(); }

  bool empty() const { return txns_.empty(); }
  size_t held_records() const { return held_records_; }
  size_t held_bytes() const { return held_bytes_; }
  uint64_t released_incomplete() const { return released_incomplete_; }

  /// The held changes and the ENDs read, as bytes for the checkpoint; Load restores them (their
  /// wait counts from the Load).
  std::string Serialize() const;
  void Load(std::string_view bytes);
  void Clear();

 private:
  struct Txn {
    std::map<int64_t, Record> changes;  ///< by total_order: a change read twice counts once
    bool ended = false;
    int64_t expected = 0;               ///< changes of the views' tables END counted
    Clock::time_point ended_at{}, first_seen{};
    std::pair<uint64_t, uint64_t> first{0, 0};  ///< binlog (file sequence, pos) of its first change: commit order
    uint64_t seq = 0;                   ///< arrival order of its first record
    size_t bytes = 0;
  };
  bool Complete(const Txn& t) const { return t.ended && static_cast<int64_t>(t.changes.size()) >= t.expected; }
  void Release(const std::string& id, std::vector<Record>& out);

  std::set<std::string> tables_;
  size_t max_bytes_;
  std::chrono::milliseconds wait_;
  std::unordered_map<std::string, Txn> txns_;
  std::set<std::string> recent_;   ///< transactions released lately: their changes read again pass
  std::deque<std::string> recent_order_;
  uint64_t seq_ = 0;
  size_t held_records_ = 0, held_bytes_ = 0;
  uint64_t released_incomplete_ = 0;
  std::set<Partition> unsettled_;  ///< may still hold snapshot rows: transactions wait
};

}  // namespace sluice::pipeline
