#include "sql/distribution.h"

#include <algorithm>
#include <cstring>

namespace sluice::sql {

namespace {

using Routes = std::map<std::string, std::vector<int>>;

/// How a plan node's rows can be split.
struct Dist {
  bool ok = false;
  /// Stateless over source scans (scans, filters, projections, UNION ALL): any output columns that
  /// are column references down to the scans can route its rows (Bind).
  bool any = false;
  /// Otherwise: the routing the node's state needs, as lists of output columns that hold equal
  /// values in every row (an inner join's left and right keys), and the routes of its scans.
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

/// Routes for a stateless subtree (Dist::any) split by its output columns `cols`.
std::optional<Routes> Bind(const PlanNode& n, const std::vector<int>& cols) {
  switch (n.kind) {
    case PlanKind::kScan: {
      if (n.source.find('.') == std::string::npos) return std::nullopt;  // a view's output
      return Routes{{n.source, cols}};
    }
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
    default:
      return std::nullopt;
  }
}

Dist Analyze(const PlanNode& n) {
  switch (n.kind) {
    case PlanKind::kScan: {
      if (n.source.find('.') == std::string::npos) return Fail();  // views over views run whole
      Dist d;
      d.ok = d.any = true;
      return d;
    }
    case PlanKind::kFilter:
      return Analyze(*n.inputs[0]);
    case PlanKind::kProject: {
      Dist in = Analyze(*n.inputs[0]);
      if (!in.ok || in.any) return in;
      Dist d;
      d.ok = true;
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
      if (d.alts.empty()) return Fail();
      return d;
    }
    case PlanKind::kUnionAll: {
      for (const auto& b : n.inputs) {
        Dist bd = Analyze(*b);
        if (!bd.ok || !bd.any) return Fail();
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
      if (in.any) {
        auto r = Bind(*n.inputs[0], in_cols);
        if (!r) return Fail();
        d.routes = std::move(*r);
        d.alts.push_back(out_cols);
        return d;
      }
      // The input is already split: a group must lie within one shard, so the input's routing
      // columns must all be group keys.
      for (const auto& alt : in.alts) {
        std::vector<int> out;
        for (int c : alt) {
          auto it = std::find(group_in.begin(), group_in.end(), c);
          if (it == group_in.end()) break;
          out.push_back(static_cast<int>(it - group_in.begin()));
        }
        if (out.size() == alt.size()) d.alts.push_back(std::move(out));
      }
      if (d.alts.empty()) return Fail();
      d.routes = std::move(in.routes);
      return d;
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
      if (pairs.empty()) return Fail();
      Dist dl = Analyze(l), dr = Analyze(r);
      if (!dl.ok || !dr.ok) return Fail();
      // Candidate pair lists: all pairs when a side is free, else the pairs matching one of its
      // routings, in its order.
      auto candidates = [&](const Dist& side, bool left) {
        std::vector<std::vector<size_t>> out;
        if (side.any) {
          std::vector<size_t> all(pairs.size());
          for (size_t i = 0; i < pairs.size(); ++i) all[i] = i;
          out.push_back(std::move(all));
          return out;
        }
        for (const auto& alt : side.alts) {
          std::vector<size_t> s;
          for (int c : alt) {
            for (size_t i = 0; i < pairs.size(); ++i) {
              if ((left ? pairs[i].first : pairs[i].second) == c) {
                s.push_back(i);
                break;
              }
            }
          }
          if (s.size() == alt.size()) out.push_back(std::move(s));
        }
        return out;
      };
      const auto cl = candidates(dl, true), cr = candidates(dr, false);
      for (const auto& sl : cl) {
        for (const auto& sr : cr) {
          // Both sides must route by the same pairs in the same order (a free side takes the other's).
          const std::vector<size_t>& s = dl.any ? sr : sl;
          if (!dl.any && !dr.any && sl != sr) continue;
          std::vector<int> lcols, rcols;
          for (size_t i : s) {
            lcols.push_back(pairs[i].first);
            rcols.push_back(pairs[i].second);
          }
          Dist d;
          d.ok = true;
          if (dl.any) {
            auto b = Bind(l, lcols);
            if (!b || !Merge(d.routes, *b)) continue;
          } else if (!Merge(d.routes, dl.routes)) {
            continue;
          }
          if (dr.any) {
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
  if (d.any) {
    // Stateless: route by the key (the source's primary key, which the output carries).
    auto r = Bind(*def.plan, def.key_columns);
    if (!r) return std::nullopt;
    key.source_columns = std::move(*r);
    key.output_columns = def.key_columns;
    return key;
  }
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
