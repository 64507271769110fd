// Expected bytes are worked out by hand from the RowBinary format description in the ClickHouse
// documentation (Formats → RowBinary): little-endian fixed-width numbers, Date = UInt16 days,
// DateTime = UInt32 seconds, DateTime64 = Int64 ticks, Decimal = its Int32/64/128/256 two's
// complement, String = LEB128 length + bytes, Nullable = one byte (1 = NULL) before the value.
#include "clickhouse/row_binary.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"

namespace sluice::clickhouse {
namespace {

using testing::Col;
using testing::DecimalCol;
using testing::Hex;
using testing::TimeCol;

const ServerFeatures kOld = ServerFeatures::ForVersion(ServerVersion::Parse("18.16.1"));
const ServerFeatures kNew = ServerFeatures::ForVersion(ServerVersion::Parse("24.8.4"));

// Encodes one value of column `c` on a server with `f`.
template <typename AppendFn>
std::string One(const ColumnSchema& c, AppendFn append, const ServerFeatures& f = kOld) {
  ColumnVector v(c.kind);
  append(v);
  std::string out;
  RowBinaryEncoder::EncodeValue(MapColumnType(c, f), v, 0, out);
  return Hex(out);
}

std::string Int(const ColumnSchema& c, int64_t x) { return One(c, [&](ColumnVector& v) { v.AppendInt(x); }); }
std::string Bytes(const ColumnSchema& c, std::string_view s, const ServerFeatures& f = kOld) {
  return One(c, [&](ColumnVector& v) { v.AppendBytes(s); }, f);
}

TEST(RowBinaryTest, Integers) {
  EXPECT_EQ(Int(Col("a", ValueKind::kInt, "tinyint"), -1), "ff");
  EXPECT_EQ(Int(Col("a", ValueKind::kUInt, "tinyint unsigned"), 200), "c8");
  EXPECT_EQ(Int(Col("a", ValueKind::kInt, "smallint"), -2), "fe ff");
  EXPECT_EQ(Int(Col("a", ValueKind::kUInt, "smallint unsigned"), 65535), "ff ff");
  EXPECT_EQ(Int(Col("a", ValueKind::kInt, "mediumint"), -8388608), "00 00 80 ff");
  EXPECT_EQ(Int(Col("a", ValueKind::kInt, "int"), 0x01020304), "04 03 02 01");
  EXPECT_EQ(Int(Col("a", ValueKind::kUInt, "int unsigned"), 4294967295LL), "ff ff ff ff");
  EXPECT_EQ(Int(Col("a", ValueKind::kInt, "bigint"), INT64_MIN), "00 00 00 00 00 00 00 80");
  EXPECT_EQ(One(Col("a", ValueKind::kUInt, "bigint unsigned"), [](ColumnVector& v) { v.AppendUInt(UINT64_MAX); }),
            "ff ff ff ff ff ff ff ff");
  EXPECT_EQ(Int(Col("y", ValueKind::kInt, "year"), 2024), "e8 07");
  EXPECT_EQ(Int(Col("b", ValueKind::kBit, "bit(3)"), 5), "05 00 00 00 00 00 00 00");
}

TEST(RowBinaryTest, Floats) {
  EXPECT_EQ(One(Col("f", ValueKind::kFloat, "float"), [](ColumnVector& v) { v.AppendDouble(1.5); }), "00 00 c0 3f");
  EXPECT_EQ(One(Col("d", ValueKind::kDouble, "double"), [](ColumnVector& v) { v.AppendDouble(-2.0); }),
            "00 00 00 00 00 00 00 c0");
}

TEST(RowBinaryTest, Decimals) {
  EXPECT_EQ(Bytes(DecimalCol("d", 9, 2), "12.50"), "e2 04 00 00");     // 1250
  EXPECT_EQ(Bytes(DecimalCol("d", 9, 2), "-0.01"), "ff ff ff ff");     // -1
  EXPECT_EQ(Bytes(DecimalCol("d", 10, 2), "-12.50"), "1e fb ff ff ff ff ff ff");  // -1250
  EXPECT_EQ(Bytes(DecimalCol("d", 10, 2), "7"), "bc 02 00 00 00 00 00 00");       // 700 (scale padded)
  EXPECT_EQ(Bytes(DecimalCol("d", 38, 10), "1.0000000001"), "01 e4 0b 54 02 00 00 00 00 00 00 00 00 00 00 00");
  EXPECT_EQ(Bytes(DecimalCol("d", 38, 0), "99999999999999999999999999999999999999"),
            "ff ff ff ff 3f 22 8a 09 7a c4 86 5a a8 4c 3b 4b");
  EXPECT_EQ(Bytes(DecimalCol("d", 38, 0), "-99999999999999999999999999999999999999"),
            "01 00 00 00 c0 dd 75 f6 85 3b 79 a5 57 b3 c4 b4");
  // DECIMAL(65,30) -1 on a current server: Decimal256 of -10^30.
  EXPECT_EQ(Bytes(DecimalCol("d", 65, 30), "-1.000000000000000000000000000000", kNew),
            "00 00 00 c0 15 12 8b b9 2f 63 d3 60 f3 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff");
  // ... and the canonical text as a String on 18.16.
  EXPECT_EQ(Bytes(DecimalCol("d", 65, 30), "-1.5", kOld), "04 2d 31 2e 35");
  EXPECT_EQ(Bytes(DecimalCol("d", 10, 2, true), "1.00"), "00 64 00 00 00 00 00 00 00");
  EXPECT_THROW(Bytes(DecimalCol("d", 9, 2), "1.234"), Error);
  EXPECT_THROW(Bytes(DecimalCol("d", 9, 2), "abc"), Error);
  EXPECT_THROW(Bytes(DecimalCol("d", 9, 0), "99999999999"), Error);  // does not fit Int32
}

TEST(RowBinaryTest, StringsAndNullable) {
  EXPECT_EQ(Bytes(Col("s", ValueKind::kString, "varchar(3)"), "abc"), "03 61 62 63");
  EXPECT_EQ(Bytes(Col("s", ValueKind::kString, "varchar(3)"), ""), "00");
  EXPECT_EQ(Bytes(Col("s", ValueKind::kString, "varchar(3)", true), "a"), "00 01 61");
  EXPECT_EQ(One(Col("s", ValueKind::kString, "varchar(3)", true), [](ColumnVector& v) { v.AppendNull(); }), "01");
  EXPECT_EQ(One(Col("i", ValueKind::kInt, "int", true), [](ColumnVector& v) { v.AppendNull(); }), "01");
  // 300 bytes: length as LEB128 0xac 0x02.
  const std::string big(300, 'x');
  EXPECT_EQ(Bytes(Col("s", ValueKind::kBytes, "blob"), big).substr(0, 8), "ac 02 78");
  EXPECT_EQ(Bytes(Col("j", ValueKind::kJson, "json"), "{}"), "02 7b 7d");
  // Geometry: 4-byte SRID dropped, WKB kept (POINT(1 2): 01 01000000 then two doubles).
  std::string geo("\x00\x00\x00\x00\x01\x01\x00\x00\x00", 9);
  geo.append(std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8));
  geo.append(std::string("\x00\x00\x00\x00\x00\x00\x00\x40", 8));
  EXPECT_EQ(Bytes(Col("g", ValueKind::kGeometry, "point"), geo),
            "15 01 01 00 00 00 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 00 40");
  // NULL into a NOT NULL column is a data error.
  EXPECT_THROW(One(Col("s", ValueKind::kString, "varchar(3)"), [](ColumnVector& v) { v.AppendNull(); }), Error);
}

TEST(RowBinaryTest, DatesAndTimes) {
  const ColumnSchema date = Col("d", ValueKind::kDate, "date");
  EXPECT_EQ(Int(date, 18262), "56 47");                  // 2020-01-01
  EXPECT_EQ(Int(date, kZeroDate), "00 00");              // zero date → 0 ('0000-00-00' on 18.16)
  EXPECT_EQ(Int(date, -1), "00 00");                     // before 1970: clamped
  EXPECT_EQ(Int(date, 70000), "2d c2");                  // 18.16: after 2106-02-06 (day 49709) clamped
  EXPECT_EQ(Int(Col("d", ValueKind::kDate, "date", true), kZeroDate), "01");  // nullable zero date → NULL

  const ColumnSchema dt = TimeCol("t", ValueKind::kDateTime, "datetime", 0);
  EXPECT_EQ(Int(dt, 1577836800LL * 1000000), "00 e1 0b 5e");       // 2020-01-01 00:00:00
  EXPECT_EQ(Int(dt, 1577836800LL * 1000000 + 999999), "00 e1 0b 5e");  // fraction dropped (fsp 0)
  EXPECT_EQ(Int(dt, kZeroDate), "00 00 00 00");
  EXPECT_EQ(Int(dt, -5), "00 00 00 00");
  EXPECT_EQ(Int(TimeCol("t", ValueKind::kTimestamp, "timestamp", 0), 1LL * 1000000), "01 00 00 00");

  // DateTime64(3): 2020-01-01 00:00:00.123 → 1577836800123 ms = 0x16F5E66E87B.
  const ColumnSchema dt3 = TimeCol("t", ValueKind::kDateTime, "datetime(3)", 3);
  EXPECT_EQ(One(dt3, [](ColumnVector& v) { v.AppendInt(1577836800123456LL); }, kNew), "7b e8 66 5e 6f 01 00 00");
  // Before 1970 (1969-12-31 23:59:59.999): -1 ms.
  EXPECT_EQ(One(dt3, [](ColumnVector& v) { v.AppendInt(-1000); }, kNew), "ff ff ff ff ff ff ff ff");
  // 18.16 has no DateTime64: lossless text.
  const ColumnSchema dt6 = TimeCol("t", ValueKind::kDateTime, "datetime(6)", 6);
  EXPECT_EQ(One(dt6, [](ColumnVector& v) { v.AppendInt(1577836800123456LL); }, kOld),
            Hex("\x1a" "2020-01-01 00:00:00.123456"));
  EXPECT_EQ(One(dt6, [](ColumnVector& v) { v.AppendInt(kZeroDate); }, kOld), Hex("\x1a" "0000-00-00 00:00:00.000000"));
  EXPECT_EQ(RowBinaryEncoder::FormatDateTime(-1, 6), "1969-12-31 23:59:59.999999");
  EXPECT_EQ(RowBinaryEncoder::FormatDateTime(-30610224000LL * 1000000, 0), "1000-01-01 00:00:00");
  EXPECT_EQ(RowBinaryEncoder::FormatDateTime(253402300799LL * 1000000 + 500000, 2), "9999-12-31 23:59:59.50");
  // Outside 0000..9999 (the slow path): the same text as before the fast one.
  EXPECT_EQ(RowBinaryEncoder::FormatDateTime(253402300800LL * 1000000, 1), "10000-01-01 00:00:00.0");
  // The encoder writes what FormatDateTime returns, for every fsp (DATETIME(0) is DateTime on
  // 18.16), across years and times of day.
  for (int fsp = 1; fsp <= 6; ++fsp) {
    const ColumnSchema c = TimeCol("t", ValueKind::kDateTime, "datetime(" + std::to_string(fsp) + ")", fsp);
    for (int64_t us = -30610224000LL * 1000000; us < 253402300799LL * 1000000; us += 987654321012345LL) {
      const std::string text = RowBinaryEncoder::FormatDateTime(us, fsp);
      ASSERT_EQ(text.size(), 20u + static_cast<size_t>(fsp)) << text;
      EXPECT_EQ(One(c, [&](ColumnVector& v) { v.AppendInt(us); }, kOld),
                Hex(std::string(1, static_cast<char>(text.size())) + text));
    }
  }

  // TIME: signed microseconds as Int64; -00:00:01.5 = -1500000.
  EXPECT_EQ(Int(Col("t", ValueKind::kTime, "time(1)"), -1500000), "a0 1c e9 ff ff ff ff ff");
}

// A table (id INT PRIMARY KEY, v VARCHAR NULL) and a chunk builder for it.
struct Fixture {
  TableSchemaPtr schema;
  Fixture() {
    auto s = std::make_shared<TableSchema>();
    s->database = "db";
    s->table = "t";
    s->columns = {Col("id", ValueKind::kInt, "int"), Col("v", ValueKind::kString, "varchar(5)", true)};
    s->primary_key = {0};
    schema = s;
  }
  void Add(ChangeChunk& c, RowOp op, uint64_t version, int64_t id, const char* v) {
    c.BeginRow(op, version, 0, 0);
    c.column(0).AppendInt(id);
    if (v) c.column(1).AppendBytes(v); else c.column(1).AppendNull();
  }
  RowBinaryEncoder Encoder() const {
    std::vector<ColumnType> types;
    for (const auto& c : schema->columns) types.push_back(MapColumnType(c, kOld));
    return RowBinaryEncoder(types, schema->primary_key, {"id", "v"});
  }
};

TEST(RowBinaryTest, RowsCarryVersionAndDeleteFlag) {
  Fixture f;
  ChangeChunk c(f.schema);
  c.AddSource({});
  f.Add(c, RowOp::kInsert, 0x0102, 1, "a");
  f.Add(c, RowOp::kDelete, 0x0103, 2, nullptr);
  std::string out;
  std::vector<size_t> starts;
  EXPECT_EQ(f.Encoder().Encode(c, out, &starts), 2u);
  EXPECT_EQ(Hex(out),
            "01 00 00 00 00 01 61 02 01 00 00 00 00 00 00 00"   // id=1, v='a', _version=0x102, _is_deleted=0
            " 02 00 00 00 01 03 01 00 00 00 00 00 00 01");       // id=2, v=NULL, _version=0x103, _is_deleted=1
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0], 0u);
  EXPECT_EQ(starts[1], 16u);
}

