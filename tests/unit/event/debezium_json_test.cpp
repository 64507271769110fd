// Unit tests for event/debezium_json.h.
//
// Every expected value was worked out from Debezium's documentation or from events written by a
// real Debezium, never from this encoder. Sources, cited in the tests as:
//  [types]     debezium.io/documentation/reference/stable/connectors/mysql.html#mysql-data-types
//              ("Basic types", "Temporal types", "Decimal types", "Spatial types").
//  [events]    same page, "Data change events" (create/update/delete, primary key updates,
//              tombstone events).
//  [dbz-3.2.1] a change event written by Debezium 3.2.1.Final's MySQL connector with the
//              JsonConverter and schemas.enable=true, as published in a tutorial (table
//              mydb.customers, topic.prefix dbserver1); quoted verbatim below.
//  [java]      java.math.BigInteger#toByteArray, java.math.BigDecimal#toString,
//              java.lang.Double#toString, java.util.Base64 javadoc.
// Byte/base64 expectations were computed independently with Python (int.to_bytes, base64).

#include "event/civil_time.h"
#include "event/debezium_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"

namespace sluice {
namespace {

using V = std::variant<std::nullptr_t, int64_t, double, std::string>;
V I(int64_t v) { return V{v}; }
V U(uint64_t v) { return V{static_cast<int64_t>(v)}; }
V Dbl(double v) { return V{v}; }
V Str(std::string v) { return V{std::move(v)}; }
const V kNull{nullptr};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

struct TableBuilder {
  std::shared_ptr<TableSchema> t = std::make_shared<TableSchema>();
  TableBuilder(std::string db, std::string table) {
    t->database = std::move(db);
    t->table = std::move(table);
  }
  ColumnSchema& Add(std::string name, ValueKind kind, std::string column_type, bool nullable = true) {
    ColumnSchema c;
    c.name = std::move(name);
    c.kind = kind;
    c.column_type = std::move(column_type);
    c.nullable = nullable;
    c.is_unsigned = c.column_type.find("unsigned") != std::string::npos;
    t->columns.push_back(c);
    return t->columns.back();
  }
  TableBuilder& Key(std::vector<int> pk) {
    t->primary_key = std::move(pk);
    return *this;
  }
  TableSchemaPtr Build() const { return t; }
};

SourceInfo StreamingSource() {
  SourceInfo s;
  s.ts_ms = 1755598922000;
  s.file = "binlog.000003";
  s.pos = 168709;
  s.server_id = 1;
  s.thread = 12;
  return s;
}

void Row(ChangeChunk& chunk, RowOp op, uint32_t source, uint32_t row_in_event, const std::vector<V>& values) {
  ASSERT_EQ(values.size(), chunk.num_columns());
  chunk.BeginRow(op, 0, source, row_in_event);
  for (size_t i = 0; i < values.size(); ++i) {
    ColumnVector& col = chunk.column(i);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            col.AppendNull();
          } else if constexpr (std::is_same_v<T, int64_t>) {
            col.AppendInt(v);
          } else if constexpr (std::is_same_v<T, double>) {
            col.AppendDouble(v);
          } else {
            col.AppendBytes(v);
          }
        },
        values[i]);
  }
}

DebeziumOptions Opts() {
  DebeziumOptions o;
  o.topic_prefix = "dbserver1";
  return o;
}

/// Encodes one inserted row of a one-column table and returns the JSON of that column's value
/// in `after`.
std::string EncodeOne(const DebeziumOptions& o, ColumnSchema col, const V& value) {
  TableBuilder b("db", "t");
  b.t->columns.push_back(std::move(col));
  ChangeChunk chunk(b.Build());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kInsert, s, 0, {value});
  DebeziumEncoder enc(o);
  enc.SetClockForTesting(1);
  enc.Encode(chunk, 0);
  const std::string v(enc.records()[0].value);
  const std::string prefix = "{\"before\":null,\"after\":{\"" + b.t->columns[0].name + "\":";
  EXPECT_EQ(v.substr(0, prefix.size()), prefix) << v;
  const size_t end = v.find("},\"source\":");
  EXPECT_NE(end, std::string::npos) << v;
  return v.substr(prefix.size(), end - prefix.size());
}

ColumnSchema C(std::string name, ValueKind kind, std::string column_type, bool nullable = true) {
  ColumnSchema c;
  c.name = std::move(name);
  c.kind = kind;
  c.column_type = std::move(column_type);
  c.nullable = nullable;
  c.is_unsigned = c.column_type.find("unsigned") != std::string::npos;
  return c;
}

std::string Enc1(ColumnSchema col, const V& value) { return EncodeOne(Opts(), std::move(col), value); }

std::string FieldSchema(const DebeziumOptions& o, ColumnSchema col);
std::string FieldSchemaOf(ColumnSchema col) { return FieldSchema(Opts(), std::move(col)); }

// ---- The envelope, byte for byte against real Debezium ----------------------------------------

TableSchemaPtr Customers() {
  TableBuilder b("mydb", "customers");
  b.Add("id", ValueKind::kInt, "int", false).mysql_type = 3;
  b.Add("first_name", ValueKind::kString, "varchar(255)");
  b.Add("last_name", ValueKind::kString, "varchar(255)");
  b.Add("email", ValueKind::kString, "varchar(255)");
  return b.Key({0}).Build();
}

// [dbz-3.2.1]: the value of the create event, verbatim.
constexpr std::string_view kRealCreate =
    R"({"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"first_name"},{"type":"string","optional":true,"field":"last_name"},{"type":"string","optional":true,"field":"email"}],"optional":true,"name":"dbserver1.mydb.customers.Value","field":"before"},{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"first_name"},{"type":"string","optional":true,"field":"last_name"},{"type":"string","optional":true,"field":"email"}],"optional":true,"name":"dbserver1.mydb.customers.Value","field":"after"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"},{"type":"string","optional":true,"field":"table"},{"type":"int64","optional":false,"field":"server_id"},{"type":"string","optional":true,"field":"gtid"},{"type":"string","optional":false,"field":"file"},{"type":"int64","optional":false,"field":"pos"},{"type":"int32","optional":false,"field":"row"},{"type":"int64","optional":true,"field":"thread"},{"type":"string","optional":true,"field":"query"}],"optional":false,"name":"io.debezium.connector.mysql.Source","version":1,"field":"source"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"},{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"dbserver1.mydb.customers.Envelope","version":2},"payload":{"before":null,"after":{"id":230,"first_name":"John230","last_name":"Doe230","email":"john.doe230@example.com"},"source":{"version":"3.2.1.Final","connector":"mysql","name":"dbserver1","ts_ms":1755598922000,"snapshot":"false","db":"mydb","sequence":null,"ts_us":1755598922000000,"ts_ns":1755598922000000000,"table":"customers","server_id":1,"gtid":null,"file":"binlog.000003","pos":168709,"row":0,"thread":12,"query":null},"transaction":null,"op":"c","ts_ms":1755598922571,"ts_us":1755598922571964,"ts_ns":1755598922571964844}})";

// [dbz-3.2.1]: payload of the following update event (same schema).
constexpr std::string_view kRealUpdatePayload =
    R"({"before":{"id":230,"first_name":"John230","last_name":"Doe230","email":"john.doe230@example.com"},"after":{"id":230,"first_name":"John230","last_name":"Doe230","email":"john.doe.updated230@example.com"},"source":{"version":"3.2.1.Final","connector":"mysql","name":"dbserver1","ts_ms":1755598927000,"snapshot":"false","db":"mydb","sequence":null,"ts_us":1755598927000000,"ts_ns":1755598927000000000,"table":"customers","server_id":1,"gtid":null,"file":"binlog.000003","pos":169054,"row":0,"thread":12,"query":null},"transaction":null,"op":"u","ts_ms":1755598927581,"ts_us":1755598927581026,"ts_ns":1755598927581026596})";

