// View state in RocksDB (sql/view_state.h): crash consistency. A "crash" drops the pipelines, the
// manager and the store without committing (what kill -9 leaves), reopens and recovers; the store
// must then hold exactly the last commit, and the views must go on matching the oracle.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/error.h"
#include "view_harness.h"

namespace sluice::sql::testing {
namespace {

const char* kViews = R"(
CREATE MATERIALIZED VIEW j AS SELECT t1.id, t2.id AS id2, t1.v, t2.name FROM t1 JOIN t2 ON t1.k = t2.k;
CREATE MATERIALIZED VIEW fj AS SELECT t1.id, t2.id AS id2 FROM t1 FULL JOIN t2 ON t1.k = t2.k;
CREATE MATERIALIZED VIEW agg AS
  SELECT g, count(*) AS n, sum(v) AS sv, min(v) AS mn, max(s) AS mx, count(DISTINCT k) AS dk FROM t1 GROUP BY g;
CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, min(k) AS mk, max(v) AS xv FROM t1;
CREATE MATERIALIZED VIEW jagg AS SELECT t2.name, sum(t1.v) AS s, count(*) AS n FROM t1 JOIN t2 ON t1.k = t2.k GROUP BY t2.name;
CREATE MATERIALIZED VIEW over_view AS SELECT name, n FROM jagg WHERE n > 2;
CREATE MATERIALIZED VIEW minmax AS
  SELECT g, min(v) AS mn, max(v) AS mx, count(DISTINCT v) AS dv, max(k) AS mk FROM t1 GROUP BY g;
)";

class RandomChanges {
 public:
  explicit RandomChanges(uint32_t seed) : rng_(seed) {}
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  /// Applies one batch of 1..12 random changes to `h` (not committed).
  void Batch(ViewHarness& h) {
    int n = 1 + Pick(12);
    for (int c = 0; c < n; ++c) {
      std::string table = Pick(3) == 0 ? "t2" : "t1";
      int id = Pick(table == "t1" ? 60 : 20);
      Row key{Value::Int(id)};
      if (!h.HasRow(table, key)) {
        h.Insert(table, MakeRow(table, id));
      } else if (Pick(2) == 0) {
        h.Update(table, MakeRow(table, id));
      } else {
        h.Delete(table, key);
      }
    }
  }

