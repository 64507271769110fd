// Front-end tests: parsing, binding, error positions, expression semantics.
#include <gtest/gtest.h>

#include "common/error.h"
#include "sql/plan.h"

namespace sluice::sql {
namespace {

TableSchemaPtr Table(std::string db, std::string name, std::vector<std::pair<std::string, ValueKind>> cols, int scale = 2) {
  auto t = std::make_shared<TableSchema>();
  t->database = db;
  t->table = name;
  for (auto& [n, k] : cols) {
    ColumnSchema c;
    c.name = n;
    c.kind = k;
    if (k == ValueKind::kDecimal) { c.precision = 10; c.scale = scale; }
    t->columns.push_back(c);
  }
  t->primary_key = {0};
  return t;
}

Catalog MakeCatalog() {
  Catalog c("shop");
  c.AddTable(Table("shop", "orders", {{"id", ValueKind::kInt}, {"customer_id", ValueKind::kInt},
                                      {"amount", ValueKind::kDecimal}, {"status", ValueKind::kString},
                                      {"created", ValueKind::kDateTime}, {"day", ValueKind::kDate}}));
  c.AddTable(Table("crm", "customers", {{"id", ValueKind::kInt}, {"name", ValueKind::kString}}));
  return c;
}

std::string ErrorOf(std::string_view sql) {
  Catalog c = MakeCatalog();
  try {
    CompileViews("views.sql", sql, c);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kSql);
    return e.what();
  }
  return "";
}

/// Evaluates a constant expression through a one-row view over shop.orders.
std::string EvalConst(std::string_view expr) {
  Catalog c = MakeCatalog();
  auto views = CompileViews("x.sql", fmt::format("CREATE MATERIALIZED VIEW v AS SELECT {} AS x FROM orders", expr), c);
  const PlanNode& p = *views[0].plan;
  Row row(6);
  return FormatValue(Eval(*p.exprs[0], row), p.types[0]);
}

TEST(SqlInterval, ParsesPostgresForms) {
  auto text = [](std::string_view s, int range = kIntervalFullRange, int precision = -1) {
    return FormatInterval(ParseInterval(s, range, precision));
  };
  EXPECT_EQ(text("90 days"), "90 days");
  EXPECT_EQ(text("1 year 2 mons 3 days 04:05:06.5"), "1 year 2 mons 3 days 04:05:06.5");
  EXPECT_EQ(text("@ 1 hour 30 minutes ago"), "-01:30:00");
  EXPECT_EQ(text("1.5 days"), "1 day 12:00:00");
  EXPECT_EQ(text("1.5 months"), "1 mon 15 days");
  EXPECT_EQ(text("1.5 years"), "1 year 6 mons");
  EXPECT_EQ(text("2 weeks"), "14 days");
  EXPECT_EQ(text("1 02:00"), "1 day 02:00:00");
  EXPECT_EQ(text("-1 day +02:00"), "-1 days +02:00:00");
  EXPECT_EQ(text("1 day 2"), "1 day 00:00:02");  // a bare number after a unit is seconds too
  EXPECT_EQ(text("1-2"), "1 year 2 mons");
  EXPECT_EQ(text("90"), "00:01:30");  // a bare number is seconds
  EXPECT_EQ(text("10DAYS"), "10 days");
  EXPECT_EQ(text("1", kIntervalDay), "1 day");
  EXPECT_EQ(text("2", kIntervalYear), "2 years");
  EXPECT_EQ(text("1 day 03:04:05", kIntervalDay), "1 day");  // fields below the range are dropped
  EXPECT_EQ(text("1 day 03:04:05", kIntervalDay | kIntervalHour), "1 day 03:00:00");
  EXPECT_EQ(text("1 year 7 months", kIntervalYear), "1 year");
  EXPECT_EQ(text("3:30", kIntervalMinute | kIntervalSecond), "00:03:30");
  EXPECT_EQ(text("1.23456 seconds", kIntervalFullRange, 2), "00:00:01.23");
  for (const char* bad : {"", "day", "1 fortnight", "P1D", "1:2:3:4", "1 day ago 2 hours", "1..2 days"}) {
    EXPECT_THROW(ParseInterval(bad), Error) << bad;
  }
}

TEST(SqlInterval, AddsCalendarMonthsThenDaysThenTime) {
  auto ts = [](std::string_view s) { return ParseDateTime(s); };
  EXPECT_EQ(AddInterval(ts("2024-01-31 10:00:00"), Interval{1, 0, 0}), ts("2024-02-29 10:00:00"));
  EXPECT_EQ(AddInterval(ts("2023-01-31 00:00:00"), Interval{1, 0, 0}), ts("2023-02-28 00:00:00"));
  EXPECT_EQ(AddInterval(ts("2024-03-31 00:00:00"), Interval{-1, 0, 0}), ts("2024-02-29 00:00:00"));
  EXPECT_EQ(AddInterval(ts("2024-12-31 00:00:00"), Interval{2, 0, 0}), ts("2025-02-28 00:00:00"));
  EXPECT_EQ(AddInterval(ts("2024-01-31 00:00:00"), Interval{1, 1, 3600000000LL}), ts("2024-03-01 01:00:00"));
  EXPECT_EQ(AddInterval(ts("1969-12-31 23:00:00"), Interval{0, 0, 7200000000LL}), ts("1970-01-01 01:00:00"));
  EXPECT_EQ(AddInterval(ts("2000-02-29 00:00:00"), Interval{-12, 0, 0}), ts("1999-02-28 00:00:00"));
  EXPECT_THROW(AddInterval(ts("2024-01-01 00:00:00"), Interval{12 * 300000, 0, 0}), Error);
  EXPECT_THROW(AddInterval(ts("2024-01-01 00:00:00"), Interval{0, INT64_MAX, 0}), Error);
}

TEST(SqlBinder, CompilesViewsAndReadsEarlierViews) {
  Catalog c = MakeCatalog();
  auto views = CompileViews("views.sql",
                            "-- totals\nCREATE MATERIALIZED VIEW totals AS SELECT customer_id, sum(amount) AS total, count(*) AS n\n"
                            "  FROM shop.orders WHERE status <> 'void' GROUP BY customer_id;\n"
                            "CREATE MATERIALIZED VIEW named AS SELECT c.name, t.total FROM totals t JOIN crm.customers c ON c.id = t.customer_id;\n",
                            c);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0].name, "totals");
  EXPECT_EQ(views[0].location.line, 2);
  EXPECT_EQ(views[0].key_columns, std::vector<int>{0});
  EXPECT_EQ(views[0].plan->types[1], (SqlType{TypeId::kDecimal, 2, 38}));
  EXPECT_EQ(views[1].plan->inputs[0]->kind, PlanKind::kJoin);
  EXPECT_EQ(views[1].plan->inputs[0]->left_keys.size(), 1u);
  // totals' key (customer_id) is not projected: it is carried as a hidden column.
  EXPECT_TRUE(views[1].has_key);
  EXPECT_EQ(views[1].hidden_columns, 1);
  EXPECT_EQ(views[1].output->columns[2].name, "_key_t_customer_id");
  EXPECT_EQ(views[1].key_columns, std::vector<int>{2});
}

