// PipelinedConsumer (src/pipeline/pipelined_consumer.h): the downstream consumer gets every call
// in order, large chunks on its own thread and small items on the caller's while that thread is
// idle; its failure stops the capture side with a non-retryable error of the same kind, and
// Finish() rethrows the original.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "common/error.h"
#include "pipeline/pipelined_consumer.h"

namespace sluice {
namespace {

TableSchemaPtr Table() {
  auto s = std::make_shared<TableSchema>();
  s->database = "d";
  s->table = "t";
  s->columns.resize(1);
  s->columns[0].name = "id";
  s->columns[0].kind = ValueKind::kInt;
  s->primary_key = {0};
  return s;
}

ChangeChunk Rows(const TableSchemaPtr& t, int64_t first, int n) {
  ChangeChunk c(t);
  const uint32_t src = c.AddSource(SourceInfo{});
  for (int i = 0; i < n; ++i) {
    c.BeginRow(RowOp::kInsert, static_cast<uint64_t>(first + i), src, 0);
    c.column(0).AppendInt(first + i);
  }
  return c;
}

mysql::SourceOffset Offset(uint64_t pos) {
  mysql::SourceOffset o;
  o.file = "mysql-bin.000001";
  o.pos = pos;
  return o;
}

/// Rows a chunk needs to be handed to the consumer thread (>= 64 KiB by ChangeChunk::ByteSize).
constexpr int kBigRows = 4000;

/// Records what it gets, on which thread; optionally slow, optionally failing at a call.
class Recorder : public mysql::ChangeConsumer {
 public:
  void OnRows(ChangeChunk&& chunk) override {
    Note();
    log.push_back(fmt::format("rows {}..{}", chunk.column(0).GetInt(0), chunk.column(0).GetInt(chunk.size() - 1)));
    for (size_t r = 1; r < chunk.size(); ++r) {
      if (chunk.column(0).GetInt(r) != chunk.column(0).GetInt(r - 1) + 1) log.push_back("rows out of order");
    }
    if (chunk.size() >= static_cast<size_t>(kBigRows)) big_threads.insert(std::this_thread::get_id());
  }
  void OnSchema(const TableSchemaPtr&, const TableSchemaPtr& after, const std::map<std::string, std::string>&) override {
    Note();
    log.push_back("schema " + after->table);
  }
  void OnTruncate(const TableSchemaPtr& t, const SourceInfo& at) override {
    Note();
    log.push_back(fmt::format("truncate {} at {}", t->table, at.pos));
  }
  void OnCommit(const mysql::SourceOffset& o) override {
    Note();
    log.push_back(fmt::format("commit {}", o.pos));
  }
  void OnSnapshotStart(const mysql::SourceOffset& o) override {
    Note();
    log.push_back(fmt::format("snapshot {}", o.pos));
  }
  void OnCaughtUp() override {
    Note();
    log.push_back("caught up");
  }
  void OnIdle() override {
    Note();
    log.push_back("idle");
  }

  std::vector<std::string> log;
  std::thread::id thread;
  std::set<std::thread::id> big_threads;  // threads that delivered big chunks
  int fail_at = -1;
  std::chrono::milliseconds delay{0};
  bool retryable = false;

