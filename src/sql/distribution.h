#pragma once
/// Key partitioning of a view (`sluice transform` with transform.parallelism > 1): whether a
/// view's work can be split into shards that each see only some source rows — routed by a hash of
/// some of their columns — and together produce exactly the view, each output row by one shard.
///
/// ShardKeyOf finds, for every source table a view reads, the columns whose hash routes its rows,
/// such that:
///  * every operator's state splits by that hash: an aggregate groups by (a superset of) the
///    routing columns, a join matches rows whose routing columns are equal (its equality keys),
///    or one side of a join is a dimension (its unique key within the join keys: a lookup) that
///    every shard gets whole (broadcast) while the other side is split;
///  * every output row's shard follows from its key (the routing columns are key columns of the
///    view's output), so a row's changes all come from one shard, in that shard's version order.
/// A view read by another is a source like a table: `sluice transform` gives each view its own
/// task, so a view reads another from that view's topic, a changelog with before images (an
/// update pair or delete carries the row it replaces) which routes like a table's changes.
/// Views that need rows to move between operators by another key (a GROUP BY over a join on
/// columns of the dimension other than its key, a FULL JOIN, a global aggregate, UNION ALL) get
/// no shard key: they run whole, on one shard. Written as two views (the join, then the GROUP BY
/// over it), the first view's topic is the repartition topic Kafka Streams would put in between.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "event/change.h"
#include "sql/plan.h"

namespace sluice::sql {

struct ShardKey {
  /// Source ("db.table" as in PlanNode::source, or a view's name) -> the columns (of its bound
  /// schema) whose values route its rows; none: every shard gets every row (a dimension broadcast
  /// to all shards).
  std::map<std::string, std::vector<int>> source_columns;
  /// Output columns of the view (all key columns) holding the same values for each output row.
  std::vector<int> output_columns;
};

/// The view's shard key, or nullopt when it must run whole (see above).
std::optional<ShardKey> ShardKeyOf(const ViewDefinition& def);

/// The hash that routes row `row` of `chunk` by `columns`: equal values hash equal whichever
/// table they come from (NULL, integers of any width, -0.0 and 0.0 included).
uint64_t ShardHash(const ChangeChunk& chunk, size_t row, const std::vector<int>& columns);

/// Which of `shards` the row goes to.
inline uint32_t ShardOf(const ChangeChunk& chunk, size_t row, const std::vector<int>& columns, uint32_t shards) {
  return static_cast<uint32_t>(ShardHash(chunk, row, columns) % shards);
}

/// The rows of `chunk` that go to shard `shard` of `shards` by `columns`; an update whose before
/// and after images go to different shards becomes a delete in one and an insert in the other.
/// Sets `*all` when every row stays (the result is then empty: use `chunk`); so do no `columns`
/// (a broadcast table).
ChangeChunk KeepShard(const ChangeChunk& chunk, const std::vector<int>& columns, uint32_t shard, uint32_t shards,
                      bool* all);

}  // namespace sluice::sql
