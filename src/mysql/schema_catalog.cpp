#include "mysql/schema_catalog.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "common/error.h"
#include "mysql/charset.h"
#include "mysql/column_type.h"

namespace sluice::mysql {
namespace {

/// Raised inside ApplyAlter when an operation does not fit the stored schema.
struct AlterFailure {
  std::string message;
};

/// A table under ALTER: columns with stable identities, so moves and renames keep the primary key.
struct Work {
  std::vector<ColumnSchema> cols;
  std::vector<int> ids;
  std::vector<int> pk;  ///< column ids, in key order
  int next_id = 0;
  std::string charset;  ///< table default ("" = database's)

  int Find(std::string_view name) const {
    for (size_t i = 0; i < cols.size(); ++i) {
      const std::string& c = cols[i].name;
      if (c.size() == name.size() &&
          std::equal(c.begin(), c.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  bool InPk(int id) const { return std::find(pk.begin(), pk.end(), id) != pk.end(); }
};

int Severity(CatalogUpdate::Status s) {
  switch (s) {
    case CatalogUpdate::Status::kNoop: return 0;
    case CatalogUpdate::Status::kApplied: return 1;
    case CatalogUpdate::Status::kUnknownTable: return 2;
    case CatalogUpdate::Status::kNeedsReread: return 3;
  }
  return 0;
}

CatalogUpdate Noop(std::string message) {
  CatalogUpdate u;
  u.status = CatalogUpdate::Status::kNoop;
  u.message = std::move(message);
  return u;
}

CatalogUpdate Reread(const QualifiedName& table, std::string message) {
  CatalogUpdate u;
  u.status = CatalogUpdate::Status::kNeedsReread;
  if (!table.database.empty() && !table.table.empty()) u.reread.push_back(table);
  u.message = std::move(message);
  return u;
}

CatalogUpdate Unknown(const QualifiedName& reread, std::string message) {
  CatalogUpdate u;
  u.status = CatalogUpdate::Status::kUnknownTable;
  if (!reread.database.empty()) u.reread.push_back(reread);
  u.message = std::move(message);
  return u;
}

// ---- JSON text ---------------------------------------------------------------------------------

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

// An object member (key, value): a std::pair<std::string, JValue> member of JValue itself does
// not compile with clang (JValue is incomplete where pair's traits need it).
struct JMember;
struct JValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
  bool b = false;
  int64_t n = 0;
  std::string s;
  std::vector<JValue> a;
  std::vector<JMember> o;

  const JValue* Get(std::string_view key) const;
};
struct JMember {
  JMember(std::string k, JValue v) : key(std::move(k)), value(std::move(v)) {}
  std::string key;
  JValue value;
};

const JValue* JValue::Get(std::string_view key) const {
  for (const auto& [k, v] : o) {
    if (k == key) return &v;
  }
  return nullptr;
}

/// A small JSON reader for Serialize() output. Strings are taken byte for byte (no UTF-8 check),
/// numbers must be integers.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : t_(text) {}

  JValue Document() {
    JValue v = Value(0);
    Space();
    if (i_ != t_.size()) Fail("trailing text");
    return v;
  }

 private:
  [[noreturn]] void Fail(std::string_view what) const {
    Throw(ErrorKind::kState, "schema catalog: malformed serialized catalog at byte {}: {}", i_, what);
  }
  void Space() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  bool Lit(std::string_view w) {
    if (t_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  JValue Value(int depth) {
    if (depth > 32) Fail("nesting too deep");
    Space();
    if (i_ >= t_.size()) Fail("unexpected end");
    JValue v;
    char c = t_[i_];
    if (c == '{') {
      v.type = JValue::Type::kObject;
      ++i_;
      Space();
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
        return v;
      }
      for (;;) {
        Space();
        if (i_ >= t_.size() || t_[i_] != '"') Fail("expected a key");
        std::string key = String();
        Space();
        if (i_ >= t_.size() || t_[i_] != ':') Fail("expected ':'");
        ++i_;
        v.o.emplace_back(std::move(key), Value(depth + 1));
        Space();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == '}') {
          ++i_;
          return v;
        }
        Fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.type = JValue::Type::kArray;
      ++i_;
      Space();
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        v.a.push_back(Value(depth + 1));
        Space();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == ']') {
          ++i_;
          return v;
        }
        Fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.type = JValue::Type::kString;
      v.s = String();
      return v;
    }
    if (Lit("true")) {
      v.type = JValue::Type::kBool;
      v.b = true;
      return v;
    }
    if (Lit("false")) {
      v.type = JValue::Type::kBool;
      return v;
    }
    if (Lit("null")) return v;
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      v.type = JValue::Type::kNumber;
      bool neg = c == '-';
      if (neg) ++i_;
      size_t start = i_;
      uint64_t n = 0;
      while (i_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[i_]))) {
        if (n > (UINT64_MAX - 9) / 10) Fail("number too large");
        n = n * 10 + static_cast<uint64_t>(t_[i_++] - '0');
      }
      if (i_ == start) Fail("expected digits");
      if (n > static_cast<uint64_t>(INT64_MAX)) Fail("number too large");
      v.n = neg ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
      return v;
    }
    Fail("unexpected character");
  }
  unsigned Hex4() {
    if (i_ + 4 > t_.size()) Fail("short \\u escape");
    unsigned u = 0;
    for (int k = 0; k < 4; ++k) {
      char h = t_[i_++];
      u <<= 4;
      if (h >= '0' && h <= '9') {
        u |= static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        u |= static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        u |= static_cast<unsigned>(h - 'A' + 10);
      } else {
        Fail("bad \\u escape");
      }
    }
    return u;
  }
  std::string String() {
    ++i_;  // opening quote
    std::string out;
    for (;;) {
      if (i_ >= t_.size()) Fail("unterminated string");
      char c = t_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= t_.size()) Fail("unterminated escape");
      char e = t_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          unsigned cp = Hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && Lit("\\u")) {
            unsigned lo = Hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendCodePoint(cp, out);
          break;
        }
        default: Fail("bad escape");
      }
    }
  }

  std::string_view t_;
  size_t i_ = 0;
};

