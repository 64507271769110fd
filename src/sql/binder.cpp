// Front-end: libpg_query parses the file into its JSON parse tree, simdjson reads it, and the
// binder turns each CREATE MATERIALIZED VIEW into a logical plan (sql/plan.h), resolving tables,
// columns and types. Anything outside the supported set fails with "unsupported: ..." at its
// file:line:column.

#include <pg_query.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "common/error.h"
#include "common/log.h"
#include "sql/plan.h"
#include "sql/scalar_functions.h"

namespace sluice::sql {

namespace dom = simdjson::dom;

// ---- Catalog ----

static std::string Lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

void Catalog::AddTable(TableSchemaPtr schema) {
  tables_[Lower(schema->database) + "." + Lower(schema->table)] = std::move(schema);
}

SourceLocation LocateIn(std::string_view file, std::string_view text, int64_t offset) {
  SourceLocation loc;
  loc.file = std::string(file);
  const size_t end = std::min(static_cast<size_t>(std::max<int64_t>(offset, 0)), text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++loc.line;
      loc.column = 1;
    } else {
      ++loc.column;
    }
  }
  return loc;
}

void Catalog::AddAlias(const std::string& name, TableSchemaPtr schema) {
  tables_[Lower(default_database_) + "." + Lower(name)] = std::move(schema);
}

void Catalog::AddView(const std::string& name, TableSchemaPtr schema, int hidden_columns, bool has_key,
                      bool key_may_be_null) {
  views_[Lower(name)] = View{std::move(schema), hidden_columns, has_key, key_may_be_null};
}

TableSchemaPtr Catalog::Find(std::string_view database, std::string_view name, Found* found) const {
  *found = Found{};
  if (database.empty()) {
    auto v = views_.find(Lower(name));
    if (v != views_.end()) {
      found->source = v->first;
      found->hidden_columns = v->second.hidden_columns;
      found->view_has_key = v->second.has_key;
      found->view_key_may_be_null = v->second.key_may_be_null;
      found->view = true;
      return v->second.schema;
    }
    database = default_database_;
  }
  auto t = tables_.find(Lower(database) + "." + Lower(name));
  if (t == tables_.end()) return nullptr;
  found->source = t->second->QualifiedName();
  return t->second;
}

// ---- PlanNode::ToString ----

std::string PlanNode::ToString(int indent) const {
  static const char* kKinds[] = {"Scan", "Filter", "Project", "Aggregate", "Join", "UnionAll"};
  std::string s(static_cast<size_t>(indent) * 2, ' ');
  s += kKinds[static_cast<int>(kind)];
  if (kind == PlanKind::kScan) s += " " + source;
  if (kind == PlanKind::kJoin) {
    static const char* kJoins[] = {"inner", "left", "right", "full"};
    s += fmt::format(" {} keys={}", kJoins[static_cast<int>(join_type)], left_keys.size());
  }
  if (kind == PlanKind::kAggregate) s += fmt::format(" keys={} aggs={}", group_keys.size(), aggs.size());
  s += " [";
  for (size_t i = 0; i < names.size(); ++i) {
    const bool hidden = i >= names.size() - static_cast<size_t>(hidden_columns);
    s += (i ? ", " : "") + names[i] + ":" + TypeToString(types[i]) + (hidden ? " hidden" : "");
  }
  s += "]\n";
  for (const auto& in : inputs) s += in->ToString(indent + 1);
  return s;
}

namespace {

// ---- JSON helpers ----

std::optional<dom::element> Get(dom::element e, std::string_view key) {
  dom::element r;
  if (e.type() != dom::element_type::OBJECT) return std::nullopt;
  if (e[key].get(r)) return std::nullopt;
  return r;
}

std::string_view Str(dom::element e, std::string_view key) {
  auto v = Get(e, key);
  std::string_view s;
  if (!v || v->get(s)) return {};
  return s;
}

int64_t Int(dom::element e, std::string_view key, int64_t def = 0) {
  auto v = Get(e, key);
  int64_t i;
  if (!v || v->get(i)) return def;
  return i;
}

bool Bool(dom::element e, std::string_view key) {
  auto v = Get(e, key);
  bool b;
  if (!v || v->get(b)) return false;
  return b;
}

std::vector<dom::element> List(dom::element e, std::string_view key) {
  std::vector<dom::element> r;
  auto v = Get(e, key);
  dom::array a;
  if (!v || v->get(a)) return r;
  for (dom::element x : a) r.push_back(x);
  return r;
}

/// A parse-tree node is {"TypeName": {...}}; returns the type name and its body.
std::pair<std::string_view, dom::element> Node(dom::element e) {
  dom::object o;
  if (e.get(o) || o.size() == 0) return {"", e};
  for (auto field : o) return {field.key, field.value};
  return {"", e};
}

/// The `sval` of a {"String": {"sval": ...}} node.
std::string_view StringNode(dom::element e) {
  auto [t, body] = Node(e);
  if (t != "String") return {};
  return Str(body, "sval");
}

/// Last component of a dotted name list (funcname, typeName.names).
std::string LastName(dom::element e, std::string_view key) {
  auto l = List(e, key);
  return l.empty() ? std::string() : Lower(StringNode(l.back()));
}

bool IsAggregateName(std::string_view n) {
  return n == "count" || n == "sum" || n == "avg" || n == "min" || n == "max" || n == "bool_and" ||
         n == "bool_or" || n == "every";
}

/// Returns true when the subtree holds an aggregate call.
bool ContainsAgg(dom::element e) {
  if (e.type() == dom::element_type::ARRAY) {
    for (dom::element x : dom::array(e)) if (ContainsAgg(x)) return true;
    return false;
  }
  if (e.type() != dom::element_type::OBJECT) return false;
  for (auto field : dom::object(e)) {
    if (field.key == "FuncCall" && IsAggregateName(LastName(field.value, "funcname"))) return true;
    if (field.key == "SubLink" || field.key == "SelectStmt") continue;
    if (ContainsAgg(field.value)) return true;
  }
  return false;
}

// ---- scopes ----

struct ScopeColumn {
  std::string table;  ///< alias or table name, lower-case
  std::string name;
  SqlType type;
  bool hidden = false;  ///< the other side's copy of a JOIN ... USING column: only `table.name` finds it
  bool key_only = false;  ///< a hidden key column of a subquery or view: no name finds it, `*` skips it
};
struct Scope {
  std::vector<ScopeColumn> cols;
};

struct AggContext {
  const Scope* input = nullptr;
  std::vector<ExprPtr> group;
  std::vector<std::string> group_fp;
  std::vector<AggCall> aggs;
  std::vector<std::string> agg_fp;
};

ExprPtr MakeColumn(int index, SqlType t) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kColumn;
  e->column = index;
  e->type = t;
  return e;
}

ExprPtr MakeConst(Value v, SqlType t) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kConst;
  e->constant = std::move(v);
  e->type = t;
  return e;
}

ExprPtr MakeNode(ExprKind k, SqlType t, std::vector<ExprPtr> args, char op = 0) {
  auto e = std::make_shared<Expr>();
  e->kind = k;
  e->type = t;
  e->args = std::move(args);
  e->op = op;
  return e;
}

const SqlType kBoolType{TypeId::kBool};
const SqlType kIntType{TypeId::kInt};
const SqlType kInt4Type{TypeId::kInt, 0, 38, 4};  ///< PostgreSQL's integer
const SqlType kStringType{TypeId::kString};

class Binder {
 public:
  Binder(std::string_view file, std::string_view text, Catalog& catalog)
      : file_(file), text_(text), catalog_(catalog) {}

  SourceLocation Locate(int64_t offset) const { return LocateIn(file_, text_, offset); }

  template <typename... Args>
  [[noreturn]] void Fail(int64_t offset, fmt::format_string<Args...> f, Args&&... args) const {
    SourceLocation l = Locate(offset);
    throw Error(ErrorKind::kSql,
                fmt::format("{}:{}:{}: {}", l.file, l.line, l.column, fmt::format(f, std::forward<Args>(args)...)));
  }

  /// The first "location" of a node or its children (a TypeCast of INTERVAL '...' has none of its own).
  int64_t DeepLoc(dom::element node) const {
    if (node.type() == dom::element_type::OBJECT) {
      int64_t l = Int(node, "location", -1);
      if (l >= 0) return l;
      for (auto field : dom::object(node)) {
        int64_t c = DeepLoc(field.value);
        if (c != stmt_at_) return c;
      }
    } else if (node.type() == dom::element_type::ARRAY) {
      for (dom::element x : dom::array(node)) {
        int64_t c = DeepLoc(x);
        if (c != stmt_at_) return c;
      }
    }
    return stmt_at_;
  }

  /// Location of a node: its "location" field, or that of the enclosing construct.
  int64_t Loc(dom::element node, int64_t fallback) const {
    auto [t, body] = Node(node);
    int64_t l = Int(body, "location", -1);
    return l >= 0 ? l : fallback;
  }

  ViewDefinition BindStatement(dom::element raw_stmt, int64_t stmt_location) {
    int64_t at = stmt_location;
    while (static_cast<size_t>(at) < text_.size()) {  // skip blanks and -- comments before the statement
      if (std::isspace(static_cast<unsigned char>(text_[static_cast<size_t>(at)]))) {
        ++at;
      } else if (text_.substr(static_cast<size_t>(at), 2) == "--") {
        while (static_cast<size_t>(at) < text_.size() && text_[static_cast<size_t>(at)] != '\n') ++at;
      } else {
        break;
      }
    }
    stmt_at_ = at;
    auto [type, stmt] = Node(*Get(raw_stmt, "stmt"));
    if (type == "ViewStmt") Fail(at, "unsupported: CREATE VIEW (write CREATE MATERIALIZED VIEW)");
    if (type != "CreateTableAsStmt" || Str(stmt, "objtype") != "OBJECT_MATVIEW") {
      Fail(at, "unsupported: statement {} (only CREATE MATERIALIZED VIEW name AS SELECT ... is accepted)", type);
    }
    auto into = *Get(stmt, "into");
    auto rel = *Get(into, "rel");
    ViewDefinition v;
    v.name = std::string(Str(rel, "relname"));
    if (!Str(rel, "schemaname").empty()) Fail(Int(rel, "location", at), "unsupported: schema-qualified view name");
    if (!List(into, "colNames").empty()) Fail(Int(rel, "location", at), "unsupported: column list after the view name");
    Catalog::Found existing;
    if (catalog_.Find("", v.name, &existing) && existing.source == Lower(v.name)) {
      Fail(Int(rel, "location", at), "view \"{}\" already exists", v.name);
    }
    v.location = Locate(at);
    int64_t len = Int(raw_stmt, "stmt_len", static_cast<int64_t>(text_.size()) - stmt_location);
    v.sql = std::string(text_.substr(static_cast<size_t>(at), static_cast<size_t>(stmt_location + len - at)));
    auto [qt, query] = Node(*Get(stmt, "query"));
    if (qt != "SelectStmt") Fail(at, "unsupported: {} as a view's query", qt);
    Scope scope;
    v.plan = BindSelect(query, &scope);
    if (v.plan->unique_key && v.plan->unique_key->empty()) {
      // At most one row (a global aggregate): a constant hidden column is its key, so its
      // ClickHouse table has an ORDER BY column and every version replaces the last.
      auto one = std::make_shared<PlanNode>();
      one->kind = PlanKind::kProject;
      one->inputs = {v.plan};
      one->names = v.plan->names;
      one->types = v.plan->types;
      for (size_t i = 0; i < v.plan->types.size(); ++i) one->exprs.push_back(MakeColumn(static_cast<int>(i), v.plan->types[i]));
      std::set<std::string> taken;
      for (const auto& n : one->names) taken.insert(Lower(n));
      one->exprs.push_back(MakeConst(Value::Int(0), kIntType));
      one->names.push_back(UniqueName("_key_row", taken));
      one->types.push_back(kIntType);
      one->hidden_columns = v.plan->hidden_columns + 1;
      one->unique_key = std::vector<int>{static_cast<int>(one->names.size()) - 1};
      v.plan = one;
    }
    if (v.plan->unique_key) {
      v.has_key = true;
      v.key_columns = *v.plan->unique_key;
    } else {
      KeylessSources(*v.plan, v.keyless_sources);
    }
    v.hidden_columns = v.plan->hidden_columns;
    auto schema = std::make_shared<TableSchema>();
    schema->table = v.name;
    for (size_t i = 0; i < v.plan->names.size(); ++i) {
      schema->columns.push_back(ColumnOfType(v.plan->names[i], v.plan->types[i]));
    }
    schema->primary_key = v.key_columns;
    v.output = schema;
    catalog_.AddView(v.name, schema, v.hidden_columns, v.has_key, v.has_key && KeyMayBeAllNull(*v.plan));
    return v;
  }

 private:
  // ---- SELECT ----

  PlanPtr BindSelect(dom::element sel, Scope* out_scope) {
    if (auto with = Get(sel, "withClause")) {
      // The CTEs are visible to the later CTEs of this WITH and to its query (UNION ALL branches,
      // subqueries) and go out of scope after it.
      const size_t outer = ctes_.size();
      struct Pop {
        std::vector<Cte>& ctes;
        size_t n;
        ~Pop() { ctes.resize(n); }
      } pop{ctes_, outer};
      const int64_t wloc = Int(*with, "location", stmt_at_);
      if (Bool(*with, "recursive")) Fail(wloc, "unsupported: WITH RECURSIVE");
      for (dom::element c : List(*with, "ctes")) {
        auto [ct, cte] = Node(c);
        const int64_t cloc = Int(cte, "location", wloc);
        std::string name = Lower(Str(cte, "ctename"));
        for (size_t i = outer; i < ctes_.size(); ++i) {
          if (ctes_[i].name == name) Fail(cloc, "WITH query name \"{}\" specified more than once", name);
        }
        auto q = Get(cte, "ctequery");
        if (!q || Node(*q).first != "SelectStmt") Fail(cloc, "unsupported: {} in WITH (only SELECT)", q ? Node(*q).first : "");
        Cte def{name, Node(*q).second, {}, cloc};
        for (dom::element a : List(cte, "aliascolnames")) def.columns.emplace_back(StringNode(a));
        // Bound once here so an error in a CTE no query reads is reported too; every reference
        // binds it again (its own plan nodes).
        Scope unused;
        BindCte(def, &unused);
        ctes_.push_back(std::move(def));
      }
      return BindSelectBody(sel, out_scope);
    }
    return BindSelectBody(sel, out_scope);
  }

