#include "sql/view_state.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_map>

#include <filesystem>

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include "common/crash_point.h"
#include "common/error.h"

namespace sluice::sql {

namespace {

/// Smallest batch of writes a Commit puts into its final synced batch (it is a sixteenth of the
/// budget when that is more); dirty data beyond it is spilled (with undo records, each costing a
/// read of the old value) in batches of this size first, so memory stays bounded.
constexpr size_t kCommitChunkBytes = 4 << 20;
/// Evicting frees down to this fraction (in 1/16) of the budget, so eviction runs in batches.
constexpr size_t kEvictTargetSixteenths = 14;
/// Undo records applied per batch by Recover.
constexpr size_t kRecoverBatch = 4096;
/// Name prefix of the table files Commit writes for ingestion (in the state directory).
constexpr const char* kBulkFilePrefix = "sluice-bulk-";

/// Resolve's output into a table file: keys arrive sorted, a repeated key's last write wins.
class SstOut {
 public:
  explicit SstOut(rocksdb::SstFileWriter& writer) : writer_(writer) {}
  rocksdb::Status Put(const rocksdb::Slice& key, const rocksdb::Slice& value) { return Next(key, &value); }
  rocksdb::Status Delete(const rocksdb::Slice& key) { return Next(key, nullptr); }
  /// Writes the last pending entry; returns the number of entries written.
  rocksdb::Status Finish() {
    if (has_) Emit();
    has_ = false;
    return status_;
  }
  size_t entries() const { return entries_; }

