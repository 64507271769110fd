#include "state/state_store.h"

#include <sys/statvfs.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "common/error.h"
#include "common/log.h"

namespace sluice {

namespace {

/// RocksDB's diagnostics go to our log (warnings and errors only), not to a LOG file in the state
/// directory: a LOG file is one more writer that fails on a full disk, and Debian's RocksDB (built
/// with assertions) aborts when its info logger is used again after such a failure.
class RocksLogger final : public rocksdb::Logger {
 public:
  RocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::WARN_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    va_list copy;
    va_copy(copy, ap);
    std::vsnprintf(buf, sizeof buf, format, copy);
    va_end(copy);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      SLOG_ERROR("state (RocksDB): {}", buf);
    } else {
      SLOG_WARN("state (RocksDB): {}", buf);
    }
  }
};

void CheckFree(const std::string& dir, uint64_t min_free_bytes, const char* what) {
  if (min_free_bytes == 0) return;
  struct statvfs st {};
  if (statvfs(dir.c_str(), &st) != 0) return;  // the write itself will say what is wrong
  const uint64_t avail = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (avail < min_free_bytes) {
    Throw(ErrorKind::kState,
          "state directory '{}': the disk is full ({} bytes free, below state.min.free.bytes {}); refusing to {}; "
          "the last checkpoint is intact — free space and restart",
          dir, avail, min_free_bytes, what);
  }
}

}  // namespace

std::unique_ptr<StateStore> StateStore::Open(const std::string& dir, bool read_only, uint64_t min_free_bytes) {
  std::error_code ec;
  if (!read_only) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      Throw(ErrorKind::kState, "cannot create state directory '{}' (state.dir): {}. Choose a writable path.", dir,
            ec.message());
    }
  } else if (!std::filesystem::exists(dir)) {
    Throw(ErrorKind::kState, "state directory '{}' (state.dir) does not exist: nothing has run with this config yet",
          dir);
  }
  if (!read_only) CheckFree(dir, min_free_bytes, "open it");
  rocksdb::Options options;
  options.create_if_missing = true;
  options.info_log = std::make_shared<RocksLogger>();
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.write_buffer_size = 4 << 20;
  // Bloom filters: view state (sql/view_state.h) looks up many keys that do not exist yet. Filter
  // and index blocks stay with their table readers (~1.5% of the data; in a small block cache they
  // would be evicted and re-read on every lookup).
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.block_cache = rocksdb::NewLRUCache(8 << 20);
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(options, dir, &db) : rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) {
    std::string msg = s.ToString();
    if (msg.find("lock") != std::string::npos || msg.find("Resource temporarily unavailable") != std::string::npos) {
      Throw(ErrorKind::kState,
            "state directory '{}' is in use by another sluice process ({}); stop it first, or give this pipeline "
            "its own state.dir",
            dir, msg);
    }
    if (s.IsNoSpace()) {
      Throw(ErrorKind::kState, "state directory '{}': the disk is full ({}); free space and restart", dir, msg);
    }
    Throw(ErrorKind::kState, "cannot open state directory '{}': {}", dir, msg);
  }
  return std::unique_ptr<StateStore>(new StateStore(dir, db, read_only ? 0 : min_free_bytes));
}

StateStore::StateStore(std::string dir, rocksdb::DB* db, uint64_t min_free_bytes)
    : dir_(std::move(dir)), min_free_bytes_(min_free_bytes), db_(db) {}

void StateStore::CheckFreeSpace(const char* what) const { CheckFree(dir_, min_free_bytes_, what); }

StateStore::~StateStore() = default;

std::optional<std::string> StateStore::Get(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) Throw(ErrorKind::kState, "state directory '{}': reading '{}' failed: {}", dir_, key, s.ToString());
  return value;
}

void StateStore::Write(const std::vector<std::pair<std::string, std::string>>& puts,
                       const std::vector<std::string>& deletes, bool sync) {
  CheckFreeSpace("write the checkpoint");
  rocksdb::WriteBatch batch;
  for (const auto& [k, v] : puts) batch.Put(k, v);
  for (const auto& k : deletes) batch.Delete(k);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) {
    if (s.IsNoSpace()) {
      Throw(ErrorKind::kState,
            "state directory '{}': the disk is full ({}); the last checkpoint is intact — free space and restart",
            dir_, s.ToString());
    }
    Throw(ErrorKind::kState, "state directory '{}': write failed: {}", dir_, s.ToString());
  }
}

std::vector<std::pair<std::string, std::string>> StateStore::Scan(const std::string& prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) Throw(ErrorKind::kState, "state directory '{}': scan failed: {}", dir_, it->status().ToString());
  return out;
}

}  // namespace sluice
