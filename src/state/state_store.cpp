#include "state/state_store.h"

#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "common/error.h"

namespace sluice {

std::unique_ptr<StateStore> StateStore::Open(const std::string& dir, bool read_only) {
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
  rocksdb::Options options;
  options.create_if_missing = true;
  options.keep_log_file_num = 3;
  options.max_log_file_size = 1 << 20;
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
  return std::unique_ptr<StateStore>(new StateStore(dir, db));
}

StateStore::StateStore(std::string dir, rocksdb::DB* db) : dir_(std::move(dir)), db_(db) {}

StateStore::~StateStore() = default;

std::optional<std::string> StateStore::Get(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) Throw(ErrorKind::kState, "state directory '{}': reading '{}' failed: {}", dir_, key, s.ToString());
  return value;
}

void StateStore::Write(const std::vector<std::pair<std::string, std::string>>& puts,
                       const std::vector<std::string>& deletes) {
  rocksdb::WriteBatch batch;
  for (const auto& [k, v] : puts) batch.Put(k, v);
  for (const auto& k : deletes) batch.Delete(k);
  rocksdb::WriteOptions wo;
  wo.sync = true;
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