[[noreturn]] void BadField(std::string_view field) {
  Throw(ErrorKind::kState, "schema catalog: malformed serialized catalog: field \"{}\" missing or of the wrong type",
        field);
}

const std::string& GetStr(const JValue& obj, std::string_view key, bool required = true) {
  static const std::string kEmpty;
  const JValue* v = obj.Get(key);
  if (!v) {
    if (required) BadField(key);
    return kEmpty;
  }
  if (v->type != JValue::Type::kString) BadField(key);
  return v->s;
}

int64_t GetInt(const JValue& obj, std::string_view key, int64_t def = 0) {
  const JValue* v = obj.Get(key);
  if (!v) return def;
  if (v->type != JValue::Type::kNumber) BadField(key);
  return v->n;
}

bool GetBool(const JValue& obj, std::string_view key, bool def = false) {
  const JValue* v = obj.Get(key);
  if (!v) return def;
  if (v->type != JValue::Type::kBool) BadField(key);
  return v->b;
}

const JValue& GetArr(const JValue& obj, std::string_view key) {
  static const JValue kEmptyArray = [] {
    JValue v;
    v.type = JValue::Type::kArray;
    return v;
  }();
  const JValue* v = obj.Get(key);
  if (!v) return kEmptyArray;
  if (v->type != JValue::Type::kArray) BadField(key);
  return *v;
}

ValueKind KindFromName(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(ValueKind::kGeometry); ++k) {
    if (name == ValueKindName(static_cast<ValueKind>(k))) return static_cast<ValueKind>(k);
  }
  Throw(ErrorKind::kState, "schema catalog: malformed serialized catalog: unknown value kind \"{}\"", name);
}

