// Operator-level tests: the shape of the change stream (upsert pairs, inserts, deletes).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "common/error.h"
#include "sql/expr.h"
#include "sql/operators.h"
#include "sql/scalar_functions.h"
#include "view_harness.h"

namespace sluice::sql {
namespace {

struct Change {
  RowOp op;
  std::string row;
};

std::vector<Change> Changes(const std::vector<ChangeChunk>& out, const std::vector<SqlType>& types) {
  std::vector<Change> r;
  for (auto& c : out) {
    for (size_t i = 0; i < c.size(); ++i) {
      Row row = ReadRow(c, i, types);
      std::string s;
      for (size_t k = 0; k < row.size(); ++k) s += (k ? " " : "") + FormatValue(row[k], types[k]);
      r.push_back({c.op(i), s});
    }
  }
  return r;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = std::make_shared<TableSchema>();
    t->database = "db";
    t->table = "t";
    for (auto [n, k] : {std::pair{"id", ValueKind::kInt}, {"g", ValueKind::kInt}, {"v", ValueKind::kInt}}) {
      ColumnSchema c;
      c.name = n;
      c.kind = k;
      t->columns.push_back(c);
    }
    table_ = t;
    catalog_.AddTable(t);
  }
  ChangeChunk Chunk(std::vector<std::pair<RowOp, std::array<int64_t, 3>>> rows) {
    ChangeChunk c(table_);
    c.AddSource(SourceInfo{});
    for (auto& [op, v] : rows) {
      c.BeginRow(op, ++version_, 0, 0);
      for (size_t k = 0; k < 3; ++k) c.column(k).AppendInt(v[k]);
    }
    return c;
  }
  TableSchemaPtr table_;
  Catalog catalog_{"db"};
  uint64_t version_ = 0;
};

TEST_F(PipelineTest, AggregateEmitsUpsertStreamAtFlush) {
  auto views = CompileViews("v.sql", "CREATE MATERIALIZED VIEW v AS SELECT g, sum(v) AS s FROM t GROUP BY g", catalog_);
  EXPECT_EQ(views[0].key_columns, std::vector<int>{0});
  EXPECT_EQ(views[0].output->primary_key, std::vector<int>{0});
  ViewPipeline p(views[0].plan, views[0].output);
  EXPECT_EQ(p.Sources(), std::vector<std::string>{"db.t"});
  EXPECT_EQ(p.output_schema()->table, "v");
  std::vector<ChangeChunk> out;
  p.Push("db.t", Chunk({{RowOp::kInsert, {1, 1, 10}}, {RowOp::kInsert, {2, 1, 5}}, {RowOp::kInsert, {3, 2, 1}}}), out);
  EXPECT_TRUE(out.empty()) << "aggregates emit only at a barrier";
  p.Flush(out);
  auto c = Changes(out, p.output_types());
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].op, RowOp::kInsert);
  EXPECT_EQ(c[0].row, "1 15");
  EXPECT_EQ(c[1].row, "2 1");
  EXPECT_EQ(out[0].schema()->table, "v");
  EXPECT_EQ(out[0].schema()->primary_key, std::vector<int>{0});
  out.clear();
  p.Push("db.t", Chunk({{RowOp::kUpdateBefore, {1, 1, 10}}, {RowOp::kUpdateAfter, {1, 1, 20}}, {RowOp::kDelete, {3, 2, 1}}}), out);
  p.Flush(out);
  c = Changes(out, p.output_types());
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].op, RowOp::kUpdateBefore);
  EXPECT_EQ(c[0].row, "1 15");
  EXPECT_EQ(c[1].op, RowOp::kUpdateAfter);
  EXPECT_EQ(c[1].row, "1 25");
  EXPECT_EQ(c[2].op, RowOp::kDelete);
  EXPECT_EQ(c[2].row, "2 1");
  out.clear();
  // A change that cancels out within a batch emits nothing.
  p.Push("db.t", Chunk({{RowOp::kInsert, {9, 1, 7}}, {RowOp::kDelete, {9, 1, 7}}}), out);
  p.Flush(out);
  EXPECT_TRUE(out.empty());
}