 private:
  void Note() {
    thread = std::this_thread::get_id();
    if (delay.count()) std::this_thread::sleep_for(delay);
    if (static_cast<int>(calls_++) == fail_at) throw Error(ErrorKind::kBus, "broker said no", retryable);
  }
  size_t calls_ = 0;
};

TEST(PipelinedConsumer, EveryCallArrivesInOrderBigChunksOnAnotherThread) {
  Recorder rec;
  rec.delay = std::chrono::milliseconds(1);  // the capture side runs ahead and the queue fills
  const auto t = Table();
  std::vector<std::string> want;
  {
    PipelinedConsumer p(rec, /*max_bytes=*/1 << 20);
    p.OnSnapshotStart(Offset(4));
    want.push_back("snapshot 4");
    p.OnSchema(nullptr, t, {});
    want.push_back("schema t");
    int64_t next = 0;
    for (int i = 0; i < 60; ++i) {
      // Transactions of small and big chunks, mixed.
      const int n = i % 3 == 1 ? kBigRows : 10;
      p.OnRows(Rows(t, next, n));
      want.push_back(fmt::format("rows {}..{}", next, next + n - 1));
      next += n;
      p.OnCommit(Offset(100 + static_cast<uint64_t>(i)));
      want.push_back(fmt::format("commit {}", 100 + i));
      if (i % 10 == 0) {
        p.OnIdle();
        want.push_back("idle");
      }
    }
    SourceInfo at;
    at.pos = 4242;
    p.OnTruncate(t, at);
    want.push_back("truncate t at 4242");
    p.OnCaughtUp();
    want.push_back("caught up");
    p.Finish();
  }
  EXPECT_EQ(rec.log, want);
  EXPECT_EQ(rec.big_threads.size(), 1u);
  EXPECT_FALSE(rec.big_threads.count(std::this_thread::get_id()));
}

TEST(PipelinedConsumer, DownstreamFailureStopsTheCaptureAndFinishRethrowsIt) {
  Recorder rec;
  rec.fail_at = 3;
  rec.retryable = true;  // the capture must still not retry into a consumer that is gone
  const auto t = Table();
  PipelinedConsumer p(rec, /*max_bytes=*/1024);
  bool stopped = false;
  for (int i = 0; i < 10000 && !stopped; ++i) {
    try {
      p.OnRows(Rows(t, i, 1));
      p.OnCommit(Offset(static_cast<uint64_t>(i)));
    } catch (const Error& e) {
      stopped = true;
      EXPECT_EQ(e.kind(), ErrorKind::kBus);
      EXPECT_FALSE(e.retryable());
      EXPECT_STREQ(e.what(), "broker said no");
    }
    if (!stopped) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_TRUE(stopped);
  try {
    p.Finish();
    ADD_FAILURE() << "Finish did not rethrow";
  } catch (const Error& e) {
    EXPECT_TRUE(e.retryable());  // the original
    EXPECT_STREQ(e.what(), "broker said no");
  }
  // Nothing after the failing call reached the downstream.
  EXPECT_EQ(rec.log, (std::vector<std::string>{"rows 0..0", "commit 0", "rows 1..1"}));
}

TEST(PipelinedConsumer, FailureOnTheConsumerThreadStopsTheCapture) {
  Recorder rec;
  rec.fail_at = 2;
  rec.delay = std::chrono::milliseconds(2);
  const auto t = Table();
  PipelinedConsumer p(rec, /*max_bytes=*/4 << 20);
  bool stopped = false;
  int pushed = 0;
  for (int i = 0; i < 1000 && !stopped; ++i) {
    try {
      p.OnRows(Rows(t, i * kBigRows, kBigRows));
      p.OnCommit(Offset(static_cast<uint64_t>(i)));
      ++pushed;
    } catch (const Error& e) {
      stopped = true;
      EXPECT_EQ(e.kind(), ErrorKind::kBus);
      EXPECT_FALSE(e.retryable());
    }
  }
  EXPECT_TRUE(stopped);
  EXPECT_LT(pushed, 1000);
  EXPECT_THROW(p.Finish(), Error);
  EXPECT_EQ(rec.log, (std::vector<std::string>{fmt::format("rows 0..{}", kBigRows - 1), "commit 0"}));
  EXPECT_EQ(rec.big_threads.size(), 1u);
  EXPECT_FALSE(rec.big_threads.count(std::this_thread::get_id()));
}

TEST(PipelinedConsumer, DestroyedWithoutFinishDoesNotWaitForTheQueue) {
  Recorder rec;
  rec.delay = std::chrono::milliseconds(50);
  const auto t = Table();
  const auto start = std::chrono::steady_clock::now();
  {
    PipelinedConsumer p(rec, /*max_bytes=*/64 << 20);
    for (int i = 0; i < 40; ++i) p.OnRows(Rows(t, i * kBigRows, kBigRows));  // 2 s of work if all were delivered
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_LT(rec.log.size(), 20u);
}

}  // namespace
}  // namespace sluice
