// Micro-benchmark of the Debezium JSON encoder (event/debezium_json.h) and of the decoder that
// reads Debezium topics back (event/debezium_reader.h: sluice sink / transform) on a 10-column
// sysbench-like row. Not part of `make test`: `make bench` compiles and runs it, or build it with
// `cmake --preset release -DSLUICE_BUILD_BENCH=ON && cmake --build build --target debezium_json_bench`.
// Target (issue 3/6): >= 500k rows/s of JSON on one core.

#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "event/debezium_json.h"
#include "event/debezium_reader.h"

namespace {

using namespace sluice;

TableSchemaPtr SbtestLike() {
  auto t = std::make_shared<TableSchema>();
  t->database = "sbtest";
  t->table = "sbtest1";
  auto add = [&](const char* name, ValueKind kind, const char* type, bool nullable) -> ColumnSchema& {
    ColumnSchema c;
    c.name = name;
    c.kind = kind;
    c.column_type = type;
    c.nullable = nullable;
    t->columns.push_back(c);
    return t->columns.back();
  };
  add("id", ValueKind::kInt, "int(11)", false);
  add("k", ValueKind::kInt, "int(11)", false);
  add("c", ValueKind::kString, "char(120)", false);
  add("pad", ValueKind::kString, "char(60)", false);
  ColumnSchema& price = add("price", ValueKind::kDecimal, "decimal(10,2)", true);
  price.precision = 10;
  price.scale = 2;
  add("created", ValueKind::kDateTime, "datetime(6)", true).fsp = 6;
  add("updated", ValueKind::kTimestamp, "timestamp", true);
  add("flag", ValueKind::kInt, "tinyint(4)", true);
  add("score", ValueKind::kDouble, "double", true);
  add("name", ValueKind::kString, "varchar(32)", true);
  t->primary_key = {0};
  return t;
}

ChangeChunk MakeChunk(size_t rows) {
  ChangeChunk chunk(SbtestLike());
  SourceInfo s;
  s.ts_ms = 1755598922000;
  s.file = "mysql-bin.000003";
  s.pos = 4;
  s.server_id = 1;
  s.thread = 12;
  const uint32_t src = chunk.AddSource(s);
  std::mt19937_64 rng(42);
  auto digits = [&](size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      out += static_cast<char>('0' + rng() % 10);
      if (i % 12 == 11) out += '-';
    }
    return out;
  };
  for (size_t i = 0; i < rows; ++i) {
    chunk.BeginRow(RowOp::kInsert, i, src, static_cast<uint32_t>(i));
    chunk.column(0).AppendInt(static_cast<int64_t>(i + 1));
    chunk.column(1).AppendInt(static_cast<int64_t>(rng() % 1000000));
    chunk.column(2).AppendBytes(digits(110));
    chunk.column(3).AppendBytes(digits(55));
    chunk.column(4).AppendBytes(std::to_string(rng() % 100000) + "." + std::to_string(10 + rng() % 90));
    chunk.column(5).AppendInt(1704164645120000 + static_cast<int64_t>(rng() % 1000000000));
    chunk.column(6).AppendInt(1704164645000000);
    chunk.column(7).AppendInt(static_cast<int64_t>(rng() % 2));
    chunk.column(8).AppendDouble(static_cast<double>(rng() % 100000) / 7.0);
    chunk.column(9).AppendBytes("name-" + std::to_string(rng() % 1000));
  }
  return chunk;
}

void BM_EncodeInsert(benchmark::State& state) {
  const ChangeChunk chunk = MakeChunk(1024);
  DebeziumOptions o;
  o.topic_prefix = "sbtest";
  o.schemas_enable = state.range(0) != 0;
  DebeziumEncoder enc(o);
  size_t bytes = 0;
  for (auto _ : state) {
    for (size_t row = 0; row < chunk.size();) {
      row += enc.Encode(chunk, row);
      for (const DebeziumRecord& r : enc.records()) bytes += r.key.size() + r.value.size();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeInsert)->Arg(0)->Arg(1);

void BM_EncodeJsonLines(benchmark::State& state) {
  const ChangeChunk chunk = MakeChunk(1024);
  DebeziumOptions o;
  o.topic_prefix = "sbtest";
  DebeziumEncoder enc(o);
  std::string out;
  for (auto _ : state) {
    out.clear();
    enc.EncodeChunk(chunk, [&](const DebeziumRecord& r) { AppendJsonLine(r, &out); });
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_EncodeJsonLines);

/// Parsing Debezium records back into typed chunks, as `sluice sink` and `sluice transform` do:
/// Arg 0 = records with sluice's schema header, Arg 1 = Debezium JSON with schemas.enable (the
/// types come from the Connect schema block in every value).
void BM_DecodeRecords(benchmark::State& state) {
  const ChangeChunk chunk = MakeChunk(1024);
  DebeziumOptions o;
  o.topic_prefix = "sbtest";
  o.schemas_enable = state.range(0) != 0;
  DebeziumEncoder enc(o);
  struct Rec {
    std::string topic, key, value;
  };
  std::vector<Rec> recs;
  enc.EncodeChunk(chunk, [&](const DebeziumRecord& r) {
    if (!r.value_is_null) recs.push_back({std::string(r.topic), std::string(r.key), std::string(r.value)});
  });
  const std::string header = EncodeSchemaHeader(*chunk.schema());
  DebeziumDecoder dec(DebeziumDecoderOptions{o, [](std::string_view) { return 3u; }});
  size_t bytes = 0, rows = 0;
  for (auto _ : state) {
    for (const Rec& r : recs) {
      rows += dec.Decode(r.topic, std::string_view(r.key), std::string_view(r.value),
                         o.schemas_enable ? std::nullopt : std::optional<std::string_view>(header));
      bytes += r.key.size() + r.value.size();
    }
    auto out = dec.TakeChunks();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetLabel(o.schemas_enable ? "schemas.enable JSON" : "sluice.schema header");
}
BENCHMARK(BM_DecodeRecords)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
