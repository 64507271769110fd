// ClickHouseSink against a real ClickHouse (18.16 here): tables for every ValueKind, inserts,
// updates, deletes, key changes, replays, schema changes, mismatches and the dead-letter table.
// Needs `scripts/services start clickhouse` (port from SLUICE_CH_HTTP_PORT, default 18123).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "clickhouse/sink.h"
#include "common/error.h"
#include "test_env.h"

namespace sluice::clickhouse {
namespace {

using test::Services;

constexpr const char* kDb = "sluice_it_ch_sink";

SinkOptions Options() {
  SinkOptions o;
  o.client.hostname = Services().ch_host;
  o.client.port = Services().ch_http_port;
  o.client.username = Services().ch_user;
  o.client.password = Services().ch_password;
  o.database = kDb;
  o.retry_max_ms = 2000;
  return o;
}

ColumnSchema Col(std::string name, ValueKind kind, std::string column_type, bool nullable = false) {
  ColumnSchema c;
  c.name = std::move(name);
  c.kind = kind;
  c.column_type = std::move(column_type);
  c.nullable = nullable;
  c.is_unsigned = c.column_type.find("unsigned") != std::string::npos;
  return c;
}

class ClickHouseSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClientOptions co;
    co.hostname = Services().ch_host;
    co.port = Services().ch_http_port;
    co.username = Services().ch_user;
    co.password = Services().ch_password;
    admin_ = std::make_unique<ClickHouseClient>(co);
    try {
      admin_->Query("SELECT 1");
    } catch (const Error& e) {
      GTEST_SKIP() << "ClickHouse is not running (scripts/services start clickhouse): " << e.what();
    }
    admin_->Query(std::string("DROP DATABASE IF EXISTS ") + kDb);
  }
  std::string Q(const std::string& sql) { return admin_->Query(sql); }
  std::unique_ptr<ClickHouseClient> admin_;
};

// A table with one column of every ValueKind (and the integer widths), in MySQL terms.
TableSchemaPtr AllKinds() {
  auto s = std::make_shared<TableSchema>();
  s->database = "src";
  s->table = "all_kinds";
  ColumnSchema dec = Col("dec", ValueKind::kDecimal, "decimal(10,2)");
  dec.precision = 10;
  dec.scale = 2;
  ColumnSchema big = Col("dec_big", ValueKind::kDecimal, "decimal(65,30)", true);
  big.precision = 65;
  big.scale = 30;
  ColumnSchema dtm = Col("dtm", ValueKind::kDateTime, "datetime");
  ColumnSchema dtm6 = Col("dtm6", ValueKind::kDateTime, "datetime(6)", true);
  dtm6.fsp = 6;
  ColumnSchema ts3 = Col("ts3", ValueKind::kTimestamp, "timestamp(3)", true);
  ts3.fsp = 3;
  ColumnSchema e = Col("e", ValueKind::kString, "enum('small','medium')", true);
  e.is_enum = true;
  s->columns = {Col("id", ValueKind::kInt, "int(11)"),
                Col("ti", ValueKind::kInt, "tinyint(4)", true),
                Col("si", ValueKind::kUInt, "smallint(5) unsigned", true),
                Col("mi", ValueKind::kInt, "mediumint(9)", true),
                Col("bi", ValueKind::kUInt, "bigint(20) unsigned", true),
                Col("f", ValueKind::kFloat, "float", true),
                Col("d", ValueKind::kDouble, "double", true),
                dec,
                big,
                Col("s", ValueKind::kString, "varchar(20)", true),
                Col("b", ValueKind::kBytes, "blob", true),
                Col("dt", ValueKind::kDate, "date", true),
                Col("dz", ValueKind::kDate, "date"),
                Col("tm", ValueKind::kTime, "time(6)", true),
                dtm,
                dtm6,
                ts3,
                Col("js", ValueKind::kJson, "json", true),
                Col("bits", ValueKind::kBit, "bit(10)", true),
                Col("geo", ValueKind::kGeometry, "point", true),
                Col("y", ValueKind::kInt, "year(4)", true),
                e};
  s->primary_key = {0};
  return s;
}

