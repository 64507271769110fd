#pragma once
/// Persisted state of the views of one pipeline: the state of every stateful operator (join
/// indexes, aggregate groups) lives in the StateStore (RocksDB, `state.dir`) under one key prefix,
/// with an in-memory cache bounded by a byte budget shared by all views. Layout and commit
/// protocol: src/sql/README.md ("View state").
///
/// Crash consistency in one line: between two Commits, entries evicted from the cache while dirty
/// are written to their main keys at once (unsynced) together with an undo record holding the
/// key's previous value; Commit writes the remaining dirty entries, the caller's offset and the
/// deletion of every undo record in one synced RocksDB batch; Recover applies leftover undo
/// records newest first. So the store always holds the last commit (state + offset) once
/// recovered, whatever point a `kill -9` hit.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "state/state_store.h"

namespace rocksdb {
class Iterator;
class WriteBatch;
}

namespace sluice::sql {

class ViewStateManager;

/// Writes collected from caches. A put, a delete, or a blind add to a counter (a native int64
/// value; a missing key counts 0, a result of 0 deletes the key), resolved when written. Packed
/// into one buffer (`kind | u32 key length | key | u32 value length | value`, or the delta for an
/// add: ~10 bytes beyond key and value, no allocation per write). Plain value.
class StateWrites {
 public:
  /// kPutNew: a put of a key the cache knows is not in the store now (it loaded or created the
  /// entry and has not written it since): its undo record needs no read of the old value.
  enum class Kind : uint8_t { kPut, kDelete, kAdd, kPutNew };
  /// One write as ForEach presents it (views into the buffer).
  struct Op {
    Kind kind = Kind::kPut;
    std::string_view key;
    std::string_view value;  ///< kPut
    int64_t delta = 0;       ///< kAdd
  };
  /// Each write's key is `key` followed by `key_suffix` (saves the caller a concatenation).
  void Put(std::string_view key, std::string_view key_suffix, std::string_view value);
  void Put(std::string_view key, std::string_view value) { Put(key, {}, value); }
  /// A put of a key that is not in the store now (see Kind::kPutNew).
  void PutNew(std::string_view key, std::string_view key_suffix, std::string_view value);
  void Delete(std::string_view key, std::string_view key_suffix = {});
  void Add(std::string_view key, std::string_view key_suffix, int64_t delta);
  /// Calls fn(const Op&) for every write in order.
  template <typename F>
  void ForEach(F&& fn) const {
    size_t pos = 0;
    Op op;
    while (pos < buf_.size()) {
      op.kind = static_cast<Kind>(buf_[pos++]);
      op.key = Chunk(pos);
      op.value = {};
      op.delta = 0;
      if (op.kind == Kind::kPut || op.kind == Kind::kPutNew) {
        op.value = Chunk(pos);
      } else if (op.kind == Kind::kAdd) {
        std::memcpy(&op.delta, buf_.data() + pos, sizeof op.delta);
        pos += sizeof op.delta;
      }
      fn(static_cast<const Op&>(op));
    }
  }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Memory the writes take when resolved: the packed buffer plus, per write, its share of the
  /// WriteBatch and undo record a spill builds from them (so a chunk of kCommitChunkBytes spills
  /// as many writes at once as before the packing, and peak RSS stays where it was).
  size_t bytes() const { return buf_.size() + count_ * kResolvedBytesPerWrite; }
  void Clear() {
    buf_.clear();
    count_ = 0;
  }

 private:
  void Begin(Kind kind, std::string_view key, std::string_view key_suffix);
  void AppendLength(size_t n);
  std::string_view Chunk(size_t& pos) const {
    uint32_t n = 0;
    std::memcpy(&n, buf_.data() + pos, sizeof n);
    pos += sizeof n;
    std::string_view v(buf_.data() + pos, n);
    pos += n;
    return v;
  }
  static constexpr size_t kResolvedBytesPerWrite = 72;
  std::string buf_;
  size_t count_ = 0;
};

/// Encodes / decodes a counter value (native int64) as StateWrites::Add writes it.
std::string EncodeCounter(int64_t n);
int64_t DecodeCounter(std::string_view v);

/// One stateful operator's cache inside a ViewStateManager, under its key namespace. Registers
/// itself with the manager on construction and unregisters on destruction; owned by the operator;
/// single-threaded like its pipeline.
class StateCache {
 public:
  StateCache(ViewStateManager* manager, std::string view, std::string ns);
  virtual ~StateCache();
  StateCache(const StateCache&) = delete;
  StateCache& operator=(const StateCache&) = delete;