TEST(SqlBinder, UpsertKeys) {
  Catalog c = MakeCatalog();
  auto views = CompileViews("v.sql",
                            "CREATE MATERIALIZED VIEW j AS SELECT c.name, o.id, c.id AS cid FROM orders o LEFT JOIN crm.customers c ON c.id = o.customer_id;\n"
                            "CREATE MATERIALIZED VIEW g AS SELECT count(*) AS n, status FROM orders GROUP BY status;\n"
                            "CREATE MATERIALIZED VIEW one AS SELECT count(*) AS n FROM orders;\n"
                            "CREATE MATERIALIZED VIEW d AS SELECT DISTINCT status, day FROM orders;\n"
                            "CREATE MATERIALIZED VIEW nokey AS SELECT status FROM orders;\n"
                            "CREATE MATERIALIZED VIEW ov AS SELECT j.id FROM j WHERE j.name IS NULL;\n"
                            "CREATE MATERIALIZED VIEW rj AS SELECT c.name, o.id, c.id AS cid FROM orders o RIGHT JOIN crm.customers c ON c.id = o.customer_id;\n"
                            "CREATE MATERIALIZED VIEW rjhalf AS SELECT o.id FROM orders o RIGHT JOIN crm.customers c ON c.id = o.customer_id;\n",
                            c);
  // Each order matches at most one customer (the customers' key is the join column): the order's
  // key alone identifies a row of the LEFT JOIN.
  EXPECT_TRUE(views[0].has_key);
  EXPECT_EQ(views[0].key_columns, (std::vector<int>{1}));
  EXPECT_EQ(views[0].output->primary_key, (std::vector<int>{1}));
  EXPECT_EQ(views[1].key_columns, (std::vector<int>{1}));
  EXPECT_TRUE(views[2].has_key);  // one row at most: a constant hidden key column
  EXPECT_EQ(views[2].key_columns, (std::vector<int>{1}));
  EXPECT_EQ(views[2].hidden_columns, 1);
  EXPECT_EQ(views[2].output->columns[1].name, "_key_row");
  EXPECT_EQ(views[3].key_columns, (std::vector<int>{0, 1}));
  EXPECT_EQ(views[3].hidden_columns, 0);
  EXPECT_TRUE(views[4].has_key);  // the dropped key (id) is a hidden column
  EXPECT_EQ(views[4].hidden_columns, 1);
  EXPECT_EQ(views[4].output->columns[1].name, "_key_orders_id");
  EXPECT_EQ(views[4].key_columns, (std::vector<int>{1}));
  EXPECT_TRUE(views[5].has_key);  // j's key (id) is projected
  EXPECT_EQ(views[5].key_columns, (std::vector<int>{0}));
  // A RIGHT JOIN pads the orders side with NULLs (customers without orders): both keys are needed.
  EXPECT_EQ(views[6].key_columns, (std::vector<int>{1, 2}));
  // ... and only half of them is projected: the other half is hidden.
  EXPECT_EQ(views[7].key_columns, (std::vector<int>{0, 1}));
  EXPECT_EQ(views[7].output->columns[1].name, "_key_c_id");
}

