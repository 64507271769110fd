// Unit tests for event/debezium_reader.h: the records DebeziumEncoder writes decode back to the
// same typed rows and versions under every handling mode; Connect schemas and schemaless records
// of other writers; bad input is a kData error that names the problem.

#include "event/debezium_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/error.h"
#include "event/debezium_json.h"

namespace sluice {
namespace {

uint32_t FileSeq(std::string_view f) {
  return static_cast<uint32_t>(std::stoul(std::string(f.substr(f.rfind('.') + 1))));
}

ColumnSchema Col(std::string name, ValueKind kind, std::string ct, uint8_t my = 0) {
  ColumnSchema c;
  c.name = std::move(name);
  c.kind = kind;
  c.column_type = std::move(ct);
  c.mysql_type = my;
  c.is_unsigned = c.column_type.find("unsigned") != std::string::npos;
  return c;
}

TableSchemaPtr TypesTable() {
  auto t = std::make_shared<TableSchema>();
  t->database = "shop";
  t->table = "items";
  t->columns = {
      Col("id", ValueKind::kInt, "int(11)", 3),
      Col("u16", ValueKind::kUInt, "smallint(5) unsigned", 2),
      Col("u64", ValueKind::kUInt, "bigint(20) unsigned", 8),
      Col("f", ValueKind::kFloat, "float"),
      Col("d", ValueKind::kDouble, "double"),
      Col("dec", ValueKind::kDecimal, "decimal(65,30)"),
      Col("s", ValueKind::kString, "varchar(20)"),
      Col("b", ValueKind::kBytes, "varbinary(20)"),
      Col("dt", ValueKind::kDate, "date"),
      Col("tm", ValueKind::kTime, "time(6)"),
      Col("dtm", ValueKind::kDateTime, "datetime(6)"),
      Col("dtm3", ValueKind::kDateTime, "datetime(3)"),
      Col("ts", ValueKind::kTimestamp, "timestamp(6)"),
      Col("j", ValueKind::kJson, "json"),
      Col("bit1", ValueKind::kBit, "bit(1)"),
      Col("bits", ValueKind::kBit, "bit(13)"),
      Col("g", ValueKind::kGeometry, "geometry"),
  };
  t->columns[0].nullable = false;
  t->columns[5].precision = 65;
  t->columns[5].scale = 30;
  t->columns[10].fsp = 6;
  t->columns[11].fsp = 3;
  t->columns[12].fsp = 6;
  t->columns[14].length = 1;
  t->columns[15].length = 13;
  t->primary_key = {0};
  return t;
}

void AppendRow(ChangeChunk& c, RowOp op, uint64_t version, uint32_t src, uint32_t row, int64_t id, bool nulls) {
  c.BeginRow(op, version, src, row);
  c.column(0).AppendInt(id);
  if (nulls) {
    for (size_t i = 1; i < c.num_columns(); ++i) c.column(i).AppendNull();
    return;
  }
  c.column(1).AppendUInt(65535);
  c.column(2).AppendUInt(18446744073709551615ull);
  c.column(3).AppendDouble(static_cast<double>(3.14159f));
  c.column(4).AppendDouble(-2.2250738585072014e-308);
  c.column(5).AppendBytes("-12345678901234567890123456789012345.000000000000000000000000000001");
  c.column(6).AppendBytes("ünï 🚀");
  c.column(7).AppendBytes(std::string("\x00\xff\x01", 3));
  c.column(8).AppendInt(-3650);  // 1960-01-03 (years 0..99 are changed by enable.time.adjuster)
  c.column(9).AppendInt(-3020399000001);  // -838:59:59.000001
  c.column(10).AppendInt(1704164645123456);
  c.column(11).AppendInt(1704164645123000);
  c.column(12).AppendInt(2147483647999999);
  c.column(13).AppendBytes(R"({"a": [1, 2.5, null]})");
  c.column(14).AppendUInt(1);
  c.column(15).AppendUInt(0x1ABC);
  c.column(16).AppendBytes(std::string("\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\x3f"
                                       "\x00\x00\x00\x00\x00\x00\x00\x40",
                                       25));
}

/// Encodes `chunk` with `o`, decodes every record, and returns the decoded chunk.
ChangeChunk RoundTrip(const ChangeChunk& chunk, const DebeziumOptions& o, bool with_header) {
  DebeziumEncoder enc(o);
  DebeziumDecoder dec({o, FileSeq});
  const std::string header = EncodeSchemaHeader(*chunk.schema());
  enc.EncodeChunk(chunk, [&](const DebeziumRecord& r) {
    std::optional<std::string_view> key, value;
    if (!r.key_is_null) key = r.key;
    if (!r.value_is_null) value = r.value;
    dec.Decode(r.topic, key, value, with_header ? std::optional<std::string_view>(header) : std::nullopt);
  });
  auto chunks = dec.TakeChunks();
  EXPECT_EQ(chunks.size(), 1u);
  return chunks.empty() ? ChangeChunk() : std::move(chunks[0]);
}

void ExpectSameRows(const ChangeChunk& a, const ChangeChunk& b, const std::vector<int>& skip = {}) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.num_columns(), b.num_columns());
  for (size_t r = 0; r < a.size(); ++r) {
    EXPECT_EQ(a.op(r), b.op(r)) << "row " << r;
    EXPECT_EQ(a.version(r), b.version(r)) << "row " << r;
    for (size_t c = 0; c < a.num_columns(); ++c) {
      if (std::find(skip.begin(), skip.end(), static_cast<int>(c)) != skip.end()) continue;
      const ColumnVector &x = a.column(c), &y = b.column(c);
      ASSERT_EQ(x.IsNull(r), y.IsNull(r)) << "row " << r << " column " << a.schema()->columns[c].name;
      if (x.IsNull(r)) continue;
      if (IsVarKind(x.kind())) {
        EXPECT_EQ(x.GetBytes(r), y.GetBytes(r)) << "row " << r << " column " << a.schema()->columns[c].name;
      } else {
        EXPECT_EQ(x.GetInt(r), y.GetInt(r)) << "row " << r << " column " << a.schema()->columns[c].name;
      }
    }
  }
}