TEST_F(PipelineTest, FilterSplitsUpdatePairsThatCrossThePredicate) {
  auto views = CompileViews("v.sql", "CREATE MATERIALIZED VIEW v AS SELECT id, v FROM t WHERE v > 5", catalog_);
  ViewPipeline p(views[0].plan);
  std::vector<ChangeChunk> out;
  p.Push("db.t", Chunk({{RowOp::kUpdateBefore, {1, 0, 1}}, {RowOp::kUpdateAfter, {1, 0, 9}},
                        {RowOp::kUpdateBefore, {2, 0, 9}}, {RowOp::kUpdateAfter, {2, 0, 1}},
                        {RowOp::kUpdateBefore, {3, 0, 8}}, {RowOp::kUpdateAfter, {3, 0, 7}},
                        {RowOp::kUpdateBefore, {4, 0, 1}}, {RowOp::kUpdateAfter, {4, 0, 2}}}), out);
  auto c = Changes(out, p.output_types());
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].op, RowOp::kInsert);
  EXPECT_EQ(c[0].row, "1 9");
  EXPECT_EQ(c[1].op, RowOp::kDelete);
  EXPECT_EQ(c[1].row, "2 9");
  EXPECT_EQ(c[2].op, RowOp::kUpdateBefore);
  EXPECT_EQ(c[3].op, RowOp::kUpdateAfter);
  EXPECT_EQ(c[3].row, "3 7");
}

TEST_F(PipelineTest, ProjectDropsUpdatesOfHiddenColumnsAndSchemaChangesAreErrors) {
  auto views = CompileViews("v.sql", "CREATE MATERIALIZED VIEW v AS SELECT id, g FROM t", catalog_);
  ViewPipeline p(views[0].plan);
  std::vector<ChangeChunk> out;
  p.Push("db.t", Chunk({{RowOp::kUpdateBefore, {1, 2, 3}}, {RowOp::kUpdateAfter, {1, 2, 4}}}), out);
  EXPECT_TRUE(Changes(out, p.output_types()).empty());
  auto t2 = std::make_shared<TableSchema>(*table_);
  t2->columns.erase(t2->columns.begin() + 1);  // DROP COLUMN g
  ChangeChunk c(t2);
  c.AddSource(SourceInfo{});
  c.BeginRow(RowOp::kInsert, 1, 0, 0);
  c.column(0).AppendInt(1);
  c.column(1).AppendInt(2);
  EXPECT_THROW(p.Push("db.t", c, out), Error);
}

TEST_F(PipelineTest, SelfJoinAndGlobalAggregate) {
  auto views = CompileViews("v.sql",
                            "CREATE MATERIALIZED VIEW j AS SELECT a.id, b.id AS id2 FROM t a JOIN t b ON a.g = b.g;\n"
                            "CREATE MATERIALIZED VIEW n AS SELECT count(*) AS c, sum(v) AS s FROM t;",
                            catalog_);
  ViewPipeline j(views[0].plan), n(views[1].plan);
  std::vector<ChangeChunk> out;
  n.Flush(out);
  auto c = Changes(out, n.output_types());
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].row, "0 NULL 0");  // a global aggregate has one row even over no input (+ hidden _key_row)
  out.clear();
  j.Push("db.t", Chunk({{RowOp::kInsert, {1, 1, 0}}, {RowOp::kInsert, {2, 1, 0}}}), out);
  EXPECT_EQ(Changes(out, j.output_types()).size(), 4u);  // (1,1) (1,2) (2,1) (2,2)
}

