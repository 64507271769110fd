// TransactionGate (src/pipeline/transaction_gate.h): changes wait for their whole transaction,
// complete transactions leave in commit (END) order, each in total_order.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/error.h"
#include "pipeline/transaction_gate.h"

namespace sluice::pipeline {
namespace {

using namespace std::chrono_literals;
using Record = TransactionGate::Record;

/// A change event; its binlog position (commit order) is 100 * offset unless `pos` is given.
Record Change(const std::string& topic, int64_t offset, const std::string& txn, int64_t order, bool schemas = false,
              int64_t pos = -1) {
  Record r;
  r.topic = topic;
  r.offset = offset;
  r.key = fmt::format(R"({{"id":{}}})", offset);
  std::string tx = txn.empty() ? "null"
                               : fmt::format(R"({{"id":"{}","total_order":{},"data_collection_order":1}})", txn, order);
  std::string env = fmt::format(
      R"({{"before":null,"after":{{"id":{}}},"source":{{"db":"d","table":"t","file":"mysql-bin.000003","pos":{},)"
      R"("row":0}},"transaction":{},"op":"c","ts_ms":1}})",
      offset, pos < 0 ? offset * 100 : pos, tx);
  r.value = schemas ? R"({"schema":{"type":"struct"},"payload":)" + env + "}" : env;
  return r;
}

std::string End(const std::string& txn, const std::vector<std::pair<std::string, int>>& counts, bool schemas = false) {
  std::string dc, sep;
  int total = 0;
  for (const auto& [t, n] : counts) {
    dc += sep + fmt::format(R"({{"data_collection":"{}","event_count":{}}})", t, n);
    sep = ",";
    total += n;
  }
  std::string env = fmt::format(R"({{"status":"END","id":"{}","event_count":{},"data_collections":[{}],"ts_ms":1}})",
                                txn, total, dc);
  return schemas ? R"({"schema":{},"payload":)" + env + "}" : env;
}

std::string Begin(const std::string& txn) {
  return fmt::format(R"({{"status":"BEGIN","id":"{}","event_count":null,"data_collections":null,"ts_ms":1}})", txn);
}

std::vector<int64_t> Offsets(const std::vector<Record>& rs) {
  std::vector<int64_t> out;
  for (const auto& r : rs) out.push_back(r.offset);
  return out;
}

TransactionGate Gate(size_t max_bytes = 1 << 20) { return TransactionGate({"d.a", "d.b"}, max_bytes, 10s); }

TEST(TransactionGate, ChangesWithoutATransactionPassStraightThrough) {
  auto g = Gate();
  auto r = g.OnChange(Change("p.d.a", 1, "", 0));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->offset, 1);
  Record tomb;
  tomb.topic = "p.d.a";
  EXPECT_TRUE(g.OnChange(tomb).has_value());
  EXPECT_TRUE(g.empty());
}

TEST(TransactionGate, HoldsATransactionUntilEndAndEveryCountedChangeWereRead) {
  auto g = Gate();
  g.OnMetadata(Begin("t1"));
  EXPECT_FALSE(g.OnChange(Change("p.d.b", 20, "t1", 3)).has_value());
  EXPECT_FALSE(g.OnChange(Change("p.d.a", 10, "t1", 1)).has_value());
  EXPECT_TRUE(g.TakeReleased().empty());
  // END counts 3 changes of the views' tables (and 5 of a table no view reads).
  g.OnMetadata(End("t1", {{"d.a", 2}, {"d.b", 1}, {"d.other", 5}}));
  EXPECT_TRUE(g.TakeReleased().empty()) << "one change of d.a is still missing";
  EXPECT_EQ(g.held_records(), 2u);
  EXPECT_FALSE(g.OnChange(Change("p.d.a", 11, "t1", 2)).has_value());
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{10, 11, 20})) << "released in total_order";
  EXPECT_TRUE(g.empty());
  EXPECT_EQ(g.held_bytes(), 0u);
  EXPECT_EQ(g.released_incomplete(), 0u);
}