ChangeChunk Sample() {
  ChangeChunk c(TypesTable());
  SourceInfo snap;
  snap.file = "mysql-bin.000007";
  snap.pos = 4000;
  snap.snapshot = SourceInfo::Snapshot::kFirst;
  SourceInfo stream;
  stream.file = "mysql-bin.000007";
  stream.pos = 5000;
  stream.server_id = 1;
  const uint32_t s0 = c.AddSource(snap), s1 = c.AddSource(stream);
  AppendRow(c, RowOp::kInsert, MakeVersion(7, 4000, 0) - 1, s0, 0, 1, false);
  AppendRow(c, RowOp::kInsert, MakeVersion(7, 5000, 0), s1, 0, 2, true);
  AppendRow(c, RowOp::kUpdateBefore, MakeVersion(7, 5000, 1), s1, 1, 1, false);
  AppendRow(c, RowOp::kUpdateAfter, MakeVersion(7, 5000, 1), s1, 1, 1, true);
  AppendRow(c, RowOp::kDelete, MakeVersion(7, 5000, 2), s1, 2, 2, true);
  return c;
}

TEST(DebeziumReader, SchemaHeaderRoundTrips) {
  auto t = TypesTable();
  auto back = DecodeSchemaHeader(EncodeSchemaHeader(*t));
  ASSERT_EQ(back->columns.size(), t->columns.size());
  EXPECT_EQ(back->QualifiedName(), "shop.items");
  EXPECT_EQ(back->primary_key, t->primary_key);
  for (size_t i = 0; i < t->columns.size(); ++i) {
    EXPECT_EQ(back->columns[i].name, t->columns[i].name);
    EXPECT_EQ(back->columns[i].kind, t->columns[i].kind);
    EXPECT_EQ(back->columns[i].column_type, t->columns[i].column_type);
    EXPECT_EQ(back->columns[i].nullable, t->columns[i].nullable);
    EXPECT_EQ(back->columns[i].is_unsigned, t->columns[i].is_unsigned);
    EXPECT_EQ(back->columns[i].fsp, t->columns[i].fsp);
    EXPECT_EQ(back->columns[i].scale, t->columns[i].scale);
  }
}