TEST(DebeziumEncoder, CreateEventWithSchemaMatchesRealDebeziumByteForByte) {
  DebeziumOptions o = Opts();
  o.schemas_enable = true;
  o.version = "3.2.1.Final";
  DebeziumEncoder enc(o);
  ChangeChunk chunk(Customers());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kInsert, s, 0, {I(230), Str("John230"), Str("Doe230"), Str("john.doe230@example.com")});
  enc.SetClockForTesting(1755598922571964844);
  ASSERT_EQ(enc.Encode(chunk, 0), 1u);
  ASSERT_EQ(enc.records().size(), 1u);
  const DebeziumRecord& r = enc.records()[0];
  EXPECT_EQ(r.topic, "dbserver1.mydb.customers");
  EXPECT_EQ(r.value, kRealCreate);
  // Key: [events] "Change event keys" (schema fields in JsonConverter's order).
  EXPECT_EQ(r.key,
            R"({"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],)"
            R"("optional":false,"name":"dbserver1.mydb.customers.Key"},"payload":{"id":230}})");
}

TEST(DebeziumEncoder, UpdateEventMatchesRealDebeziumPayload) {
  DebeziumOptions o = Opts();
  o.version = "3.2.1.Final";
  DebeziumEncoder enc(o);
  ChangeChunk chunk(Customers());
  SourceInfo src = StreamingSource();
  src.ts_ms = 1755598927000;
  src.pos = 169054;
  const uint32_t s = chunk.AddSource(src);
  Row(chunk, RowOp::kUpdateBefore, s, 0, {I(230), Str("John230"), Str("Doe230"), Str("john.doe230@example.com")});
  Row(chunk, RowOp::kUpdateAfter, s, 0,
      {I(230), Str("John230"), Str("Doe230"), Str("john.doe.updated230@example.com")});
  enc.SetClockForTesting(1755598927581026596);
  ASSERT_EQ(enc.Encode(chunk, 0), 2u);
  ASSERT_EQ(enc.records().size(), 1u);
  EXPECT_EQ(enc.records()[0].value, kRealUpdatePayload);
  EXPECT_EQ(enc.records()[0].key, R"({"id":230})");
}

// [events] "delete events" + "Tombstone events": a delete is followed by a record with the same
// key and a null value, unless tombstones.on.delete=false.
TEST(DebeziumEncoder, DeleteThenTombstone) {
  ChangeChunk chunk(Customers());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kDelete, s, 3, {I(7), Str("a"), kNull, Str("e")});
  DebeziumEncoder enc(Opts());
  enc.SetClockForTesting(2000000000);
  ASSERT_EQ(enc.Encode(chunk, 0), 1u);
  ASSERT_EQ(enc.records().size(), 2u);
  const auto& del = enc.records()[0];
  EXPECT_EQ(del.key, R"({"id":7})");
  EXPECT_TRUE(StartsWith(del.value,
                         R"({"before":{"id":7,"first_name":"a","last_name":null,"email":"e"},"after":null,"source":)"))
      << del.value;
  EXPECT_NE(del.value.find(R"("row":3,)"), std::string_view::npos);
  EXPECT_NE(del.value.find(R"("op":"d","ts_ms":2000,"ts_us":2000000,"ts_ns":2000000000})"), std::string_view::npos);
  const auto& tomb = enc.records()[1];
  EXPECT_EQ(tomb.topic, "dbserver1.mydb.customers");
  EXPECT_FALSE(tomb.key_is_null);
  EXPECT_EQ(tomb.key, R"({"id":7})");
  EXPECT_TRUE(tomb.value_is_null);

  DebeziumOptions o = Opts();
  o.tombstones_on_delete = false;
  DebeziumEncoder no_tomb(o);
  no_tomb.Encode(chunk, 0);
  EXPECT_EQ(no_tomb.records().size(), 1u);
}

TEST(DebeziumEncoder, TombstoneWithSchemasKeepsKeyEnvelope) {
  ChangeChunk chunk(Customers());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kDelete, s, 0, {I(7), kNull, kNull, kNull});
  DebeziumOptions o = Opts();
  o.schemas_enable = true;
  DebeziumEncoder enc(o);
  enc.Encode(chunk, 0);
  ASSERT_EQ(enc.records().size(), 2u);
  EXPECT_EQ(enc.records()[1].key, enc.records()[0].key);
  EXPECT_EQ(enc.records()[1].key.substr(0, 10), R"({"schema":)");
  EXPECT_TRUE(enc.records()[1].value_is_null);
}

// [events] "Primary key updates": a DELETE with header __debezium.newkey, its tombstone, and a
// CREATE with header __debezium.oldkey.
TEST(DebeziumEncoder, PrimaryKeyUpdateBecomesDeleteTombstoneCreate) {
  ChangeChunk chunk(Customers());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kUpdateBefore, s, 0, {I(1), Str("x"), kNull, kNull});
  Row(chunk, RowOp::kUpdateAfter, s, 0, {I(2), Str("x"), kNull, kNull});
  DebeziumEncoder enc(Opts());
  ASSERT_EQ(enc.Encode(chunk, 0), 2u);
  auto recs = enc.records();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].key, R"({"id":1})");
  EXPECT_NE(recs[0].value.find(R"("after":null)"), std::string_view::npos);
  EXPECT_NE(recs[0].value.find(R"("op":"d")"), std::string_view::npos);
  EXPECT_EQ(recs[0].header_name, "__debezium.newkey");
  EXPECT_EQ(recs[0].header_value, R"({"id":2})");
  EXPECT_EQ(recs[1].key, R"({"id":1})");
  EXPECT_TRUE(recs[1].value_is_null);
  EXPECT_EQ(recs[2].key, R"({"id":2})");
  EXPECT_NE(recs[2].value.find(R"("before":null,"after":{"id":2,)"), std::string_view::npos);
  EXPECT_NE(recs[2].value.find(R"("op":"c")"), std::string_view::npos);
  EXPECT_EQ(recs[2].header_name, "__debezium.oldkey");
  EXPECT_EQ(recs[2].header_value, R"({"id":1})");
}

// [events] "Change event keys": the key is null for a table without a primary key.
TEST(DebeziumEncoder, KeyIsNullWithoutPrimaryKey) {
  TableBuilder b("db", "log");
  b.Add("msg", ValueKind::kString, "text");
  ChangeChunk chunk(b.Build());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kInsert, s, 0, {Str("hi")});
  Row(chunk, RowOp::kDelete, s, 1, {Str("hi")});
  DebeziumOptions o = Opts();
  o.schemas_enable = true;
  DebeziumEncoder enc(o);
  enc.Encode(chunk, 0);
  ASSERT_EQ(enc.records().size(), 1u);
  EXPECT_TRUE(enc.records()[0].key_is_null);
  EXPECT_EQ(enc.KeySchemaJson(chunk.schema()), "");
  enc.Encode(chunk, 1);
  ASSERT_EQ(enc.records().size(), 2u);
  EXPECT_TRUE(enc.records()[1].key_is_null);
  EXPECT_TRUE(enc.records()[1].value_is_null);
  std::string line;
  AppendJsonLine(enc.records()[1], &line);
  EXPECT_EQ(line, "{\"topic\":\"dbserver1.db.log\",\"key\":null,\"value\":null}\n");
}

// A snapshot row is op "r" with source.snapshot "true"/"first"/"last"/"incremental" and no thread
// (the snapshot example in [events]: "snapshot":"last","server_id":0,"thread":null).
TEST(DebeziumEncoder, SnapshotReadIsOpR) {
  ChangeChunk chunk(Customers());
  SourceInfo src;
  src.ts_ms = 1747657597000;
  src.file = "mysql-bin.000007";
  src.pos = 923;
  src.snapshot = SourceInfo::Snapshot::kLast;
  src.thread = 99;
  const uint32_t s = chunk.AddSource(src);
  Row(chunk, RowOp::kInsert, s, 0, {I(1), kNull, kNull, kNull});
  DebeziumEncoder enc(Opts());
  enc.Encode(chunk, 0);
  const std::string_view v = enc.records()[0].value;
  EXPECT_NE(v.find(R"("snapshot":"last","db":"mydb","sequence":null,"ts_us":1747657597000000,)"
                   R"("ts_ns":1747657597000000000,"table":"customers","server_id":0,"gtid":null,)"
                   R"("file":"mysql-bin.000007","pos":923,"row":0,"thread":null,"query":null})"),
            std::string_view::npos)
      << v;
  EXPECT_NE(v.find(R"("op":"r")"), std::string_view::npos);
}