TEST(SqlBinder, HiddenKeyColumns) {
  Catalog c = MakeCatalog();
  auto loose = std::make_shared<TableSchema>(*Table("shop", "loose", {{"a", ValueKind::kInt}, {"b", ValueKind::kString}}));
  loose->primary_key.clear();
  c.AddTable(loose);
  auto codes = Table("shop", "codes", {{"code", ValueKind::kString}, {"n", ValueKind::kInt}, {"status", ValueKind::kString}});
  auto cc = std::make_shared<TableSchema>(*codes);
  cc->primary_key = {0, 1};
  c.AddTable(cc);
  auto views = CompileViews("v.sql",
                            "CREATE MATERIALIZED VIEW st AS SELECT status AS _key_orders_id FROM orders;\n"
                            "CREATE MATERIALIZED VIEW u AS SELECT id, status FROM orders UNION ALL SELECT n, status FROM codes;\n"
                            "CREATE MATERIALIZED VIEW u3 AS SELECT status FROM orders UNION ALL SELECT status FROM codes UNION ALL SELECT name FROM crm.customers;\n"
                            "CREATE MATERIALIZED VIEW onu AS SELECT * FROM u;\n"
                            "CREATE MATERIALIZED VIEW g AS SELECT count(*) AS n FROM orders GROUP BY status, day + 1;\n"
                            "CREATE MATERIALIZED VIEW nok AS SELECT a FROM loose;\n"
                            "CREATE MATERIALIZED VIEW nok2 AS SELECT o.id FROM orders o JOIN loose l ON l.a = o.id;\n"
                            "CREATE MATERIALIZED VIEW d AS SELECT DISTINCT status FROM orders;\n",
                            c);
  // A user column named like a hidden one: the hidden one gets a suffix.
  ASSERT_EQ(views[0].output->columns.size(), 2u);
  EXPECT_EQ(views[0].output->columns[1].name, "_key_orders_id_2");
  EXPECT_EQ(views[0].key_columns, (std::vector<int>{1}));
  // Key columns shared by position (id, n: both bigint) stay visible; codes' other key column
  // gets a slot (NULL for orders); _branch tells the branches apart.
  ASSERT_EQ(views[1].output->columns.size(), 4u);
  EXPECT_EQ(views[1].output->columns[2].name, "_key_codes_code");
  EXPECT_EQ(views[1].output->columns[3].name, "_branch");
  EXPECT_EQ(views[1].hidden_columns, 2);
  EXPECT_EQ(views[1].key_columns, (std::vector<int>{0, 2, 3}));
  // Three branches flattened: one _branch; a bigint slot shared by orders' id, codes' n and
  // customers' id (named by position), codes' code alone in its slot.
  std::vector<std::string> names;
  for (const auto& col : views[2].output->columns) names.push_back(col.name);
  EXPECT_EQ(names, (std::vector<std::string>{"status", "_key_1", "_key_codes_code", "_branch"}));
  EXPECT_EQ(views[2].key_columns, (std::vector<int>{1, 2, 3}));
  // SELECT * of a view does not show its hidden columns; they stay its hidden key.
  EXPECT_EQ(views[3].hidden_columns, 2);
  ASSERT_EQ(views[3].output->columns.size(), 4u);
  EXPECT_EQ(views[3].output->columns[2].name, "_key_codes_code");
  EXPECT_EQ(views[3].key_columns, (std::vector<int>{0, 2, 3}));
  names.clear();
  for (const auto& col : views[4].output->columns) names.push_back(col.name);
  EXPECT_EQ(names, (std::vector<std::string>{"n", "_key_orders_status", "_key_group2"}));
  EXPECT_FALSE(views[5].has_key);
  EXPECT_EQ(views[5].keyless_sources, std::vector<std::string>{"shop.loose"});
  EXPECT_FALSE(views[6].has_key);
  EXPECT_EQ(views[6].keyless_sources, std::vector<std::string>{"shop.loose"});
  EXPECT_EQ(views[7].hidden_columns, 0);
  EXPECT_EQ(views[7].key_columns, std::vector<int>{0});
  // Hidden columns cannot be named from SQL.
  Catalog c2 = MakeCatalog();
  CompileViews("a.sql", "CREATE MATERIALIZED VIEW v AS SELECT status FROM orders", c2);
  try {
    CompileViews("b.sql", "CREATE MATERIALIZED VIEW w AS SELECT _key_orders_id FROM v", c2);
    ADD_FAILURE() << "a hidden column was found by name";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "b.sql:1:38: column \"_key_orders_id\" does not exist");
  }
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT id FROM orders UNION ALL SELECT id FROM orders LIMIT 1"),
            "views.sql:1:1: unsupported: LIMIT/OFFSET in a view");
}