// Truncate events (op "t"): Debezium's shape (key null, no before/after, source at the
// statement), with and without schemas; the decoder reports the table and the version below which
// its rows are gone, appending no rows.
TEST(DebeziumReader, TruncateEventRoundTrips) {
  for (bool schemas : {false, true}) {
    DebeziumOptions o;
    o.topic_prefix = "p";
    o.schemas_enable = schemas;
    DebeziumEncoder enc(o);
    SourceInfo at;
    at.file = "mysql-bin.000007";
    at.pos = 4711;
    at.ts_ms = 1700000000000;
    at.server_id = 1;
    const DebeziumRecord r = enc.EncodeTruncate(TypesTable(), at);
    EXPECT_TRUE(r.key_is_null);
    EXPECT_EQ(r.topic, "p.shop.items");
    const std::string value(r.value);
    EXPECT_NE(value.find("\"op\":\"t\""), std::string::npos) << value;
    EXPECT_NE(value.find("\"before\":null,\"after\":null"), std::string::npos) << value;
    EXPECT_NE(value.find("\"pos\":4711"), std::string::npos) << value;
    EXPECT_EQ(value.rfind("{\"schema\":", 0) == 0, schemas) << value;
    DebeziumDecoderOptions d;
    d.file_sequence = FileSeq;
    DebeziumDecoder dec(d);
    EXPECT_EQ(dec.Decode(r.topic, std::nullopt, std::string_view(value), std::nullopt), 0u);
    auto t = dec.TakeTruncate();
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->database, "shop");
    EXPECT_EQ(t->table, "items");
    EXPECT_EQ(t->version, MakeVersion(7, 4711, 0));
    EXPECT_FALSE(dec.TakeTruncate().has_value());
    EXPECT_EQ(dec.pending_rows(), 0u);
  }
}

TEST(DebeziumReader, DropBelowSkipsATruncatedTablesEarlierChanges) {
  // After DropBelow(db, table, P) the decoder appends nothing for that table's changes below P
  // (read later from another partition than the TRUNCATE's), and those at or above P as before.
  DebeziumOptions o;
  o.topic_prefix = "p";
  DebeziumEncoder enc(o);
  const ChangeChunk in = Sample();
  struct Rec {
    std::string topic;
    std::optional<std::string> key, value;
  };
  std::vector<Rec> records;  // copied: a record's views last only for the callback
  enc.EncodeChunk(in, [&](const DebeziumRecord& r) {
    Rec c{std::string(r.topic), std::nullopt, std::nullopt};
    if (!r.key_is_null) c.key = std::string(r.key);
    if (!r.value_is_null) c.value = std::string(r.value);
    records.push_back(std::move(c));
  });
  ASSERT_GE(in.size(), 2u);
  std::vector<uint64_t> versions;
  for (size_t r = 0; r < in.size(); ++r) {
    if (in.op(r) != RowOp::kUpdateBefore) versions.push_back(in.version(r));
  }
  const uint64_t floor = *std::max_element(versions.begin(), versions.end());
  auto decode_all = [&](DebeziumDecoder& dec) {
    for (const auto& r : records) {
      std::optional<std::string_view> key, value;
      if (r.key) key = *r.key;
      if (r.value) value = *r.value;
      dec.Decode(r.topic, key, value, std::nullopt);
    }
    return dec.pending_rows();
  };
  DebeziumDecoder all({o, FileSeq});
  const size_t every = decode_all(all);
  DebeziumDecoder dropped({o, FileSeq});
  dropped.DropBelow(in.schema()->database, in.schema()->table, floor);
  dropped.DropBelow(in.schema()->database, "other_table", UINT64_MAX);  // another table: no effect
  const size_t kept = decode_all(dropped);
  EXPECT_GT(every, kept);
  EXPECT_GT(kept, 0u);
  for (const auto& c : dropped.TakeChunks()) {
    for (size_t r = 0; r < c.size(); ++r) EXPECT_GE(c.version(r), floor);
  }
  DebeziumDecoder none({o, FileSeq});
  none.DropBelow(in.schema()->database, in.schema()->table, floor + 1);
  EXPECT_EQ(decode_all(none), 0u);
}