  /// A common table expression of an enclosing WITH.
  struct Cte {
    std::string name;               ///< lower-case
    dom::element query;             ///< its SelectStmt body
    std::vector<std::string> columns;  ///< `WITH name(columns) AS`: renames its first columns
    int64_t location = 0;
  };

  /// The innermost CTE named `name` in scope, or null.
  const Cte* FindCte(std::string_view name) const {
    const std::string n = Lower(name);
    for (size_t i = ctes_.size(); i-- > 0;) {
      if (ctes_[i].name == n) return &ctes_[i];
    }
    return nullptr;
  }

  /// Binds `cte` as a subquery: it sees the CTEs defined before it (not itself: no recursion).
  PlanPtr BindCte(const Cte& cte, Scope* scope) {
    std::vector<Cte> saved = ctes_;
    size_t visible = 0;
    while (visible < ctes_.size() && &ctes_[visible] != &cte) ++visible;
    Cte def = cte;  // `cte` may live in ctes_, which shrinks now
    ctes_.resize(visible);
    struct Restore {
      std::vector<Cte>& ctes;
      std::vector<Cte>& saved;
      ~Restore() { ctes = std::move(saved); }
    } restore{ctes_, saved};
    PlanPtr p = BindSelect(def.query, scope);
    RenameColumns(*scope, def.columns, def.location, "WITH query", def.name);
    return p;
  }

  /// Applies a column alias list (`WITH a(x, y)`, `(SELECT ...) AS s(x, y)`) to the visible
  /// columns of `scope`, first to last; fewer names than columns keep the rest.
  /// The columns of a bound subquery / CTE (`inner`), renamed by `columns` (its alias list), enter
  /// `scope` under the table name `alias`.
  void AddAliased(Scope& inner, const std::vector<std::string>& columns, int64_t loc, const std::string& alias,
                  Scope& scope) {
    RenameColumns(inner, columns, loc, "table", alias);
    for (auto& c : inner.cols) {
      ScopeColumn sc = c;
      sc.table = alias;
      scope.cols.push_back(std::move(sc));
    }
  }

  void RenameColumns(Scope& scope, const std::vector<std::string>& names, int64_t loc, const char* what,
                     const std::string& rel) {
    if (names.empty()) return;
    size_t visible = 0;
    for (const auto& c : scope.cols) visible += !c.key_only;
    if (names.size() > visible) {
      Fail(loc, "{} \"{}\" has {} columns available but {} columns specified", what, rel, visible, names.size());
    }
    size_t k = 0;
    for (auto& c : scope.cols) {
      if (c.key_only || k == names.size()) continue;
      c.name = names[k++];
    }
  }

  PlanPtr BindSelectBody(dom::element sel, Scope* out_scope) {
    // Checked before UNION ALL too: `a UNION ALL b LIMIT 1` must not lose its LIMIT.
    if (Get(sel, "intoClause")) Fail(stmt_at_, "unsupported: SELECT ... INTO");
    if (!List(sel, "sortClause").empty()) {
      auto sb = Node(List(sel, "sortClause")[0]).second;
      auto n = Get(sb, "node");
      Fail(n ? Loc(*n, stmt_at_) : stmt_at_, "unsupported: ORDER BY in a view");
    }
    if (Get(sel, "limitCount") || Get(sel, "limitOffset")) Fail(stmt_at_, "unsupported: LIMIT/OFFSET in a view");
    std::string_view op = Str(sel, "op");
    if (op == "SETOP_UNION" && Bool(sel, "all")) return BindUnionAll(sel, out_scope);
    if (!op.empty() && op != "SETOP_NONE") Fail(stmt_at_, "unsupported: {} (only UNION ALL)", op);
    if (!List(sel, "windowClause").empty()) Fail(stmt_at_, "unsupported: WINDOW");
    if (!List(sel, "valuesLists").empty()) Fail(stmt_at_, "unsupported: VALUES");
    if (!List(sel, "lockingClause").empty()) Fail(stmt_at_, "unsupported: FOR UPDATE/SHARE");
    auto from = List(sel, "fromClause");
    if (from.empty()) Fail(stmt_at_, "unsupported: SELECT without FROM");

    Scope scope;
    PlanPtr plan;
    auto where = Get(sel, "whereClause");
    if (where && ContainsAgg(*where)) Fail(Loc(*where, stmt_at_), "aggregate functions are not allowed in WHERE");
    // FROM a, b WHERE a.x = b.y: the WHERE equalities between the inputs become join keys.
    std::vector<dom::element> where_conj;
    std::vector<bool> used;
    if (where && from.size() > 1) {
      Conjuncts(*where, where_conj);
      used.assign(where_conj.size(), false);
    }
    for (dom::element item : from) {
      Scope s;
      PlanPtr p = BindFromItem(item, &s);
      if (!plan) {
        plan = p;
        scope = std::move(s);
      } else {
        std::vector<ExprPtr> lk, rk;
        for (size_t i = 0; i < where_conj.size(); ++i) {
          if (!used[i] && TryEquiKey(where_conj[i], scope, s, lk, rk)) used[i] = true;
        }
        plan = MakeJoin(plan, scope, p, s, JoinType::kInner, lk, rk);
        for (auto& c : s.cols) scope.cols.push_back(std::move(c));
      }
    }

    if (where) {
      ExprPtr pred;
      if (where_conj.empty()) {
        pred = RequireBool(BindExpr(*where, scope, nullptr), Loc(*where, stmt_at_), "WHERE");
      } else {
        std::vector<ExprPtr> rest;
        for (size_t i = 0; i < where_conj.size(); ++i) {
          if (!used[i]) rest.push_back(RequireBool(BindExpr(where_conj[i], scope, nullptr), Loc(where_conj[i], stmt_at_), "WHERE"));
        }
        if (!rest.empty()) pred = rest.size() == 1 ? rest[0] : MakeNode(ExprKind::kAnd, kBoolType, rest);
      }
      if (pred) plan = MakeFilter(plan, pred);
    }

    auto targets = List(sel, "targetList");
    auto group = List(sel, "groupClause");
    auto having = Get(sel, "havingClause");
    bool aggregate = !group.empty() || (having && true);
    for (auto t : targets) aggregate = aggregate || ContainsAgg(t);

    std::vector<ExprPtr> exprs;
    std::vector<std::string> names;
    std::vector<ExprPtr> group_exprs;  ///< GROUP BY keys (the aggregate's first output columns)
    auto expand_star = [&](dom::element target_val, const Scope& sc, bool via_agg) {
      (void)via_agg;
      auto fields = List(Node(target_val).second, "fields");
      std::string table = fields.size() == 2 ? Lower(StringNode(fields[0])) : "";
      if (table.empty()) {
        for (auto& c : sc.cols) {
          if (c.hidden) Fail(Loc(target_val, stmt_at_), "unsupported: * over JOIN ... USING (list the columns)");
        }
      }
      bool any = false;
      for (size_t i = 0; i < sc.cols.size(); ++i) {
        if (!table.empty() && sc.cols[i].table != table) continue;
        any = true;
        if (sc.cols[i].key_only) continue;
        exprs.push_back(MakeColumn(static_cast<int>(i), sc.cols[i].type));
        names.push_back(sc.cols[i].name);
      }
      if (!any) Fail(Loc(target_val, stmt_at_), "missing FROM-clause entry for table \"{}\"", table);
    };
    auto is_star = [](dom::element val) {
      auto [t, body] = Node(val);
      if (t != "ColumnRef") return false;
      auto f = List(body, "fields");
      return !f.empty() && Node(f.back()).first == "A_Star";
    };
    auto target_name = [&](dom::element target) -> std::string {
      std::string_view n = Str(target, "name");
      if (!n.empty()) return std::string(n);
      auto [t, body] = Node(*Get(target, "val"));
      if (t == "ColumnRef") return std::string(StringNode(List(body, "fields").back()));
      if (t == "FuncCall") return LastName(body, "funcname");
      if (t == "TypeCast") {
        auto [at, abody] = Node(*Get(body, "arg"));
        if (at == "ColumnRef") return std::string(StringNode(List(abody, "fields").back()));
        return LastName(*Get(body, "typeName"), "names");
      }
      if (t == "CaseExpr") return "case";
      if (t == "CoalesceExpr") return "coalesce";
      return "?column?";
    };

    if (!aggregate) {
      if (!List(sel, "distinctClause").empty()) {
        // handled below after projection
      }
      for (auto target : targets) {
        auto res = Node(target).second;
        dom::element val = *Get(res, "val");
        if (is_star(val)) {
          expand_star(val, scope, false);
          continue;
        }
        exprs.push_back(BindExpr(val, scope, nullptr));
        names.push_back(target_name(res));
      }
    } else {
      AggContext ctx;
      ctx.input = &scope;
      for (dom::element g : group) {
        ExprPtr e;
        auto [gt, gbody] = Node(g);
        if (gt == "A_Const" && Get(gbody, "ival")) {  // GROUP BY 1
          int64_t pos = Int(*Get(gbody, "ival"), "ival", 0);
          if (pos < 1 || pos > static_cast<int64_t>(targets.size())) {
            Fail(Loc(g, stmt_at_), "GROUP BY position {} is not in select list", pos);
          }
          dom::element val = *Get(Node(targets[static_cast<size_t>(pos - 1)]).second, "val");
          if (ContainsAgg(val)) Fail(Loc(g, stmt_at_), "aggregate functions are not allowed in GROUP BY");
          e = BindExpr(val, scope, nullptr);
        } else {
          if (ContainsAgg(g)) Fail(Loc(g, stmt_at_), "aggregate functions are not allowed in GROUP BY");
          if (gt == "GroupingSet") Fail(Loc(g, stmt_at_), "unsupported: GROUPING SETS/ROLLUP/CUBE");
          // An output alias (GROUP BY name) when no input column has that name.
          if (gt == "ColumnRef" && List(gbody, "fields").size() == 1 && !HasColumn(scope, StringNode(List(gbody, "fields")[0]))) {
            std::string_view n = StringNode(List(gbody, "fields")[0]);
            for (auto target : targets) {
              auto res = Node(target).second;
              if (Lower(Str(res, "name")) == Lower(n)) {
                e = BindExpr(*Get(res, "val"), scope, nullptr);
                break;
              }
            }
          }
          if (!e) e = BindExpr(g, scope, nullptr);
        }
        std::string fp = e->ToString();
        if (std::find(ctx.group_fp.begin(), ctx.group_fp.end(), fp) != ctx.group_fp.end()) continue;
        ctx.group.push_back(e);
        ctx.group_fp.push_back(fp);
      }
      for (auto target : targets) {
        auto res = Node(target).second;
        dom::element val = *Get(res, "val");
        if (is_star(val)) Fail(Loc(val, stmt_at_), "unsupported: * with GROUP BY or aggregates");
        exprs.push_back(BindExpr(val, scope, &ctx));
        names.push_back(target_name(res));
      }
      ExprPtr having_pred;
      if (having) having_pred = RequireBool(BindExpr(*having, scope, &ctx), Loc(*having, stmt_at_), "HAVING");
      auto agg = std::make_shared<PlanNode>();
      agg->kind = PlanKind::kAggregate;
      agg->inputs = {plan};
      agg->group_keys = ctx.group;
      agg->aggs = ctx.aggs;
      agg->global_aggregate = ctx.group.empty();
      for (size_t i = 0; i < ctx.group.size(); ++i) {
        agg->names.push_back(fmt::format("_g{}", i));
        agg->types.push_back(ctx.group[i]->type);
      }
      for (size_t i = 0; i < ctx.aggs.size(); ++i) {
        agg->names.push_back(fmt::format("_a{}", i));
        agg->types.push_back(ctx.aggs[i].type);
      }
      agg->unique_key = std::vector<int>();
      for (size_t i = 0; i < ctx.group.size(); ++i) agg->unique_key->push_back(static_cast<int>(i));
      group_exprs = ctx.group;
      plan = agg;
      if (having_pred) plan = MakeFilter(plan, having_pred);
    }

    for (size_t i = 0; i < names.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (Lower(names[i]) == Lower(names[j])) {
          Fail(Loc(targets[std::min(i, targets.size() - 1)], stmt_at_),
               "column name \"{}\" appears twice in the view's output; rename one with AS", names[i]);
        }
      }
    }
    auto proj = std::make_shared<PlanNode>();
    proj->kind = PlanKind::kProject;
    proj->inputs = {plan};
    proj->exprs = exprs;
    proj->names = names;
    for (auto& e : exprs) proj->types.push_back(e->type.id == TypeId::kNull ? kStringType : e->type);
    auto distinct = List(sel, "distinctClause");
    if (plan->unique_key) {
      // The key survives when each key column is projected as is. A key column the select list
      // drops is carried as a hidden column (not under DISTINCT, whose key is the whole row), so
      // two input rows never collapse into one output row and an update keeps its row's key.
      std::vector<int> k;
      std::set<std::string> taken;
      for (const auto& n : names) taken.insert(Lower(n));
      for (int col : *plan->unique_key) {
        int found = -1;
        for (size_t i = 0; i < exprs.size() && found < 0; ++i) {
          if (exprs[i]->kind == ExprKind::kColumn && exprs[i]->column == col) found = static_cast<int>(i);
        }
        if (found < 0 && distinct.empty()) {
          const SqlType& t = plan->types[static_cast<size_t>(col)];
          found = static_cast<int>(proj->exprs.size());
          proj->exprs.push_back(MakeColumn(col, t));
          proj->names.push_back(UniqueName(HiddenKeyName(col, scope, group_exprs), taken));
          proj->types.push_back(t.id == TypeId::kNull ? kStringType : t);
          ++proj->hidden_columns;
        }
        if (found >= 0) k.push_back(found);
      }
      if (k.size() == plan->unique_key->size()) proj->unique_key = k;
    }
    plan = proj;