 private:
  rocksdb::Status Next(const rocksdb::Slice& key, const rocksdb::Slice* value) {
    if (has_ && key != key_) Emit();
    key_ = key;  // points into the StateWrites being resolved (the value may not: copied)
    is_put_ = value != nullptr;
    if (value) value_.assign(value->data(), value->size());
    has_ = true;
    return status_;
  }
  void Emit() {
    if (!status_.ok()) return;
    status_ = is_put_ ? writer_.Put(key_, value_) : writer_.Delete(key_);
    ++entries_;
  }
  rocksdb::SstFileWriter& writer_;
  rocksdb::Slice key_;
  std::string value_;
  bool is_put_ = false;
  bool has_ = false;
  size_t entries_ = 0;
  rocksdb::Status status_;
};

void AppendBigEndian64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

void CheckStatus(const rocksdb::Status& s, const StateStore* store, const char* what) {
  if (s.ok()) return;
  if (s.IsNoSpace()) {
    Throw(ErrorKind::kState, "state directory '{}': the disk is full while {} ({}); free space and restart",
          store->dir(), what, s.ToString());
  }
  Throw(ErrorKind::kState, "state directory '{}': {} failed: {}", store->dir(), what, s.ToString());
}

/// The smallest key greater than every key starting with `prefix` (prefix is never all 0xff here).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  SLUICE_CHECK(!prefix.empty(), "key prefix has no upper bound");
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

}  // namespace

// ---- StateWrites / StateCache ----

void StateWrites::AppendLength(size_t n) {
  SLUICE_CHECK(n <= UINT32_MAX, "view state key or value over 4 GiB");
  const uint32_t v = static_cast<uint32_t>(n);
  buf_.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void StateWrites::Begin(Kind kind, std::string_view key, std::string_view key_suffix) {
  buf_.push_back(static_cast<char>(kind));
  AppendLength(key.size() + key_suffix.size());
  buf_.append(key);
  buf_.append(key_suffix);
  ++count_;
}

void StateWrites::Put(std::string_view key, std::string_view key_suffix, std::string_view value) {
  Begin(Kind::kPut, key, key_suffix);
  AppendLength(value.size());
  buf_.append(value);
}

void StateWrites::PutNew(std::string_view key, std::string_view key_suffix, std::string_view value) {
  Begin(Kind::kPutNew, key, key_suffix);
  AppendLength(value.size());
  buf_.append(value);
}

void StateWrites::Delete(std::string_view key, std::string_view key_suffix) { Begin(Kind::kDelete, key, key_suffix); }

void StateWrites::Add(std::string_view key, std::string_view key_suffix, int64_t delta) {
  Begin(Kind::kAdd, key, key_suffix);
  buf_.append(reinterpret_cast<const char*>(&delta), sizeof delta);
}

std::string EncodeCounter(int64_t n) { return std::string(reinterpret_cast<const char*>(&n), sizeof n); }

int64_t DecodeCounter(std::string_view v) {
  int64_t n = 0;
  if (v.size() != sizeof n) Throw(ErrorKind::kState, "view state holds a malformed counter");
  std::memcpy(&n, v.data(), sizeof n);
  return n;
}

StateCache::StateCache(ViewStateManager* manager, std::string view, std::string ns)
    : manager_(manager), view_(std::move(view)), ns_(std::move(ns)) {
  manager_->Register(this);
}

StateCache::~StateCache() { manager_->Unregister(this); }

// ---- ViewStateManager ----

ViewStateManager::ViewStateManager(StateStore* store, std::string prefix, size_t memory_budget_bytes)
    : store_(store), prefix_(std::move(prefix)), budget_(memory_budget_bytes),
      max_bucket_bytes_(std::max<size_t>(memory_budget_bytes / 16, 1024)),
      commit_chunk_bytes_(std::max<size_t>(kCommitChunkBytes, memory_budget_bytes / 16)) {
  SLUICE_CHECK(store_ != nullptr, "view state needs a state store");
}

ViewStateManager::~ViewStateManager() { iter_.reset(); }

void ViewStateManager::Register(StateCache* cache) {
  SLUICE_CHECK(recovered_, "ViewStateManager::Recover must run before pipelines are built");
  for (StateCache* c : caches_) {
    SLUICE_CHECK(c->ns() != cache->ns(), "two live pipelines of one view share a ViewStateManager");
  }
  caches_.push_back(cache);
}

void ViewStateManager::Unregister(StateCache* cache) {
  caches_.erase(std::remove(caches_.begin(), caches_.end(), cache), caches_.end());
}

uint64_t ViewStateManager::Generation(const std::string& view) {
  auto it = generations_.find(view);
  if (it != generations_.end()) return it->second;
  uint64_t gen = 0;
  if (auto v = store_->Get(prefix_ + "g/" + view)) gen = std::stoull(*v);
  generations_[view] = gen;
  return gen;
}

std::string ViewStateManager::Namespace(const std::string& view, int op) {
  return prefix_ + "d/" + view + "/" + std::to_string(Generation(view)) + "/" + std::to_string(op) + "/";
}

std::optional<std::string> ViewStateManager::Get(const std::string& key) {
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  CheckStatus(s, store_, "reading view state");
  return value;
}

void ViewStateManager::Scan(const std::string& prefix,
                            const std::function<bool(std::string_view, std::string_view)>& fn) {
  // One iterator serves the reads between two writes of this manager (every view-state write goes
  // through it, so a stale iterator cannot miss one): creating an iterator costs more than a seek.
  if (!iter_) {
    rocksdb::ReadOptions ro;
    iter_.reset(store_->db()->NewIterator(ro));
  }
  rocksdb::Iterator* it = iter_.get();
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()), std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  CheckStatus(it->status(), store_, "scanning view state");
}

template <typename Out>
void ViewStateManager::Resolve(const StateWrites& w, bool undo, Out& batch) {
  // Old values are needed for undo records (every key) and for counter adds: read with one
  // MultiGet per group of kResolveGroup writes (bounded memory however big `w` is).
  constexpr size_t kResolveGroup = 1024;
  // An undo record for this write? Not for a volatile view's key (rebuilt after a crash anyway).
  auto wants_undo = [&](std::string_view key) { return undo && !IsVolatileKey(key); };
  // Keys written more than once in `w` (rare; found by hash, 8 bytes a write): later writes see the
  // value the earlier left (`current`), not the store's.
  auto tracked = [&](const StateWrites::Op& op) { return op.kind == StateWrites::Kind::kAdd || wants_undo(op.key); };
  std::vector<uint64_t> hashes, repeated;
  w.ForEach([&](const StateWrites::Op& op) {
    if (tracked(op)) hashes.push_back(std::hash<std::string_view>()(op.key));
  });
  std::sort(hashes.begin(), hashes.end());
  for (size_t i = 1; i < hashes.size(); ++i) {
    if (hashes[i] == hashes[i - 1] && (repeated.empty() || repeated.back() != hashes[i])) repeated.push_back(hashes[i]);
  }
  std::vector<uint64_t>().swap(hashes);
  auto is_repeated = [&](const StateWrites::Op& op) {
    return !repeated.empty() &&
           std::binary_search(repeated.begin(), repeated.end(), std::hash<std::string_view>()(op.key));
  };
  // A kPutNew key is absent from the store: no read for its undo record, unless `w` writes it
  // more than once (then the earlier write's value is the old one: read and track it as usual).
  auto needs_read = [&](const StateWrites::Op& op) {
    if (op.kind == StateWrites::Kind::kAdd) return true;
    if (!wants_undo(op.key)) return false;
    return op.kind != StateWrites::Kind::kPutNew || is_repeated(op);
  };
  std::unordered_map<std::string_view, std::optional<std::string>> current;  // of the repeated keys
  // The writes go into the batch sorted by key (undo records, sequential, first): RocksDB's
  // memtable inserts a sorted run far faster than keys in hash order (its skip list reuses the
  // previous insert's position).
  std::vector<StateWrites::Op> ops;
  ops.reserve(w.size());
  w.ForEach([&](const StateWrites::Op& op) { ops.push_back(op); });
  // Keys of one cache share their namespace (~40 bytes): compare past the common prefix.
  size_t common = ops.empty() ? 0 : ops[0].key.size();
  for (size_t i = 1; i < ops.size() && common > 0; ++i) {
    const std::string_view& a = ops[0].key;
    const std::string_view& b = ops[i].key;
    size_t n = std::min({common, a.size(), b.size()}), j = 0;
    while (j < n && a[j] == b[j]) ++j;
    common = j;
  }
  std::stable_sort(ops.begin(), ops.end(), [common](const StateWrites::Op& a, const StateWrites::Op& b) {
    return a.key.substr(common) < b.key.substr(common);
  });
  struct MainWrite {
    std::string_view key;
    bool now = false;
    bool counter = false;
    int64_t n = 0;
    std::string_view value;
  };
  std::vector<MainWrite> mains;
  mains.reserve(ops.size());
  std::vector<StateWrites::Op> group;
  std::vector<rocksdb::Slice> keys;
  std::vector<rocksdb::PinnableSlice> values(kResolveGroup);
  std::vector<rocksdb::Status> st(kResolveGroup);
  std::string undo_key, rec, counter;
  auto flush = [&] {
    keys.clear();
    for (const auto& op : group) {
      if (needs_read(op)) keys.emplace_back(op.key.data(), op.key.size());
    }
    for (size_t i = 0; i < keys.size(); ++i) values[i].Reset();
    if (!keys.empty()) {
      store_->db()->MultiGet(rocksdb::ReadOptions(), store_->db()->DefaultColumnFamily(), keys.size(), keys.data(),
                             values.data(), st.data());
    }
    size_t r = 0;
    for (const auto& op : group) {
      bool had = false;
      std::string_view old;
      std::optional<std::string>* cur = nullptr;
      if (needs_read(op)) {
        if (is_repeated(op)) {
          auto [it, first] = current.try_emplace(op.key);
          cur = &it->second;
          if (first) {
            if (st[r].ok()) *cur = values[r].ToString();
            else if (!st[r].IsNotFound()) CheckStatus(st[r], store_, "reading view state");
          }
          had = cur->has_value();
          if (had) old = **cur;
        } else if (st[r].ok()) {
          had = true;
          old = std::string_view(values[r].data(), values[r].size());
        } else if (!st[r].IsNotFound()) {
          CheckStatus(st[r], store_, "reading view state");
        }
        ++r;
      }
      MainWrite mw;
      mw.key = op.key;
      switch (op.kind) {
        case StateWrites::Kind::kPut:
        case StateWrites::Kind::kPutNew:
          mw.now = true;
          mw.value = op.value;
          break;
        case StateWrites::Kind::kDelete: break;
        case StateWrites::Kind::kAdd: {
          const int64_t n = (had ? DecodeCounter(old) : 0) + op.delta;
          SLUICE_CHECK(n >= 0, "view state counter goes negative (a row deleted that was never inserted)");
          if (n != 0) {
            mw.now = true;
            mw.counter = true;
            mw.n = n;
          }
          break;
        }
      }
      if (wants_undo(op.key)) {
        // Undo record: u32 key length, key, u8 had-value, old value.
        undo_key.assign(prefix_);
        undo_key.append("u/");
        AppendBigEndian64(undo_key, undo_seq_++);
        rec.clear();
        uint32_t n = static_cast<uint32_t>(op.key.size());
        rec.append(reinterpret_cast<const char*>(&n), sizeof n);
        rec.append(op.key);
        rec.push_back(had ? '\1' : '\0');
        if (had) rec.append(old);
        batch.Put(undo_key, rec);
      }
      if (cur) {
        if (!mw.now) cur->reset(); else if (mw.counter) *cur = EncodeCounter(mw.n); else *cur = std::string(mw.value);
      }
      mains.push_back(mw);
    }
    group.clear();
  };
  group.reserve(kResolveGroup);
  for (const auto& op : ops) {
    group.push_back(op);
    if (group.size() == kResolveGroup) flush();
  }
  flush();
  for (const MainWrite& mw : mains) {
    const rocksdb::Slice key(mw.key.data(), mw.key.size());
    if (!mw.now) {
      batch.Delete(key);
    } else if (mw.counter) {
      counter = EncodeCounter(mw.n);
      batch.Put(key, counter);
    } else {
      batch.Put(key, rocksdb::Slice(mw.value.data(), mw.value.size()));
    }
  }
}

void ViewStateManager::Spill(StateWrites& w) {
  if (w.empty()) return;
  SLUICE_CHECK(recovered_, "ViewStateManager::Recover must run before view state is written");
  rocksdb::WriteBatch batch;
  Resolve(w, true, batch);
  iter_.reset();
  store_->CheckFreeSpace("spill view state");
  rocksdb::WriteOptions wo;
  wo.sync = false;  // undone by Recover unless a later (synced) Commit makes it part of a checkpoint
  CheckStatus(store_->db()->Write(wo, &batch), store_, "spilling view state");
  SLUICE_CRASH_POINT("view_state.after_spill");
  stats_.spilled_keys += w.size();
  w.Clear();
}

void ViewStateManager::Evict() {
  const size_t target = budget_ / 16 * kEvictTargetSixteenths;
  StateWrites w;
  while (used_ > target) {
    StateCache* victim = nullptr;
    uint64_t oldest = std::numeric_limits<uint64_t>::max();
    for (StateCache* c : caches_) {
      uint64_t t = c->OldestTick();
      if (t < oldest) {
        oldest = t;
        victim = c;
      }
    }
    if (victim == nullptr) break;  // nothing evictable left
    if (victim->EvictOldest(w)) ++stats_.evictions; else ++stats_.compactions;
    if (w.bytes() >= kCommitChunkBytes) Spill(w);
  }
  Spill(w);
}

bool ViewStateManager::IsVolatileKey(std::string_view key) const {
  for (const auto& p : volatile_) {
    if (key.substr(0, p.size()) == p) return true;
  }
  return false;
}

void ViewStateManager::IngestVolatile(StateWrites& w) {
  if (w.empty()) return;
  store_->CheckFreeSpace("write view state");
  const std::string path =
      (std::filesystem::path(store_->dir()) / (kBulkFilePrefix + std::to_string(++bulk_files_) + ".sst")).string();
  rocksdb::Options options = store_->db()->GetOptions();
  // Written once and read soon: LZ4 costs a third of the default snappy's time here.
  for (rocksdb::CompressionType c : rocksdb::GetSupportedCompressions()) {
    if (c == rocksdb::kLZ4Compression) options.compression = c;
  }
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
  CheckStatus(writer.Open(path), store_, "writing view state");
  SstOut out(writer);
  Resolve(w, false, out);
  CheckStatus(out.Finish(), store_, "writing view state");
  if (out.entries() > 0) {
    CheckStatus(writer.Finish(), store_, "writing view state");
    rocksdb::IngestExternalFileOptions io;
    io.move_files = true;
    iter_.reset();
    CheckStatus(store_->db()->IngestExternalFile({path}, io), store_, "writing view state");
    stats_.ingested_keys += out.entries();
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
  w.Clear();
}

void ViewStateManager::Commit(const std::vector<std::pair<std::string, std::string>>& puts,
                              const std::vector<std::string>& deletes) {
  SLUICE_CHECK(recovered_, "ViewStateManager::Recover must run before Commit");
  StateWrites w;
  if (!volatile_.empty()) {
    // The state of volatile views (complete now: a snapshot or backfill ended) goes in as table
    // files, outside the synced batch below: a crash before that batch rebuilds those views from
    // scratch anyway (their generation is not committed and is cleared when handed out again).
    for (StateCache* c : caches_) {
      if (!IsVolatileKey(c->ns())) continue;
      // At most commit_chunk_bytes_ at once (memory stays bounded), a file per cache at least (its
      // keys share the namespace).
      while (!c->CollectDirty(w, commit_chunk_bytes_)) IngestVolatile(w);
      IngestVolatile(w);
    }
    Hook("commit:ingested");
    SLUICE_CRASH_POINT("view_state.after_ingest");
  }
  for (StateCache* c : caches_) {
    while (!c->CollectDirty(w, commit_chunk_bytes_)) {
      Spill(w);
      Hook("commit:spilled");
    }
  }
  if (w.bytes() >= commit_chunk_bytes_) {
    Spill(w);
    Hook("commit:spilled");
  }
  Hook("commit:before-write");
  SLUICE_CRASH_POINT("view_state.before_commit");
  rocksdb::WriteBatch batch;
  for (auto& [begin, end] : pending_drops_) batch.DeleteRange(begin, end);
  for (auto& [view, gen] : pending_generations_) batch.Put(prefix_ + "g/" + view, std::to_string(gen));
  Resolve(w, false, batch);
  for (auto& [k, v] : puts) batch.Put(k, v);
  for (auto& k : deletes) batch.Delete(k);
  if (undo_seq_ > 0) batch.DeleteRange(prefix_ + "u/", PrefixEnd(prefix_ + "u/"));
  iter_.reset();
  store_->CheckFreeSpace("write the view state checkpoint");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  CheckStatus(store_->db()->Write(wo, &batch), store_, "committing view state");
  undo_seq_ = 0;
  pending_drops_.clear();
  pending_generations_.clear();
  ++stats_.commits;
}

void ViewStateManager::Recover() {
  SLUICE_CHECK(caches_.empty(), "ViewStateManager::Recover runs before pipelines are built");
  const std::string begin = prefix_ + "u/", end = PrefixEnd(begin);
  rocksdb::DB* db = store_->db();
  for (;;) {
    // Newest undo records first: each restores the value its key had before that spill, so
    // applying all of them from the newest to the oldest leaves the value of the last Commit.
    rocksdb::Slice lower(begin), upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    rocksdb::WriteBatch batch;
    size_t n = 0;
    for (it->SeekToLast(); it->Valid() && n < kRecoverBatch; it->Prev(), ++n) {
      std::string_view rec(it->value().data(), it->value().size());
      uint32_t klen = 0;
      SLUICE_CHECK(rec.size() >= sizeof klen + 1, "view state undo record is truncated");
      std::memcpy(&klen, rec.data(), sizeof klen);
      SLUICE_CHECK(rec.size() >= sizeof klen + klen + 1, "view state undo record is truncated");
      std::string_view key = rec.substr(sizeof klen, klen);
      const bool had = rec[sizeof klen + klen] != '\0';
      if (had) {
        batch.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(rec.data() + sizeof klen + klen + 1, rec.size() - sizeof klen - klen - 1));
      } else {
        batch.Delete(rocksdb::Slice(key.data(), key.size()));
      }
      batch.Delete(it->key());
    }
    CheckStatus(it->status(), store_, "reading view state undo records");
    if (n == 0) break;
    iter_.reset();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    CheckStatus(db->Write(wo, &batch), store_, "rolling back uncommitted view state");
    stats_.recovered_undo += n;
  }
  undo_seq_ = 0;
  generations_.clear();
  pending_generations_.clear();
  pending_drops_.clear();
  // Table files a crash left before their ingestion.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(store_->dir(), ec)) {
    if (e.path().filename().string().rfind(kBulkFilePrefix, 0) == 0) std::filesystem::remove(e.path(), ec);
  }
  recovered_ = true;
}