void WriteColumn(std::string& o, const ColumnSchema& c) {
  o += "{\"name\":";
  AppendJsonString(o, c.name);
  o += ",\"kind\":";
  AppendJsonString(o, ValueKindName(c.kind));
  o += fmt::format(",\"mysql_type\":{}", c.mysql_type);
  o += ",\"type\":";
  AppendJsonString(o, c.column_type);
  if (!c.nullable) o += ",\"nullable\":false";
  if (c.is_unsigned) o += ",\"unsigned\":true";
  if (c.length) o += fmt::format(",\"length\":{}", c.length);
  if (c.precision) o += fmt::format(",\"precision\":{}", c.precision);
  if (c.scale) o += fmt::format(",\"scale\":{}", c.scale);
  if (c.fsp) o += fmt::format(",\"fsp\":{}", c.fsp);
  if (!c.charset.empty()) {
    o += ",\"charset\":";
    AppendJsonString(o, c.charset);
  }
  if (!c.enum_values.empty()) {
    o += ",\"values\":[";
    for (size_t i = 0; i < c.enum_values.size(); ++i) {
      if (i) o += ",";
      AppendJsonString(o, c.enum_values[i]);
    }
    o += "]";
  }
  if (c.is_enum) o += ",\"enum\":true";
  if (c.is_set) o += ",\"set\":true";
  if (c.generated) o += ",\"generated\":true";
  if (c.has_default) {
    o += ",\"default\":";
    AppendJsonString(o, c.default_value);
  }
  o += "}";
}

ColumnSchema ReadColumn(const JValue& v) {
  if (v.type != JValue::Type::kObject) BadField("columns[]");
  ColumnSchema c;
  c.name = GetStr(v, "name");
  c.kind = KindFromName(GetStr(v, "kind"));
  c.mysql_type = static_cast<uint8_t>(GetInt(v, "mysql_type"));
  c.column_type = GetStr(v, "type");
  c.nullable = GetBool(v, "nullable", true);
  c.is_unsigned = GetBool(v, "unsigned");
  c.length = static_cast<int>(GetInt(v, "length"));
  c.precision = static_cast<int>(GetInt(v, "precision"));
  c.scale = static_cast<int>(GetInt(v, "scale"));
  c.fsp = static_cast<int>(GetInt(v, "fsp"));
  c.charset = GetStr(v, "charset", false);
  for (const JValue& e : GetArr(v, "values").a) {
    if (e.type != JValue::Type::kString) BadField("values[]");
    c.enum_values.push_back(e.s);
  }
  c.is_enum = GetBool(v, "enum");
  c.is_set = GetBool(v, "set");
  c.generated = GetBool(v, "generated");
  if (v.Get("default")) {
    c.has_default = true;
    c.default_value = GetStr(v, "default");
  }
  if (c.kind == ValueKind::kBytes && (c.column_type == "uuid" || c.column_type == "inet4" || c.column_type == "inet6")) {
    // Histories written before MariaDB's UUID/INET4/INET6 were decoded to text kept them as
    // bytes; read them as MakeColumnSchema makes them now, so the binlog decodes them to text.
    c.kind = ValueKind::kString;
    c.charset.clear();
  }
  return c;
}

}  // namespace

const char* CatalogStatusName(CatalogUpdate::Status status) {
  switch (status) {
    case CatalogUpdate::Status::kNoop: return "Noop";
    case CatalogUpdate::Status::kApplied: return "Applied";
    case CatalogUpdate::Status::kUnknownTable: return "UnknownTable";
    case CatalogUpdate::Status::kNeedsReread: return "NeedsReread";
  }
  return "?";
}

// ---- charsets and storage ------------------------------------------------------------------------

void SchemaCatalog::SetServerCharset(std::string_view charset) { server_charset_ = NormalizeCharset(charset); }

void SchemaCatalog::SetDatabaseCharset(const std::string& database, std::string_view charset) {
  if (charset.empty()) {
    database_charsets_.erase(database);
  } else {
    database_charsets_[database] = NormalizeCharset(charset);
  }
}

std::string SchemaCatalog::DatabaseCharset(const std::string& database) const {
  auto it = database_charsets_.find(database);
  return it != database_charsets_.end() ? it->second : server_charset_;
}