TEST(DebeziumEncoder, TransactionMetadataBlocksAndBeginEndRecords) {
  // provide.transaction.metadata: Debezium's BEGIN/END records and the per-event block.
  ChangeChunk chunk(Customers());
  SourceInfo src = StreamingSource();
  src.gtid = "0-1-42";
  const uint32_t s = chunk.AddSource(src);
  Row(chunk, RowOp::kInsert, s, 0, {I(1), kNull, kNull, kNull});
  Row(chunk, RowOp::kInsert, s, 1, {I(2), kNull, kNull, kNull});
  DebeziumOptions o = Opts();
  o.provide_transaction_metadata = true;
  DebeziumEncoder enc(o);
  EXPECT_EQ(DebeziumTransactionId(src), "0-1-42");
  SourceInfo no_gtid = StreamingSource();
  EXPECT_EQ(DebeziumTransactionId(no_gtid), no_gtid.file + ":" + std::to_string(no_gtid.pos));
  // Outside a transaction: null.
  enc.Encode(chunk, 0);
  EXPECT_NE(enc.records()[0].value.find(R"("transaction":null,"op":"c")"), std::string_view::npos);

  enc.BeginTransaction("0-1-42");
  const DebeziumRecord begin = enc.TransactionRecord(true, 1000);
  EXPECT_EQ(begin.topic, "dbserver1.transaction");
  EXPECT_EQ(begin.key, R"({"id":"0-1-42"})");
  EXPECT_EQ(begin.value, R"({"status":"BEGIN","id":"0-1-42","event_count":null,"data_collections":null,"ts_ms":1000})");
  std::vector<std::string> blocks;
  enc.EncodeChunk(chunk, [&](const DebeziumRecord& r) {
    const size_t at = r.value.find(R"("transaction":)");
    blocks.emplace_back(r.value.substr(at, r.value.find("},", at) - at + 1));
  });
  EXPECT_EQ(blocks, (std::vector<std::string>{
                        R"("transaction":{"id":"0-1-42","total_order":1,"data_collection_order":1})",
                        R"("transaction":{"id":"0-1-42","total_order":2,"data_collection_order":2})"}));
  EXPECT_TRUE(enc.in_transaction());
  const DebeziumRecord end = enc.TransactionRecord(false, 1000);
  EXPECT_EQ(end.value, R"({"status":"END","id":"0-1-42","event_count":2,"data_collections":[)"
                       R"({"data_collection":"mydb.customers","event_count":2}],"ts_ms":1000})");
  EXPECT_FALSE(enc.in_transaction());

  // With schemas: Debezium's TransactionMetadataKey/Value envelopes.
  o.schemas_enable = true;
  o.transaction_topic = "txn";
  DebeziumEncoder with_schema(o);
  with_schema.BeginTransaction("t1");
  const DebeziumRecord b2 = with_schema.TransactionRecord(true, 5);
  EXPECT_EQ(b2.topic, "dbserver1.txn");
  EXPECT_TRUE(StartsWith(b2.key, R"({"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}])"));
  EXPECT_NE(b2.key.find(R"("payload":{"id":"t1"}})"), std::string_view::npos);
  EXPECT_NE(b2.value.find(R"("name":"io.debezium.connector.common.TransactionMetadataValue")"), std::string_view::npos);
  EXPECT_NE(b2.value.find(R"("payload":{"status":"BEGIN","id":"t1")"), std::string_view::npos);
}

TEST(DebeziumEncoder, GtidQueryAndSourceVersion) {
  ChangeChunk chunk(Customers());
  SourceInfo src = StreamingSource();
  src.gtid = "0-1-42";
  src.query = "INSERT INTO customers VALUES (1,'a\"b',NULL,NULL)";
  const uint32_t s = chunk.AddSource(src);
  Row(chunk, RowOp::kInsert, s, 0, {I(1), kNull, kNull, kNull});
  DebeziumEncoder plain(Opts());
  plain.Encode(chunk, 0);
  EXPECT_NE(plain.records()[0].value.find(R"("gtid":"0-1-42")"), std::string_view::npos);
  EXPECT_NE(plain.records()[0].value.find(R"("query":null)"), std::string_view::npos);
  EXPECT_NE(plain.records()[0].value.find(R"({"version":"3.6.1.Sluice-0.1.0","connector":"mysql","name":"dbserver1",)"),
            std::string_view::npos);
  DebeziumOptions o = Opts();
  o.include_query = true;
  DebeziumEncoder with_query(o);
  with_query.Encode(chunk, 0);
  EXPECT_NE(with_query.records()[0].value.find(R"x("query":"INSERT INTO customers VALUES (1,'a\"b',NULL,NULL)"})x"),
            std::string_view::npos);
}

TEST(DebeziumEncoder, EncodeChunkWalksAllRowsAndPairs) {
  ChangeChunk chunk(Customers());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kInsert, s, 0, {I(1), kNull, kNull, kNull});
  Row(chunk, RowOp::kUpdateBefore, s, 0, {I(1), kNull, kNull, kNull});
  Row(chunk, RowOp::kUpdateAfter, s, 0, {I(1), Str("n"), kNull, kNull});
  Row(chunk, RowOp::kDelete, s, 0, {I(1), Str("n"), kNull, kNull});
  DebeziumEncoder enc(Opts());
  std::string out;
  enc.EncodeChunk(chunk, [&](const DebeziumRecord& r) { AppendJsonLine(r, &out); });
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4);  // c, u, d, tombstone
  EXPECT_TRUE(StartsWith(out, "{\"topic\":\"dbserver1.mydb.customers\",\"key\":{\"id\":1}")) << out;
  EXPECT_NE(out.find(",\"value\":null}\n"), std::string::npos);
}

// The source block is formatted once per binlog event and reused for its other rows: a change
// of any field (in a new chunk, whose SourceInfo may sit at the old one's address) must show.
TEST(DebeziumEncoder, SourceBlockFollowsEverySourceField) {
  DebeziumEncoder enc(Opts());
  enc.SetClockForTesting(1);
  auto source_of = [&](const SourceInfo& src, uint32_t row_in_event) {
    ChangeChunk chunk(Customers());
    const uint32_t s = chunk.AddSource(src);
    Row(chunk, RowOp::kInsert, s, row_in_event, {I(1), kNull, kNull, kNull});
    enc.Encode(chunk, 0);
    const std::string_view v = enc.records()[0].value;
    const size_t b = v.find("\"source\":");
    return std::string(v.substr(b, v.find('}', b) - b));
  };
  const SourceInfo base = StreamingSource();
  const std::string first = source_of(base, 0);
  EXPECT_EQ(first,
            R"("source":{"version":"3.6.1.Sluice-0.1.0","connector":"mysql","name":"dbserver1",)"
            R"("ts_ms":1755598922000,"snapshot":"false","db":"mydb","sequence":null,"ts_us":1755598922000000,)"
            R"("ts_ns":1755598922000000000,"table":"customers","server_id":1,"gtid":null,"file":"binlog.000003",)"
            R"("pos":168709,"row":0,"thread":12,"query":null)");
  EXPECT_EQ(source_of(base, 0), first);
  EXPECT_NE(source_of(base, 3).find(R"("pos":168709,"row":3,"thread":12,)"), std::string::npos);
  SourceInfo s = base;
  s.ts_ms = 1000;
  EXPECT_NE(source_of(s, 0).find(R"("ts_ms":1000,"snapshot":"false","db":"mydb","sequence":null,"ts_us":1000000,"ts_ns":1000000000,)"),
            std::string::npos);
  s = base;
  s.pos = 4;
  EXPECT_NE(source_of(s, 0).find(R"("pos":4,)"), std::string::npos);
  s = base;
  s.file = "binlog.000004";
  EXPECT_NE(source_of(s, 0).find(R"("file":"binlog.000004",)"), std::string::npos);
  s = base;
  s.gtid = "0-1-7";
  EXPECT_NE(source_of(s, 0).find(R"("gtid":"0-1-7",)"), std::string::npos);
  s = base;
  s.server_id = 9;
  EXPECT_NE(source_of(s, 0).find(R"("server_id":9,)"), std::string::npos);
  s = base;
  s.thread = 77;
  EXPECT_NE(source_of(s, 0).find(R"("thread":77,)"), std::string::npos);
  s = base;
  s.snapshot = SourceInfo::Snapshot::kLast;
  EXPECT_NE(source_of(s, 0).find(R"("snapshot":"last",)"), std::string::npos);
  EXPECT_NE(source_of(s, 0).find(R"("thread":null,)"), std::string::npos);
  EXPECT_EQ(source_of(base, 0), first);
  // Another table with the same source: its own db and table.
  TableBuilder b("otherdb", "other");
  b.Add("id", ValueKind::kInt, "int", false);
  ChangeChunk chunk(b.Key({0}).Build());
  const uint32_t si = chunk.AddSource(base);
  Row(chunk, RowOp::kInsert, si, 0, {I(1)});
  enc.Encode(chunk, 0);
  EXPECT_NE(enc.records()[0].value.find(R"("db":"otherdb",)"), std::string_view::npos);
  EXPECT_NE(enc.records()[0].value.find(R"("table":"other",)"), std::string_view::npos);
}