TEST(SqlBinder, FullJoinOfKeysThatMayBeAllNullAddsSide) {
  Catalog c = MakeCatalog();
  auto strict = std::make_shared<TableSchema>(*Table("shop", "strict", {{"id", ValueKind::kInt}, {"code", ValueKind::kString}}));
  strict->columns[1].nullable = false;
  c.AddTable(strict);
  auto views = CompileViews("v.sql",
                            // 0: grouped by nullable columns: both NULL groups are unmatched rows.
                            "CREATE MATERIALIZED VIEW f AS SELECT x.status, y.name FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) x "
                            "FULL JOIN (SELECT name, count(*) AS n FROM crm.customers GROUP BY name) y ON x.n = y.n;\n"
                            // 1: primary keys are NOT NULL.
                            "CREATE MATERIALIZED VIEW t AS SELECT o.id, c.id AS cid FROM orders o FULL JOIN crm.customers c ON c.id = o.customer_id;\n"
                            // 2: one side grouped by a NOT NULL column, 3: by a column the WHERE keeps non-NULL, 4: by coalesce.
                            "CREATE MATERIALIZED VIEW nn1 AS SELECT x.code, y.name FROM (SELECT code, count(*) AS n FROM strict GROUP BY code) x "
                            "FULL JOIN (SELECT name, count(*) AS n FROM crm.customers GROUP BY name) y ON x.n = y.n;\n"
                            "CREATE MATERIALIZED VIEW nn2 AS SELECT x.status, y.name FROM (SELECT status, count(*) AS n FROM orders WHERE status IS NOT NULL GROUP BY status) x "
                            "FULL JOIN (SELECT name, count(*) AS n FROM crm.customers GROUP BY name) y ON x.n = y.n;\n"
                            "CREATE MATERIALIZED VIEW nn3 AS SELECT x.s, y.name FROM (SELECT coalesce(status, '') AS s, count(*) AS n FROM orders GROUP BY 1) x "
                            "FULL JOIN (SELECT name, count(*) AS n FROM crm.customers GROUP BY name) y ON x.n = y.n;\n"
                            // 5: a LEFT JOIN row is matched or padded, never both: no collision.
                            "CREATE MATERIALIZED VIEW l AS SELECT x.status, y.name FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) x "
                            "LEFT JOIN (SELECT name, count(*) AS n FROM crm.customers GROUP BY name) y ON x.n = y.n;\n"
                            // 6: two single-row aggregates (key ()): `_side` is the whole key, no `_key_row`.
                            "CREATE MATERIALIZED VIEW one AS SELECT x.n, y.m FROM (SELECT count(*) AS n FROM orders) x "
                            "FULL JOIN (SELECT count(*) AS m FROM crm.customers) y ON x.n = y.m;\n"
                            // 7, 8: a view read by name keeps the answer (g's key may be NULL); 9: f's never is.
                            "CREATE MATERIALIZED VIEW g AS SELECT status, count(*) AS n FROM orders GROUP BY status;\n"
                            "CREATE MATERIALIZED VIEW gg AS SELECT a.status, b.status AS s2 FROM g a FULL JOIN g b ON a.n = b.n;\n"
                            "CREATE MATERIALIZED VIEW ff AS SELECT a.status FROM f a FULL JOIN f b ON a.name = b.name;\n",
                            c);
  auto names = [&](size_t v) {
    std::vector<std::string> n;
    for (const auto& col : views[v].output->columns) n.push_back(col.name);
    return n;
  };
  EXPECT_EQ(names(0), (std::vector<std::string>{"status", "name", "_side"}));
  EXPECT_EQ(views[0].key_columns, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(views[0].hidden_columns, 1);
  const PlanNode& join = *views[0].plan->inputs[0];
  ASSERT_EQ(join.kind, PlanKind::kJoin);
  EXPECT_TRUE(join.side_column);
  EXPECT_EQ(join.names.back(), "_side");
  EXPECT_EQ(names(1), (std::vector<std::string>{"id", "cid"}));
  EXPECT_EQ(views[1].key_columns, (std::vector<int>{0, 1}));
  for (size_t v : {2u, 3u, 4u, 5u}) {
    EXPECT_EQ(views[v].hidden_columns, 0) << views[v].name;
    EXPECT_EQ(views[v].key_columns, (std::vector<int>{0, 1})) << views[v].name;
  }
  EXPECT_EQ(names(6), (std::vector<std::string>{"n", "m", "_side"}));
  EXPECT_EQ(views[6].key_columns, std::vector<int>{2});
  EXPECT_EQ(names(8), (std::vector<std::string>{"status", "s2", "_side"}));
  EXPECT_EQ(views[8].key_columns, (std::vector<int>{0, 1, 2}));
  // f's key (status, name, _side) is never all NULL: each side's `_side` is carried, no new one.
  EXPECT_EQ(names(9), (std::vector<std::string>{"status", "_key_a_name", "_side", "_key_b_status", "_key_b_name", "_side_2"}));
  EXPECT_FALSE(views[9].plan->inputs[0]->side_column);
  // `_side` cannot be named from SQL.
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT _side FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) x "
                    "FULL JOIN (SELECT status, count(*) AS n FROM orders GROUP BY status) y ON x.n = y.n"),
            "views.sql:1:38: column \"_side\" does not exist");
}