    if (!distinct.empty()) {
      if (distinct[0].type() == dom::element_type::OBJECT && dom::object(distinct[0]).size() > 0) {
        Fail(Loc(distinct[0], stmt_at_), "unsupported: DISTINCT ON");
      }
      auto d = std::make_shared<PlanNode>();
      d->kind = PlanKind::kAggregate;
      d->inputs = {plan};
      d->names = plan->names;
      d->types = plan->types;
      for (size_t i = 0; i < plan->types.size(); ++i) d->group_keys.push_back(MakeColumn(static_cast<int>(i), plan->types[i]));
      d->unique_key = std::vector<int>();
      for (size_t i = 0; i < plan->types.size(); ++i) d->unique_key->push_back(static_cast<int>(i));
      plan = d;
    }

    SetOutputScope(*plan, out_scope);
    return plan;
  }

  /// The scope a SELECT's output offers to an enclosing query: its hidden key columns are key-only.
  static void SetOutputScope(const PlanNode& plan, Scope* out_scope) {
    out_scope->cols.clear();
    const size_t visible = plan.names.size() - static_cast<size_t>(plan.hidden_columns);
    for (size_t i = 0; i < plan.names.size(); ++i) {
      ScopeColumn c{"", plan.names[i], plan.types[i]};
      c.key_only = i >= visible;
      out_scope->cols.push_back(std::move(c));
    }
  }

  /// The name of the hidden column carrying key column `col` of a SELECT's input (its FROM
  /// scope, or the aggregate over it when `group` is not empty): `_key_<input>_<column>`; a
  /// hidden column of a subquery or view keeps its name; a GROUP BY expression is `_key_group<n>`.
  static std::string HiddenKeyName(int col, const Scope& scope, const std::vector<ExprPtr>& group) {
    if (!group.empty()) {
      const ExprPtr& g = group[static_cast<size_t>(col)];
      if (g->kind != ExprKind::kColumn) return fmt::format("_key_group{}", col + 1);
      col = g->column;
    }
    const ScopeColumn& c = scope.cols[static_cast<size_t>(col)];
    if (c.key_only) return c.name;
    return c.table.empty() ? "_key_" + c.name : "_key_" + c.table + "_" + c.name;
  }

  /// `base`, or `base_2`, `base_3`, ... when a column of the output already has that name.
  static std::string UniqueName(const std::string& base, std::set<std::string>& taken) {
    std::string n = base;
    for (int i = 2; taken.count(Lower(n)); ++i) n = fmt::format("{}_{}", base, i);
    taken.insert(Lower(n));
    return n;
  }

  /// The scans without a key under the keyless parts of `plan` (tables without a primary key).
  static void KeylessSources(const PlanNode& plan, std::vector<std::string>& out) {
    if (plan.unique_key) return;
    if (plan.kind == PlanKind::kScan && std::find(out.begin(), out.end(), plan.source) == out.end()) out.push_back(plan.source);
    for (const auto& in : plan.inputs) KeylessSources(*in, out);
  }

  /// Appends the branches of a chain of UNION ALLs, left to right (`a UNION ALL b UNION ALL c`
  /// nests on the left). A nested one with its own ORDER BY/LIMIT/WITH stays a branch (and fails).
  void UnionBranches(dom::element sel, std::vector<dom::element>& out) {
    for (const char* side : {"larg", "rarg"}) {
      dom::element b = *Get(sel, side);
      const bool chain = Str(b, "op") == "SETOP_UNION" && Bool(b, "all") && !Get(b, "withClause") &&
                         List(b, "sortClause").empty() && !Get(b, "limitCount") && !Get(b, "limitOffset");
      if (chain) {
        UnionBranches(b, out);
      } else {
        out.push_back(b);
      }
    }
  }

  /// UNION ALL of two or more branches. Each branch is projected to the common column types,
  /// followed (when every branch has a key) by the hidden key: the visible columns that are in
  /// every branch's key (cast without merging values), "slots" for the other key columns of the
  /// branches (a slot holds key columns of one exact type, at most one per branch; NULL in the
  /// branches that do not use it; named after its column, `_key_<n>` when branches share it) and
  /// `_branch`, the branch's number from 0. Two rows of one branch differ in that branch's key
  /// columns, two rows of different branches in `_branch`.
  PlanPtr BindUnionAll(dom::element sel, Scope* out_scope) {
    std::vector<dom::element> leaves;
    UnionBranches(sel, leaves);
    std::vector<PlanPtr> in;
    for (dom::element leaf : leaves) {
      Scope s;
      in.push_back(BindSelect(leaf, &s));
    }
    auto visible = [](const PlanPtr& p) { return p->names.size() - static_cast<size_t>(p->hidden_columns); };
    const size_t nv = visible(in[0]);
    for (const auto& p : in) {
      if (visible(p) != nv) Fail(stmt_at_, "each UNION query must have the same number of columns");
    }
    std::vector<std::string> names(in[0]->names.begin(), in[0]->names.begin() + static_cast<std::ptrdiff_t>(nv));
    std::vector<SqlType> types;
    std::vector<std::vector<ExprPtr>> exprs(in.size());
    for (size_t i = 0; i < nv; ++i) {
      std::vector<ExprPtr> cols;
      for (const auto& p : in) cols.push_back(MakeColumn(static_cast<int>(i), p->types[i]));
      SqlType t = CommonType(cols, stmt_at_, "UNION");
      for (size_t b = 0; b < in.size(); ++b) exprs[b].push_back(Coerce(cols[b], t, stmt_at_));
      types.push_back(t);
    }
    bool keyed = true;
    for (const auto& p : in) keyed = keyed && p->unique_key.has_value();
    std::optional<std::vector<int>> key;
    int hidden = 0;
    if (keyed) {
      auto in_key = [](const PlanPtr& p, size_t col) {
        return std::find(p->unique_key->begin(), p->unique_key->end(), static_cast<int>(col)) != p->unique_key->end();
      };
      key = std::vector<int>();
      std::vector<bool> shared(nv, true);
      for (size_t i = 0; i < nv; ++i) {
        for (const auto& p : in) shared[i] = shared[i] && in_key(p, i) && InjectiveCast(p->types[i], types[i]);
        if (shared[i]) key->push_back(static_cast<int>(i));
      }
      struct Slot {
        SqlType type;
        std::string name;  ///< of the column that opened it
        int users = 0;     ///< branches whose key uses it
      };
      std::vector<Slot> slots;
      std::vector<std::vector<int>> fill(in.size());  // per branch: slot -> its column, -1: NULL
      for (size_t b = 0; b < in.size(); ++b) {
        for (int col : *in[b]->unique_key) {
          const size_t c = static_cast<size_t>(col);
          if (c < nv && shared[c]) continue;
          fill[b].resize(slots.size(), -1);
          size_t s = 0;
          while (s < slots.size() && (fill[b][s] >= 0 || !(slots[s].type == in[b]->types[c]))) ++s;
          if (s == slots.size()) {
            const std::string& n = in[b]->names[c];
            slots.push_back({in[b]->types[c], c < nv ? "_key_" + n : n, 0});
            fill[b].push_back(-1);
          }
          fill[b][s] = col;
          ++slots[s].users;
        }
      }
      std::set<std::string> taken;
      for (const auto& n : names) taken.insert(Lower(n));
      // `_branch` is this UNION's: a branch's own `_branch` (a nested UNION ALL) gets a suffix.
      const std::string branch_name = UniqueName("_branch", taken);
      for (size_t s = 0; s < slots.size(); ++s) {
        // A slot shared by branches is named by its position: no one branch's column name fits it.
        const Slot& slot = slots[s];
        key->push_back(static_cast<int>(names.size()));
        names.push_back(UniqueName(slot.users > 1 ? fmt::format("_key_{}", s + 1) : slot.name, taken));
        types.push_back(slot.type);
      }
      key->push_back(static_cast<int>(names.size()));
      names.push_back(branch_name);
      types.push_back(kIntType);
      hidden = static_cast<int>(slots.size()) + 1;
      for (size_t b = 0; b < in.size(); ++b) {
        fill[b].resize(slots.size(), -1);
        for (size_t s = 0; s < slots.size(); ++s) {
          exprs[b].push_back(fill[b][s] >= 0 ? MakeColumn(fill[b][s], slots[s].type) : MakeConst(Value::Null(), slots[s].type));
        }
        exprs[b].push_back(MakeConst(Value::Int(static_cast<int64_t>(b)), kIntType));
      }
    }
    auto node = [&](PlanKind kind, std::vector<PlanPtr> inputs) {
      auto n = std::make_shared<PlanNode>();
      n->kind = kind;
      n->inputs = std::move(inputs);
      n->names = names;
      n->types = types;
      n->unique_key = key;
      n->hidden_columns = hidden;
      return n;
    };
    PlanPtr u;
    for (size_t b = 0; b < in.size(); ++b) {
      auto branch = node(PlanKind::kProject, {in[b]});
      branch->exprs = std::move(exprs[b]);
      u = b == 0 ? PlanPtr(branch) : PlanPtr(node(PlanKind::kUnionAll, {u, branch}));
    }
    SetOutputScope(*u, out_scope);
    return u;
  }

  PlanPtr BindFromItem(dom::element item, Scope* scope) {
    auto [t, body] = Node(item);
    const Cte* cte = nullptr;
    if (t == "RangeVar" && Str(body, "schemaname").empty() && Str(body, "catalogname").empty()) {
      cte = FindCte(Str(body, "relname"));  // an unqualified name: a CTE hides a table or view
    }
    if (cte) {
      std::string alias = cte->name;
      std::vector<std::string> columns;
      if (auto a = Get(body, "alias")) {
        alias = Lower(Str(*a, "aliasname"));
        for (dom::element c : List(*a, "colnames")) columns.emplace_back(StringNode(c));
      }
      Scope inner;
      PlanPtr p = BindCte(*cte, &inner);
      AddAliased(inner, columns, Loc(item, stmt_at_), alias, *scope);
      return p;
    }
    if (t == "RangeVar") {
      Catalog::Found found;
      std::string_view db = Str(body, "schemaname"), name = Str(body, "relname");
      if (!Str(body, "catalogname").empty()) Fail(Loc(item, stmt_at_), "unsupported: catalog-qualified table name");
      TableSchemaPtr schema = catalog_.Find(db, name, &found);
      if (!schema) {
        Fail(Loc(item, stmt_at_), "relation \"{}{}{}\" does not exist (source tables are named db.table or table in database \"{}\"; views by name)",
             db, db.empty() ? "" : ".", name, catalog_.default_database());
      }
      auto scan = std::make_shared<PlanNode>();
      scan->kind = PlanKind::kScan;
      scan->source = found.source;
      scan->hidden_columns = found.hidden_columns;
      std::string alias = Lower(name);
      std::vector<std::string> columns;
      if (auto a = Get(body, "alias")) {
        alias = Lower(Str(*a, "aliasname"));
        for (dom::element c : List(*a, "colnames")) columns.emplace_back(StringNode(c));
      }
      if (!schema->primary_key.empty() || found.view_has_key) scan->unique_key = schema->primary_key;
      const size_t visible = schema->columns.size() - static_cast<size_t>(found.hidden_columns);
      for (size_t i = 0; i < schema->columns.size(); ++i) {
        const ColumnSchema& c = schema->columns[i];
        SqlType ct = TypeOfColumn(c);
        if (schema->database.empty() && c.column_type == "tinyint(1)") ct = kBoolType;  // a view's boolean
        scan->names.push_back(c.name);
        scan->types.push_back(ct);
        ScopeColumn sc{alias, c.name, ct};
        sc.key_only = i >= visible;  // a view's hidden key columns
        scope->cols.push_back(std::move(sc));
      }
      RenameColumns(*scope, columns, Loc(item, stmt_at_), "table", alias);
      return scan;
    }
    if (t == "RangeSubselect") {
      if (Bool(body, "lateral")) Fail(stmt_at_, "unsupported: LATERAL");
      auto a = Get(body, "alias");
      if (!a) Fail(stmt_at_, "subquery in FROM must have an alias");
      auto [qt, q] = Node(*Get(body, "subquery"));
      Scope inner;
      PlanPtr p = BindSelect(q, &inner);
      std::string alias = Lower(Str(*a, "aliasname"));
      std::vector<std::string> columns;
      for (dom::element c : List(*a, "colnames")) columns.emplace_back(StringNode(c));
      AddAliased(inner, columns, Loc(item, stmt_at_), alias, *scope);
      return p;
    }
    if (t == "JoinExpr") {
      int64_t loc = stmt_at_;
      if (Bool(body, "isNatural")) Fail(loc, "unsupported: NATURAL JOIN");
      if (Get(body, "alias")) Fail(loc, "unsupported: alias on a JOIN");
      Scope ls, rs;
      PlanPtr l = BindFromItem(*Get(body, "larg"), &ls);
      PlanPtr r = BindFromItem(*Get(body, "rarg"), &rs);
      std::string_view jt = Str(body, "jointype");
      JoinType type = jt == "JOIN_LEFT" ? JoinType::kLeft : jt == "JOIN_RIGHT" ? JoinType::kRight
                    : jt == "JOIN_FULL" ? JoinType::kFull : JoinType::kInner;
      if (jt != "JOIN_INNER" && jt != "JOIN_LEFT" && jt != "JOIN_RIGHT" && jt != "JOIN_FULL") {
        Fail(loc, "unsupported: join type {}", jt);
      }
      Scope both = ls;
      for (auto& c : rs.cols) both.cols.push_back(c);
      std::vector<ExprPtr> lk, rk, residual;
      auto using_cols = List(body, "usingClause");
      if (!using_cols.empty()) {
        if (type == JoinType::kFull) Fail(loc, "unsupported: FULL JOIN ... USING (write ON a.x = b.x)");
        for (auto u : using_cols) {
          std::string name(StringNode(u));
          auto find = [&](const Scope& sc, const char* side) {
            int found = -1;
            for (size_t i = 0; i < sc.cols.size(); ++i) {
              if (sc.cols[i].hidden || sc.cols[i].key_only || Lower(sc.cols[i].name) != Lower(name)) continue;
              if (found >= 0) Fail(loc, "common column name \"{}\" appears more than once in {} table", name, side);
              found = static_cast<int>(i);
            }
            if (found < 0) Fail(loc, "column \"{}\" specified in USING clause does not exist in {} table", name, side);
            return found;
          };
          int li = find(ls, "left"), ri = find(rs, "right");
          std::vector<ExprPtr> pair{MakeColumn(li, ls.cols[static_cast<size_t>(li)].type), MakeColumn(ri, rs.cols[static_cast<size_t>(ri)].type)};
          SqlType ct = CommonType(pair, loc, "JOIN/USING");
          lk.push_back(Coerce(pair[0], ct, loc));
          rk.push_back(Coerce(pair[1], ct, loc));
          // The merged column is the left one (the right one for RIGHT JOIN).
          both.cols[type == JoinType::kRight ? static_cast<size_t>(li) : ls.cols.size() + static_cast<size_t>(ri)].hidden = true;
        }
      }
      if (auto quals = Get(body, "quals")) {
        std::vector<dom::element> conj;
        Conjuncts(*quals, conj);
        for (dom::element c : conj) {
          if (ContainsAgg(c)) Fail(Loc(c, loc), "aggregate functions are not allowed in JOIN conditions");
          if (!TryEquiKey(c, ls, rs, lk, rk)) residual.push_back(RequireBool(BindExpr(c, both, nullptr), Loc(c, loc), "JOIN/ON"));
        }
      }
      if (!residual.empty() && type != JoinType::kInner) {
        Fail(loc, "unsupported: an outer join's ON condition must be equalities between the two sides joined by AND");
      }
      if (lk.empty() && type != JoinType::kInner) Fail(loc, "unsupported: an outer join without an equality in ON");
      PlanPtr p = MakeJoin(l, ls, r, rs, type, lk, rk);
      if (p->side_column) {
        ScopeColumn side{"", p->names.back(), p->types.back()};
        side.key_only = true;  // carried as the hidden key column `_side`; SQL cannot name it
        both.cols.push_back(std::move(side));
      }
      *scope = both;
      if (!residual.empty()) {
        ExprPtr pred = residual.size() == 1 ? residual[0] : MakeNode(ExprKind::kAnd, kBoolType, residual);
        p = MakeFilter(p, pred);
      }
      return p;
    }
    Fail(Loc(item, stmt_at_), "unsupported: {} in FROM", t);
  }

  void Conjuncts(dom::element e, std::vector<dom::element>& out) {
    auto [t, body] = Node(e);
    if (t == "BoolExpr" && Str(body, "boolop") == "AND_EXPR") {
      for (auto a : List(body, "args")) Conjuncts(a, out);
    } else {
      out.push_back(e);
    }
  }

  std::optional<ExprPtr> TryBind(dom::element e, const Scope& s) {
    try {
      return BindExpr(e, s, nullptr);
    } catch (const Error&) {
      return std::nullopt;
    }
  }

  bool TryEquiKey(dom::element c, const Scope& ls, const Scope& rs, std::vector<ExprPtr>& lk, std::vector<ExprPtr>& rk) {
    auto [t, body] = Node(c);
    if (t != "A_Expr" || Str(body, "kind") != "AEXPR_OP" || LastName(body, "name") != "=") return false;
    auto le = Get(body, "lexpr"), re = Get(body, "rexpr");
    if (!le || !re) return false;
    Scope both = ls;
    both.cols.insert(both.cols.end(), rs.cols.begin(), rs.cols.end());
    if (!TryBind(*le, both) || !TryBind(*re, both)) return false;  // ambiguous or unknown: report it later
    std::optional<ExprPtr> a = TryBind(*le, ls), b = TryBind(*re, rs);
    if (!a || !b || ReferencesNoColumn(**a) || ReferencesNoColumn(**b)) {
      a = TryBind(*re, ls);
      b = TryBind(*le, rs);
      if (!a || !b || ReferencesNoColumn(**a) || ReferencesNoColumn(**b)) return false;
    }
    std::vector<ExprPtr> pair{*a, *b};
    SqlType ct = CommonType(pair, Loc(c, stmt_at_), "=");
    lk.push_back(Coerce(*a, ct, Loc(c, stmt_at_)));
    rk.push_back(Coerce(*b, ct, Loc(c, stmt_at_)));
    return true;
  }

  static bool ReferencesNoColumn(const Expr& e) {
    if (e.kind == ExprKind::kColumn) return false;
    for (auto& a : e.args) if (!ReferencesNoColumn(*a)) return false;
    return true;
  }

  PlanPtr MakeJoin(PlanPtr l, const Scope&, PlanPtr r, const Scope&, JoinType type, std::vector<ExprPtr> lk,
                   std::vector<ExprPtr> rk) {
    auto j = std::make_shared<PlanNode>();
    j->kind = PlanKind::kJoin;
    j->inputs = {l, r};
    j->join_type = type;
    j->left_keys = std::move(lk);
    j->right_keys = std::move(rk);
    j->names = l->names;
    j->types = l->types;
    // A side whose unique key is among its equi-join columns matches at most one row of the other
    // side: then the other side's key alone identifies a row (orders JOIN rates ON rates.currency
    // = orders.currency is keyed by the order), unless the join pads that other side with NULLs.
    auto key_column = [](const ExprPtr& e) {
      // A column, or a column under a cast that keeps distinct values distinct (the join's common type).
      if (e->kind == ExprKind::kColumn) return e->column;
      if (e->kind != ExprKind::kCast || e->args.size() != 1 || e->args[0]->kind != ExprKind::kColumn) return -1;
      return InjectiveCast(e->args[0]->type, e->type) ? e->args[0]->column : -1;
    };
    auto covered = [&](const PlanPtr& side, const std::vector<ExprPtr>& keys) {
      if (!side->unique_key || side->unique_key->empty()) return false;
      for (int k : *side->unique_key) {
        bool found = false;
        for (const auto& e : keys) found = found || key_column(e) == k;
        if (!found) return false;
      }
      return true;
    };
    const bool pads_left = type == JoinType::kRight || type == JoinType::kFull;
    const bool pads_right = type == JoinType::kLeft || type == JoinType::kFull;
    if (l->unique_key && covered(r, j->right_keys) && !pads_left) {
      j->unique_key = *l->unique_key;
    } else if (r->unique_key && covered(l, j->left_keys) && !pads_right) {
      j->unique_key = std::vector<int>();
      for (int k : *r->unique_key) j->unique_key->push_back(k + static_cast<int>(l->names.size()));
    } else if (l->unique_key && r->unique_key) {
      j->unique_key = *l->unique_key;
      for (int k : *r->unique_key) j->unique_key->push_back(k + static_cast<int>(l->names.size()));
    }
    for (size_t i = 0; i < r->names.size(); ++i) {
      j->names.push_back(r->names[i]);
      j->types.push_back(r->types[i]);
    }
    // Both keys: a row is a pair, or one side padded with NULLs. A left-only row (l, NULLs) and a
    // right-only row (NULLs, r) share the key only when l's and r's keys are both entirely NULL
    // (GROUP BY a nullable column, a single-row aggregate's empty key); a LEFT/RIGHT JOIN pads
    // one side only, and a padded row's present side has no match, so no other row has its key.
    // There `_side` (which inputs the row has) joins the key.
    if (type == JoinType::kFull && j->unique_key && KeyMayBeAllNull(*l) && KeyMayBeAllNull(*r)) {
      j->side_column = true;
      j->unique_key->push_back(static_cast<int>(j->names.size()));
      j->names.push_back("_side");
      j->types.push_back(kIntType);
    }
    return j;
  }

  // ---- NULLs in keys (conservative: "may" is true when unsure) ----

  /// Whether output column `col` of `p` may be NULL.
  bool MayBeNull(const PlanNode& p, int col) const {
    const size_t c = static_cast<size_t>(col);
    switch (p.kind) {
      case PlanKind::kScan: {
        Catalog::Found found;
        const size_t dot = p.source.find('.');
        if (dot == std::string::npos) return true;  // a view: its columns' NULLs are not tracked
        TableSchemaPtr t = catalog_.Find(p.source.substr(0, dot), p.source.substr(dot + 1), &found);
        if (!t || found.view || found.source != p.source || c >= t->columns.size()) return true;
        const bool in_key = std::find(t->primary_key.begin(), t->primary_key.end(), col) != t->primary_key.end();
        return t->columns[c].nullable && !in_key;
      }
      case PlanKind::kFilter:
        return MayBeNull(*p.inputs[0], col) && !RejectsNull(*p.predicate, col);
      case PlanKind::kProject:
        return ExprMayBeNull(*p.exprs[c], *p.inputs[0]);
      case PlanKind::kAggregate:
        if (c < p.group_keys.size()) return ExprMayBeNull(*p.group_keys[c], *p.inputs[0]);
        {
          const AggFunc f = p.aggs[c - p.group_keys.size()].func;
          return f != AggFunc::kCount && f != AggFunc::kCountStar;
        }
      case PlanKind::kJoin: {
        const size_t nl = p.inputs[0]->names.size(), nr = p.inputs[1]->names.size();
        if (c >= nl + nr) return false;  // _side
        const bool left = c < nl;
        const JoinType padded = left ? JoinType::kRight : JoinType::kLeft;
        if (p.join_type == padded || p.join_type == JoinType::kFull) return true;
        return left ? MayBeNull(*p.inputs[0], col) : MayBeNull(*p.inputs[1], static_cast<int>(c - nl));
      }
      case PlanKind::kUnionAll:
        return MayBeNull(*p.inputs[0], col) || MayBeNull(*p.inputs[1], col);
    }
    return true;
  }

  /// Whether `e` over a row of `in` may be NULL. Casts and arithmetic are NULL only on a NULL
  /// argument (a bad value is an error, not NULL); functions, CASE, NULLIF, ... count as "may".
  bool ExprMayBeNull(const Expr& e, const PlanNode& in) const {
    switch (e.kind) {
      case ExprKind::kColumn: return MayBeNull(in, e.column);
      case ExprKind::kConst: return e.constant.null;
      case ExprKind::kIsNull: return false;
      case ExprKind::kCompare:
        if (e.op == 'd' || e.op == 'e') return false;  // IS [NOT] DISTINCT FROM
        [[fallthrough]];
      case ExprKind::kArith:
      case ExprKind::kCast:
      case ExprKind::kNot:
        for (const auto& a : e.args) {
          if (ExprMayBeNull(*a, in)) return true;
        }
        return false;
      case ExprKind::kCoalesce:
        for (const auto& a : e.args) {
          if (!ExprMayBeNull(*a, in)) return false;
        }
        return true;
      default:
        return true;
    }
  }

  /// Whether predicate `pred` is never true when column `col` is NULL: one of its AND-ed terms is
  /// `col IS NOT NULL` or a comparison of `col` (or a cast of it).
  static bool RejectsNull(const Expr& pred, int col) {
    if (pred.kind == ExprKind::kAnd) {
      for (const auto& a : pred.args) {
        if (RejectsNull(*a, col)) return true;
      }
      return false;
    }
    auto is_col = [&](ExprPtr a) {
      while (a->kind == ExprKind::kCast) a = a->args[0];
      return a->kind == ExprKind::kColumn && a->column == col;
    };
    if (pred.kind == ExprKind::kIsNull) return pred.negated && is_col(pred.args[0]);
    if (pred.kind == ExprKind::kCompare && pred.op != 'd' && pred.op != 'e') return is_col(pred.args[0]) || is_col(pred.args[1]);
    return false;
  }

  /// Whether one row of `p` may have NULL in every column of its unique key (the empty key of a
  /// single-row node counts as such: two single-row inputs of a FULL JOIN give two rows).
  bool KeyMayBeAllNull(const PlanNode& p) const {
    if (!p.unique_key) return false;
    const std::vector<int>& key = *p.unique_key;
    if (key.empty()) return true;
    switch (p.kind) {
      case PlanKind::kScan: {
        // A source table's primary key is NOT NULL; a view's answer was kept with it.
        Catalog::Found found;
        return catalog_.Find("", p.source, &found) && found.view && found.source == p.source ? found.view_key_may_be_null
                                                                                               : false;
      }
      case PlanKind::kFilter:
        for (int k : key) {
          if (RejectsNull(*p.predicate, k)) return false;
        }
        return KeyMayBeAllNull(*p.inputs[0]);
      case PlanKind::kJoin: {
        if (p.side_column) return false;
        // The key is a side's whole key, or both sides' (MakeJoin). A matched row has both
        // parts, a padded row NULLs in the padded side's part.
        const PlanNode& l = *p.inputs[0];
        const int nl = static_cast<int>(l.names.size());
        const bool has_left = std::any_of(key.begin(), key.end(), [&](int k) { return k < nl; });
        const bool has_right = std::any_of(key.begin(), key.end(), [&](int k) { return k >= nl; });
        const bool lk = !has_left || KeyMayBeAllNull(l), rk = !has_right || KeyMayBeAllNull(*p.inputs[1]);
        const bool pads_left = p.join_type == JoinType::kRight || p.join_type == JoinType::kFull;
        const bool pads_right = p.join_type == JoinType::kLeft || p.join_type == JoinType::kFull;
        return (lk && rk) || (lk && pads_right) || (rk && pads_left);
      }
      case PlanKind::kProject: {
        // A key column that is never NULL (`_branch`, `_key_row`, a NOT NULL column) decides it;
        // a key that is the input's key, column for column, has the input's answer.
        const PlanNode& in = *p.inputs[0];
        std::vector<int> from;
        for (int k : key) {
          const Expr& e = *p.exprs[static_cast<size_t>(k)];
          if (!ExprMayBeNull(e, in)) return false;
          if (e.kind == ExprKind::kColumn) from.push_back(e.column);
        }
        if (in.unique_key && from.size() == in.unique_key->size() &&
            std::is_permutation(from.begin(), from.end(), in.unique_key->begin())) {
          return KeyMayBeAllNull(in);
        }
        return true;
      }
      case PlanKind::kAggregate:
      case PlanKind::kUnionAll:
        for (int k : key) {
          if (!MayBeNull(p, k)) return false;
        }
        return true;
    }
    return true;
  }

  /// Returns true when casting `from` to `to` keeps distinct values distinct.
  static bool InjectiveCast(const SqlType& from, const SqlType& to) {
    auto integral = [](TypeId t) { return t == TypeId::kInt || t == TypeId::kUInt || t == TypeId::kBit || t == TypeId::kBool; };
    return (integral(from.id) && (to.id == TypeId::kInt || to.id == TypeId::kUInt || to.id == TypeId::kDecimal)) ||
           (from.id == TypeId::kDecimal && to.id == TypeId::kDecimal && to.scale >= from.scale) || from.id == to.id;
  }

  PlanPtr MakeFilter(PlanPtr in, ExprPtr pred) {
    auto f = std::make_shared<PlanNode>();
    f->kind = PlanKind::kFilter;
    f->inputs = {in};
    f->predicate = std::move(pred);
    f->names = in->names;
    f->types = in->types;
    f->unique_key = in->unique_key;
    return f;
  }

  static bool HasColumn(const Scope& s, std::string_view name) {
    for (auto& c : s.cols) if (!c.key_only && Lower(c.name) == Lower(name)) return true;
    return false;
  }

  ExprPtr RequireBool(ExprPtr e, int64_t loc, const char* where) {
    if (e->type.id == TypeId::kNull) return MakeConst(Value::Null(), kBoolType);
    if (e->type.id != TypeId::kBool) Fail(loc, "argument of {} must be type boolean, not type {}", where, TypeToString(e->type));
    return e;
  }

  // ---- expressions ----

  SqlType CommonType(std::vector<ExprPtr>& args, int64_t loc, const char* what) {
    SqlType t{TypeId::kNull};
    // Typed (non-literal-string) arguments decide; string literals then adapt (PostgreSQL's unknown).
    bool any_double = false, any_decimal = false, any_int = false, any_string = false, any_bool = false, any_wide = false;
    bool any_dt = false, any_date = false, any_time = false, any_ts = false, any_other = false;
    int scale = 0, int_bytes = 2;
    TypeId other = TypeId::kNull;
    for (auto& a : args) {
      bool literal = a->kind == ExprKind::kConst && a->type.id == TypeId::kString;
      switch (a->type.id) {
        case TypeId::kNull: break;
        case TypeId::kDouble: case TypeId::kFloat: any_double = true; break;
        case TypeId::kDecimal: any_decimal = true; scale = std::max(scale, a->type.scale); break;
        case TypeId::kWideDecimal: any_wide = true; scale = std::max(scale, a->type.scale); break;
        // BIGINT UNSIGNED reaches 2^64-1: it computes as numeric(20,0), as Debezium's precise mode
        // and RisingWave's decimal carry it (not as bigint, which would overflow above 2^63-1).
        case TypeId::kUInt: any_decimal = true; break;
        case TypeId::kInt: any_int = true; int_bytes = std::max(int_bytes, a->type.int_bytes); break;
        case TypeId::kBit: any_int = true; int_bytes = 8; break;
        case TypeId::kString: if (!literal) any_string = true; break;
        case TypeId::kBytes: case TypeId::kJson: any_string = true; break;
        case TypeId::kBool: any_bool = true; break;
        case TypeId::kDate: any_date = true; break;
        case TypeId::kDateTime: any_dt = true; break;
        case TypeId::kTimestamp: any_ts = true; break;
        case TypeId::kTime: any_time = true; break;
        default: any_other = true; other = a->type.id; break;
      }
    }
    int classes = (any_double || any_decimal || any_int || any_wide) + any_string + any_bool + (any_dt || any_date || any_ts) + any_time + any_other;
    if (classes > 1) {
      std::string list;
      for (auto& a : args) list += (list.empty() ? "" : ", ") + TypeToString(a->type);
      Fail(loc, "{} types {} cannot be matched", what, list);
    }
    if (any_double) t = SqlType{TypeId::kDouble};
    else if (any_wide) t = SqlType{TypeId::kWideDecimal, scale, 65};  // numbers beside it compare as it
    else if (any_decimal) t = SqlType{TypeId::kDecimal, scale, 38};
    else if (any_int) t = SqlType{TypeId::kInt, 0, 38, int_bytes};
    else if (any_bool) t = kBoolType;
    else if (any_ts) t = SqlType{TypeId::kTimestamp};
    else if (any_dt) t = SqlType{TypeId::kDateTime};
    else if (any_date) t = SqlType{TypeId::kDate};
    else if (any_time) t = SqlType{TypeId::kTime};
    else if (any_other) t = SqlType{other};
    else {
      bool any_literal = false;
      for (auto& a : args) any_literal = any_literal || a->type.id == TypeId::kString;
      t = any_literal || any_string ? kStringType : SqlType{TypeId::kNull};
    }
    // BIGINT UNSIGNED stays itself when every typed argument is (UNION ALL, COALESCE, CASE of
    // unsigned columns); mixed with other numbers it is numeric.
    if (t.id == TypeId::kDecimal && !any_double && scale == 0 &&
        std::all_of(args.begin(), args.end(), [](const ExprPtr& a) {
          return a->type.id == TypeId::kUInt || a->type.id == TypeId::kNull;
        })) {
      t = SqlType{TypeId::kUInt};
    }
    // Keep kBytes/kJson when every typed argument has it.
    if (any_string) {
      TypeId first = TypeId::kNull;
      bool same = true;
      for (auto& a : args) {
        if (a->type.id == TypeId::kNull || (a->kind == ExprKind::kConst && a->type.id == TypeId::kString)) continue;
        if (first == TypeId::kNull) first = a->type.id; else same = same && first == a->type.id;
      }
      t = SqlType{same ? first : TypeId::kString};
    }
    return t;
  }

  ExprPtr Coerce(ExprPtr e, const SqlType& t, int64_t loc) {
    if (e->type == t || t.id == TypeId::kNull) return e;
    if (e->type.id == TypeId::kInt && t.id == TypeId::kInt) {
      // integer <-> bigint: the value is the same int64; only the static type changes.
      auto r = std::make_shared<Expr>(*e);
      r->type = t;
      return r;
    }
    if (e->kind == ExprKind::kConst) {
      try {
        return MakeConst(CastValue(e->constant, e->type, t), t);
      } catch (const Error& err) {
        Fail(loc, "{}", err.what());
      }
    }
    auto c = MakeNode(ExprKind::kCast, t, {e});
    return c;
  }

  /// Binds an expression whose value is used as is: an interval constant is refused here (only
  /// the operands of + and - take one, through BindAny).
  ExprPtr BindExpr(dom::element node, const Scope& scope, AggContext* agg) {
    ExprPtr e = BindAny(node, scope, agg);
    if (e->type.id == TypeId::kInterval) {
      Fail(DeepLoc(node), "unsupported: an interval value here (an interval is supported only as a constant added to "
           "or subtracted from a date, timestamp or time, e.g. d + INTERVAL '1 day')");
    }
    return e;
  }

  /// Binds any expression, an interval constant too (the caller must consume it).
  ExprPtr BindAny(dom::element node, const Scope& scope, AggContext* agg) {
    auto [t, body] = Node(node);
    int64_t loc = Loc(node, stmt_at_);
    if (agg) {
      if (t == "FuncCall" && IsAggregateName(LastName(body, "funcname"))) return BindAggregate(body, loc, *agg);
      if (!ContainsAgg(node)) {
        ExprPtr e = BindAny(node, *agg->input, nullptr);
        std::string fp = e->ToString();
        for (size_t i = 0; i < agg->group_fp.size(); ++i) {
          if (agg->group_fp[i] == fp) return MakeColumn(static_cast<int>(i), e->type);
        }
        if (ReferencesNoColumn(*e)) return e;
        if (t == "ColumnRef") {
          Fail(loc, "column \"{}\" must appear in the GROUP BY clause or be used in an aggregate function",
               StringNode(List(body, "fields").back()));
        }
      }
    }
    if (t == "ColumnRef") return BindColumnRef(body, scope, loc);
    if (t == "A_Const") return BindConst(body, loc);
    if (t == "A_Expr") return BindAExpr(body, scope, agg, loc);
    if (t == "BoolExpr") {
      std::string_view op = Str(body, "boolop");
      std::vector<ExprPtr> args;
      const char* name = op == "AND_EXPR" ? "AND" : op == "OR_EXPR" ? "OR" : "NOT";
      for (auto a : List(body, "args")) args.push_back(RequireBool(BindExpr(a, scope, agg), Loc(a, loc), name));
      return MakeNode(op == "AND_EXPR" ? ExprKind::kAnd : op == "OR_EXPR" ? ExprKind::kOr : ExprKind::kNot, kBoolType, args);
    }
    if (t == "NullTest") {
      auto e = MakeNode(ExprKind::kIsNull, kBoolType, {BindExpr(*Get(body, "arg"), scope, agg)});
      std::const_pointer_cast<Expr>(e)->negated = Str(body, "nulltesttype") == "IS_NOT_NULL";
      return e;
    }
    if (t == "CaseExpr") {
      std::optional<ExprPtr> arg;
      if (auto a = Get(body, "arg")) arg = BindExpr(*a, scope, agg);
      std::vector<ExprPtr> conds, results;
      for (auto w : List(body, "args")) {
        auto wb = Node(w).second;
        ExprPtr c = BindExpr(*Get(wb, "expr"), scope, agg);
        if (arg) c = Compare('=', *arg, c, Loc(w, loc));
        conds.push_back(RequireBool(c, Loc(w, loc), "CASE/WHEN"));
        results.push_back(BindExpr(*Get(wb, "result"), scope, agg));
      }
      bool has_else = false;
      if (auto d = Get(body, "defresult")) {
        results.push_back(BindExpr(*d, scope, agg));
        has_else = true;
      }
      SqlType rt = CommonType(results, loc, "CASE");
      if (rt.id == TypeId::kNull) rt = kStringType;
      std::vector<ExprPtr> args;
      for (size_t i = 0; i < conds.size(); ++i) {
        args.push_back(conds[i]);
        args.push_back(Coerce(results[i], rt, loc));
      }
      if (has_else) args.push_back(Coerce(results.back(), rt, loc));
      auto e = MakeNode(ExprKind::kCase, rt, args);
      std::const_pointer_cast<Expr>(e)->has_else = has_else;
      return e;
    }
    if (t == "CoalesceExpr") {
      std::vector<ExprPtr> args;
      for (auto a : List(body, "args")) args.push_back(BindExpr(a, scope, agg));
      SqlType rt = CommonType(args, loc, "COALESCE");
      if (rt.id == TypeId::kNull) rt = kStringType;
      for (auto& a : args) a = Coerce(a, rt, loc);
      return MakeNode(ExprKind::kCoalesce, rt, args);
    }
    if (t == "TypeCast") {
      if (LastName(*Get(body, "typeName"), "names") == "interval") return BindIntervalCast(body, scope, agg, loc);
      ExprPtr arg = BindExpr(*Get(body, "arg"), scope, agg);
      SqlType to = ResolveTypeName(*Get(body, "typeName"), arg->type, loc);
      if (arg->type == to) return arg;
      if (arg->kind == ExprKind::kConst) return Coerce(arg, to, loc);
      return MakeNode(ExprKind::kCast, to, {arg});
    }
    if (t == "FuncCall") return BindFunc(body, scope, agg, loc);
    if (t == "MinMaxExpr") {
      std::vector<ExprPtr> args;
      for (auto a : List(body, "args")) args.push_back(BindExpr(a, scope, agg));
      SqlType rt = CommonType(args, loc, Str(body, "op") == "IS_GREATEST" ? "GREATEST" : "LEAST");
      if (rt.id == TypeId::kNull) rt = kStringType;
      for (auto& a : args) a = Coerce(a, rt, loc);
      auto e = MakeNode(ExprKind::kFunc, rt, args);
      std::const_pointer_cast<Expr>(e)->func = Str(body, "op") == "IS_GREATEST" ? "greatest" : "least";
      return e;
    }
    if (t == "SubLink") Fail(loc, "unsupported: subquery in an expression");
    if (t == "SQLValueFunction") Fail(loc, "unsupported: CURRENT_DATE/NOW and other time-dependent values in a view");
    if (t == "BooleanTest") {
      ExprPtr x = RequireBool(BindExpr(*Get(body, "arg"), scope, agg), loc, "IS TRUE/FALSE");
      std::string_view bt = Str(body, "booltesttype");
      auto coalesce_false = [&](ExprPtr e) { return MakeNode(ExprKind::kCoalesce, kBoolType, {e, MakeConst(Value::Bool(false), kBoolType)}); };
      auto not_ = [&](ExprPtr e) { return MakeNode(ExprKind::kNot, kBoolType, {e}); };
      if (bt == "IS_TRUE") return coalesce_false(x);
      if (bt == "IS_NOT_TRUE") return not_(coalesce_false(x));
      if (bt == "IS_FALSE") return coalesce_false(not_(x));
      if (bt == "IS_NOT_FALSE") return not_(coalesce_false(not_(x)));
      auto e = MakeNode(ExprKind::kIsNull, kBoolType, {x});
      std::const_pointer_cast<Expr>(e)->negated = bt == "IS_NOT_UNKNOWN";
      return e;
    }
    if (t == "ParamRef") Fail(loc, "unsupported: parameters");
    Fail(loc, "unsupported: expression {}", t);
  }

  ExprPtr BindColumnRef(dom::element body, const Scope& scope, int64_t loc) {
    auto fields = List(body, "fields");
    if (fields.size() > 3) Fail(loc, "unsupported: column reference with more than three parts");
    std::string name(StringNode(fields.back()));
    std::string table = fields.size() >= 2 ? Lower(StringNode(fields[fields.size() - 2])) : "";
    int found = -1;
    for (size_t i = 0; i < scope.cols.size(); ++i) {
      if (scope.cols[i].key_only || Lower(scope.cols[i].name) != Lower(name)) continue;
      if (!table.empty() && scope.cols[i].table != table) continue;
      if (table.empty() && scope.cols[i].hidden) continue;
      if (found >= 0) Fail(loc, "column reference \"{}\" is ambiguous", name);
      found = static_cast<int>(i);
    }
    if (found < 0) {
      if (!table.empty()) Fail(loc, "column {}.{} does not exist", table, name);
      Fail(loc, "column \"{}\" does not exist", name);
    }
    return MakeColumn(found, scope.cols[static_cast<size_t>(found)].type);
  }

  ExprPtr BindConst(dom::element body, int64_t loc) {
    if (Bool(body, "isnull")) return MakeConst(Value::Null(), SqlType{TypeId::kNull});
    if (auto v = Get(body, "ival")) {
      // libpg_query 15-4.0.0's JSON drops negative integers ("ival":{}): read the literal's text.
      int64_t x = Int(*v, "ival", 0);
      if (x == 0 && loc >= 0 && static_cast<size_t>(loc) < text_.size()) {
        std::string lit;
        size_t i = static_cast<size_t>(loc);
        if (text_[i] == '-') {
          lit += '-';
          ++i;
          while (i < text_.size() && std::isspace(static_cast<unsigned char>(text_[i]))) ++i;
        }
        for (; i < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i])); ++i) lit += text_[i];
        x = std::strtoll(lit.c_str(), nullptr, 10);
      }
      // integer when it fits, as PostgreSQL types an integer literal (sum(1) is bigint)
      return MakeConst(Value::Int(x), x >= INT32_MIN && x <= INT32_MAX ? kInt4Type : kIntType);
    }
    if (auto v = Get(body, "boolval")) return MakeConst(Value::Bool(Bool(*v, "boolval")), kBoolType);
    if (auto v = Get(body, "sval")) return MakeConst(Value::String(std::string(Str(*v, "sval"))), kStringType);
    if (auto v = Get(body, "fval")) {
      std::string_view s = Str(*v, "fval");
      if (s.find_first_of("eE") != std::string_view::npos) return MakeConst(Value::Double(std::strtod(std::string(s).c_str(), nullptr)), SqlType{TypeId::kDouble});
      size_t dot = s.find('.');
      int scale = dot == std::string_view::npos ? 0 : static_cast<int>(s.size() - dot - 1);
      if (scale == 0) {  // an integer too big for int4: bigint when it fits
        errno = 0;
        long long x = std::strtoll(std::string(s).c_str(), nullptr, 10);
        if (errno == 0) return MakeConst(Value::Int(x), kIntType);
      }
      try {
        return MakeConst(Value::Decimal(ParseDecimal(s, scale)), SqlType{TypeId::kDecimal, scale, 38});
      } catch (const Error& e) {
        Fail(loc, "{}", e.what());
      }
    }
    if (Get(body, "bsval")) Fail(loc, "unsupported: bit-string literal");
    Fail(loc, "unsupported: constant");
  }

  ExprPtr Compare(char op, ExprPtr a, ExprPtr b, int64_t loc) {
    std::vector<ExprPtr> args{a, b};
    SqlType ct = CommonType(args, loc, "comparison between");
    if (ct.id == TypeId::kNull) return MakeConst(Value::Null(), kBoolType);
    return MakeNode(ExprKind::kCompare, kBoolType, {Coerce(a, ct, loc), Coerce(b, ct, loc)}, op);
  }

  /// `INTERVAL '1 day'`, `'1' DAY`, `'1 hour'::interval`, `INTERVAL(3) '...'`: a constant.
  ExprPtr BindIntervalCast(dom::element body, const Scope& scope, AggContext* agg, int64_t loc) {
    dom::element tn = *Get(body, "typeName");
    if (Get(tn, "arrayBounds")) Fail(loc, "unsupported: array types");
    auto mods = List(tn, "typmods");
    auto mod = [&](size_t i) -> int64_t {
      auto [mt, mb] = Node(mods[i]);
      auto iv = Get(mb, "ival");
      if (!iv) Fail(loc, "unsupported: interval type modifier");
      return Int(*iv, "ival", 0);
    };
    int range = kIntervalFullRange, precision = -1;
    if (!mods.empty()) range = static_cast<int>(mod(0));
    if (mods.size() > 1) precision = static_cast<int>(mod(1));
    if (precision > 6) precision = 6;
    dom::element arg_node = *Get(body, "arg");
    ExprPtr arg = BindAny(arg_node, scope, agg);
    const int64_t arg_loc = Loc(arg_node, loc);
    if (arg->type.id == TypeId::kInterval) return arg;
    if (arg->kind == ExprKind::kConst && arg->constant.null) return MakeConst(Value::Null(), SqlType{TypeId::kInterval});
    if (arg->kind != ExprKind::kConst || arg->type.id != TypeId::kString) {
      Fail(arg_loc, "unsupported: cast of {} to interval (only constant intervals such as INTERVAL '1 day')",
           arg->kind == ExprKind::kConst ? TypeToString(arg->type) : "a non-constant " + TypeToString(arg->type));
    }
    try {
      return MakeConst(IntervalValue(ParseInterval(arg->constant.s, range, precision)), SqlType{TypeId::kInterval});
    } catch (const Error& err) {
      Fail(arg_loc, "{}", err.what());
    }
  }

  /// `a op b` where a or b is an interval constant: date/timestamp/time ± interval (interval +
  /// date/timestamp/time too), interval ± interval folded, unary minus folded by the caller.
  ExprPtr IntervalArith(char op, ExprPtr a, ExprPtr b, int64_t loc) {
    const TypeId ta = a->type.id, tb = b->type.id;
    auto no_op = [&]() {
      Fail(loc, "operator does not exist: {} {} {}", TypeToString(a->type), op, TypeToString(b->type));
    };
    if (ta == TypeId::kInterval && tb == TypeId::kInterval) {
      if (op != '+' && op != '-') no_op();
      if (a->constant.null || b->constant.null) return MakeConst(Value::Null(), SqlType{TypeId::kInterval});
      Interval x = IntervalOf(a->constant), y = IntervalOf(b->constant);
      const int64_t s = op == '+' ? 1 : -1;
      return MakeConst(IntervalValue(Interval{x.months + s * y.months, x.days + s * y.days, x.micros + s * y.micros}),
                       SqlType{TypeId::kInterval});
    }
    const bool interval_right = tb == TypeId::kInterval;
    ExprPtr other = interval_right ? a : b, iv = interval_right ? b : a;
    const TypeId to = other->type.id;
    if (op == '*' || op == '/' || op == '%') {
      Fail(loc, "unsupported: {} {} {} (an interval constant can only be added to or subtracted from a date, timestamp or time)",
           TypeToString(a->type), op, TypeToString(b->type));
    }
    if (to == TypeId::kNull) Fail(loc, "operator is not unique: unknown {} interval (cast the NULL, e.g. NULL::timestamp)", op);
    if (other->kind == ExprKind::kConst && to == TypeId::kString) {
      Fail(loc, "operator is not unique: unknown {} interval (write DATE '...' or TIMESTAMP '...')", op);
    }
    if (!(to == TypeId::kDate || to == TypeId::kDateTime || to == TypeId::kTimestamp || to == TypeId::kTime)) no_op();
    if (op == '-' && !interval_right) no_op();  // interval - date
    const SqlType rt = to == TypeId::kDate ? SqlType{TypeId::kDateTime} : other->type;
    if (iv->constant.null) return MakeConst(Value::Null(), rt);
    Interval x = IntervalOf(iv->constant);
    if (op == '-') x = Interval{-x.months, -x.days, -x.micros};
    auto e = MakeNode(ExprKind::kFunc, rt,
                      {other, MakeConst(Value::Int(x.months), kIntType), MakeConst(Value::Int(x.days), kIntType),
                       MakeConst(Value::Int(x.micros), kIntType)});
    std::const_pointer_cast<Expr>(e)->func = "add_interval";
    return e;
  }

  /// A numeric beyond 38 digits computes as numeric(38, s) (an error when a value does not fit).
  ExprPtr Narrow(ExprPtr e, int64_t loc) {
    if (e->type.id != TypeId::kWideDecimal) return e;
    return Coerce(e, SqlType{TypeId::kDecimal, e->type.scale, 38}, loc);
  }

  ExprPtr Arith(char op, ExprPtr a, ExprPtr b, int64_t loc) {
    a = Narrow(a, loc);
    b = Narrow(b, loc);
    TypeId ta = a->type.id, tb = b->type.id;
    if (ta == TypeId::kInterval || tb == TypeId::kInterval) return IntervalArith(op, a, b, loc);
    if (ta == TypeId::kNull || tb == TypeId::kNull) {
      SqlType other = ta == TypeId::kNull ? b->type : a->type;
      return MakeConst(Value::Null(), IsNumeric(other.id) ? other : kIntType);
    }
    auto is_int = [](TypeId t) { return IsIntegral(t); };
    // Literals next to typed operands take their type (PostgreSQL's unknown-type literals).
    if (a->kind == ExprKind::kConst && ta == TypeId::kString && tb != TypeId::kString) { a = Coerce(a, b->type, loc); ta = tb; }
    if (b->kind == ExprKind::kConst && tb == TypeId::kString && ta != TypeId::kString) { b = Coerce(b, a->type, loc); tb = ta; }
    if (ta == TypeId::kDate && (op == '+' || op == '-') && (is_int(tb) || tb == TypeId::kDate)) {
      if (tb == TypeId::kDate && op == '+') Fail(loc, "operator does not exist: date + date");
      return MakeNode(ExprKind::kArith, tb == TypeId::kDate ? kInt4Type : SqlType{TypeId::kDate}, {a, Coerce(b, tb == TypeId::kDate ? b->type : kIntType, loc)}, op);
    }
    if (tb == TypeId::kDate && op == '+' && is_int(ta)) return MakeNode(ExprKind::kArith, SqlType{TypeId::kDate}, {Coerce(a, kIntType, loc), b}, op);
    if (!IsNumeric(ta) || !IsNumeric(tb)) {
      Fail(loc, "operator does not exist: {} {} {}", TypeToString(a->type), op, TypeToString(b->type));
    }
    std::vector<ExprPtr> args{a, b};
    SqlType ct = CommonType(args, loc, "arithmetic on");
    if (ct.id == TypeId::kUInt) ct = SqlType{TypeId::kDecimal, 0, 38};  // unsigned arithmetic: numeric(20,0)
    if (ct.id == TypeId::kDecimal) {
      SqlType at = a->type.id == TypeId::kDecimal ? a->type : SqlType{TypeId::kDecimal, 0, 38};
      SqlType bt = b->type.id == TypeId::kDecimal ? b->type : SqlType{TypeId::kDecimal, 0, 38};
      int s = 0;
      switch (op) {
        case '+': case '-': case '%': s = std::max(at.scale, bt.scale); break;
        case '*': s = at.scale + bt.scale; break;
        case '/': s = std::max({6, at.scale, bt.scale}); break;
      }
      if (s > 30) Fail(loc, "unsupported: numeric result scale {} above 30", s);
      return MakeNode(ExprKind::kArith, SqlType{TypeId::kDecimal, s, 38}, {Coerce(a, at, loc), Coerce(b, bt, loc)}, op);
    }
    return MakeNode(ExprKind::kArith, ct, {Coerce(a, ct, loc), Coerce(b, ct, loc)}, op);
  }

  ExprPtr BindAExpr(dom::element body, const Scope& scope, AggContext* agg, int64_t loc) {
    std::string_view kind = Str(body, "kind");
    std::string op = LastName(body, "name");
    auto lexpr = Get(body, "lexpr");
    auto rexpr = Get(body, "rexpr");
    if (kind == "AEXPR_OP") {
      if (!lexpr) {  // unary
        ExprPtr a = BindAny(*rexpr, scope, agg);
        if (op == "+") return a;
        if (a->type.id == TypeId::kInterval && op == "-") {
          if (a->constant.null) return a;
          Interval x = IntervalOf(a->constant);
          return MakeConst(IntervalValue(Interval{-x.months, -x.days, -x.micros}), a->type);
        }
        if (a->type.id == TypeId::kInterval) Fail(loc, "unsupported: prefix operator {} on an interval", op);
        if (op == "-") {
          if (a->kind == ExprKind::kConst && a->type.id == TypeId::kString) a = Coerce(a, SqlType{TypeId::kDecimal, 0, 38}, loc);
          a = Narrow(a, loc);
          if (!IsNumeric(a->type.id)) Fail(loc, "operator does not exist: - {}", TypeToString(a->type));
          SqlType t = a->type.id == TypeId::kInt ? a->type : IsIntegral(a->type.id) ? kIntType : a->type;
          if (a->kind == ExprKind::kConst) {
            Value v = CastValue(a->constant, a->type, t);
            if (!v.null) {
              if (t.id == TypeId::kInt) {
                if (v.i == INT64_MIN) Fail(loc, "bigint out of range");
                v.i = -v.i;
              } else if (t.id == TypeId::kDecimal) {
                v.dec = -v.dec;
              } else {
                v.d = -v.d;
              }
            }
            return MakeConst(v, t);
          }
          return MakeNode(ExprKind::kArith, t, {Coerce(a, t, loc)}, 'n');
        }
        Fail(loc, "unsupported: prefix operator {}", op);
      }
      if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") {
        return Arith(op[0], BindAny(*lexpr, scope, agg), BindAny(*rexpr, scope, agg), loc);
      }
      ExprPtr a = BindExpr(*lexpr, scope, agg);
      ExprPtr b = BindExpr(*rexpr, scope, agg);
      if (op == "=") return Compare('=', a, b, loc);
      if (op == "<>" || op == "!=") return Compare('!', a, b, loc);
      if (op == "<") return Compare('<', a, b, loc);
      if (op == ">") return Compare('>', a, b, loc);
      if (op == "<=") return Compare('l', a, b, loc);
      if (op == ">=") return Compare('g', a, b, loc);
      if (op == "||") {
        auto e = MakeNode(ExprKind::kFunc, kStringType, {Coerce(a, kStringType, loc), Coerce(b, kStringType, loc)});
        std::const_pointer_cast<Expr>(e)->func = "||";
        return e;
      }
      if (op == "->" || op == "->>") {
        // json -> key/index (json), json ->> key/index (text). MySQL JSON columns are json here.
        const bool literal = a->kind == ExprKind::kConst && a->type.id == TypeId::kString;
        if (a->type.id != TypeId::kJson && !literal && a->type.id != TypeId::kNull) {
          Fail(loc, "operator does not exist: {} {} {} (it takes json: a JSON column, or cast with ::json)",
               TypeToString(a->type), op, TypeToString(b->type));
        }
        ExprPtr sel;
        if (IsIntegral(b->type.id)) {
          sel = Coerce(b, kIntType, loc);
        } else if (IsStringLike(b->type.id) || b->type.id == TypeId::kNull) {
          sel = Coerce(b, kStringType, loc);
        } else {
          Fail(loc, "operator does not exist: json {} {}", op, TypeToString(b->type));
        }
        auto e = MakeNode(ExprKind::kFunc, op == "->" ? SqlType{TypeId::kJson} : kStringType,
                          {Coerce(a, SqlType{TypeId::kJson}, loc), sel});
        std::const_pointer_cast<Expr>(e)->func = op == "->" ? "json_get" : "json_get_text";
        return e;
      }
      if (op == "~" || op == "~*" || op == "!~" || op == "!~*") {  // POSIX regular expression match
        if (!IsStringLike(a->type.id) && a->type.id != TypeId::kNull) {
          Fail(loc, "operator does not exist: {} {} {}", TypeToString(a->type), op, TypeToString(b->type));
        }
        if (b->kind != ExprKind::kConst || b->type.id != TypeId::kString) {
          Fail(loc, "unsupported: {} with a pattern that is not a constant", op);
        }
        const bool icase = op.find('*') != std::string::npos;
        try {
          CheckRegexp(b->constant.s, icase ? "i" : "");
        } catch (const Error& err) {
          Fail(loc, "{}", err.what());
        }
        auto e = MakeNode(ExprKind::kFunc, kBoolType,
                          {Coerce(a, kStringType, loc), b, MakeConst(Value::Bool(icase), kBoolType),
                           MakeConst(Value::Bool(op[0] == '!'), kBoolType)});
        std::const_pointer_cast<Expr>(e)->func = "regexp_like";
        return e;
      }
      Fail(loc, "unsupported: operator {}", op);
    }
    if (kind == "AEXPR_IN") {
      ExprPtr a = BindExpr(*lexpr, scope, agg);
      std::vector<ExprPtr> args{a};
      auto [rt, rbody] = Node(*rexpr);
      if (rt != "List") Fail(loc, "unsupported: IN (subquery)");
      for (auto item : List(rbody, "items")) args.push_back(BindExpr(item, scope, agg));
      SqlType ct = CommonType(args, loc, "IN over");
      for (auto& x : args) x = Coerce(x, ct, loc);
      auto e = MakeNode(ExprKind::kIn, kBoolType, args);
      std::const_pointer_cast<Expr>(e)->negated = op == "<>";
      return e;
    }
    if (kind == "AEXPR_BETWEEN" || kind == "AEXPR_NOT_BETWEEN") {
      ExprPtr a = BindExpr(*lexpr, scope, agg);
      auto items = List(Node(*rexpr).second, "items");
      ExprPtr lo = BindExpr(items[0], scope, agg), hi = BindExpr(items[1], scope, agg);
      ExprPtr e = MakeNode(ExprKind::kAnd, kBoolType, {Compare('g', a, lo, loc), Compare('l', a, hi, loc)});
      if (kind == "AEXPR_NOT_BETWEEN") e = MakeNode(ExprKind::kNot, kBoolType, {e});
      return e;
    }
    if (kind == "AEXPR_LIKE" || kind == "AEXPR_ILIKE") {
      ExprPtr a = BindExpr(*lexpr, scope, agg), p = BindExpr(*rexpr, scope, agg);
      if (!IsStringLike(a->type.id) && a->type.id != TypeId::kNull) Fail(loc, "operator does not exist: {} LIKE text", TypeToString(a->type));
      auto e = MakeNode(ExprKind::kLike, kBoolType, {Coerce(a, kStringType, loc), Coerce(p, kStringType, loc)});
      auto m = std::const_pointer_cast<Expr>(e);
      m->negated = op[0] == '!';
      m->case_insensitive = kind == "AEXPR_ILIKE";
      return e;
    }
    if (kind == "AEXPR_NULLIF") {
      ExprPtr a = BindExpr(*lexpr, scope, agg), b = BindExpr(*rexpr, scope, agg);
      std::vector<ExprPtr> args{a, b};
      SqlType ct = CommonType(args, loc, "NULLIF");
      if (ct.id == TypeId::kNull) ct = kStringType;
      return MakeNode(ExprKind::kNullIf, ct, {Coerce(a, ct, loc), Coerce(b, ct, loc)});
    }
    if (kind == "AEXPR_DISTINCT" || kind == "AEXPR_NOT_DISTINCT") {
      ExprPtr c = Compare(kind == "AEXPR_DISTINCT" ? 'd' : 'e', BindExpr(*lexpr, scope, agg), BindExpr(*rexpr, scope, agg), loc);
      if (c->kind == ExprKind::kConst) return MakeConst(Value::Bool(kind == "AEXPR_NOT_DISTINCT"), kBoolType);  // NULL vs NULL
      return c;
    }
    Fail(loc, "unsupported: {}", kind);
  }

  SqlType ResolveTypeName(dom::element tn, const SqlType& from, int64_t loc) {
    std::string n = LastName(tn, "names");
    if (Get(tn, "arrayBounds")) Fail(loc, "unsupported: array types");
    auto mods = List(tn, "typmods");
    auto mod = [&](size_t i) {
      auto [t, b] = Node(mods[i]);
      return Int(*Get(b, "ival"), "ival", 0);
    };
    if (n == "int2" || n == "smallint") return SqlType{TypeId::kInt, 0, 38, 2};
    if (n == "int4" || n == "integer" || n == "int") return kInt4Type;
    if (n == "int8" || n == "bigint") return kIntType;
    if (n == "numeric" || n == "decimal") {
      if (mods.empty()) {
        if (from.id == TypeId::kDecimal) return SqlType{TypeId::kDecimal, from.scale, 38};
        if (from.id == TypeId::kWideDecimal) return from;
        if (IsIntegral(from.id)) return SqlType{TypeId::kDecimal, 0, 38};
        return SqlType{TypeId::kDecimal, 6, 38};
      }
      int p = static_cast<int>(mod(0)), s = mods.size() > 1 ? static_cast<int>(mod(1)) : 0;
      if (p < 1 || p > 65 || s < 0 || s > p || s > 30) {
        Fail(loc, "unsupported: numeric({},{}) (precision 1..65, 0 <= scale <= 30 and <= precision)", p, s);
      }
      return SqlType{p > 38 ? TypeId::kWideDecimal : TypeId::kDecimal, s, p};
    }
    // Types whose PostgreSQL cast would round or truncate differently from ours are refused.
    if (n == "float4" || n == "real") Fail(loc, "unsupported: CAST to real (single precision); use double precision");
    if ((n == "float8" || n == "float") && !mods.empty()) Fail(loc, "unsupported: float(p); use double precision");
    if (n == "float8" || n == "float" || n == "double") return SqlType{TypeId::kDouble};
    if (n == "bpchar" || n == "char") Fail(loc, "unsupported: CAST to char(n) (it pads and truncates); use text");
    if (n == "varchar" && !mods.empty()) Fail(loc, "unsupported: CAST to varchar(n) (it truncates); use text or substring");
    if (n == "text" || n == "varchar") return kStringType;
    if (n == "date") return SqlType{TypeId::kDate};
    if (n == "timestamp") return SqlType{TypeId::kDateTime};
    if (n == "timestamptz") return SqlType{TypeId::kTimestamp};
    if (n == "time") return SqlType{TypeId::kTime};
    if (n == "bool" || n == "boolean") return kBoolType;
    if (n == "bytea") return SqlType{TypeId::kBytes};
    if (n == "json" || n == "jsonb") return SqlType{TypeId::kJson};
    Fail(loc, "unsupported: type {}", n);
  }

  ExprPtr BindAggregate(dom::element body, int64_t loc, AggContext& ctx) {
    std::string name = LastName(body, "funcname");
    if (Get(body, "over")) Fail(loc, "unsupported: window functions");
    if (!List(body, "agg_order").empty()) Fail(loc, "unsupported: ORDER BY inside an aggregate");
    auto args = List(body, "args");
    AggCall call;
    call.distinct = Bool(body, "agg_distinct");
    if (Bool(body, "agg_star")) {
      if (name != "count") Fail(loc, "{}(*) is not an aggregate (only count(*))", name);
      call.func = AggFunc::kCountStar;
      call.type = kIntType;
    } else {
      if (args.size() != 1) Fail(loc, "{} takes exactly one argument", name);
      if (ContainsAgg(args[0])) Fail(Loc(args[0], loc), "aggregate function calls cannot be nested");
      call.arg = BindExpr(args[0], *ctx.input, nullptr);
      if (name == "sum" || name == "avg") call.arg = Narrow(call.arg, loc);
      TypeId at = call.arg->type.id;
      if (name == "count") {
        call.func = AggFunc::kCount;
        call.type = kIntType;
      } else if (name == "sum" || name == "avg") {
        if (call.arg->kind == ExprKind::kConst && at == TypeId::kString) Fail(loc, "function {}(unknown) is not unique; add a cast", name);
        if (!IsNumeric(at)) Fail(loc, "function {}({}) does not exist", name, TypeToString(call.arg->type));
        // PostgreSQL's sum(smallint/integer) is bigint, sum(bigint) numeric (it cannot overflow).
        const bool narrow = at == TypeId::kInt && call.arg->type.int_bytes < 8;
        if (at == TypeId::kUInt) {
          call.arg = Coerce(call.arg, SqlType{TypeId::kDecimal, 0, 38}, loc);  // as numeric(20,0): see CommonType
        } else if (IsIntegral(at)) {
          call.arg = Coerce(call.arg, kIntType, loc);
        }
        if (at == TypeId::kFloat) call.arg = Coerce(call.arg, SqlType{TypeId::kDouble}, loc);
        const SqlType& t = call.arg->type;
        call.func = name == "sum" ? AggFunc::kSum : AggFunc::kAvg;
        if (call.func == AggFunc::kSum) {
          call.type = t;  // bigint over smallint/integer (overflow is an error), numeric keeps its scale
          if (t.id == TypeId::kDecimal) call.type = SqlType{TypeId::kDecimal, t.scale, 38};
          if (t.id == TypeId::kInt && !narrow) call.type = SqlType{TypeId::kDecimal, 0, 38};
        } else {
          call.type = t.id == TypeId::kDouble ? t : SqlType{TypeId::kDecimal, std::max(6, t.scale), 38};
        }
      } else if (name == "bool_and" || name == "every" || name == "bool_or") {
        if (at != TypeId::kBool && at != TypeId::kNull) {
          Fail(loc, "function {}({}) does not exist", name, TypeToString(call.arg->type));
        }
        call.func = name == "bool_or" ? AggFunc::kBoolOr : AggFunc::kBoolAnd;
        call.type = kBoolType;
      } else {
        call.func = name == "min" ? AggFunc::kMin : AggFunc::kMax;
        call.type = call.arg->type;
        if (call.type.id == TypeId::kNull) call.type = kStringType;
      }
    }
    if (auto f = Get(body, "agg_filter")) {
      if (ContainsAgg(*f)) Fail(Loc(*f, loc), "aggregate functions are not allowed in FILTER");
      call.filter = RequireBool(BindExpr(*f, *ctx.input, nullptr), Loc(*f, loc), "FILTER");
    }
    std::string fp = fmt::format("{}{}{}|{}", static_cast<int>(call.func), call.distinct ? "d" : "", call.arg ? call.arg->ToString() : "",
                                 call.filter ? call.filter->ToString() : "");
    size_t idx = 0;
    for (; idx < ctx.agg_fp.size(); ++idx) if (ctx.agg_fp[idx] == fp) break;
    if (idx == ctx.agg_fp.size()) {
      ctx.aggs.push_back(call);
      ctx.agg_fp.push_back(fp);
    }
    return MakeColumn(static_cast<int>(ctx.group.size() + idx), call.type);
  }

  ExprPtr BindFunc(dom::element body, const Scope& scope, AggContext* agg, int64_t loc) {
    std::string name = LastName(body, "funcname");
    if (IsAggregateName(name)) Fail(loc, "aggregate functions are not allowed here");
    if (Get(body, "over")) Fail(loc, "unsupported: window functions");
    std::vector<ExprPtr> args;
    for (auto a : List(body, "args")) args.push_back(BindExpr(a, scope, agg));
    auto make = [&](std::string func, SqlType t, std::vector<ExprPtr> a) {
      auto e = MakeNode(ExprKind::kFunc, t, std::move(a));
      std::const_pointer_cast<Expr>(e)->func = std::move(func);
      return e;
    };
    auto nargs = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi) Fail(loc, "function {} takes {}..{} arguments, not {}", name, lo, hi, args.size());
    };
    auto text_arg = [&](size_t i) {
      if (!IsStringLike(args[i]->type.id) && args[i]->type.id != TypeId::kNull) {
        Fail(loc, "function {}({}) does not exist", name, TypeToString(args[i]->type));
      }
      return Coerce(args[i], kStringType, loc);
    };
    auto int_arg = [&](size_t i) {
      if (!IsIntegral(args[i]->type.id) && args[i]->type.id != TypeId::kNull && args[i]->kind != ExprKind::kConst) {
        Fail(loc, "function {}: argument {} must be an integer", name, i + 1);
      }
      return Coerce(args[i], kIntType, loc);
    };
    if (name == "lower" || name == "upper") { nargs(1, 1); return make(name, kStringType, {text_arg(0)}); }
    if (name == "length" || name == "char_length" || name == "character_length") { nargs(1, 1); return make("length", kInt4Type, {text_arg(0)}); }
    if (name == "octet_length") { nargs(1, 1); return make(name, kInt4Type, {text_arg(0)}); }
    if (name == "concat") {
      for (auto& a : args) a = Coerce(a, kStringType, loc);
      return make("concat", kStringType, args);
    }
    if (name == "substring" || name == "substr") {
      nargs(2, 3);
      std::vector<ExprPtr> a{text_arg(0), int_arg(1)};
      if (args.size() == 3) a.push_back(int_arg(2));
      return make("substring", kStringType, a);
    }
    if (name == "btrim" || name == "ltrim" || name == "rtrim" || name == "trim") {
      nargs(1, 2);
      std::vector<ExprPtr> a{text_arg(0)};
      if (args.size() == 2) a.push_back(text_arg(1));
      return make(name == "trim" ? "btrim" : name, kStringType, a);
    }
    if (name == "date_trunc") {
      nargs(2, 2);
      ExprPtr x = args[1];
      if (x->kind == ExprKind::kConst && x->type.id == TypeId::kString) x = Coerce(x, SqlType{TypeId::kDateTime}, loc);
      if (x->type.id != TypeId::kDate && x->type.id != TypeId::kDateTime && x->type.id != TypeId::kTimestamp) {
        Fail(loc, "function date_trunc(text, {}) does not exist", TypeToString(x->type));
      }
      if (args[0]->kind != ExprKind::kConst) Fail(loc, "unsupported: date_trunc with a non-constant unit");
      SqlType rt = x->type.id == TypeId::kTimestamp ? x->type : SqlType{TypeId::kDateTime};
      auto e = make("date_trunc", rt, {text_arg(0), x});
      CheckConstFunc(e, loc);
      return e;
    }
    if (name == "extract" || name == "date_part") {
      nargs(2, 2);
      if (args[0]->kind != ExprKind::kConst || args[0]->type.id != TypeId::kString) Fail(loc, "unsupported: {} with a non-constant field", name);
      ExprPtr x = args[1];
      if (x->kind == ExprKind::kConst && x->type.id == TypeId::kString) x = Coerce(x, SqlType{TypeId::kDateTime}, loc);
      if (!IsTemporal(x->type.id)) Fail(loc, "function {}(text, {}) does not exist", name, TypeToString(x->type));
      std::string field = Lower(args[0]->constant.s);
      SqlType rt = field == "second" || field == "epoch" ? SqlType{TypeId::kDecimal, 6, 38}
                   : field == "milliseconds"                 ? SqlType{TypeId::kDecimal, 3, 38}
                                                             : kIntType;
      auto e = make("extract", rt, {args[0], x});
      CheckConstFunc(e, loc);
      return e;
    }
    if (name == "now" || name == "clock_timestamp" || name == "statement_timestamp" ||
        name == "transaction_timestamp" || name == "timeofday" || name == "random") {
      // A view's rows follow from the source rows alone; RisingWave's temporal filters
      // (WHERE t > now() - interval ...) would need rows to leave the view as time passes.
      Fail(loc, "unsupported: {}() in a view (CURRENT_DATE/NOW and other time-dependent values)", name);
    }
    if (name == "json_extract_path_text" || name == "jsonb_extract_path_text" || name == "json_extract_path" ||
        name == "jsonb_extract_path") {
      if (args.size() < 2) Fail(loc, "function {} needs a json value and at least one key", name);
      const bool text = name.find("_text") != std::string::npos;
      ExprPtr j = args[0];
      if (j->type.id != TypeId::kJson && j->type.id != TypeId::kNull &&
          !(j->kind == ExprKind::kConst && j->type.id == TypeId::kString)) {
        Fail(loc, "function {}({}, ...) does not exist", name, TypeToString(j->type));
      }
      j = Coerce(j, SqlType{TypeId::kJson}, loc);
      for (size_t i = 1; i < args.size(); ++i) {
        const bool last = i + 1 == args.size();
        j = make(last && text ? "json_get_text" : "json_get", last && text ? kStringType : SqlType{TypeId::kJson},
                 {j, text_arg(i)});
      }
      return j;
    }
    if (name == "initcap" || name == "reverse" || name == "md5") { nargs(1, 1); return make(name, kStringType, {text_arg(0)}); }
    if (name == "lpad" || name == "rpad") {
      nargs(2, 3);
      std::vector<ExprPtr> a{text_arg(0), int_arg(1)};
      if (args.size() == 3) a.push_back(text_arg(2));
      return make(name, kStringType, a);
    }
    if (name == "repeat") { nargs(2, 2); return make(name, kStringType, {text_arg(0), int_arg(1)}); }
    if (name == "starts_with") { nargs(2, 2); return make(name, kBoolType, {text_arg(0), text_arg(1)}); }
    if (name == "regexp_replace") {
      nargs(3, 4);
      for (size_t i = 1; i < args.size(); i += 2) {
        if (args[i]->kind != ExprKind::kConst || args[i]->type.id != TypeId::kString) {
          Fail(loc, "unsupported: regexp_replace with a {} that is not a constant", i == 1 ? "pattern" : "flags");
        }
      }
      try {
        CheckRegexp(args[1]->constant.s, args.size() == 4 ? args[3]->constant.s : "");
      } catch (const Error& err) {
        Fail(loc, "{}", err.what());
      }
      std::vector<ExprPtr> a{text_arg(0), text_arg(1), text_arg(2)};
      if (args.size() == 4) a.push_back(text_arg(3));
      return make(name, kStringType, a);
    }
    if (name == "to_char") {
      nargs(2, 2);
      ExprPtr x = args[0];
      if (IsNumeric(x->type.id)) {
        Fail(loc, "unsupported: to_char of a number; format it with round(x, n)::text, lpad or concat");
      }
      if (x->type.id != TypeId::kDate && x->type.id != TypeId::kDateTime && x->type.id != TypeId::kTimestamp) {
        Fail(loc, "function to_char({}, text) does not exist", TypeToString(x->type));
      }
      if (args[1]->kind != ExprKind::kConst || args[1]->type.id != TypeId::kString) {
        Fail(loc, "unsupported: to_char with a format that is not a constant");
      }
      try {
        CheckToCharFormat(args[1]->constant.s);
      } catch (const Error& err) {
        Fail(loc, "{}", err.what());
      }
      return make(name, kStringType, {x, text_arg(1)});
    }
    if (name == "make_date") { nargs(3, 3); return make(name, SqlType{TypeId::kDate}, {int_arg(0), int_arg(1), int_arg(2)}); }
    if (name == "to_timestamp") {
      if (args.size() == 2) Fail(loc, "unsupported: to_timestamp(text, format); cast the text, e.g. x::timestamp");
      nargs(1, 1);
      ExprPtr x = Narrow(args[0], loc);
      if (!IsNumeric(x->type.id) && x->type.id != TypeId::kNull) {
        Fail(loc, "function to_timestamp({}) does not exist", TypeToString(x->type));
      }
      return make(name, SqlType{TypeId::kTimestamp}, {Coerce(x, SqlType{TypeId::kDouble}, loc)});
    }
    if (name == "sign") {
      nargs(1, 1);
      ExprPtr x = Narrow(args[0], loc);
      if (!IsNumeric(x->type.id)) Fail(loc, "function sign({}) does not exist", TypeToString(x->type));
      // PostgreSQL: sign(numeric) is numeric, integers and floats take sign(double precision).
      if (x->type.id == TypeId::kDecimal) return make(name, SqlType{TypeId::kDecimal, 0, 38}, {x});
      return make(name, SqlType{TypeId::kDouble}, {Coerce(x, SqlType{TypeId::kDouble}, loc)});
    }
    if (name == "concat_ws") {
      if (args.size() < 2) Fail(loc, "function concat_ws needs a separator and at least one value");
      for (auto& a : args) a = Coerce(a, kStringType, loc);
      return make("concat_ws", kStringType, args);
    }
    if (name == "replace") { nargs(3, 3); return make("replace", kStringType, {text_arg(0), text_arg(1), text_arg(2)}); }
    if (name == "left" || name == "right") { nargs(2, 2); return make(name, kStringType, {text_arg(0), int_arg(1)}); }
    if (name == "strpos" || name == "position") { nargs(2, 2); return make("strpos", kInt4Type, {text_arg(0), text_arg(1)}); }
    if (name == "mod") { nargs(2, 2); return Arith('%', args[0], args[1], loc); }
    if (name == "split_part") {
      nargs(3, 3);
      return make("split_part", kStringType, {text_arg(0), text_arg(1), int_arg(2)});
    }
    if (name == "power" || name == "pow" || name == "sqrt" || name == "cbrt" || name == "exp" || name == "ln" ||
        name == "log10" || (name == "log" && args.size() == 1)) {
      // PostgreSQL computes these in double precision for integer and float arguments; for numeric
      // ones it computes exact-ish numeric results we do not reproduce, so those are refused.
      const bool two = name == "power" || name == "pow";
      nargs(two ? 2 : 1, two ? 2 : 1);
      std::vector<ExprPtr> a;
      // With a double argument, numeric ones are cast to double (PostgreSQL's implicit cast picks
      // the double precision function); numeric ones without would pick the numeric function.
      const bool any_double = std::any_of(args.begin(), args.end(), [](const ExprPtr& x) {
        return x->type.id == TypeId::kDouble || x->type.id == TypeId::kFloat;
      });
      for (auto& x : args) {
        x = Narrow(x, loc);
        if (x->type.id == TypeId::kDecimal && !any_double) {
          Fail(loc, "unsupported: {} of a numeric value (PostgreSQL computes it in numeric); cast the argument to "
               "double precision, e.g. {}(x::float8)", name, name);
        }
        if (!IsNumeric(x->type.id) && x->type.id != TypeId::kNull) {
          Fail(loc, "function {}({}) does not exist", name, TypeToString(x->type));
        }
        a.push_back(Coerce(x, SqlType{TypeId::kDouble}, loc));
      }
      return make(two ? "power" : name == "log" ? "log10" : name, SqlType{TypeId::kDouble}, a);
    }
    if (name == "trunc") {
      nargs(1, 2);
      ExprPtr x = Narrow(args[0], loc);
      if (!IsNumeric(x->type.id)) Fail(loc, "function trunc({}) does not exist", TypeToString(x->type));
      if (IsIntegral(x->type.id)) x = Coerce(x, kIntType, loc);
      if (x->type.id == TypeId::kFloat) x = Coerce(x, SqlType{TypeId::kDouble}, loc);
      SqlType rt = x->type;
      if (rt.id == TypeId::kDecimal) rt.scale = 0;
      if (args.size() == 2) {
        if (args[1]->kind != ExprKind::kConst || !IsIntegral(args[1]->type.id) || x->type.id != TypeId::kDecimal) {
          Fail(loc, "unsupported: trunc(x, n) needs a numeric x and a constant n");
        }
        int64_t sc = args[1]->constant.i;
        if (sc < 0 || sc > 30) Fail(loc, "unsupported: trunc scale {} (0..30)", sc);
        rt.scale = static_cast<int>(sc);
      }
      return make("trunc", rt, {x});
    }
    if (name == "abs" || name == "round" || name == "floor" || name == "ceil" || name == "ceiling") {
      nargs(1, name == "round" ? 2 : 1);
      ExprPtr x = Narrow(args[0], loc);
      if (!IsNumeric(x->type.id)) Fail(loc, "function {}({}) does not exist", name, TypeToString(x->type));
      if (IsIntegral(x->type.id)) x = Coerce(x, kIntType, loc);
      if (x->type.id == TypeId::kFloat) x = Coerce(x, SqlType{TypeId::kDouble}, loc);
      SqlType rt = x->type;
      if (name != "abs" && rt.id == TypeId::kDecimal) rt.scale = 0;
      if (args.size() == 2) {
        if (args[1]->kind != ExprKind::kConst || !IsIntegral(args[1]->type.id)) Fail(loc, "unsupported: round with a non-constant scale");
        if (x->type.id != TypeId::kDecimal) Fail(loc, "function round({}, integer) does not exist", TypeToString(x->type));
        int64_t s = args[1]->constant.i;
        if (s < 0 || s > 30) Fail(loc, "unsupported: round scale {} (0..30)", s);
        rt.scale = static_cast<int>(s);
      }
      return make(name == "ceiling" ? "ceil" : name, rt, {x});
    }
    Fail(loc, "unsupported: function {}", name);
  }

  /// Evaluates a function over a constant unit/field once so a bad unit is a bind-time error.
  void CheckConstFunc(const ExprPtr& e, int64_t loc) {
    Row dummy;
    auto probe = std::make_shared<Expr>(*e);
    probe->args[1] = MakeConst(Value::Int(0), e->args[1]->type);
    try {
      Eval(*probe, dummy);
    } catch (const Error& err) {
      Fail(loc, "{}", err.what());
    }
  }

  std::string_view file_;
  std::string_view text_;
  Catalog& catalog_;
  int64_t stmt_at_ = 0;
  std::vector<Cte> ctes_;  ///< CTEs in scope, outermost first
};

}  // namespace

