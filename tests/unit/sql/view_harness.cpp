#include "view_harness.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <random>

#include "common/error.h"
#include "mysql/ddl_parser.h"

namespace sluice::sql::testing {

static std::string LowerCopy(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

ViewHarness::~ViewHarness() {
  views_.clear();
  manager_.reset();
  store_.reset();
  if (!state_dir_.empty()) std::filesystem::remove_all(state_dir_);
}

void ViewHarness::UsePersistedState(size_t budget_bytes, size_t max_bucket_bytes, int commit_every) {
  std::random_device rd;
  state_dir_ = (std::filesystem::temp_directory_path() / ("sluice-view-state-" + std::to_string(rd()) + std::to_string(rd()))).string();
  budget_ = budget_bytes;
  max_bucket_bytes_ = max_bucket_bytes;
  commit_every_ = commit_every;
  OpenState();
}

void ViewHarness::OpenState() {
  store_ = StateStore::Open(state_dir_);
  manager_ = std::make_unique<ViewStateManager>(store_.get(), "views/", budget_);
  if (max_bucket_bytes_ > 0) manager_->set_max_cached_bucket_bytes(max_bucket_bytes_);
  if (multiset_inline_ > 0) manager_->set_multiset_limits(multiset_inline_, multiset_keep_);
  manager_->Recover();
}

int ViewHarness::Crash() {
  for (auto& v : views_) v.pipeline.reset();
  manager_.reset();
  store_.reset();
  OpenState();
  for (auto& v : views_) v.pipeline = std::make_unique<ViewPipeline>(v.def.plan, v.def.output, manager_.get());
  for (auto& [name, t] : tables_) t.rows = checkpoint_.tables[name];
  for (size_t i = 0; i < views_.size(); ++i) {
    views_[i].contents = i < checkpoint_.contents.size() ? checkpoint_.contents[i] : decltype(views_[i].contents){};
    views_[i].upserted = i < checkpoint_.upserted.size() ? checkpoint_.upserted[i] : decltype(views_[i].upserted){};
  }
  version_ = checkpoint_.version;
  pending_.clear();
  auto offset = store_->Get("harness/batch");
  batches_ = committed_batches_ = offset ? std::stoi(*offset) : 0;
  return committed_batches_;
}

std::vector<std::pair<std::string, std::string>> ViewHarness::StoredState() const {
  return store_->Scan("views/");
}

void ViewHarness::CreateTable(const std::string& ddl) {
  auto changes = mysql::ParseDdl(ddl, catalog_.default_database());
  if (changes.size() != 1 || changes[0].kind != mysql::DdlKind::kCreateTable) {
    throw Error(ErrorKind::kConfig, "not a CREATE TABLE: " + ddl + (changes.empty() ? "" : " (" + changes[0].reason + ")"));
  }
  auto schema = std::make_shared<TableSchema>(changes[0].schema);
  schema->database = changes[0].table.database;
  schema->table = changes[0].table.table;
  AddTable(schema);
}

void ViewHarness::AddTable(TableSchemaPtr schema) {
  Table t;
  t.schema = schema;
  for (auto& c : schema->columns) t.types.push_back(TypeOfColumn(c));
  catalog_.AddTable(schema);
  tables_[schema->QualifiedName()] = std::move(t);
}

void ViewHarness::CreateViews(const std::string& file, const std::string& sql) {
  for (auto& def : CompileViews(file, sql, catalog_)) {
    View v;
    v.pipeline = std::make_unique<ViewPipeline>(def.plan, def.output, manager_.get());
    if (shards_ > 1) {
      v.shard_key = ShardKeyOf(def);
      if (!v.shard_key) throw Error(ErrorKind::kConfig, "view " + def.name + " has no shard key");
    }
    v.def = std::move(def);
    views_.push_back(std::move(v));
  }
}

ViewHarness::Table& ViewHarness::FindTable(const std::string& name) {
  return const_cast<Table&>(static_cast<const ViewHarness*>(this)->FindTable(name));
}

const ViewHarness::Table& ViewHarness::FindTable(const std::string& name) const {
  std::string full = name.find('.') == std::string::npos ? catalog_.default_database() + "." + name : name;
  for (auto& [n, t] : tables_) {
    if (LowerCopy(n) == LowerCopy(full)) return t;
  }
  throw Error(ErrorKind::kConfig, "unknown table " + name);
}

Row ViewHarness::ParseRow(const std::string& table, const std::string& text, int count) const {
  const Table& t = FindTable(table);
  std::vector<std::pair<bool, std::string>> tokens;  // (quoted, text)
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size()) break;
    if (text[i] == '\'') {
      std::string s;
      ++i;
      while (i < text.size()) {
        if (text[i] == '\'' && i + 1 < text.size() && text[i + 1] == '\'') { s += '\''; i += 2; continue; }
        if (text[i] == '\'') { ++i; break; }
        s += text[i++];
      }
      tokens.push_back({true, s});
    } else {
      size_t b = i;
      while (i < text.size() && text[i] != ',') ++i;
      std::string s = text.substr(b, i - b);
      while (!s.empty() && s.back() == ' ') s.pop_back();
      tokens.push_back({false, s});
    }
  }
  size_t want = count < 0 ? t.types.size() : static_cast<size_t>(count);
  if (tokens.size() != want) {
    throw Error(ErrorKind::kConfig, "row '" + text + "' has " + std::to_string(tokens.size()) + " values, expected " + std::to_string(want));
  }
  Row row;
  for (size_t k = 0; k < tokens.size(); ++k) {
    size_t col = count < 0 || t.schema->primary_key.empty() ? k : static_cast<size_t>(t.schema->primary_key[k]);
    if (!tokens[k].first && LowerCopy(tokens[k].second) == "null") {
      row.push_back(Value::Null());
    } else {
      row.push_back(CastValue(Value::String(tokens[k].second), SqlType{TypeId::kString}, t.types[col]));
    }
  }
  return row;
}

