// Micro-benchmark of the two stateful hot paths of the streaming SQL views (issue 5 "Performance",
// issue 8 "views"), in isolation: the probe of an equi-join's state and the update of GROUP BY
// aggregate state. bench/micro/view_bench.cpp measures them only inside whole views (with the
// filters/projections around them, the pipeline's routing and the changelog's mix of tables).
//
// Each benchmark compiles a tiny view with CompileViews, takes the stateful node out of its plan
// (the Join / Aggregate under the view's Project; their inputs are the source tables' scans) and
// drives that one operator (JoinOperator / AggregateOperator, src/sql/operators.h) directly with
// ChangeChunks of the source table, as ViewPipeline would deliver them. So the timed loop holds
// the operator's whole per-row work and nothing else: reading the row from the chunk, evaluating
// and encoding the key, the state lookup, and building the output chunk. Not timed: the view's
// Project above the operator, the pipeline's routing, building input chunks (made up front), the
// preload of the state, and in the RocksDB variants ViewStateManager::Commit (done every ~10k
// row changes with the timer paused, so the state and the undo log stay bounded as in
// `sluice run`; its average cost is the counter commit_ms). Evictions and spills to RocksDB when
// the cache is over its budget happen inside Push and are timed.
//
// BM_JoinProbe/<state>: view `SELECT p.id, p.k, p.qty, b.id, b.payload FROM probe p JOIN build b
//   ON p.k = b.k` (inner). Preload (not timed): 100k build rows (id, k = id % 10k, a 24-byte
//   payload) pushed on the build input, so every key 0..9999 has exactly 10 rows. Timed: one
//   iteration pushes a chunk of 1024 probe-side inserts (keys uniform over 0..9999, seed 42; 16
//   such chunks are cycled), then a chunk deleting the same 1024 rows (so the state is the same
//   after each iteration). Each probe-side change is one probe: it looks up the build side's
//   bucket for its key, emits one joined row per match (10: kInsert for an insert, kDelete for a
//   delete) and adds/removes the row in its own side's state. items_per_second = probe-side row
//   changes (probes) per second; out_rows_per_probe = 10 is checked after the loop.
// BM_AggregateUpdate/<state>: view `SELECT k, count(*), sum(v), min(v), max(v) FROM t GROUP BY
//   k` (bigint k, v). Preload (not timed): 100k rows (k = id % 10k: 10 rows in each of 10k
//   groups; v uniform in 0..999999), flushed. The changelog (seed 42): 100 transactions of 1000
//   row changes, each 1/3 insert of a new row (uniform group), 1/3 update (a kUpdateBefore/
//   kUpdateAfter pair retracting the old row and adding the new one: v changes, and on 10% of them
//   k too, moving the row to another group), 1/3 delete (a retraction, of a uniform live row);
//   then the same 100 transactions inverted in reverse order (inserts become deletes and back,
//   updates swap their images), so cycling through the 200 transactions keeps ~10 rows a group.
//   Timed: one iteration = one transaction: Push of its chunk (~1333 rows) and the Flush at its
//   end that emits the changed groups (kUpdateBefore/kUpdateAfter pairs, or kInsert/kDelete for a
//   group that appears/vanishes). min and max share one multiset per group (SharedMultisets).
//   items_per_second = row changes per second (an update counts once, as in view_bench).
//
// <state>: `memory` (JoinState / AggregateState in memory), `rocksdb_16MiB` (state in RocksDB
// through ViewStateManager with a 16 MiB cache budget) and `rocksdb_1MiB` (a 1 MiB budget, many
// times smaller than the state). At 16 MiB the join's build side fits (~12 MiB of packed
// buckets: no RocksDB reads in the timed loop), while the 10k aggregate groups (each with its
// min/max multiset of ~10 values) are about the size of the budget: some are frozen or evicted
// and loaded again (~0.3 loads a change). At 1 MiB most probes / group updates load their bucket
// / group record from RocksDB and evict others, writing dirty ones back with undo records (a
// transaction's groups no longer fit until its Flush, which loads them again: ~2 loads a change).
// The RocksDB state is written under a fresh mkdtemp directory in $SLUICE_BENCH_STATE_DIR
// (default: the system temp dir), removed when the benchmark run ends. Counters (timed loop
// only): evictions, loads, compactions, spilled_keys (ViewStateManager::stats), cache_mib
// (MemoryUsed at the end), commit_ms (wall time of one untimed Commit); the label gives loads and
// evictions per item.
// Every run builds its state from scratch and checks it once before the timed loop (SkipWithError
// on a mismatch): the join's output for one probe insert and delete (the 10 expected build rows,
// then their retraction) and for a key without matches; the aggregate's output after the preload
// and after the first transaction, applied as upserts to a copy of the view, against count / sum
// / min / max recomputed from scratch from the benchmark's own copy of the table.
// Times are the process's CPU time (MeasureProcessCPUTime: RocksDB's background flushes and
// compactions while the timer runs count too): less sensitive than wall time to other load.
//
// Built by bench/harness.py (stage micro) against the build's static libraries, from the
// repository root:
//   g++ -O2 -g -DNDEBUG -std=c++20 -DFMT_SHARED -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL
//     -DSPDLOG_SHARED_LIB -Isrc -isystem /usr/include/mariadb bench/micro/operator_bench.cpp
//     build/src/{pipeline,clickhouse,mysql,sql,bus,state,event,common}/lib*.a -lbenchmark
//     -lpg_query -lsimdjson -lspdlog -lfmt -lyaml-cpp -lcurl -lrocksdb -lrdkafka -lmariadb -lzstd
//     -lz -lpthread -o /tmp/operator_bench
//   /tmp/operator_bench --benchmark_min_time=0.5