void ViewStateManager::SetVolatile(const std::string& name, bool is_volatile) {
  const std::string p = prefix_ + "d/" + name + "/";
  volatile_.erase(std::remove(volatile_.begin(), volatile_.end(), p), volatile_.end());
  if (is_volatile) volatile_.push_back(p);
}

void ViewStateManager::DropView(const std::string& name) {
  for (StateCache* c : caches_) {
    SLUICE_CHECK(c->view() != name, "DropView of a view whose pipeline still exists");
  }
  const uint64_t gen = Generation(name);
  const std::string begin = prefix_ + "d/" + name + "/" + std::to_string(gen) + "/";
  pending_drops_.emplace_back(begin, PrefixEnd(begin));
  generations_[name] = gen + 1;
  pending_generations_[name] = gen + 1;
  // The new generation was never committed, but a run that crashed before committing it may have
  // left writes there (a volatile view's spills carry no undo records): clear it now, before this
  // run writes to it (the WAL keeps this delete ahead of those writes).
  const std::string next = prefix_ + "d/" + name + "/" + std::to_string(gen + 1) + "/";
  iter_.reset();
  CheckStatus(store_->db()->DeleteRange(rocksdb::WriteOptions(), store_->db()->DefaultColumnFamily(), next, PrefixEnd(next)),
              store_, "clearing view state");
}

}  // namespace sluice::sql