std::string SchemaCatalog::TableCharset(const std::string& database, const std::string& table) const {
  auto it = tables_.find(Key{database, table});
  if (it != tables_.end() && !it->second.charset.empty()) return it->second.charset;
  return DatabaseCharset(database);
}

uint64_t SchemaCatalog::NextVersion(const Key& key) const {
  uint64_t last = 0;
  auto it = last_versions_.find(key);
  if (it != last_versions_.end()) last = it->second;
  auto t = tables_.find(key);
  if (t != tables_.end()) last = std::max(last, t->second.schema->version);
  return last + 1;
}

void SchemaCatalog::Store(const Key& key, TableSchemaPtr schema, std::string charset) {
  last_versions_[key] = std::max(last_versions_[key], schema->version);
  tables_[key] = Entry{std::move(schema), std::move(charset)};
}

TableSchemaPtr SchemaCatalog::Put(const TableSchema& schema, std::string_view table_charset) {
  Key key{schema.database, schema.table};
  auto copy = std::make_shared<TableSchema>(schema);
  copy->version = std::max(schema.version, NextVersion(key));
  TableSchemaPtr stored = copy;
  Store(key, stored, NormalizeCharset(table_charset));
  return stored;
}

TableSchemaPtr SchemaCatalog::Get(std::string_view database, std::string_view table) const {
  auto it = tables_.find(Key{std::string(database), std::string(table)});
  return it == tables_.end() ? nullptr : it->second.schema;
}

bool SchemaCatalog::Remove(std::string_view database, std::string_view table) {
  return tables_.erase(Key{std::string(database), std::string(table)}) > 0;
}

std::vector<TableSchemaPtr> SchemaCatalog::List() const {
  std::vector<TableSchemaPtr> out;
  out.reserve(tables_.size());
  for (const auto& [key, entry] : tables_) out.push_back(entry.schema);
  return out;
}

// ---- DDL -----------------------------------------------------------------------------------------

CatalogUpdate SchemaCatalog::Apply(const std::vector<DdlChange>& changes) {
  CatalogUpdate all;
  for (const DdlChange& c : changes) {
    CatalogUpdate u = Apply(c);
    if (Severity(u.status) > Severity(all.status)) all.status = u.status;
    for (auto& ch : u.changes) all.changes.push_back(std::move(ch));
    for (auto& r : u.reread) all.reread.push_back(std::move(r));
    if (!u.message.empty()) all.message += (all.message.empty() ? "" : "; ") + u.message;
  }
  return all;
}

CatalogUpdate SchemaCatalog::Apply(const DdlChange& change) {
  switch (change.kind) {
    case DdlKind::kIgnored: return Noop(change.reason);
    case DdlKind::kUnparsed:
      return Reread(change.table, fmt::format("DDL not understood ({}); re-read the schema of {}", change.reason,
                                              change.table.database.empty() ? std::string("the affected tables")
                                                                            : change.table.ToString()));
    case DdlKind::kCreateTable: return ApplyCreate(change);
    case DdlKind::kCreateTableLike: return ApplyCreateLike(change);
    case DdlKind::kAlterTable: return ApplyAlter(change);
    case DdlKind::kRenameTable: return ApplyRename(change);
    case DdlKind::kDropTable: {
      Key key{change.table.database, change.table.table};
      auto it = tables_.find(key);
      if (it == tables_.end()) return Noop(fmt::format("DROP TABLE {}: not in the catalog", change.table.ToString()));
      CatalogUpdate u;
      u.status = CatalogUpdate::Status::kApplied;
      u.changes.emplace_back(it->second.schema, nullptr);
      tables_.erase(it);
      return u;
    }
    case DdlKind::kTruncateTable: return Noop("TRUNCATE TABLE does not change the schema");
    case DdlKind::kCreateDatabase: {
      if (change.if_not_exists && database_charsets_.count(change.database)) {
        return Noop(fmt::format("database {} exists", change.database));
      }
      SetDatabaseCharset(change.database, change.charset);
      CatalogUpdate u;
      u.status = CatalogUpdate::Status::kApplied;
      return u;
    }
    case DdlKind::kAlterDatabase: {
      if (!change.charset.empty()) SetDatabaseCharset(change.database, change.charset);
      CatalogUpdate u;
      u.status = CatalogUpdate::Status::kApplied;
      return u;
    }
    case DdlKind::kDropDatabase: return ApplyDropDatabase(change);
  }
  return Noop("unknown change kind");
}