// Appends one all_kinds row; `n` varies the values, `null_all` puts NULL in every nullable column.
void AddRow(ChangeChunk& c, RowOp op, uint64_t version, int32_t id, int n, bool null_all = false) {
  c.BeginRow(op, version, 0, 0);
  size_t k = 0;
  auto col = [&]() -> ColumnVector& { return c.column(k++); };
  auto maybe = [&](const std::function<void(ColumnVector&)>& f) {
    ColumnVector& v = col();
    if (null_all) v.AppendNull(); else f(v);
  };
  col().AppendInt(id);
  maybe([&](ColumnVector& v) { v.AppendInt(-128 + n); });
  maybe([&](ColumnVector& v) { v.AppendUInt(65535 - n); });
  maybe([&](ColumnVector& v) { v.AppendInt(-8388608 + n); });
  maybe([&](ColumnVector& v) { v.AppendUInt(UINT64_MAX - static_cast<uint64_t>(n)); });
  maybe([&](ColumnVector& v) { v.AppendDouble(1.5 + n); });
  maybe([&](ColumnVector& v) { v.AppendDouble(-0.25 - n); });
  col().AppendBytes(n == 0 ? "-12.50" : "99999999.99");
  maybe([&](ColumnVector& v) {
    v.AppendBytes("-12345678901234567890123456789012345.123456789012345678901234567890");
  });
  maybe([&](ColumnVector& v) { v.AppendBytes(n == 0 ? "h\xC3\xA9llo \xE2\x9C\x93" : "tab\there"); });
  maybe([&](ColumnVector& v) { v.AppendBytes(std::string("\x00\xff" "A", 3)); });
  maybe([&](ColumnVector& v) { v.AppendInt(18321 + n); });  // 2020-02-29
  col().AppendInt(kZeroDate);
  maybe([&](ColumnVector& v) { v.AppendInt(-3723000001LL); });  // -01:02:03.000001
  col().AppendInt(1614834367LL * 1000000);                      // 2021-03-04 05:06:07
  maybe([&](ColumnVector& v) { v.AppendInt(1614834367LL * 1000000 + 123456); });
  maybe([&](ColumnVector& v) { v.AppendInt(1614834367LL * 1000000 + 123000); });
  maybe([&](ColumnVector& v) { v.AppendBytes("{\"a\": [1, 2]}"); });
  maybe([&](ColumnVector& v) { v.AppendUInt(1023); });
  maybe([&](ColumnVector& v) {
    std::string g("\x00\x00\x00\x00\x01\x01\x00\x00\x00", 9);
    g.append(std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40", 16));
    v.AppendBytes(g);
  });
  maybe([&](ColumnVector& v) { v.AppendInt(2024); });
  maybe([&](ColumnVector& v) { v.AppendBytes("medium"); });
}

const char* kSelect =
    "SELECT id, ti, si, mi, bi, f, d, dec, dec_big, s, hex(b), dt, dz, tm, dtm, dtm6, ts3, js, bits, hex(geo), y, e "
    "FROM sluice_it_ch_sink.all_kinds FINAL WHERE _is_deleted = 0 ORDER BY id FORMAT TSV";

TEST_F(ClickHouseSinkTest, EveryKindRoundTripsWithUpdatesDeletesAndReplays) {
  const auto schema = AllKinds();
  ClickHouseSink sink(Options());
  sink.Connect();
  const bool old_server = !sink.features().datetime64;
  ChangeChunk c1(schema);
  c1.AddSource({});
  AddRow(c1, RowOp::kInsert, 100, 1, 0);
  AddRow(c1, RowOp::kInsert, 101, 2, 1);
  AddRow(c1, RowOp::kInsert, 102, 3, 0, /*null_all=*/true);
  AddRow(c1, RowOp::kInsert, 103, 5, 0);
  ChangeChunk c2(schema);
  c2.AddSource({});
  AddRow(c2, RowOp::kUpdateBefore, 200, 1, 0);
  AddRow(c2, RowOp::kUpdateAfter, 200, 1, 1);   // same key, new values
  AddRow(c2, RowOp::kDelete, 201, 2, 1);        // delete
  AddRow(c2, RowOp::kUpdateBefore, 202, 5, 0);
  AddRow(c2, RowOp::kUpdateAfter, 202, 6, 0);   // key 5 → 6
  sink.Write(c1);
  sink.Write(c2);
  EXPECT_EQ(sink.BufferedRows(), 8u);  // 4 + (after, delete, delete-old-key, after)
  sink.Flush();
  EXPECT_EQ(sink.BufferedRows(), 0u);
  EXPECT_EQ(sink.stats().rows_inserted, 8u);

  // Column types as created on this server.
  const std::string types = Q("SELECT name, type FROM system.columns WHERE database = 'sluice_it_ch_sink' AND "
                              "table = 'all_kinds' FORMAT TSV");
  EXPECT_NE(types.find("bi\tNullable(UInt64)"), std::string::npos) << types;
  EXPECT_NE(types.find("dec\tDecimal(10, 2)"), std::string::npos) << types;
  EXPECT_NE(types.find("_version\tUInt64\n_is_deleted\tUInt8"), std::string::npos) << types;

  const std::string zero_date = old_server ? "0000-00-00" : "1970-01-01";
  const std::string row1 =
      "1\t-127\t65534\t-8388607\t18446744073709551614\t2.5\t-1.25\t99999999.99\t"
      "-12345678901234567890123456789012345.123456789012345678901234567890\ttab\\there\t00FF41\t2020-03-01\t" +
      zero_date +
      "\t-3723000001\t2021-03-04 05:06:07\t2021-03-04 05:06:07.123456\t2021-03-04 05:06:07.123\t{\"a\": [1, 2]}\t"
      "1023\t0101000000000000000000F03F0000000000000040\t2024\tmedium\n";
  const std::string row3 = "3\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t-12.50\t\\N\t\\N\t\\N\t\\N\t" + zero_date +
                           "\t\\N\t2021-03-04 05:06:07\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n";
  const std::string row6 =
      "6\t-128\t65535\t-8388608\t18446744073709551615\t1.5\t-0.25\t-12.50\t"
      "-12345678901234567890123456789012345.123456789012345678901234567890\th\xC3\xA9llo \xE2\x9C\x93\t00FF41\t"
      "2020-02-29\t" + zero_date +
      "\t-3723000001\t2021-03-04 05:06:07\t2021-03-04 05:06:07.123456\t2021-03-04 05:06:07.123\t{\"a\": [1, 2]}\t"
      "1023\t0101000000000000000000F03F0000000000000040\t2024\tmedium\n";
  EXPECT_EQ(Q(kSelect), row1 + row3 + row6);

  // The same changes delivered again (a replay after a crash) collapse: same _version.
  sink.Write(c1);
  sink.Write(c2);
  sink.Flush();
  EXPECT_EQ(Q(kSelect), row1 + row3 + row6);
  EXPECT_EQ(Q("SELECT count() FROM sluice_it_ch_sink.all_kinds FINAL FORMAT TSV"), "5\n");  // 1,2(del),3,5(del),6

  // A fresh sink (restart) finds the existing table compatible and goes on.
  ClickHouseSink again(Options());
  again.EnsureTable(*schema);
  ChangeChunk c3(schema);
  c3.AddSource({});
  AddRow(c3, RowOp::kDelete, 300, 1, 1);
  again.Write(c3);
  again.Flush();
  EXPECT_EQ(Q(kSelect), row3 + row6);
}

// insert.format native (the default) and rowbinary store the same values, NULLs and zero dates
// included, and the same _version/_is_deleted rows.
TEST_F(ClickHouseSinkTest, NativeAndRowBinaryInsertTheSameRows) {
  const auto schema = AllKinds();
  auto write = [&](InsertFormat format) {
    Q(std::string("DROP DATABASE IF EXISTS ") + kDb);
    SinkOptions o = Options();
    o.insert_format = format;
    ClickHouseSink sink(o);
    ChangeChunk c1(schema);
    c1.AddSource({});
    for (int i = 0; i < 1500; ++i) AddRow(c1, RowOp::kInsert, 100 + static_cast<uint64_t>(i), i, i % 2, i % 3 == 0);
    ChangeChunk c2(schema);
    c2.AddSource({});
    AddRow(c2, RowOp::kUpdateBefore, 500, 1, 0);
    AddRow(c2, RowOp::kUpdateAfter, 500, 1, 1);
    AddRow(c2, RowOp::kDelete, 501, 2, 1);
    AddRow(c2, RowOp::kUpdateBefore, 502, 5, 0);
    AddRow(c2, RowOp::kUpdateAfter, 502, 1000, 0, true);
    sink.Write(c2);  // small chunks are gathered into one block, a large one is a block
    sink.Write(c1);
    sink.Write(c2);
    sink.Flush();
    EXPECT_EQ(sink.stats().rows_inserted, 1508u);
    Q("OPTIMIZE TABLE sluice_it_ch_sink.all_kinds FINAL");  // the same merged rows, however merges ran
    return Q("SELECT * FROM sluice_it_ch_sink.all_kinds ORDER BY id, _version FORMAT TSV");
  };
  const std::string row_binary = write(InsertFormat::kRowBinary);
  const std::string native = write(InsertFormat::kNative);
  EXPECT_EQ(std::count(native.begin(), native.end(), '\n'), 1500);  // one row per key
  EXPECT_EQ(native, row_binary);
}

TEST_F(ClickHouseSinkTest, BatchesFlushBySizeAndDelay) {
  auto s = std::make_shared<TableSchema>();
  s->database = "src";
  s->table = "many";
  s->columns = {Col("id", ValueKind::kUInt, "bigint unsigned"), Col("v", ValueKind::kString, "text")};
  s->primary_key = {0};
  SinkOptions o = Options();
  o.batch_max_rows = 1000;
  o.batch_max_delay_ms = 50;
  ClickHouseSink sink(o);
  ChangeChunk c(s);
  c.AddSource({});
  for (uint64_t i = 0; i < 2500; ++i) {
    c.BeginRow(RowOp::kInsert, 1000 + i, 0, 0);
    c.column(0).AppendUInt(i);
    c.column(1).AppendBytes("value " + std::to_string(i));
  }
  sink.Write(c);  // 2500 ≥ 1000 rows: inserted at once
  EXPECT_EQ(sink.BufferedRows(), 0u);
  EXPECT_EQ(Q("SELECT count(), sum(id) FROM sluice_it_ch_sink.many FORMAT TSV"), "2500\t3123750\n");
  ChangeChunk small(s);
  small.AddSource({});
  small.BeginRow(RowOp::kInsert, 99999, 0, 0);
  small.column(0).AppendUInt(7777);
  small.column(1).AppendBytes("late");
  sink.Write(small);
  EXPECT_EQ(sink.BufferedRows(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_TRUE(sink.FlushDue());
  sink.Flush();
  EXPECT_FALSE(sink.FlushDue());
  EXPECT_EQ(Q("SELECT v FROM sluice_it_ch_sink.many WHERE id = 7777 FORMAT TSV"), "late\n");
}

TEST_F(ClickHouseSinkTest, SchemaChangesReachTheTable) {
  auto v1 = std::make_shared<TableSchema>();
  v1->database = "src";
  v1->table = "evolving";
  v1->columns = {Col("id", ValueKind::kInt, "int"), Col("qty", ValueKind::kInt, "int", true),
                 Col("old", ValueKind::kString, "text", true)};
  v1->primary_key = {0};
  ClickHouseSink sink(Options());
  ChangeChunk c1(v1);
  c1.AddSource({});
  c1.BeginRow(RowOp::kInsert, 1, 0, 0);
  c1.column(0).AppendInt(1);
  c1.column(1).AppendInt(5);
  c1.column(2).AppendBytes("x");
  sink.Write(c1);  // buffered: ApplySchemaChange must flush it first

  // ALTER TABLE evolving CHANGE qty quantity BIGINT, DROP old, ADD note VARCHAR(10)
  auto v2 = std::make_shared<TableSchema>(*v1);
  v2->columns = {Col("id", ValueKind::kInt, "int"), Col("quantity", ValueKind::kInt, "bigint", true),
                 Col("note", ValueKind::kString, "varchar(10)", true)};
  v2->version = 2;
  sink.ApplySchemaChange(*v1, *v2, {{"qty", "quantity"}});
  EXPECT_EQ(Q("SELECT name, type FROM system.columns WHERE database = 'sluice_it_ch_sink' AND table = 'evolving' "
              "AND name NOT IN ('_version', '_is_deleted') ORDER BY name FORMAT TSV"),
            "id\tInt32\nnote\tNullable(String)\nquantity\tNullable(Int64)\n");
  // Applying the same change again (a replay) finds nothing left to do.
  sink.ApplySchemaChange(*v1, *v2, {{"qty", "quantity"}});

  ChangeChunk c2(v2);
  c2.AddSource({});
  c2.BeginRow(RowOp::kInsert, 2, 0, 0);
  c2.column(0).AppendInt(2);
  c2.column(1).AppendInt(7);
  c2.column(2).AppendBytes("new");
  sink.Write(c2);
  // A chunk with a newer shape and no explicit call: the sink applies the change itself.
  auto v3 = std::make_shared<TableSchema>(*v2);
  v3->columns.push_back(Col("flag", ValueKind::kUInt, "tinyint unsigned", true));
  ChangeChunk c3(v3);
  c3.AddSource({});
  c3.BeginRow(RowOp::kInsert, 3, 0, 0);
  c3.column(0).AppendInt(3);
  c3.column(1).AppendNull();
  c3.column(2).AppendNull();
  c3.column(3).AppendUInt(1);
  sink.Write(c3);
  sink.Flush();
  EXPECT_EQ(Q("SELECT id, quantity, note, flag FROM sluice_it_ch_sink.evolving FINAL WHERE _is_deleted = 0 "
              "ORDER BY id FORMAT TSV"),
            "1\t5\t\\N\t\\N\n2\t7\tnew\t\\N\n3\t\\N\t\\N\t1\n");
}

TEST_F(ClickHouseSinkTest, ExistingTableMismatchShowsBothSchemasUnlessAutoEvolve) {
  Q(std::string("CREATE DATABASE ") + kDb);
  Q("CREATE TABLE sluice_it_ch_sink.pre (id Int32, name String, _version UInt64, _is_deleted UInt8) "
    "ENGINE = ReplacingMergeTree(_version) ORDER BY id");
  auto s = std::make_shared<TableSchema>();
  s->database = "src";
  s->table = "pre";
  s->columns = {Col("id", ValueKind::kInt, "int"), Col("name", ValueKind::kString, "varchar(5)"),
                Col("price", ValueKind::kDouble, "double", true)};
  s->primary_key = {0};
  {
    ClickHouseSink sink(Options());
    try {
      sink.EnsureTable(*s);
      FAIL() << "expected a mismatch error";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("sluice_it_ch_sink.pre does not match source table src.pre"), std::string::npos) << m;
      EXPECT_NE(m.find("price"), std::string::npos) << m;
      EXPECT_NE(m.find("(missing)"), std::string::npos) << m;
      EXPECT_NE(m.find("sink.auto.evolve"), std::string::npos) << m;
    }
  }
  SinkOptions o = Options();
  o.auto_evolve = true;
  ClickHouseSink sink(o);
  sink.EnsureTable(*s);
  EXPECT_NE(Q("SELECT type FROM system.columns WHERE database = 'sluice_it_ch_sink' AND table = 'pre' AND "
              "name = 'price' FORMAT TSV"),
            "");
}

TEST_F(ClickHouseSinkTest, ClearErrorsForBadCredentialsAndMissingKeys) {
  SinkOptions o = Options();
  o.client.username = "no_such_user_sluice";
  ClickHouseSink bad(o);
  try {
    bad.Connect();
    FAIL();
  } catch (const Error& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("sink.username"), std::string::npos) << e.what();
  }
  auto s = std::make_shared<TableSchema>();
  s->database = "src";
  s->table = "nokey";
  s->columns = {Col("a", ValueKind::kInt, "int")};
  ClickHouseSink sink(Options());
  try {
    sink.EnsureTable(*s);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("sink.tables.\"src.nokey\".order.by"), std::string::npos) << e.what();
  }
  SinkOptions with_key = Options();
  with_key.tables["src.nokey"].order_by = "(a)";
  with_key.tables["src.nokey"].table = "nokey_renamed";
  ClickHouseSink ok(with_key);
  ok.EnsureTable(*s);
  EXPECT_EQ(Q("SELECT count() FROM system.tables WHERE database = 'sluice_it_ch_sink' AND name = 'nokey_renamed' "
              "FORMAT TSV"),
            "1\n");
}

