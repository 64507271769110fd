#include "pipeline/pipelined_consumer.h"

#include <type_traits>

#include "common/error.h"

namespace sluice {

PipelinedConsumer::PipelinedConsumer(mysql::ChangeConsumer& downstream, size_t max_bytes)
    : downstream_(downstream), max_bytes_(max_bytes) {
  thread_ = std::thread([this] { Loop(); });
}

PipelinedConsumer::~PipelinedConsumer() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::make_exception_ptr(Error(ErrorKind::kInternal, "the consumer was abandoned"));
    }
    Close();  // Loop leaves after the call it is in; what is still queued is dropped
    thread_.join();
  }
}

void PipelinedConsumer::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  not_empty_.notify_all();
  not_full_.notify_all();
}

void PipelinedConsumer::Loop() {
  std::vector<std::pair<Item, size_t>> batch;
  try {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (items_.empty() && !closed_) {
          busy_ = false;  // the capture thread may deliver small items itself now
          not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
          if (!closed_ && bytes_ < kWakeBytes) {
            // Woken by the first item: let more gather (the capture wakes us early once
            // kWakeBytes are queued). Items that queued up while we were busy go at once.
            not_empty_.wait_for(lock, kGatherTime, [&] { return closed_ || bytes_ >= kWakeBytes; });
          }
        }
        if (items_.empty()) return;  // closed and drained
        if (error_) return;          // abandoned by the destructor
        batch.swap(items_);
        busy_ = true;
      }
      for (auto& [item, bytes] : batch) {
        Deliver(item);
        std::lock_guard<std::mutex> lock(mu_);
        bytes_ -= bytes;  // delivered: no longer counts against max_bytes
        not_full_.notify_one();
        if (error_) return;  // abandoned by the destructor
      }
      batch.clear();
    }
  } catch (...) {
    Fail(std::current_exception());  // the capture's next Push fails and it stops
  }
}

void PipelinedConsumer::Fail(std::exception_ptr e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::move(e);
  }
  Close();
}

void PipelinedConsumer::Deliver(Item& item) {
  std::visit(
      [&](auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, ChangeChunk>) {
          downstream_.OnRows(std::move(v));
        } else if constexpr (std::is_same_v<T, SchemaMsg>) {
          downstream_.OnSchema(v.before, v.after, v.renames);
        } else if constexpr (std::is_same_v<T, TruncateMsg>) {
          downstream_.OnTruncate(v.table, v.at);
        } else if constexpr (std::is_same_v<T, CommitMsg>) {
          downstream_.OnCommit(v.offset);
        } else if constexpr (std::is_same_v<T, SnapshotStartMsg>) {
          downstream_.OnSnapshotStart(v.offset);
        } else if constexpr (std::is_same_v<T, CaughtUpMsg>) {
          downstream_.OnCaughtUp();
        } else {
          downstream_.OnIdle();
        }
      },
      item);
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

void PipelinedConsumer::Push(Item item, size_t bytes, bool small) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (small && items_.empty() && !busy_ && !closed_) {
      // The consumer thread is idle and nothing waits: deliver here. Handing small items over
      // costs more (a wake-up, memory freed on the other thread) than the work they carry.
      busy_ = true;
      lock.unlock();
      try {
        Deliver(item);
      } catch (...) {
        Fail(std::current_exception());
        ThrowDownstreamError();
      }
      lock.lock();
      busy_ = false;
      return;
    }
    // An item larger than the bound still goes into an empty queue.
    not_full_.wait(lock, [&] { return closed_ || bytes_ == 0 || bytes_ + bytes <= max_bytes_; });
    if (!closed_) {
      const bool wake = items_.empty() || (bytes_ < kWakeBytes && bytes_ + bytes >= kWakeBytes);
      items_.emplace_back(std::move(item), bytes);
      bytes_ += bytes;
      if (wake) not_empty_.notify_one();
      return;
    }
  }
  ThrowDownstreamError();
}

void PipelinedConsumer::OnRows(ChangeChunk&& chunk) {
  const size_t bytes = chunk.ByteSize();
  Push(Item(std::move(chunk)), bytes, bytes < kHandOverBytes);
}

void PipelinedConsumer::OnSchema(const TableSchemaPtr& before, const TableSchemaPtr& after,
                                 const std::map<std::string, std::string>& renames) {
  Push(Item(SchemaMsg{before, after, renames}), 256);
}

void PipelinedConsumer::OnTruncate(const TableSchemaPtr& table, const SourceInfo& at) {
  Push(Item(TruncateMsg{table, at}), 256);
}

void PipelinedConsumer::OnCommit(const mysql::SourceOffset& offset) { Push(Item(CommitMsg{offset}), 256); }

void PipelinedConsumer::OnSnapshotStart(const mysql::SourceOffset& offset) {
  Push(Item(SnapshotStartMsg{offset}), 256);
}

void PipelinedConsumer::OnCaughtUp() { Push(Item(CaughtUpMsg{}), 0); }

void PipelinedConsumer::OnIdle() { Push(Item(IdleMsg{}), 0); }

void PipelinedConsumer::Finish() {
  if (finished_) return;
  finished_ = true;
  Close();  // Loop delivers what is queued, then returns
  thread_.join();
  std::exception_ptr e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = error_;
  }
  if (e) std::rethrow_exception(e);
}

}  // namespace sluice