std::string ViewHarness::PkKey(const Table& t, const Row& row, bool key_only) const {
  std::string key;
  if (t.schema->primary_key.empty()) {
    for (size_t c = 0; c < row.size(); ++c) EncodeKey(key, row[c], t.types[c]);
    return key;
  }
  for (size_t k = 0; k < t.schema->primary_key.size(); ++k) {
    size_t col = static_cast<size_t>(t.schema->primary_key[k]);
    EncodeKey(key, key_only ? row[k] : row[col], t.types[col]);
  }
  return key;
}

void ViewHarness::Emit(const std::string& table, RowOp op, const Row& row) {
  const Table& t = FindTable(table);
  const std::string name = t.schema->QualifiedName();
  if (pending_.empty() || pending_.back().first != name) pending_.push_back({name, ChangeChunk(t.schema)});
  ChangeChunk& c = pending_.back().second;
  if (c.sources().empty()) c.AddSource(SourceInfo{});
  c.BeginRow(op, version_++, 0, static_cast<uint32_t>(c.size()));
  for (size_t k = 0; k < row.size(); ++k) AppendValue(c.column(k), row[k], t.types[k]);
}

void ViewHarness::Insert(const std::string& table, const Row& row) {
  Table& t = FindTable(table);
  std::string key = PkKey(t, row, false);
  if (t.rows.count(key) && !t.schema->primary_key.empty()) throw Error(ErrorKind::kConfig, "duplicate primary key in " + table);
  if (t.schema->primary_key.empty()) {
    while (t.rows.count(key)) key += '+';  // multiset of identical rows
  }
  t.rows[key] = row;
  Emit(table, RowOp::kInsert, row);
}

void ViewHarness::Update(const std::string& table, const Row& row) {
  Table& t = FindTable(table);
  if (t.schema->primary_key.empty()) throw Error(ErrorKind::kConfig, "update needs a primary key: " + table);
  std::string key = PkKey(t, row, false);
  auto it = t.rows.find(key);
  if (it == t.rows.end()) throw Error(ErrorKind::kConfig, "update of a missing row in " + table);
  Emit(table, RowOp::kUpdateBefore, it->second);
  Emit(table, RowOp::kUpdateAfter, row);
  it->second = row;
}