TEST(DebeziumReader, DefaultModesDecodeExactlyWithVersions) {
  DebeziumOptions o;
  o.topic_prefix = "p";
  ChangeChunk in = Sample();
  ExpectSameRows(in, RoundTrip(in, o, true));
}

/// What a test checks of an upsert record (DebeziumRecord's views die with the encoder).
struct UpsertSeen {
  std::string topic;
  uint64_t version = 0;
  bool has_before = false;
};

/// Encodes `chunk` as upsert records and decodes them back (headers as a Kafka reader sees them).
ChangeChunk UpsertRoundTrip(const ChangeChunk& chunk, std::vector<UpsertSeen>* seen = nullptr,
                            std::vector<std::string>* values = nullptr) {
  DebeziumOptions o;
  o.topic_prefix = "p";
  o.schemas_enable = true;  // does not apply to upsert records
  DebeziumEncoder enc(o);
  DebeziumDecoder dec({o, FileSeq});
  const std::string header = EncodeSchemaHeader(*chunk.schema());
  enc.EncodeUpsertChunk(chunk, [&](const DebeziumRecord& r) {
    EXPECT_TRUE(r.upsert);
    if (seen) seen->push_back({std::string(r.topic), r.version, r.has_before});
    if (values) values->push_back(r.value_is_null ? "null" : std::string(r.value));
    const std::string version = std::to_string(r.version);
    std::optional<std::string_view> key, value, before;
    if (!r.key_is_null) key = r.key;
    if (!r.value_is_null) value = r.value;
    if (r.has_before) before = r.before;
    dec.DecodeRecord(r.topic, key, value, header, version, before);
  });
  auto chunks = dec.TakeChunks();
  EXPECT_EQ(chunks.size(), 1u);
  return chunks.empty() ? ChangeChunk() : std::move(chunks[0]);
}

TEST(DebeziumReader, UpsertRecordsRoundTripAsAChangelog) {
  // Keyed by the key columns, the row itself as the value (no envelope, no Connect schema), a
  // tombstone for a delete; the version and the row replaced come back from the headers.
  ChangeChunk in = Sample();
  std::vector<UpsertSeen> recs;
  std::vector<std::string> values;
  ExpectSameRows(in, UpsertRoundTrip(in, &recs, &values));
  ASSERT_EQ(values.size(), 4u);  // insert, insert, update (one record), delete
  EXPECT_EQ(recs[0].topic, "p.shop.items");
  EXPECT_EQ(values[0].rfind("{\"id\":1,\"u16\":65535,", 0), 0u) << values[0];
  EXPECT_EQ(values[2].rfind("{\"id\":1,\"u16\":null,", 0), 0u) << values[2];
  EXPECT_EQ(values[3], "null");
  EXPECT_FALSE(recs[0].has_before);
  EXPECT_TRUE(recs[2].has_before);
  EXPECT_EQ(recs[2].version, MakeVersion(7, 5000, 1));

  // An update that moves the row to another key: the old key's tombstone, then the new key's row.
  ChangeChunk moved(TypesTable());
  SourceInfo s;
  s.file = "mysql-bin.000009";
  s.pos = 700;
  const uint32_t si = moved.AddSource(s);
  AppendRow(moved, RowOp::kUpdateBefore, MakeVersion(9, 700, 0), si, 0, 5, true);
  AppendRow(moved, RowOp::kUpdateAfter, MakeVersion(9, 700, 0), si, 0, 6, true);
  values.clear();
  ChangeChunk out = UpsertRoundTrip(moved, nullptr, &values);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.op(0), RowOp::kDelete);
  EXPECT_EQ(out.column(0).GetInt(0), 5);
  EXPECT_EQ(out.op(1), RowOp::kInsert);
  EXPECT_EQ(out.column(0).GetInt(1), 6);
  EXPECT_EQ(values[0], "null");

  // Without the schema header, or with a version that is not a number: a data error naming it.
  DebeziumOptions o;
  o.topic_prefix = "p";
  DebeziumDecoder dec({o, FileSeq});
  try {
    dec.DecodeRecord("p.v", std::nullopt, std::string_view("{\"a\":1}"), std::nullopt, std::string_view("5"),
                     std::nullopt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without the sluice.schema header"), std::string::npos) << e.what();
  }
  const std::string header = EncodeSchemaHeader(*TypesTable());
  try {
    dec.DecodeRecord("p.v", std::nullopt, std::string_view("{\"id\":1}"), header, std::string_view("x1"), std::nullopt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("header 'x1' of an upsert record of p.v is not a number"), std::string::npos)
        << e.what();
  }
  // A tombstone of a key the writer did not know: nothing.
  EXPECT_EQ(dec.DecodeRecord("p.v", std::nullopt, std::nullopt, header, std::string_view("7"), std::nullopt), 0u);
}