 private:
  Value MaybeNull(Value v) { return Pick(6) == 0 ? Value::Null() : v; }
  Row MakeRow(const std::string& table, int id) {
    if (table == "t1") {
      return Row{Value::Int(id), MaybeNull(Value::Int(Pick(4))), MaybeNull(Value::Int(Pick(5))),
                 MaybeNull(Value::Decimal(Pick(20001) - 5000)), MaybeNull(Value::String(std::string(1 + Pick(20), static_cast<char>('a' + Pick(5)))))};
    }
    return Row{Value::Int(id), MaybeNull(Value::Int(Pick(5))), MaybeNull(Value::Int(Pick(4))),
               Value::String(std::string(1, static_cast<char>('p' + Pick(3))))};
  }
  std::mt19937 rng_;
};

void SetUpViews(ViewHarness& h, size_t budget, int commit_every) {
  h.UsePersistedState(budget, 256, commit_every);
  h.CreateTable("CREATE TABLE t1 (id INT PRIMARY KEY, g INT NULL, k INT NULL, v DECIMAL(8,2) NULL, s VARCHAR(30) NULL)");
  h.CreateTable("CREATE TABLE t2 (id INT PRIMARY KEY, k INT NULL, w INT NULL, name VARCHAR(10))");
  h.CreateViews("crash.sql", kViews);
}

TEST(ViewState, CrashBetweenCommitsRollsBackToTheLastCommit) {
  ViewHarness h("db");
  SetUpViews(h, 4 << 10, 4);
  RandomChanges changes(7);
  std::vector<std::pair<std::string, std::string>> committed;  // the store right after the last commit
  int crashes = 0;
  for (int round = 0; round < 40; ++round) {
    const int batches = 1 + changes.Pick(11);
    for (int b = 0; b < batches; ++b) {
      const int before = h.committed_batches();
      changes.Batch(h);
      ASSERT_EQ(h.Commit(), "") << "round " << round;
      if (h.committed_batches() != before) committed = h.StoredState();
    }
    const uint64_t spilled = h.state_manager()->stats().spilled_keys;
    const int last = h.committed_batches();
    ASSERT_EQ(h.Crash(), last);
    ++crashes;
    EXPECT_EQ(h.StoredState(), committed) << "round " << round << " (" << spilled << " keys spilled before the crash)";
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_EQ(crashes, 40);
  // After all those crashes the views still follow the oracle.
  for (int b = 0; b < 50; ++b) {
    changes.Batch(h);
    ASSERT_EQ(h.Commit(), "");
  }
}

TEST(ViewState, UncommittedSpillsAreUndone) {
  ViewHarness h("db");
  SetUpViews(h, 2 << 10, 1000);  // never commits by itself
  RandomChanges changes(11);
  auto empty = h.StoredState();
  ASSERT_TRUE(empty.empty());
  for (int b = 0; b < 30; ++b) {
    changes.Batch(h);
    ASSERT_EQ(h.Commit(), "");
  }
  ASSERT_GT(h.state_manager()->stats().spilled_keys, 100u) << "the budget is meant to force spills";
  ASSERT_FALSE(h.StoredState().empty());
  EXPECT_EQ(h.Crash(), 0);
  EXPECT_TRUE(h.StoredState().empty());
  EXPECT_GT(h.state_manager()->stats().recovered_undo, 100u);
  for (int b = 0; b < 50; ++b) {
    changes.Batch(h);
    ASSERT_EQ(h.Commit(), "");
  }
}

/// Views whose state is volatile (being derived by a snapshot or a backfill, rebuilt after a crash)
/// spill without undo records; their first Commit makes them complete and later spills are
/// undo-logged again, so a crash after it rolls back to that commit.
TEST(ViewState, VolatileViewsSpillWithoutUndoRecords) {
  ViewHarness h("db");
  SetUpViews(h, 2 << 10, 1000);  // never commits by itself
  for (const char* v : {"j", "fj", "agg", "total", "jagg", "over_view", "minmax"}) h.state_manager()->SetVolatile(v, true);
  RandomChanges changes(23);
  auto undo_records = [&] {
    size_t n = 0;
    for (const auto& [k, v] : h.StoredState()) n += k.find("/u/") != std::string::npos;
    return n;
  };
  for (int b = 0; b < 30; ++b) {
    changes.Batch(h);
    ASSERT_EQ(h.Commit(), "");
  }
  ASSERT_GT(h.state_manager()->stats().spilled_keys, 100u) << "the budget is meant to force spills";
  EXPECT_EQ(undo_records(), 0u);
  // The first Commit writes the volatile views' state as ingested table files (none left behind);
  // then they are not volatile any more (as ViewStage does).
  h.set_commit_every(1);
  changes.Batch(h);
  ASSERT_EQ(h.Commit(), "");
  h.state_manager()->ClearVolatile();
  EXPECT_GT(h.state_manager()->stats().ingested_keys, 0u);
  for (const auto& e : std::filesystem::directory_iterator(h.state_store()->dir())) {
    EXPECT_EQ(e.path().filename().string().rfind("sluice-bulk-", 0), std::string::npos) << e.path();
  }
  // Later spills are undo-logged, and a crash goes back to that commit: the views read the
  // ingested state and keep matching the oracle.
  h.set_commit_every(1000);
  const uint64_t before = h.state_manager()->stats().spilled_keys;
  for (int b = 0; b < 30; ++b) {
    changes.Batch(h);
    ASSERT_EQ(h.Commit(), "");
  }
  ASSERT_GT(h.state_manager()->stats().spilled_keys, before + 100);
  EXPECT_GT(undo_records(), 100u);
  EXPECT_EQ(h.Crash(), 31);
  h.set_commit_every(3);
  for (int b = 0; b < 60; ++b) {
    changes.Batch(h);
    ASSERT_EQ(h.Commit(), "") << "batch " << b;
  }
}

/// A crash inside Commit, after part of the dirty state was written (the test hook throws there),
/// leaves the previous commit.
TEST(ViewState, CrashInsideCommitLeavesThePreviousCommit) {
  for (const char* point : {"commit:spilled", "commit:before-write"}) {
    SCOPED_TRACE(point);
    ViewHarness h("db");
    SetUpViews(h, 64 << 10, 5);  // large enough that most dirty state is still in memory at Commit
    RandomChanges changes(3);
    std::vector<std::pair<std::string, std::string>> committed;
    int crashes = 0;
    for (int round = 0; round < 30; ++round) {
      h.state_manager()->set_commit_chunk_bytes(512);  // Commit writes in several batches
      bool crash_next_commit = round % 2 == 1;
      int hits = 0;
      h.state_manager()->SetTestHook([&](std::string_view p) {
        if (crash_next_commit && p == point && ++hits == 1) throw Error(ErrorKind::kState, "simulated crash");
      });
      bool crashed = false;
      for (int b = 0; b < 5 && !crashed; ++b) {
        const int before = h.committed_batches();
        changes.Batch(h);
        try {
          ASSERT_EQ(h.Commit(), "");
        } catch (const Error& e) {
          ASSERT_NE(std::string(e.what()).find("simulated crash"), std::string::npos) << e.what();
          crashed = true;
          break;
        }
        if (h.committed_batches() != before) committed = h.StoredState();
      }
      if (!crashed) continue;
      ++crashes;
      h.Crash();
      EXPECT_EQ(h.StoredState(), committed) << "round " << round;
      if (::testing::Test::HasFailure()) return;
    }
    EXPECT_GT(crashes, 10);
    h.state_manager()->SetTestHook(nullptr);
    for (int b = 0; b < 40; ++b) {
      changes.Batch(h);
      ASSERT_EQ(h.Commit(), "");
    }
  }
}

TableSchemaPtr Table(const std::string& name) {
  auto t = std::make_shared<TableSchema>();
  t->database = "db";
  t->table = name;
  for (const char* c : {"id", "k"}) {
    ColumnSchema col;
    col.name = c;
    col.kind = ValueKind::kInt;
    t->columns.push_back(col);
  }
  t->primary_key = {0};
  return t;
}

ChangeChunk Rows(const TableSchemaPtr& t, std::vector<std::pair<int64_t, int64_t>> rows) {
  ChangeChunk c(t);
  c.AddSource(SourceInfo{});
  uint64_t version = 1;
  for (auto [id, k] : rows) {
    c.BeginRow(RowOp::kInsert, version++, 0, 0);
    c.column(0).AppendInt(id);
    c.column(1).AppendInt(k);
  }
  return c;
}

size_t CountRows(const std::vector<ChangeChunk>& out) {
  size_t n = 0;
  for (auto& c : out) n += c.size();
  return n;
}

/// Closes `m` and `store` (as a kill -9 leaves them: nothing committed since the last Commit) and
/// opens them again on `dir`, recovered, with a 1 MiB budget.
void Reopen(const std::string& dir, std::unique_ptr<StateStore>& store, std::unique_ptr<ViewStateManager>& m) {
  m.reset();
  store.reset();
  store = StateStore::Open(dir);
  m = std::make_unique<ViewStateManager>(store.get(), "v/", 1 << 20);
  m->Recover();
}

/// A put of a key the cache knows is absent (kPutNew) skips the read for its undo record; spilled
/// and not committed, it is deleted again by Recover. Written twice in one batch, the later write
/// sees the earlier one's value (the key is read and tracked as usual).
TEST(ViewState, PutNewIsUndoneAndRepeatedKeysSeeTheEarlierWrite) {
  const std::string dir = (std::filesystem::temp_directory_path() / "sluice-view-state-putnew").string();
  std::filesystem::remove_all(dir);
  auto open = [&](std::unique_ptr<StateStore>& store, std::unique_ptr<ViewStateManager>& m) { Reopen(dir, store, m); };
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ViewStateManager> m;
  open(store, m);
  {
    StateWrites w;
    w.PutNew("v/d/a", {}, "committed");
    m->Spill(w);
    m->Commit({{"offset", "1"}});
  }
  {
    StateWrites w;
    w.PutNew("v/d/b", {}, "spilled");
    w.PutNew("v/d/c", {}, EncodeCounter(5));
    w.Add("v/d/c", {}, 2);  // same batch: sees the 5
    w.Put("v/d/a", {}, "changed");
    m->Spill(w);
  }
  EXPECT_EQ(m->Get("v/d/b"), std::optional<std::string>("spilled"));
  ASSERT_TRUE(m->Get("v/d/c").has_value());
  EXPECT_EQ(DecodeCounter(*m->Get("v/d/c")), 7);
  open(store, m);  // crash before the next commit
  EXPECT_EQ(m->Get("v/d/a"), std::optional<std::string>("committed"));
  EXPECT_FALSE(m->Get("v/d/b").has_value());
  EXPECT_FALSE(m->Get("v/d/c").has_value());
  EXPECT_EQ(m->stats().recovered_undo, 4u);
  m.reset();
  store.reset();
  std::filesystem::remove_all(dir);
}

TEST(ViewState, DropViewIsDurableWithTheNextCommitOnly) {
  const std::string dir = (std::filesystem::temp_directory_path() / "sluice-view-state-drop").string();
  std::filesystem::remove_all(dir);
  Catalog catalog("db");
  auto a = Table("a"), b = Table("b");
  catalog.AddTable(a);
  catalog.AddTable(b);
  auto defs = CompileViews("drop.sql", "CREATE MATERIALIZED VIEW j AS SELECT a.id, b.id AS bid FROM a JOIN b ON a.k = b.k", catalog);
  auto open = [&](std::unique_ptr<StateStore>& store, std::unique_ptr<ViewStateManager>& m) { Reopen(dir, store, m); };
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ViewStateManager> m;
  open(store, m);
  std::vector<ChangeChunk> out;
  {
    ViewPipeline p(defs[0].plan, defs[0].output, m.get());
    p.Push("db.a", Rows(a, {{1, 7}, {2, 7}}), out);
    p.Flush(out);
    m->Commit({{"offset", "1"}});
  }
  // Dropped but not committed: a crash keeps the old state.
  m->DropView("j");
  {
    ViewPipeline p(defs[0].plan, defs[0].output, m.get());
    out.clear();
    p.Push("db.b", Rows(b, {{10, 7}}), out);
    EXPECT_EQ(CountRows(out), 0u) << "a dropped view starts empty";
  }
  open(store, m);  // crash
  {
    ViewPipeline p(defs[0].plan, defs[0].output, m.get());
    out.clear();
    p.Push("db.b", Rows(b, {{10, 7}}), out);
    EXPECT_EQ(CountRows(out), 2u) << "the drop was not committed";
  }
  m->DropView("j");
  m->Commit({{"offset", "2"}});
  open(store, m);
  {
    ViewPipeline p(defs[0].plan, defs[0].output, m.get());
    out.clear();
    p.Push("db.b", Rows(b, {{11, 7}}), out);
    EXPECT_EQ(CountRows(out), 0u);
  }
  EXPECT_TRUE(store->Scan("v/d/j/0/").empty());
  EXPECT_EQ(store->Get("offset").value_or(""), "2");
  m.reset();
  store.reset();
  std::filesystem::remove_all(dir);
}

/// A volatile view's spills carry no undo records: after a crash before its first Commit they are
/// still in the store, under a generation that was never committed. The rebuild's DropView hands
/// out that generation again and must find it empty.
TEST(ViewState, DropViewClearsWhatACrashedVolatileViewLeft) {
  const std::string dir = (std::filesystem::temp_directory_path() / "sluice-view-state-volatile").string();
  std::filesystem::remove_all(dir);
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ViewStateManager> m;
  Reopen(dir, store, m);
  m->DropView("j");  // a first start: generation 1, not committed
  m->SetVolatile("j", true);
  const std::string ns = m->Namespace("j", 0);
  EXPECT_EQ(ns, "v/d/j/1/0/");
  StateWrites w;
  w.Put(ns + "row", "left by the crashed run");
  m->Spill(w);
  EXPECT_EQ(store->Scan("v/u/").size(), 0u) << "a volatile view's spill writes no undo record";
  Reopen(dir, store, m);  // crash
  EXPECT_EQ(store->Scan("v/d/j/1/").size(), 1u) << "nothing undoes a volatile spill";
  m->DropView("j");
  EXPECT_EQ(m->Namespace("j", 0), ns);
  EXPECT_TRUE(store->Scan("v/d/j/1/").empty());
  m.reset();
  store.reset();
  std::filesystem::remove_all(dir);
}

// min(k) and max(k) (and count(DISTINCT k)) keep one multiset (SharedMultisets), in memory and in
// the store: inside the group record while small, else value by value under the first aggregate's
// index only; a restarted pipeline (reading it back) continues exactly.
void RunSharedMultiset(size_t inline_values, size_t expect_keys) {
  SCOPED_TRACE("inline_values " + std::to_string(inline_values));
  const std::string dir = (std::filesystem::temp_directory_path() / "sluice-view-state-shared").string();
  std::filesystem::remove_all(dir);
  Catalog catalog("db");
  auto a = Table("a");
  catalog.AddTable(a);
  auto defs = CompileViews("shared.sql",
                           "CREATE MATERIALIZED VIEW mm AS SELECT count(*) AS n, min(k) AS lo, max(k) AS hi, "
                           "count(DISTINCT k) AS dk, sum(k::integer) AS sk FROM a GROUP BY id % 2",
                           catalog);
  PlanPtr agg = defs[0].plan;
  while (agg->kind != PlanKind::kAggregate) agg = agg->inputs.at(0);
  const auto shared = SharedMultisets(agg->aggs);
  ASSERT_EQ(shared, (std::vector<size_t>{0, 1, 1, 1, 4}));
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ViewStateManager> m;
  auto open = [&] {
    m.reset();
    store.reset();
    store = StateStore::Open(dir);
    m = std::make_unique<ViewStateManager>(store.get(), "v/", 1 << 20);
    m->set_multiset_limits(inline_values, 1);
    m->Recover();
  };
  auto rows_of = [&](const std::vector<ChangeChunk>& out) {
    std::vector<std::string> r;
    for (const auto& c : out) {
      for (size_t i = 0; i < c.size(); ++i) {
        std::string line = std::to_string(static_cast<int>(c.op(i)));
        for (size_t col = 0; col < c.num_columns(); ++col) line += " " + std::to_string(c.column(col).GetInt(i));
        r.push_back(line);
      }
    }
    return r;
  };
  open();
  std::vector<ChangeChunk> out;
  {
    ViewPipeline p(defs[0].plan, defs[0].output, m.get());
    p.Push("db.a", Rows(a, {{2, 5}, {4, 3}, {6, 9}, {8, 3}}), out);
    p.Flush(out);
    EXPECT_EQ(rows_of(out), (std::vector<std::string>{"0 4 3 9 3 20 0"}));
    m->Commit({{"offset", "1"}});
  }
  // The values are stored once, under min's index (1), or not at all outside the record.
  size_t per_agg[5] = {};
  for (const auto& [key, value] : store->Scan("v/d/mm/")) {
    (void)value;
    size_t ns = 0;  // `v/d/mm/<generation>/<operator>/`
    for (int slashes = 0; ns < key.size() && slashes < 5; ++ns) slashes += key[ns] == '/';
    if (ns >= key.size() || key[ns] != 'g') continue;
    uint32_t len = 0;
    for (size_t i = 0; i < 4; ++i) len = (len << 8) | static_cast<uint8_t>(key[ns + 1 + i]);
    const size_t at = ns + 5 + len;
    if (at < key.size() && static_cast<uint8_t>(key[at]) < 5) ++per_agg[static_cast<uint8_t>(key[at])];
  }
  EXPECT_EQ(per_agg[1], expect_keys);
  EXPECT_EQ(per_agg[2], 0u);
  EXPECT_EQ(per_agg[3], 0u);
  open();  // restart: the multisets are read back from the store
  {
    ViewPipeline p(defs[0].plan, defs[0].output, m.get());
    out.clear();
    ChangeChunk del(a);
    del.AddSource(SourceInfo{});
    del.BeginRow(RowOp::kDelete, 9, 0, 0);
    del.column(0).AppendInt(6);
    del.column(1).AppendInt(9);
    del.BeginRow(RowOp::kDelete, 10, 0, 0);
    del.column(0).AppendInt(4);
    del.column(1).AppendInt(3);
    p.Push("db.a", del, out);
    p.Flush(out);
    const int ub = static_cast<int>(RowOp::kUpdateBefore), ua = static_cast<int>(RowOp::kUpdateAfter);
    EXPECT_EQ(rows_of(out), (std::vector<std::string>{std::to_string(ub) + " 4 3 9 3 20 0",
                                                       std::to_string(ua) + " 2 3 5 2 8 0"}));
    m->Commit({{"offset", "2"}});
  }
  m.reset();
  store.reset();
  std::filesystem::remove_all(dir);
}

TEST(ViewState, SharedMinMaxMultisetIsStoredOnceAndReadBack) {
  RunSharedMultiset(32, 0);  // inline in the group record
  RunSharedMultiset(2, 3);   // 3 distinct values: stored value by value
}

}  // namespace
}  // namespace sluice::sql::testing
