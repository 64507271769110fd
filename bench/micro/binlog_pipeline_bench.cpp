// Micro-benchmarks of the streaming hot path, one core, on a real binlog file (the sysbench
// oltp_write_only binlog that bench/run generates, passed in SLUICE_BENCH_BINLOG; without it every
// benchmark here is skipped):
//   BM_DecodeEvents  BinlogDecoder::Decode of every event: framing, CRC32, table maps, rows events
//   BM_DecodeRows    the same plus RowDecoder::Decode of every rows event into ChangeChunks (typed
//                    columns) — the capture's work per binlog byte, minus the network; rows
//                    accumulate in a chunk per table until a commit or the capture's size limits,
//                    as in the capture (a chunk per rows event cost ~2x the time in allocations)
//   BM_RowBinary     RowBinaryEncoder::Encode of the decoded chunks (ClickHouse 18.16 types)
//   BM_DebeziumJson  DebeziumEncoder + AppendJsonLine of the decoded chunks (`--output jsonl`)
//   BM_StreamDecode  streaming decode: MySqlCapture::Run from a stored offset to the end of the
//                    server's binlog (--exit-when-caught-up) with a consumer that drops the chunks
//                    — `sluice capture` minus the JSON: the network, the server, CRC32, decoding
//                    into typed chunks. Needs SLUICE_BENCH_STREAM_CONFIG (a config file) and
//                    SLUICE_BENCH_STREAM_STATE (a state directory whose capture/ offset is the
//                    start; the run moves nothing in it, the caller passes a copy); skipped
//                    without them. One iteration: the harness runs a process per repetition.
// Schemas come from the table maps alone (SchemaFromTableMap): no names without
// binlog_row_metadata=FULL, which changes nothing for the work measured.
// A CMake target with -DSLUICE_BUILD_BENCH=ON; bench/run builds it itself with g++ against
// build/'s static libraries, e.g.
//   g++ -O2 -std=c++20 -DFMT_SHARED -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL -DSPDLOG_SHARED_LIB
//     -Isrc -isystem /usr/include/mariadb bench/micro/binlog_pipeline_bench.cpp
//     build/src/{pipeline,clickhouse,mysql,state,event,common}/libsluice_*.a -lbenchmark -lspdlog
//     -lfmt -lyaml-cpp -lcurl -lrocksdb -lmariadb -lzstd -lz -lpthread
//   SLUICE_BENCH_BINLOG=.run/mariadb/data/mysql-bin.000009 ./a.out

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "clickhouse/row_binary.h"
#include "clickhouse/server_info.h"
#include "clickhouse/type_mapping.h"
#include "common/allocator.h"
#include "common/config.h"
#include "common/log.h"
#include "event/debezium_json.h"
#include "mysql/binlog_event.h"
#include "mysql/capture.h"
#include "mysql/offset.h"
#include "mysql/row_decoder.h"
#include "mysql/table_filter.h"
#include "state/state_store.h"

