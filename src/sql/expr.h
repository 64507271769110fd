#pragma once
/// Bound scalar expressions (the binder's output) and their evaluator. Every node carries its
/// static SqlType; arguments were already coerced to the types the node needs (the binder inserts
/// kCast nodes). Evaluation is row-at-a-time over a Row of input values, with SQL NULL semantics
/// and three-valued logic. Runtime errors (overflow, division by zero, bad cast) throw Error(kData).

#include <memory>
#include <string>
#include <vector>

#include "sql/value.h"

namespace sluice::sql {

enum class ExprKind : uint8_t {
  kColumn,    ///< input column `column`
  kConst,     ///< `constant`
  kArith,     ///< args[0] op args[1] (op: + - * / %), or unary minus (op 'n', one arg)
  kCompare,   ///< args[0] op args[1]; op: '=', '<', '>', 'l' (<=), 'g' (>=), '!' (<>)
  kAnd,       ///< all args (three-valued)
  kOr,        ///< any arg (three-valued)
  kNot,
  kIsNull,    ///< `negated` for IS NOT NULL
  kCase,      ///< args: when0, then0, when1, then1, ..., [else] (has_else)
  kCoalesce,
  kNullIf,
  kCast,      ///< args[0] cast to `type`
  kIn,        ///< args[0] IN (args[1..]); `negated` for NOT IN
  kLike,      ///< args[0] LIKE args[1]; `negated`, `case_insensitive` (ILIKE)
  kFunc,      ///< scalar function `func` over args
};

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

/// One node of a bound expression. Immutable once built; shared between plans.
struct Expr {
  ExprKind kind = ExprKind::kConst;
  SqlType type;
  char op = 0;
  int column = -1;
  bool negated = false;
  bool case_insensitive = false;
  bool has_else = false;
  std::string func;  ///< kFunc: lower, upper, length, octet_length, concat, concat_ws, ||, substring,
                     ///< btrim, ltrim, rtrim, replace, left, right, strpos, greatest, least,
                     ///< date_trunc, extract, abs, round, floor, ceil, trunc,
                     ///< add_interval (args: date/timestamp/time, constant months, days, micros)
  Value constant;
  std::vector<ExprPtr> args;

  /// Renders the expression canonically (used to match GROUP BY expressions).
  std::string ToString() const;
};

/// Evaluates `e` over `row`.
Value Eval(const Expr& e, const Row& row);
/// Casts `v` from type `from` to type `to` (PostgreSQL cast semantics for the supported types).
Value CastValue(const Value& v, const SqlType& from, const SqlType& to);
/// Returns true when `v` is a non-null true boolean (WHERE/HAVING/ON semantics).
inline bool IsTrue(const Value& v) { return !v.null && v.i != 0; }
/// SQL LIKE with % and _ and backslash escape.
bool LikeMatch(std::string_view s, std::string_view pattern, bool case_insensitive);

}  // namespace sluice::sql
