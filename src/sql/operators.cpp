#include "sql/operators.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/error.h"

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

 private:
  void Need(uint64_t n) {
    if (n > in_.size() - pos_) Throw(ErrorKind::kState, "operator state snapshot is truncated or does not fit the view");
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

static bool IsAdd(RowOp op) { return op == RowOp::kInsert || op == RowOp::kUpdateAfter; }

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
    auto it = acc.values.find(v);
    if (sign > 0) {
      if (it == acc.values.end()) acc.values.emplace(v, 1); else ++it->second;
    } else {
      SLUICE_CHECK(it != acc.values.end(), "aggregate retracts a value it never saw");
      if (--it->second == 0) acc.values.erase(it);
    }
    if (call.distinct) return;
  }
  acc.count += sign;
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
    if (t.id == TypeId::kDecimal) return Value::Decimal(sum);
    if (sum > INT64_MAX || sum < INT64_MIN) Throw(ErrorKind::kData, "bigint out of range in sum()");
    return Value::Int(static_cast<int64_t>(sum));
  }
  if (t.id == TypeId::kDouble) return Value::Double(dsum / static_cast<double>(n));
  int in_scale = t.id == TypeId::kDecimal ? t.scale : 0;
  return Value::Decimal(DivRound128(CheckedMul128(sum, Pow10(call.type.scale - in_scale)), n));
}

AggregateOperator::AggregateOperator(const PlanNode& node)
    : Operator(node), keys_(node.group_keys), aggs_(node.aggs), in_types_(node.inputs[0]->types),
      global_(node.global_aggregate) {
  for (auto& k : keys_) key_types_.push_back(k->type);
  if (global_) Group("", {});
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
      if (aggs_[a].filter && !IsTrue(Eval(*aggs_[a].filter, r))) continue;
      AccumulateAgg(g.acc[a], aggs_[a], aggs_[a].arg ? Eval(*aggs_[a].arg, r) : Value::Null(), sign);
    }
  }
}

void AggregateOperator::Flush(std::vector<ChangeChunk>& out) {
  ChunkBuilder b(schema_, types_);
  for (const std::string& key : state_.dirty) {
    auto it = state_.groups.find(key);
    GroupState& g = it->second;
    g.dirty = false;
    const bool exists = g.rows > 0 || global_;
    Row row;
    if (exists) {
      row = g.key;
      for (size_t a = 0; a < aggs_.size(); ++a) row.push_back(FinalizeAgg(g.acc[a], aggs_[a]));
    }
    if (g.emitted && !exists) {
      b.Add(RowOp::kDelete, g.version, g.last);
    } else if (!g.emitted && exists) {
      b.Add(RowOp::kInsert, g.version, row);
    } else if (g.emitted && exists && !RowsEqual(g.last, row, types_)) {
      b.Add(RowOp::kUpdateBefore, g.version, g.last);
      b.Add(RowOp::kUpdateAfter, g.version, row);
    }
    if (exists) {
      g.emitted = true;
      g.last = std::move(row);
    } else {
      state_.groups.erase(it);
    }
  }
  state_.dirty.clear();
  b.FlushTo(out);
}

std::string AggregateOperator::SnapshotState() const {
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
      if (values > 0) acc.values = std::map<Value, int64_t, ValueLess>(ValueLess{aggs_[a].arg->type});
      for (uint64_t k = 0; k < values; ++k) {
        Value v = r.GetValue();
        acc.values.emplace(std::move(v), r.Get<int64_t>());
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
}

void JoinOperator::Push(int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) {
  const int s = input, o = 1 - input;
  ChunkBuilder b(schema_, types_);
  auto combine = [&](const Row& mine, const Row* other) {
    Row r;
    r.reserve(types_.size());
    const Row* parts[2];
    parts[s] = &mine;
    parts[o] = other;
    for (int side = 0; side < 2; ++side) {
      if (parts[side]) {
        r.insert(r.end(), parts[side]->begin(), parts[side]->end());
      } else {
        r.resize(r.size() + in_types_[side].size());
      }
    }
    return r;
  };
  auto combine_other = [&](const Row& other) {  // other side's row padded with NULLs for side s
    Row r;
    if (o == 0) {
      r = other;
      r.resize(types_.size());
    } else {
      r.resize(in_types_[0].size());
      r.insert(r.end(), other.begin(), other.end());
    }
    return r;
  };
  std::string key, encoded;
  for (size_t i = 0; i < chunk.size(); ++i) {
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
      if (outer_[s]) b.Add(op, version, combine(r, nullptr));
      continue;
    }
    auto other_it = state_.index[o].find(key);
    const JoinBucket* matches = other_it == state_.index[o].end() ? nullptr : &other_it->second;
    const bool has_matches = matches != nullptr && matches->size > 0;
    auto for_each_match = [&](auto&& fn) {
      if (!has_matches) return;
      for (const auto& [enc, entry] : matches->rows) {
        for (int64_t n = 0; n < entry.second; ++n) fn(entry.first);
      }
    };
    JoinBucket& mine = state_.index[s][key];
    encoded.clear();
    for (size_t c = 0; c < r.size(); ++c) EncodeKey(encoded, r[c], in_types_[s][c]);
    if (add) {
      if (outer_[o] && mine.size == 0) for_each_match([&](const Row& m) { b.Add(RowOp::kDelete, version, combine_other(m)); });
      if (!has_matches) {
        if (outer_[s]) b.Add(op, version, combine(r, nullptr));
      } else {
        for_each_match([&](const Row& m) { b.Add(op, version, combine(r, &m)); });
      }
      auto& entry = mine.rows[encoded];
      if (entry.second++ == 0) entry.first = std::move(r);
      ++mine.size;
    } else {
      auto it = mine.rows.find(encoded);
      SLUICE_CHECK(it != mine.rows.end(), "join input deletes a row it never inserted");
      if (--it->second.second == 0) mine.rows.erase(it);
      --mine.size;
      if (!has_matches) {
        if (outer_[s]) b.Add(op, version, combine(r, nullptr));
      } else {
        for_each_match([&](const Row& m) { b.Add(op, version, combine(r, &m)); });
      }
      if (outer_[o] && mine.size == 0) for_each_match([&](const Row& m) { b.Add(RowOp::kInsert, version, combine_other(m)); });
      if (mine.size == 0) state_.index[s].erase(key);
    }
  }
  b.FlushTo(out);
}

std::string JoinOperator::SnapshotState() const {
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

ViewPipeline::ViewPipeline(PlanPtr plan, TableSchemaPtr output) {
  SLUICE_CHECK(plan->kind != PlanKind::kScan, "a view's plan ends in an operator");
  Build(plan, -1, 0);
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
    if (ok && s && i < s->columns.size() && p.types[i].id == TypeId::kDecimal) ok = s->columns[i].scale == p.types[i].scale;
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