TEST(SqlBinder, CommaJoinTakesWhereEqualitiesAsKeys) {
  Catalog c = MakeCatalog();
  auto v = CompileViews("v.sql", "CREATE MATERIALIZED VIEW v AS SELECT o.id FROM orders o, crm.customers c WHERE c.id = o.customer_id AND o.amount > 1", c);
  const PlanNode& filter = *v[0].plan->inputs[0];
  ASSERT_EQ(filter.kind, PlanKind::kFilter);
  const PlanNode& join = *filter.inputs[0];
  ASSERT_EQ(join.kind, PlanKind::kJoin);
  EXPECT_EQ(join.left_keys.size(), 1u);
  EXPECT_EQ(join.left_keys[0]->column, 1);
  EXPECT_EQ(join.right_keys[0]->column, 0);
}

TEST(SqlBinder, ErrorsCarryFileLineColumn) {
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS\nSELECT id FROM nope"),
            "views.sql:2:16: relation \"nope\" does not exist (source tables are named db.table or table in database \"shop\"; views by name)");
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT idx FROM orders"), "views.sql:1:38: column \"idx\" does not exist");
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT id FROM orders\n  WHERE id = = 1"), "views.sql:2:14: syntax error at or near \"=\"");
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT id FROM orders ORDER BY id"), "views.sql:1:62: unsupported: ORDER BY in a view");
  EXPECT_EQ(ErrorOf("CREATE VIEW v AS SELECT id FROM orders"), "views.sql:1:1: unsupported: CREATE VIEW (write CREATE MATERIALIZED VIEW)");
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT status, sum(amount) FROM orders GROUP BY customer_id"),
            "views.sql:1:38: column \"status\" must appear in the GROUP BY clause or be used in an aggregate function");
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT id FROM orders WHERE id IN (SELECT 1)"),
            "views.sql:1:62: unsupported: subquery in an expression");
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT id + status FROM orders"),
            "views.sql:1:41: operator does not exist: bigint + text");
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT now() FROM orders"),
            "views.sql:1:38: unsupported: now() in a view (CURRENT_DATE/NOW and other time-dependent values)");
  EXPECT_EQ(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT soundex(status) FROM orders"),
            "views.sql:1:38: unsupported: function soundex");
  EXPECT_NE(ErrorOf("CREATE MATERIALIZED VIEW v AS SELECT id FROM orders o JOIN crm.customers c ON o.id = c.id").find("ambiguous"),
            std::string::npos);
}

