#include "mysql/table_filter.h"

#include "common/config.h"
#include "common/error.h"
#include "event/change.h"

namespace sluice::mysql {

bool IsSystemDatabase(const std::string& db) {
  return db == "mysql" || db == "information_schema" || db == "performance_schema" || db == "sys";
}

std::vector<TableFilter::Pattern> TableFilter::Compile(const Config& config, const char* key) {
  std::vector<Pattern> out;
  for (const auto& p : config.GetList("source", key)) {
    try {
      out.push_back({p, std::regex(p, std::regex::ECMAScript | std::regex::optimize)});
    } catch (const std::regex_error& e) {
      Throw(ErrorKind::kConfig, "{}: source.{}: '{}' is not a valid regular expression: {}",
            config.Where("source", key), key, p, e.what());
    }
  }
  return out;
}

TableFilter::TableFilter(const Config& config)
    : db_include_(Compile(config, "database.include.list")),
      db_exclude_(Compile(config, "database.exclude.list")),
      table_include_(Compile(config, "table.include.list")),
      table_exclude_(Compile(config, "table.exclude.list")),
      column_exclude_(Compile(config, "column.exclude.list")) {
  if (!db_include_.empty() && !db_exclude_.empty()) {
    Throw(ErrorKind::kConfig, "{}: set either source.database.include.list or source.database.exclude.list, not both",
          config.file());
  }
  if (!table_include_.empty() && !table_exclude_.empty()) {
    Throw(ErrorKind::kConfig, "{}: set either source.table.include.list or source.table.exclude.list, not both",
          config.file());
  }
}

bool TableFilter::Any(const std::vector<Pattern>& ps, const std::string& s) {
  for (const auto& p : ps) {
    if (std::regex_match(s, p.re)) return true;
  }
  return false;
}

bool TableFilter::IncludeDatabase(const std::string& db) const {
  if (IsSystemDatabase(db)) return false;
  if (!db_include_.empty()) return Any(db_include_, db);
  return !Any(db_exclude_, db);
}

bool TableFilter::IncludeTable(const std::string& db, const std::string& table) const {
  std::string full = db + "." + table;
  auto it = table_cache_.find(full);
  if (it != table_cache_.end()) return it->second;
  bool ok = IncludeDatabase(db);
  if (ok) {
    if (!table_include_.empty()) ok = Any(table_include_, full);
    else ok = !Any(table_exclude_, full);
  }
  table_cache_.emplace(full, ok);
  return ok;
}

bool TableFilter::IncludeColumn(const std::string& db, const std::string& table, const std::string& column) const {
  if (column_exclude_.empty()) return true;
  return !Any(column_exclude_, db + "." + table + "." + column);
}

std::shared_ptr<const TableSchema> EmittedSchema(const std::shared_ptr<const TableSchema>& full, const TableFilter& filter,
                                                 std::vector<int>* keep) {
  std::vector<int> kept;
  for (size_t i = 0; i < full->columns.size(); ++i) {
    if (filter.IncludeColumn(full->database, full->table, full->columns[i].name)) kept.push_back(static_cast<int>(i));
  }
  std::shared_ptr<const TableSchema> result = full;
  if (kept.size() != full->columns.size()) {
    auto e = std::make_shared<TableSchema>(*full);
    e->columns.clear();
    e->primary_key.clear();
    for (int k : kept) e->columns.push_back(full->columns[static_cast<size_t>(k)]);
    for (int pk : full->primary_key) {
      for (size_t j = 0; j < kept.size(); ++j) {
        if (kept[j] == pk) e->primary_key.push_back(static_cast<int>(j));
      }
    }
    result = e;
  }
  if (keep) *keep = std::move(kept);
  return result;
}

}  // namespace sluice::mysql