TEST(TransactionGate, ReleasesInCommitOrderEvenWhenALaterTransactionCompletesFirst) {
  auto g = Gate();
  g.OnChange(Change("p.d.a", 1, "t1", 1));
  g.OnChange(Change("p.d.a", 3, "t2", 1));
  g.OnChange(Change("p.d.b", 4, "t2", 2));
  g.OnMetadata(End("t1", {{"d.a", 1}, {"d.b", 1}}));
  g.OnMetadata(End("t2", {{"d.a", 1}, {"d.b", 1}}));
  EXPECT_TRUE(g.TakeReleased().empty()) << "t2 is complete but t1, committed before it, is not";
  g.OnChange(Change("p.d.b", 2, "t1", 2));
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST(TransactionGate, ACompleteTransactionCommittedBeforeAWaitingOneGoes) {
  auto g = Gate();
  // t2 is read first and waits for its END; t1, committed before it (lower binlog position),
  // completes: it need not wait for t2. Then t2 completes.
  g.OnChange(Change("p.d.a", 7, "t2", 1, false, 900));
  g.OnChange(Change("p.d.b", 8, "t1", 1, false, 500));
  g.OnMetadata(End("t1", {{"d.b", 1}}));
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{8}));
  g.OnMetadata(End("t2", {{"d.a", 1}}));
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{7}));
  // The transaction topic may have several partitions: an END read before an earlier
  // transaction's END does not let its transaction overtake one that still waits.
  g.OnChange(Change("p.d.a", 9, "t3", 1, false, 1000));
  g.OnChange(Change("p.d.a", 10, "t4", 1, false, 1100));
  g.OnMetadata(End("t4", {{"d.a", 1}}));
  EXPECT_TRUE(g.TakeReleased().empty());
  g.OnMetadata(End("t3", {{"d.a", 1}}));
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{9, 10}));
}

TEST(TransactionGate, AChangeReadTwiceCountsOnceAndLateCopiesPass) {
  auto g = Gate();
  g.OnChange(Change("p.d.a", 1, "t1", 1));
  g.OnChange(Change("p.d.a", 1, "t1", 1));  // the capture re-sent it after a restart
  g.OnMetadata(End("t1", {{"d.a", 2}}));
  EXPECT_TRUE(g.TakeReleased().empty());
  g.OnChange(Change("p.d.a", 2, "t1", 2));
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{1, 2}));
  // A copy of a change of t1 read after t1 was applied, and t1's END again: nothing waits for them.
  EXPECT_TRUE(g.OnChange(Change("p.d.a", 1, "t1", 1)).has_value());
  g.OnMetadata(End("t1", {{"d.a", 2}}));
  EXPECT_TRUE(g.empty());
}

TEST(TransactionGate, ATransactionWithoutChangesOfTheViewsTablesIsDroppedAtItsEnd) {
  auto g = Gate();
  g.OnMetadata(End("t0", {{"d.other", 3}}));
  g.OnChange(Change("p.d.a", 5, "t1", 1));
  g.OnMetadata(End("t1", {{"d.a", 1}}));
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{5}));
  EXPECT_TRUE(g.empty());
}

TEST(TransactionGate, AnIncompleteTransactionLeavesAfterTheWaitOrAboveTheMemoryBound) {
  auto g = Gate();
  g.OnChange(Change("p.d.a", 1, "t1", 1));
  g.OnMetadata(End("t1", {{"d.a", 2}}));  // the second change never comes (compacted away)
  const auto now = TransactionGate::Clock::now();
  EXPECT_TRUE(g.TakeReleased(now + 1s).empty());
  EXPECT_TRUE(g.TakeReleased(now + 11s, /*may_give_up=*/false).empty()) << "the metadata topic is still read";
  EXPECT_EQ(Offsets(g.TakeReleased(now + 11s)), (std::vector<int64_t>{1}));
  EXPECT_EQ(g.released_incomplete(), 1u);

  // A change whose END never comes goes `wait` after it was read.
  g.OnChange(Change("p.d.a", 2, "t2", 1));
  EXPECT_TRUE(g.TakeReleased(TransactionGate::Clock::now() + 1s).empty());
  EXPECT_EQ(Offsets(g.TakeReleased(TransactionGate::Clock::now() + 11s)), (std::vector<int64_t>{2}));
  EXPECT_EQ(g.released_incomplete(), 2u);

  // No END at all (the transaction topic is not read), above the bound: applied oldest first.
  TransactionGate small({"d.a"}, 600, 10s);
  for (int i = 0; i < 5; ++i) small.OnChange(Change("p.d.a", i, fmt::format("x{}", i), 1));
  auto out = small.TakeReleased();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.front().offset, 0);
  EXPECT_LE(small.held_bytes(), 600u);
}

TEST(TransactionGate, SchemasEnableEnvelopesAreRead) {
  auto g = Gate();
  EXPECT_FALSE(g.OnChange(Change("p.d.a", 1, "t1", 1, true)).has_value());
  g.OnMetadata(End("t1", {{"d.a", 1}}, true));
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{1}));
}

