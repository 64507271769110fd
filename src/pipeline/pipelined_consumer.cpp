#include "pipeline/pipelined_consumer.h"

#include "common/error.h"
#include "common/log.h"

namespace sluice {

PipelinedConsumer::PipelinedConsumer(mysql::ChangeConsumer& downstream, size_t max_bytes)
    : downstream_(downstream), queue_(max_bytes) {
  thread_ = std::thread([this] { Loop(); });
}

PipelinedConsumer::~PipelinedConsumer() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::make_exception_ptr(Error(ErrorKind::kInternal, "the consumer was abandoned"));
    }
    queue_.Close();  // Loop leaves after the call it is in; what is still queued is dropped
    thread_.join();
  }
}

void PipelinedConsumer::Loop() {
  try {
    while (true) {
      std::optional<Item> item = queue_.Pop(std::chrono::milliseconds(1000));
      if (!item) {
        if (queue_.closed()) return;  // closed and drained
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (error_) return;  // abandoned by the destructor
      }
      std::visit(
          [&](auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, ChangeChunk>) {
              downstream_.OnRows(std::move(v));
            } else if constexpr (std::is_same_v<T, Schema>) {
              downstream_.OnSchema(v.before, v.after, v.renames);
            } else if constexpr (std::is_same_v<T, Truncate>) {
              downstream_.OnTruncate(v.table);
            } else if constexpr (std::is_same_v<T, Commit>) {
              downstream_.OnCommit(v.offset);
            } else if constexpr (std::is_same_v<T, SnapshotStart>) {
              downstream_.OnSnapshotStart(v.offset);
            } else if constexpr (std::is_same_v<T, CaughtUp>) {
              downstream_.OnCaughtUp();
            } else {
              downstream_.OnIdle();
            }
          },
          *item);
    }
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    queue_.Close();  // the capture's next Push fails and it stops
  }
}

void PipelinedConsumer::ThrowDownstreamError() {
  std::exception_ptr e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = error_;
  }
  if (!e) throw Error(ErrorKind::kInternal, "the consumer thread stopped");
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    throw Error(err.kind(), err.what());
  } catch (const std::exception& err) {
    throw Error(ErrorKind::kInternal, err.what());
  }
}

void PipelinedConsumer::Push(Item item, size_t bytes) {
  if (!queue_.Push(std::move(item), bytes)) ThrowDownstreamError();
}

void PipelinedConsumer::OnRows(ChangeChunk&& chunk) {
  const size_t bytes = chunk.ByteSize();
  Push(Item(std::move(chunk)), bytes);
}

void PipelinedConsumer::OnSchema(const TableSchemaPtr& before, const TableSchemaPtr& after,
                                 const std::map<std::string, std::string>& renames) {
  Push(Item(Schema{before, after, renames}), 256);
}

void PipelinedConsumer::OnTruncate(const TableSchemaPtr& table) { Push(Item(Truncate{table}), 256); }

void PipelinedConsumer::OnCommit(const mysql::SourceOffset& offset) { Push(Item(Commit{offset}), 256); }

void PipelinedConsumer::OnSnapshotStart(const mysql::SourceOffset& offset) {
  Push(Item(SnapshotStart{offset}), 256);
}

void PipelinedConsumer::OnCaughtUp() { Push(Item(CaughtUp{}), 0); }

void PipelinedConsumer::OnIdle() { Push(Item(Idle{}), 0); }

void PipelinedConsumer::Finish() {
  if (finished_) return;
  finished_ = true;
  queue_.Close();  // Loop drains what is queued, then returns
  thread_.join();
  std::exception_ptr e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = error_;
  }
  if (e) std::rethrow_exception(e);
}

}  // namespace sluice