CatalogUpdate SchemaCatalog::ApplyCreate(const DdlChange& change) {
  Key key{change.table.database, change.table.table};
  auto it = tables_.find(key);
  TableSchemaPtr before = it == tables_.end() ? nullptr : it->second.schema;
  if (before && change.if_not_exists && !change.or_replace) {
    return Noop(fmt::format("CREATE TABLE IF NOT EXISTS {}: the table exists and is kept", change.table.ToString()));
  }
  std::string charset = change.table_charset;
  if (charset == "default") charset.clear();
  std::string effective = charset.empty() ? DatabaseCharset(change.table.database) : charset;
  auto schema = std::make_shared<TableSchema>(change.schema);
  schema->database = change.table.database;
  schema->table = change.table.table;
  for (ColumnSchema& c : schema->columns) {
    if (c.charset.empty() && !effective.empty()) ApplyColumnCharset(c, effective);
  }
  schema->version = NextVersion(key);
  Store(key, schema, charset);
  CatalogUpdate u;
  u.status = CatalogUpdate::Status::kApplied;
  u.changes.emplace_back(before, schema);
  return u;
}

CatalogUpdate SchemaCatalog::ApplyCreateLike(const DdlChange& change) {
  Key key{change.table.database, change.table.table};
  auto it = tables_.find(key);
  TableSchemaPtr before = it == tables_.end() ? nullptr : it->second.schema;
  if (before && change.if_not_exists) {
    return Noop(fmt::format("CREATE TABLE IF NOT EXISTS {}: the table exists and is kept", change.table.ToString()));
  }
  auto src = tables_.find(Key{change.source.database, change.source.table});
  if (src == tables_.end()) {
    return Reread(change.table, fmt::format("CREATE TABLE {} LIKE {}: the source is not in the catalog",
                                            change.table.ToString(), change.source.ToString()));
  }
  auto schema = std::make_shared<TableSchema>(*src->second.schema);
  schema->database = change.table.database;
  schema->table = change.table.table;
  schema->version = NextVersion(key);
  std::string charset = src->second.charset;
  Store(key, schema, std::move(charset));
  CatalogUpdate u;
  u.status = CatalogUpdate::Status::kApplied;
  u.changes.emplace_back(before, schema);
  return u;
}

CatalogUpdate SchemaCatalog::ApplyRename(const DdlChange& change) {
  Key from{change.table.database, change.table.table};
  Key to{change.new_table.database, change.new_table.table};
  auto it = tables_.find(from);
  if (it == tables_.end()) {
    return Unknown(change.new_table, fmt::format("RENAME TABLE {} TO {}: the source is not in the catalog",
                                                 change.table.ToString(), change.new_table.ToString()));
  }
  Entry entry = it->second;
  tables_.erase(it);
  auto schema = std::make_shared<TableSchema>(*entry.schema);
  schema->database = to.first;
  schema->table = to.second;
  schema->version = std::max(entry.schema->version + 1, NextVersion(to));
  TableSchemaPtr before = entry.schema;
  Store(to, schema, std::move(entry.charset));
  CatalogUpdate u;
  u.status = CatalogUpdate::Status::kApplied;
  u.changes.emplace_back(before, schema);
  return u;
}

CatalogUpdate SchemaCatalog::ApplyDropDatabase(const DdlChange& change) {
  CatalogUpdate u;
  u.status = CatalogUpdate::Status::kApplied;
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (it->first.first == change.database) {
      u.changes.emplace_back(it->second.schema, nullptr);
      it = tables_.erase(it);
    } else {
      ++it;
    }
  }
  database_charsets_.erase(change.database);
  return u;
}