#include <benchmark/benchmark.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "sql/operators.h"
#include "sql/plan.h"
#include "sql/view_state.h"
#include "state/state_store.h"

namespace {

using namespace sluice;
using sluice::sql::AggregateOperator;
using sluice::sql::Catalog;
using sluice::sql::CompileViews;
using sluice::sql::JoinOperator;
using sluice::sql::Operator;
using sluice::sql::PlanKind;
using sluice::sql::PlanPtr;
using sluice::sql::Row;
using sluice::sql::ViewStateManager;

constexpr const char* kDatabase = "bench_ops";
// Join
constexpr int64_t kBuildRows = 100000;
constexpr int64_t kJoinKeys = 10000;
constexpr int64_t kMatchesPerProbe = kBuildRows / kJoinKeys;
constexpr size_t kProbeChunkRows = 1024;
constexpr size_t kProbeChunks = 16;
constexpr int kJoinCommitEveryIters = 5;  // 5 x 2048 probe changes ~ 10k row changes
// Aggregate
constexpr int64_t kAggRows = 100000;
constexpr int64_t kGroups = 10000;
constexpr int kTxnChanges = 1000;
constexpr int kForwardTxns = 100;
constexpr int kAggCommitEveryTxns = 10;  // 10 x 1000 row changes
constexpr int64_t kMaxValue = 1000000;
constexpr size_t kPreloadChunkRows = 1024;

// Sluice's log on stderr before anything logs (RocksDB's warnings are routed to it; spdlog's
// default logger would print them into the JSON on stdout).
const bool g_logging = (sluice::InitLogging("warn"), true);

TableSchemaPtr MakeTable(const char* name, const std::vector<std::pair<const char*, ValueKind>>& columns) {
  auto t = std::make_shared<TableSchema>();
  t->database = kDatabase;
  t->table = name;
  for (const auto& [col, kind] : columns) {
    ColumnSchema c;
    c.name = col;
    c.kind = kind;
    c.column_type = kind == ValueKind::kInt ? "bigint(20)" : "varchar(64)";
    c.nullable = false;
    if (kind == ValueKind::kString) c.length = 64;
    t->columns.push_back(c);
  }
  t->primary_key = {0};
  return t;
}

ChangeChunk NewChunk(const TableSchemaPtr& t) {
  ChangeChunk c(t);
  SourceInfo s;
  s.file = "mysql-bin.000001";
  s.server_id = 1;
  c.AddSource(s);
  return c;
}

PlanPtr FindNode(const PlanPtr& p, PlanKind kind) {
  if (p->kind == kind) return p;
  for (const auto& in : p->inputs) {
    if (PlanPtr f = FindNode(in, kind)) return f;
  }
  return nullptr;
}

/// Compiles `CREATE MATERIALIZED VIEW name AS select` over `tables` and returns its `kind` node,
/// checking that the node reads the source tables' scans directly.
PlanPtr CompileNode(const char* name, const char* select, const std::vector<TableSchemaPtr>& tables, PlanKind kind) {
  Catalog catalog(kDatabase);
  for (const auto& t : tables) catalog.AddTable(t);
  auto defs = CompileViews("operator_bench.sql", fmt::format("CREATE MATERIALIZED VIEW {} AS {}", name, select), catalog);
  PlanPtr node = FindNode(defs.at(0).plan, kind);
  if (!node) Throw(ErrorKind::kInternal, "view {}: no {} node in its plan:\n{}", name, kind == PlanKind::kJoin ? "join" : "aggregate", defs.at(0).plan->ToString());
  for (const auto& in : node->inputs) {
    if (in->kind != PlanKind::kScan) Throw(ErrorKind::kInternal, "view {}: the operator's input is not a scan:\n{}", name, defs.at(0).plan->ToString());
  }
  return node;
}

/// The state backend of one run: nothing (in memory) or a fresh RocksDB directory with a
/// ViewStateManager. Declare it before the operator (the operator's caches unregister from the
/// manager when destroyed).
struct Backend {
  std::string dir;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ViewStateManager> manager;
  int commits = 0;
  double commit_s = 0;