TEST(RowBinaryTest, UpdateBeforeIsSkippedUnlessTheKeyChanged) {
  Fixture f;
  ChangeChunk c(f.schema);
  c.AddSource({});
  f.Add(c, RowOp::kUpdateBefore, 5, 1, "a");
  f.Add(c, RowOp::kUpdateAfter, 5, 1, "b");   // same key: only the after image
  f.Add(c, RowOp::kUpdateBefore, 6, 2, "x");
  f.Add(c, RowOp::kUpdateAfter, 6, 3, "x");   // key 2 → 3: delete 2, insert 3
  std::string out;
  EXPECT_EQ(f.Encoder().Encode(c, out), 3u);
  EXPECT_EQ(Hex(out),
            "01 00 00 00 00 01 62 05 00 00 00 00 00 00 00 00"
            " 02 00 00 00 00 01 78 06 00 00 00 00 00 00 00 01"
            " 03 00 00 00 00 01 78 06 00 00 00 00 00 00 00 00");
}

// Native (ClickHouse "Formats → Native", HTTP, no block info): varint columns, varint rows, then per
// column its name, its type name and its values; Nullable = null map, then values with '' under NULL.
TEST(RowBinaryTest, NativeBlockHasTheSameRowsAsRowBinary) {
  Fixture f;
  ChangeChunk c(f.schema);
  c.AddSource({});
  f.Add(c, RowOp::kInsert, 0x0102, 1, "a");
  f.Add(c, RowOp::kUpdateBefore, 5, 1, "a");
  f.Add(c, RowOp::kUpdateAfter, 5, 1, "bc");  // same key: only the after image
  f.Add(c, RowOp::kDelete, 0x0103, 2, nullptr);
  std::string out;
  EXPECT_EQ(f.Encoder().EncodeNative(c, out), 3u);
  EXPECT_EQ(Hex(out),
            "04 03"                                                    // 4 columns, 3 rows
            " 02 69 64 05 49 6e 74 33 32"                              // id Int32
            " 01 00 00 00 01 00 00 00 02 00 00 00"
            " 01 76 10 4e 75 6c 6c 61 62 6c 65 28 53 74 72 69 6e 67 29"  // v Nullable(String)
            " 00 00 01 01 61 02 62 63 00"
            " 08 5f 76 65 72 73 69 6f 6e 06 55 49 6e 74 36 34"          // _version UInt64
            " 02 01 00 00 00 00 00 00 05 00 00 00 00 00 00 00 03 01 00 00 00 00 00 00"
            " 0b 5f 69 73 5f 64 65 6c 65 74 65 64 05 55 49 6e 74 38"    // _is_deleted UInt8
            " 00 00 01");
  // An update that keeps its key is one row; a chunk without rows writes nothing (an empty block
  // would end the stream).
  ChangeChunk none(f.schema);
  none.AddSource({});
  f.Add(none, RowOp::kUpdateBefore, 7, 1, "a");
  f.Add(none, RowOp::kUpdateAfter, 7, 1, "b");
  std::string one;
  EXPECT_EQ(f.Encoder().EncodeNative(none, one), 1u);
  // Rows gathered from small chunks make the same block.
  ChangeChunk pending(f.schema);
  EXPECT_EQ(f.Encoder().AppendSelected(c, pending), 3u);
  std::string gathered;
  EXPECT_EQ(f.Encoder().EncodeNative(pending, gathered), 3u);
  EXPECT_EQ(Hex(gathered), Hex(out));
  ChangeChunk empty(f.schema);
  std::string nothing;
  EXPECT_EQ(f.Encoder().EncodeNative(empty, nothing), 0u);
  EXPECT_TRUE(nothing.empty());
}