// The envelope's ts_ms/ts_us/ts_ns are the encoding time in three units (floor division).
TEST(DebeziumEncoder, EnvelopeTimesAtEveryMagnitude) {
  ChangeChunk chunk(Customers());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kInsert, s, 0, {I(1), kNull, kNull, kNull});
  DebeziumEncoder enc(Opts());
  for (int64_t ns : {int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{999999}, int64_t{1000000}, int64_t{1234567},
                     int64_t{1755598922571964844}, int64_t{-1}, int64_t{-1500000}}) {
    enc.SetClockForTesting(ns);
    enc.Encode(chunk, 0);
    const auto floor_div = [](int64_t a, int64_t b) { return a / b - ((a % b != 0) && (a < 0)); };
    const std::string tail = ",\"op\":\"c\",\"ts_ms\":" + std::to_string(floor_div(ns, 1000000)) +
                             ",\"ts_us\":" + std::to_string(floor_div(ns, 1000)) + ",\"ts_ns\":" + std::to_string(ns) + "}";
    EXPECT_TRUE(EndsWith(enc.records()[0].value, tail)) << ns << ": " << enc.records()[0].value;
  }
}

TEST(DebeziumEncoder, TopicCharactersOutsideKafkasAlphabetBecomeUnderscore) {
  TableBuilder b("my db", "t\xC3\xA9st$1");
  b.Add("a", ValueKind::kInt, "int");
  DebeziumEncoder enc(Opts());
  EXPECT_EQ(enc.Topic(b.Build()), "dbserver1.my_db.t_st_1");
  TableBuilder view("", "revenue_by_day");
  view.Add("a", ValueKind::kInt, "int");
  EXPECT_EQ(enc.Topic(view.Build()), "dbserver1.revenue_by_day");
}

// ---- Value mappings, per type and handling mode ([types]) -------------------------------------