  /// Access tick of the least recently used entry (UINT64_MAX when the cache holds none).
  virtual uint64_t OldestTick() const = 0;
  /// Drops the least recently used entry, appending the writes of its uncommitted changes to `w`,
  /// or compacts it in memory (then returns false: it holds fewer bytes and counts as recently used).
  virtual bool EvictOldest(StateWrites& w) = 0;
  /// Appends the writes of dirty entries to `w` and marks them clean, until `w.bytes >= limit`.
  /// Returns true when no dirty entry is left.
  virtual bool CollectDirty(StateWrites& w, size_t limit) = 0;

  const std::string& view() const { return view_; }
  const std::string& ns() const { return ns_; }

 protected:
  ViewStateManager* manager_;
  std::string view_;
  std::string ns_;  ///< key prefix of this operator's entries in the store
};

/// Owns the persisted state of all views of one pipeline, in the StateStore under `prefix` (e.g.
/// "run/views/"). Lives as long as the pipelines using it; not thread-safe (one thread drives the
/// pipelines and commits). The StateStore must outlive it.
class ViewStateManager {
 public:
  /// Counters, for tests and metrics.
  struct Stats {
    uint64_t loads = 0;          ///< cache misses served from RocksDB
    uint64_t evictions = 0;      ///< entries dropped from the cache to stay within the budget
    uint64_t compactions = 0;    ///< entries compacted in memory (aggregate groups kept as their record) instead
    uint64_t spilled_keys = 0;   ///< keys written before their Commit (each with an undo record)
    uint64_t commits = 0;
    uint64_t ingested_keys = 0;  ///< keys of volatile views written as ingested table files
    uint64_t recovered_undo = 0; ///< undo records applied by Recover
  };

  ViewStateManager(StateStore* store, std::string prefix, size_t memory_budget_bytes);
  ~ViewStateManager();
  ViewStateManager(const ViewStateManager&) = delete;
  ViewStateManager& operator=(const ViewStateManager&) = delete;

  /// Finishes or discards a Commit interrupted by a crash (kill -9): rolls the view state back to
  /// the last Commit. Call once before building pipelines.
  void Recover();
  /// Persists atomically and durably every change of view state since the last Commit, together
  /// with `puts`/`deletes` (the caller's source offset), so after kill -9 at ANY point the state
  /// store holds (once recovered) either the previous commit (state + offset) or this one. Call at
  /// a source-transaction boundary, after every pipeline's Flush. O(changed entries). If it
  /// throws, rebuild the pipelines after Recover (the cache may be ahead of the store).
  void Commit(const std::vector<std::pair<std::string, std::string>>& puts,
              const std::vector<std::string>& deletes = {});
  /// Removes all state of view `name` (durable with the next Commit; a crash before it keeps the
  /// old state). Destroy the view's pipeline first; a pipeline built afterwards starts empty.
  void DropView(const std::string& name);
  /// Marks the state of view `name` volatile (or not): the caller rebuilds it from scratch after a
  /// crash before it was committed (a view being backfilled, every view while the initial snapshot
  /// runs), so its spilled writes carry no undo records (no read of the old value, nothing for
  /// Recover) and the caller may skip Commits until the view's state is complete. Takes effect for
  /// writes from now on; clear it only right after a Commit of the view's complete state.
  void SetVolatile(const std::string& name, bool is_volatile);
  void ClearVolatile() { volatile_.clear(); }
  bool AnyVolatile() const { return !volatile_.empty(); }
  /// Bytes held by caches + uncommitted dirty data in memory.
  size_t MemoryUsed() const { return used_; }
  size_t memory_budget() const { return budget_; }
  const Stats& stats() const { return stats_; }