namespace {

using namespace sluice;

struct Corpus {
  std::string path;
  std::string data;
  std::vector<std::string_view> events;
  std::string error;
};

const Corpus& GetCorpus() {
  static Corpus* c = [] {
    auto* c = new Corpus;
    const char* p = std::getenv("SLUICE_BENCH_BINLOG");
    if (!p || !*p) {
      c->error = "SLUICE_BENCH_BINLOG is not set";
      return c;
    }
    c->path = p;
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    c->data = ss.str();
    if (c->data.size() < 4 || std::memcmp(c->data.data(), "\xfe" "bin", 4) != 0) {
      c->error = std::string("not a binlog file: ") + p;
      return c;
    }
    size_t pos = 4;
    while (pos + 19 <= c->data.size()) {
      uint32_t size;
      std::memcpy(&size, c->data.data() + pos + 9, 4);
      if (size < 19 || pos + size > c->data.size()) break;
      c->events.emplace_back(c->data.data() + pos, size);
      pos += size;
    }
    return c;
  }();
  return *c;
}

/// Decodes the whole corpus; calls fn(chunk) for every rows event's chunk when given.
template <typename Fn>
size_t DecodeAll(const Corpus& c, bool rows, Fn&& fn, size_t* skipped = nullptr) {
  mysql::BinlogDecoder dec;
  mysql::RowDecoder rd;
  std::unordered_map<std::string, TableSchemaPtr> schemas;
  size_t n = 0;
  uint64_t version = 0;
  // Rows accumulate in one chunk as `sluice capture` does it (src/mysql/capture.cpp): a chunk
  // is passed on at a commit, when the table changes, or at the capture's size limits.
  const mysql::CaptureOptions limits;
  ChangeChunk chunk;
  TableSchemaPtr chunk_schema;
  auto flush = [&] {
    if (chunk_schema && !chunk.empty()) fn(std::move(chunk));
    chunk = ChangeChunk();
    chunk_schema = nullptr;
  };
  for (std::string_view raw : c.events) {
    mysql::BinlogEvent ev = dec.Decode(raw);
    if (!rows) {
      ++n;
      continue;
    }
    if (ev.As<mysql::XidEvent>()) {
      flush();
      continue;
    }
    const auto* re = ev.As<mysql::RowsEvent>();
    if (!re || !re->table) continue;
    TableSchemaPtr& s = schemas[re->table->QualifiedName()];
    if (!s) s = mysql::SchemaFromTableMap(*re->table);
    if (chunk_schema != s || chunk.size() >= limits.max_chunk_rows || chunk.ByteSize() >= limits.max_chunk_bytes) {
      flush();
      chunk = ChangeChunk(s);
      chunk_schema = s;
    }
    SourceInfo si;
    si.ts_ms = int64_t{ev.header.timestamp} * 1000;
    si.pos = ev.header.position();
    si.file = "mysql-bin.000001";
    const uint32_t src = chunk.AddSource(std::move(si));
    try {
      const uint64_t base = version;
      mysql::RowsDecodeResult r =
          rd.Decode(*re, *re->table, s, chunk, src, [&](uint32_t row) { return base + row; });
      version += r.rows + 1;
      n += r.rows;
    } catch (const Error&) {
      if (skipped) ++*skipped;
      flush();  // the chunk may hold part of the event's rows
      continue;
    }
  }
  flush();
  return n;
}

void BM_DecodeEvents(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  if (!c.error.empty()) return state.SkipWithError(c.error.c_str());
  size_t n = 0;
  for (auto _ : state) n = DecodeAll(c, false, [](ChangeChunk&&) {});
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.data.size()));
  state.SetLabel("events");
}
BENCHMARK(BM_DecodeEvents)->Unit(benchmark::kMillisecond);

void BM_DecodeRows(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  if (!c.error.empty()) return state.SkipWithError(c.error.c_str());
  size_t n = 0, skipped = 0;
  for (auto _ : state) {
    skipped = 0;
    n = DecodeAll(c, true, [](ChangeChunk&& ch) { benchmark::DoNotOptimize(ch.size()); }, &skipped);
  }
  state.counters["skipped_rows_events"] = static_cast<double>(skipped);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.data.size()));
  state.SetLabel("row changes");
}
BENCHMARK(BM_DecodeRows)->Unit(benchmark::kMillisecond);

const std::vector<ChangeChunk>& Chunks() {
  static std::vector<ChangeChunk>* v = [] {
    auto* v = new std::vector<ChangeChunk>;
    const Corpus& c = GetCorpus();
    if (c.error.empty()) DecodeAll(c, true, [&](ChangeChunk&& ch) { v->push_back(std::move(ch)); });
    return v;
  }();
  return *v;
}

