#include "clickhouse/ddl.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "common/error.h"

namespace sluice::clickhouse {
namespace {

std::string OnCluster(const DdlContext& ctx) {
  return ctx.cluster.empty() ? std::string() : " ON CLUSTER " + QuoteIdent(ctx.cluster);
}

std::string Qualified(std::string_view db, std::string_view table) {
  return QuoteIdent(db) + "." + QuoteIdent(table);
}

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string QuoteIdent(std::string_view name) {
  std::string s = "`";
  for (char c : name) {
    if (c == '`' || c == '\\') s.push_back('\\');
    s.push_back(c);
  }
  s.push_back('`');
  return s;
}

std::string QuoteString(std::string_view v) {
  std::string s = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') s.push_back('\\');
    s.push_back(c);
  }
  s.push_back('\'');
  return s;
}

/// ` DEFAULT <literal>` for a column added to an existing table, so that rows already in
/// ClickHouse read the source's default as MySQL's ADD COLUMN ... DEFAULT fills existing rows.
/// Only constant numbers and strings; expressions (CURRENT_TIMESTAMP, ...) give "".
static std::string AddColumnDefault(const ColumnSchema& c, const std::string& type) {
  if (!c.has_default) return "";
  const std::string& v = c.default_value;
  switch (c.kind) {
    case ValueKind::kInt:
    case ValueKind::kUInt:
    case ValueKind::kFloat:
    case ValueKind::kDouble:
    case ValueKind::kDecimal: {
      if (v.empty()) return "";
      size_t i = (v[0] == '-' || v[0] == '+') ? 1 : 0;
      bool digit = false;
      for (; i < v.size(); ++i) {
        if (std::isdigit(static_cast<unsigned char>(v[i]))) digit = true;
        else if (v[i] != '.' && v[i] != 'e' && v[i] != 'E' && v[i] != '-' && v[i] != '+') return "";
      }
      if (!digit) return "";
      return " DEFAULT CAST(" + QuoteString(v) + " AS " + type + ")";
    }
    case ValueKind::kString:
      return " DEFAULT CAST(" + QuoteString(v) + " AS " + type + ")";
    default:
      return "";
  }
}

std::string CreateDatabaseSql(std::string_view database, const DdlContext& ctx) {
  return "CREATE DATABASE IF NOT EXISTS " + QuoteIdent(database) + OnCluster(ctx);
}

namespace {

/// The column a sorting-key item names when it is just a column name (bare, `quoted` or
/// "quoted"), else -1.
int ItemColumn(const TableSchema& schema, std::string_view item) {
  while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
  while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
  if (item.size() >= 2 && (item.front() == '`' || item.front() == '"') && item.back() == item.front()) {
    const std::string_view name = item.substr(1, item.size() - 2);
    if (name.find(item.front()) != std::string_view::npos || name.find('\\') != std::string_view::npos) return -1;
    return schema.FindColumn(name);
  }
  for (char c : item) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return -1;
  }
  return item.empty() ? -1 : schema.FindColumn(item);
}

/// `order.by` as written, except that on servers that cannot sort by Nullable (before 20.x) a
/// nullable column named on its own becomes (isNull(c), assumeNotNull(c)), as for a primary key;
/// expressions are left to the user.
std::string UserOrderBy(const TableSchema& schema, const std::string& e, const DdlContext& ctx) {
  if (ctx.features.nullable_key) return e;
  std::string_view body(e);
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.front()))) body.remove_prefix(1);
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.remove_suffix(1);
  const bool parens = body.size() >= 2 && body.front() == '(' && body.back() == ')';
  if (parens) body = body.substr(1, body.size() - 2);
  // Top-level items: commas outside parentheses and quotes.
  std::vector<std::string_view> items;
  int depth = 0;
  char quote = 0;
  size_t from = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (quote) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (depth == 0) return e;  // "(a), (b)" or unbalanced: not a plain list
      --depth;
    } else if (c == ',' && depth == 0) {
      items.push_back(body.substr(from, i - from));
      from = i + 1;
    }
  }
  if (quote || depth) return e;
  items.push_back(body.substr(from));
  bool changed = false;
  std::string out = "(";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    const int col = ItemColumn(schema, items[i]);
    if (col >= 0 && schema.columns[static_cast<size_t>(col)].nullable) {
      const std::string q = QuoteIdent(schema.columns[static_cast<size_t>(col)].name);
      out += "isNull(" + q + "), assumeNotNull(" + q + ")";
      changed = true;
    } else {
      std::string_view item = items[i];
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
      out += item;
    }
  }
  return changed ? out + ")" : e;
}

}  // namespace

