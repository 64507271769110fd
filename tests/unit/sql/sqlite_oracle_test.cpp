// Independent oracle: the same view SQL run by SQLite on the current tables after every batch of
// random changes, compared with the incrementally maintained views. Limited to integer and text
// columns (SQLite has no exact DECIMAL) and to SQL both dialects read the same way.
#include <gtest/gtest.h>

#if SLUICE_HAVE_SQLITE
#include <sqlite3.h>

#include <fmt/format.h>

#include <random>

#include "view_harness.h"

namespace sluice::sql::testing {
namespace {

const std::vector<std::pair<std::string, std::string>> kViews = {
    {"agg", "SELECT g, count(*) AS n, sum(k) AS sk, min(k) AS mn, max(s) AS mx, count(DISTINCT k) AS dk FROM t1 GROUP BY g"},
    {"total", "SELECT count(*) AS n, sum(k) AS sk, min(s) AS ms, max(g) AS mg FROM t1"},
    {"jagg", "SELECT t2.name, count(*) AS n, sum(t1.g) AS sg FROM t1 JOIN t2 ON t1.k = t2.k WHERE t1.g > 0 "
             "GROUP BY t2.name HAVING count(*) > 1"},
    {"lj", "SELECT t1.id, t1.k, t2.w FROM t1 LEFT JOIN t2 ON t1.k = t2.k"},
    {"rj", "SELECT t1.id, t2.id AS id2 FROM t1 RIGHT JOIN t2 ON t1.k = t2.k"},
    {"fj", "SELECT t1.id, t2.id AS id2 FROM t1 FULL JOIN t2 ON t1.k = t2.k AND t1.g = t2.w"},
    {"fp", "SELECT id, CASE WHEN g > 1 THEN 'big' ELSE 'small' END AS size, coalesce(s, 'none') AS s2, "
           "k * 2 + 1 AS k2, k / 2 AS half, k % 3 AS m FROM t1 WHERE g IN (1, 2) OR k IS NULL"},
    {"fp_count", "SELECT size, count(*) AS n, sum(k2) AS s FROM fp GROUP BY size"},
    {"dist", "SELECT DISTINCT g, k FROM t1"},
    {"u", "SELECT k FROM t1 UNION ALL SELECT k FROM t2 WHERE w IS NOT NULL"},
    {"three", "SELECT a.id, b.id AS bid, c.name FROM t1 a JOIN t1 b ON a.g = b.k JOIN t2 c ON c.w = b.g"},
    {"strs", "SELECT id, upper(name) AS un, length(name) AS ln, substr(name, 2, 1) AS f, name || '-x' AS nx "
             "FROM t2 WHERE name LIKE 'p%'"},
    {"misc", "SELECT id, nullif(g, 1) AS ng, coalesce(k, -1) AS ck FROM t1 WHERE k BETWEEN 1 AND 3 AND NOT (g = 0)"},
    {"comma", "SELECT t1.id, t2.name FROM t1, t2 WHERE t1.k = t2.k AND t2.w > 1 AND t1.g = t2.w"},
    {"nd", "SELECT id, g FROM t1 WHERE g IS NOT DISTINCT FROM k OR (s IS DISTINCT FROM 'a' AND g IS NULL) OR (k > 3) IS NOT FALSE"},
    {"usingj", "SELECT k, t1.id, t2.id AS id2 FROM t1 LEFT JOIN t2 USING (k)"},
    {"filt", "SELECT g, count(*) FILTER (WHERE k > 1) AS big, sum(k) FILTER (WHERE s = 'a') AS sa, count(*) AS n FROM t1 GROUP BY g"},
    {"sub", "SELECT x.k, count(*) AS n FROM (SELECT k, g FROM t1 WHERE g IS NOT NULL) x GROUP BY x.k"},
    // Keys carried as hidden columns (not shown): duplicates of visible rows must stay apart.
    {"gk", "SELECT g, k FROM t1"},
    {"u3", "SELECT k, s FROM t1 WHERE g = 1 UNION ALL SELECT k, name FROM t2 UNION ALL SELECT g, s FROM t1"},
    {"ksub", "SELECT a.g, b.w FROM (SELECT g, k FROM t1) a JOIN (SELECT w, k FROM t2) b ON a.k = b.k"},
    {"ng", "SELECT count(*) AS n FROM t1 GROUP BY g"},
    // FULL JOINs of inputs whose keys may both be all NULL (NULL groups, single-row aggregates):
    // a left-only and a right-only row stay two rows (hidden `_side`).
    {"fgroups", "SELECT x.g, x.n, y.w, y.m FROM (SELECT g, count(*) AS n FROM t1 GROUP BY g) x "
                "FULL JOIN (SELECT w, count(*) AS m FROM t2 GROUP BY w) y ON x.g = y.w"},
    {"fcounts", "SELECT x.g, y.w, x.n, y.m FROM (SELECT g, count(*) AS n FROM t1 GROUP BY g) x "
                "FULL JOIN (SELECT w, count(*) AS m FROM t2 GROUP BY w) y ON x.n % 3 = y.m % 3"},
    {"fsingle", "SELECT x.n, y.m FROM (SELECT count(*) AS n FROM t1 WHERE g = 1) x "
                "FULL JOIN (SELECT count(*) AS m FROM t2 WHERE w = 1) y ON x.n % 2 = y.m % 2"},
    // WITH: a CTE read by a later CTE and by the query, column aliases, a CTE read twice.
    {"cte", "WITH a AS (SELECT k, g FROM t1 WHERE g IS NOT NULL), b(kk, cnt) AS (SELECT k, count(*) FROM t2 GROUP BY k), "
            "c AS (SELECT a.g, b.cnt FROM a JOIN b ON a.k = b.kk) SELECT g, sum(cnt) AS total, count(*) AS n FROM c GROUP BY g"},
    {"cte_twice", "WITH x(i, kk) AS (SELECT id, k FROM t1 WHERE g = 1) SELECT p.i, q.i AS i2 FROM x p JOIN x q ON p.kk = q.kk"},
};

std::vector<std::string> SqliteRows(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db) << " in " << sql;
  std::vector<std::string> rows;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string r;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      if (c) r += " ";
      if (sqlite3_column_type(st, c) == SQLITE_NULL) {
        r += "NULL";
      } else {
        r += reinterpret_cast<const char*>(sqlite3_column_text(st, c));
      }
    }
    rows.push_back(r);
  }
  sqlite3_finalize(st);
  std::sort(rows.begin(), rows.end());
  return rows;
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << " in " << sql;
}

