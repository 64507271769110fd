#pragma once
/// Runs a ChangeConsumer on a thread of its own behind a bounded queue, so that the capture thread
/// decodes the next binlog events while this one encodes (Debezium JSON) and delivers the previous
/// ones: `sluice capture` uses both cores. The downstream consumer gets every call in the order
/// the capture made it and stores offsets itself, as it would on the capture thread; this class
/// stores nothing, so a kill -9 loses only what the downstream had not stored yet anyway.

#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "bus/embedded_queue.h"
#include "mysql/capture.h"

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
  void OnTruncate(const TableSchemaPtr& table) override;
  void OnCommit(const mysql::SourceOffset& offset) override;
  void OnSnapshotStart(const mysql::SourceOffset& offset) override;
  void OnCaughtUp() override;
  void OnIdle() override;

  /// Waits until the downstream consumer has taken every call made so far, ends its thread and
  /// rethrows its error, if it failed. The downstream is then the caller's alone again.
  void Finish();

 private:
  struct Schema {
    TableSchemaPtr before, after;
    std::map<std::string, std::string> renames;
  };
  struct Truncate {
    TableSchemaPtr table;
  };
  struct Commit {
    mysql::SourceOffset offset;
  };
  struct SnapshotStart {
    mysql::SourceOffset offset;
  };
  struct CaughtUp {};
  struct Idle {};
  using Item = std::variant<ChangeChunk, Schema, Truncate, Commit, SnapshotStart, CaughtUp, Idle>;

  void Push(Item item, size_t bytes);
  void Loop();
  /// On the capture thread, after the downstream failed: an error of the same kind and message,
  /// never retryable (the capture must not reconnect and feed a consumer that is gone).
  [[noreturn]] void ThrowDownstreamError();

  mysql::ChangeConsumer& downstream_;
  BoundedQueue<Item> queue_;
  std::mutex mu_;
  std::exception_ptr error_;  // guarded by mu_
  std::thread thread_;
  bool finished_ = false;
};

}  // namespace sluice