void BM_RowBinary(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  if (!c.error.empty()) return state.SkipWithError(c.error.c_str());
  const auto& chunks = Chunks();
  const auto features = clickhouse::ServerFeatures::ForVersion(clickhouse::ServerVersion::Parse("18.16.1"));
  std::map<const TableSchema*, std::unique_ptr<clickhouse::RowBinaryEncoder>> encoders;
  for (const auto& ch : chunks) {
    auto& e = encoders[ch.schema().get()];
    if (e) continue;
    std::vector<clickhouse::ColumnType> types;
    for (const auto& col : ch.schema()->columns) types.push_back(clickhouse::MapColumnType(col, features));
    e = std::make_unique<clickhouse::RowBinaryEncoder>(std::move(types), ch.schema()->primary_key);
  }
  std::string out;
  size_t rows = 0, bytes = 0;
  for (auto _ : state) {
    rows = bytes = 0;
    for (const auto& ch : chunks) {
      out.clear();
      rows += encoders[ch.schema().get()]->Encode(ch, out);
      bytes += out.size();
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetLabel("rows written");
}
BENCHMARK(BM_RowBinary)->Unit(benchmark::kMillisecond);

void BM_DebeziumJson(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  if (!c.error.empty()) return state.SkipWithError(c.error.c_str());
  const auto& chunks = Chunks();
  DebeziumOptions o;
  o.topic_prefix = "bench";
  DebeziumEncoder enc(o);
  std::string out;
  size_t records = 0, bytes = 0;
  for (auto _ : state) {
    records = bytes = 0;
    for (const auto& ch : chunks) {
      out.clear();
      enc.EncodeChunk(ch, [&](const DebeziumRecord& r) {
        AppendJsonLine(r, &out);
        ++records;
      });
      bytes += out.size();
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetLabel("JSON lines (incl. tombstones)");
}
BENCHMARK(BM_DebeziumJson)->Unit(benchmark::kMillisecond);

/// Counts the changes the capture passes on and drops them.
class CountingConsumer : public mysql::ChangeConsumer {
 public:
  void OnRows(ChangeChunk&& chunk) override { changes += chunk.size(); }
  void OnSchema(const TableSchemaPtr&, const TableSchemaPtr&, const std::map<std::string, std::string>&) override {}
  void OnTruncate(const TableSchemaPtr&, const SourceInfo&) override {}
  void OnCommit(const mysql::SourceOffset&) override {}
  size_t changes = 0;  ///< rows of the chunks (an UPDATE is two: before and after)
};

void BM_StreamDecode(benchmark::State& state) {
  const char* cfg = std::getenv("SLUICE_BENCH_STREAM_CONFIG");
  const char* dir = std::getenv("SLUICE_BENCH_STREAM_STATE");
  if (!cfg || !*cfg || !dir || !*dir) {
    return state.SkipWithError("SLUICE_BENCH_STREAM_CONFIG / SLUICE_BENCH_STREAM_STATE are not set");
  }
  TuneAllocator();  // as sluice's main() does
  InitLogging(std::getenv("SLUICE_BENCH_LOG") ? std::getenv("SLUICE_BENCH_LOG") : "warn");  // on stderr, as sluice logs: stdout is the benchmark's JSON
  const Config config = Config::LoadFile(cfg);
  auto options = mysql::CaptureOptions::FromConfig(config);
  options.exit_when_caught_up = true;
  options.progress = false;
  const mysql::TableFilter filter(config);
  size_t changes = 0;
  for (auto _ : state) {
    auto store = StateStore::Open(dir);
    mysql::SourceOffset resume;
    if (auto v = store->Get("capture/offset")) resume = mysql::SourceOffset::Parse(*v);
    mysql::MySqlCapture capture(options, filter, store.get(), "capture/");
    CountingConsumer consumer;
    capture.Run(consumer, resume);
    changes = consumer.changes;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * changes));
  state.SetLabel("rows of the chunks (an UPDATE counts 2)");
}
// One iteration per process: bench/harness.py times whole processes, as it times `sluice capture`.
BENCHMARK(BM_StreamDecode)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
