#pragma once
/// The state directory: a RocksDB database holding offsets, snapshot progress and schema history.
/// Every write used for a checkpoint is synced (WAL fsync) before it returns, so a `kill -9` at any
/// point leaves either the old or the new checkpoint, never a torn one. Thread-safe (RocksDB is).

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
  static std::unique_ptr<StateStore> Open(const std::string& dir, bool read_only = false);
  ~StateStore();

  std::optional<std::string> Get(const std::string& key) const;
  /// Writes all pairs atomically and durably (fsync) before returning.
  void Write(const std::vector<std::pair<std::string, std::string>>& puts,
             const std::vector<std::string>& deletes = {});
  void Put(const std::string& key, const std::string& value) { Write({{key, value}}); }
  /// All pairs whose key starts with `prefix`, in key order.
  std::vector<std::pair<std::string, std::string>> Scan(const std::string& prefix) const;
  const std::string& dir() const { return dir_; }
  /// The RocksDB handle, for stores that need iterators, MultiGet or unsynced batches
  /// (sql/view_state.h). Owned by this StateStore.
  rocksdb::DB* db() const { return db_.get(); }

 private:
  StateStore(std::string dir, rocksdb::DB* db);
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace sluice