  explicit Backend(size_t budget) {
    if (budget == 0) return;
    const char* env_dir = std::getenv("SLUICE_BENCH_STATE_DIR");
    std::string tmpl = (std::filesystem::path(env_dir && *env_dir ? env_dir : std::filesystem::temp_directory_path().string()) /
                        "operator-bench-XXXXXX")
                           .string();
    if (::mkdtemp(tmpl.data()) == nullptr) Throw(ErrorKind::kState, "mkdtemp {}: {}", tmpl, std::strerror(errno));
    dir = tmpl;
    store = StateStore::Open(dir);
    manager = std::make_unique<ViewStateManager>(store.get(), "views/", budget);
    manager->Recover();
  }
  ~Backend() {
    manager.reset();
    store.reset();
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  void Attach(Operator& op, const std::string& view) {
    if (manager) op.AttachState(manager.get(), view, 0);
  }
  void Commit() {
    if (!manager) return;
    const auto start = std::chrono::steady_clock::now();
    manager->Commit({{"offset", std::to_string(++commits)}});
    commit_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  /// Starts the timed part: Describe reports the manager's counters and commits from here on.
  void Mark() {
    if (manager) base = manager->stats();
    commits_base = commits;
    commit_s_base = commit_s;
  }
  /// Counters and the label's suffix describing the state.
  std::string Describe(benchmark::State& state, size_t budget, size_t items, const char* item) const {
    if (!manager) return "in-memory state";
    const auto& st = manager->stats();
    const uint64_t evictions = st.evictions - base.evictions, loads = st.loads - base.loads;
    state.counters["evictions"] = static_cast<double>(evictions);
    state.counters["loads"] = static_cast<double>(loads);
    state.counters["compactions"] = static_cast<double>(st.compactions - base.compactions);
    state.counters["spilled_keys"] = static_cast<double>(st.spilled_keys - base.spilled_keys);
    state.counters["cache_mib"] = static_cast<double>(manager->MemoryUsed()) / (1 << 20);
    const int n = commits - commits_base;
    state.counters["commit_ms"] = n ? (commit_s - commit_s_base) * 1e3 / n : 0.0;
    const double per = items ? 1.0 / static_cast<double>(items) : 0.0;
    return fmt::format("RocksDB state, {} MiB cache budget ({:.2f} loads and {:.2f} evictions a {} in the timed loop)",
                       budget >> 20, static_cast<double>(loads) * per, static_cast<double>(evictions) * per, item);
  }

 private:
  ViewStateManager::Stats base;
  int commits_base = 0;
  double commit_s_base = 0;
};

size_t Rows(const std::vector<ChangeChunk>& out) {
  size_t n = 0;
  for (const auto& c : out) n += c.size();
  return n;
}

// ---------------------------------------------------------------------------------------------
// Join probe
// ---------------------------------------------------------------------------------------------

std::string Payload(int64_t build_id) { return fmt::format("payload-{:016}", build_id); }

struct JoinFixture {
  TableSchemaPtr probe = MakeTable("probe", {{"id", ValueKind::kInt}, {"k", ValueKind::kInt}, {"qty", ValueKind::kInt}});
  TableSchemaPtr build = MakeTable("build", {{"id", ValueKind::kInt}, {"k", ValueKind::kInt}, {"payload", ValueKind::kString}});
  PlanPtr node;
  std::vector<ChangeChunk> build_chunks;
  std::vector<ChangeChunk> inserts, deletes;  // probe side, kProbeChunks each
};

void AppendProbe(ChangeChunk& c, RowOp op, uint64_t version, int64_t id, int64_t k, int64_t qty) {
  c.BeginRow(op, version, 0, static_cast<uint32_t>(c.size()));
  c.column(0).AppendInt(id);
  c.column(1).AppendInt(k);
  c.column(2).AppendInt(qty);
}

const JoinFixture& GetJoinFixture() {
  static const JoinFixture* f = [] {
    auto* fx = new JoinFixture;
    fx->node = CompileNode("join_probe", "SELECT p.id, p.k, p.qty, b.id AS build_id, b.payload FROM probe p JOIN build b ON p.k = b.k",
                           {fx->probe, fx->build}, PlanKind::kJoin);
    if (fx->node->inputs[0]->source != fmt::format("{}.probe", kDatabase)) {
      Throw(ErrorKind::kInternal, "join input 0 is {}, expected the probe table", fx->node->inputs[0]->source);
    }
    uint64_t version = 0;
    ChangeChunk c = NewChunk(fx->build);
    for (int64_t id = 1; id <= kBuildRows; ++id) {
      c.BeginRow(RowOp::kInsert, ++version, 0, static_cast<uint32_t>(c.size()));
      c.column(0).AppendInt(id);
      c.column(1).AppendInt(id % kJoinKeys);
      c.column(2).AppendBytes(Payload(id));
      if (c.size() >= kPreloadChunkRows) {
        fx->build_chunks.push_back(std::move(c));
        c = NewChunk(fx->build);
      }
    }
    if (!c.empty()) fx->build_chunks.push_back(std::move(c));
    std::mt19937_64 rng(42);
    int64_t next_id = 1;
    for (size_t n = 0; n < kProbeChunks; ++n) {
      ChangeChunk ins = NewChunk(fx->probe), del = NewChunk(fx->probe);
      for (size_t i = 0; i < kProbeChunkRows; ++i) {
        const int64_t id = next_id++;
        const int64_t k = static_cast<int64_t>(rng() % static_cast<uint64_t>(kJoinKeys));
        const int64_t qty = static_cast<int64_t>(rng() % 100);
        AppendProbe(ins, RowOp::kInsert, ++version, id, k, qty);
        AppendProbe(del, RowOp::kDelete, ++version, id, k, qty);
      }
      fx->inserts.push_back(std::move(ins));
      fx->deletes.push_back(std::move(del));
    }
    return fx;
  }();
  return *f;
}

/// Pushes one probe row with key `k` (insert, then delete) and checks the join's output: the
/// rows of the build side with that key, joined, then retracted. Returns "" or what is wrong.
std::string CheckJoin(JoinOperator& op, const JoinFixture& fx, int64_t k) {
  const bool matches = k >= 0 && k < kJoinKeys;
  for (const RowOp opcode : {RowOp::kInsert, RowOp::kDelete}) {
    ChangeChunk c = NewChunk(fx.probe);
    AppendProbe(c, opcode, 1, -1, k, 7);
    std::vector<ChangeChunk> out;
    op.Push(0, c, out);
    std::vector<int64_t> ids;
    for (const auto& oc : out) {
      for (size_t i = 0; i < oc.size(); ++i) {
        const Row r = sql::ReadRow(oc, i, op.output_types());
        if (oc.op(i) != opcode || r.size() != 6 || r[0].i != -1 || r[1].i != k || r[2].i != 7 || r[4].i != k ||
            r[5].s != Payload(r[3].i)) {
          return fmt::format("probe of key {}: unexpected output row {} (op {})", k, i, static_cast<int>(oc.op(i)));
        }
        ids.push_back(r[3].i);
      }
    }
    std::sort(ids.begin(), ids.end());
    std::vector<int64_t> want;
    if (matches) {
      for (int64_t id = k == 0 ? kJoinKeys : k; id <= kBuildRows; id += kJoinKeys) want.push_back(id);
    }
    if (ids != want) {
      return fmt::format("probe {} of key {}: {} joined rows ({}), expected {} ({})",
                         opcode == RowOp::kInsert ? "insert" : "delete", k, ids.size(), fmt::join(ids, ","),
                         want.size(), fmt::join(want, ","));
    }
  }
  return "";
}

void BM_JoinProbe(benchmark::State& state, size_t budget) {
  try {
    const JoinFixture& fx = GetJoinFixture();
    Backend backend(budget);
    JoinOperator op(*fx.node);
    backend.Attach(op, "join_probe");
    std::vector<ChangeChunk> out;
    for (const auto& c : fx.build_chunks) {
      op.Push(1, c, out);
      out.clear();
    }
    backend.Commit();
    for (const int64_t k : {int64_t{1234}, int64_t{0}, kJoinKeys + 5}) {
      if (std::string err = CheckJoin(op, fx, k); !err.empty()) {
        state.SkipWithError(err.c_str());
        return;
      }
    }
    backend.Commit();
    backend.Mark();
    size_t n = 0, out_rows = 0, probes = 0;
    for (auto _ : state) {
      const size_t i = n++ % kProbeChunks;
      op.Push(0, fx.inserts[i], out);
      out_rows += Rows(out);
      out.clear();
      op.Push(0, fx.deletes[i], out);
      out_rows += Rows(out);
      out.clear();
      probes += 2 * kProbeChunkRows;
      if (backend.manager && n % kJoinCommitEveryIters == 0) {
        state.PauseTiming();
        backend.Commit();
        state.ResumeTiming();
      }
    }
    if (out_rows != probes * kMatchesPerProbe) {
      state.SkipWithError(fmt::format("{} joined rows for {} probes, expected {} a probe", out_rows, probes,
                                      kMatchesPerProbe)
                              .c_str());
      return;
    }
    state.SetItemsProcessed(static_cast<int64_t>(probes));
    state.counters["out_rows_per_probe"] = probes ? static_cast<double>(out_rows) / static_cast<double>(probes) : 0.0;
    state.counters["preload_rows"] = static_cast<double>(kBuildRows);
    state.SetLabel(fmt::format("probes into a {}-row build side over {} keys ({} matches each); chunks of {} probe "
                               "inserts, then their deletes; {}",
                               kBuildRows, kJoinKeys, kMatchesPerProbe, kProbeChunkRows, backend.Describe(state, budget, probes, "probe")));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Aggregate update
// ---------------------------------------------------------------------------------------------

struct AggRow {
  int64_t id = 0, k = 0, v = 0;
};
struct AggChange {
  char op = 'I';  // I (after), D (before), U (before -> after)
  AggRow before, after;
};
/// count, sum, min, max of one group.
using Aggregates = std::array<int64_t, 4>;
using AggView = std::map<int64_t, Aggregates>;

AggView Recompute(const std::vector<AggRow>& rows) {
  AggView v;
  for (const AggRow& r : rows) {
    auto [it, inserted] = v.try_emplace(r.k, Aggregates{0, 0, r.v, r.v});
    Aggregates& a = it->second;
    ++a[0];
    a[1] += r.v;
    a[2] = std::min(a[2], r.v);
    a[3] = std::max(a[3], r.v);
  }
  return v;
}

struct AggFixture {
  TableSchemaPtr table = MakeTable("t", {{"id", ValueKind::kInt}, {"k", ValueKind::kInt}, {"v", ValueKind::kInt}});
  PlanPtr node;
  std::vector<ChangeChunk> preload;
  std::vector<ChangeChunk> txns;  // kForwardTxns forward, then their inverses in reverse order
  std::vector<size_t> txn_changes;
  AggView expected_preload, expected_first;  // from scratch: after the preload, after txns[0]
};

void AppendAgg(ChangeChunk& c, RowOp op, uint64_t version, const AggRow& r) {
  c.BeginRow(op, version, 0, static_cast<uint32_t>(c.size()));
  c.column(0).AppendInt(r.id);
  c.column(1).AppendInt(r.k);
  c.column(2).AppendInt(r.v);
}

ChangeChunk TxnChunk(const TableSchemaPtr& t, const std::vector<AggChange>& changes, uint64_t& version) {
  ChangeChunk c = NewChunk(t);
  for (const AggChange& ch : changes) {
    const uint64_t v = ++version;
    if (ch.op == 'I') {
      AppendAgg(c, RowOp::kInsert, v, ch.after);
    } else if (ch.op == 'D') {
      AppendAgg(c, RowOp::kDelete, v, ch.before);
    } else {
      AppendAgg(c, RowOp::kUpdateBefore, v, ch.before);
      AppendAgg(c, RowOp::kUpdateAfter, v, ch.after);
    }
  }
  return c;
}

const AggFixture& GetAggFixture() {
  static const AggFixture* f = [] {
    auto* fx = new AggFixture;
    fx->node = CompileNode("aggregate_update", "SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k",
                           {fx->table}, PlanKind::kAggregate);
    std::mt19937_64 rng(42);
    auto value = [&] { return static_cast<int64_t>(rng() % static_cast<uint64_t>(kMaxValue)); };
    auto group = [&] { return static_cast<int64_t>(rng() % static_cast<uint64_t>(kGroups)); };
    std::vector<AggRow> live;
    uint64_t version = 0;
    ChangeChunk c = NewChunk(fx->table);
    for (int64_t id = 1; id <= kAggRows; ++id) {
      live.push_back({id, id % kGroups, value()});
      AppendAgg(c, RowOp::kInsert, ++version, live.back());
      if (c.size() >= kPreloadChunkRows) {
        fx->preload.push_back(std::move(c));
        c = NewChunk(fx->table);
      }
    }
    if (!c.empty()) fx->preload.push_back(std::move(c));
    fx->expected_preload = Recompute(live);
    int64_t next_id = kAggRows + 1;
    std::vector<std::vector<AggChange>> forward;
    for (int t = 0; t < kForwardTxns; ++t) {
      std::vector<AggChange> txn;
      for (int n = 0; n < kTxnChanges; ++n) {
        AggChange ch;
        const unsigned p = static_cast<unsigned>(rng() % 3);
        if (p == 0 || live.empty()) {
          ch.op = 'I';
          ch.after = {next_id++, group(), value()};
          live.push_back(ch.after);
        } else if (p == 1) {
          AggRow& r = live[static_cast<size_t>(rng() % live.size())];
          ch.op = 'U';
          ch.before = r;
          r.v = (r.v + 1 + value() % (kMaxValue - 1)) % kMaxValue;  // always differs
          if (rng() % 10 == 0) r.k = group();
          ch.after = r;
        } else {
          const size_t i = static_cast<size_t>(rng() % live.size());
          ch.op = 'D';
          ch.before = live[i];
          live[i] = live.back();
          live.pop_back();
        }
        txn.push_back(ch);
      }
      if (t == 0) fx->expected_first = Recompute(live);
      forward.push_back(std::move(txn));
    }
    for (const auto& txn : forward) {
      fx->txns.push_back(TxnChunk(fx->table, txn, version));
      fx->txn_changes.push_back(txn.size());
    }
    for (size_t t = forward.size(); t-- > 0;) {
      std::vector<AggChange> inv;
      for (size_t i = forward[t].size(); i-- > 0;) {
        AggChange ch = forward[t][i];
        if (ch.op == 'I') {
          ch.op = 'D';
          ch.before = ch.after;
        } else if (ch.op == 'D') {
          ch.op = 'I';
          ch.after = ch.before;
        } else {
          std::swap(ch.before, ch.after);
        }
        inv.push_back(ch);
      }
      fx->txns.push_back(TxnChunk(fx->table, inv, version));
      fx->txn_changes.push_back(inv.size());
    }
    return fx;
  }();
  return *f;
}

/// Applies the aggregate's output (an upsert stream keyed by k) to `view`; "" or what is wrong.
std::string ApplyOutput(const std::vector<ChangeChunk>& out, const std::vector<sql::SqlType>& types, AggView& view) {
  for (const auto& c : out) {
    for (size_t i = 0; i < c.size(); ++i) {
      const Row r = sql::ReadRow(c, i, types);
      if (r.size() != 5) return fmt::format("output row has {} columns, expected 5", r.size());
      for (const auto& v : r) {
        if (v.null) return fmt::format("group {}: NULL in the output", r[0].i);
      }
      const Aggregates a{r[1].i, r[2].i, r[3].i, r[4].i};
      switch (c.op(i)) {
        case RowOp::kInsert:
          if (!view.emplace(r[0].i, a).second) return fmt::format("group {}: inserted twice", r[0].i);
          break;
        case RowOp::kUpdateBefore:
        case RowOp::kDelete: {
          auto it = view.find(r[0].i);
          if (it == view.end() || it->second != a) return fmt::format("group {}: retracts a row it did not emit", r[0].i);
          if (c.op(i) == RowOp::kDelete) view.erase(it);
          break;
        }
        case RowOp::kUpdateAfter: view[r[0].i] = a; break;
      }
    }
  }
  return "";
}

std::string CompareViews(const AggView& got, const AggView& want, const char* when) {
  if (got == want) return "";
  for (const auto& [k, a] : want) {
    auto it = got.find(k);
    if (it == got.end()) return fmt::format("{}: group {} missing", when, k);
    if (it->second != a) {
      return fmt::format("{}: group {} is (count {}, sum {}, min {}, max {}), expected ({}, {}, {}, {})", when, k,
                         it->second[0], it->second[1], it->second[2], it->second[3], a[0], a[1], a[2], a[3]);
    }
  }
  return fmt::format("{}: {} groups, expected {}", when, got.size(), want.size());
}

void BM_AggregateUpdate(benchmark::State& state, size_t budget) {
  try {
    const AggFixture& fx = GetAggFixture();
    Backend backend(budget);
    AggregateOperator op(*fx.node);
    backend.Attach(op, "aggregate_update");
    std::vector<ChangeChunk> out;
    AggView view;
    for (const auto& c : fx.preload) op.Push(0, c, out);
    op.Flush(out);
    backend.Commit();
    std::string err = ApplyOutput(out, op.output_types(), view);
    if (err.empty()) err = CompareViews(view, fx.expected_preload, "after the preload");
    out.clear();
    if (err.empty()) {
      op.Push(0, fx.txns[0], out);
      op.Flush(out);
      backend.Commit();
      err = ApplyOutput(out, op.output_types(), view);
      if (err.empty()) err = CompareViews(view, fx.expected_first, "after the first transaction");
      out.clear();
    }
    if (!err.empty()) {
      state.SkipWithError(err.c_str());
      return;
    }
    backend.Mark();
    size_t t = 1, txns = 0, changes = 0, out_rows = 0;
    for (auto _ : state) {
      op.Push(0, fx.txns[t], out);
      op.Flush(out);
      out_rows += Rows(out);
      out.clear();
      changes += fx.txn_changes[t];
      t = (t + 1) % fx.txns.size();
      if (backend.manager && ++txns % kAggCommitEveryTxns == 0) {
        state.PauseTiming();
        backend.Commit();
        state.ResumeTiming();
      }
    }
    state.SetItemsProcessed(static_cast<int64_t>(changes));
    state.counters["out_rows"] = static_cast<double>(out_rows);
    state.counters["changes"] = static_cast<double>(changes);
    state.counters["preload_rows"] = static_cast<double>(kAggRows);
    state.SetLabel(fmt::format("count/sum/min/max over {} groups ({} rows preloaded); transactions of {} row "
                               "changes, 1/3 each insert/update/delete, flushed per transaction; {}",
                               kGroups, kAggRows, kTxnChanges, backend.Describe(state, budget, changes, "change")));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::pair<const char*, size_t> variants[] = {{"memory", 0}, {"rocksdb_16MiB", 16u << 20}, {"rocksdb_1MiB", 1u << 20}};
  for (const auto& [name, budget] : variants) {
    benchmark::RegisterBenchmark(fmt::format("BM_JoinProbe/{}", name).c_str(), BM_JoinProbe, budget)
        ->Unit(benchmark::kMillisecond)
        ->MeasureProcessCPUTime();
  }
  for (const auto& [name, budget] : variants) {
    benchmark::RegisterBenchmark(fmt::format("BM_AggregateUpdate/{}", name).c_str(), BM_AggregateUpdate, budget)
        ->Unit(benchmark::kMillisecond)
        ->MeasureProcessCPUTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