// [types] Basic types: TINYINT/SMALLINT INT16, MEDIUMINT/INT INT32, BIGINT INT64; unsigned types
// widened (BinlogValueConverters: SMALLINT UNSIGNED -> INT32, INT UNSIGNED -> INT64).
TEST(DebeziumTypes, Integers) {
  EXPECT_EQ(Enc1(C("a", ValueKind::kInt, "tinyint(4)"), I(-128)), "-128");
  EXPECT_EQ(Enc1(C("a", ValueKind::kUInt, "smallint(5) unsigned"), U(65535)), "65535");
  EXPECT_EQ(Enc1(C("a", ValueKind::kUInt, "int(10) unsigned"), U(4294967295u)), "4294967295");
  EXPECT_EQ(Enc1(C("a", ValueKind::kInt, "bigint(20)"), I(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(Enc1(C("a", ValueKind::kInt, "year(4)"), I(2024)), "2024");  // io.debezium.time.Year
}

// bigint.unsigned.handling.mode: long (default) is a Java long, so values above 2^63 wrap
// negative; precise is a Connect Decimal(20,0): BigInteger(18446744073709551615).toByteArray() =
// 00 FF FF FF FF FF FF FF FF.
TEST(DebeziumTypes, BigIntUnsignedModes) {
  const ColumnSchema col = C("a", ValueKind::kUInt, "bigint(20) unsigned");
  EXPECT_EQ(Enc1(col, U(UINT64_MAX)), "-1");
  EXPECT_EQ(Enc1(col, U(9223372036854775808u)), "-9223372036854775808");
  EXPECT_EQ(Enc1(col, U(42)), "42");
  DebeziumOptions o = Opts();
  o.bigint_unsigned = BigIntUnsignedHandling::kPrecise;
  EXPECT_EQ(EncodeOne(o, col, U(UINT64_MAX)), "\"AP//////////\"");
  EXPECT_EQ(EncodeOne(o, col, U(0)), "\"AA==\"");
}

// [types] FLOAT -> FLOAT32 (Jackson prints Float.toString), FLOAT(M,D) and DOUBLE -> FLOAT64
// (a FLOAT(M,D) value is the float widened to double: convertDouble(Float.doubleValue())).
TEST(DebeziumTypes, FloatingPoint) {
  const double f = static_cast<double>(1.1f);
  EXPECT_EQ(Enc1(C("a", ValueKind::kFloat, "float"), Dbl(f)), "1.1");
  EXPECT_EQ(Enc1(C("a", ValueKind::kFloat, "float(10,2)"), Dbl(f)), "1.100000023841858");
  EXPECT_EQ(Enc1(C("a", ValueKind::kDouble, "double"), Dbl(1e20)), "1.0E20");
  EXPECT_EQ(Enc1(C("a", ValueKind::kDouble, "double"), Dbl(-0.5)), "-0.5");
  EXPECT_EQ(Enc1(C("a", ValueKind::kDouble, "double"), Dbl(3.0)), "3.0");
}

// [types] Decimal types. precise: Connect Decimal = base64 of the unscaled value's
// BigInteger.toByteArray() ([java]); double: Double; string: BigDecimal.toString().
TEST(DebeziumTypes, DecimalPrecise) {
  ColumnSchema col = C("a", ValueKind::kDecimal, "decimal(10,2)");
  col.precision = 10;
  col.scale = 2;
  EXPECT_EQ(Enc1(col, Str("-12.50")), "\"+x4=\"");  // -1250 = FB 1E
  EXPECT_EQ(Enc1(col, Str("1.00")), "\"ZA==\"");    // 100 = 64
  EXPECT_EQ(Enc1(col, Str("0.00")), "\"AA==\"");
  EXPECT_EQ(Enc1(col, Str("1.28")), "\"AIA=\"");    // 128 needs a sign byte: 00 80
  EXPECT_EQ(Enc1(col, Str("-1.28")), "\"gA==\"");   // -128 = 80
  EXPECT_EQ(Enc1(col, Str("-1.29")), "\"/38=\"");   // -129 = FF 7F
  ColumnSchema big = C("a", ValueKind::kDecimal, "decimal(65,30)");
  big.precision = 65;
  big.scale = 30;
  const std::string max = std::string(35, '9') + "." + std::string(30, '9');
  EXPECT_EQ(Enc1(big, Str(max)), "\"APMWJxx/w5CKi+9GTjlF73olNgn//////////w==\"");
  EXPECT_EQ(Enc1(big, Str("-" + max)), "\"/wzp2OOAPG91dBC5sca6EIXayfYAAAAAAAAAAQ==\"");
}

TEST(DebeziumTypes, DecimalDoubleAndString) {
  ColumnSchema col = C("a", ValueKind::kDecimal, "decimal(10,2)");
  col.precision = 10;
  col.scale = 2;
  DebeziumOptions d = Opts();
  d.decimal_handling = DecimalHandling::kDouble;
  EXPECT_EQ(EncodeOne(d, col, Str("-12.50")), "-12.5");
  EXPECT_EQ(EncodeOne(d, col, Str("12345678.90")), "1.23456789E7");
  EXPECT_EQ(EncodeOne(d, col, Str("-0.00")), "0.0");
  DebeziumOptions s = Opts();
  s.decimal_handling = DecimalHandling::kString;
  EXPECT_EQ(EncodeOne(s, col, Str("-12.50")), "\"-12.50\"");
  EXPECT_EQ(EncodeOne(s, col, Str("0.00")), "\"0.00\"");
  ColumnSchema big = C("a", ValueKind::kDecimal, "decimal(65,30)");
  big.precision = 65;
  big.scale = 30;
  // Debezium writes BigDecimal.toPlainString() (seen against Debezium 3.6.1 on MariaDB in
  // tests/integration/pipeline/debezium_diff_test.py): never E notation.
  EXPECT_EQ(EncodeOne(s, big, Str("0." + std::string(30, '0'))), "\"0." + std::string(30, '0') + "\"");
  EXPECT_EQ(EncodeOne(s, big, Str("0." + std::string(29, '0') + "1")), "\"0." + std::string(29, '0') + "1\"");
  EXPECT_EQ(EncodeOne(s, col, Str("-0.00")), "\"0.00\"");
  EXPECT_EQ(EncodeOne(s, big, Str("1." + std::string(30, '0'))), "\"1.000000000000000000000000000000\"");
}

// The 18-digit fast path and the multi-limb path must agree at their boundary ([java]
// BigInteger#toByteArray; expectations from Python's int.to_bytes).
TEST(DebeziumTypes, DecimalBytesAcrossTheFastPathBoundary) {
  using debezium_internal::DecimalUnscaledBytes;
  auto hex = [](const std::string& b) {
    std::string out;
    for (unsigned char c : b) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
    return out;
  };
  EXPECT_EQ(hex(DecimalUnscaledBytes("999999999999999999")), "0de0b6b3a763ffff");    // 18 digits
  EXPECT_EQ(hex(DecimalUnscaledBytes("-999999999999999999")), "f21f494c589c0001");
  EXPECT_EQ(hex(DecimalUnscaledBytes("9999999999999999999")), "008ac7230489e7ffff"); // 19 digits
  EXPECT_EQ(hex(DecimalUnscaledBytes("-9999999999999999999")), "ff7538dcfb76180001");
  EXPECT_EQ(hex(DecimalUnscaledBytes("-9223372036854775808")), "8000000000000000");   // -2^63
  EXPECT_EQ(hex(DecimalUnscaledBytes("000.001")), "01");
  EXPECT_THROW(DecimalUnscaledBytes(""), Error);
  EXPECT_THROW(DecimalUnscaledBytes("."), Error);
  EXPECT_THROW(DecimalUnscaledBytes(std::string(97, '9')), Error);
}

// [java] BigDecimal#toString examples.
TEST(DebeziumTypes, JavaBigDecimalToString) {
  using debezium_internal::JavaBigDecimalString;
  EXPECT_EQ(JavaBigDecimalString("123"), "123");
  EXPECT_EQ(JavaBigDecimalString("-12.50"), "-12.50");
  EXPECT_EQ(JavaBigDecimalString("0.000001"), "0.000001");    // adjusted exponent -6: plain
  EXPECT_EQ(JavaBigDecimalString("0.0000012"), "0.0000012");  // adjusted -6
  EXPECT_EQ(JavaBigDecimalString("0.0000001"), "1E-7");
  EXPECT_EQ(JavaBigDecimalString("-0.00000012"), "-1.2E-7");
  EXPECT_EQ(JavaBigDecimalString("-0.00"), "0.00");  // BigDecimal has no negative zero
  EXPECT_THROW(JavaBigDecimalString("1e5"), Error);
}

TEST(DebeziumTypes, FailedEncodeLeavesNoRecords) {
  TableBuilder b("db", "t");
  b.Add("a", ValueKind::kDecimal, "decimal(10,2)");
  ChangeChunk chunk(b.Build());
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kInsert, s, 0, {Str("1.00")});
  Row(chunk, RowOp::kInsert, s, 0, {Str("x")});
  DebeziumEncoder enc(Opts());
  enc.Encode(chunk, 0);
  EXPECT_EQ(enc.records().size(), 1u);
  EXPECT_THROW(enc.Encode(chunk, 1), Error);
  EXPECT_EQ(enc.records().size(), 0u);
}

TEST(DebeziumTypes, MalformedDecimalIsADataError) {
  try {
    Enc1(C("a", ValueKind::kDecimal, "decimal(10,2)"), Str("12,5"));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("12,5"), std::string::npos);
  }
}

// [types] Temporal types, time.precision.mode=adaptive_time_microseconds (default).
TEST(DebeziumTypes, TemporalAdaptive) {
  EXPECT_EQ(Enc1(C("a", ValueKind::kDate, "date"), I(19724)), "19724");  // 2024-01-02
  // TIME as MicroTime; negative values are kept (Duration.toNanos() / 1000).
  EXPECT_EQ(Enc1(C("a", ValueKind::kTime, "time"), I(-3020399000000)), "-3020399000000");  // -838:59:59
  ColumnSchema t6 = C("a", ValueKind::kTime, "time(6)");
  t6.fsp = 6;
  EXPECT_EQ(Enc1(t6, I(45296789012)), "45296789012");
  // [types] "DATETIME with a value of 2018-06-20 06:37:03 becomes 1529476623000".
  EXPECT_EQ(Enc1(C("a", ValueKind::kDateTime, "datetime"), I(1529476623000000)), "1529476623000");
  ColumnSchema dt3 = C("a", ValueKind::kDateTime, "datetime(3)");
  dt3.fsp = 3;
  EXPECT_EQ(Enc1(dt3, I(1529476623123000)), "1529476623123");  // still io.debezium.time.Timestamp
  ColumnSchema dt6 = C("a", ValueKind::kDateTime, "datetime(6)");
  dt6.fsp = 6;
  EXPECT_EQ(Enc1(dt6, I(1529476623123456)), "1529476623123456");  // MicroTimestamp
  EXPECT_EQ(Enc1(dt6, I(-500000)), "-500000");                    // 1969-12-31 23:59:59.5
  // [types] "TIMESTAMP with a value of 2018-06-20 06:37:03 becomes 2018-06-20T13:37:03Z" (UTC).
  EXPECT_EQ(Enc1(C("a", ValueKind::kTimestamp, "timestamp"), I(1529501823000000)), "\"2018-06-20T13:37:03Z\"");
}

// ZonedTimestamp with the column's fsp: exactly fsp fraction digits
// (ZonedTimestamp.getDateTimeFormatter(fractionalWidth)).
TEST(DebeziumTypes, TimestampFractionDigitsFollowFsp) {
  ColumnSchema ts6 = C("a", ValueKind::kTimestamp, "timestamp(6)");
  ts6.fsp = 6;
  EXPECT_EQ(Enc1(ts6, I(1704164645120000)), "\"2024-01-02T03:04:05.120000Z\"");
  ColumnSchema ts3 = C("a", ValueKind::kTimestamp, "timestamp(3)");
  ts3.fsp = 3;
  EXPECT_EQ(Enc1(ts3, I(1704164645120000)), "\"2024-01-02T03:04:05.120Z\"");
  ColumnSchema ts2 = C("a", ValueKind::kTimestamp, "timestamp(2)");  // fsp from COLUMN_TYPE
  EXPECT_EQ(Enc1(ts2, I(1704164645000000)), "\"2024-01-02T03:04:05.00Z\"");
}

// [types] time.precision.mode=connect: Kafka Connect Date (days), Time (int32 millis), Timestamp
// (millis); TIME values outside 00:00..24:00 cannot be represented and are null.
TEST(DebeziumTypes, TemporalConnect) {
  DebeziumOptions o = Opts();
  o.time_precision = TimePrecision::kConnect;
  EXPECT_EQ(EncodeOne(o, C("a", ValueKind::kDate, "date"), I(19724)), "19724");
  EXPECT_EQ(EncodeOne(o, C("a", ValueKind::kTime, "time(3)"), I(45296789000)), "45296789");
  EXPECT_EQ(EncodeOne(o, C("a", ValueKind::kTime, "time"), I(-1000000)), "null");
  EXPECT_EQ(EncodeOne(o, C("a", ValueKind::kTime, "time"), I(90000000000)), "null");  // 25:00:00
  ColumnSchema dt6 = C("a", ValueKind::kDateTime, "datetime(6)");
  dt6.fsp = 6;
  EXPECT_EQ(EncodeOne(o, dt6, I(1529476623123456)), "1529476623123");
  ColumnSchema ts6 = C("a", ValueKind::kTimestamp, "timestamp(6)");
  ts6.fsp = 6;  // TIMESTAMP does not depend on time.precision.mode
  EXPECT_EQ(EncodeOne(o, ts6, I(1704164645120000)), "\"2024-01-02T03:04:05.120000Z\"");
}

// [types] Temporal types: "zero-values as null values when the column definition allows null
// values, or as the epoch day when the column does not allow null values"; a NOT NULL column
// with a default gets the default (JdbcValueConverters.convertValue uses the schema default).
TEST(DebeziumTypes, ZeroDates) {
  EXPECT_EQ(Enc1(C("a", ValueKind::kDate, "date"), I(kZeroDate)), "null");
  EXPECT_EQ(Enc1(C("a", ValueKind::kDate, "date", false), I(kZeroDate)), "0");
  EXPECT_EQ(Enc1(C("a", ValueKind::kDateTime, "datetime", false), I(kZeroDate)), "0");
  EXPECT_EQ(Enc1(C("a", ValueKind::kDateTime, "datetime"), I(kZeroDate)), "null");
  EXPECT_EQ(Enc1(C("a", ValueKind::kTimestamp, "timestamp"), I(0)), "null");
  EXPECT_EQ(Enc1(C("a", ValueKind::kTimestamp, "timestamp", false), I(0)), "\"1970-01-01T00:00:00Z\"");
  ColumnSchema with_default = C("a", ValueKind::kDate, "date", false);
  with_default.has_default = true;
  with_default.default_value = "'2000-01-01'";
  EXPECT_EQ(Enc1(with_default, I(kZeroDate)), "10957");
}

// enable.time.adjuster (default true): two-digit years 00-69 -> 2000-2069, 70-99 -> 1970-1999.
TEST(DebeziumTypes, TimeAdjusterForTwoDigitYears) {
  EXPECT_EQ(Enc1(C("a", ValueKind::kDate, "date"), I(-701206)), "29279");  // 0050-03-01 -> 2050-03-01
  EXPECT_EQ(Enc1(C("a", ValueKind::kDate, "date"), I(-688297)), "5663");   // 0085-07-04 -> 1985-07-04
  EXPECT_EQ(Enc1(C("a", ValueKind::kDateTime, "datetime"), I(-701206LL * 86400000000 + 1000000)),
            "2529705601000");
  DebeziumOptions o = Opts();
  o.enable_time_adjuster = false;
  EXPECT_EQ(EncodeOne(o, C("a", ValueKind::kDate, "date"), I(-701206)), "-701206");
}

// [types] BIT(1) -> BOOLEAN; BIT(>1) -> io.debezium.data.Bits, little-endian bytes sized to
// n/8 + (n%8 == 0 ? 0 : 1).
TEST(DebeziumTypes, Bits) {
  ColumnSchema b1 = C("a", ValueKind::kBit, "bit(1)");
  b1.length = 1;
  EXPECT_EQ(Enc1(b1, U(1)), "true");
  EXPECT_EQ(Enc1(b1, U(0)), "false");
  ColumnSchema b64 = C("a", ValueKind::kBit, "bit(64)");
  b64.length = 64;
  EXPECT_EQ(Enc1(b64, U(UINT64_MAX)), "\"//////////8=\"");
  ColumnSchema b10 = C("a", ValueKind::kBit, "bit(10)");
  b10.length = 10;
  EXPECT_EQ(Enc1(b10, U(0b1010100101)), "\"pQI=\"");  // A5 02
  EXPECT_EQ(Enc1(b10, U(0)), "\"AAA=\"");              // 00 00: always ceil(10/8) bytes
}

TEST(DebeziumTypes, StringsEnumsSetsJson) {
  EXPECT_EQ(Enc1(C("a", ValueKind::kString, "varchar(10)"), Str("h\xC3\xA9 \"q\"\n")), "\"h\xC3\xA9 \\\"q\\\"\\n\"");
  EXPECT_EQ(Enc1(C("a", ValueKind::kString, "varchar(10)"), Str("bad\xFF")), "\"bad\xEF\xBF\xBD\"");
  EXPECT_EQ(Enc1(C("a", ValueKind::kString, "char(3)"), Str(std::string("\x01", 1))), "\"\\u0001\"");
  ColumnSchema e = C("a", ValueKind::kString, "enum('x','y')");
  e.is_enum = true;
  e.enum_values = {"x", "y"};
  EXPECT_EQ(Enc1(e, Str("y")), "\"y\"");
  ColumnSchema set = C("a", ValueKind::kString, "set('x','y')");
  set.is_set = true;
  set.enum_values = {"x", "y"};
  EXPECT_EQ(Enc1(set, Str("x,y")), "\"x,y\"");
  // [types] JSON -> io.debezium.data.Json: a string holding the JSON text.
  EXPECT_EQ(Enc1(C("a", ValueKind::kJson, "json"), Str(R"({"k": [1, "v"]})")), R"("{\"k\": [1, \"v\"]}")");
  EXPECT_EQ(Enc1(C("a", ValueKind::kJson, "json"), kNull), "null");
}

// [types] BINARY/VARBINARY/BLOB per binary.handling.mode: bytes (default; JsonConverter writes
// base64), base64, base64-url-safe, hex. BINARY(n) is right-padded with 0x00 (DBZ-254).
TEST(DebeziumTypes, BinaryHandlingModes) {
  ColumnSchema bin = C("a", ValueKind::kBytes, "binary(4)");
  bin.length = 4;
  EXPECT_EQ(Enc1(bin, Str("ab")), "\"YWIAAA==\"");
  const ColumnSchema vb = C("a", ValueKind::kBytes, "varbinary(8)");
  EXPECT_EQ(Enc1(vb, Str("\xFB\xFF")), "\"+/8=\"");
  EXPECT_EQ(Enc1(vb, Str("")), "\"\"");
  DebeziumOptions o = Opts();
  o.binary_handling = BinaryHandling::kBase64;
  EXPECT_EQ(EncodeOne(o, vb, Str("\xFB\xFF")), "\"+/8=\"");
  o.binary_handling = BinaryHandling::kBase64UrlSafe;
  EXPECT_EQ(EncodeOne(o, vb, Str("\xFB\xFF")), "\"-_8=\"");
  o.binary_handling = BinaryHandling::kHex;
  EXPECT_EQ(EncodeOne(o, vb, Str("\xFB\xFF")), "\"fbff\"");
  EXPECT_EQ(EncodeOne(o, bin, Str("ab")), "\"61620000\"");
}

// [types] Spatial types: io.debezium.data.geometry.Geometry {wkb, srid}; MySQL's value is a
// 4-byte little-endian SRID then WKB (BinlogGeometry.fromBytes), SRID 0 -> null. POINT columns
// use io.debezium.data.geometry.Point, which adds x and y.
TEST(DebeziumTypes, Geometry) {
  const std::string wkb_point = std::string("\x01\x01\x00\x00\x00", 5) + std::string("\x00\x00\x00\x00\x00\x00\xF0\x3F", 8) +
                                std::string("\x00\x00\x00\x00\x00\x00\x00\x40", 8);  // POINT(1 2)
  const std::string srid0(4, '\0');
  const std::string srid4326("\xE6\x10\x00\x00", 4);
  EXPECT_EQ(Enc1(C("g", ValueKind::kGeometry, "geometry"), Str(srid0 + wkb_point)),
            R"({"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":null})");
  EXPECT_EQ(Enc1(C("g", ValueKind::kGeometry, "geometry"), Str(srid4326 + wkb_point)),
            R"({"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":4326})");
  EXPECT_EQ(Enc1(C("g", ValueKind::kGeometry, "point"), Str(srid0 + wkb_point)),
            R"({"x":1.0,"y":2.0,"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":null})");
  EXPECT_THROW(Enc1(C("g", ValueKind::kGeometry, "geometry"), Str("ab")), Error);
}

// MySQL 9 VECTOR -> io.debezium.data.FloatVector: an array of FLOAT32 (Float.toString each).
TEST(DebeziumTypes, Vector) {
  const std::string v = std::string("\x00\x00\x80\x3F", 4) + std::string("\xCD\xCC\x8C\x3F", 4);  // 1.0f, 1.1f
  EXPECT_EQ(Enc1(C("v", ValueKind::kBytes, "vector(2)"), Str(v)), "[1.0,1.1]");
  EXPECT_EQ(Enc1(C("v", ValueKind::kBytes, "vector(2)"), Str("")), "[]");
  EXPECT_THROW(Enc1(C("v", ValueKind::kBytes, "vector(2)"), Str("abc")), Error);
  EXPECT_EQ(FieldSchemaOf(C("v", ValueKind::kBytes, "vector(2)")),
            R"({"type":"array","items":{"type":"float","optional":false},"optional":true,)"
            R"("name":"io.debezium.data.FloatVector","version":1,"field":"v"})");
}

TEST(DebeziumTypes, NullInEveryKind) {
  for (ValueKind k : {ValueKind::kInt, ValueKind::kUInt, ValueKind::kFloat, ValueKind::kDouble, ValueKind::kDecimal,
                      ValueKind::kString, ValueKind::kBytes, ValueKind::kDate, ValueKind::kTime, ValueKind::kDateTime,
                      ValueKind::kTimestamp, ValueKind::kJson, ValueKind::kBit, ValueKind::kGeometry}) {
    EXPECT_EQ(Enc1(C("a", k, ""), kNull), "null") << ValueKindName(k);
  }
}

// ---- Schemas (schemas.enable) ----------------------------------------------------------------

std::string FieldSchema(const DebeziumOptions& o, ColumnSchema col) {
  TableBuilder b("db", "t");
  b.t->columns.push_back(col);
  DebeziumEncoder enc(o);
  const std::string v(enc.ValueSchemaJson(b.Build()));
  // The first field of the "before" struct.
  const std::string open = "{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"fields\":[";
  EXPECT_EQ(v.substr(0, open.size()), open);
  const size_t end = v.find("],\"optional\":true,\"name\":\"dbserver1.db.t.Value\",\"field\":\"before\"}");
  EXPECT_NE(end, std::string::npos);
  return v.substr(open.size(), end - open.size());
}

// Field schemas as JsonConverter.asJsonSchema writes them for the Connect schemas named in
// [types]: type, optional, name, version, doc, parameters, default, field.
TEST(DebeziumSchema, FieldSchemasPerType) {
  const DebeziumOptions o = Opts();
  ColumnSchema dec = C("price", ValueKind::kDecimal, "decimal(10,2)");
  dec.precision = 10;
  dec.scale = 2;
  EXPECT_EQ(FieldSchema(o, dec),
            R"({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,)"
            R"("parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"})");
  ColumnSchema bits = C("flags", ValueKind::kBit, "bit(8)");
  bits.length = 8;
  EXPECT_EQ(FieldSchema(o, bits),
            R"({"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"8"},"field":"flags"})");
  ColumnSchema e = C("e", ValueKind::kString, "enum('a','b')", false);
  e.is_enum = true;
  e.enum_values = {"a", "b"};
  EXPECT_EQ(FieldSchema(o, e),
            R"({"type":"string","optional":false,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"a,b"},"field":"e"})");
  ColumnSchema s = C("s", ValueKind::kString, "set('a','b')");
  s.is_set = true;
  s.enum_values = {"a", "b"};
  EXPECT_EQ(FieldSchema(o, s),
            R"({"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"parameters":{"allowed":"a,b"},"field":"s"})");
  EXPECT_EQ(FieldSchema(o, C("doc", ValueKind::kJson, "json")),
            R"({"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"doc"})");
  EXPECT_EQ(FieldSchema(o, C("y", ValueKind::kInt, "year(4)")),
            R"({"type":"int32","optional":true,"name":"io.debezium.time.Year","version":1,"field":"y"})");
  EXPECT_EQ(FieldSchema(o, C("g", ValueKind::kGeometry, "geometry")),
            R"({"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],)"
            R"("optional":true,"name":"io.debezium.data.geometry.Geometry","version":1,"doc":"Geometry","field":"g"})");
  EXPECT_EQ(FieldSchema(o, C("d", ValueKind::kDate, "date")),
            R"({"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"d"})");
  EXPECT_EQ(FieldSchema(o, C("t", ValueKind::kTime, "time(6)")),
            R"({"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"t"})");
  EXPECT_EQ(FieldSchema(o, C("dt", ValueKind::kDateTime, "datetime")),
            R"({"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"dt"})");
  EXPECT_EQ(FieldSchema(o, C("dt", ValueKind::kDateTime, "datetime(6)")),
            R"({"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"dt"})");
  EXPECT_EQ(FieldSchema(o, C("ts", ValueKind::kTimestamp, "timestamp(3)")),
            R"({"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts"})");
  EXPECT_EQ(FieldSchema(o, C("b", ValueKind::kBit, "bit(1)")), R"({"type":"boolean","optional":true,"field":"b"})");
  EXPECT_EQ(FieldSchema(o, C("i", ValueKind::kInt, "tinyint(1)")), R"({"type":"int16","optional":true,"field":"i"})");
  EXPECT_EQ(FieldSchema(o, C("i", ValueKind::kInt, "mediumint(9)")), R"({"type":"int32","optional":true,"field":"i"})");
  EXPECT_EQ(FieldSchema(o, C("i", ValueKind::kUInt, "smallint(5) unsigned")), R"({"type":"int32","optional":true,"field":"i"})");
  EXPECT_EQ(FieldSchema(o, C("i", ValueKind::kUInt, "int(10) unsigned")), R"({"type":"int64","optional":true,"field":"i"})");
  EXPECT_EQ(FieldSchema(o, C("i", ValueKind::kUInt, "bigint(20) unsigned")), R"({"type":"int64","optional":true,"field":"i"})");
  EXPECT_EQ(FieldSchema(o, C("f", ValueKind::kFloat, "float")), R"({"type":"float","optional":true,"field":"f"})");
  EXPECT_EQ(FieldSchema(o, C("f", ValueKind::kFloat, "float(7,3)")), R"({"type":"double","optional":true,"field":"f"})");
  EXPECT_EQ(FieldSchema(o, C("b", ValueKind::kBytes, "blob")), R"({"type":"bytes","optional":true,"field":"b"})");
}

