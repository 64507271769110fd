#pragma once
/// The state directory: a RocksDB database holding offsets, snapshot progress and schema history.
/// Every write used for a checkpoint is synced (WAL fsync) before it returns, so a `kill -9` at any
/// point leaves either the old or the new checkpoint, never a torn one. Thread-safe (RocksDB is).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rocksdb {
class DB;
}

namespace sluice {

class StateStore {
 public:
  /// Opens (creating when missing) the state directory. Throws Error(kState) with a clear message
  /// when the directory is not writable, is locked by another running sluice, or is corrupt.
  /// `min_free_bytes` (state.min.free.bytes) is the free space below which the store refuses to
  /// open for writing or to write (CheckFreeSpace): RocksDB is never driven into ENOSPC, where its
  /// error paths can leave a half-written file (or, built with assertions as Debian's is, abort).
  static std::unique_ptr<StateStore> Open(const std::string& dir, bool read_only = false,
                                          uint64_t min_free_bytes = 0);
  ~StateStore();

  std::optional<std::string> Get(const std::string& key) const;
  /// Writes all pairs atomically and durably (fsync) before returning. `sync` false: atomically but
  /// without the fsync, for a write whose loss in a machine crash only repeats work.
  void Write(const std::vector<std::pair<std::string, std::string>>& puts,
             const std::vector<std::string>& deletes = {}, bool sync = true);
  void Put(const std::string& key, const std::string& value) { Write({{key, value}}); }
  /// Throws Error(kState) "the disk is full ..." when the file system of the directory has less
  /// than `min_free_bytes` available; `what` completes "refusing to ...".
  void CheckFreeSpace(const char* what) const;
  /// All pairs whose key starts with `prefix`, in key order.
  std::vector<std::pair<std::string, std::string>> Scan(const std::string& prefix) const;
  const std::string& dir() const { return dir_; }
  /// The RocksDB handle, for stores that need iterators, MultiGet or unsynced batches
  /// (sql/view_state.h). Owned by this StateStore.
  rocksdb::DB* db() const { return db_.get(); }

 private:
  StateStore(std::string dir, rocksdb::DB* db, uint64_t min_free_bytes);
  std::string dir_;
  uint64_t min_free_bytes_ = 0;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace sluice