void ViewHarness::Delete(const std::string& table, const Row& key_values) {
  Table& t = FindTable(table);
  std::string key = PkKey(t, key_values, true);
  auto it = t.rows.find(key);
  if (it == t.rows.end()) throw Error(ErrorKind::kConfig, "delete of a missing row in " + table);
  Emit(table, RowOp::kDelete, it->second);
  t.rows.erase(it);
}

bool ViewHarness::HasRow(const std::string& table, const Row& key_values) const {
  const Table& t = FindTable(table);
  return t.rows.count(PkKey(t, key_values, true)) > 0;
}

std::vector<Row> ViewHarness::TableRows(const std::string& table) const {
  std::vector<Row> r;
  for (auto& [k, row] : FindTable(table).rows) r.push_back(row);
  return r;
}

std::string ViewHarness::Format(const Row& row, const std::vector<SqlType>& types, size_t columns) {
  std::string s;
  for (size_t i = 0; i < row.size() && i < columns; ++i) s += (i ? " " : "") + FormatValue(row[i], types[i]);
  return s;
}

std::string ViewHarness::Upsert(View& v, const std::vector<ChangeChunk>& out) {
  if (!v.def.has_key) return "";
  const auto& types = v.def.plan->types;
  std::map<std::string, std::pair<bool, std::string>> last;  // key -> (deleted, row): the batch's net change
  for (const auto& chunk : out) {
    for (size_t i = 0; i < chunk.size(); ++i) {
      Row row = ReadRow(chunk, i, types);
      std::string key;
      for (int k : v.def.key_columns) EncodeKey(key, row[static_cast<size_t>(k)], types[static_cast<size_t>(k)]);
      const RowOp op = chunk.op(i);
      last[key] = {op == RowOp::kDelete || op == RowOp::kUpdateBefore, Format(row, types)};
    }
  }
  for (auto& [key, change] : last) {
    if (change.first) {
      v.upserted.erase(key);
    } else {
      v.upserted[key] = change.second;
    }
  }
  std::vector<std::string> upserted, rows;
  for (const auto& [k, row] : v.upserted) upserted.push_back(row);
  for (const auto& [row, n] : v.contents) {
    for (int64_t i = 0; i < n; ++i) rows.push_back(row.second);
  }
  std::sort(upserted.begin(), upserted.end());
  if (upserted == rows) return "";
  std::string msg = "view " + v.def.name + " upserted by its key differs from its changelog (two rows share a key?)\n upserted:";
  for (auto& r : upserted) msg += "\n  " + r;
  msg += "\n changelog:";
  for (auto& r : rows) msg += "\n  " + r;
  return msg;
}