TEST(TransactionGate, SerializeAndLoadKeepHeldChangesAndCommitOrder) {
  auto g = Gate();
  g.OnChange(Change("p.d.a", 1, "t1", 1));
  g.OnChange(Change("p.d.b", 3, "t2", 1));
  g.OnMetadata(End("t1", {{"d.a", 1}, {"d.b", 1}}));
  g.OnMetadata(End("t2", {{"d.b", 1}}));
  auto bytes = g.Serialize();
  auto h = Gate();
  h.Load(bytes);
  EXPECT_EQ(h.held_records(), 2u);
  EXPECT_TRUE(h.TakeReleased().empty());
  h.OnChange(Change("p.d.b", 2, "t1", 2));
  auto out = h.TakeReleased();
  EXPECT_EQ(Offsets(out), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(out[0].topic, "p.d.a");
  EXPECT_EQ(*out[0].key, R"({"id":1})");
  EXPECT_TRUE(h.empty());
  EXPECT_THROW(h.Load(bytes.substr(0, bytes.size() / 2)), Error);
}

/// A snapshot row (op "r", no transaction) of partition `partition` of `topic`.
Record SnapshotRow(const std::string& topic, int32_t partition, int64_t offset, const char* snapshot = "true") {
  Record r = Change(topic, offset, "", 0);
  r.partition = partition;
  r.value = fmt::format(R"({{"before":null,"after":{{"id":{}}},"source":{{"snapshot":"{}","db":"d","table":"t",)"
                        R"("file":"mysql-bin.000003","pos":4,"row":0}},"op":"r","ts_ms":1}})",
                        offset, snapshot);
  return r;
}

TEST(TransactionGate, TransactionsWaitWhileAPartitionMayStillHoldSnapshotRows) {
  auto g = Gate();
  // Three partitions of p.d.a and one of p.d.b, none read yet.
  g.ExpectPartitions({{"p.d.a", 0}, {"p.d.a", 1}, {"p.d.a", 2}, {"p.d.b", 0}});
  EXPECT_TRUE(g.OnChange(SnapshotRow("p.d.a", 0, 1)).has_value()) << "snapshot rows pass straight through";
  EXPECT_TRUE(g.OnChange(SnapshotRow("p.d.a", 1, 1)).has_value());
  // A transaction streamed after the snapshot, read from partitions 0 of both topics: complete,
  // but p.d.a[1] may hold more snapshot rows and p.d.a[2] was not read at all.
  Record c = Change("p.d.a", 2, "t1", 1);
  EXPECT_FALSE(g.OnChange(c).has_value());
  Record d = Change("p.d.b", 5, "t1", 2);
  EXPECT_FALSE(g.OnChange(d).has_value());
  g.OnMetadata(End("t1", {{"d.a", 1}, {"d.b", 1}}));
  EXPECT_TRUE(g.TakeReleased().empty());
  EXPECT_EQ(g.unsettled().size(), 2u) << "partitions 0 settled by their streamed changes";
  g.Settled({"p.d.a", 2});  // read to its end: empty
  EXPECT_TRUE(g.TakeReleased().empty()) << "p.d.a[1] still in its snapshot rows";
  EXPECT_TRUE(g.OnChange(SnapshotRow("p.d.a", 1, 2, "last")).has_value());
  EXPECT_TRUE(g.TakeReleased(TransactionGate::Clock::now() + 60s).empty()) << "no giving up while unsettled";
  g.Settled({"p.d.a", 1});
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(g.released_incomplete(), 0u);
  // New snapshot rows (a table added to the capture, snapshot.mode always) hold transactions again;
  // an incremental snapshot's rows do not.
  EXPECT_TRUE(g.OnChange(SnapshotRow("p.d.b", 0, 6, "incremental")).has_value());
  EXPECT_TRUE(g.unsettled().empty());
  EXPECT_TRUE(g.OnChange(SnapshotRow("p.d.b", 0, 7)).has_value());
  EXPECT_FALSE(g.OnChange(Change("p.d.a", 8, "t2", 1)).has_value());
  g.OnMetadata(End("t2", {{"d.a", 1}}));
  EXPECT_TRUE(g.TakeReleased().empty());
  g.Settled({"p.d.b", 0});
  EXPECT_EQ(Offsets(g.TakeReleased()), (std::vector<int64_t>{8}));
}

TEST(TransactionGate, TheMemoryBoundHoldsWhileSnapshotRowsAreUnread) {
  TransactionGate g({"d.a"}, 600, 10s);
  g.ExpectPartitions({{"p.d.a", 0}, {"p.d.a", 1}});
  for (int i = 0; i < 5; ++i) {
    g.OnChange(Change("p.d.a", i, fmt::format("x{}", i), 1));
    g.OnMetadata(End(fmt::format("x{}", i), {{"d.a", 1}}));
  }
  EXPECT_FALSE(g.TakeReleased().empty());
  EXPECT_LE(g.held_bytes(), 600u);
  EXPECT_GT(g.released_incomplete(), 0u);
}

TEST(TransactionGate, BadMetadataIsAClearError) {
  auto g = Gate();
  EXPECT_THROW(g.OnMetadata("not json"), Error);
  EXPECT_THROW(g.OnMetadata(R"({"id":"t1"})"), Error);
  Record r = Change("p.d.a", 1, "", 0);
  r.value = R"({"transaction":{"total_order":1},"op":"c"})";
  EXPECT_THROW(g.OnChange(r), Error);
}

}  // namespace
}  // namespace sluice::pipeline
