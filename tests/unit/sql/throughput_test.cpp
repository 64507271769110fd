// Rough rows/s of the operators (printed, not asserted: the machine is shared). The real
// benchmarks belong in bench/.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <random>

#include "sql/operators.h"
#include "sql/view_state.h"
#include "state/state_store.h"

#include <filesystem>

namespace sluice::sql {
namespace {

TableSchemaPtr Schema(const std::string& name, std::vector<std::pair<std::string, ValueKind>> cols) {
  auto t = std::make_shared<TableSchema>();
  t->database = "db";
  t->table = name;
  for (auto& [n, k] : cols) {
    ColumnSchema c;
    c.name = n;
    c.kind = k;
    if (k == ValueKind::kDecimal) { c.precision = 12; c.scale = 2; }
    t->columns.push_back(c);
  }
  t->primary_key = {0};
  return t;
}

/// A changelog of `n` rows over (id, k, amount): 60% inserts, 30% updates, 10% deletes.
std::vector<ChangeChunk> Changelog(const TableSchemaPtr& t, size_t n, int keys) {
  std::mt19937 rng(1);
  std::vector<ChangeChunk> chunks;
  std::vector<std::array<int64_t, 3>> live;
  uint64_t version = 0;
  ChangeChunk c(t);
  c.AddSource(SourceInfo{});
  auto add = [&](RowOp op, const std::array<int64_t, 3>& r) {
    c.BeginRow(op, ++version, 0, 0);
    c.column(0).AppendInt(r[0]);
    c.column(1).AppendInt(r[1]);
    c.column(2).AppendBytes(fmt::format("{}.{:02}", r[2] / 100, r[2] % 100));
  };
  int64_t next_id = 0;
  for (size_t i = 0; i < n;) {
    unsigned p = rng() % 10;
    if (p < 6 || live.empty()) {
      std::array<int64_t, 3> r{next_id++, static_cast<int64_t>(rng() % static_cast<unsigned>(keys)), static_cast<int64_t>(rng() % 100000)};
      add(RowOp::kInsert, r);
      live.push_back(r);
      ++i;
    } else if (p < 9) {
      auto& r = live[rng() % live.size()];
      add(RowOp::kUpdateBefore, r);
      r[2] = static_cast<int64_t>(rng() % 100000);
      add(RowOp::kUpdateAfter, r);
      i += 2;
    } else {
      size_t k = rng() % live.size();
      add(RowOp::kDelete, live[k]);
      live[k] = live.back();
      live.pop_back();
      ++i;
    }
    if (c.size() >= 1024) {
      chunks.push_back(std::move(c));
      c = ChangeChunk(t);
      c.AddSource(SourceInfo{});
    }
  }
  if (!c.empty()) chunks.push_back(std::move(c));
  return chunks;
}

/// With `state`: the view's state in it, committed every 16 chunks (a transaction boundary).
double RowsPerSecond(const std::string& sql, const std::vector<std::pair<std::string, std::vector<ChangeChunk>*>>& inputs,
                     Catalog& catalog, ViewStateManager* state = nullptr) {
  auto views = CompileViews("bench.sql", sql, catalog);
  if (state) state->DropView(views[0].name);
  ViewPipeline p(views[0].plan, views[0].output, state);
  size_t batches = 0;
  size_t rows = 0;
  auto start = std::chrono::steady_clock::now();
  std::vector<ChangeChunk> out;
  for (auto& [source, chunks] : inputs) {
    for (auto& c : *chunks) {
      p.Push(source, c, out);
      rows += c.size();
      out.clear();
      if (state && ++batches % 16 == 0) {
        p.Flush(out);
        out.clear();
        state->Commit({{"bench/offset", std::to_string(batches)}});
      }
    }
  }
  p.Flush(out);
  if (state) state->Commit({{"bench/offset", "end"}});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(rows) / s;
}

TEST(SqlThroughput, Report) {
  Catalog catalog("db");
  auto facts = Schema("facts", {{"id", ValueKind::kInt}, {"k", ValueKind::kInt}, {"amount", ValueKind::kDecimal}});
  auto dims = Schema("dims", {{"id", ValueKind::kInt}, {"k", ValueKind::kInt}, {"amount", ValueKind::kDecimal}});
  catalog.AddTable(facts);
  catalog.AddTable(dims);
  auto f = Changelog(facts, 200000, 1000);
  auto d = Changelog(dims, 20000, 1000);
  double fp = RowsPerSecond("CREATE MATERIALIZED VIEW v AS SELECT id, amount * 2 AS a2 FROM facts WHERE k % 2 = 0", {{"db.facts", &f}}, catalog);
  double gb = RowsPerSecond("CREATE MATERIALIZED VIEW g AS SELECT k, count(*) AS n, sum(amount) AS s FROM facts GROUP BY k", {{"db.facts", &f}}, catalog);
  double jn = RowsPerSecond("CREATE MATERIALIZED VIEW j AS SELECT f.id, d.id AS did FROM dims d JOIN facts f ON f.id = d.id",
                            {{"db.dims", &d}, {"db.facts", &f}}, catalog);
  // Skewed: every fact row shares its join key with ~20k others (a small dimension table).
  auto small = Schema("small", {{"id", ValueKind::kInt}, {"k", ValueKind::kInt}, {"amount", ValueKind::kDecimal}});
  catalog.AddTable(small);
  auto sm = Changelog(small, 10, 1);
  double sk = RowsPerSecond("CREATE MATERIALIZED VIEW s AS SELECT f.id, d.amount FROM small d JOIN facts f ON f.k % 10 = d.id",
                            {{"db.small", &sm}, {"db.facts", &f}}, catalog);
  std::printf("[ rows/s ] filter+project %.0f, group-by %.0f, join %.0f, skewed join %.0f (200k-row changelog, 30%% updates, 10%% deletes)\n",
              fp, gb, jn, sk);
  EXPECT_GT(fp, 0);

  // The same with the state in RocksDB (sql/view_state.h): a budget the working set fits in (the
  // hot path), and one it does not (1 MiB: evictions, and the skewed join's ~20k-row buckets are
  // scanned from RocksDB at each probe).
  const std::string dir = (std::filesystem::temp_directory_path() / ("sluice-throughput-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  {
    auto store = StateStore::Open(dir);
    for (size_t budget : {size_t{256} << 20, size_t{1} << 20}) {
      ViewStateManager m(store.get(), "bench/views/", budget);
      m.Recover();
      const std::string n = std::to_string(budget >> 20);
      double pgb = RowsPerSecond("CREATE MATERIALIZED VIEW pg" + n + " AS SELECT k, count(*) AS n, sum(amount) AS s FROM facts GROUP BY k",
                                 {{"db.facts", &f}}, catalog, &m);
      double pjn = RowsPerSecond("CREATE MATERIALIZED VIEW pj" + n + " AS SELECT f.id, d.id AS did FROM dims d JOIN facts f ON f.id = d.id",
                                 {{"db.dims", &d}, {"db.facts", &f}}, catalog, &m);
      double psk = budget > (1 << 20) ? RowsPerSecond("CREATE MATERIALIZED VIEW ps" + n + " AS SELECT f.id, d.amount FROM small d JOIN facts f ON f.k % 10 = d.id",
                                                      {{"db.small", &sm}, {"db.facts", &f}}, catalog, &m)
                                      : 0;
      std::printf("[ rows/s ] persisted state, budget %zu MiB: group-by %.0f, join %.0f, skewed join %.0f (loads %llu, evictions %llu)\n",
                  budget >> 20, pgb, pjn, psk, static_cast<unsigned long long>(m.stats().loads),
                  static_cast<unsigned long long>(m.stats().evictions));
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::sql