TEST(RowBinaryTest, BadValuesStopOrAreReported) {
  auto s = std::make_shared<TableSchema>();
  s->database = "db";
  s->table = "m";
  s->columns = {Col("id", ValueKind::kInt, "int"), DecimalCol("amount", 9, 2)};
  s->primary_key = {0};
  ChangeChunk c(s);
  c.AddSource({});
  c.BeginRow(RowOp::kInsert, 1, 0, 0);
  c.column(0).AppendInt(1);
  c.column(1).AppendBytes("1.00");
  c.BeginRow(RowOp::kInsert, 2, 0, 0);
  c.column(0).AppendInt(2);
  c.column(1).AppendBytes("not a number");
  RowBinaryEncoder enc({MapColumnType(s->columns[0], kOld), MapColumnType(s->columns[1], kOld)}, {0});
  std::string out;
  try {
    enc.Encode(c, out);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("db.m: column `amount` of row with _version 2"), std::string::npos) << e.what();
  }
  out.clear();
  std::vector<RejectedRow> rejected;
  EXPECT_EQ(enc.Encode(c, out, nullptr, &rejected), 1u);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].version, 2u);
  EXPECT_EQ(out.size(), 4u + 4u + 8u + 1u);  // only row 1

  RowBinaryEncoder native({MapColumnType(s->columns[0], kOld), MapColumnType(s->columns[1], kOld)}, {0},
                          {"id", "amount"});
  out = "kept";
  try {
    native.EncodeNative(c, out);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("db.m: column `amount` of row with _version 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(out, "kept");
}

}  // namespace
}  // namespace sluice::clickhouse
