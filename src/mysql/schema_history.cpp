#include "mysql/schema_history.h"

#include <map>
#include <sstream>

#include "common/error.h"
#include "common/log.h"
#include "mysql/column_type.h"
#include "mysql/connection.h"
#include "mysql/ddl_parser.h"
#include "mysql/schema_catalog.h"
#include "mysql/source_info.h"
#include "state/state_store.h"

namespace sluice::mysql {

namespace {

std::string Key(const std::string& prefix, uint32_t file_seq, uint64_t pos) {
  return fmt::format("{}schema/{:010}/{:012}", prefix, file_seq, pos);
}

}  // namespace

SchemaHistory::SchemaHistory(StateStore* state, std::string key_prefix)
    : state_(state), prefix_(std::move(key_prefix)), catalog_(std::make_unique<SchemaCatalog>()) {}

SchemaHistory::~SchemaHistory() = default;

void SchemaHistory::Persist(uint32_t file_seq, uint64_t pos) {
  if (state_) state_->Put(Key(prefix_, file_seq, pos), catalog_->Serialize());
}

bool SchemaHistory::LoadAt(uint32_t file_seq, uint64_t pos) {
  if (!state_) return false;
  const std::string target = Key(prefix_, file_seq, pos);
  std::string best;
  for (const auto& [k, v] : state_->Scan(prefix_ + "schema/")) {
    if (k <= target) best = v;
  }
  if (best.empty()) return false;
  *catalog_ = SchemaCatalog::Deserialize(best);
  return true;
}

void SchemaHistory::Reset(const std::vector<TableSchemaPtr>& tables, uint32_t file_seq, uint64_t pos) {
  *catalog_ = SchemaCatalog();
  if (!server_charset_.empty()) catalog_->SetServerCharset(server_charset_);
  for (const auto& [db, cs] : db_charsets_) catalog_->SetDatabaseCharset(db, cs);
  for (const auto& t : tables) {
    auto it = table_charsets_.find(t->QualifiedName());
    catalog_->Put(t, it == table_charsets_.end() ? std::string() : it->second);
  }
  Persist(file_seq, pos);
}

void SchemaHistory::SetCharsetDefaults(const std::string& server, const std::map<std::string, std::string>& databases,
                                       const std::map<std::string, std::string>& tables) {
  server_charset_ = server;
  db_charsets_ = databases;
  table_charsets_ = tables;
}

TableSchemaPtr SchemaHistory::Get(const std::string& db, const std::string& table) const {
  return catalog_->Get(db, table);
}

void SchemaHistory::Put(const TableSchemaPtr& table, uint32_t file_seq, uint64_t pos) {
  catalog_->Put(table);
  Persist(file_seq, pos);
}

DdlOutcome SchemaHistory::ApplyDdl(const std::string& db, std::string_view sql, uint32_t file_seq, uint64_t pos,
                                   Connection* conn) {
  DdlParseOptions opts;
  opts.mariadb = mariadb_;
  std::vector<DdlChange> parsed = ParseDdl(sql, db, opts);
  DdlOutcome out;
  for (const DdlChange& c : parsed) {
    if (c.kind != DdlKind::kTruncateTable) continue;
    if (TableSchemaPtr t = catalog_->Get(c.table.database, c.table.table)) out.truncated.push_back(t);
  }
  // Column renames per table, from the parsed ALTER specs.
  std::map<std::string, std::map<std::string, std::string>> renames;
  for (const DdlChange& c : parsed) {
    if (c.kind != DdlKind::kAlterTable) continue;
    for (const AlterOp& op : c.ops) {
      std::string to;
      if (op.kind == AlterOpKind::kRenameColumn) to = op.new_name;
      if (op.kind == AlterOpKind::kChangeColumn) to = op.definition.column.name;
      if (!to.empty() && to != op.column) renames[c.table.ToString()][op.column] = to;
    }
  }
  CatalogUpdate update = catalog_->Apply(parsed);
  std::vector<SchemaChange>& changes = out.changes;
  for (auto& [before, after] : update.changes) {
    SchemaChange sc{before, after, {}};
    if (before) {
      auto r = renames.find(before->QualifiedName());
      if (r != renames.end()) sc.renames = r->second;
    }
    changes.push_back(std::move(sc));
  }
  if (update.status == CatalogUpdate::Status::kNeedsReread || update.status == CatalogUpdate::Status::kUnknownTable) {
    for (const QualifiedName& name : update.reread) {
      // The table's definition as the server has it now: exact unless another DDL on the same
      // table follows in the part of the binlog not yet read.
      TableSchemaPtr before = catalog_->Get(name.database, name.table);
      TableSchemaPtr now = conn ? LoadTableSchema(*conn, name.database, name.table) : nullptr;
      if (update.status == CatalogUpdate::Status::kNeedsReread) {
        SLOG_WARN("schema of {} re-read from the server after DDL at {}:{} ({}): {}", name.ToString(), file_seq, pos,
                  update.message, std::string(sql.substr(0, 200)));
      }
      if (now) {
        changes.push_back({before, catalog_->Put(now), {}});
      } else if (before) {
        catalog_->Remove(name.database, name.table);
        changes.push_back({before, nullptr, {}});
      }
    }
  }
  if (update.status == CatalogUpdate::Status::kNeedsReread && update.reread.empty()) {
    SLOG_WARN("DDL at {}:{} may change a table but could not be understood ({}); the schema history may be stale: {}",
              file_seq, pos, update.message, std::string(sql.substr(0, 200)));
  }
  if (!changes.empty()) Persist(file_seq, pos);
  return out;
}

}  // namespace sluice::mysql