std::string OrderByExpression(const TableSchema& schema, const TableOverride& ov, const DdlContext& ctx,
                              std::string_view config_key) {
  if (!ov.order_by.empty()) return UserOrderBy(schema, ov.order_by, ctx);
  if (schema.primary_key.empty()) {
    Throw(ErrorKind::kConfig,
          "table {} has no primary key, so Sluice cannot tell which ClickHouse rows are versions of the "
          "same source row: set {}.order.by to the columns that identify a row (e.g. \"(id, created_at)\")",
          schema.QualifiedName(), config_key);
  }
  std::string expr = "(";
  for (size_t i = 0; i < schema.primary_key.size(); ++i) {
    const ColumnSchema& c = schema.columns[static_cast<size_t>(schema.primary_key[i])];
    if (i) expr += ", ";
    if (c.nullable && !ctx.features.nullable_key) {
      // A view's key may hold NULLs (GROUP BY a nullable column, the padded side of an outer
      // join). Servers that cannot sort by Nullable sort by (isNull(c), assumeNotNull(c)): NULL
      // and the type's default stay distinct keys.
      expr += "isNull(" + QuoteIdent(c.name) + "), assumeNotNull(" + QuoteIdent(c.name) + ")";
      continue;
    }
    expr += QuoteIdent(c.name);
  }
  return expr + ")";
}

std::vector<int> KeyColumns(const TableSchema& schema, const TableOverride& ov) {
  if (ov.order_by.empty()) return schema.primary_key;
  std::set<int> found;
  const std::string& e = ov.order_by;
  size_t i = 0;
  while (i < e.size()) {
    const char c = e[i];
    if (c == '`' || c == '"') {
      std::string name;
      size_t j = i + 1;
      for (; j < e.size() && e[j] != c; ++j) {
        if (e[j] == '\\' && j + 1 < e.size()) ++j;
        name.push_back(e[j]);
      }
      const int idx = schema.FindColumn(name);
      if (idx >= 0) found.insert(idx);
      i = j + 1;
    } else if (c == '\'') {
      size_t j = i + 1;
      while (j < e.size() && e[j] != '\'') j += (e[j] == '\\') ? 2 : 1;
      i = j + 1;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < e.size() && (std::isalnum(static_cast<unsigned char>(e[j])) || e[j] == '_')) ++j;
      const int idx = schema.FindColumn(std::string_view(e).substr(i, j - i));
      if (idx >= 0) found.insert(idx);
      i = j;
    } else {
      ++i;
    }
  }
  return std::vector<int>(found.begin(), found.end());
}

std::string CreateTableSql(const TableSchema& schema, const std::vector<ColumnType>& types,
                           std::string_view database, std::string_view table, const TableOverride& ov,
                           const DdlContext& ctx, std::string_view config_key) {
  SLUICE_CHECK(types.size() == schema.columns.size(), "one ClickHouse type per source column");
  const std::string order_by = OrderByExpression(schema, ov, ctx, config_key);
  std::string sql = "CREATE TABLE IF NOT EXISTS " + Qualified(database, table) + OnCluster(ctx) + " (";
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    sql += QuoteIdent(schema.columns[i].name) + " " + types[i].Full() + ", ";
  }
  sql += "`_version` UInt64, `_is_deleted` UInt8) ENGINE = ";
  std::string params = ctx.features.is_deleted_param ? "`_version`, `_is_deleted`" : "`_version`";
  if (ctx.cluster.empty()) {
    sql += "ReplacingMergeTree(" + params + ")";
  } else {
    sql += "ReplicatedReplacingMergeTree(" +
           QuoteString(fmt::format("/clickhouse/tables/{{shard}}/{}/{}", database, table)) + ", '{replica}', " +
           params + ")";
  }
  if (!ov.partition_by.empty()) sql += " PARTITION BY " + ov.partition_by;
  sql += " ORDER BY " + order_by;
  std::string settings = ov.settings;
  bool nullable_key = false;
  for (int k : KeyColumns(schema, ov)) nullable_key |= schema.columns[static_cast<size_t>(k)].nullable;
  if (nullable_key && ctx.features.nullable_key && settings.find("allow_nullable_key") == std::string::npos) {
    settings += settings.empty() ? "allow_nullable_key = 1" : ", allow_nullable_key = 1";
  }
  if (!settings.empty()) sql += " SETTINGS " + settings;
  return sql;
}