TEST(SqlExpr, ArithmeticAndDecimals) {
  EXPECT_EQ(EvalConst("1 + 2 * 3"), "7");
  EXPECT_EQ(EvalConst("7 / 2"), "3");
  EXPECT_EQ(EvalConst("-7 / 2"), "-3");
  EXPECT_EQ(EvalConst("- 7 + 0"), "-7");
  EXPECT_EQ(EvalConst("-1.5 * 2"), "-3.0");
  EXPECT_EQ(EvalConst("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(EvalConst("7 % 3"), "1");
  EXPECT_EQ(EvalConst("1.10 + 2.205"), "3.305");
  EXPECT_EQ(EvalConst("1.10 * 2.205"), "2.42550");
  EXPECT_EQ(EvalConst("1.0 / 3"), "0.333333");
  EXPECT_EQ(EvalConst("2.5 - 3"), "-0.5");
  EXPECT_EQ(EvalConst("CAST(2.345 AS numeric(10,2))"), "2.35");
  EXPECT_EQ(EvalConst("CAST(-2.345 AS numeric(10,2))"), "-2.35");
  EXPECT_EQ(EvalConst("CAST('12.5' AS numeric(4,1)) * 2"), "25.0");
  EXPECT_EQ(EvalConst("round(2.567, 1)"), "2.6");
  EXPECT_EQ(EvalConst("1.5e0 * 2"), "3");
  EXPECT_EQ(EvalConst("9223372036854775807 - 1"), "9223372036854775806");
  Catalog c = MakeCatalog();
  auto v = CompileViews("x.sql", "CREATE MATERIALIZED VIEW v AS SELECT 9223372036854775807 + id AS x FROM orders", c);
  Row row{Value::Int(1), Value(), Value(), Value(), Value(), Value()};
  EXPECT_THROW(Eval(*v[0].plan->exprs[0], row), Error);
}

TEST(SqlExpr, NullsAndLogic) {
  EXPECT_EQ(EvalConst("NULL AND false"), "f");
  EXPECT_EQ(EvalConst("NULL AND true"), "NULL");
  EXPECT_EQ(EvalConst("NULL OR true"), "t");
  EXPECT_EQ(EvalConst("NOT (NULL::boolean)"), "NULL");
  EXPECT_EQ(EvalConst("1 IN (2, NULL)"), "NULL");
  EXPECT_EQ(EvalConst("1 IN (1, NULL)"), "t");
  EXPECT_EQ(EvalConst("1 NOT IN (2, 3)"), "t");
  EXPECT_EQ(EvalConst("2 BETWEEN 1 AND 3"), "t");
  EXPECT_EQ(EvalConst("NULL IS NULL"), "t");
  EXPECT_EQ(EvalConst("coalesce(NULL, 2, 3)"), "2");
  EXPECT_EQ(EvalConst("nullif(2, 2)"), "NULL");
  EXPECT_EQ(EvalConst("CASE WHEN 1 > 2 THEN 'a' WHEN 2 > 1 THEN 'b' END"), "b");
  EXPECT_EQ(EvalConst("CASE 3 WHEN 1 THEN 'a' ELSE 'z' END"), "z");
  EXPECT_EQ(EvalConst("NULL = 1"), "NULL");
  EXPECT_EQ(EvalConst("NULL IS DISTINCT FROM 1"), "t");
  EXPECT_EQ(EvalConst("NULL IS NOT DISTINCT FROM NULL"), "t");
  EXPECT_EQ(EvalConst("2 IS DISTINCT FROM 2"), "f");
  EXPECT_EQ(EvalConst("greatest(1, NULL, 3.5)"), "3.5");
  EXPECT_EQ(EvalConst("least(NULL, 'b', 'a')"), "a");
  EXPECT_EQ(EvalConst("greatest(NULL, NULL)"), "NULL");
  EXPECT_EQ(EvalConst("(NULL::boolean) IS NOT TRUE"), "t");
  EXPECT_EQ(EvalConst("(1 > 2) IS FALSE"), "t");
  EXPECT_EQ(EvalConst("(NULL::boolean) IS NOT FALSE"), "t");
  EXPECT_EQ(EvalConst("(1 < 2) IS NOT FALSE"), "t");
  EXPECT_EQ(EvalConst("(NULL::boolean) IS UNKNOWN"), "t");
  EXPECT_EQ(EvalConst("true IS TRUE"), "t");
}

TEST(SqlExpr, StringsAndDates) {
  EXPECT_EQ(EvalConst("'abc' LIKE 'a%'"), "t");
  EXPECT_EQ(EvalConst("'abc' LIKE 'a_d'"), "f");
  EXPECT_EQ(EvalConst("'ABC' ILIKE 'a%c'"), "t");
  EXPECT_EQ(EvalConst("'50%' LIKE '50\\%'"), "t");
  EXPECT_EQ(EvalConst("upper('abc') || lower('DEF')"), "ABCdef");
  EXPECT_EQ(EvalConst("'a' || NULL"), "NULL");
  EXPECT_EQ(EvalConst("concat('a', NULL, 1)"), "a1");
  EXPECT_EQ(EvalConst("length('héllo')"), "5");
  EXPECT_EQ(EvalConst("substring('hello' from 2 for 3)"), "ell");
  EXPECT_EQ(EvalConst("substring('hello', 0, 3)"), "he");
  EXPECT_EQ(EvalConst("trim('  x  ')"), "x");
  EXPECT_EQ(EvalConst("date_trunc('month', '2024-03-15 10:11:12'::timestamp)"), "2024-03-01 00:00:00");
  EXPECT_EQ(EvalConst("date_trunc('week', DATE '2024-03-15')"), "2024-03-11 00:00:00");
  EXPECT_EQ(EvalConst("extract(year from DATE '2024-03-15')"), "2024");
  EXPECT_EQ(EvalConst("extract(dow from DATE '2024-03-17')"), "0");
  EXPECT_EQ(EvalConst("extract(second from TIMESTAMP '2024-03-15 10:11:12.5')"), "12.500000");
  EXPECT_EQ(EvalConst("DATE '2024-03-01' - DATE '2024-02-01'"), "29");
  EXPECT_EQ(EvalConst("DATE '2024-02-28' + 2"), "2024-03-01");
  EXPECT_EQ(EvalConst("CAST('2024-01-02' AS date) < '2024-02-01'"), "t");
  EXPECT_EQ(EvalConst("CAST(12 AS text)"), "12");
  EXPECT_EQ(EvalConst("CAST(true AS text)"), "true");
  EXPECT_EQ(EvalConst("concat_ws('-', 'a', NULL, 'b')"), "a-b");
  EXPECT_EQ(EvalConst("replace('banana', 'an', 'o')"), "booa");
  EXPECT_EQ(EvalConst("left('héllo', 2)"), "hé");
  EXPECT_EQ(EvalConst("right('hello', -2)"), "llo");
  EXPECT_EQ(EvalConst("left('hello', -2)"), "hel");
  EXPECT_EQ(EvalConst("position('l' in 'héllo')"), "3");
  EXPECT_EQ(EvalConst("strpos('abc', 'z')"), "0");
  EXPECT_EQ(EvalConst("mod(-7, 3)"), "-1");
  EXPECT_EQ(EvalConst("trunc(-2.789, 1)"), "-2.7");
  EXPECT_EQ(EvalConst("trunc(2.789)"), "2");
  // split_part as PostgreSQL 14+ documents it (a negative field counts from the end).
  EXPECT_EQ(EvalConst("split_part('abc~@~def~@~ghi', '~@~', 2)"), "def");
  EXPECT_EQ(EvalConst("split_part('abc,def,ghi,jkl', ',', -2)"), "ghi");
  EXPECT_EQ(EvalConst("split_part('a,b', ',', 5)"), "");
  EXPECT_EQ(EvalConst("split_part('a,b', ',', -3)"), "");
  EXPECT_EQ(EvalConst("split_part('', ',', 1)"), "");
  EXPECT_EQ(EvalConst("split_part('abc', '', 1)"), "abc");
  EXPECT_EQ(EvalConst("split_part('abc', '', 2)"), "");
  EXPECT_EQ(EvalConst("split_part(NULL, ',', 1)"), "NULL");
  EXPECT_THROW(EvalConst("split_part('a,b', ',', 0)"), Error);
}

TEST(SqlBinder, SetStatementsOfARisingWaveScriptAreSkipped) {
  Catalog c = MakeCatalog();
  auto views = CompileViews("x.sql",
                            "SET streaming_parallelism = 2;\nCREATE MATERIALIZED VIEW v AS SELECT id FROM orders;\n"
                            "SET rw_implicit_flush TO true;",
                            c);
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].name, "v");
  EXPECT_EQ(views[0].location.line, 2);
}

