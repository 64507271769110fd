#include "sql/operators.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <unordered_set>

#include "common/error.h"
#include "sql/view_state.h"

namespace sluice::sql {

TableSchemaPtr MakeSchema(const std::string& name, const PlanNode& node) {
  auto s = std::make_shared<TableSchema>();
  s->table = name;
  for (size_t i = 0; i < node.names.size(); ++i) s->columns.push_back(ColumnOfType(node.names[i], node.types[i]));
  return s;
}

Operator::Operator(const PlanNode& node) : schema_(MakeSchema("", node)), types_(node.types) {}

Row ReadRow(const ChangeChunk& chunk, size_t row, const std::vector<SqlType>& types) {
  Row r;
  r.reserve(types.size());
  for (size_t c = 0; c < types.size(); ++c) r.push_back(ReadValue(chunk.column(c), row, types[c]));
  return r;
}

ChunkBuilder::ChunkBuilder(TableSchemaPtr schema, const std::vector<SqlType>& types)
    : schema_(std::move(schema)), types_(types), chunk_(schema_) {}

void ChunkBuilder::Add(RowOp op, uint64_t version, const Row& row) {
  if (chunk_.sources().empty()) chunk_.AddSource(SourceInfo{});
  chunk_.BeginRow(op, version, 0, static_cast<uint32_t>(chunk_.size()));
  for (size_t c = 0; c < types_.size(); ++c) AppendValue(chunk_.column(c), row[c], types_[c]);
}

void ChunkBuilder::AddJoined(RowOp op, uint64_t version, const Row* a, size_t a_size, const Row* b,
                             const Value* extra) {
  if (chunk_.sources().empty()) chunk_.AddSource(SourceInfo{});
  chunk_.BeginRow(op, version, 0, static_cast<uint32_t>(chunk_.size()));
  const size_t end = types_.size() - (extra ? 1 : 0);
  for (size_t c = 0; c < end; ++c) {
    const Row* part = c < a_size ? a : b;
    if (part) {
      AppendValue(chunk_.column(c), (*part)[c < a_size ? c : c - a_size], types_[c]);
    } else {
      chunk_.column(c).AppendNull();
    }
  }
  if (extra) AppendValue(chunk_.column(end), *extra, types_[end]);
}

void ChunkBuilder::FlushTo(std::vector<ChangeChunk>& out) {
  if (chunk_.empty()) return;
  out.push_back(std::move(chunk_));
  chunk_ = ChangeChunk(schema_);
}

// ---- state serialization (little-endian host layout; a snapshot is read back by the same build) ----

namespace {

class StateWriter {
 public:
  template <typename T>
  void Put(const T& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void PutBytes(std::string_view s) {
    Put<uint64_t>(s.size());
    out_.append(s);
  }
  void PutValue(const Value& v) {
    Put<uint8_t>(v.null);
    if (v.null) return;
    Put(v.i);
    Put(v.d);
    Put(v.dec);
    PutBytes(v.s);
  }
  void PutRow(const Row& r) {
    Put<uint64_t>(r.size());
    for (auto& v : r) PutValue(v);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}
  template <typename T>
  T Get() {
    T v;
    Need(sizeof v);
    std::memcpy(&v, in_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string GetBytes() {
    uint64_t n = Get<uint64_t>();
    Need(n);
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  Value GetValue() {
    Value v;
    v.null = Get<uint8_t>() != 0;
    if (v.null) return v;
    v.i = Get<int64_t>();
    v.d = Get<double>();
    v.dec = Get<Int128>();
    v.s = GetBytes();
    return v;
  }
  Row GetRow() {
    Row r(Get<uint64_t>());
    for (auto& v : r) v = GetValue();
    return r;
  }
  bool AtEnd() const { return pos_ == in_.size(); }
  std::string_view Rest() const { return in_.substr(pos_); }
  void Skip(size_t n) {
    Need(n);
    pos_ += n;
  }

 private:
  void Need(uint64_t n) {
    if (n > in_.size() - pos_) Throw(ErrorKind::kState, "operator state snapshot is truncated or does not fit the view");
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

// ---- persisted state (ViewStateManager): cache entries, layout and accounting ----

namespace {

/// Approximate heap bytes of a string beyond its inline buffer (malloc overhead included).
size_t HeapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 + 16 : 0; }
/// Approximate bytes of a Row (vector + values + string payloads).
size_t RowBytes(const Row& r) {
  size_t n = sizeof(Row) + r.capacity() * sizeof(Value) + (r.capacity() ? 16 : 0);
  for (const auto& v : r) n += HeapBytes(v.s);
  return n;
}
/// Per-node overhead of a std::unordered_map / std::map / std::unordered_set node (links, cached
/// hash, malloc header, bucket slot).
constexpr size_t kNodeBytes = 48;

void AppendBigEndian32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

/// Returns true when the store holds no key starting with `prefix`.
bool IsEmpty(ViewStateManager* manager, const std::string& prefix) {
  bool empty = true;
  manager->Scan(prefix, [&](std::string_view, std::string_view) { return empty = false; });
  return empty;
}

Row DecodeRow(std::string_view enc, const std::vector<SqlType>& types) {
  Row r;
  r.reserve(types.size());
  for (const auto& t : types) r.push_back(DecodeKey(enc, t));
  if (!enc.empty()) Throw(ErrorKind::kState, "view state holds a row that does not fit the view");
  return r;
}

bool HasMultiset(const AggCall& c) { return c.arg && (c.distinct || c.func == AggFunc::kMin || c.func == AggFunc::kMax); }

/// Intrusive doubly-linked list helpers over entries with `Prev`/`Next` members (LRU, dirty lists).
template <typename E, E* E::*Prev, E* E::*Next>
struct IntrusiveList {
  E* head = nullptr;
  E* tail = nullptr;
  void PushFront(E* e) {
    e->*Prev = nullptr;
    e->*Next = head;
    if (head) head->*Prev = e; else tail = e;
    head = e;
  }
  void Remove(E* e) {
    if (e->*Prev) (e->*Prev)->*Next = e->*Next; else head = e->*Next;
    if (e->*Next) (e->*Next)->*Prev = e->*Prev; else tail = e->*Prev;
    e->*Prev = e->*Next = nullptr;
  }
};

}  // namespace

/// A JoinOperator's two indexes in a ViewStateManager. Store layout under ns(): per side ('0'/'1'),
/// join key and row, `side | BE32 len | key | row encoding` -> multiplicity (a counter), so a
/// bucket is one key range and a row is added or removed without reading its bucket. The bucket's
/// size (rows with multiplicity) is counted when it is loaded. The cache unit is a bucket:
///  - complete: every row with its multiplicity is in memory (probes never touch RocksDB), packed
///    in one buffer (`u32 length | row encoding | i64 multiplicity | u8 dirty` per row: ~13 bytes
///    beyond the encoding, against ~110 for a hash map node); up to max_cached_bucket_bytes;
///  - partial: only changes not yet written are in memory, as deltas, written as blind counter
///    adds (no read on the hot path); probes first write them, then scan the bucket's key range.
///    A bucket is partial when it is too big to hold whole, or when it was only ever added to
///    (inner joins do not need a side's own bucket to store a row: "blind" buckets whose size is
///    not known either, loaded only when probed).
class PersistedJoinState final : public StateCache {
 public:
  using RowMap = std::unordered_map<std::string, int64_t>;  ///< partial: row encoding -> delta
  /// What only some buckets need, out of line (most buckets hold a row or two: every byte of a
  /// Bucket counts against the budget).
  struct Extra {
    /// complete with kIndexMin+ rows: open-addressing hash index of `packed` (offset + 1; 0 free)
    std::vector<uint32_t> index;
    RowMap deltas;  ///< partial: unwritten changes
  };
  struct Bucket {
    uint8_t side = 0;
    bool size_known = true;
    bool complete = true;
    bool in_dirty = false;
    uint32_t entries = 0;  ///< rows in `packed`
    const std::string* key = nullptr;
    int64_t size = 0;  ///< rows with multiplicity (when size_known)
    std::string packed;  ///< complete: the rows (layout above); rows at multiplicity 0 until written
    std::unique_ptr<Extra> extra;
    size_t bytes = 0;
    uint64_t tick = 0;
    Extra& Extras() {
      if (!extra) extra = std::make_unique<Extra>();
      return *extra;
    }
    Bucket* lru_prev = nullptr;
    Bucket* lru_next = nullptr;
    Bucket* dirty_prev = nullptr;
    Bucket* dirty_next = nullptr;
  };

  PersistedJoinState(ViewStateManager* manager, std::string view, std::string ns)
      : StateCache(manager, std::move(view), std::move(ns)) {
    for (int side = 0; side < 2; ++side) known_[side] = IsEmpty(manager_, ns_ + static_cast<char>('0' + side));
  }

  ~PersistedJoinState() override { manager_->Charge(-static_cast<int64_t>(bytes_)); }

  ViewStateManager* manager() const { return manager_; }

  /// The bucket of `key` on `side`; marks it most recently used. With `need_size` its size is
  /// known (it is loaded from the store when needed), else it may be a blind bucket.
  Bucket& Get(int side, const std::string& key, bool need_size) {
    auto [it, inserted] = buckets_[side].try_emplace(key);
    Bucket& b = it->second;
    if (inserted) {
      b.side = static_cast<uint8_t>(side);
      b.key = &it->first;
      SetBytes(b, BaseBytes(b));
      if (known_[side]) {
        // Every bucket of this side with rows is in memory: a new one is empty (the hot path
        // of a working set that fits the budget never reads RocksDB).
      } else if (need_size) {
        Load(b);
      } else {
        b.complete = false;
        b.size_known = false;
      }
      b.tick = manager_->Tick();
      lru_.PushFront(&b);
      return b;
    }
    if (lru_.head != &b) {
      b.tick = manager_->Tick();
      lru_.Remove(&b);
      lru_.PushFront(&b);
    }
    if (need_size && !b.size_known) {  // a blind bucket is probed: write its deltas, then load it
      WriteNow(b);
      b.complete = true;
      b.size_known = true;
      b.size = 0;
      Load(b);
    }
    return b;
  }

  /// Calls fn(encoded row, multiplicity) for every row of `b` with a positive multiplicity.
  template <typename F>
  void ForEachRow(Bucket& b, F&& fn) {
    SLUICE_CHECK(b.size_known, "join probes a bucket whose size is not loaded");
    if (b.size == 0) return;
    if (b.complete) {
      for (size_t pos = 0; pos < b.packed.size();) {
        const Packed e = At(b.packed, pos);
        if (e.mult > 0) fn(e.enc, e.mult);
        pos = e.next;
      }
      return;
    }
    if (b.in_dirty) WriteNow(b);
    const std::string prefix = BucketPrefix(b.side, *b.key);
    manager_->Scan(prefix, [&](std::string_view key, std::string_view value) {
      int64_t n = DecodeCounter(value);
      if (n > 0) fn(key.substr(prefix.size()), n);
      return true;
    });
  }

  /// Adds `delta` to the multiplicity of row `enc` in `b`.
  void AddRow(Bucket& b, const std::string& enc, int64_t delta) {
    if (b.size_known) b.size += delta;
    MarkDirty(b);
    if (b.complete) {
      const size_t pos = Find(b, enc);
      if (pos == b.packed.size()) {
        SLUICE_CHECK(delta >= 0, "join input deletes a row it never inserted");
        Append(b, enc, delta, kRowDirty | kRowNew);  // a complete bucket holds every stored row
      } else {
        const size_t at = pos + sizeof(uint32_t) + enc.size();
        int64_t mult = 0;
        std::memcpy(&mult, b.packed.data() + at, sizeof mult);
        SLUICE_CHECK(mult + delta >= 0, "join input deletes a row it never inserted");
        mult += delta;
        std::memcpy(b.packed.data() + at, &mult, sizeof mult);
        b.packed[at + sizeof mult] |= kRowDirty;
      }
      SetBytes(b, CompleteBytes(b));
    } else {
      const bool had_extra = b.extra != nullptr;
      auto [it, inserted] = b.Extras().deltas.try_emplace(enc, 0);
      it->second += delta;
      if (inserted) SetBytes(b, b.bytes + DeltaBytes(it->first) + (had_extra ? 0 : kExtraBytes));
    }
    if (b.bytes > manager_->max_cached_bucket_bytes()) {
      // Too big to hold whole, or too many unwritten deltas: write them, keep only later changes.
      WriteNow(b);
      if (b.complete) {
        b.complete = false;
        std::string().swap(b.packed);
        b.extra.reset();  // WriteNow left no deltas; a partial bucket has no index
        b.entries = 0;
        SetBytes(b, BaseBytes(b));
      }
    }
  }

  uint64_t OldestTick() const override { return lru_.tail ? lru_.tail->tick : UINT64_MAX; }

  bool EvictOldest(StateWrites& w) override {
    Bucket* b = lru_.tail;
    known_[b->side] = false;
    if (b->in_dirty) Write(*b, w);
    lru_.Remove(b);
    SetBytes(*b, 0);
    auto& map = buckets_[b->side];
    map.erase(map.find(*b->key));  // not erase(key): the key lives in the node being erased
    return true;
  }

  bool CollectDirty(StateWrites& w, size_t limit) override {
    while (dirty_.head != nullptr && w.bytes() < limit) Write(*dirty_.head, w);
    return dirty_.head == nullptr;
  }

 private:
  /// Flags of a row in a complete bucket's buffer.
  static constexpr char kRowDirty = 1;  ///< changed since it was written
  static constexpr char kRowNew = 2;    ///< not in the store (added since the bucket was loaded or written)

  /// One row of a complete bucket's buffer, read at some offset.
  struct Packed {
    std::string_view enc;
    int64_t mult = 0;
    bool dirty = false;
    bool is_new = false;
    size_t next = 0;  ///< offset of the next row
  };

  static Packed At(const std::string& packed, size_t pos) {
    Packed e;
    uint32_t n = 0;
    std::memcpy(&n, packed.data() + pos, sizeof n);
    pos += sizeof n;
    e.enc = std::string_view(packed.data() + pos, n);
    pos += n;
    std::memcpy(&e.mult, packed.data() + pos, sizeof e.mult);
    pos += sizeof e.mult;
    e.dirty = (packed[pos] & kRowDirty) != 0;
    e.is_new = (packed[pos] & kRowNew) != 0;
    e.next = pos + 1;
    return e;
  }
  static constexpr size_t kIndexMin = 64;

  /// Appends a row with `flags` (kRow*) to `b.packed` (and its index).
  static void Append(Bucket& b, std::string_view enc, int64_t mult, char flags) {
    const size_t pos = b.packed.size();
    const uint32_t n = static_cast<uint32_t>(enc.size());
    SLUICE_CHECK(pos < UINT32_MAX - n - 64, "join bucket over 4 GiB");
    const size_t need = pos + sizeof n + n + sizeof mult + 1;
    if (need > b.packed.capacity()) {  // grow by 25%, not std::string's 100% (a first row: exactly)
      std::string grown;
      grown.reserve(pos == 0 ? need : std::max(need, pos + pos / 4 + 64));
      grown.append(b.packed);
      b.packed.swap(grown);
    }
    b.packed.append(reinterpret_cast<const char*>(&n), sizeof n);
    b.packed.append(enc);
    b.packed.append(reinterpret_cast<const char*>(&mult), sizeof mult);
    b.packed.push_back(flags);
    ++b.entries;
    if (b.extra && !b.extra->index.empty() && b.entries * 4 <= b.extra->index.size() * 3) {
      IndexInsert(b.extra->index, enc, pos);
    } else if (b.entries >= kIndexMin) {
      Reindex(b);
    }
  }

  static void IndexInsert(std::vector<uint32_t>& index, std::string_view enc, size_t pos) {
    const size_t mask = index.size() - 1;
    for (size_t i = std::hash<std::string_view>()(enc) & mask;; i = (i + 1) & mask) {
      if (index[i] == 0) {
        index[i] = static_cast<uint32_t>(pos + 1);
        return;
      }
    }
  }

  /// Rebuilds the index of `b` (none below kIndexMin rows).
  static void Reindex(Bucket& b) {
    if (b.extra) std::vector<uint32_t>().swap(b.extra->index);
    if (b.entries < kIndexMin) {
      if (b.extra && b.extra->deltas.empty()) b.extra.reset();
      return;
    }
    size_t n = 128;
    while (n * 2 < size_t{b.entries} * 3) n *= 2;  // load factor 1/3..3/4
    std::vector<uint32_t>& index = b.Extras().index;
    index.assign(n, 0);
    for (size_t pos = 0; pos < b.packed.size();) {
      const Packed e = At(b.packed, pos);
      IndexInsert(index, e.enc, pos);
      pos = e.next;
    }
  }

  /// Offset of row `enc` in `b.packed`, or packed.size() when absent.
  static size_t Find(const Bucket& b, std::string_view enc) {
    auto same = [&](size_t pos) {
      uint32_t n = 0;
      std::memcpy(&n, b.packed.data() + pos, sizeof n);
      return n == enc.size() && std::memcmp(b.packed.data() + pos + sizeof n, enc.data(), n) == 0;
    };
    if (!b.extra || b.extra->index.empty()) {
      for (size_t pos = 0; pos < b.packed.size(); pos = At(b.packed, pos).next) {
        if (same(pos)) return pos;
      }
      return b.packed.size();
    }
    const std::vector<uint32_t>& index = b.extra->index;
    const size_t mask = index.size() - 1;
    for (size_t i = std::hash<std::string_view>()(enc) & mask;; i = (i + 1) & mask) {
      if (index[i] == 0) return b.packed.size();
      if (same(index[i] - 1)) return index[i] - 1;
    }
  }

  static size_t CompleteBytes(const Bucket& b) {
    return BaseBytes(b) + b.packed.capacity() + (b.extra ? b.extra->index.capacity() * sizeof(uint32_t) : 0);
  }

  static size_t BaseBytes(const Bucket& b) {
    return kNodeBytes + sizeof(std::string) + sizeof(Bucket) + HeapBytes(*b.key) +
           (b.extra ? kExtraBytes + b.extra->deltas.bucket_count() * sizeof(void*) : 0);
  }
  static constexpr size_t kExtraBytes = sizeof(Extra) + 16;  ///< with its malloc header
  static size_t DeltaBytes(const std::string& enc) { return kNodeBytes + sizeof(RowMap::value_type) + HeapBytes(enc); }

  std::string BucketPrefix(int side, const std::string& key) const {
    std::string p = ns_;
    p.push_back(static_cast<char>('0' + side));
    AppendBigEndian32(p, static_cast<uint32_t>(key.size()));
    p.append(key);
    return p;
  }

  void SetBytes(Bucket& b, size_t n) {
    manager_->Charge(static_cast<int64_t>(n) - static_cast<int64_t>(b.bytes));
    bytes_ = bytes_ + n - b.bytes;
    b.bytes = n;
  }

  void MarkDirty(Bucket& b) {
    if (b.in_dirty) return;
    b.in_dirty = true;
    dirty_.PushFront(&b);
  }

  /// Counts the bucket's size and, when they fit, keeps its rows (the bucket holds no changes).
  void Load(Bucket& b) {
    manager_->CountLoad();
    const std::string prefix = BucketPrefix(b.side, *b.key);
    const size_t max = manager_->max_cached_bucket_bytes();
    const size_t base = BaseBytes(b);
    b.size = 0;
    manager_->Scan(prefix, [&](std::string_view key, std::string_view value) {
      const int64_t n = DecodeCounter(value);
      b.size += n;
      if (b.complete) {
        std::string_view enc = key.substr(prefix.size());
        const uint32_t len = static_cast<uint32_t>(enc.size());
        b.packed.append(reinterpret_cast<const char*>(&len), sizeof len);
        b.packed.append(enc);
        b.packed.append(reinterpret_cast<const char*>(&n), sizeof n);
        b.packed.push_back('\0');
        ++b.entries;
        if (base + b.packed.size() > max) {  // too big: count the rest only
          b.complete = false;
          std::string().swap(b.packed);
          b.entries = 0;
        }
      }
      return true;
    });
    if (b.complete) {
      b.packed.shrink_to_fit();
      Reindex(b);
    }
    SetBytes(b, b.complete ? CompleteBytes(b) : base);
  }

  /// Writes `b`'s changes to the store now (spilled: undone unless committed).
  void WriteNow(Bucket& b) {
    if (!b.in_dirty) return;
    StateWrites w;
    Write(b, w);
    manager_->Spill(w);
  }

  /// Appends the writes of `b`'s changes to `w` and marks it clean.
  void Write(Bucket& b, StateWrites& w) {
    const std::string prefix = BucketPrefix(b.side, *b.key);
    if (b.complete) {
      std::string kept;
      kept.reserve(b.packed.size());
      size_t entries = 0;
      for (size_t pos = 0; pos < b.packed.size();) {
        const Packed e = At(b.packed, pos);
        if (e.dirty) {
          if (e.is_new) {
            // Not in the store: no read for its undo record; gone again before it was written: nothing.
            if (e.mult > 0) w.PutNew(prefix, e.enc, EncodeCounter(e.mult));
          } else if (e.mult > 0) {
            w.Put(prefix, e.enc, EncodeCounter(e.mult));
          } else {
            w.Delete(prefix, e.enc);
          }
        }
        if (e.mult > 0) {
          kept.append(b.packed, pos, e.next - pos);
          kept.back() = '\0';
          ++entries;
        }
        pos = e.next;
      }
      b.packed = std::move(kept);
      b.entries = entries;
      Reindex(b);
      SetBytes(b, CompleteBytes(b));
    } else {
      if (b.extra) {
        for (const auto& [enc, delta] : b.extra->deltas) {
          if (delta != 0) w.Add(prefix, enc, delta);
        }
      }
      b.extra.reset();  // a partial bucket has no index
      SetBytes(b, BaseBytes(b));
    }
    b.in_dirty = false;
    dirty_.Remove(&b);
  }

  std::unordered_map<std::string, Bucket> buckets_[2];
  bool known_[2];  ///< every non-empty bucket of the side is cached (nothing stored at start, nothing evicted)
  IntrusiveList<Bucket, &Bucket::lru_prev, &Bucket::lru_next> lru_;
  IntrusiveList<Bucket, &Bucket::dirty_prev, &Bucket::dirty_next> dirty_;
  size_t bytes_ = 0;
};

/// An AggregateOperator's groups in a ViewStateManager. Store layout under ns(): `g | BE32 len |
/// group key` -> the group record (rows, emitted row, version, per aggregate count/sum, then per
/// min/max/DISTINCT multiset either its values inline or a mark that it is stored value by value),
/// and for the latter `g | BE32 len | group key | aggregate index (u8) | EncodeKey(value)` ->
/// multiplicity. A small multiset rides in the record, so a group is loaded with one point read; a
/// big one is stored value by value (a change writes one value, often as a blind counter add), and
/// of a min/max one memory keeps only a window of its smallest and largest values. The cache unit
/// is a group.
class PersistedAggregateState final : public StateCache {
 public:
  /// The window of a min/max multiset stored value by value: memory holds the exact multiplicity
  /// of every value <= lo and every value >= hi (lo < hi), and none in between.
  struct Window {
    Value lo, hi;
  };
  struct Multiset {
    bool keyed = false;              ///< stored value by value (else inside the group record)
    std::unique_ptr<Window> window;  ///< keyed min/max only: memory holds part of the values
  };
  struct Group {
    GroupState g;
    const std::string* key = nullptr;
    std::vector<Multiset> ms;  ///< per aggregate index (used by multiset owners only)
    /// Keyed multisets: aggregate index byte + EncodeKey(value) -> multiplicity change not yet written.
    std::unordered_map<std::string, int64_t> pending;
    bool absent = true;   ///< the group has no record (a write deletes it)
    bool stored = false;  ///< the store holds a record of the group (loaded, or written since)
    bool in_dirty = false;
    /// Compacted by the eviction of a group without keyed multisets: `g` is empty and the group is
    /// its record (as stored), parsed again when the group is used (no RocksDB read or write).
    bool frozen = false;
    std::string record;   ///< when frozen
    size_t bytes = 0;
    size_t value_bytes = 0;  ///< bytes of the multisets' and pending's nodes
    uint64_t tick = 0;
    Group* lru_prev = nullptr;
    Group* lru_next = nullptr;
    Group* dirty_prev = nullptr;
    Group* dirty_next = nullptr;
  };

  PersistedAggregateState(ViewStateManager* manager, std::string view, std::string ns, const std::vector<SqlType>& key_types,
                          const std::vector<AggCall>& aggs)
      : StateCache(manager, std::move(view), std::move(ns)), key_types_(key_types), aggs_(aggs),
        values_of_(SharedMultisets(aggs)), windowable_(aggs.size(), false), known_(IsEmpty(manager_, ns_)) {
    for (size_t a = 0; a < aggs_.size(); ++a) {
      if (values_of_[a] != a || !HasMultiset(aggs_[a])) continue;
      owners_.push_back(a);
      bool minmax = true;
      for (size_t b = a; b < aggs_.size(); ++b) {
        if (values_of_[b] == a) minmax = minmax && !aggs_[b].distinct && (aggs_[b].func == AggFunc::kMin || aggs_[b].func == AggFunc::kMax);
      }
      windowable_[a] = minmax;
    }
  }

  ~PersistedAggregateState() override { manager_->Charge(-static_cast<int64_t>(bytes_)); }

  /// The group of `key`, loaded from the store on a miss (a fresh absent group when it has none).
  Group& Get(const std::string& key) {
    auto [it, inserted] = groups_.try_emplace(key);
    Group& gr = it->second;
    if (inserted) {
      gr.key = &it->first;
      Load(gr);
      gr.tick = manager_->Tick();
      lru_.PushFront(&gr);
    } else if (lru_.head != &gr) {
      gr.tick = manager_->Tick();
      lru_.Remove(&gr);
      lru_.PushFront(&gr);
    }
    if (gr.frozen) Thaw(gr);
    return gr;
  }

  /// Adds (sign +1) or retracts (-1) the non-null value `v` of multiset owner `a` (min, max or
  /// DISTINCT), keeping its window and its unwritten changes.
  void ChangeValue(Group& gr, size_t a, const Value& v, int sign) {
    AggAccumulator& acc = gr.g.acc[a];
    Multiset& m = gr.ms[a];
    if (Covered(m, a, v)) {
      const size_t before = acc.values.size();
      AccumulateAgg(acc, aggs_[a], v, sign);
      if (acc.values.size() != before) {
        ValuesChanged(gr, static_cast<int64_t>(acc.values.size()) - static_cast<int64_t>(before), HeapBytes(v.s));
      }
    } else {
      acc.count += sign;  // between the window's ends (min/max only: count is the multiset's size)
    }
    if (m.keyed) {
      std::string t(1, static_cast<char>(a));
      EncodeKey(t, v, aggs_[a].arg->type);
      AddPending(gr, std::move(t), sign);
      if (gr.pending.size() >= kMaxPending &&
          gr.pending.size() * (kPendingNodeBytes + 16) > manager_->max_cached_bucket_bytes()) {
        // A hot group gathering many changes (or a multiset just moved to keys): write them now
        // (spilled, undone unless committed) so they do not crowd the cache out.
        StateWrites w;
        WritePending(gr, GroupPrefix(*gr.key), w);
        manager_->Spill(w);
      }
    } else if (acc.values.size() > manager_->multiset_inline_values()) {
      MakeKeyed(gr, a);
    }
    if (m.keyed && windowable_[a]) {
      if (acc.values.size() > 4 * manager_->multiset_window_keep()) Trim(gr, a);
      if (m.window && sign < 0 && !EndsKnown(gr, a)) Refill(gr, a);
    }
  }

  /// Marks the group changed (its record is written at the next eviction or Commit).
  void Changed(Group& gr) {
    if (!gr.in_dirty) {
      gr.in_dirty = true;
      dirty_.PushFront(&gr);
    }
    Recharge(gr);
  }

  /// Turns the group into an absent one (it vanished); its record is deleted when written.
  void Erase(Group& gr) {
    for (size_t a : owners_) {
      for (const auto& [v, n] : gr.g.acc[a].values) ValuesChanged(gr, -1, HeapBytes(v.s));
      gr.ms[a].window.reset();
    }
    GroupState fresh;
    fresh.key = std::move(gr.g.key);
    fresh.acc.resize(aggs_.size());
    gr.g = std::move(fresh);
    gr.absent = true;
    Changed(gr);
  }

  /// Adds `key` to the groups to emit at the next Flush.
  void AddPending(const std::string& key) {
    pending_.push_back(key);
    const size_t n = sizeof(std::string) + HeapBytes(pending_.back());
    pending_bytes_ += n;
    bytes_ += n;
    manager_->Charge(static_cast<int64_t>(n));
  }

  /// Takes the groups to emit (in first-change order).
  std::vector<std::string> TakePending() {
    manager_->Charge(-static_cast<int64_t>(pending_bytes_));
    bytes_ -= pending_bytes_;
    pending_bytes_ = 0;
    return std::move(pending_);
  }

  ViewStateManager* manager() const { return manager_; }

  uint64_t OldestTick() const override { return lru_.tail ? lru_.tail->tick : UINT64_MAX; }

  bool EvictOldest(StateWrites& w) override {
    Group* gr = lru_.tail;
    if (!gr->frozen && Freezable(*gr)) {
      // Keep it as its record (~4x smaller), as the most recently used: frozen groups are dropped
      // only once every live one is frozen.
      Freeze(*gr);
      gr->tick = manager_->Tick();
      lru_.Remove(gr);
      lru_.PushFront(gr);
      return false;
    }
    known_ = false;
    if (gr->in_dirty) Write(*gr, w);
    lru_.Remove(gr);
    SetBytes(*gr, 0);
    groups_.erase(groups_.find(*gr->key));
    return true;
  }

  bool CollectDirty(StateWrites& w, size_t limit) override {
    while (dirty_.head != nullptr && w.bytes() < limit) Write(*dirty_.head, w);
    return dirty_.head == nullptr;
  }

 private:
  /// Record trailer version (records written before it end after the accumulators; their
  /// multisets are all stored value by value, one copy per aggregate sharing them).
  static constexpr uint8_t kRecordMultisets = 2;
  /// Unwritten multiset changes a group holds before they are written.
  static constexpr size_t kMaxPending = 1024;
  static constexpr size_t kPendingNodeBytes = kNodeBytes + sizeof(std::string) + sizeof(int64_t);

  std::string GroupPrefix(const std::string& key) const {
    std::string p = ns_;
    p.push_back('g');
    AppendBigEndian32(p, static_cast<uint32_t>(key.size()));
    p.append(key);
    return p;
  }

  /// Notes a change of the multisets' sizes by `delta` nodes holding `heap` string bytes each.
  void ValuesChanged(Group& gr, int64_t delta, size_t heap) {
    const int64_t node = static_cast<int64_t>(kNodeBytes + sizeof(Value) + sizeof(int64_t) + heap);
    gr.value_bytes = static_cast<size_t>(std::max<int64_t>(0, static_cast<int64_t>(gr.value_bytes) + delta * node));
  }

  bool Less(size_t a, const Value& x, const Value& y) const { return ValueLess{aggs_[a].arg->type}(x, y); }

  /// Whether memory holds the exact multiplicity of `v` in multiset `a`.
  bool Covered(const Multiset& m, size_t a, const Value& v) const {
    return !m.window || !Less(a, m.window->lo, v) || !Less(a, v, m.window->hi);
  }

  /// Whether the window still holds the smallest and the largest value (or the multiset is empty,
  /// then the window is dropped).
  bool EndsKnown(Group& gr, size_t a) {
    AggAccumulator& acc = gr.g.acc[a];
    Multiset& m = gr.ms[a];
    if (acc.count == 0) {
      SLUICE_CHECK(acc.values.empty(), "aggregate multiset window holds values of an empty multiset");
      m.window.reset();
      return true;
    }
    return !acc.values.empty() && !Less(a, m.window->lo, acc.values.begin()->first) &&
           !Less(a, acc.values.rbegin()->first, m.window->hi);
  }

  void AddPending(Group& gr, std::string t, int64_t delta) {
    auto [it, inserted] = gr.pending.try_emplace(std::move(t), 0);
    if (inserted) gr.value_bytes += kPendingNodeBytes + HeapBytes(it->first);
    it->second += delta;
    if (it->second == 0) {
      gr.value_bytes -= std::min(gr.value_bytes, kPendingNodeBytes + HeapBytes(it->first));
      gr.pending.erase(it);
    }
  }

  /// Moves inline multiset `a` (complete in memory) to value-by-value storage: every value is
  /// pending (the store holds none of its keys).
  void MakeKeyed(Group& gr, size_t a) {
    gr.ms[a].keyed = true;
    for (const auto& [v, n] : gr.g.acc[a].values) {
      std::string t(1, static_cast<char>(a));
      EncodeKey(t, v, aggs_[a].arg->type);
      AddPending(gr, std::move(t), n);
    }
  }

  /// Keeps the window_keep smallest and largest values of multiset `a` (more than 2x that held).
  void Trim(Group& gr, size_t a) {
    auto& values = gr.g.acc[a].values;
    const size_t keep = manager_->multiset_window_keep();
    Multiset& m = gr.ms[a];
    Value lo = std::next(values.begin(), static_cast<std::ptrdiff_t>(keep - 1))->first;
    Value hi = std::prev(values.end(), static_cast<std::ptrdiff_t>(keep))->first;
    if (m.window) {
      if (Less(a, m.window->lo, lo)) lo = m.window->lo;
      if (Less(a, hi, m.window->hi)) hi = m.window->hi;
    }
    auto it = values.upper_bound(lo);
    const auto end = values.lower_bound(hi);
    while (it != end) {
      ValuesChanged(gr, -1, HeapBytes(it->first.s));
      it = values.erase(it);
    }
    if (!m.window) m.window = std::make_unique<Window>();
    m.window->lo = std::move(lo);
    m.window->hi = std::move(hi);
  }

  /// Adds a value read from the store (with its multiplicity) to multiset `a` if its window covers it.
  void InsertLoaded(Group& gr, size_t a, Value v, int64_t n) {
    if (n <= 0 || !Covered(gr.ms[a], a, v)) return;
    auto& values = gr.g.acc[a].values;
    if (values.empty()) values = std::map<Value, int64_t, ValueLess>(ValueLess{aggs_[a].arg->type});
    const size_t heap = HeapBytes(v.s);
    if (values.emplace(std::move(v), n).second) ValuesChanged(gr, 1, heap);
    if (windowable_[a] && gr.ms[a].keyed && values.size() > 4 * manager_->multiset_window_keep()) Trim(gr, a);
  }

  /// Reads keyed multiset `a` again from the store, with the changes not yet written.
  void Refill(Group& gr, size_t a) {
    auto& values = gr.g.acc[a].values;
    for (const auto& [v, n] : values) ValuesChanged(gr, -1, HeapBytes(v.s));
    values.clear();
    gr.ms[a].window.reset();
    manager_->CountLoad();
    const std::string prefix = GroupPrefix(*gr.key) + static_cast<char>(a);
    const SqlType& type = aggs_[a].arg->type;
    std::unordered_set<const std::string*> seen;
    manager_->Scan(prefix, [&](std::string_view key, std::string_view value) {
      int64_t n = DecodeCounter(value);
      std::string_view rest = key.substr(prefix.size() - 1);  // aggregate index byte + value
      if (!gr.pending.empty()) {
        auto p = gr.pending.find(std::string(rest));
        if (p != gr.pending.end()) {
          n += p->second;
          seen.insert(&p->first);
        }
      }
      rest.remove_prefix(1);
      InsertLoaded(gr, a, DecodeKey(rest, type), n);
      return true;
    });
    for (const auto& [t, n] : gr.pending) {
      if (static_cast<uint8_t>(t[0]) != a || seen.count(&t)) continue;
      std::string_view rest(t);
      rest.remove_prefix(1);
      InsertLoaded(gr, a, DecodeKey(rest, type), n);
    }
    if (gr.g.acc[a].count != 0 && windowable_[a] && values.empty()) {
      Throw(ErrorKind::kState, "aggregate state lost the values of a min/max (the store does not fit the group record)");
    }
  }

  void SetBytes(Group& gr, size_t n) {
    manager_->Charge(static_cast<int64_t>(n) - static_cast<int64_t>(gr.bytes));
    bytes_ = bytes_ + n - gr.bytes;
    gr.bytes = n;
  }

  void Recharge(Group& gr) {
    if (gr.frozen) {
      SetBytes(gr, kNodeBytes + sizeof(std::string) + sizeof(Group) + HeapBytes(*gr.key) + HeapBytes(gr.record) +
                       gr.ms.capacity() * sizeof(Multiset));
      return;
    }
    size_t n = kNodeBytes + sizeof(std::string) + sizeof(Group) + HeapBytes(*gr.key) + RowBytes(gr.g.key) +
               RowBytes(gr.g.last) + gr.g.acc.capacity() * sizeof(AggAccumulator) + gr.value_bytes +
               gr.ms.capacity() * sizeof(Multiset) + gr.pending.bucket_count() * sizeof(void*);
    for (size_t a : owners_) {
      if (gr.ms[a].window) n += sizeof(Window) + 32 + HeapBytes(gr.ms[a].window->lo.s) + HeapBytes(gr.ms[a].window->hi.s);
    }
    SetBytes(gr, n);
  }

  void Load(Group& gr) {
    GroupState& g = gr.g;
    std::string_view kv(*gr.key);
    for (const auto& t : key_types_) g.key.push_back(DecodeKey(kv, t));
    g.acc.resize(aggs_.size());
    if (!owners_.empty()) gr.ms.resize(aggs_.size());
    if (known_) {  // every stored group is cached: this one is new
      Recharge(gr);
      return;
    }
    manager_->CountLoad();
    const std::optional<std::string> record = manager_->Get(GroupPrefix(*gr.key));
    if (!record) {  // no record: no multiset values either
      Recharge(gr);
      return;
    }
    gr.stored = true;
    Parse(gr, *record);
    for (size_t a : owners_) {
      if (gr.ms[a].keyed) Refill(gr, a);
    }
    Recharge(gr);
  }

  bool Freezable(const Group& gr) const {
    for (size_t a : owners_) {
      if (gr.ms[a].keyed) return false;
    }
    return gr.pending.empty();
  }

  /// Replaces the group's state by its record.
  void Freeze(Group& gr) {
    gr.record = gr.absent ? std::string() : Record(gr);
    gr.record.shrink_to_fit();
    for (size_t a : owners_) {
      for (const auto& [v, n] : gr.g.acc[a].values) ValuesChanged(gr, -1, HeapBytes(v.s));
    }
    gr.g = GroupState();
    gr.frozen = true;
    Recharge(gr);
  }

  /// Parses a frozen group's record back.
  void Thaw(Group& gr) {
    gr.frozen = false;
    std::string record = std::move(gr.record);
    gr.record = std::string();
    std::string_view kv(*gr.key);
    for (const auto& t : key_types_) gr.g.key.push_back(DecodeKey(kv, t));
    gr.g.acc.resize(aggs_.size());
    if (!record.empty()) Parse(gr, record);  // else an absent group: a fresh one
    Recharge(gr);
  }

  /// Reads a group record into `gr` (its key and accumulators set up); keyed multisets are marked
  /// only (their values are read by Refill).
  void Parse(Group& gr, std::string_view record) {
    GroupState& g = gr.g;
    StateReader r(record);
    g.rows = r.Get<int64_t>();
    g.emitted = r.Get<uint8_t>() != 0;
    g.dirty = r.Get<uint8_t>() != 0;
    g.version = r.Get<uint64_t>();
    g.last = r.GetRow();
    if (r.Get<uint64_t>() != aggs_.size()) Throw(ErrorKind::kState, "aggregate state does not fit the view");
    for (auto& acc : g.acc) {
      acc.count = r.Get<int64_t>();
      acc.sum = r.Get<Int128>();
      acc.dsum = r.Get<double>();
    }
    gr.absent = false;
    if (r.AtEnd()) {  // written before inline multisets: every multiset is stored value by value
      for (size_t a : owners_) gr.ms[a].keyed = true;
    } else {
      if (r.Get<uint8_t>() != kRecordMultisets) Throw(ErrorKind::kState, "aggregate state has an unknown record version");
      for (size_t a : owners_) {
        const bool keyed = r.Get<uint8_t>() != 0;
        gr.ms[a].keyed = keyed;
        if (keyed) continue;
        const uint32_t n = r.Get<uint32_t>();
        std::string_view rest = r.Rest();
        for (uint32_t k = 0; k < n; ++k) {
          Value v = DecodeKey(rest, aggs_[a].arg->type);
          int64_t c = 0;
          if (rest.size() < sizeof c) Throw(ErrorKind::kState, "aggregate state record is truncated");
          std::memcpy(&c, rest.data(), sizeof c);
          rest.remove_prefix(sizeof c);
          InsertLoaded(gr, a, std::move(v), c);
        }
        r.Skip(r.Rest().size() - rest.size());
      }
      if (!r.AtEnd()) Throw(ErrorKind::kState, "aggregate state has trailing bytes");
    }
  }

  /// Appends the writes of the unwritten multiset changes of `gr` to `w`.
  void WritePending(Group& gr, const std::string& prefix, StateWrites& w) {
    for (const auto& [t, delta] : gr.pending) {
      const size_t a = static_cast<uint8_t>(t[0]);
      std::string_view rest(t);
      rest.remove_prefix(1);
      Value v = DecodeKey(rest, aggs_[a].arg->type);
      if (Covered(gr.ms[a], a, v)) {  // the exact multiplicity is known: no read at the write
        const auto& values = gr.g.acc[a].values;
        auto it = values.empty() ? values.end() : values.find(v);
        if (it != values.end()) w.Put(prefix, t, EncodeCounter(it->second)); else w.Delete(prefix, t);
      } else {
        w.Add(prefix, t, delta);
      }
      gr.value_bytes -= std::min(gr.value_bytes, kPendingNodeBytes + HeapBytes(t));
    }
    std::unordered_map<std::string, int64_t>().swap(gr.pending);
  }

  /// Appends the writes of `gr`'s changes to `w` and marks it clean.
  void Write(Group& gr, StateWrites& w) {
    const std::string prefix = GroupPrefix(*gr.key);
    // The record: a group the store does not hold yet is put without a read for its undo record,
    // and one that vanished before it was ever written needs no delete.
    auto write_record = [&](std::string_view record) {
      if (gr.absent) {
        if (gr.stored) w.Delete(prefix);
      } else if (gr.stored) {
        w.Put(prefix, record);
      } else {
        w.PutNew(prefix, {}, record);
      }
      gr.stored = !gr.absent;
    };
    if (gr.frozen) {
      write_record(gr.record);
    } else {
      WritePending(gr, prefix, w);
      for (size_t a : owners_) {
        // An empty keyed multiset has no keys left once its pending deletes are written.
        if (gr.ms[a].keyed && gr.g.acc[a].values.empty() && !gr.ms[a].window) gr.ms[a].keyed = false;
      }
      write_record(gr.absent ? std::string() : Record(gr));
    }
    gr.in_dirty = false;
    dirty_.Remove(&gr);
    Recharge(gr);
  }

  /// The group's record (layout above).
  std::string Record(const Group& gr) const {
    {
      const GroupState& g = gr.g;
      StateWriter wr;
      wr.Put(g.rows);
      wr.Put<uint8_t>(g.emitted);
      wr.Put<uint8_t>(g.dirty);
      wr.Put(g.version);
      wr.PutRow(g.last);
      wr.Put<uint64_t>(g.acc.size());
      for (const auto& acc : g.acc) {
        wr.Put(acc.count);
        wr.Put(acc.sum);
        wr.Put(acc.dsum);
      }
      wr.Put<uint8_t>(kRecordMultisets);
      std::string rec = wr.Take();
      for (size_t a : owners_) {
        rec.push_back(gr.ms[a].keyed ? '\1' : '\0');
        if (gr.ms[a].keyed) continue;
        const auto& values = g.acc[a].values;
        const uint32_t n = static_cast<uint32_t>(values.size());
        rec.append(reinterpret_cast<const char*>(&n), sizeof n);
        for (const auto& [v, c] : values) {
          EncodeKey(rec, v, aggs_[a].arg->type);
          rec.append(reinterpret_cast<const char*>(&c), sizeof c);
        }
      }
      return rec;
    }
  }

  std::vector<SqlType> key_types_;
  std::vector<AggCall> aggs_;
  std::vector<size_t> values_of_;  ///< SharedMultisets(aggs_)
  std::vector<size_t> owners_;     ///< aggregates owning a multiset (min/max/DISTINCT, first of those sharing it)
  std::vector<bool> windowable_;   ///< owner whose multiset serves min/max only (memory may hold a window)
  bool known_;  ///< every stored group is cached (nothing stored at start, nothing evicted)
  std::unordered_map<std::string, Group> groups_;
  IntrusiveList<Group, &Group::lru_prev, &Group::lru_next> lru_;
  IntrusiveList<Group, &Group::dirty_prev, &Group::dirty_next> dirty_;
  std::vector<std::string> pending_;
  size_t pending_bytes_ = 0;
  size_t bytes_ = 0;
};

static bool IsAdd(RowOp op) { return op == RowOp::kInsert || op == RowOp::kUpdateAfter; }

std::vector<size_t> SharedMultisets(const std::vector<AggCall>& aggs) {
  std::vector<size_t> of(aggs.size());
  for (size_t a = 0; a < aggs.size(); ++a) {
    of[a] = a;
    if (!HasMultiset(aggs[a])) continue;
    for (size_t b = 0; b < a; ++b) {
      if (of[b] == b && HasMultiset(aggs[b]) && aggs[b].arg->type == aggs[a].arg->type &&
          aggs[b].arg->ToString() == aggs[a].arg->ToString() && !aggs[b].filter == !aggs[a].filter &&
          (!aggs[a].filter || aggs[b].filter->ToString() == aggs[a].filter->ToString())) {
        of[a] = b;
        break;
      }
    }
  }
  return of;
}

// ---- Filter ----

FilterOperator::FilterOperator(const PlanNode& node)
    : Operator(node), predicate_(node.predicate), in_types_(node.inputs[0]->types) {}

void FilterOperator::Push(int, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) {
  ChunkBuilder b(schema_, types_);
  const size_t n = chunk.size();
  for (size_t i = 0; i < n; ++i) {
    Row r = ReadRow(chunk, i, in_types_);
    bool pass = IsTrue(Eval(*predicate_, r));
    if (chunk.op(i) == RowOp::kUpdateBefore && i + 1 < n && chunk.op(i + 1) == RowOp::kUpdateAfter) {
      Row a = ReadRow(chunk, i + 1, in_types_);
      bool pass_after = IsTrue(Eval(*predicate_, a));
      if (pass && pass_after) {
        b.Add(RowOp::kUpdateBefore, chunk.version(i), r);
        b.Add(RowOp::kUpdateAfter, chunk.version(i + 1), a);
      } else if (pass) {
        b.Add(RowOp::kDelete, chunk.version(i), r);
      } else if (pass_after) {
        b.Add(RowOp::kInsert, chunk.version(i + 1), a);
      }
      ++i;
      continue;
    }
    if (pass) b.Add(chunk.op(i), chunk.version(i), r);
  }
  b.FlushTo(out);
}

// ---- Project ----

ProjectOperator::ProjectOperator(const PlanNode& node)
    : Operator(node), exprs_(node.exprs), in_types_(node.inputs[0]->types) {}

void ProjectOperator::Push(int, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) {
  ChunkBuilder b(schema_, types_);
  Row o(exprs_.size()), after(exprs_.size());
  const size_t n = chunk.size();
  for (size_t i = 0; i < n; ++i) {
    Row r = ReadRow(chunk, i, in_types_);
    for (size_t k = 0; k < exprs_.size(); ++k) o[k] = Eval(*exprs_[k], r);
    if (chunk.op(i) == RowOp::kUpdateBefore && i + 1 < n && chunk.op(i + 1) == RowOp::kUpdateAfter) {
      Row ra = ReadRow(chunk, i + 1, in_types_);
      for (size_t k = 0; k < exprs_.size(); ++k) after[k] = Eval(*exprs_[k], ra);
      if (!RowsEqual(o, after, types_)) {  // an update of columns the view does not show is no change
        b.Add(RowOp::kUpdateBefore, chunk.version(i), o);
        b.Add(RowOp::kUpdateAfter, chunk.version(i + 1), after);
      }
      ++i;
      continue;
    }
    b.Add(chunk.op(i), chunk.version(i), o);
  }
  b.FlushTo(out);
}

// ---- UnionAll ----

UnionAllOperator::UnionAllOperator(const PlanNode& node) : Operator(node) {}

void UnionAllOperator::Push(int, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) {
  ChunkBuilder b(schema_, types_);
  for (size_t i = 0; i < chunk.size(); ++i) b.Add(chunk.op(i), chunk.version(i), ReadRow(chunk, i, types_));
  b.FlushTo(out);
}

// ---- Aggregate ----

void AccumulateAgg(AggAccumulator& acc, const AggCall& call, const Value& v, int sign) {
  if (call.func == AggFunc::kCountStar) {
    acc.count += sign;
    return;
  }
  if (v.null) return;
  if (call.distinct || call.func == AggFunc::kMin || call.func == AggFunc::kMax) {
    if (acc.values.empty()) acc.values = std::map<Value, int64_t, ValueLess>(ValueLess{call.arg->type});
    if (sign > 0) {
      // One descent: the insert reuses the search's position.
      auto it = acc.values.lower_bound(v);
      if (it != acc.values.end() && !acc.values.key_comp()(v, it->first)) {
        ++it->second;
      } else {
        acc.values.emplace_hint(it, v, 1);
      }
    } else {
      auto it = acc.values.find(v);
      SLUICE_CHECK(it != acc.values.end(), "aggregate retracts a value it never saw");
      if (--it->second == 0) acc.values.erase(it);
    }
    if (call.distinct) return;
  }
  acc.count += sign;
  if (call.func == AggFunc::kBoolAnd || call.func == AggFunc::kBoolOr) {
    if (v.i != 0) acc.sum += sign;  // trues among the `count` values
    return;
  }
  if (call.func == AggFunc::kSum || call.func == AggFunc::kAvg) {
    const SqlType& t = call.arg->type;
    if (t.id == TypeId::kDouble) {
      acc.dsum += sign * v.d;
      if (acc.count == 0) acc.dsum = 0;  // no drift once empty
    } else if (t.id == TypeId::kDecimal) {
      acc.sum = CheckedAdd128(acc.sum, sign > 0 ? v.dec : -v.dec);
    } else {
      acc.sum += sign > 0 ? static_cast<Int128>(v.i) : -static_cast<Int128>(v.i);
    }
  }
}

Value FinalizeAgg(const AggAccumulator& acc, const AggCall& call) {
  switch (call.func) {
    case AggFunc::kCountStar: return Value::Int(acc.count);
    case AggFunc::kCount: return Value::Int(call.distinct ? static_cast<int64_t>(acc.values.size()) : acc.count);
    case AggFunc::kMin: return acc.values.empty() ? Value::Null() : acc.values.begin()->first;
    case AggFunc::kMax: return acc.values.empty() ? Value::Null() : acc.values.rbegin()->first;
    case AggFunc::kBoolAnd:
    case AggFunc::kBoolOr: {
      int64_t n = acc.count;
      Int128 trues = acc.sum;
      if (call.distinct) {
        n = static_cast<int64_t>(acc.values.size());
        trues = 0;
        for (const auto& [v, c] : acc.values) trues += v.i != 0;
      }
      if (n == 0) return Value::Null();
      return Value::Bool(call.func == AggFunc::kBoolAnd ? trues == n : trues > 0);
    }
    case AggFunc::kSum:
    case AggFunc::kAvg: break;
  }
  const SqlType& t = call.arg->type;
  int64_t n = acc.count;
  Int128 sum = acc.sum;
  double dsum = acc.dsum;
  if (call.distinct) {
    n = static_cast<int64_t>(acc.values.size());
    sum = 0;
    dsum = 0;
    for (const auto& [v, c] : acc.values) {
      if (t.id == TypeId::kDouble) dsum += v.d;
      else if (t.id == TypeId::kDecimal) sum = CheckedAdd128(sum, v.dec);
      else sum += v.i;
    }
  }
  if (n == 0) return Value::Null();
  if (call.func == AggFunc::kSum) {
    if (t.id == TypeId::kDouble) return Value::Double(dsum);
    if (t.id == TypeId::kDecimal || call.type.id == TypeId::kDecimal) return Value::Decimal(sum);  // sum(bigint): numeric(38,0)
    if (sum > INT64_MAX || sum < INT64_MIN) Throw(ErrorKind::kData, "bigint out of range in sum()");
    return Value::Int(static_cast<int64_t>(sum));
  }
  if (t.id == TypeId::kDouble) return Value::Double(dsum / static_cast<double>(n));
  int in_scale = t.id == TypeId::kDecimal ? t.scale : 0;
  return Value::Decimal(DivRound128(CheckedMul128(sum, Pow10(call.type.scale - in_scale)), n));
}

AggregateOperator::AggregateOperator(const PlanNode& node)
    : Operator(node), keys_(node.group_keys), aggs_(node.aggs), in_types_(node.inputs[0]->types),
      global_(node.global_aggregate), values_of_(SharedMultisets(aggs_)) {
  for (auto& k : keys_) key_types_.push_back(k->type);
  if (global_) Group("", {});
}

AggregateOperator::~AggregateOperator() = default;

void AggregateOperator::AttachState(ViewStateManager* manager, const std::string& view, int index) {
  state_ = AggregateState{};
  pstate_ = std::make_unique<PersistedAggregateState>(manager, view, manager->Namespace(view, index), key_types_, aggs_);
  if (global_) {
    auto& gr = pstate_->Get("");
    if (gr.absent) {  // first run: the global row is emitted at the first Flush, as in memory
      gr.absent = false;
      gr.g.dirty = true;
      pstate_->AddPending("");
      pstate_->Changed(gr);
    }
  }
}

/// Emits the change of group `g` since its last emitted row; returns whether the group exists.
static bool EmitGroup(GroupState& g, bool global, const std::vector<AggCall>& aggs, const std::vector<size_t>& values_of,
                      const std::vector<SqlType>& types, ChunkBuilder& b) {
  g.dirty = false;
  const bool exists = g.rows > 0 || global;
  Row row;
  if (exists) {
    row = g.key;
    for (size_t a = 0; a < aggs.size(); ++a) row.push_back(FinalizeAgg(g.acc[values_of[a]], aggs[a]));
  }
  if (g.emitted && !exists) {
    b.Add(RowOp::kDelete, g.version, g.last);
  } else if (!g.emitted && exists) {
    b.Add(RowOp::kInsert, g.version, row);
  } else if (g.emitted && exists && !RowsEqual(g.last, row, types)) {
    b.Add(RowOp::kUpdateBefore, g.version, g.last);
    b.Add(RowOp::kUpdateAfter, g.version, row);
  }
  if (exists) {
    g.emitted = true;
    g.last = std::move(row);
  }
  return exists;
}

void AggregateOperator::PushPersisted(const ChangeChunk& chunk) {
  ViewStateManager* manager = pstate_->manager();
  Row kv(keys_.size());
  std::string key;
  for (size_t i = 0; i < chunk.size(); ++i) {
    manager->MaybeEvict();
    Row r = ReadRow(chunk, i, in_types_);
    key.clear();
    for (size_t k = 0; k < keys_.size(); ++k) {
      kv[k] = Eval(*keys_[k], r);
      EncodeKey(key, kv[k], key_types_[k]);
    }
    const int sign = IsAdd(chunk.op(i)) ? 1 : -1;
    auto& gr = pstate_->Get(key);
    GroupState& g = gr.g;
    if (!g.dirty) {
      g.dirty = true;
      pstate_->AddPending(key);
    }
    gr.absent = false;
    g.rows += sign;
    SLUICE_CHECK(g.rows >= 0, "aggregate group retracts more rows than it holds");
    g.version = std::max(g.version, chunk.version(i));
    for (size_t a = 0; a < aggs_.size(); ++a) {
      const AggCall& call = aggs_[a];
      if (values_of_[a] != a) continue;  // its values are in another aggregate's multiset
      if (call.filter && !IsTrue(Eval(*call.filter, r))) continue;
      Value v = call.arg ? Eval(*call.arg, r) : Value::Null();
      if (!v.null && HasMultiset(call)) {
        pstate_->ChangeValue(gr, a, v, sign);
      } else {
        AccumulateAgg(g.acc[a], call, v, sign);
      }
    }
    pstate_->Changed(gr);
  }
}

void AggregateOperator::FlushPersisted(std::vector<ChangeChunk>& out) {
  ChunkBuilder b(schema_, types_);
  for (const std::string& key : pstate_->TakePending()) {
    pstate_->manager()->MaybeEvict();
    auto& gr = pstate_->Get(key);
    if (!gr.g.dirty) continue;
    if (EmitGroup(gr.g, global_, aggs_, values_of_, types_, b)) {
      pstate_->Changed(gr);
    } else {
      pstate_->Erase(gr);
    }
  }
  b.FlushTo(out);
}

GroupState& AggregateOperator::Group(const std::string& key, Row key_values) {
  auto [it, inserted] = state_.groups.try_emplace(key);
  GroupState& g = it->second;
  if (inserted) {
    g.key = std::move(key_values);
    g.acc.resize(aggs_.size());
  }
  if (!g.dirty) {
    g.dirty = true;
    state_.dirty.push_back(key);
  }
  return g;
}

void AggregateOperator::Push(int, const ChangeChunk& chunk, std::vector<ChangeChunk>&) {
  if (pstate_) {
    PushPersisted(chunk);
    return;
  }
  Row kv(keys_.size());
  std::string key;
  for (size_t i = 0; i < chunk.size(); ++i) {
    Row r = ReadRow(chunk, i, in_types_);
    key.clear();
    for (size_t k = 0; k < keys_.size(); ++k) {
      kv[k] = Eval(*keys_[k], r);
      EncodeKey(key, kv[k], key_types_[k]);
    }
    const int sign = IsAdd(chunk.op(i)) ? 1 : -1;
    GroupState& g = Group(key, kv);
    g.rows += sign;
    SLUICE_CHECK(g.rows >= 0, "aggregate group retracts more rows than it holds");
    g.version = std::max(g.version, chunk.version(i));
    for (size_t a = 0; a < aggs_.size(); ++a) {
      if (values_of_[a] != a) continue;  // its values are in another aggregate's multiset
      if (aggs_[a].filter && !IsTrue(Eval(*aggs_[a].filter, r))) continue;
      AccumulateAgg(g.acc[a], aggs_[a], aggs_[a].arg ? Eval(*aggs_[a].arg, r) : Value::Null(), sign);
    }
  }
}

void AggregateOperator::Flush(std::vector<ChangeChunk>& out) {
  if (pstate_) {
    FlushPersisted(out);
    return;
  }
  ChunkBuilder b(schema_, types_);
  for (const std::string& key : state_.dirty) {
    auto it = state_.groups.find(key);
    if (!EmitGroup(it->second, global_, aggs_, values_of_, types_, b)) state_.groups.erase(it);
  }
  state_.dirty.clear();
  b.FlushTo(out);
}

std::string AggregateOperator::SnapshotState() const {
  SLUICE_CHECK(!pstate_, "Snapshot of a view whose state is in a ViewStateManager (it commits there)");
  SLUICE_CHECK(state_.dirty.empty(), "aggregate snapshot taken before Flush");
  StateWriter w;
  w.Put<uint64_t>(state_.groups.size());
  for (const auto& [key, g] : state_.groups) {
    w.PutBytes(key);
    w.PutRow(g.key);
    w.Put(g.rows);
    w.Put<uint8_t>(g.emitted);
    w.PutRow(g.last);
    w.Put(g.version);
    w.Put<uint64_t>(g.acc.size());
    for (const auto& a : g.acc) {
      w.Put(a.count);
      w.Put(a.sum);
      w.Put(a.dsum);
      w.Put<uint64_t>(a.values.size());
      for (const auto& [v, n] : a.values) {
        w.PutValue(v);
        w.Put(n);
      }
    }
  }
  return w.Take();
}

void AggregateOperator::RestoreState(std::string_view bytes) {
  SLUICE_CHECK(!pstate_, "Restore of a view whose state is in a ViewStateManager");
  StateReader r(bytes);
  AggregateState st;
  uint64_t groups = r.Get<uint64_t>();
  for (uint64_t i = 0; i < groups; ++i) {
    std::string key = r.GetBytes();
    GroupState g;
    g.key = r.GetRow();
    g.rows = r.Get<int64_t>();
    g.emitted = r.Get<uint8_t>() != 0;
    g.last = r.GetRow();
    g.version = r.Get<uint64_t>();
    uint64_t n = r.Get<uint64_t>();
    if (n != aggs_.size() || g.key.size() != keys_.size()) Throw(ErrorKind::kState, "aggregate state does not fit the view");
    g.acc.resize(n);
    for (size_t a = 0; a < n; ++a) {
      auto& acc = g.acc[a];
      acc.count = r.Get<int64_t>();
      acc.sum = r.Get<Int128>();
      acc.dsum = r.Get<double>();
      uint64_t values = r.Get<uint64_t>();
      const bool shared = values_of_[a] != a;  // a snapshot from before sharing holds a copy: dropped
      if (values > 0 && !shared) acc.values = std::map<Value, int64_t, ValueLess>(ValueLess{aggs_[a].arg->type});
      for (uint64_t k = 0; k < values; ++k) {
        Value v = r.GetValue();
        const int64_t n = r.Get<int64_t>();
        if (!shared) acc.values.emplace(std::move(v), n);
      }
    }
    st.groups.emplace(std::move(key), std::move(g));
  }
  if (!r.AtEnd()) Throw(ErrorKind::kState, "aggregate state has trailing bytes");
  state_ = std::move(st);
}

// ---- Join ----

JoinOperator::JoinOperator(const PlanNode& node) : Operator(node) {
  keys_[0] = node.left_keys;
  keys_[1] = node.right_keys;
  in_types_[0] = node.inputs[0]->types;
  in_types_[1] = node.inputs[1]->types;
  for (auto& k : keys_[0]) key_types_.push_back(k->type);
  outer_[0] = node.join_type == JoinType::kLeft || node.join_type == JoinType::kFull;
  outer_[1] = node.join_type == JoinType::kRight || node.join_type == JoinType::kFull;
  side_column_ = node.side_column;
}

JoinOperator::~JoinOperator() = default;

void JoinOperator::AttachState(ViewStateManager* manager, const std::string& view, int index) {
  state_ = JoinState{};
  pstate_ = std::make_unique<PersistedJoinState>(manager, view, manager->Namespace(view, index));
}

namespace {

/// JoinOperator::PushRows over the in-memory JoinState.
struct MemoryJoinStore {
  JoinState& st;
  using Ref = JoinBucket*;
  void BeginRow() {}
  Ref Find(int side, const std::string& key) {
    auto it = st.index[side].find(key);
    return it == st.index[side].end() ? nullptr : &it->second;
  }
  Ref Mine(int side, const std::string& key, bool) { return &st.index[side][key]; }
  static int64_t Size(Ref b) { return b ? b->size : 0; }
  template <typename F>
  void ForEach(Ref b, int, F&& fn) {
    if (b == nullptr) return;
    for (const auto& [enc, entry] : b->rows) {
      for (int64_t n = 0; n < entry.second; ++n) fn(entry.first);
    }
  }
  void Add(Ref b, const std::string& enc, Row&& r) {
    auto& entry = b->rows[enc];
    if (entry.second++ == 0) entry.first = std::move(r);
    ++b->size;
  }
  void Remove(Ref b, const std::string& enc) {
    auto it = b->rows.find(enc);
    SLUICE_CHECK(it != b->rows.end(), "join input deletes a row it never inserted");
    if (--it->second.second == 0) b->rows.erase(it);
    --b->size;
  }
  void Release(Ref b, int side, const std::string& key) {
    if (b->size == 0) st.index[side].erase(key);
  }
};

/// JoinOperator::PushRows over a PersistedJoinState (rows are decoded from their key encoding).
struct PersistedJoinStore {
  PersistedJoinState& st;
  const std::vector<SqlType>* types;
  using Ref = PersistedJoinState::Bucket*;
  void BeginRow() { st.manager()->MaybeEvict(); }
  Ref Find(int side, const std::string& key) { return &st.Get(side, key, true); }
  Ref Mine(int side, const std::string& key, bool need_size) { return &st.Get(side, key, need_size); }
  static int64_t Size(Ref b) { return b->size; }
  template <typename F>
  void ForEach(Ref b, int side, F&& fn) {
    st.ForEachRow(*b, [&](std::string_view enc, int64_t mult) {
      Row r = DecodeRow(enc, types[side]);
      for (int64_t n = 0; n < mult; ++n) fn(r);
    });
  }
  void Add(Ref b, const std::string& enc, Row&&) { st.AddRow(*b, enc, 1); }
  void Remove(Ref b, const std::string& enc) { st.AddRow(*b, enc, -1); }
  void Release(Ref, int, const std::string&) {}
};

}  // namespace

void JoinOperator::Push(int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) {
  if (pstate_) {
    PersistedJoinStore store{*pstate_, in_types_};
    PushRows(store, input, chunk, out);
  } else {
    MemoryJoinStore store{state_};
    PushRows(store, input, chunk, out);
  }
}

template <typename Store>
void JoinOperator::PushRows(Store& store, int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) {
  const int s = input, o = 1 - input;
  ChunkBuilder b(schema_, types_);
  // Output rows go straight into the chunk from their two parts (no combined Row is built).
  Value side_value;
  auto add = [&](RowOp op, uint64_t version, const Row* left, const Row* right) {
    if (side_column_) side_value = Value::Int((left ? 1 : 0) | (right ? 2 : 0));
    b.AddJoined(op, version, left, in_types_[0].size(), right, side_column_ ? &side_value : nullptr);
  };
  auto combine = [&](RowOp op, uint64_t version, const Row& mine, const Row* other) {
    if (s == 0) add(op, version, &mine, other); else add(op, version, other, &mine);
  };
  auto combine_other = [&](RowOp op, uint64_t version, const Row& other) {  // padded with NULLs for side s
    if (o == 0) add(op, version, &other, nullptr); else add(op, version, nullptr, &other);
  };
  std::string key, encoded;
  for (size_t i = 0; i < chunk.size(); ++i) {
    store.BeginRow();
    Row r = ReadRow(chunk, i, in_types_[s]);
    const bool add = IsAdd(chunk.op(i));
    const RowOp op = add ? RowOp::kInsert : RowOp::kDelete;
    const uint64_t version = chunk.version(i);
    key.clear();
    bool null_key = false;
    for (size_t k = 0; k < keys_[s].size(); ++k) {
      Value v = Eval(*keys_[s][k], r);
      null_key = null_key || v.null;
      EncodeKey(key, v, key_types_[k]);
    }
    if (null_key) {  // never matches
      if (outer_[s]) combine(op, version, r, nullptr);
      continue;
    }
    auto matches = store.Find(o, key);
    const bool has_matches = Store::Size(matches) > 0;
    auto for_each_match = [&](auto&& fn) {
      if (has_matches) store.ForEach(matches, o, fn);
    };
    auto mine = store.Mine(s, key, outer_[o]);  // its size matters only when the other side is outer
    encoded.clear();
    for (size_t c = 0; c < r.size(); ++c) EncodeKey(encoded, r[c], in_types_[s][c]);
    if (add) {
      if (outer_[o] && Store::Size(mine) == 0) for_each_match([&](const Row& m) { combine_other(RowOp::kDelete, version, m); });
      if (!has_matches) {
        if (outer_[s]) combine(op, version, r, nullptr);
      } else {
        for_each_match([&](const Row& m) { combine(op, version, r, &m); });
      }
      store.Add(mine, encoded, std::move(r));
    } else {
      store.Remove(mine, encoded);
      if (!has_matches) {
        if (outer_[s]) combine(op, version, r, nullptr);
      } else {
        for_each_match([&](const Row& m) { combine(op, version, r, &m); });
      }
      if (outer_[o] && Store::Size(mine) == 0) for_each_match([&](const Row& m) { combine_other(RowOp::kInsert, version, m); });
      store.Release(mine, s, key);
    }
  }
  b.FlushTo(out);
}

std::string JoinOperator::SnapshotState() const {
  SLUICE_CHECK(!pstate_, "Snapshot of a view whose state is in a ViewStateManager (it commits there)");
  StateWriter w;
  for (int side = 0; side < 2; ++side) {
    w.Put<uint64_t>(state_.index[side].size());
    for (const auto& [key, bucket] : state_.index[side]) {
      w.PutBytes(key);
      w.Put<uint64_t>(bucket.rows.size());
      for (const auto& [enc, entry] : bucket.rows) {
        w.PutBytes(enc);
        w.PutRow(entry.first);
        w.Put(entry.second);
      }
    }
  }
  return w.Take();
}

void JoinOperator::RestoreState(std::string_view bytes) {
  SLUICE_CHECK(!pstate_, "Restore of a view whose state is in a ViewStateManager");
  StateReader r(bytes);
  JoinState st;
  for (int side = 0; side < 2; ++side) {
    uint64_t buckets = r.Get<uint64_t>();
    for (uint64_t b = 0; b < buckets; ++b) {
      std::string key = r.GetBytes();
      JoinBucket& bucket = st.index[side][key];
      uint64_t entries = r.Get<uint64_t>();
      for (uint64_t e = 0; e < entries; ++e) {
        std::string enc = r.GetBytes();
        Row row = r.GetRow();
        int64_t n = r.Get<int64_t>();
        if (row.size() != in_types_[side].size() || n <= 0) Throw(ErrorKind::kState, "join state does not fit the view");
        bucket.rows.emplace(std::move(enc), std::make_pair(std::move(row), n));
        bucket.size += n;
      }
    }
  }
  if (!r.AtEnd()) Throw(ErrorKind::kState, "join state has trailing bytes");
  state_ = std::move(st);
}

// ---- ViewPipeline ----

void Operator::SetOutputSchema(TableSchemaPtr schema) {
  SLUICE_CHECK(schema && schema->columns.size() == types_.size(), "output schema does not match the operator's columns");
  for (size_t i = 0; i < types_.size(); ++i) {
    SLUICE_CHECK(schema->columns[i].kind == KindOfType(types_[i].id), "output schema column kind differs");
  }
  schema_ = std::move(schema);
}

ViewPipeline::ViewPipeline(PlanPtr plan, TableSchemaPtr output, ViewStateManager* state) {
  SLUICE_CHECK(plan->kind != PlanKind::kScan, "a view's plan ends in an operator");
  Build(plan, -1, 0);
  if (state) {
    SLUICE_CHECK(output && !output->table.empty(), "a view with persisted state needs its output schema (the view name)");
    for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i].op->AttachState(state, output->table, static_cast<int>(i));
  }
  if (output) nodes_[0].op->SetOutputSchema(std::move(output));
}

int ViewPipeline::Build(const PlanPtr& plan, int parent, int parent_input) {
  if (plan->kind == PlanKind::kScan) {
    scans_.push_back(Scan{plan->source, parent, parent_input, plan, nullptr});
    return -1;
  }
  std::unique_ptr<Operator> op;
  switch (plan->kind) {
    case PlanKind::kFilter: op = std::make_unique<FilterOperator>(*plan); break;
    case PlanKind::kProject: op = std::make_unique<ProjectOperator>(*plan); break;
    case PlanKind::kAggregate: op = std::make_unique<AggregateOperator>(*plan); break;
    case PlanKind::kJoin: op = std::make_unique<JoinOperator>(*plan); break;
    case PlanKind::kUnionAll: op = std::make_unique<UnionAllOperator>(*plan); break;
    case PlanKind::kScan: break;
  }
  int index = static_cast<int>(nodes_.size());
  nodes_.push_back(Node{std::move(op), parent, parent_input});
  for (size_t i = 0; i < plan->inputs.size(); ++i) Build(plan->inputs[i], index, static_cast<int>(i));
  return index;
}

std::vector<std::string> ViewPipeline::Sources() const {
  std::vector<std::string> r;
  for (auto& scan : scans_) {
    if (std::find(r.begin(), r.end(), scan.source) == r.end()) r.push_back(scan.source);
  }
  return r;
}

void ViewPipeline::Deliver(int node, int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) {
  std::vector<ChangeChunk> produced;
  nodes_[static_cast<size_t>(node)].op->Push(input, chunk, produced);
  const Node& n = nodes_[static_cast<size_t>(node)];
  for (auto& c : produced) {
    if (n.parent < 0) {
      out.push_back(std::move(c));
    } else {
      Deliver(n.parent, n.parent_input, c, out);
    }
  }
}

void ViewPipeline::Push(std::string_view source, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) {
  if (chunk.empty()) return;
  for (auto& scan : scans_) {
    if (scan.source != source) continue;
    CheckSchema(scan, chunk);
    Deliver(scan.node, scan.input, chunk, out);
  }
}

void ViewPipeline::CheckSchema(Scan& scan, const ChangeChunk& chunk) {
  const TableSchema* s = chunk.schema().get();
  if (s != nullptr && s == scan.checked) return;
  const PlanNode& p = *scan.plan;
  bool ok = chunk.num_columns() == p.types.size();
  for (size_t i = 0; ok && i < p.types.size(); ++i) {
    ok = chunk.column(i).kind() == KindOfType(p.types[i].id) &&
         (s == nullptr || i >= s->columns.size() || (s->columns[i].name.size() == p.names[i].size() &&
          std::equal(p.names[i].begin(), p.names[i].end(), s->columns[i].name.begin(),
                     [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); })));
    if (ok && s && i < s->columns.size() && (p.types[i].id == TypeId::kDecimal || p.types[i].id == TypeId::kWideDecimal)) ok = s->columns[i].scale == p.types[i].scale;
  }
  if (!ok) {
    Throw(ErrorKind::kSql, "the columns of {} changed since the view was created ({} columns now, {} then); re-create the view",
          scan.source, chunk.num_columns(), p.types.size());
  }
  scan.checked = s;
}

std::string ViewPipeline::Snapshot() const {
  StateWriter w;
  w.Put<uint64_t>(nodes_.size());
  for (const auto& n : nodes_) w.PutBytes(n.op->SnapshotState());
  return w.Take();
}

void ViewPipeline::Restore(std::string_view bytes) {
  StateReader r(bytes);
  if (r.Get<uint64_t>() != nodes_.size()) Throw(ErrorKind::kState, "view state snapshot does not fit the view's plan");
  std::vector<std::string> parts;
  for (size_t i = 0; i < nodes_.size(); ++i) parts.push_back(r.GetBytes());
  if (!r.AtEnd()) Throw(ErrorKind::kState, "view state snapshot has trailing bytes");
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i].op->RestoreState(parts[i]);
}

void ViewPipeline::Flush(std::vector<ChangeChunk>& out) {
  // Children have larger indexes than their parents: flushing from the back flushes inputs first.
  for (size_t i = nodes_.size(); i-- > 0;) {
    std::vector<ChangeChunk> produced;
    nodes_[i].op->Flush(produced);
    for (auto& c : produced) {
      if (nodes_[i].parent < 0) {
        out.push_back(std::move(c));
      } else {
        Deliver(nodes_[i].parent, nodes_[i].parent_input, c, out);
      }
    }
  }
}

}  // namespace sluice::sql