  /// Test hook called at named points of Commit ("commit:spilled", "commit:before-write"); a throw
  /// from it simulates a crash there.
  void SetTestHook(std::function<void(std::string_view point)> hook) { hook_ = std::move(hook); }
  /// Largest join bucket kept whole in memory (default: budget / 16); bigger buckets are read
  /// from RocksDB at each probe and only their changed rows are cached.
  void set_max_cached_bucket_bytes(size_t n) { max_bucket_bytes_ = n; }
  size_t max_cached_bucket_bytes() const { return max_bucket_bytes_; }
  /// min/max multisets of aggregate groups: up to `inline_values` distinct values are stored in
  /// the group record (loaded with one point read); a bigger one is stored value by value, and of
  /// a min/max-only one memory keeps a window of the `window_keep` smallest and largest values
  /// (trimmed past 4x that), read again from the store when deletes empty one end.
  void set_multiset_limits(size_t inline_values, size_t window_keep) {
    inline_values_ = std::max<size_t>(inline_values, 1);
    window_keep_ = std::max<size_t>(window_keep, 1);
  }
  size_t multiset_inline_values() const { return inline_values_; }
  size_t multiset_window_keep() const { return window_keep_; }
  /// Largest batch Commit writes at once (default 4 MiB); more dirty data is spilled first.
  void set_commit_chunk_bytes(size_t n) { commit_chunk_bytes_ = n; }

  // ---- for StateCache implementations (operators.cpp) ----

  /// Key prefix of operator `op` of view `view` (its current generation, see DropView).
  std::string Namespace(const std::string& view, int op);
  /// Adds (or with a negative delta removes) bytes held in memory.
  void Charge(int64_t delta) { used_ = static_cast<size_t>(static_cast<int64_t>(used_) + delta); }
  /// Next access tick (a global clock for LRU across caches).
  uint64_t Tick() { return ++tick_; }
  /// Evicts least recently used entries when over the budget. Call only where no cache entry is
  /// referenced (between rows).
  void MaybeEvict() {
    if (used_ > budget_) Evict();
  }
  /// Writes `w` to the main keys now, unsynced, each with an undo record (not durable until
  /// Commit; rolled back by Recover). Clears `w`.
  void Spill(StateWrites& w);
  /// Reads one key.
  std::optional<std::string> Get(const std::string& key);
  /// Calls `fn(key, value)` for every key starting with `prefix`, in key order, until it returns false.
  void Scan(const std::string& prefix, const std::function<bool(std::string_view, std::string_view)>& fn);
  void CountLoad() { ++stats_.loads; }

 private:
  friend class StateCache;
  void Register(StateCache* cache);
  void Unregister(StateCache* cache);
  void Evict();
  uint64_t Generation(const std::string& view);
  void Hook(std::string_view point) {
    if (hook_) hook_(point);
  }

  StateStore* store_;
  std::string prefix_;
  size_t budget_;
  size_t max_bucket_bytes_;
  size_t inline_values_ = 32;
  size_t window_keep_ = 16;
  size_t commit_chunk_bytes_;
  size_t used_ = 0;
  uint64_t tick_ = 0;
  uint64_t undo_seq_ = 0;   ///< undo records written since the last Commit
  bool recovered_ = false;
  std::vector<StateCache*> caches_;
  std::map<std::string, uint64_t> generations_;            ///< view -> generation (cached)
  std::map<std::string, uint64_t> pending_generations_;    ///< written at the next Commit
  std::vector<std::pair<std::string, std::string>> pending_drops_;  ///< key ranges to delete at Commit
  std::vector<std::string> volatile_;  ///< key prefixes (every generation) of volatile views
  Stats stats_;
  std::function<void(std::string_view)> hook_;
  std::unique_ptr<rocksdb::Iterator> iter_;  ///< reused by Scan until the next write
  /// Appends `w` to `batch`, resolving counter adds against the stored values (and, when `undo`,
  /// writing an undo record per key first, except for keys of volatile views).
  /// `Out` has Put(Slice key, Slice value) and Delete(Slice key): a rocksdb::WriteBatch, or the
  /// SST writer of IngestVolatile.
  template <typename Out>
  void Resolve(const StateWrites& w, bool undo, Out& out);
  /// Writes `w` (writes of volatile views only) as a sorted table file ingested into the store:
  /// no WAL, no memtable. Clears `w`.
  void IngestVolatile(StateWrites& w);
  /// Whether `key` (or a cache's namespace) lies under a volatile view.
  bool IsVolatileKey(std::string_view key) const;
  uint64_t bulk_files_ = 0;
};

}  // namespace sluice::sql