TEST(SqlExpr, JsonMemberAndElement) {
  // PostgreSQL: -> gives json, ->> gives text; a missing key or index is NULL, ->> of null too.
  const char* doc = "'{\"a\": {\"b\": [10, \"x\\\"y\", null, 1.50, true]}, \"s\": \"h\\u00e9\"}'::json";
  auto q = [&](const std::string& path) { return EvalConst(std::string(doc) + path); };
  EXPECT_EQ(q("->'a'->'b'"), "[10, \"x\\\"y\", null, 1.50, true]");
  EXPECT_EQ(q("->'a'->'b'->>0"), "10");
  EXPECT_EQ(q("->'a'->'b'->>1"), "x\"y");
  EXPECT_EQ(q("->'a'->'b'->1"), "\"x\\\"y\"");
  EXPECT_EQ(q("->'a'->'b'->>2"), "NULL");
  EXPECT_EQ(q("->'a'->'b'->2"), "null");
  EXPECT_EQ(q("->'a'->'b'->>-2"), "1.50");
  EXPECT_EQ(q("->'a'->'b'->>-1"), "true");
  EXPECT_EQ(q("->'a'->'b'->>5"), "NULL");
  EXPECT_EQ(q("->'a'->'b'->>-6"), "NULL");
  EXPECT_EQ(q("->>'s'"), "hé");
  EXPECT_EQ(q("->>'missing'"), "NULL");
  EXPECT_EQ(q("->>0"), "NULL");          // an index into an object
  EXPECT_EQ(q("->'a'->>'zz'"), "NULL");
  EXPECT_EQ(q("->'a'->'b'->>'k'"), "NULL");  // a key into an array
  EXPECT_EQ(EvalConst("'{\"k\": 1, \"k\": 2}'::json->>'k'"), "2");  // json: the last duplicate
  EXPECT_EQ(EvalConst("NULL::json->>'k'"), "NULL");
  EXPECT_THROW(EvalConst("'{\"k\": '::json->>'k'"), Error);
  // Not on text: PostgreSQL has no text -> operator.
  try {
    EvalConst("status->>'k'");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("operator does not exist"), std::string::npos) << e.what();
  }
}

