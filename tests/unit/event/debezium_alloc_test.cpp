// Checks that the Debezium encoder does not allocate per row once warmed up (issue 6: the JSON
// path must be fast). Counts global operator new calls while a flag is set.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "event/debezium_json.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// Under ASan the sanitizer owns operator new/delete (replacing them here would pair ASan's
// allocations with free()); the count is only taken in normal builds.
#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_COUNT_ALLOCATIONS 0
#else
#define SLUICE_COUNT_ALLOCATIONS 1
#endif

#if SLUICE_COUNT_ALLOCATIONS
// GCC 12 flags malloc/free inside replacement new/delete as mismatched; they are the pair here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
#endif

namespace sluice {
namespace {

TEST(DebeziumEncoderAlloc, NoAllocationPerRowInSteadyState) {
  if (!SLUICE_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocation counting is off under AddressSanitizer";
  auto t = std::make_shared<TableSchema>();
  t->database = "sbtest";
  t->table = "sbtest1";
  auto add = [&](const char* name, ValueKind kind, const char* type) -> ColumnSchema& {
    ColumnSchema c;
    c.name = name;
    c.kind = kind;
    c.column_type = type;
    t->columns.push_back(c);
    return t->columns.back();
  };
  add("id", ValueKind::kInt, "int(11)").nullable = false;
  add("c", ValueKind::kString, "char(120)");
  ColumnSchema& dec = add("price", ValueKind::kDecimal, "decimal(30,2)");
  dec.precision = 30;
  dec.scale = 2;
  add("at", ValueKind::kTimestamp, "timestamp(6)").fsp = 6;
  add("f", ValueKind::kDouble, "double");
  add("b", ValueKind::kBytes, "binary(16)").length = 16;
  add("g", ValueKind::kGeometry, "geometry");
  t->primary_key = {0};
  ChangeChunk chunk(t);
  SourceInfo s;
  s.file = "mysql-bin.000001";
  s.gtid = "0-1-5";
  const uint32_t src = chunk.AddSource(s);
  for (int i = 0; i < 64; ++i) {
    chunk.BeginRow(i % 2 ? RowOp::kDelete : RowOp::kInsert, 0, src, 0);
    chunk.column(0).AppendInt(i);
    chunk.column(1).AppendBytes(std::string(100 + i, 'x') + "\"\n\xC3\xA9");
    chunk.column(2).AppendBytes("-123456789012345678901234.5" + std::to_string(i % 10));
    chunk.column(3).AppendInt(1704164645120000 + i);
    chunk.column(4).AppendDouble(i / 3.0);
    chunk.column(5).AppendBytes("ab");
    chunk.column(6).AppendBytes(std::string(4, '\0') + std::string(21, '\1'));
  }
  for (bool schemas : {false, true}) {
    DebeziumOptions o;
    o.topic_prefix = "p";
    o.schemas_enable = schemas;
    DebeziumEncoder enc(o);
    std::string out;
    out.reserve(1 << 20);
    enc.EncodeChunk(chunk, [&](const DebeziumRecord& r) { AppendJsonLine(r, &out); });  // warm-up
    out.clear();
    g_allocations = 0;
    g_counting = true;
    enc.EncodeChunk(chunk, [&](const DebeziumRecord& r) { AppendJsonLine(r, &out); });
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0) << "schemas.enable=" << schemas;
    EXPECT_GT(out.size(), 10000u);
  }
}

}  // namespace
}  // namespace sluice