std::vector<ViewDefinition> CompileViews(std::string_view file_name, std::string_view text, Catalog& catalog) {
  Binder binder(file_name, text, catalog);
  std::string sql(text);
  PgQueryParseResult r = pg_query_parse(sql.c_str());
  if (r.error) {
    std::string msg = r.error->message;
    int64_t pos = r.error->cursorpos > 0 ? r.error->cursorpos - 1 : 0;
    pg_query_free_parse_result(r);
    binder.Fail(pos, "{}", msg);
  }
  std::string json = r.parse_tree;
  pg_query_free_parse_result(r);
  dom::parser parser;
  dom::element doc;
  if (parser.parse(json).get(doc)) throw Error(ErrorKind::kInternal, "libpg_query returned unreadable JSON");
  std::vector<ViewDefinition> views;
  for (dom::element stmt : List(doc, "stmts")) {
    dom::element inner;
    if (!stmt["stmt"].get(inner) && !inner["VariableSetStmt"].error()) {
      // SET streaming_parallelism = ... and the like in a RisingWave script: session settings of
      // RisingWave with no meaning here.
      const int64_t at = Int(stmt, "stmt_location", 0);
      int64_t p = at;
      while (static_cast<size_t>(p) < text.size() && std::isspace(static_cast<unsigned char>(text[static_cast<size_t>(p)]))) ++p;
      const SourceLocation loc = LocateIn(file_name, text, p);
      SLOG_WARN("{}:{}:{}: SET statement ignored (RisingWave session settings have no meaning for sluice)",
                loc.file, loc.line, loc.column);
      continue;
    }
    views.push_back(binder.BindStatement(stmt, Int(stmt, "stmt_location", 0)));
  }
  return views;
}

}  // namespace sluice::sql
