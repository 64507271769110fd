// Randomized oracle test: thousands of random inserts/updates/deletes with colliding keys and
// NULLs in group and join keys, every view compared with a from-scratch evaluation after every batch.
#include <gtest/gtest.h>

#include <random>

#include "view_harness.h"

namespace sluice::sql::testing {
namespace {

const char* kViews = R"(
CREATE MATERIALIZED VIEW agg AS
  SELECT g, count(*) AS n, count(v) AS nv, sum(v) AS sv, avg(v) AS av, min(v) AS mn, max(s) AS mx,
         count(DISTINCT k) AS dk, sum(k) AS sk, sum(v) FILTER (WHERE k > 2) AS svk, min(v) FILTER (WHERE s <> 'a') AS mvs
  FROM t1 GROUP BY g;
CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(v) AS sv, min(k) AS mk, max(k) AS xk FROM t1;
CREATE MATERIALIZED VIEW j AS SELECT t1.id, t2.id AS id2, t1.v, t2.name FROM t1 JOIN t2 ON t1.k = t2.k;
CREATE MATERIALIZED VIEW jagg AS
  SELECT t2.name, sum(t1.v) AS total, count(*) AS n FROM t1 JOIN t2 ON t1.k = t2.k
  WHERE t1.v > 0 GROUP BY t2.name HAVING count(*) > 1;
CREATE MATERIALIZED VIEW lj AS SELECT t1.id, t1.k, t2.w FROM t1 LEFT JOIN t2 ON t1.k = t2.k;
CREATE MATERIALIZED VIEW rj AS SELECT t1.id, t2.id AS id2 FROM t1 RIGHT JOIN t2 ON t1.k = t2.k;
CREATE MATERIALIZED VIEW fj AS SELECT t1.id, t2.id AS id2 FROM t1 FULL JOIN t2 ON t1.k = t2.k AND t1.g = t2.w;
CREATE MATERIALIZED VIEW fp AS
  SELECT id, CASE WHEN v > 50 THEN 'big' ELSE 'small' END AS size, coalesce(s, 'none') AS s2, v * 2 + 1 AS v2
  FROM t1 WHERE g IN (1, 2) OR k IS NULL;
CREATE MATERIALIZED VIEW fp_count AS SELECT size, count(*) AS n, sum(v2) AS s FROM fp GROUP BY size;
CREATE MATERIALIZED VIEW dist AS SELECT DISTINCT g, k FROM t1;
CREATE MATERIALIZED VIEW u AS SELECT k FROM t1 UNION ALL SELECT k FROM t2 WHERE w IS NOT NULL;
CREATE MATERIALIZED VIEW three AS
  SELECT a.id, b.id AS bid, c.name FROM t1 a JOIN t1 b ON a.g = b.k JOIN t2 c ON c.w = b.g;
CREATE MATERIALIZED VIEW comma AS
  SELECT t1.id, t2.name, t1.v FROM t1, t2 WHERE t1.k = t2.k AND t2.w > 1 AND t1.g = t2.w;
CREATE MATERIALIZED VIEW sub AS
  SELECT x.k, count(*) AS n FROM (SELECT k, v FROM t1 WHERE v IS NOT NULL) x GROUP BY x.k;
CREATE MATERIALIZED VIEW gk AS SELECT g, k FROM t1;
CREATE MATERIALIZED VIEW gk_pos AS SELECT k FROM gk WHERE g > 0;
CREATE MATERIALIZED VIEW u2 AS
  SELECT k, s AS tag FROM t1 WHERE g = 1 UNION ALL SELECT k, name FROM t2 UNION ALL SELECT k, s FROM t1 WHERE g <> 1;
CREATE MATERIALIZED VIEW u2_pairs AS
  SELECT a.tag, b.name FROM (SELECT tag, k FROM u2) a JOIN (SELECT name, w FROM t2) b ON a.k = b.w;
CREATE MATERIALIZED VIEW fk AS
  SELECT a.g, b.w FROM (SELECT g, k FROM t1) a FULL JOIN (SELECT w, k FROM t2) b ON a.k = b.k;
CREATE MATERIALIZED VIEW fgroups AS
  SELECT x.g, x.n, y.w, y.m FROM (SELECT g, count(*) AS n FROM t1 GROUP BY g) x
  FULL JOIN (SELECT w, count(*) AS m FROM t2 GROUP BY w) y ON x.g = y.w;
CREATE MATERIALIZED VIEW fcounts AS
  SELECT x.g, y.w, x.n, y.m FROM (SELECT g, count(*) AS n FROM t1 GROUP BY g) x
  FULL JOIN (SELECT w, count(*) AS m FROM t2 GROUP BY w) y ON x.n % 3 = y.m % 3;
CREATE MATERIALIZED VIEW fsingle AS
  SELECT x.n, y.m FROM (SELECT count(*) AS n FROM t1 WHERE g = 1) x
  FULL JOIN (SELECT count(*) AS m FROM t2 WHERE w = 1) y ON x.n % 2 = y.m % 2;
CREATE MATERIALIZED VIEW per_g AS SELECT count(*) AS n, sum(v) AS sv FROM t1 GROUP BY g, k;
CREATE MATERIALIZED VIEW shared_sets AS
  SELECT g, min(v) AS mn, max(v) AS mx, count(DISTINCT v) AS dv, sum(DISTINCT v) AS sdv,
         min(v) FILTER (WHERE s <> 'a') AS mnf, max(v) FILTER (WHERE s <> 'a') AS mxf, max(k) AS mk, avg(DISTINCT k) AS adk
  FROM t1 GROUP BY g;
CREATE MATERIALIZED VIEW cte AS
  WITH a AS (SELECT k, v, g FROM t1 WHERE v IS NOT NULL), b(kk, n) AS (SELECT k, count(*) FROM t2 GROUP BY k)
  SELECT a.g, sum(a.v * b.n) AS weighted, count(*) AS c FROM a JOIN b ON a.k = b.kk GROUP BY a.g;
)";

void RunRandom(ViewHarness& h) {
  h.CreateTable("CREATE TABLE t1 (id INT PRIMARY KEY, g INT NULL, k INT NULL, v DECIMAL(8,2) NULL, s VARCHAR(10) NULL)");
  h.CreateTable("CREATE TABLE t2 (id INT PRIMARY KEY, k INT NULL, w INT NULL, name VARCHAR(10))");
  h.CreateViews("random.sql", kViews);
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto maybe_null = [&](Value v) { return pick(6) == 0 ? Value::Null() : v; };
  auto make_row = [&](const std::string& table, int id) {
    if (table == "t1") {
      return Row{Value::Int(id), maybe_null(Value::Int(pick(4))), maybe_null(Value::Int(pick(5))),
                 maybe_null(Value::Decimal(pick(20001) - 5000)), maybe_null(Value::String(std::string(1, static_cast<char>('a' + pick(5)))))};
    }
    return Row{Value::Int(id), maybe_null(Value::Int(pick(5))), maybe_null(Value::Int(pick(4))),
               Value::String(std::string(1, static_cast<char>('p' + pick(3))))};
  };
  int changes = 0;
  for (int batch = 0; batch < 600; ++batch) {
    int n = 1 + pick(12);
    for (int c = 0; c < n; ++c, ++changes) {
      std::string table = pick(3) == 0 ? "t2" : "t1";
      int id = pick(table == "t1" ? 40 : 15);
      Row key{Value::Int(id)};
      if (!h.HasRow(table, key)) {
        h.Insert(table, make_row(table, id));
      } else if (pick(2) == 0) {
        h.Update(table, make_row(table, id));
      } else {
        h.Delete(table, key);
      }
    }
    std::string err = h.Commit();
    ASSERT_EQ(err, "") << "after batch " << batch << " (" << changes << " changes)";
  }
  EXPECT_GT(changes, 3000);
  EXPECT_GT(h.changes_emitted(), 3000u);
}

TEST(SqlRandom, IncrementalEqualsOracle) {
  ViewHarness h("db");
  RunRandom(h);
}

/// The same with every view's state in RocksDB behind a 16 KiB cache (join buckets over 512 bytes
/// read from RocksDB at each probe), committing every 3 batches so dirty state is evicted
/// (spilled with undo records) between commits.
void RunPersisted(size_t inline_values, size_t window_keep) {
  ViewHarness h("db");
  if (inline_values > 0) h.SetMultisetLimits(inline_values, window_keep);
  h.UsePersistedState(16 << 10, 512, 3);
  RunRandom(h);
  const auto& st = h.state_manager()->stats();
  std::printf("[ view state ] loads %llu, evictions %llu, compactions %llu, spilled keys %llu, commits %llu, memory %zu\n",
              static_cast<unsigned long long>(st.loads), static_cast<unsigned long long>(st.evictions),
              static_cast<unsigned long long>(st.compactions),
              static_cast<unsigned long long>(st.spilled_keys), static_cast<unsigned long long>(st.commits),
              h.state_manager()->MemoryUsed());
  EXPECT_GT(st.evictions, 1000u);
  EXPECT_GT(st.spilled_keys, 1000u);
  EXPECT_EQ(st.commits, 200u);
  EXPECT_LE(h.state_manager()->MemoryUsed(), 16u << 10);
}

TEST(SqlRandom, PersistedStateEqualsOracle) { RunPersisted(0, 0); }

/// min/max multisets of over 2 values stored value by value, memory holding windows of the 2
/// smallest and largest values (refilled from the store when deletes empty an end).
TEST(SqlRandom, PersistedStateWithMultisetWindowsEqualsOracle) { RunPersisted(2, 2); }

}  // namespace
}  // namespace sluice::sql::testing