TEST(DebeziumSchema, FieldSchemasFollowHandlingModes) {
  DebeziumOptions o = Opts();
  o.bigint_unsigned = BigIntUnsignedHandling::kPrecise;
  o.binary_handling = BinaryHandling::kHex;
  o.time_precision = TimePrecision::kConnect;
  o.decimal_handling = DecimalHandling::kString;
  EXPECT_EQ(FieldSchema(o, C("u", ValueKind::kUInt, "bigint(20) unsigned")),
            R"({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,)"
            R"("parameters":{"scale":"0","connect.decimal.precision":"20"},"field":"u"})");
  EXPECT_EQ(FieldSchema(o, C("b", ValueKind::kBytes, "blob")), R"({"type":"string","optional":true,"field":"b"})");
  EXPECT_EQ(FieldSchema(o, C("d", ValueKind::kDate, "date")),
            R"({"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"d"})");
  EXPECT_EQ(FieldSchema(o, C("t", ValueKind::kTime, "time")),
            R"({"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"t"})");
  EXPECT_EQ(FieldSchema(o, C("dt", ValueKind::kDateTime, "datetime(6)")),
            R"({"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"dt"})");
  EXPECT_EQ(FieldSchema(o, C("x", ValueKind::kDecimal, "decimal(5,1)")), R"({"type":"string","optional":true,"field":"x"})");
  o.decimal_handling = DecimalHandling::kDouble;
  EXPECT_EQ(FieldSchema(o, C("x", ValueKind::kDecimal, "decimal(5,1)")), R"({"type":"double","optional":true,"field":"x"})");
}