TEST_F(PipelineTest, SnapshotRestoreContinuesIdentically) {
  auto views = CompileViews("v.sql",
                            "CREATE MATERIALIZED VIEW v AS SELECT a.g, count(*) AS n, sum(b.v) AS s, min(b.v) AS mn, "
                            "count(DISTINCT b.id) AS d FROM t a LEFT JOIN t b ON a.g = b.v GROUP BY a.g",
                            catalog_);
  ViewPipeline a(views[0].plan);
  std::unique_ptr<ViewPipeline> b;
  std::mt19937 rng(5);
  std::map<int64_t, std::array<int64_t, 3>> live;
  auto format = [&](const std::vector<ChangeChunk>& out, const ViewPipeline& p) {
    std::string s;
    for (auto& c : Changes(out, p.output_types())) s += std::to_string(static_cast<int>(c.op)) + ":" + c.row + "\n";
    return s;
  };
  size_t compared = 0;
  for (int batch = 0; batch < 300; ++batch) {
    std::vector<std::pair<RowOp, std::array<int64_t, 3>>> rows;
    for (int k = 0; k < 8; ++k) {
      int64_t id = rng() % 20;
      std::array<int64_t, 3> r{id, static_cast<int64_t>(rng() % 4), static_cast<int64_t>(rng() % 4)};
      auto it = live.find(id);
      if (it == live.end()) {
        rows.push_back({RowOp::kInsert, r});
        live[id] = r;
      } else if (rng() % 2) {
        rows.push_back({RowOp::kUpdateBefore, it->second});
        rows.push_back({RowOp::kUpdateAfter, r});
        it->second = r;
      } else {
        rows.push_back({RowOp::kDelete, it->second});
        live.erase(it);
      }
    }
    ChangeChunk chunk = Chunk(rows);
    std::vector<ChangeChunk> out_a, out_b;
    a.Push("db.t", chunk, out_a);
    a.Flush(out_a);
    if (b) {
      b->Push("db.t", chunk, out_b);
      b->Flush(out_b);
      ASSERT_EQ(format(out_a, a), format(out_b, *b)) << "batch " << batch;
      compared += !out_a.empty();
    }
    if (batch == 150) {
      b = std::make_unique<ViewPipeline>(views[0].plan);
      b->Restore(a.Snapshot());
    }
  }
  EXPECT_GT(compared, 100u);
  ViewPipeline wrong(CompileViews("w.sql", "CREATE MATERIALIZED VIEW w AS SELECT id FROM t", catalog_)[0].plan);
  EXPECT_THROW(wrong.Restore(a.Snapshot()), Error);
}

