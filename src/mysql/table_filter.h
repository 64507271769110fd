#pragma once
/// Debezium's include/exclude filters: comma-separated regular expressions matched against the
/// whole name (anchored), database names for database.*.list, "<db>.<table>" for table.*.list and
/// "<db>.<table>.<column>" for column.exclude.list. Copyable; not thread-safe (it caches
/// decisions): each thread uses its own copy.

#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace sluice {
class Config;
struct TableSchema;
}

namespace sluice::mysql {

class TableFilter {
 public:
  TableFilter() = default;
  /// Builds the filter from the `source` section; throws Error(kConfig) naming the key and the
  /// offending regex when one does not compile.
  explicit TableFilter(const Config& config);

  bool IncludeDatabase(const std::string& db) const;
  bool IncludeTable(const std::string& db, const std::string& table) const;
  bool IncludeColumn(const std::string& db, const std::string& table, const std::string& column) const;

 private:
  struct Pattern {
    std::string text;
    std::regex re;
  };
  static std::vector<Pattern> Compile(const Config& config, const char* key);
  static bool Any(const std::vector<Pattern>& ps, const std::string& s);

  std::vector<Pattern> db_include_, db_exclude_, table_include_, table_exclude_, column_exclude_;
  mutable std::map<std::string, bool> table_cache_;
};

/// The schema the capture emits for `full`: columns matched by column.exclude.list removed (primary
/// key re-indexed). Returns `full` itself when nothing is excluded; `keep` (optional) receives the
/// indexes of the kept columns in `full`.
std::shared_ptr<const TableSchema> EmittedSchema(const std::shared_ptr<const TableSchema>& full, const TableFilter& filter,
                                                 std::vector<int>* keep = nullptr);

/// System schemas never captured (as Debezium).
bool IsSystemDatabase(const std::string& db);

}  // namespace sluice::mysql