// Column defaults become the field's "default" (Debezium propagates them; [types] also states
// that TIMESTAMP DEFAULT CURRENT_TIMESTAMP gets 1970-01-01 00:00:00).
TEST(DebeziumSchema, Defaults) {
  const DebeziumOptions o = Opts();
  ColumnSchema k = C("k", ValueKind::kInt, "int(11)", false);
  k.has_default = true;
  k.default_value = "0";
  EXPECT_EQ(FieldSchema(o, k), R"({"type":"int32","optional":false,"default":0,"field":"k"})");
  ColumnSchema c = C("c", ValueKind::kString, "char(120)", false);
  c.has_default = true;
  c.default_value = "''";  // MariaDB quotes literal defaults
  EXPECT_EQ(FieldSchema(o, c), R"({"type":"string","optional":false,"default":"","field":"c"})");
  ColumnSchema q = C("q", ValueKind::kString, "varchar(9)");
  q.has_default = true;
  q.default_value = "it's";  // MySQL does not
  EXPECT_EQ(FieldSchema(o, q), R"({"type":"string","optional":true,"default":"it's","field":"q"})");
  ColumnSchema n = C("n", ValueKind::kString, "varchar(9)");
  n.has_default = true;
  n.default_value = "NULL";
  EXPECT_EQ(FieldSchema(o, n), R"({"type":"string","optional":true,"field":"n"})");
  ColumnSchema ts = C("ts", ValueKind::kTimestamp, "timestamp", false);
  ts.has_default = true;
  ts.default_value = "current_timestamp()";
  EXPECT_EQ(FieldSchema(o, ts),
            R"({"type":"string","optional":false,"name":"io.debezium.time.ZonedTimestamp","version":1,)"
            R"("default":"1970-01-01T00:00:00Z","field":"ts"})");
  ColumnSchema dec = C("p", ValueKind::kDecimal, "decimal(5,2)", false);
  dec.precision = 5;
  dec.scale = 2;
  dec.has_default = true;
  dec.default_value = "1.5";
  EXPECT_EQ(FieldSchema(o, dec),
            R"({"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,)"
            R"("parameters":{"scale":"2","connect.decimal.precision":"5"},"default":"AJY=","field":"p"})");  // 150
  ColumnSchema d = C("d", ValueKind::kDate, "date");
  d.has_default = true;
  d.default_value = "'0000-00-00'";  // zero default on a nullable column: no default
  EXPECT_EQ(FieldSchema(o, d), R"({"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"d"})");
  ColumnSchema bit = C("b", ValueKind::kBit, "bit(4)");
  bit.length = 4;
  bit.has_default = true;
  bit.default_value = "b'0101'";
  EXPECT_EQ(FieldSchema(o, bit),
            R"({"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"4"},)"
            R"("default":"BQ==","field":"b"})");
}