TEST(DebeziumReader, EveryHandlingModeDecodesExactly) {
  DebeziumOptions o;
  o.topic_prefix = "p";
  o.decimal_handling = DecimalHandling::kString;
  o.bigint_unsigned = BigIntUnsignedHandling::kPrecise;
  o.binary_handling = BinaryHandling::kHex;
  o.schemas_enable = true;
  ChangeChunk in = Sample();
  ExpectSameRows(in, RoundTrip(in, o, true));
  o.binary_handling = BinaryHandling::kBase64UrlSafe;
  o.schemas_enable = false;
  o.tombstones_on_delete = false;
  ExpectSameRows(in, RoundTrip(in, o, true));
  // time.precision.mode=connect keeps milliseconds and drops TIME outside 00:00..24:00: compare
  // the other columns.
  o.time_precision = TimePrecision::kConnect;
  ExpectSameRows(in, RoundTrip(in, o, true), {9, 10});
}

TEST(DebeziumReader, ConnectSchemaGivesTypes) {
  // Debezium's JsonConverter output with schemas.enable=true (types from the schema, no header).
  DebeziumOptions o;
  o.topic_prefix = "p";
  o.schemas_enable = true;
  ChangeChunk in = Sample();
  ChangeChunk out = RoundTrip(in, o, false);
  const auto& cols = out.schema()->columns;
  EXPECT_EQ(cols[5].kind, ValueKind::kDecimal);
  EXPECT_EQ(cols[5].scale, 30);
  EXPECT_EQ(cols[8].kind, ValueKind::kDate);
  EXPECT_EQ(cols[9].kind, ValueKind::kTime);
  EXPECT_EQ(cols[10].kind, ValueKind::kDateTime);
  EXPECT_EQ(cols[10].fsp, 6);
  EXPECT_EQ(cols[11].fsp, 3);
  EXPECT_EQ(cols[12].kind, ValueKind::kTimestamp);
  EXPECT_EQ(cols[13].kind, ValueKind::kJson);
  EXPECT_EQ(cols[15].kind, ValueKind::kBit);
  EXPECT_EQ(cols[16].kind, ValueKind::kGeometry);
  EXPECT_EQ(out.schema()->primary_key, std::vector<int>{0});
  // u64 is a wrapped int64 (bigint.unsigned.handling.mode=long): its bits survive.
  ExpectSameRows(in, out, {1, 2, 14});
}