CatalogUpdate SchemaCatalog::ApplyAlter(const DdlChange& change) {
  Key key{change.table.database, change.table.table};
  auto it = tables_.find(key);
  if (it == tables_.end()) {
    if (change.if_exists) return Noop(fmt::format("ALTER TABLE IF EXISTS {}: not in the catalog", change.table.ToString()));
    QualifiedName target = change.table;
    for (const AlterOp& op : change.ops) {
      if (op.kind == AlterOpKind::kRenameTable) target = op.new_table;
    }
    return Unknown(target, fmt::format("ALTER TABLE {}: not in the catalog", change.table.ToString()));
  }
  if (change.ops.empty()) return Noop(fmt::format("ALTER TABLE {}: no column change", change.table.ToString()));
  const TableSchemaPtr before = it->second.schema;

  Work w;
  w.cols = before->columns;
  for (size_t i = 0; i < w.cols.size(); ++i) w.ids.push_back(static_cast<int>(i));
  w.next_id = static_cast<int>(w.cols.size());
  for (int idx : before->primary_key) w.pk.push_back(idx);
  w.charset = it->second.charset;
  const std::string& db = change.table.database;
  auto effective_charset = [&]() { return w.charset.empty() ? DatabaseCharset(db) : w.charset; };
  auto resolve_charset = [&](ColumnSchema& c) {
    std::string cs = effective_charset();
    if (c.charset.empty() && !cs.empty()) ApplyColumnCharset(c, cs);
  };
  auto find = [&](const std::string& name, const char* what) {
    int i = w.Find(name);
    if (i < 0) throw AlterFailure{fmt::format("{}: column `{}` does not exist", what, name)};
    return i;
  };
  // Position for a column about to be inserted (the column itself is not in w.cols).
  auto position = [&](const AlterOp& op, size_t default_pos) -> size_t {
    switch (op.placement) {
      case ColumnPlacement::kDefault: return default_pos;
      case ColumnPlacement::kFirst: return 0;
      case ColumnPlacement::kAfter: return static_cast<size_t>(find(op.after, "AFTER")) + 1;
    }
    return default_pos;
  };
  auto insert = [&](size_t pos, ColumnSchema col, int id) {
    w.cols.insert(w.cols.begin() + static_cast<std::ptrdiff_t>(pos), std::move(col));
    w.ids.insert(w.ids.begin() + static_cast<std::ptrdiff_t>(pos), id);
  };
  auto erase = [&](size_t i) {
    w.cols.erase(w.cols.begin() + static_cast<std::ptrdiff_t>(i));
    w.ids.erase(w.ids.begin() + static_cast<std::ptrdiff_t>(i));
  };
  // MODIFY / CHANGE: redefine column `i` in place or at a new position, keeping its identity.
  auto redefine = [&](const AlterOp& op, int i) {
    ColumnSchema col = op.definition.column;
    int other = w.Find(col.name);
    if (other >= 0 && other != i) {
      throw AlterFailure{fmt::format("CHANGE `{}` to `{}`: a column `{}` already exists", op.column, col.name, col.name)};
    }
    resolve_charset(col);
    int id = w.ids[static_cast<size_t>(i)];
    erase(static_cast<size_t>(i));
    if (op.placement == ColumnPlacement::kAfter && w.Find(op.after) < 0) {
      throw AlterFailure{fmt::format("AFTER: column `{}` does not exist", op.after)};
    }
    size_t pos = position(op, static_cast<size_t>(i));
    if (op.definition.primary_key) w.pk = {id};
    if (w.InPk(id)) col.nullable = false;
    insert(pos, std::move(col), id);
  };

  QualifiedName final_name = change.table;
  try {
    for (const AlterOp& op : change.ops) {
      switch (op.kind) {
        case AlterOpKind::kAddColumn: {
          if (w.Find(op.definition.column.name) >= 0) {
            if (op.if_exists) break;
            throw AlterFailure{fmt::format("ADD: column `{}` already exists", op.definition.column.name)};
          }
          ColumnSchema col = op.definition.column;
          resolve_charset(col);
          size_t pos = position(op, w.cols.size());
          int id = w.next_id++;
          if (op.definition.primary_key) {
            w.pk = {id};
            col.nullable = false;
          }
          insert(pos, std::move(col), id);
          break;
        }
        case AlterOpKind::kDropColumn: {
          int i = w.Find(op.column);
          if (i < 0) {
            if (op.if_exists) break;
            throw AlterFailure{fmt::format("DROP: column `{}` does not exist", op.column)};
          }
          int id = w.ids[static_cast<size_t>(i)];
          // A dropped column leaves every index it is part of, the primary key included.
          w.pk.erase(std::remove(w.pk.begin(), w.pk.end(), id), w.pk.end());
          erase(static_cast<size_t>(i));
          break;
        }
        case AlterOpKind::kModifyColumn:
        case AlterOpKind::kChangeColumn: {
          int i = w.Find(op.column);
          if (i < 0) {
            if (op.if_exists) break;
            throw AlterFailure{fmt::format("{}: column `{}` does not exist",
                                           op.kind == AlterOpKind::kModifyColumn ? "MODIFY" : "CHANGE", op.column)};
          }
          redefine(op, i);
          break;
        }
        case AlterOpKind::kRenameColumn: {
          int i = w.Find(op.column);
          if (i < 0) {
            if (op.if_exists) break;
            throw AlterFailure{fmt::format("RENAME COLUMN: column `{}` does not exist", op.column)};
          }
          int other = w.Find(op.new_name);
          if (other >= 0 && other != i) {
            throw AlterFailure{fmt::format("RENAME COLUMN `{}` TO `{}`: the name is taken", op.column, op.new_name)};
          }
          w.cols[static_cast<size_t>(i)].name = op.new_name;
          break;
        }
        case AlterOpKind::kSetDefault:
        case AlterOpKind::kDropDefault: {
          int i = w.Find(op.column);
          if (i < 0) {
            if (op.if_exists) break;
            throw AlterFailure{fmt::format("ALTER COLUMN: column `{}` does not exist", op.column)};
          }
          ColumnSchema& c = w.cols[static_cast<size_t>(i)];
          c.has_default = op.kind == AlterOpKind::kSetDefault && op.has_default;
          c.default_value = c.has_default ? op.default_value : std::string();
          break;
        }
        case AlterOpKind::kAddPrimaryKey: {
          std::vector<int> pk;
          for (const auto& name : op.key_columns) {
            int i = find(name, "ADD PRIMARY KEY");
            pk.push_back(w.ids[static_cast<size_t>(i)]);
            w.cols[static_cast<size_t>(i)].nullable = false;  // primary key columns are NOT NULL
          }
          w.pk = std::move(pk);
          break;
        }
        case AlterOpKind::kDropPrimaryKey: w.pk.clear(); break;
        case AlterOpKind::kRenameTable: final_name = op.new_table; break;
        case AlterOpKind::kConvertCharset: {
          std::string cs = op.charset == "default" ? DatabaseCharset(db) : op.charset;
          if (cs.empty()) throw AlterFailure{"CONVERT TO CHARACTER SET DEFAULT: the database charset is unknown"};
          for (ColumnSchema& c : w.cols) ApplyColumnCharset(c, cs, /*resize_text=*/true);
          w.charset = cs;
          break;
        }
        case AlterOpKind::kSetTableCharset:
          w.charset = op.charset == "default" ? std::string() : op.charset;
          break;
      }
    }
  } catch (const AlterFailure& f) {
    return Reread(change.table, fmt::format("ALTER TABLE {} does not fit the catalog's schema ({}); re-read it",
                                            change.table.ToString(), f.message));
  }

  auto after = std::make_shared<TableSchema>();
  after->database = final_name.database;
  after->table = final_name.table;
  after->columns = std::move(w.cols);
  for (int id : w.pk) {
    auto pos = std::find(w.ids.begin(), w.ids.end(), id);
    if (pos != w.ids.end()) after->primary_key.push_back(static_cast<int>(pos - w.ids.begin()));
  }
  Key final_key{final_name.database, final_name.table};
  after->version = std::max(before->version + 1, NextVersion(final_key));
  if (final_key != key) tables_.erase(key);
  Store(final_key, after, std::move(w.charset));
  CatalogUpdate u;
  u.status = CatalogUpdate::Status::kApplied;
  u.changes.emplace_back(before, after);
  return u;
}

