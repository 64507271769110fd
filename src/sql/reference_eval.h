#pragma once
/// A from-scratch evaluator of logical plans over full table contents: the oracle the incremental
/// operators are checked against in tests (nested-loop joins, hash grouping, no state, no
/// retraction). Slow by design; never used on the data path.

#include <map>
#include <string>
#include <vector>

#include "sql/plan.h"

namespace sluice::sql {

/// Rows of each source (tables by "db.table", views by name), in any order.
using SourceRows = std::map<std::string, std::vector<Row>>;

/// Evaluates `plan` over `sources` and returns its rows (a multiset, in no particular order).
std::vector<Row> EvaluatePlan(const PlanNode& plan, const SourceRows& sources);

}  // namespace sluice::sql