// Text cast to bigint / bigint unsigned: PostgreSQL's errors (syntax, range), spaces trimmed.
TEST(CastValue, TextToIntegersSaysWhatIsWrong) {
  const SqlType text{TypeId::kString};
  auto message = [&](const char* in, TypeId to) {
    try {
      CastValue(Value::String(in), text, SqlType{to});
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kData);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(CastValue(Value::String(" -42 "), text, SqlType{TypeId::kInt}).i, -42);
  EXPECT_EQ(static_cast<uint64_t>(CastValue(Value::String("18446744073709551615"), text, SqlType{TypeId::kUInt}).i),
            UINT64_MAX);
  EXPECT_NE(message("12x", TypeId::kInt).find("invalid input syntax for type bigint: \"12x\""), std::string::npos);
  EXPECT_NE(message("9223372036854775808", TypeId::kInt).find("bigint out of range"), std::string::npos);
  EXPECT_NE(message("-1", TypeId::kUInt).find("invalid input syntax for type bigint unsigned"), std::string::npos);
  EXPECT_NE(message("18446744073709551616", TypeId::kUInt).find("bigint unsigned out of range"), std::string::npos);
}

TEST(ScalarFunctions, RegularExpressionsOnLongValuesAndMd5) {
  // Long values match without exhausting the stack (std::regex crashed on 100 kB); a pattern whose
  // backtracking explodes is an error naming the value's size, not a stall.
  const std::string long_a(4 << 20, 'a');
  EXPECT_EQ(RegexpReplace(long_a, "a+", "b", ""), "b");
  EXPECT_EQ(RegexpReplace(long_a + "x", "a*x$", "<\\&>", "").size(), (4u << 20) + 3);
  EXPECT_TRUE(RegexpMatches(long_a, "^a*$", false));
  try {
    RegexpMatches(std::string(40000, 'a') + "!", "^(a+)+$", false);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("regular expression match failed on a value of 40001 bytes"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(RegexpReplace("ab ab", "", "-", "g"), "-a-b- -a-b-");  // empty matches step one character
  EXPECT_EQ(RegexpReplace("été", "t", "T", "g"), "éTé");
  EXPECT_EQ(RegexpReplace("x\xff\xfey", "y", "z", ""), "x\xff\xfez");  // not UTF-8: still matched
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  // Text that is not UTF-8 (found by a random-input run under UBSan: a fill of one stray
  // continuation byte counted as no character and divided by zero).
  EXPECT_EQ(Pad("ab", 4, "\x80", true), "\x80\x80" "ab");
  EXPECT_EQ(ReverseChars("\x80\xc3\xa9"), "\xc3\xa9\x80");
  EXPECT_EQ(Pad("\xc3\xa9t\xc3\xa9", 2, " ", false), "\xc3\xa9t");
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(WideDecimal, CanonicalTextOrdersByValue) {
  EXPECT_EQ(NormalizeDecimal("007", 2), "7.00");
  EXPECT_EQ(NormalizeDecimal(" +.5 ", 3), "0.500");
  EXPECT_EQ(NormalizeDecimal("9.995", 2), "10.00");    // carry through every digit
  EXPECT_EQ(NormalizeDecimal("-9.994", 2), "-9.99");
  EXPECT_EQ(NormalizeDecimal("-0.004", 2), "0.00");    // no negative zero
  EXPECT_EQ(NormalizeDecimal("-0.005", 2), "-0.01");   // half away from zero
  EXPECT_EQ(NormalizeDecimal("99999999999999999999999999999999999.9999999999999999999999999999995", 30),
            "100000000000000000000000000000000000.000000000000000000000000000000");
  EXPECT_EQ(NormalizeDecimal("12.5", 0), "13");
  EXPECT_EQ(NormalizeDecimal("0", 0), "0");
  for (const char* bad : {"", "-", ".", "1e5", "1.2.3", "12x", "--1"}) {
    EXPECT_THROW(NormalizeDecimal(bad, 2), Error) << bad;
  }
  const std::vector<std::string> ascending = {"-100.00", "-99.99", "-1.50", "-0.01", "0.00", "0.01", "9.99", "10.00",
                                              "123456789012345678901234567890123456789012.00"};
  for (size_t i = 0; i < ascending.size(); ++i) {
    for (size_t j = 0; j < ascending.size(); ++j) {
      EXPECT_EQ(CompareDecimalText(ascending[i], ascending[j]), i < j ? -1 : (i > j ? 1 : 0))
          << ascending[i] << " vs " << ascending[j];
    }
  }
  // Casts in and out: exact in, through numeric(38, s) out, an error naming a value too long.
  const SqlType wide{TypeId::kWideDecimal, 30, 65};
  EXPECT_EQ(CastValue(Value::Int(-5), SqlType{TypeId::kInt}, wide).s, "-5.000000000000000000000000000000");
  EXPECT_EQ(CastValue(Value::Decimal(1234), SqlType{TypeId::kDecimal, 2, 10}, wide).s,
            "12.340000000000000000000000000000");
  EXPECT_EQ(CastValue(Value::String("2.5"), wide, SqlType{TypeId::kDecimal, 1, 38}).dec, 25);
  EXPECT_EQ(CastValue(Value::String("2.5"), wide, SqlType{TypeId::kInt}).i, 3);
  try {
    CastValue(Value::String("123456789.000000000000000000000000000000"), wide, SqlType{TypeId::kDouble});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("numeric value 123456789.000000000000000000000000000000 (a numeric(65,30) "
                                         "column) does not fit the 38 digits"), std::string::npos) << e.what();
  }
  EXPECT_THROW(CastValue(Value::String("1234"), SqlType{TypeId::kString}, SqlType{TypeId::kWideDecimal, 2, 40 - 37}),
               Error);  // numeric(3,2) holds one integer digit
}

}  // namespace
}  // namespace sluice::sql