// ---- serialization --------------------------------------------------------------------------------

std::string SchemaCatalog::Serialize() const {
  std::string o = "{\"format\":1,\"server_charset\":";
  AppendJsonString(o, server_charset_);
  o += ",\"databases\":[";
  bool first = true;
  for (const auto& [db, cs] : database_charsets_) {
    if (!first) o += ",";
    first = false;
    o += "{\"name\":";
    AppendJsonString(o, db);
    o += ",\"charset\":";
    AppendJsonString(o, cs);
    o += "}";
  }
  o += "],\"versions\":[";
  first = true;
  for (const auto& [key, version] : last_versions_) {
    if (tables_.count(key)) continue;  // live tables carry their version
    if (!first) o += ",";
    first = false;
    o += "{\"db\":";
    AppendJsonString(o, key.first);
    o += ",\"table\":";
    AppendJsonString(o, key.second);
    o += fmt::format(",\"version\":{}}}", version);
  }
  o += "],\"tables\":[";
  first = true;
  for (const auto& [key, entry] : tables_) {
    const TableSchema& t = *entry.schema;
    if (!first) o += ",";
    first = false;
    o += "\n{\"db\":";
    AppendJsonString(o, t.database);
    o += ",\"table\":";
    AppendJsonString(o, t.table);
    o += fmt::format(",\"version\":{}", t.version);
    if (!entry.charset.empty()) {
      o += ",\"charset\":";
      AppendJsonString(o, entry.charset);
    }
    o += ",\"primary_key\":[";
    for (size_t i = 0; i < t.primary_key.size(); ++i) o += fmt::format("{}{}", i ? "," : "", t.primary_key[i]);
    o += "],\"columns\":[";
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (i) o += ",";
      WriteColumn(o, t.columns[i]);
    }
    o += "]}";
  }
  o += "]}";
  return o;
}