TEST_F(ClickHouseSinkTest, RejectedRowsGoToTheDeadLetterTable) {
  Q(std::string("CREATE DATABASE ") + kDb);
  // A MATERIALIZED column that ClickHouse cannot compute for v = 'bad': the server rejects that row.
  Q("CREATE TABLE sluice_it_ch_sink.dlq_t (id Int32, v String, amount Decimal(9, 2), chk UInt8 MATERIALIZED "
    "toUInt8(v), _version UInt64, _is_deleted UInt8) ENGINE = ReplacingMergeTree(_version) ORDER BY id");
  auto s = std::make_shared<TableSchema>();
  s->database = "src";
  s->table = "dlq_t";
  ColumnSchema amount = Col("amount", ValueKind::kDecimal, "decimal(9,2)");
  amount.precision = 9;
  amount.scale = 2;
  s->columns = {Col("id", ValueKind::kInt, "int"), Col("v", ValueKind::kString, "text"), amount};
  s->primary_key = {0};
  auto make = [&] {
    ChangeChunk c(s);
    c.AddSource({});
    const char* vs[] = {"1", "2", "bad", "4", "5"};
    const char* amounts[] = {"1.00", "2.00", "3.00", "not-a-decimal", "5.00"};
    for (int i = 0; i < 5; ++i) {
      c.BeginRow(RowOp::kInsert, 10 + static_cast<uint64_t>(i), 0, 0);
      c.column(0).AppendInt(i + 1);
      c.column(1).AppendBytes(vs[i]);
      c.column(2).AppendBytes(amounts[i]);
    }
    return c;
  };
  {
    ClickHouseSink strict(Options());  // errors.tolerance = none: stop with the row
    try {
      strict.Write(make());
      strict.Flush();
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kData);
      EXPECT_NE(std::string(e.what()).find("`amount`"), std::string::npos) << e.what();
    }
  }
  SinkOptions o = Options();
  o.errors_tolerance = ErrorsTolerance::kAll;
  ClickHouseSink sink(o);
  sink.Write(make());
  sink.Flush();
  EXPECT_EQ(Q("SELECT id FROM sluice_it_ch_sink.dlq_t ORDER BY id FORMAT TSV"), "1\n2\n5\n");
  EXPECT_EQ(sink.stats().dlq_rows, 2u);
  const std::string dlq = Q("SELECT source_table, target_table, _version, error != '', length(row_binary) > 0 "
                            "FROM sluice_it_ch_sink._sluice_dlq ORDER BY _version FORMAT TSV");
  EXPECT_EQ(dlq, "src.dlq_t\tsluice_it_ch_sink.dlq_t\t12\t1\t1\nsrc.dlq_t\tsluice_it_ch_sink.dlq_t\t13\t1\t0\n");
}