TEST(DebeziumReader, SchemalessRecordsAreInferred) {
  DebeziumDecoder dec({DebeziumOptions{}, FileSeq});
  const std::string v =
      R"({"before":null,"after":{"id":5,"name":"x","price":1.5,"ok":true,"tags":[1,2]},"source":{"db":"d","table":"t",)"
      R"("file":"mysql-bin.000002","pos":100,"row":3,"snapshot":"false"},"op":"c","ts_ms":1})";
  EXPECT_EQ(dec.Decode("p.d.t", std::string_view(R"({"id":5})"), std::string_view(v), std::nullopt), 1u);
  auto chunks = dec.TakeChunks();
  ASSERT_EQ(chunks.size(), 1u);
  const auto& c = chunks[0];
  EXPECT_EQ(c.schema()->QualifiedName(), "d.t");
  EXPECT_EQ(c.schema()->primary_key, std::vector<int>{0});
  EXPECT_EQ(c.schema()->columns[1].kind, ValueKind::kString);
  EXPECT_EQ(c.schema()->columns[2].kind, ValueKind::kDouble);
  EXPECT_EQ(c.schema()->columns[4].kind, ValueKind::kJson);
  EXPECT_EQ(c.column(4).GetBytes(0), "[1,2]");
  EXPECT_EQ(c.version(0), MakeVersion(2, 100, 3));
}

TEST(DebeziumReader, TombstonesAndOtherOpsAppendNothing) {
  DebeziumDecoder dec({DebeziumOptions{}, FileSeq});
  EXPECT_EQ(dec.Decode("t", std::string_view("{}"), std::nullopt, std::nullopt), 0u);
  EXPECT_EQ(dec.Decode("t", std::nullopt, std::string_view(R"({"op":"m","source":{}})"), std::nullopt), 0u);
  EXPECT_EQ(dec.pending_rows(), 0u);
  // A truncate event appends nothing either, but needs its table and binlog place (see
  // TruncateEventRoundTrips).
  EXPECT_THROW(dec.Decode("t", std::nullopt, std::string_view(R"({"op":"t","source":{}})"), std::nullopt), Error);
  EXPECT_FALSE(dec.TakeTruncate().has_value());
}

TEST(DebeziumReader, BadRecordsSayWhatIsWrong) {
  DebeziumDecoder dec({DebeziumOptions{}, FileSeq});
  auto message = [&](std::string_view v) {
    try {
      dec.Decode("t", std::nullopt, v, std::nullopt);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kData);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message(R"({"a":1})").find("no \"op\""), std::string::npos);
  EXPECT_NE(message(R"({"op":"c","source":{"db":"d","table":"t"}})").find("file"), std::string::npos);
  EXPECT_NE(message(R"({"op":"c","after":null,"source":{"db":"d","table":"t","file":"f.1","pos":1}})").find("without"),
            std::string::npos);
  // A bad value in one column: nothing of the record is appended.
  const std::string header = EncodeSchemaHeader(*TypesTable());
  const std::string v = R"({"op":"c","before":null,"after":{"id":"oops"},"source":{"db":"shop","table":"items",)"
                        R"("file":"f.000001","pos":1,"row":0}})";
  EXPECT_THROW(dec.Decode("t", std::nullopt, std::string_view(v), std::string_view(header)), Error);
  EXPECT_EQ(dec.pending_rows(), 0u);
  EXPECT_TRUE(dec.TakeChunks().empty());
}

TEST(DebeziumReader, OutOfRangeDecimalScaleIsAnErrorNotAnAllocation) {
  // Found by fuzz.run: a Connect schema with a huge scale made the decimal text that many digits.
  DebeziumOptions o;
  o.schemas_enable = true;
  DebeziumDecoder dec({o, FileSeq});
  const std::string v =
      R"({"schema":{"type":"struct","fields":[{"field":"before","type":"struct","optional":true,"fields":[]},)"
      R"({"field":"after","type":"struct","optional":true,"fields":[{"field":"d","type":"bytes","optional":true,)"
      R"("name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"1245009239"}}]}]},)"
      R"("payload":{"op":"c","before":null,"after":{"d":"AQ=="},"source":{"db":"d","table":"t","file":"f.000001","pos":1}}})";
  try {
    dec.Decode("p.d.t", std::nullopt, std::string_view(v), std::nullopt);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("scale 1245009239"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dec.pending_rows(), 0u);
}

}  // namespace
}  // namespace sluice