SchemaCatalog SchemaCatalog::Deserialize(std::string_view text) {
  JValue doc = JsonReader(text).Document();
  if (doc.type != JValue::Type::kObject) BadField("(document)");
  if (GetInt(doc, "format", -1) != 1) {
    Throw(ErrorKind::kState, "schema catalog: unsupported serialized format {} (this build reads format 1)",
          GetInt(doc, "format", -1));
  }
  SchemaCatalog cat;
  cat.server_charset_ = GetStr(doc, "server_charset", false);
  for (const JValue& d : GetArr(doc, "databases").a) {
    cat.database_charsets_[GetStr(d, "name")] = GetStr(d, "charset");
  }
  for (const JValue& v : GetArr(doc, "versions").a) {
    cat.last_versions_[Key{GetStr(v, "db"), GetStr(v, "table")}] = static_cast<uint64_t>(GetInt(v, "version"));
  }
  for (const JValue& tv : GetArr(doc, "tables").a) {
    if (tv.type != JValue::Type::kObject) BadField("tables[]");
    auto t = std::make_shared<TableSchema>();
    t->database = GetStr(tv, "db");
    t->table = GetStr(tv, "table");
    t->version = static_cast<uint64_t>(GetInt(tv, "version"));
    for (const JValue& c : GetArr(tv, "columns").a) t->columns.push_back(ReadColumn(c));
    for (const JValue& p : GetArr(tv, "primary_key").a) {
      if (p.type != JValue::Type::kNumber || p.n < 0 || p.n >= static_cast<int64_t>(t->columns.size())) {
        BadField("primary_key[]");
      }
      t->primary_key.push_back(static_cast<int>(p.n));
    }
    Key key{t->database, t->table};
    std::string charset = GetStr(tv, "charset", false);
    cat.Store(key, std::move(t), std::move(charset));
  }
  return cat;
}

}  // namespace sluice::mysql