std::string Literal(const Value& v, bool text) {
  if (v.null) return "NULL";
  if (!text) return std::to_string(v.i);
  return "'" + v.s + "'";
}

TEST(SqlRandom, IncrementalEqualsSqlite) {
  ViewHarness h("db");
  h.CreateTable("CREATE TABLE t1 (id INT PRIMARY KEY, g INT NULL, k INT NULL, s VARCHAR(10) NULL)");
  h.CreateTable("CREATE TABLE t2 (id INT PRIMARY KEY, k INT NULL, w INT NULL, name VARCHAR(10))");
  std::string all;
  for (auto& [name, sql] : kViews) all += "CREATE MATERIALIZED VIEW " + name + " AS " + sql + ";\n";
  h.CreateViews("sqlite.sql", all);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  Exec(db, "CREATE TABLE t1 (id INTEGER PRIMARY KEY, g INTEGER, k INTEGER, s TEXT)");
  Exec(db, "CREATE TABLE t2 (id INTEGER PRIMARY KEY, k INTEGER, w INTEGER, name TEXT)");
  for (auto& [name, sql] : kViews) Exec(db, "CREATE VIEW " + name + " AS " + sql);

  std::mt19937 rng(777);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto maybe_null = [&](Value v) { return pick(5) == 0 ? Value::Null() : v; };
  auto letter = [&](char base, int n) { return Value::String(std::string(1, static_cast<char>(base + pick(n)))); };
  int changes = 0;
  size_t nonempty = 0;
  for (int batch = 0; batch < 400; ++batch) {
    int n = 1 + pick(10);
    for (int c = 0; c < n; ++c, ++changes) {
      bool first = pick(3) != 0;
      std::string table = first ? "t1" : "t2";
      int id = pick(first ? 30 : 12);
      Row key{Value::Int(id)};
      Row row = first ? Row{Value::Int(id), maybe_null(Value::Int(pick(4))), maybe_null(Value::Int(pick(5))), maybe_null(letter('a', 4))}
                      : Row{Value::Int(id), maybe_null(Value::Int(pick(5))), maybe_null(Value::Int(pick(4))), letter('o', 3)};
      if (!h.HasRow(table, key)) {
        h.Insert(table, row);
      } else if (pick(2) == 0) {
        h.Update(table, row);
      } else {
        h.Delete(table, key);
      }
    }
    ASSERT_EQ(h.Commit(), "") << "batch " << batch;
    Exec(db, "DELETE FROM t1; DELETE FROM t2;");
    for (const char* t : {"t1", "t2"}) {
      for (const Row& r : h.TableRows(t)) {
        Exec(db, fmt::format("INSERT INTO {} VALUES ({}, {}, {}, {})", t, Literal(r[0], false), Literal(r[1], false),
                             Literal(r[2], false), Literal(r[3], true)));
      }
    }
    for (auto& [name, sql] : kViews) {
      auto got = h.ViewRows(name);
      nonempty += !got.empty();
      ASSERT_EQ(got, SqliteRows(db, "SELECT * FROM " + name)) << "view " << name << " after batch " << batch;
    }
  }
  sqlite3_close(db);
  EXPECT_GT(changes, 2000);
  EXPECT_GT(nonempty, kViews.size() * 300);
}

}  // namespace
}  // namespace sluice::sql::testing
#endif