TEST(SqlExpr, DoublePrecisionMath) {
  EXPECT_EQ(EvalConst("power(2, 10)"), "1024");
  EXPECT_EQ(EvalConst("pow(9.0::float8, 0.5)"), "3");
  EXPECT_EQ(EvalConst("power(-2, 3)"), "-8");
  EXPECT_EQ(EvalConst("sqrt(16)"), "4");
  EXPECT_EQ(EvalConst("cbrt(27) BETWEEN 2.999999 AND 3.000001"), "t");  // libm: not always exact
  EXPECT_EQ(EvalConst("exp(0)"), "1");
  EXPECT_EQ(EvalConst("ln(1)"), "0");
  EXPECT_EQ(EvalConst("log(1000)"), "3");
  EXPECT_EQ(EvalConst("log10(0.01::float8)"), "-2");
  EXPECT_EQ(EvalConst("sqrt(NULL::float8)"), "NULL");
  EXPECT_THROW(EvalConst("sqrt(2.0)"), Error);  // numeric: PostgreSQL's numeric sqrt, not reproduced
  // PostgreSQL's errors for the undefined cases.
  for (const char* bad : {"sqrt(-1)", "ln(0)", "ln(-1)", "power(0, -1)", "power(-8, 0.5::float8)", "exp(1000)",
                          "power(10, 400)"}) {
    EXPECT_THROW(EvalConst(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace sluice::sql