// ON CLUSTER DDL and ReplicatedReplacingMergeTree on every replica of `SLUICE_CH_CLUSTER` (1 replica
// by default; 2 with `CH_REPLICAS=2 scripts/services start`): all replicas converge to the same rows.
TEST_F(ClickHouseSinkTest, ReplicatedTablesOnClusterConverge) {
  const std::string cluster = Services().ch_cluster;
  const std::string n = Q("SELECT count() FROM system.clusters WHERE cluster = '" + cluster + "' FORMAT TSV");
  if (n.empty() || n[0] == '0') GTEST_SKIP() << "no cluster " << cluster << " in system.clusters";
  const int replicas = std::stoi(n);
  Q("DROP DATABASE IF EXISTS sluice_it_ch_cluster ON CLUSTER " + cluster);
  SinkOptions o = Options();
  o.cluster = cluster;
  o.database = "sluice_it_ch_cluster";
  ClickHouseSink sink(o);
  auto s = std::make_shared<TableSchema>();
  s->database = "src";
  s->table = "rep";
  s->columns = {Col("id", ValueKind::kInt, "int"), Col("v", ValueKind::kString, "varchar(5)", true)};
  s->primary_key = {0};
  ChangeChunk c(s);
  c.AddSource({});
  auto row = [&](RowOp op, uint64_t version, int id, const char* v) {
    c.BeginRow(op, version, 0, 0);
    c.column(0).AppendInt(id);
    if (v) c.column(1).AppendBytes(v); else c.column(1).AppendNull();
  };
  row(RowOp::kInsert, 1, 1, "a");
  row(RowOp::kInsert, 2, 2, "b");
  row(RowOp::kUpdateBefore, 3, 1, "a");
  row(RowOp::kUpdateAfter, 3, 1, "a2");
  row(RowOp::kDelete, 4, 2, "b");
  row(RowOp::kInsert, 5, 3, nullptr);
  sink.Write(c);
  sink.Flush();
  auto v2 = std::make_shared<TableSchema>(*s);
  v2->columns.push_back(Col("extra", ValueKind::kInt, "int", true));
  sink.ApplySchemaChange(*s, *v2);
  for (int r = 1; r <= replicas; ++r) {
    ClientOptions co;
    co.hostname = Services().ch_host;
    co.port = r == 1 ? Services().ch_http_port : Services().ch2_http_port;
    co.username = Services().ch_user;
    co.password = Services().ch_password;
    ClickHouseClient replica(co);
    replica.Query("SYSTEM SYNC REPLICA sluice_it_ch_cluster.rep");
    EXPECT_EQ(replica.Query("SELECT engine FROM system.tables WHERE database = 'sluice_it_ch_cluster' AND "
                            "name = 'rep' FORMAT TSV"),
              "ReplicatedReplacingMergeTree\n")
        << "replica " << r;
    EXPECT_EQ(replica.Query("SELECT id, v, extra FROM sluice_it_ch_cluster.rep FINAL WHERE _is_deleted = 0 "
                            "ORDER BY id FORMAT TSV"),
              "1\ta2\t\\N\n3\t\\N\t\\N\n")
        << "replica " << r;
  }
  Q("DROP DATABASE IF EXISTS sluice_it_ch_cluster ON CLUSTER " + cluster);
}

}  // namespace
}  // namespace sluice::clickhouse
