#include "sql/reference_eval.h"

#include "sql/operators.h"

namespace sluice::sql {

std::vector<Row> EvaluatePlan(const PlanNode& plan, const SourceRows& sources) {
  std::vector<Row> out;
  switch (plan.kind) {
    case PlanKind::kScan: {
      auto it = sources.find(plan.source);
      if (it != sources.end()) out = it->second;
      return out;
    }
    case PlanKind::kFilter:
      for (auto& r : EvaluatePlan(*plan.inputs[0], sources)) {
        if (IsTrue(Eval(*plan.predicate, r))) out.push_back(std::move(r));
      }
      return out;
    case PlanKind::kProject:
      for (auto& r : EvaluatePlan(*plan.inputs[0], sources)) {
        Row o;
        for (auto& e : plan.exprs) o.push_back(Eval(*e, r));
        out.push_back(std::move(o));
      }
      return out;
    case PlanKind::kUnionAll:
      for (auto& in : plan.inputs) {
        for (auto& r : EvaluatePlan(*in, sources)) out.push_back(std::move(r));
      }
      return out;
    case PlanKind::kAggregate: {
      std::map<std::string, std::pair<Row, std::vector<AggAccumulator>>> groups;
      for (auto& r : EvaluatePlan(*plan.inputs[0], sources)) {
        std::string key;
        Row kv;
        for (auto& k : plan.group_keys) {
          kv.push_back(Eval(*k, r));
          EncodeKey(key, kv.back(), k->type);
        }
        auto [it, inserted] = groups.try_emplace(key);
        if (inserted) {
          it->second.first = kv;
          it->second.second.resize(plan.aggs.size());
        }
        for (size_t a = 0; a < plan.aggs.size(); ++a) {
          const AggCall& call = plan.aggs[a];
          if (call.filter && !IsTrue(Eval(*call.filter, r))) continue;
          AccumulateAgg(it->second.second[a], call, call.arg ? Eval(*call.arg, r) : Value::Null(), 1);
        }
      }
      if (groups.empty() && plan.global_aggregate) groups[""].second.resize(plan.aggs.size());
      for (auto& [key, g] : groups) {
        Row o = g.first;
        for (size_t a = 0; a < plan.aggs.size(); ++a) o.push_back(FinalizeAgg(g.second[a], plan.aggs[a]));
        out.push_back(std::move(o));
      }
      return out;
    }
    case PlanKind::kJoin: {
      auto left = EvaluatePlan(*plan.inputs[0], sources);
      auto right = EvaluatePlan(*plan.inputs[1], sources);
      const size_t nl = plan.inputs[0]->types.size(), nr = plan.inputs[1]->types.size();
      std::vector<bool> right_matched(right.size());
      const bool outer_left = plan.join_type == JoinType::kLeft || plan.join_type == JoinType::kFull;
      const bool outer_right = plan.join_type == JoinType::kRight || plan.join_type == JoinType::kFull;
      for (auto& l : left) {
        bool matched = false;
        for (size_t j = 0; j < right.size(); ++j) {
          bool eq = true;
          for (size_t k = 0; k < plan.left_keys.size() && eq; ++k) {
            Value a = Eval(*plan.left_keys[k], l), b = Eval(*plan.right_keys[k], right[j]);
            eq = !a.null && !b.null && CompareValues(a, b, plan.left_keys[k]->type) == 0;
          }
          if (!eq) continue;
          matched = true;
          right_matched[j] = true;
          Row o = l;
          o.insert(o.end(), right[j].begin(), right[j].end());
          if (plan.side_column) o.push_back(Value::Int(3));
          out.push_back(std::move(o));
        }
        if (!matched && outer_left) {
          Row o = l;
          o.resize(nl + nr);
          if (plan.side_column) o.push_back(Value::Int(1));
          out.push_back(std::move(o));
        }
      }
      if (outer_right) {
        for (size_t j = 0; j < right.size(); ++j) {
          if (right_matched[j]) continue;
          Row o(nl);
          o.insert(o.end(), right[j].begin(), right[j].end());
          if (plan.side_column) o.push_back(Value::Int(2));
          out.push_back(std::move(o));
        }
      }
      return out;
    }
  }
  return out;
}

}  // namespace sluice::sql