std::string ViewHarness::Commit() {
  std::map<std::string, std::vector<ChangeChunk>> produced;  // view source name -> output this batch
  for (auto& v : views_) {
    std::vector<ChangeChunk> out;
    auto sources = v.pipeline->Sources();
    for (auto& [table, chunk] : pending_) {
      if (std::find(sources.begin(), sources.end(), table) == sources.end()) continue;
      if (!v.shard_key) {
        v.pipeline->Push(table, chunk, out);
        continue;
      }
      bool all = false;
      ChangeChunk mine = KeepShard(chunk, v.shard_key->source_columns.at(table), shard_, shards_, &all);
      if (all) {
        v.pipeline->Push(table, chunk, out);
      } else if (!mine.empty()) {
        v.pipeline->Push(table, mine, out);
      }
    }
    for (auto& s : sources) {
      auto it = produced.find(s);
      if (it == produced.end()) continue;
      for (auto& chunk : it->second) v.pipeline->Push(s, chunk, out);
    }
    v.pipeline->Flush(out);
    const size_t visible = v.def.plan->types.size() - static_cast<size_t>(v.def.hidden_columns);
    for (auto& chunk : out) {
      for (size_t i = 0; i < chunk.size(); ++i) {
        if (v.shard_key && ShardOf(chunk, i, v.shard_key->output_columns, shards_) != shard_) {
          pending_.clear();
          return "view " + v.def.name + " shard " + std::to_string(shard_) + " emitted a row of another shard";
        }
        Row values = ReadRow(chunk, i, v.def.plan->types);
        const std::pair<std::string, std::string> row{Format(values, v.def.plan->types, visible), Format(values, v.def.plan->types)};
        ++changes_emitted_;
        RowOp op = chunk.op(i);
        if (op == RowOp::kInsert || op == RowOp::kUpdateAfter) {
          ++v.contents[row];
        } else {
          auto it = v.contents.find(row);
          if (it == v.contents.end()) {
            pending_.clear();
            return "view " + v.def.name + " retracted a row it does not hold: " + row.second;
          }
          if (--it->second == 0) v.contents.erase(it);
        }
      }
    }
    std::string err = Upsert(v, out);
    if (!err.empty()) {
      pending_.clear();
      return err;
    }
    produced[LowerCopy(v.def.name)] = std::move(out);
  }
  pending_.clear();
  if (manager_ && ++batches_ % commit_every_ == 0) {
    manager_->Commit({{"harness/batch", std::to_string(batches_)}});
    committed_batches_ = batches_;
    checkpoint_.tables.clear();
    for (auto& [name, t] : tables_) checkpoint_.tables[name] = t.rows;
    checkpoint_.contents.clear();
    checkpoint_.upserted.clear();
    for (auto& v : views_) {
      checkpoint_.contents.push_back(v.contents);
      checkpoint_.upserted.push_back(v.upserted);
    }
    checkpoint_.version = version_;
  }
  if (shards_ > 1) return "";  // one shard's rows: the test compares the union of the shards
  for (auto& v : views_) {
    std::vector<std::string> got;
    for (const auto& [row, n] : v.contents) {
      for (int64_t k = 0; k < n; ++k) got.push_back(row.second);
    }
    std::sort(got.begin(), got.end());
    auto want = OracleRows(v.def.name, true);
    if (got != want) {
      std::string msg = "view " + v.def.name + " differs from the oracle\n incremental:";
      for (auto& r : got) msg += "\n  " + r;
      msg += "\n oracle:";
      for (auto& r : want) msg += "\n  " + r;
      return msg;
    }
  }
  return "";
}

const ViewHarness::View& ViewHarness::FindView(const std::string& name) const {
  for (auto& v : views_) {
    if (LowerCopy(v.def.name) == LowerCopy(name)) return v;
  }
  throw Error(ErrorKind::kConfig, "unknown view " + name);
}

std::vector<std::string> ViewHarness::ViewRows(const std::string& view) const {
  std::vector<std::string> r;
  for (auto& [row, n] : FindView(view).contents) {
    for (int64_t k = 0; k < n; ++k) r.push_back(row.first);
  }
  return r;  // std::map keeps them sorted by the visible columns first
}

std::vector<std::string> ViewHarness::ViewColumns(const std::string& view) const {
  const ViewDefinition& def = FindView(view).def;
  std::vector<std::string> r;
  const size_t n = def.plan->names.size();
  for (size_t i = 0; i < n; ++i) {
    const bool key = std::find(def.key_columns.begin(), def.key_columns.end(), static_cast<int>(i)) != def.key_columns.end();
    r.push_back(def.plan->names[i] + " " + TypeToString(def.plan->types[i]) + (key && def.has_key ? " key" : "") +
                (i >= n - static_cast<size_t>(def.hidden_columns) ? " hidden" : ""));
  }
  return r;
}

SourceRows ViewHarness::OracleSources() const {
  SourceRows s;
  for (auto& [name, t] : tables_) {
    auto& rows = s[name];
    for (auto& [k, row] : t.rows) rows.push_back(row);
  }
  return s;
}

std::vector<std::string> ViewHarness::OracleRows(const std::string& view, bool hidden) const {
  SourceRows s = OracleSources();
  for (auto& v : views_) {
    auto rows = EvaluatePlan(*v.def.plan, s);
    if (LowerCopy(v.def.name) == LowerCopy(view)) {
      const size_t columns = hidden ? SIZE_MAX : v.def.plan->types.size() - static_cast<size_t>(v.def.hidden_columns);
      std::vector<std::string> r;
      for (auto& row : rows) r.push_back(Format(row, v.def.plan->types, columns));
      std::sort(r.begin(), r.end());
      return r;
    }
    s[LowerCopy(v.def.name)] = std::move(rows);
  }
  throw Error(ErrorKind::kConfig, "unknown view " + view);
}

}  // namespace sluice::sql::testing
