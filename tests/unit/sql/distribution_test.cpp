// Key partitioning of views (sql/distribution.h): which views split into shards, by which columns,
// and — randomized — that the shards' outputs together equal the whole view, each row from one shard.
#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "sql/distribution.h"
#include "view_harness.h"

namespace sluice::sql::testing {
namespace {

const char* kTables[] = {
    "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NULL, amount DECIMAL(10,2) NULL, status VARCHAR(10) NULL)",
    "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20) NULL, region VARCHAR(10) NULL)",
    "CREATE TABLE big (id BIGINT PRIMARY KEY, cust BIGINT NULL, price DECIMAL(12,4) NULL)",
    "CREATE TABLE lines (order_id INT NOT NULL, line INT NOT NULL, qty INT NULL, PRIMARY KEY (order_id, line))",
};

/// The shard key of one view over the tables above, rendered "db.t:cols;... -> out cols", or "none".
std::string KeyOf(const std::string& select) {
  ViewHarness h("shop");
  for (const char* t : kTables) h.CreateTable(t);
  std::vector<ViewDefinition> defs;
  try {
    defs = h.Compile("v.sql", "CREATE MATERIALIZED VIEW v0 AS SELECT id FROM orders;\nCREATE MATERIALIZED VIEW v AS " + select);
  } catch (const Error& e) {
    return std::string("error: ") + e.what();
  }
  auto key = ShardKeyOf(defs.back());
  if (getenv("SHOW_PLAN")) std::printf("%s\n", defs.back().plan->ToString().c_str());
  if (!key) return "none";
  std::string s;
  for (const auto& [src, cols] : key->source_columns) {
    s += src + ":";
    for (int col : cols) s += " " + std::to_string(col);
    s += "; ";
  }
  s += "->";
  for (int col : key->output_columns) s += " " + defs.back().output->columns[static_cast<size_t>(col)].name;
  return s;
}

TEST(ShardKey, FollowsGroupKeysAndJoinKeys) {
  // Stateless: by the primary key, which the view's key carries (hidden when not selected).
  EXPECT_EQ(KeyOf("SELECT id, amount * 2 AS a2 FROM orders WHERE amount > 1"), "shop.orders: 0; -> id");
  EXPECT_EQ(KeyOf("SELECT amount FROM orders"), "shop.orders: 0; -> _key_orders_id");
  // GROUP BY: by the group keys that are columns.
  EXPECT_EQ(KeyOf("SELECT status, count(*) AS n FROM orders GROUP BY status"), "shop.orders: 3; -> status");
  EXPECT_EQ(KeyOf("SELECT status, customer_id, sum(amount) AS s FROM orders GROUP BY status, customer_id"),
            "shop.orders: 3 1; -> status customer_id");
  EXPECT_EQ(KeyOf("SELECT DISTINCT customer_id FROM orders"), "shop.orders: 1; -> customer_id");
  EXPECT_EQ(KeyOf("SELECT status, count(*) AS n FROM orders GROUP BY status HAVING count(*) > 1"),
            "shop.orders: 3; -> status");
  // Inner join: by the join key, which the output's key holds (a parent and its children).
  EXPECT_EQ(KeyOf("SELECT l.order_id, l.line, o.status FROM lines l JOIN orders o ON l.order_id = o.id"),
            "shop.lines: 0; shop.orders: 0; -> order_id");
  EXPECT_EQ(KeyOf("SELECT o.status, l.qty FROM orders o JOIN lines l ON l.order_id = o.id"),
            "shop.lines: 0; shop.orders: 0; -> _key_l_order_id");
  // A fact joined to its dimension: the fact split by its key, the dimension broadcast (every
  // shard holds it whole), so a fact row never moves between shards when its dimension changes.
  EXPECT_EQ(KeyOf("SELECT o.id, c.name FROM orders o JOIN customers c ON o.customer_id = c.id"),
            "shop.customers:; shop.orders: 0; -> id");
  EXPECT_EQ(KeyOf("SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON o.customer_id = c.id"),
            "shop.customers:; shop.orders: 0; -> id");
  EXPECT_EQ(KeyOf("SELECT o.status, count(*) AS n, max(c.name) AS mx FROM customers c JOIN orders o "
                  "ON o.customer_id = c.id GROUP BY o.status"),
            "shop.customers:; shop.orders: 3; -> status");
  // A dimension on the preserved side of an outer join is not broadcast (its unmatched rows would
  // come from every shard): co-partitioned by the join key, which the view's key holds.
  EXPECT_EQ(KeyOf("SELECT o.id, c.name FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id"),
            "shop.customers: 0; shop.orders: 1; -> _key_c_id");
  // ... co-partitioned rather than broadcast when the group key is the join key.
  EXPECT_EQ(KeyOf("SELECT o.customer_id, count(*) AS n FROM orders o JOIN customers c ON o.customer_id = c.id "
                  "GROUP BY o.customer_id"),
            "shop.customers: 0; shop.orders: 1; -> customer_id");
  // A GROUP BY over the join by its key.
  EXPECT_EQ(KeyOf("SELECT c.id, c.name, count(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.id "
                  "GROUP BY c.id, c.name"),
            "shop.customers: 0; shop.orders: 1; -> id");
  EXPECT_EQ(KeyOf("SELECT c.id, count(o.id) AS n FROM customers c LEFT JOIN orders o ON o.customer_id = c.id "
                  "GROUP BY c.id"),
            "shop.customers: 0; shop.orders: 1; -> id");
  // Three tables joined on one key (integers of any width hash alike).
  EXPECT_EQ(KeyOf("SELECT c.id, count(*) AS n, sum(b.price) AS p FROM orders o JOIN customers c ON o.customer_id = c.id "
                  "JOIN big b ON b.id = c.id GROUP BY c.id"),
            "shop.big: 0; shop.customers: 0; shop.orders: 1; -> id");
}

TEST(ShardKey, ViewsReadOtherViewsAsKeyedSources) {
  // `sluice transform` reads a view from its topic, a changelog with before images: the view is
  // routed like a table, by its key or by the columns the reader needs (the topic repartitions).
  EXPECT_EQ(KeyOf("SELECT id FROM v0"), "v0: 0; -> id");
  ViewHarness h("shop");
  for (const char* t : kTables) h.CreateTable(t);
  auto defs = h.Compile("v.sql",
                        "CREATE MATERIALIZED VIEW joined AS SELECT o.id, o.amount, c.region FROM orders o "
                        "JOIN customers c ON o.customer_id = c.id;\n"
                        "CREATE MATERIALIZED VIEW by_region AS SELECT region, sum(amount) AS s FROM joined GROUP BY region;");
  ASSERT_EQ(defs.size(), 2u);
  // The join splits by the orders' key (customers broadcast); the GROUP BY over it by region,
  // which the join alone could not (NoneWhereRowsWouldHaveToMoveBetweenOperators).
  auto join_key = ShardKeyOf(defs[0]);
  ASSERT_TRUE(join_key.has_value());
  EXPECT_EQ(join_key->source_columns.at("shop.orders"), std::vector<int>{0});
  EXPECT_TRUE(join_key->source_columns.at("shop.customers").empty());
  auto key = ShardKeyOf(defs[1]);
  ASSERT_TRUE(key.has_value());
  ASSERT_EQ(key->source_columns.size(), 1u);
  EXPECT_EQ(key->source_columns.begin()->first, "joined");
  EXPECT_EQ(key->source_columns.begin()->second, std::vector<int>{2});  // joined.region
  EXPECT_EQ(key->output_columns, std::vector<int>{0});
}

TEST(ShardKey, NoneWhereRowsWouldHaveToMoveBetweenOperators) {
  // A GROUP BY over a join on other columns: the groups mix join keys.
  EXPECT_EQ(KeyOf("SELECT c.region, sum(o.amount) AS s FROM orders o JOIN customers c ON o.customer_id = c.id "
                  "GROUP BY c.region"),
            "none");
  // A many-to-many join whose key is not the view's would move rows.
  EXPECT_EQ(KeyOf("SELECT o.id, b.id AS bid FROM orders o JOIN big b ON o.customer_id = b.cust"), "none");
  EXPECT_EQ(KeyOf("SELECT o.id, c.id AS cid FROM orders o FULL JOIN customers c ON o.customer_id = c.id"), "none");
  EXPECT_EQ(KeyOf("SELECT count(*) AS n FROM orders"), "none");
  EXPECT_EQ(KeyOf("SELECT lower(status) AS s, count(*) AS n FROM orders GROUP BY lower(status)"), "none");
  EXPECT_EQ(KeyOf("SELECT id FROM orders UNION ALL SELECT id FROM customers"), "none");
  // A join on columns of different types (the binder casts one side).
  EXPECT_EQ(KeyOf("SELECT o.id, b.id AS bid FROM orders o JOIN big b ON o.amount = b.price"), "none");
}

TEST(ShardKey, HashIgnoresIntegerWidthAndSignOfZero) {
  auto one = [](ValueKind kind, auto fill) {
    auto t = std::make_shared<TableSchema>();
    ColumnSchema c;
    c.name = "x";
    c.kind = kind;
    t->columns.push_back(c);
    ChangeChunk chunk(t);
    const uint32_t si = chunk.AddSource(SourceInfo{});
    chunk.BeginRow(RowOp::kInsert, 1, si, 0);
    fill(chunk.column(0));
    return ShardHash(chunk, 0, {0});
  };
  EXPECT_EQ(one(ValueKind::kInt, [](ColumnVector& c) { c.AppendInt(42); }),
            one(ValueKind::kUInt, [](ColumnVector& c) { c.AppendUInt(42); }));
  EXPECT_NE(one(ValueKind::kInt, [](ColumnVector& c) { c.AppendInt(42); }),
            one(ValueKind::kInt, [](ColumnVector& c) { c.AppendInt(43); }));
  EXPECT_EQ(one(ValueKind::kDouble, [](ColumnVector& c) { c.AppendDouble(-0.0); }),
            one(ValueKind::kDouble, [](ColumnVector& c) { c.AppendDouble(0.0); }));
  EXPECT_NE(one(ValueKind::kInt, [](ColumnVector& c) { c.AppendNull(); }),
            one(ValueKind::kInt, [](ColumnVector& c) { c.AppendInt(0); }));
  EXPECT_EQ(one(ValueKind::kString, [](ColumnVector& c) { c.AppendBytes("ab"); }),
            one(ValueKind::kBytes, [](ColumnVector& c) { c.AppendBytes("ab"); }));
}

const char* kShardedViews = R"(
CREATE MATERIALIZED VIEW by_status AS SELECT status, count(*) AS n, sum(amount) AS s, min(amount) AS mn FROM orders GROUP BY status;
CREATE MATERIALIZED VIEW pairs AS SELECT l.order_id, l.line, l.qty, o.amount, o.status FROM lines l JOIN orders o ON l.order_id = o.id;
CREATE MATERIALIZED VIEW per_customer AS
  SELECT c.id, c.name, count(*) AS n, sum(o.amount) AS total FROM customers c JOIN orders o ON o.customer_id = c.id
  WHERE o.status <> 'x' GROUP BY c.id, c.name;
CREATE MATERIALIZED VIEW per_customer_left AS
  SELECT c.id, count(o.id) AS n, max(o.status) AS mx FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id;
CREATE MATERIALIZED VIEW right_pairs AS SELECT o.id AS oid, c.id, c.region FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id;
CREATE MATERIALIZED VIEW filtered AS SELECT id, amount * 2 AS a2, status FROM orders WHERE amount > 10;
CREATE MATERIALIZED VIEW kinds AS SELECT DISTINCT customer_id, status FROM orders;
CREATE MATERIALIZED VIEW named AS SELECT o.id, o.amount, c.name FROM orders o JOIN customers c ON o.customer_id = c.id;
CREATE MATERIALIZED VIEW named_left AS
  SELECT o.id, c.name, c.region FROM orders o LEFT JOIN customers c ON o.customer_id = c.id WHERE o.amount > 5;
CREATE MATERIALIZED VIEW by_region_status AS
  SELECT o.status, count(*) AS n, sum(o.amount) AS s, max(c.region) AS r FROM orders o JOIN customers c ON o.customer_id = c.id
  GROUP BY o.status;
CREATE MATERIALIZED VIEW lines_named AS
  SELECT l.order_id, l.line, l.qty, c.name FROM lines l JOIN orders o ON o.id = l.order_id LEFT JOIN customers c ON c.id = o.customer_id;
)";

/// One random workload (orders move between customers and statuses, customers are deleted and
/// come back) through the whole views and through `shards` harnesses each keeping one shard:
/// after every batch, the shards' rows together are the whole view's.
void RunSharded(uint32_t shards, bool persisted) {
  ViewHarness whole("shop");
  std::vector<std::unique_ptr<ViewHarness>> parts;
  for (uint32_t s = 0; s < shards; ++s) {
    parts.push_back(std::make_unique<ViewHarness>("shop"));
    parts.back()->SetShard(s, shards);
    if (persisted) parts.back()->UsePersistedState(16 << 10, 512, 2);
  }
  std::vector<ViewHarness*> all{&whole};
  for (auto& p : parts) all.push_back(p.get());
  for (ViewHarness* h : all) {
    for (const char* t : kTables) h->CreateTable(t);
    h->CreateViews("sharded.sql", kShardedViews);
  }
  std::mt19937 rng(777 + shards);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto maybe_null = [&](Value v) { return pick(8) == 0 ? Value::Null() : v; };
  const char* statuses[] = {"new", "paid", "x", "sent"};
  int moved = 0;
  for (int batch = 0; batch < 300; ++batch) {
    const int n = 1 + pick(10);
    for (int c = 0; c < n; ++c) {
      const int which = pick(5);
      const std::string table = which < 2 ? "orders" : which < 4 ? "lines" : "customers";
      const int id = pick(table == "orders" ? 60 : 12);
      Row key{Value::Int(id)};
      Row row;
      if (table == "orders") {
        row = Row{Value::Int(id), maybe_null(Value::Int(pick(12))), maybe_null(Value::Decimal(pick(10000))),
                  maybe_null(Value::String(statuses[pick(4)]))};
      } else if (table == "customers") {
        row = Row{Value::Int(id), maybe_null(Value::String(std::string(1, static_cast<char>('a' + pick(4))))),
                  maybe_null(Value::String(pick(2) ? "north" : "south"))};
      } else {
        key = Row{Value::Int(pick(60)), Value::Int(pick(3))};
        row = Row{key[0], key[1], maybe_null(Value::Int(pick(9)))};
      }
      const bool exists = whole.HasRow(table, key);
      const int op = !exists ? 0 : (pick(3) == 0 ? 2 : 1);
      if (op == 1) ++moved;
      for (ViewHarness* h : all) {
        if (op == 0) h->Insert(table, row);
        if (op == 1) h->Update(table, row);
        if (op == 2) h->Delete(table, key);
      }
    }
    for (ViewHarness* h : all) ASSERT_EQ(h->Commit(), "") << "batch " << batch;
    for (const char* view : {"by_status", "pairs", "per_customer", "per_customer_left", "right_pairs", "filtered", "kinds",
                             "named", "named_left", "by_region_status", "lines_named"}) {
      std::vector<std::string> merged;
      size_t nonempty = 0;
      for (auto& p : parts) {
        auto rows = p->ViewRows(view);
        nonempty += rows.empty() ? 0 : 1;
        merged.insert(merged.end(), rows.begin(), rows.end());
      }
      std::sort(merged.begin(), merged.end());
      auto want = whole.ViewRows(view);
      std::sort(want.begin(), want.end());
      ASSERT_EQ(merged, want) << view << " after batch " << batch;
      if (batch == 299 && want.size() > 8) {
        EXPECT_GT(nonempty, 1u) << view << ": the work did not split";
      }
    }
  }
  EXPECT_GT(moved, 300);
}

TEST(ShardKey, ShardsTogetherEqualTheWholeView) { RunSharded(3, false); }
TEST(ShardKey, ShardsWithPersistedStateEqualTheWholeView) { RunSharded(2, true); }

}  // namespace
}  // namespace sluice::sql::testing
