#pragma once
/// Runs a ChangeConsumer on a thread of its own behind a bounded queue, so that the capture thread
/// decodes the next binlog events while this one encodes (Debezium JSON) and delivers the previous
/// ones: `sluice capture` uses both cores on large transactions and snapshot chunks. Small items
/// (a short transaction's rows, commit markers) are delivered by the capture thread itself while
/// the consumer thread is idle, as handing them over costs more than their work. The downstream consumer gets every call in the order
/// the capture made it and stores offsets itself, as it would on the capture thread; this class
/// stores nothing, so a kill -9 loses only what the downstream had not stored yet anyway.

#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "mysql/capture.h"
#include "pipeline/capture_messages.h"

namespace sluice {

class PipelinedConsumer : public mysql::ChangeConsumer {
 public:
  /// `max_bytes` bounds the chunks waiting for the downstream thread (ChangeChunk::ByteSize).
  PipelinedConsumer(mysql::ChangeConsumer& downstream, size_t max_bytes);
  /// Stops the thread without waiting for what is queued (after an error: the offsets stored by
  /// the downstream are those of what it delivered).
  ~PipelinedConsumer() override;

  void OnRows(ChangeChunk&& chunk) override;
  void OnSchema(const TableSchemaPtr& before, const TableSchemaPtr& after,
                const std::map<std::string, std::string>& renames) override;
  void OnTruncate(const TableSchemaPtr& table, const SourceInfo& at) override;
  void OnCommit(const mysql::SourceOffset& offset) override;
  void OnSnapshotStart(const mysql::SourceOffset& offset) override;
  void OnCaughtUp() override;
  void OnIdle() override;

  /// Waits until the downstream consumer has taken every call made so far, ends its thread and
  /// rethrows its error, if it failed. The downstream is then the caller's alone again.
  void Finish();

 private:
  using Item = std::variant<ChangeChunk, SchemaMsg, TruncateMsg, CommitMsg, SnapshotStartMsg, CaughtUpMsg, IdleMsg>;

  /// Queues the item for the consumer thread; a `small` one is delivered on the calling thread
  /// instead when the consumer thread is idle and the queue empty (order is kept either way).
  void Push(Item item, size_t bytes, bool small = true);
  void Loop();
  /// Makes the downstream call the item stands for.
  void Deliver(Item& item);
  /// Marks the queue closed and wakes both sides.
  void Close();
  /// Records the downstream's failure `e` (the first one counts) and closes the queue.
  void Fail(std::exception_ptr e);
  /// On the capture thread, after the downstream failed: an error of the same kind and message,
  /// never retryable (the capture must not reconnect and feed a consumer that is gone).
  [[noreturn]] void ThrowDownstreamError();

  mysql::ChangeConsumer& downstream_;
  const size_t max_bytes_;
  // The queue. The consumer takes everything queued at once, and is woken only when an item
  // arrives in an empty queue or the queue passes kWakeBytes; otherwise it lets items gather for
  // up to kGatherTime. So a stream of small transactions costs a wake-up per batch, not per item,
  // and a lone transaction waits at most kGatherTime.
  static constexpr size_t kWakeBytes = 256u << 10;
  /// Chunks from this size on are always handed to the consumer thread (their encoding is worth
  /// a thread of its own); smaller ones, commit markers and the like go there only while it is
  /// busy, else the capture thread delivers them itself.
  static constexpr size_t kHandOverBytes = 64u << 10;
  static constexpr std::chrono::microseconds kGatherTime{1000};
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::vector<std::pair<Item, size_t>> items_;  // guarded by mu_
  size_t bytes_ = 0;  // of items_ and of the rest of the batch being delivered; guarded by mu_
  bool closed_ = false;  // guarded by mu_
  bool busy_ = false;    // someone is delivering (either thread); guarded by mu_
  std::exception_ptr error_;  // guarded by mu_
  std::thread thread_;
  bool finished_ = false;
};

}  // namespace sluice