TEST(DebeziumSchema, SmallTableKeyAndEnvelope) {
  TableBuilder b("shop", "orders");
  b.Add("id", ValueKind::kInt, "bigint(20)", false);
  ColumnSchema& amount = b.Add("amount", ValueKind::kDecimal, "decimal(8,2)");
  amount.precision = 8;
  amount.scale = 2;
  b.Add("at", ValueKind::kDateTime, "datetime(6)", false).fsp = 6;
  b.Key({0});
  const TableSchemaPtr t = b.Build();
  DebeziumOptions o = Opts();
  o.topic_prefix = "app";
  o.schemas_enable = true;
  DebeziumEncoder enc(o);
  EXPECT_EQ(enc.KeySchemaJson(t),
            R"({"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"app.shop.orders.Key"})");
  const std::string row =
      R"([{"type":"int64","optional":false,"field":"id"},)"
      R"({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"8"},"field":"amount"},)"
      R"({"type":"int64","optional":false,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"at"}])";
  const std::string_view v = enc.ValueSchemaJson(t);
  EXPECT_TRUE(StartsWith(v, R"({"type":"struct","fields":[{"type":"struct","fields":)" + row)) << v;
  EXPECT_NE(v.find(R"(,"optional":true,"name":"app.shop.orders.Value","field":"after"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"})"),
            std::string_view::npos);
  EXPECT_TRUE(EndsWith(v, R"(],"optional":false,"name":"app.shop.orders.Envelope","version":2})")) << v;

  ChangeChunk chunk(t);
  const uint32_t s = chunk.AddSource(StreamingSource());
  Row(chunk, RowOp::kInsert, s, 0, {I(5), Str("-3.10"), I(1704164645120000)});
  enc.SetClockForTesting(1000000);
  enc.Encode(chunk, 0);
  const DebeziumRecord& r = enc.records()[0];
  EXPECT_EQ(r.key, std::string(R"({"schema":)") + std::string(enc.KeySchemaJson(t)) + R"(,"payload":{"id":5}})");
  const std::string value_prefix = std::string(R"({"schema":)") + std::string(v) +
                                   R"(,"payload":{"before":null,"after":{"id":5,"amount":"/so=","at":1704164645120000},)";
  EXPECT_TRUE(StartsWith(r.value, value_prefix)) << r.value;  // -310 = FE CA
  EXPECT_TRUE(EndsWith(r.value, "}}"));
}

// ---- Options ---------------------------------------------------------------------------------

TEST(DebeziumOptionsParse, DefaultsAreDebeziums) {
  const DebeziumOptions o = ParseDebeziumOptions({{"topic.prefix", "smile"}});
  EXPECT_EQ(o.topic_prefix, "smile");
  EXPECT_EQ(o.connector_name, "smile");
  EXPECT_EQ(o.decimal_handling, DecimalHandling::kPrecise);
  EXPECT_EQ(o.time_precision, TimePrecision::kAdaptiveTimeMicroseconds);
  EXPECT_EQ(o.bigint_unsigned, BigIntUnsignedHandling::kLong);
  EXPECT_EQ(o.binary_handling, BinaryHandling::kBytes);
  EXPECT_TRUE(o.tombstones_on_delete);
  EXPECT_FALSE(o.schemas_enable);
  EXPECT_EQ(o.version, "3.6.1.Sluice-0.1.0");
}

TEST(DebeziumOptionsParse, AllModes) {
  const DebeziumOptions o = ParseDebeziumOptions({{"topic.prefix", "p"},
                                                  {"decimal.handling.mode", "STRING"},
                                                  {"time.precision.mode", "connect"},
                                                  {"bigint.unsigned.handling.mode", "precise"},
                                                  {"binary.handling.mode", "base64-url-safe"},
                                                  {"tombstones.on.delete", "false"},
                                                  {"schemas.enable", "True"},
                                                  {"include.query", "true"},
                                                  {"enable.time.adjuster", "false"},
                                                  {"database.hostname", "ignored"}});
  EXPECT_EQ(o.decimal_handling, DecimalHandling::kString);
  EXPECT_EQ(o.time_precision, TimePrecision::kConnect);
  EXPECT_EQ(o.bigint_unsigned, BigIntUnsignedHandling::kPrecise);
  EXPECT_EQ(o.binary_handling, BinaryHandling::kBase64UrlSafe);
  EXPECT_FALSE(o.tombstones_on_delete);
  EXPECT_TRUE(o.schemas_enable);
  EXPECT_TRUE(o.include_query);
  EXPECT_FALSE(o.enable_time_adjuster);
}

TEST(DebeziumOptionsParse, EmptyValueMeansDefault) {
  const DebeziumOptions o =
      ParseDebeziumOptions({{"topic.prefix", " p "}, {"decimal.handling.mode", ""}, {"tombstones.on.delete", " "}});
  EXPECT_EQ(o.topic_prefix, "p");
  EXPECT_EQ(o.decimal_handling, DecimalHandling::kPrecise);
  EXPECT_TRUE(o.tombstones_on_delete);
}

void ExpectConfigError(const std::map<std::string, std::string>& props, const std::vector<std::string>& parts) {
  try {
    ParseDebeziumOptions(props);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(DebeziumOptionsParse, BadValuesNameTheKeyAndTheAllowedValues) {
  ExpectConfigError({{"topic.prefix", "p"}, {"decimal.handling.mode", "exact"}},
                    {"decimal.handling.mode", "'exact'", "precise, double, string"});
  ExpectConfigError({{"topic.prefix", "p"}, {"time.precision.mode", "adaptive"}},
                    {"time.precision.mode", "adaptive_time_microseconds, connect"});
  ExpectConfigError({{"topic.prefix", "p"}, {"bigint.unsigned.handling.mode", "string"}},
                    {"bigint.unsigned.handling.mode", "long, precise"});
  ExpectConfigError({{"topic.prefix", "p"}, {"binary.handling.mode", "raw"}},
                    {"binary.handling.mode", "bytes, base64, base64-url-safe, hex"});
  ExpectConfigError({{"topic.prefix", "p"}, {"tombstones.on.delete", "yes"}}, {"tombstones.on.delete", "true, false"});
  ExpectConfigError({{"topic.prefix", "p"}, {"schemas.enable", "1"}}, {"schemas.enable"});
  ExpectConfigError({}, {"topic.prefix"});
}

TEST(CivilTime, DaysAndBack) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2024, 1, 2), 19724);
  EXPECT_EQ(DaysFromCivil(0, 1, 1), -719528);
  int64_t y;
  unsigned m, d;
  CivilFromDays(-1, y, m, d);
  EXPECT_EQ(y, 1969);
  EXPECT_EQ(m, 12u);
  EXPECT_EQ(d, 31u);
}

}  // namespace
}  // namespace sluice
