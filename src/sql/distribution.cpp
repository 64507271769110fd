#include "sql/distribution.h"

#include <algorithm>
#include <cstring>

namespace sluice::sql {

namespace {

using Routes = std::map<std::string, std::vector<int>>;

/// How a plan node's rows can be split.
struct Dist {
  bool ok = false;
  /// Output columns that are column references down to the scans can route its rows (Bind; it
  /// may still fail for some): stateless over source scans (scans, filters, projections, UNION
  /// ALL), or a join of such a side with a dimension that every shard gets whole (broadcast).
  bool any = false;
  /// Besides or instead: the routing the node's state needs, as lists of output columns that hold
  /// equal values in every row (an inner join's left and right keys), with the routes of its scans.
  std::vector<std::vector<int>> alts;
  Routes routes;
};

Dist Fail() { return {}; }

bool IsColumn(const ExprPtr& e) { return e && e->kind == ExprKind::kColumn; }

/// Whether equal values of the two types are stored identically in chunks (so hash equal).
bool SameHashDomain(const SqlType& a, const SqlType& b) {
  if (a.id != b.id) return false;
  if (a.id == TypeId::kDecimal || a.id == TypeId::kWideDecimal) return a.scale == b.scale;
  return true;  // integers of any width are int64
}

bool Merge(Routes& into, const Routes& from) {
  for (const auto& [source, cols] : from) {
    auto [it, fresh] = into.emplace(source, cols);
    if (!fresh && it->second != cols) return false;  // one table read twice, routed by different columns
  }
  return true;
}

/// Every scan of `n` broadcast (each shard gets all of the table's or view's rows).
std::optional<Routes> Broadcast(const PlanNode& n) {
  if (n.kind == PlanKind::kScan) return Routes{{n.source, {}}};
  Routes all;
  for (const auto& in : n.inputs) {
    auto r = Broadcast(*in);
    if (!r || !Merge(all, *r)) return std::nullopt;
  }
  return all;
}

/// Whether `side` of join `n` is a dimension: its unique key lies within its equality keys, so a
/// row of the other side matches at most one of its rows (a lookup every shard can hold whole).
bool IsDimension(const PlanNode& n, bool right) {
  const PlanNode& side = *n.inputs[right ? 1 : 0];
  if (!side.unique_key || side.unique_key->empty()) return false;
  const auto& keys = right ? n.right_keys : n.left_keys;
  for (int k : *side.unique_key) {
    bool found = false;
    for (const auto& e : keys) found = found || (IsColumn(e) && e->column == k);
    if (!found) return false;
  }
  return true;
}

/// Routes for a subtree with Dist::any split by its output columns `cols`.
std::optional<Routes> Bind(const PlanNode& n, const std::vector<int>& cols) {
  switch (n.kind) {
    case PlanKind::kScan:
      return Routes{{n.source, cols}};
    case PlanKind::kFilter:
      return Bind(*n.inputs[0], cols);
    case PlanKind::kProject: {
      std::vector<int> in;
      for (int c : cols) {
        const ExprPtr& e = n.exprs[static_cast<size_t>(c)];
        if (!IsColumn(e)) return std::nullopt;
        in.push_back(e->column);
      }
      return Bind(*n.inputs[0], in);
    }
    case PlanKind::kUnionAll: {
      Routes all;
      for (const auto& b : n.inputs) {
        auto r = Bind(*b, cols);
        if (!r || !Merge(all, *r)) return std::nullopt;
      }
      return all;
    }
    case PlanKind::kJoin: {
      // One side split by `cols`, the other (a dimension) broadcast: every row of the split side
      // meets all of its matches in its own shard. An unmatched row of an outer join's split side
      // is emitted once, where it is; the broadcast side must not be an outer side.
      const int nl = static_cast<int>(n.inputs[0]->names.size());
      const bool all_left = std::all_of(cols.begin(), cols.end(), [&](int c) { return c < nl; });
      const bool all_right = std::all_of(cols.begin(), cols.end(), [&](int c) {
        return c >= nl && c < nl + static_cast<int>(n.inputs[1]->names.size());
      });
      const bool right_broadcast = all_left && IsDimension(n, true) &&
                                   (n.join_type == JoinType::kInner || n.join_type == JoinType::kLeft);
      const bool left_broadcast = all_right && IsDimension(n, false) &&
                                  (n.join_type == JoinType::kInner || n.join_type == JoinType::kRight);
      if (!right_broadcast && !left_broadcast) return std::nullopt;
      std::vector<int> in = cols;
      if (left_broadcast) {
        for (int& c : in) c -= nl;
      }
      auto split = Bind(*n.inputs[left_broadcast ? 1 : 0], in);
      auto whole = Broadcast(*n.inputs[left_broadcast ? 0 : 1]);
      if (!split || !whole || !Merge(*split, *whole)) return std::nullopt;
      return split;
    }
    default:
      return std::nullopt;
  }
}

Dist Analyze(const PlanNode& n) {
  switch (n.kind) {
    case PlanKind::kScan: {
      Dist d;
      d.ok = d.any = true;
      return d;
    }
    case PlanKind::kFilter:
      return Analyze(*n.inputs[0]);
    case PlanKind::kProject: {
      Dist in = Analyze(*n.inputs[0]);
      if (!in.ok || in.alts.empty()) return in;
      Dist d;
      d.ok = true;
      d.any = in.any;
      d.routes = in.routes;
      for (const auto& alt : in.alts) {
        std::vector<int> out;
        for (int c : alt) {
          int found = -1;
          for (size_t j = 0; j < n.exprs.size() && found < 0; ++j) {
            if (IsColumn(n.exprs[j]) && n.exprs[j]->column == c) found = static_cast<int>(j);
          }
          if (found < 0) break;
          out.push_back(found);
        }
        if (out.size() == alt.size()) d.alts.push_back(std::move(out));
      }
      if (d.alts.empty() && !d.any) return Fail();
      return d;
    }
    case PlanKind::kUnionAll: {
      for (const auto& b : n.inputs) {
        Dist bd = Analyze(*b);
        if (!bd.ok || !bd.any || !bd.alts.empty()) return Fail();
      }
      Dist d;
      d.ok = d.any = true;
      return d;
    }
    case PlanKind::kAggregate: {
      if (n.global_aggregate || n.group_keys.empty()) return Fail();
      // Group keys that are input columns: output column j groups by input column group_in[j].
      std::vector<int> group_in(n.group_keys.size(), -1);
      std::vector<int> in_cols, out_cols;
      for (size_t j = 0; j < n.group_keys.size(); ++j) {
        if (!IsColumn(n.group_keys[j])) continue;
        group_in[j] = n.group_keys[j]->column;
        if (std::find(in_cols.begin(), in_cols.end(), group_in[j]) != in_cols.end()) continue;
        in_cols.push_back(group_in[j]);
        out_cols.push_back(static_cast<int>(j));
      }
      if (in_cols.empty()) return Fail();
      Dist in = Analyze(*n.inputs[0]);
      if (!in.ok) return Fail();
      Dist d;
      d.ok = true;
      // A split input (co-partitioned state): a group must lie within one shard, so the input's
      // routing columns must all be group keys.
      for (const auto& alt : in.alts) {
        std::vector<int> out;
        for (int c : alt) {
          auto it = std::find(group_in.begin(), group_in.end(), c);
          if (it == group_in.end()) break;
          out.push_back(static_cast<int>(it - group_in.begin()));
        }
        if (out.size() == alt.size()) d.alts.push_back(std::move(out));
      }
      if (!d.alts.empty()) {
        d.routes = std::move(in.routes);
        return d;
      }
      // Else split the input by the group keys (stateless, or joined to broadcast dimensions).
      if (in.any) {
        if (auto r = Bind(*n.inputs[0], in_cols)) {
          d.routes = std::move(*r);
          d.alts.push_back(out_cols);
          return d;
        }
      }
      return Fail();
    }
    case PlanKind::kJoin: {
      if (n.join_type == JoinType::kFull) return Fail();  // a left-only and a right-only row share no key
      const PlanNode& l = *n.inputs[0];
      const PlanNode& r = *n.inputs[1];
      const int nl = static_cast<int>(l.names.size());
      // Equality pairs of plain columns whose equal values hash equal.
      std::vector<std::pair<int, int>> pairs;
      for (size_t i = 0; i < n.left_keys.size(); ++i) {
        if (!IsColumn(n.left_keys[i]) || !IsColumn(n.right_keys[i])) continue;
        const int lc = n.left_keys[i]->column, rc = n.right_keys[i]->column;
        if (!SameHashDomain(l.types[static_cast<size_t>(lc)], r.types[static_cast<size_t>(rc)])) continue;
        pairs.emplace_back(lc, rc);
      }
      Dist dl = Analyze(l), dr = Analyze(r);
      if (!dl.ok || !dr.ok) return Fail();
      // Broadcast: a dimension on one side (at most one match per row of the other), every shard
      // holding it whole, the other side split as its parent wants (Bind).
      Dist broadcast;
      broadcast.ok = broadcast.any =
          (dl.any && IsDimension(n, true) && (n.join_type == JoinType::kInner || n.join_type == JoinType::kLeft)) ||
          (dr.any && IsDimension(n, false) && (n.join_type == JoinType::kInner || n.join_type == JoinType::kRight));
      // Co-partitioned by the equality columns. Candidates per side: all pairs when the side can be
      // split by any columns (bind), else the pairs matching one of its routings, in its order.
      struct Candidate {
        std::vector<size_t> pairs;
        bool bind = false;
      };
      auto candidates = [&](const Dist& side, bool left) {
        std::vector<Candidate> out;
        if (side.any && !pairs.empty()) {
          Candidate all;
          all.bind = true;
          for (size_t i = 0; i < pairs.size(); ++i) all.pairs.push_back(i);
          out.push_back(std::move(all));
        }
        for (const auto& alt : side.alts) {
          Candidate c;
          for (int col : alt) {
            for (size_t i = 0; i < pairs.size(); ++i) {
              if ((left ? pairs[i].first : pairs[i].second) == col) {
                c.pairs.push_back(i);
                break;
              }
            }
          }
          if (c.pairs.size() == alt.size()) out.push_back(std::move(c));
        }
        return out;
      };
      const auto cl = candidates(dl, true), cr = candidates(dr, false);
      for (const auto& sl : cl) {
        for (const auto& sr : cr) {
          // Both sides must route by the same pairs in the same order (a side bound by any
          // columns takes the other's).
          if (!sl.bind && !sr.bind && sl.pairs != sr.pairs) continue;
          const std::vector<size_t>& s = sl.bind ? sr.pairs : sl.pairs;
          std::vector<int> lcols, rcols;
          for (size_t i : s) {
            lcols.push_back(pairs[i].first);
            rcols.push_back(pairs[i].second);
          }
          Dist d = broadcast;
          d.ok = true;
          if (sl.bind) {
            auto b = Bind(l, lcols);
            if (!b || !Merge(d.routes, *b)) continue;
          } else if (!Merge(d.routes, dl.routes)) {
            continue;
          }
          if (sr.bind) {
            auto b = Bind(r, rcols);
            if (!b || !Merge(d.routes, *b)) continue;
          } else if (!Merge(d.routes, dr.routes)) {
            continue;
          }
          // Outer joins: the other side's columns are NULL in rows without a match.
          if (n.join_type != JoinType::kRight) d.alts.push_back(lcols);
          if (n.join_type != JoinType::kLeft) {
            for (int& c : rcols) c += nl;
            d.alts.push_back(rcols);
          }
          return d;
        }
      }
      if (broadcast.any) return broadcast;
      return Fail();
    }
  }
  return Fail();
}

}  // namespace

std::optional<ShardKey> ShardKeyOf(const ViewDefinition& def) {
  if (!def.has_key || def.key_columns.empty() || !def.plan) return std::nullopt;
  Dist d = Analyze(*def.plan);
  if (!d.ok) return std::nullopt;
  ShardKey key;
  // Co-partitioned state first (nothing held twice), else broadcast dimensions.
  auto in_key = [&](int c) {
    return std::find(def.key_columns.begin(), def.key_columns.end(), c) != def.key_columns.end();
  };
  for (const auto& alt : d.alts) {
    if (std::all_of(alt.begin(), alt.end(), in_key)) {
      key.source_columns = std::move(d.routes);
      key.output_columns = alt;
      return key;
    }
  }
  if (d.any) {
    // Stateless, or joined to broadcast dimensions: route by the key (the split side's primary
    // key, which the output carries).
    if (auto r = Bind(*def.plan, def.key_columns)) {
      key.source_columns = std::move(*r);
      key.output_columns = def.key_columns;
      return key;
    }
  }
  return std::nullopt;
}

uint64_t ShardHash(const ChangeChunk& chunk, size_t row, const std::vector<int>& columns) {
  // FNV-1a over (null flag, value) per column, mixed at the end (splitmix64's finalizer).
  uint64_t h = 1469598103934665603ull;
  auto add = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ull;
    }
  };
  for (int c : columns) {
    const ColumnVector& col = chunk.column(static_cast<size_t>(c));
    const unsigned char tag = col.IsNull(row) ? 0 : 1;
    add(&tag, 1);
    if (col.IsNull(row)) continue;
    if (IsVarKind(col.kind())) {
      const std::string_view s = col.GetBytes(row);
      const uint32_t n = static_cast<uint32_t>(s.size());
      add(&n, sizeof n);
      add(s.data(), s.size());
    } else {
      int64_t v = col.GetInt(row);
      if (col.kind() == ValueKind::kFloat || col.kind() == ValueKind::kDouble) {
        double d = col.GetDouble(row);
        if (d == 0) d = 0;  // -0.0 equals 0.0
        std::memcpy(&v, &d, sizeof v);
      }
      add(&v, sizeof v);
    }
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

ChangeChunk KeepShard(const ChangeChunk& chunk, const std::vector<int>& columns, uint32_t shard, uint32_t shards,
                      bool* all) {
  const size_t n = chunk.size();
  if (columns.empty()) {
    *all = true;  // broadcast: every shard gets every row
    return ChangeChunk();
  }
  std::vector<uint8_t> mine(n);
  bool every = true;
  for (size_t i = 0; i < n; ++i) {
    mine[i] = ShardOf(chunk, i, columns, shards) == shard;
    every = every && mine[i];
  }
  *all = every;
  if (every) return ChangeChunk();
  ChangeChunk out(chunk.schema());
  for (const auto& s : chunk.sources()) out.AddSource(s);
  auto copy = [&](size_t i, RowOp op) {
    out.BeginRow(op, chunk.version(i), chunk.source_index(i), chunk.row_in_event(i));
    for (size_t c = 0; c < chunk.num_columns(); ++c) out.column(c).AppendFrom(chunk.column(c), i);
  };
  for (size_t i = 0; i < n; ++i) {
    if (chunk.op(i) == RowOp::kUpdateBefore && i + 1 < n && chunk.op(i + 1) == RowOp::kUpdateAfter) {
      // The row moves between shards when its routing columns change: it leaves one, enters the other.
      if (mine[i] && mine[i + 1]) {
        copy(i, RowOp::kUpdateBefore);
        copy(i + 1, RowOp::kUpdateAfter);
      } else if (mine[i]) {
        copy(i, RowOp::kDelete);
      } else if (mine[i + 1]) {
        copy(i + 1, RowOp::kInsert);
      }
      ++i;
      continue;
    }
    if (mine[i]) copy(i, chunk.op(i));
  }
  return out;
}

}  // namespace sluice::sql
