#include "mysql/schema_history.h"

#include <map>
#include <sstream>

#include "common/error.h"
#include "common/log.h"
#include "mysql/column_type.h"
#include "mysql/connection.h"
#include "mysql/ddl_parser.h"
#include "mysql/source_info.h"
#include "state/state_store.h"

namespace sluice::mysql {

/// The catalog at one point of the binlog: "db.table" -> schema.
class SchemaCatalog {
 public:
  std::map<std::string, TableSchemaPtr> tables;
};

namespace {

std::string Esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\\') o += "\\\\";
    else if (c == '\n') o += "\\n";
    else if (c == '\t') o += "\\t";
    else o += c;
  }
  return o;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\' && i + 1 < line.size()) {
      char n = line[++i];
      out.back() += n == 'n' ? '\n' : n == 't' ? '\t' : n;
    } else if (c == '\t') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

// One table per "T" line followed by its "C" (column) lines; the column type text, charset and
// nullability rebuild every ColumnSchema field through MakeColumnSchema.
std::string Serialize(const SchemaCatalog& cat) {
  std::ostringstream o;
  o << "schema-v1\n";
  for (const auto& [name, t] : cat.tables) {
    o << "T\t" << Esc(t->database) << "\t" << Esc(t->table) << "\t" << t->version << "\t";
    for (size_t i = 0; i < t->primary_key.size(); ++i) o << (i ? "," : "") << t->primary_key[i];
    o << "\n";
    for (const auto& c : t->columns) {
      o << "C\t" << Esc(c.name) << "\t" << Esc(c.column_type) << "\t" << Esc(c.charset) << "\t"
        << (c.nullable ? 1 : 0) << "\t" << static_cast<int>(c.kind) << "\t" << (c.generated ? 1 : 0) << "\t"
        << (c.has_default ? 1 : 0) << "\t" << Esc(c.default_value) << "\n";
    }
  }
  return o.str();
}

SchemaCatalog Deserialize(const std::string& text) {
  SchemaCatalog cat;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  if (line != "schema-v1") Throw(ErrorKind::kState, "schema history entry has an unknown format '{}'", line);
  std::shared_ptr<TableSchema> cur;
  auto finish = [&] {
    if (cur) cat.tables[cur->QualifiedName()] = cur;
    cur.reset();
  };
  while (std::getline(in, line)) {
    auto f = SplitTabs(line);
    if (f[0] == "T" && f.size() >= 5) {
      finish();
      cur = std::make_shared<TableSchema>();
      cur->database = f[1];
      cur->table = f[2];
      cur->version = std::stoull(f[3]);
      std::stringstream pk(f[4]);
      std::string part;
      while (std::getline(pk, part, ',')) {
        if (!part.empty()) cur->primary_key.push_back(std::stoi(part));
      }
    } else if (f[0] == "C" && f.size() >= 9 && cur) {
      ColumnSchema c = MakeColumnSchema(f[1], f[2], f[3], f[4] == "1");
      c.kind = static_cast<ValueKind>(std::stoi(f[5]));  // keeps MariaDB JSON (longtext) as kJson
      c.generated = f[6] == "1";
      c.has_default = f[7] == "1";
      c.default_value = f[8];
      cur->columns.push_back(std::move(c));
    }
  }
  finish();
  return cat;
}

std::string Key(const std::string& prefix, uint32_t file_seq, uint64_t pos) {
  return fmt::format("{}schema/{:010}/{:012}", prefix, file_seq, pos);
}

}  // namespace

SchemaHistory::SchemaHistory(StateStore* state, std::string key_prefix)
    : state_(state), prefix_(std::move(key_prefix)), catalog_(std::make_unique<SchemaCatalog>()) {}

SchemaHistory::~SchemaHistory() = default;

void SchemaHistory::Persist(uint32_t file_seq, uint64_t pos) {
  if (state_) state_->Put(Key(prefix_, file_seq, pos), Serialize(*catalog_));
}

bool SchemaHistory::LoadAt(uint32_t file_seq, uint64_t pos) {
  if (!state_) return false;
  const std::string target = Key(prefix_, file_seq, pos);
  std::string best;
  for (const auto& [k, v] : state_->Scan(prefix_ + "schema/")) {
    if (k <= target) best = v;
  }
  if (best.empty()) return false;
  *catalog_ = Deserialize(best);
  return true;
}

void SchemaHistory::Reset(const std::vector<TableSchemaPtr>& tables, uint32_t file_seq, uint64_t pos) {
  catalog_->tables.clear();
  for (const auto& t : tables) catalog_->tables[t->QualifiedName()] = t;
  Persist(file_seq, pos);
}

