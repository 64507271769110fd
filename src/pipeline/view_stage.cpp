#include "pipeline/view_stage.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <unordered_map>

#include <fmt/ranges.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "event/debezium_json.h"
#include "mysql/connection.h"
#include "mysql/source_info.h"
#include "mysql/text_value.h"
#include "pipeline/commands.h"
#include "sql/source_ddl.h"
#include "sql/view_state.h"
#include "state/state_store.h"

namespace sluice::pipeline {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// How the binder names a source table in a view's scans (sql::Catalog::Find: found->source):
/// exactly as MySQL spells it — MySQL table names are case-sensitive, and a table such as
/// `Orders` must reach the views that read it.
std::string SourceName(const TableSchema& t) {
  // A view's output (database ""), read by the views of another task: by its name.
  return t.database.empty() ? Lower(t.table) : t.QualifiedName();
}

/// Views a snapshot-phase transaction's outputs sit below the snapshot's version: they order among
/// themselves by a per-view counter and stay below every streamed change after the snapshot.
constexpr uint64_t kSnapshotVersionSpan = uint64_t{1} << 31;

void AppendKeyCell(const ColumnVector& c, size_t row, std::string& key) {
  if (c.IsNull(row)) {
    key.push_back('\0');
    return;
  }
  key.push_back('\1');
  if (IsVarKind(c.kind())) {
    std::string_view b = c.GetBytes(row);
    uint32_t n = static_cast<uint32_t>(b.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(b);
  } else {
    int64_t v = c.GetInt(row);
    key.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
}

std::string ReadFile(const std::string& path, const std::string& shown) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Throw(ErrorKind::kConfig, "transform.sql: cannot read '{}' ({}): {}", shown, path, std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The database bare table names in views refer to: the captured tables' only database, else the
/// first plain name of database.include.list.
std::string DefaultDatabase(const Config& config, const std::vector<TableSchemaPtr>& tables) {
  std::set<std::string> dbs;
  for (const auto& t : tables) dbs.insert(t->database);
  if (dbs.size() == 1) return *dbs.begin();
  for (const auto& d : config.GetList("source", "database.include.list")) {
    if (!d.empty() && d.find_first_of(".*+?[](){}|^$\\") == std::string::npos) return d;
  }
  return "";
}

/// Binds a declared `CREATE TABLE name (...) WITH (connector = 'kafka', topic = T) FORMAT DEBEZIUM
/// ENCODE JSON` to the captured table whose change events go to topic T (the naming of Debezium
/// and of `sluice capture`): `name` becomes another name of that table. Its rows, types and key come
/// from the source; the declared columns and primary key are checked against it.
void BindDeclaredTable(const Config& config, const std::vector<TableSchemaPtr>& tables,
                       const sql::DeclaredSource& d, sql::Catalog& catalog) {
  const std::string at = fmt::format("{}:{}:{}", d.location.file, d.location.line, d.location.column);
  DebeziumEncoder encoder(DebeziumFromConfig(config));
  const std::string topic = d.options.at("topic");
  TableSchemaPtr table;
  std::string known;
  for (const auto& t : tables) {
    const std::string tt(encoder.Topic(t));
    if (tt == topic) table = t;
    known += (known.empty() ? "" : ", ") + tt;
  }
  if (!table) {
    Throw(ErrorKind::kSql,
          "{}: CREATE TABLE {}: topic '{}' is not the topic of a captured table ({}); a declared table must name the "
          "topic <topic.prefix>.<database>.<table> of a table in database.include.list / table.include.list",
          at, d.name, topic, known.empty() ? "no tables are captured" : "captured: " + known);
  }
  auto lower = [](std::string s) { return Lower(std::move(s)); };
  auto has_column = [&](const std::string& name) {
    for (const auto& c : table->columns) {
      if (lower(c.name) == lower(name)) return true;
    }
    return false;
  };
  for (size_t i = 0; i < d.columns.size(); ++i) {
    if (!has_column(d.columns[i])) {
      std::string cols;
      for (const auto& c : table->columns) cols += (cols.empty() ? "" : ", ") + c.name;
      Throw(ErrorKind::kSql, "{}: CREATE TABLE {}: column {} is not a column of {} (topic '{}'; its columns: {})", at,
            d.name, d.columns[i], table->QualifiedName(), topic, cols);
    }
  }
  std::set<std::string> declared_pk, source_pk;
  for (const auto& k : d.primary_key) declared_pk.insert(lower(k));
  for (int k : table->primary_key) source_pk.insert(lower(table->columns[static_cast<size_t>(k)].name));
  if (!source_pk.empty() && declared_pk != source_pk) {
    Throw(ErrorKind::kSql, "{}: CREATE TABLE {}: PRIMARY KEY ({}) differs from the primary key ({}) of {} (topic '{}')",
          at, d.name, fmt::join(d.primary_key, ", "), fmt::join(source_pk, ", "), table->QualifiedName(), topic);
  }
  sql::Catalog::Found found;
  if (auto existing = catalog.Find("", d.name, &found); existing && existing != table) {
    Throw(ErrorKind::kSql,
          "{}: CREATE TABLE {}: that name is already {} in the default database; name the declared table "
          "differently",
          at, d.name, found.source);
  }
  catalog.AddAlias(d.name, table);
  SLOG_INFO("{}: table {} is {} (topic {})", at, d.name, table->QualifiedName(), topic);
}

}  // namespace

struct ViewStage::Adapter {
  TableSchemaPtr from;     ///< the chunk schema this adapter is for (kept alive)
  std::vector<int> keep;   ///< bound column i is column keep[i] of the chunk
  bool identity = false;
};

struct ViewStage::View {
  sql::ViewDefinition def;
  std::string name;  ///< lower-case
  std::unique_ptr<sql::ViewPipeline> pipeline;
  std::string fingerprint;
  std::vector<std::string> sources;
  std::vector<ChangeChunk> txn_out;
  uint64_t skip_below = 0;     ///< backfilled: base-table changes below this version (and snapshot rows) are in the state
  uint64_t snap_counter = 0;   ///< snapshot-phase transactions emitted so far
  std::map<const TableSchema*, Adapter> adapters;
  metrics::Counter* rows_in = nullptr;   ///< input row changes (sluice_view_input_rows_total)
  metrics::Counter* rows_out = nullptr;  ///< row changes emitted (sluice_view_output_rows_total)
  std::optional<sql::ShardKey> shard_key;  ///< ViewSelection with shards > 1: how its rows are routed
  std::string format;  ///< its CREATE SINK's FORMAT ("upsert"/"debezium"), or empty
};

std::vector<sql::DeclaredSink> DeclaredSinks(const Config& config) {
  std::vector<sql::DeclaredSink> sinks;
  const std::filesystem::path base = std::filesystem::path(config.file()).parent_path();
  for (const auto& f : config.GetList("transform", "sql")) {
    std::filesystem::path p(f);
    if (p.is_relative()) p = base / p;
    std::vector<sql::DeclaredSource> ignored;
    sql::ExtractSourceTables(f, ReadFile(p.lexically_normal().string(), f), &ignored, &sinks);
  }
  return sinks;
}

ViewStage::ViewStage(const Config& config, const std::vector<TableSchemaPtr>& tables, const ViewSelection* selection) {
  const std::vector<std::string> files = config.GetList("transform", "sql");
  if (files.empty()) return;
  if (selection) {
    shard_ = selection->shard;
    shards_ = std::max<uint32_t>(1, selection->shards);
  }
  std::map<std::string, TableSchemaPtr> left_out;  // views of another task (ViewSelection): their outputs
  sql::Catalog catalog(DefaultDatabase(config, tables));
  for (const auto& t : tables) {
    catalog.AddTable(t);
    tables_[SourceName(*t)] = t;
  }
  const std::filesystem::path base = std::filesystem::path(config.file()).parent_path();
  std::map<std::string, std::string> fingerprints;
  // The fingerprint covers what the state depends on: the statement, the columns it was bound
  // to, and the fingerprints of the views it reads. A plan with hidden key columns anywhere
  // adds its shape: those columns (new in an operator's stored rows) came with a later
  // binder, so state stored before them is rebuilt rather than misread.
  auto fingerprint_of = [&](const sql::ViewDefinition& def, const std::vector<std::string>& sources) {
    std::string fp = def.sql + "\n--";
    std::function<bool(const sql::PlanNode&)> hidden = [&](const sql::PlanNode& n) {
      if (n.hidden_columns > 0) return true;
      for (const auto& in : n.inputs) {
        if (hidden(*in)) return true;
      }
      return false;
    };
    if (hidden(*def.plan)) fp += "\nplan:\n" + def.plan->ToString();
    for (const auto& s : sources) {
      auto t = tables_.find(s);
      if (t != tables_.end()) {
        fp += "\n" + s + ":";
        for (const auto& c : t->second->columns) fp += " " + c.name + " " + c.column_type;
      } else if (fingerprints.count(s)) {
        fp += "\nview " + s + " {" + fingerprints[s] + "}";
      }
    }
    return fp;
  };
  std::vector<sql::DeclaredSink> declared_sinks;
  for (const auto& f : files) {
    std::filesystem::path p(f);
    if (p.is_relative()) p = base / p;
    // RisingWave's source DDL (CREATE TABLE ... WITH (connector = 'kafka', topic = ...) FORMAT
    // DEBEZIUM ENCODE JSON) names a captured table by its topic; the rest are the views.
    std::vector<sql::DeclaredSource> declared;
    const std::string text =
        sql::ExtractSourceTables(f, ReadFile(p.lexically_normal().string(), f), &declared, &declared_sinks);
    for (const auto& d : declared) BindDeclaredTable(config, tables, d, catalog);
    for (auto& def : sql::CompileViews(f, text, catalog)) {
      if (selection && !selection->views.count(Lower(def.name))) {
        // Another task's view: a view of this task may read its changes (from its topic).
        fingerprints[Lower(def.name)] = fingerprint_of(def, sql::ViewPipeline(def.plan, def.output).Sources());
        left_out[Lower(def.name)] = def.output;
        continue;
      }
      auto v = std::make_unique<View>();
      v->name = Lower(def.name);
      if (!def.has_key) {
        // Only a source table without a primary key takes a view's key away (a dropped key column
        // is carried as a hidden column): its identical rows cannot be told apart.
        std::string tables;
        for (const auto& t : def.keyless_sources) tables += (tables.empty() ? "" : ", ") + t;
        Throw(ErrorKind::kSql,
              "{}:{}:{}: view {} has no unique key, so its ClickHouse table (ReplacingMergeTree) cannot tell "
              "which rows replace which: it reads {} without a primary key, whose identical rows cannot be told "
              "apart; add a primary key to {}, or aggregate its rows with GROUP BY or DISTINCT",
              def.location.file, def.location.line, def.location.column, def.name,
              tables.empty() ? "a source" : tables, def.keyless_sources.size() == 1 ? "that table" : "those tables");
      }
      v->pipeline = std::make_unique<sql::ViewPipeline>(def.plan, def.output);
      v->sources = v->pipeline->Sources();
      if (shards_ > 1) {
        v->shard_key = sql::ShardKeyOf(def);
        SLUICE_CHECK(v->shard_key.has_value(), fmt::format("view {} cannot be split into shards", def.name));
      }
      std::string fp = fingerprint_of(def, v->sources);
      if (v->shard_key) {
        // One shard's state holds the rows routed to it: other routing columns, other state.
        fp += fmt::format("\nshard {} of {}:", shard_, shards_);
        for (const auto& [src, cols] : v->shard_key->source_columns) fp += fmt::format(" {}({})", src, fmt::join(cols, ","));
      }
      v->fingerprint = fp;
      fingerprints[v->name] = fp;
      v->def = std::move(def);
      for (const auto& s : v->sources) {
        readers_[s].push_back(v.get());
        auto other = left_out.find(s);
        if (other != left_out.end()) inputs_[s] = other->second;
      }
      // Metrics and the pipeline graph's edges source table/view -> view.
      auto& reg = metrics::Default();
      const metrics::Labels l = {{"view", v->def.name}};
      v->rows_in = &reg.GetCounter("sluice_view_input_rows_total", "row changes pushed into the view", l);
      v->rows_out = &reg.GetCounter("sluice_view_output_rows_total",
                                    "row changes the view emitted (per changed key and transaction: an insert, a delete or an update pair)", l);
      for (const auto& s : v->sources) {
        const bool is_table = tables_.count(s) > 0;
        metrics::Graph().AddEdge({{is_table ? "source" : "view", is_table ? tables_[s]->QualifiedName() : s},
                                  {"view", v->def.name}, v->rows_in, nullptr});
      }
      views_.push_back(std::move(v));
    }
  }
  for (const auto& d : declared_sinks) {
    if (left_out.count(Lower(d.from))) continue;
    const auto v = std::find_if(views_.begin(), views_.end(), [&](const auto& x) { return x->name == Lower(d.from); });
    if (v == views_.end()) {
      Throw(ErrorKind::kSql, "{}:{}:{}: CREATE SINK {} FROM {}: no materialized view of that name (a sink writes a view)",
            d.location.file, d.location.line, d.location.column, d.name, d.from);
    }
    const auto opt = [&](const char* k) { return d.options.count(k) ? d.options.at(k) : std::string(); };
    if (opt("connector") == "kafka" && !d.format.empty()) (*v)->format = d.format;
    if (opt("connector") == "clickhouse") {
      SLOG_INFO("sink {} (connector clickhouse): view {} goes to ClickHouse table {} through the sink section's "
                "connection{}", d.name, (*v)->def.name, opt("clickhouse.table").empty() ? (*v)->def.name : opt("clickhouse.table"),
                opt("clickhouse.url").empty() ? "" : " (its clickhouse.url and credentials are not used)");
    } else {
      SLOG_INFO("sink {} (connector kafka): with bus.type kafka, `sluice transform` produces view {} to its own topic "
                "(docs/ARCHITECTURE.md){}; the statement's topic is not used", d.name, (*v)->def.name,
                d.format.empty() ? std::string() : fmt::format(" as FORMAT {} ENCODE JSON", d.format == "upsert" ? "UPSERT" : "DEBEZIUM"));
    }
  }
  const std::string default_format = config.GetString("transform", "format");
  for (const auto& v : views_) {
    if ((v->format.empty() ? default_format : v->format) == "upsert") upsert_.insert(v->name);
  }
  for (const auto& v : views_) {
    std::string src;
    for (const auto& s : v->sources) src += (src.empty() ? "" : ", ") + s;
    SLOG_INFO("view {} (key: {}) reads {}", v->def.name,
              [&] {
                std::string k;
                for (int c : v->def.key_columns) k += (k.empty() ? "" : ", ") + v->def.output->columns[static_cast<size_t>(c)].name;
                return k.empty() ? std::string("single row") : k;
              }(),
              src);
  }
}

ViewStage::~ViewStage() = default;

std::set<std::string> SplitViews(const std::vector<ViewInfo>& views) {
  std::set<std::string> split;
  for (const auto& v : views) {
    if (v.shardable) split.insert(v.name);
  }
  return split;
}

std::vector<ViewInfo> ViewStage::Describe() const {
  std::vector<ViewInfo> out;
  for (const auto& v : views_) {
    ViewInfo i;
    i.name = v->name;
    i.output = v->def.output;
    for (const auto& s : v->sources) {
      auto t = tables_.find(s);
      if (t == tables_.end()) {
        i.read_views.push_back(s);
      } else {
        i.read_tables.push_back(t->second);
      }
    }
    i.shardable = sql::ShardKeyOf(v->def).has_value();
    out.push_back(std::move(i));
  }
  return out;
}

std::vector<TableSchemaPtr> ViewStage::OutputSchemas(const std::vector<std::string>& except) const {
  std::vector<TableSchemaPtr> r;
  for (const auto& v : views_) {
    if (std::find(except.begin(), except.end(), v->name) == except.end()) r.push_back(v->def.output);
  }
  return r;
}

std::vector<TableSchemaPtr> ViewStage::SourceTables() const {
  std::vector<TableSchemaPtr> r;
  for (const auto& [name, t] : tables_) {
    if (readers_.count(name)) r.push_back(t);
  }
  return r;
}

bool ViewStage::WritesUpsert(const std::string& name) const { return upsert_.count(Lower(name)) > 0; }

std::vector<TableSchemaPtr> ViewStage::InputViews() const {
  std::vector<TableSchemaPtr> r;
  for (const auto& [name, t] : inputs_) r.push_back(t);
  return r;
}

bool ViewStage::OwnsOutputRow(const ChangeChunk& chunk, size_t row) const {
  if (shards_ <= 1 || !chunk.schema()) return true;
  const std::string name = Lower(chunk.schema()->table);
  for (const auto& v : views_) {
    if (v->name == name && v->shard_key) return sql::ShardOf(chunk, row, v->shard_key->output_columns, shards_) == shard_;
  }
  return true;
}

bool ViewStage::Reads(const TableSchema& table) const { return readers_.count(SourceName(table)) > 0; }

std::vector<std::string> ViewStage::WithReaders(std::set<std::string> names) const {
  // Views come in creation order and read only earlier views: one pass closes the set.
  for (const auto& v : views_) {
    for (const auto& s : v->sources) {
      if (names.count(s)) names.insert(v->name);
    }
  }
  std::vector<std::string> r;
  for (const auto& v : views_) {
    if (names.count(v->name)) r.push_back(v->name);
  }
  return r;
}

std::vector<std::string> ViewStage::ReadersOf(const TableSchema& table) const {
  if (!Reads(table)) return {};
  return WithReaders({SourceName(table)});
}

std::unique_ptr<sql::ViewPipeline> ViewStage::MakePipeline(const sql::ViewDefinition& def, TableSchemaPtr output) {
  return std::make_unique<sql::ViewPipeline>(def.plan, output ? std::move(output) : def.output, manager_.get());
}

std::vector<std::string> ViewStage::Restore(StateStore& state, const std::string& prefix, bool have_offset,
                                            bool snapshot_resumed, size_t memory_budget) {
  prefix_ = prefix + "views/";
  // Operator state (join indexes, groups) lives under "<prefix>vstate/", cached in memory within
  // the budget; a crash between commits is rolled back to the last commit here.
  manager_ = std::make_unique<sql::ViewStateManager>(&state, prefix + "vstate/", memory_budget);
  manager_->Recover();
  std::map<std::string, std::map<std::string, std::string>> stored;  // view -> part -> value
  for (auto& [k, val] : state.Scan(prefix_)) {
    std::string rest = k.substr(prefix_.size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;
    stored[rest.substr(0, slash)][rest.substr(slash + 1)] = std::move(val);
  }
  // Kept across a rebuild too: the rebuilt views' changes must supersede what they wrote before.
  // (`sluice transform` produces a view change only once the state that derived it is stored,
  // so no version above the stored one reached Kafka.)
  if (auto lv = state.Get(prefix_ + "last_version")) last_version_ = std::stoull(*lv);
  std::set<std::string> configured;
  for (const auto& v : views_) configured.insert(v->name);
  for (const auto& [name, parts] : stored) {
    if (configured.count(name)) continue;
    SLOG_INFO("view {} is no longer in transform.sql: its state is dropped (its ClickHouse table is kept)", name);
    for (const auto& [part, val] : parts) deletes_.push_back(prefix_ + name + "/" + part);
    auto shown = parts.find("name");
    manager_->DropView(shown != parts.end() ? shown->second : name);
  }
  if (views_.empty()) return {};
  if (!have_offset) {
    // First start: the views are fed by the snapshot like the tables (state of an earlier run
    // under the same names is dropped).
    for (auto& v : views_) {
      v->pipeline.reset();
      manager_->DropView(v->def.output->table);
      v->pipeline = MakePipeline(v->def);
    }
    MarkAllVolatile();
    return {};
  }
  std::set<std::string> rebuild;
  for (auto& v : views_) {
    auto it = stored.find(v->name);
    if (snapshot_resumed) {
      rebuild.insert(v->name);
      continue;
    }
    if (it == stored.end() || !it->second.count("def")) {
      SLOG_INFO("view {} is new: it will be backfilled from its source tables", v->def.name);
      rebuild.insert(v->name);
      continue;
    }
    if (it->second["def"] != v->fingerprint) {
      SLOG_INFO("view {} changed (its SQL or its sources' columns): it will be rebuilt from its source tables",
                v->def.name);
      rebuild.insert(v->name);
      continue;
    }
    std::istringstream meta(it->second["meta"]);
    meta >> v->skip_below >> v->snap_counter;
  }
  const std::vector<std::string> result = WithReaders(rebuild);
  for (auto& v : views_) {
    v->pipeline.reset();
    if (std::find(result.begin(), result.end(), v->name) != result.end()) manager_->DropView(v->def.output->table);
    v->pipeline = MakePipeline(v->def);  // restored views read their state from the store as needed
  }
  if (snapshot_resumed) {
    SLOG_INFO("the snapshot was interrupted and is resumed at a later position: the views are rebuilt from a "
              "consistent read of their source tables");
  }
  return result;
}

void ViewStage::Push(const ChangeChunk& chunk) {
  if (chunk.empty() || !chunk.schema()) return;
  const std::string source = SourceName(*chunk.schema());
  auto readers = readers_.find(source);
  if (readers == readers_.end()) return;
  txn_any_ = true;
  for (size_t i = 0; i < chunk.size(); ++i) txn_version_ = std::max(txn_version_, chunk.version(i));
  txn_snapshot_ = chunk.source(0).snapshot != SourceInfo::Snapshot::kFalse;
  txn_source_ = chunk.source(chunk.size() - 1);
  auto input = inputs_.find(source);
  const TableSchemaPtr& bound = input != inputs_.end() ? input->second : tables_.at(source);
  for (View* v : readers->second) {
    const ChangeChunk* in = &chunk;
    ChangeChunk filtered;
    if (v->skip_below) {
      bool all = true;
      std::vector<size_t> rows;
      for (size_t i = 0; i < chunk.size(); ++i) {
        if (chunk.version(i) >= v->skip_below && chunk.source(i).snapshot == SourceInfo::Snapshot::kFalse) {
          rows.push_back(i);
        } else {
          all = false;
        }
      }
      if (rows.empty()) continue;
      if (!all) {
        filtered = ChangeChunk(chunk.schema());
        const uint32_t src = filtered.AddSource(chunk.source(rows.front()));
        for (size_t i : rows) {
          filtered.BeginRow(chunk.op(i), chunk.version(i), src, chunk.row_in_event(i));
          for (size_t c = 0; c < chunk.num_columns(); ++c) filtered.column(c).AppendFrom(chunk.column(c), i);
        }
        in = &filtered;
      }
    }
    // Columns by name: a captured table that gained columns (ALTER TABLE ADD COLUMN) still feeds
    // the view the columns it was bound to.
    auto ad = v->adapters.find(chunk.schema().get());
    if (ad == v->adapters.end()) {
      Adapter a;
      a.from = chunk.schema();
      const TableSchema& now = *chunk.schema();
      for (const auto& col : bound->columns) {
        const int idx = now.FindColumn(col.name);
        if (idx < 0) {
          Throw(ErrorKind::kSql,
                "view {} reads column {} of {}, which the source no longer has (ALTER TABLE); change the view in "
                "transform.sql (it is then rebuilt from its sources) or restore the column",
                v->def.name, col.name, bound->QualifiedName());
        }
        const ColumnSchema& nc = now.columns[static_cast<size_t>(idx)];
        if (nc.kind != col.kind || (col.kind == ValueKind::kDecimal && nc.scale != col.scale)) {
          Throw(ErrorKind::kSql,
                "view {} reads column {} of {}, whose type changed from {} to {} (ALTER TABLE); restart sluice to "
                "rebuild the view from its sources",
                v->def.name, col.name, bound->QualifiedName(), col.column_type, nc.column_type);
        }
        a.keep.push_back(idx);
      }
      a.identity = now.columns.size() == bound->columns.size();
      for (size_t i = 0; a.identity && i < a.keep.size(); ++i) a.identity = a.keep[i] == static_cast<int>(i);
      ad = v->adapters.emplace(chunk.schema().get(), std::move(a)).first;
    }
    ChangeChunk adapted;
    if (!ad->second.identity) {
      ChangeChunk copy = *in;
      adapted = std::move(copy).Project(bound, ad->second.keep);
      in = &adapted;
    }
    ChangeChunk mine;
    if (v->shard_key) {
      // This stage maintains one shard of the view: the rows routed to it.
      auto cols = v->shard_key->source_columns.find(source);
      SLUICE_CHECK(cols != v->shard_key->source_columns.end(),
                   fmt::format("view {} has no shard columns for {}", v->def.name, source));
      bool all = false;
      mine = sql::KeepShard(*in, cols->second, shard_, shards_, &all);
      if (!all) {
        if (mine.empty()) continue;
        in = &mine;
      }
    }
    PushTo(*v, source, *in);
  }
}

namespace {

/// Rethrows a view's run-time error (overflow, division by zero, a bad cast) naming the view, its
/// statement and where in the source the change came from.
[[noreturn]] void ViewFailed(const sql::ViewDefinition& def, const ChangeChunk* chunk, const Error& e) {
  std::string where;
  if (chunk && !chunk->empty() && chunk->schema()) {
    const SourceInfo& si = chunk->source(0);
    where = fmt::format(" on a change of {}", chunk->schema()->QualifiedName());
    if (!si.file.empty()) where += fmt::format(" at {}:{}", si.file, si.pos);
  }
  throw Error(e.kind(), fmt::format("view {} ({}:{}:{}){}: {}", def.name, def.location.file, def.location.line,
                                    def.location.column, where, e.what()));
}

}  // namespace

void ViewStage::PushTo(View& v, const std::string& source, const ChangeChunk& chunk) {
  v.rows_in->Inc(chunk.size());
  std::vector<ChangeChunk> produced;
  try {
    v.pipeline->Push(source, chunk, produced);
  } catch (const Error& e) {
    ViewFailed(v.def, &chunk, e);
  }
  Route(v, produced);
}

void ViewStage::Route(View& v, std::vector<ChangeChunk>& produced) {
  auto readers = readers_.find(v.name);
  for (auto& c : produced) {
    if (c.empty()) continue;
    if (readers != readers_.end()) {
      for (View* r : readers->second) PushTo(*r, v.name, c);
    }
    v.txn_out.push_back(std::move(c));
  }
}

void ViewStage::Commit(std::vector<ChangeChunk>& out) {
  if (!txn_any_) return;
  if (monotonic_) {
    txn_version_ = std::max(last_version_ + 1, txn_version_);
    txn_snapshot_ = false;
    last_version_ = txn_version_;
  }
  for (auto& v : views_) {
    std::vector<ChangeChunk> produced;
    try {
      v->pipeline->Flush(produced);
    } catch (const Error& e) {
      ViewFailed(v->def, nullptr, e);
    }
    Route(*v, produced);
  }
  for (auto& v : views_) {
    if (v->txn_out.empty()) continue;
    ChangeChunk c = Consolidate(*v);
    if (!c.empty()) out.push_back(std::move(c));
  }
  txn_any_ = false;
  txn_version_ = 0;
  txn_snapshot_ = false;
}

ChangeChunk ViewStage::Consolidate(View& v) {
  // The net change per key, as a changelog a reader can apply without holding the view: the row
  // the key had before the transaction (the image its first change removed, if that change was a
  // removal) and the row it has after (its last change's image, if an addition). Both: an update
  // pair (nothing when the row is unchanged); only before: a delete; only after: an insert.
  struct Net {
    size_t first_chunk, first_row, last_chunk, last_row;
    bool had, has;
  };
  std::unordered_map<std::string, Net> net;
  std::vector<std::string> order;
  std::string key;
  for (size_t ci = 0; ci < v.txn_out.size(); ++ci) {
    const ChangeChunk& c = v.txn_out[ci];
    for (size_t i = 0; i < c.size(); ++i) {
      key.clear();
      for (int k : v.def.key_columns) AppendKeyCell(c.column(static_cast<size_t>(k)), i, key);
      const RowOp op = c.op(i);
      const bool removes = op == RowOp::kDelete || op == RowOp::kUpdateBefore;
      auto [it, fresh] = net.try_emplace(key, Net{ci, i, ci, i, removes, !removes});
      if (fresh) {
        order.push_back(key);
      } else {
        it->second.last_chunk = ci;
        it->second.last_row = i;
        it->second.has = !removes;
      }
    }
  }
  uint64_t version = txn_version_;
  if (txn_snapshot_) version = txn_version_ - kSnapshotVersionSpan + ++v.snap_counter;
  ChangeChunk out(v.def.output);
  SourceInfo src = txn_source_;
  src.query.clear();
  const uint32_t si = out.AddSource(std::move(src));
  auto append = [&](RowOp op, size_t chunk, size_t row) {
    const ChangeChunk& c = v.txn_out[chunk];
    out.BeginRow(op, version, si, 0);
    for (size_t col = 0; col < c.num_columns(); ++col) out.column(col).AppendFrom(c.column(col), row);
  };
  std::string before, after;
  for (const auto& k : order) {
    const Net& n = net[k];
    if (n.had && n.has) {
      before.clear();
      after.clear();
      const ChangeChunk &b = v.txn_out[n.first_chunk], &a = v.txn_out[n.last_chunk];
      for (size_t col = 0; col < b.num_columns(); ++col) {
        AppendKeyCell(b.column(col), n.first_row, before);
        AppendKeyCell(a.column(col), n.last_row, after);
      }
      if (before == after) continue;  // removed and added again unchanged
      append(RowOp::kUpdateBefore, n.first_chunk, n.first_row);
      append(RowOp::kUpdateAfter, n.last_chunk, n.last_row);
    } else if (n.had) {
      append(RowOp::kDelete, n.first_chunk, n.first_row);
    } else if (n.has) {
      append(RowOp::kInsert, n.last_chunk, n.last_row);
    }
  }
  v.txn_out.clear();
  v.rows_out->Inc(out.size());
  return out;
}

void ViewStage::Reset(const std::function<void(const TableSchema&)>& reset_table) {
  for (auto& v : views_) {
    v->pipeline.reset();
    manager_->DropView(v->def.output->table);
    v->pipeline = MakePipeline(v->def);
    v->skip_below = 0;
    v->snap_counter = 0;
    v->txn_out.clear();
    reset_table(*v->def.output);
  }
  MarkAllVolatile();
}

void ViewStage::MarkAllVolatile() {
  for (auto& v : views_) manager_->SetVolatile(v->def.output->table, true);
  volatile_ = true;
}

void ViewStage::CommitState(std::vector<std::pair<std::string, std::string>> puts) {
  for (const auto& v : views_) {
    const std::string k = prefix_ + v->name + "/";
    puts.emplace_back(k + "def", v->fingerprint);
    puts.emplace_back(k + "name", v->def.output->table);
    puts.emplace_back(k + "meta", std::to_string(v->skip_below) + " " + std::to_string(v->snap_counter));
  }
  if (monotonic_) puts.emplace_back(prefix_ + "last_version", std::to_string(last_version_));
  manager_->Commit(puts, deletes_);
  deletes_.clear();
  // The views' state is complete and committed: later writes need undo records again.
  manager_->ClearVolatile();
  volatile_ = false;
}

size_t ViewStage::MemoryUsed() const { return manager_ ? manager_->MemoryUsed() : 0; }

std::string ViewStage::StateSummary() const {
  if (!manager_) return "no view state";
  const auto& st = manager_->stats();
  return fmt::format("view state: {} bytes in memory (budget {}), {} loads from the store, {} evictions, {} keys "
                     "spilled before their commit, {} commits, {} keys of snapshot/backfill state ingested as table files",
                     manager_->MemoryUsed(), manager_->memory_budget(), st.loads, st.evictions, st.spilled_keys,
                     st.commits, st.ingested_keys);
}

void ViewStage::Backfill(const std::vector<std::string>& names, const mysql::CaptureOptions& options,
                         const std::function<void(const TableSchema&)>& reset_table,
                         const std::function<void(ChangeChunk&&)>& emit) {
  if (names.empty()) return;
  const std::set<std::string> rebuild(names.begin(), names.end());
  // Views read by a rebuilt view but not rebuilt themselves feed it from a fresh private copy.
  std::set<std::string> upstream;
  for (auto it = views_.rbegin(); it != views_.rend(); ++it) {
    const View& v = **it;
    if (!rebuild.count(v.name) && !upstream.count(v.name)) continue;
    for (const auto& s : v.sources) {
      if (!tables_.count(s) && !rebuild.count(s)) upstream.insert(s);
    }
  }
  struct Member {
    View* view;
    std::unique_ptr<sql::ViewPipeline> own;  ///< the private copy of an upstream view
    sql::ViewPipeline* pipeline;
    bool emit;
    std::vector<ChangeChunk> out;
  };
  std::vector<Member> members;
  std::map<std::string, std::vector<size_t>> readers;  // source -> member indexes
  std::set<std::string> base_tables;
  for (auto& v : views_) {
    if (rebuild.count(v->name)) {
      v->pipeline.reset();
      manager_->DropView(v->def.output->table);
      v->pipeline = MakePipeline(v->def);
      v->skip_below = 0;
      v->snap_counter = 0;
      v->txn_out.clear();
      // Rebuilt from scratch after a crash (it is unregistered below): no undo records, no commits
      // until the caller's CommitState after the backfill.
      manager_->SetVolatile(v->def.output->table, true);
      members.push_back({v.get(), nullptr, v->pipeline.get(), true, {}});
    } else if (upstream.count(v->name)) {
      // Its state goes to the store like any view's (it may be large), under a private name.
      auto copy = std::make_shared<TableSchema>(*v->def.output);
      copy->table = "__backfill_" + v->def.output->table;
      manager_->DropView(copy->table);
      manager_->SetVolatile(copy->table, true);
      auto own = MakePipeline(v->def, copy);
      sql::ViewPipeline* p = own.get();
      members.push_back({v.get(), std::move(own), p, false, {}});
    } else {
      continue;
    }
    for (const auto& s : v->sources) {
      readers[s].push_back(members.size() - 1);
      if (tables_.count(s)) base_tables.insert(s);
    }
  }
  for (const auto& m : members) {
    if (m.emit) reset_table(*m.view->def.output);
  }
  // Until the backfill completes, the rebuilt views have no registration: a crash in between
  // rebuilds them again at the next start (their partial state is never taken for complete).
  std::vector<std::string> unregister;
  for (const auto& m : members) {
    if (m.emit) unregister.push_back(prefix_ + m.view->name + "/def");
  }
  manager_->Commit({}, unregister);

  std::function<void(size_t, const std::string&, const ChangeChunk&)> push = [&](size_t mi, const std::string& source,
                                                                                 const ChangeChunk& chunk) {
    std::vector<ChangeChunk> produced;
    try {
      members[mi].pipeline->Push(source, chunk, produced);
    } catch (const Error& e) {
      ViewFailed(members[mi].view->def, &chunk, e);
    }
    for (auto& c : produced) {
      auto r = readers.find(members[mi].view->name);
      if (r != readers.end()) {
        for (size_t j : r->second) push(j, members[mi].view->name, c);
      }
      if (members[mi].emit) members[mi].out.push_back(std::move(c));
    }
  };

  mysql::Connection conn(options.connection);
  conn.Connect();
  const auto version_text = conn.QueryValue("SELECT VERSION()");
  const bool is_mariadb = version_text && version_text->find("MariaDB") != std::string::npos;
  bool locked = false;
  const mysql::BinlogCoordinates at = mysql::BeginConsistentSnapshot(conn, is_mariadb, &locked);
  if (locked) conn.Execute("UNLOCK TABLES");
  const uint64_t snapshot_version = MakeVersion(mysql::BinlogFileSequence(at.file), at.pos, 0) - 1;
  std::string view_list;
  for (const auto& n : names) view_list += (view_list.empty() ? "" : ", ") + n;
  SLOG_INFO("backfilling view(s) {} from {} table(s) read at {}:{}", view_list, base_tables.size(), at.file, at.pos);

  uint64_t rows_read = 0;
  auto commit = [&](const SourceInfo& src) {
    for (auto& m : members) {
      std::vector<ChangeChunk> produced;
      try {
        m.pipeline->Flush(produced);
      } catch (const Error& e) {
        ViewFailed(m.view->def, nullptr, e);
      }
      for (auto& c : produced) {
        auto r = readers.find(m.view->name);
        if (r != readers.end()) {
          for (size_t j : r->second) push(j, m.view->name, c);
        }
        if (m.emit) m.out.push_back(std::move(c));
      }
    }
    for (auto& m : members) {
      if (!m.emit || m.out.empty()) continue;
      std::swap(m.view->txn_out, m.out);
      txn_version_ = snapshot_version;
      txn_snapshot_ = true;
      txn_source_ = src;
      ChangeChunk c = Consolidate(*m.view);
      m.out.clear();
      if (!c.empty()) emit(std::move(c));
    }
    txn_version_ = 0;
    txn_snapshot_ = false;
    // No Commit until the backfill is done: the members' state is volatile (evictions write it
    // without undo records), so neither memory nor an undo log grows with a large backfill.
  };
  for (const auto& name : base_tables) {
    const TableSchemaPtr& t = tables_.at(name);
    std::string cols;
    for (const auto& c : t->columns) cols += (cols.empty() ? "" : ", ") + mysql::QuoteIdent(c.name);
    SourceInfo src;
    src.file = at.file;
    src.pos = at.pos;
    src.snapshot = SourceInfo::Snapshot::kTrue;
    ChangeChunk chunk(t);
    uint32_t si = chunk.AddSource(src);
    auto flush_chunk = [&] {
      if (chunk.empty()) return;
      rows_read += chunk.size();
      for (size_t mi : readers[name]) push(mi, name, chunk);
      commit(src);
      chunk = ChangeChunk(t);
      si = chunk.AddSource(src);
    };
    conn.QueryStream("SELECT " + cols + " FROM " + mysql::QuoteIdent(t->database) + "." + mysql::QuoteIdent(t->table),
                     [&](MYSQL_ROW row, const unsigned long* len, MYSQL_FIELD*, unsigned ncols) {
                       chunk.BeginRow(RowOp::kInsert, snapshot_version, si, 0);
                       for (unsigned i = 0; i < ncols; ++i) {
                         if (!row[i]) {
                           chunk.column(i).AppendNull();
                         } else {
                           mysql::AppendTextValue(t->columns[i], std::string_view(row[i], len[i]), chunk.column(i));
                         }
                       }
                       if (chunk.size() >= options.snapshot_fetch_size) flush_chunk();
                     });
    flush_chunk();
  }
  conn.Execute("COMMIT");
  for (auto& m : members) {
    if (m.emit) m.view->skip_below = snapshot_version + 1;
  }
  for (auto& m : members) {
    if (m.emit) continue;
    const std::string name = "__backfill_" + m.view->def.output->table;
    m.own.reset();
    manager_->DropView(name);
    manager_->SetVolatile(name, false);
  }
  SLOG_INFO("backfilled view(s) {}: {} source rows read", view_list, rows_read);
}

}  // namespace sluice::pipeline