std::vector<DdlStep> AlterTableSteps(const TableSchema& old_schema, const TableSchema& new_schema,
                                     std::string_view database, std::string_view table,
                                     const std::vector<int>& old_key_columns, const DdlContext& ctx,
                                     const std::map<std::string, std::string>& renames_in) {
  const std::string alter = "ALTER TABLE " + Qualified(database, table) + OnCluster(ctx) + " ";
  const std::string where = fmt::format("{}.{} (ClickHouse {})", database, table, ctx.features.version.ToString());
  auto type_of = [&](const ColumnSchema& c) { return MapColumnType(c, ctx.features).Full(); };
  auto is_key = [&](int old_index) {
    return std::find(old_key_columns.begin(), old_key_columns.end(), old_index) != old_key_columns.end();
  };

  // old name → new name. Explicit renames win; else the same position with the same definition.
  std::map<std::string, std::string> renames = renames_in;
  if (renames.empty()) {
    const size_t n = std::min(old_schema.columns.size(), new_schema.columns.size());
    for (size_t i = 0; i < n; ++i) {
      const ColumnSchema& o = old_schema.columns[i];
      const ColumnSchema& nc = new_schema.columns[i];
      if (!SameName(o.name, nc.name) && new_schema.FindColumn(o.name) < 0 && old_schema.FindColumn(nc.name) < 0 &&
          type_of(o) == type_of(nc) && o.column_type == nc.column_type) {
        renames[o.name] = nc.name;
      }
    }
  }
  auto renamed_to = [&](const std::string& old_name) -> const std::string* {
    for (const auto& [from, to] : renames) {
      if (SameName(from, old_name)) return &to;
    }
    return nullptr;
  };
  auto renamed_from = [&](const std::string& new_name) -> bool {
    for (const auto& [from, to] : renames) {
      if (SameName(to, new_name)) return true;
    }
    return false;
  };

  using K = DdlStep::Kind;
  std::vector<DdlStep> steps;
  // 1. Renames (and type changes that come with them).
  for (size_t oi = 0; oi < old_schema.columns.size(); ++oi) {
    const ColumnSchema& o = old_schema.columns[oi];
    const std::string* to = renamed_to(o.name);
    if (!to) continue;
    const int ni = new_schema.FindColumn(*to);
    if (ni < 0) continue;
    const ColumnSchema& nc = new_schema.columns[static_cast<size_t>(ni)];
    if (is_key(static_cast<int>(oi))) {
      Throw(ErrorKind::kSink,
            "column `{}` of {} was renamed to `{}`, but it is part of the ClickHouse sorting key, which "
            "ClickHouse cannot rename: recreate the table (drop it and re-snapshot {})",
            o.name, where, nc.name, new_schema.QualifiedName());
    }
    const std::string new_type = type_of(nc);
    if (ctx.features.rename_column) {
      steps.push_back({K::kRename, nc.name, o.name, "",
                       alter + "RENAME COLUMN " + QuoteIdent(o.name) + " TO " + QuoteIdent(nc.name)});
      if (new_type != type_of(o)) {
        steps.push_back({K::kModify, nc.name, "", new_type, alter + "MODIFY COLUMN " + QuoteIdent(nc.name) + " " + new_type});
      }
    } else {
      steps.push_back({K::kAdd, nc.name, "", new_type,
                       alter + "ADD COLUMN " + QuoteIdent(nc.name) + " " + new_type + " AFTER " + QuoteIdent(o.name)});
      steps.push_back({K::kUpdate, nc.name, o.name, "",
                       alter + "UPDATE " + QuoteIdent(nc.name) + " = " + QuoteIdent(o.name) + " WHERE 1", true});
      steps.push_back({K::kDrop, o.name, "", "", alter + "DROP COLUMN " + QuoteIdent(o.name)});
    }
  }
  // 2. Drops.
  for (size_t oi = 0; oi < old_schema.columns.size(); ++oi) {
    const ColumnSchema& o = old_schema.columns[oi];
    if (new_schema.FindColumn(o.name) >= 0 || renamed_to(o.name)) continue;
    if (is_key(static_cast<int>(oi))) {
      Throw(ErrorKind::kSink,
            "column `{}` was dropped from {}, but it is part of the ClickHouse sorting key of {}: ClickHouse "
            "cannot drop key columns; recreate the table (drop it and re-snapshot)",
            o.name, new_schema.QualifiedName(), where);
    }
    steps.push_back({K::kDrop, o.name, "", "", alter + "DROP COLUMN " + QuoteIdent(o.name)});
  }
  // 3. Adds and type changes, in the new column order.
  for (size_t ni = 0; ni < new_schema.columns.size(); ++ni) {
    const ColumnSchema& nc = new_schema.columns[ni];
    const int oi = old_schema.FindColumn(nc.name);
    if (oi < 0) {
      if (renamed_from(nc.name)) continue;
      std::string sql = alter + "ADD COLUMN " + QuoteIdent(nc.name) + " " + type_of(nc) + AddColumnDefault(nc, type_of(nc));
      if (ni > 0) sql += " AFTER " + QuoteIdent(new_schema.columns[ni - 1].name);
      steps.push_back({K::kAdd, nc.name, "", type_of(nc), std::move(sql)});
      continue;
    }
    const ColumnSchema& o = old_schema.columns[static_cast<size_t>(oi)];
    if (type_of(o) != type_of(nc)) {
      steps.push_back({K::kModify, nc.name, "", type_of(nc), alter + "MODIFY COLUMN " + QuoteIdent(nc.name) + " " + type_of(nc)});
    }
  }
  return steps;
}

}  // namespace sluice::clickhouse