TableSchemaPtr SchemaHistory::Get(const std::string& db, const std::string& table) const {
  auto it = catalog_->tables.find(db + "." + table);
  return it == catalog_->tables.end() ? nullptr : it->second;
}

void SchemaHistory::Put(const TableSchemaPtr& table, uint32_t file_seq, uint64_t pos) {
  catalog_->tables[table->QualifiedName()] = table;
  Persist(file_seq, pos);
}

std::vector<SchemaChange> SchemaHistory::ApplyDdl(const std::string& db, std::string_view sql, uint32_t file_seq,
                                                  uint64_t pos, Connection* conn) {
  std::vector<SchemaChange> changes;
  DdlParseOptions opts;
  opts.mariadb = conn && conn->IsMariaDB();
  auto& tables = catalog_->tables;
  auto reread = [&](const QualifiedName& name, const std::string& why) {
    // The table's definition as the server has it now. Exact unless another DDL on the same
    // table follows in the part of the binlog not yet read.
    TableSchemaPtr before = Get(name.database, name.table);
    TableSchemaPtr after = conn ? LoadTableSchema(*conn, name.database, name.table) : nullptr;
    SLOG_DEBUG("schema of {} re-read from information_schema ({})", name.ToString(), why);
    if (after) {
      auto t = std::make_shared<TableSchema>(*after);
      t->version = before ? before->version + 1 : 1;
      after = t;
      tables[name.ToString()] = after;
    } else {
      tables.erase(name.ToString());
    }
    if (before || after) changes.emplace_back(before, after);
  };
  for (const DdlChange& c : ParseDdl(sql, db, opts)) {
    switch (c.kind) {
      case DdlKind::kIgnored:
      case DdlKind::kTruncateTable:  // rows are not logged: TRUNCATE changes no schema
      case DdlKind::kCreateDatabase:
      case DdlKind::kAlterDatabase:
        break;
      case DdlKind::kUnparsed:
        if (!c.table.table.empty()) {
          SLOG_WARN("could not parse DDL at {}:{} ({}); re-reading {} from the server: {}", file_seq, pos, c.reason,
                    c.table.ToString(), std::string(sql.substr(0, 200)));
          reread(c.table, "unparsed DDL");
        } else {
          SLOG_WARN("could not parse DDL at {}:{} ({}), ignoring it: {}", file_seq, pos, c.reason,
                    std::string(sql.substr(0, 200)));
        }
        break;
      case DdlKind::kCreateTable: {
        if (c.if_not_exists && tables.count(c.table.ToString())) break;
        TableSchemaPtr before = Get(c.table.database, c.table.table);
        auto t = std::make_shared<TableSchema>(c.schema);
        t->database = c.table.database;
        t->table = c.table.table;
        const std::string charset = c.table_charset.empty() ? "utf8mb4" : c.table_charset;
        for (auto& col : t->columns) {
          if (col.charset.empty() && IsCharacterColumn(col)) ApplyColumnCharset(col, charset);
        }
        t->version = before ? before->version + 1 : 1;
        tables[c.table.ToString()] = t;
        changes.emplace_back(before, t);
        break;
      }
      case DdlKind::kCreateTableLike:
      case DdlKind::kAlterTable:
        reread(c.table, DdlKindName(c.kind));
        for (const auto& op : c.ops) {
          if (op.kind == AlterOpKind::kRenameTable) reread(op.new_table, "ALTER TABLE ... RENAME");
        }
        break;
      case DdlKind::kDropTable: {
        TableSchemaPtr before = Get(c.table.database, c.table.table);
        if (before) {
          tables.erase(c.table.ToString());
          changes.emplace_back(before, nullptr);
        }
        break;
      }
      case DdlKind::kRenameTable: {
        TableSchemaPtr before = Get(c.table.database, c.table.table);
        if (!before) break;
        tables.erase(c.table.ToString());
        auto t = std::make_shared<TableSchema>(*before);
        t->database = c.new_table.database;
        t->table = c.new_table.table;
        t->version = before->version + 1;
        tables[c.new_table.ToString()] = t;
        changes.emplace_back(before, nullptr);
        changes.emplace_back(nullptr, t);
        break;
      }
      case DdlKind::kDropDatabase:
        for (auto it = tables.begin(); it != tables.end();) {
          if (it->second->database == c.database) {
            changes.emplace_back(it->second, nullptr);
            it = tables.erase(it);
          } else {
            ++it;
          }
        }
        break;
    }
  }
  if (!changes.empty()) Persist(file_seq, pos);
  return changes;
}

}  // namespace sluice::mysql
