#include "mysql/source_info.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/error.h"
#include "common/log.h"
#include "mysql/column_type.h"

namespace sluice::mysql {

namespace {

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  return s;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

std::string Val(const Row& r, int i) { return (i >= 0 && r[i]) ? *r[i] : std::string(); }

// MySQL's (major, minor, patch) from a version string's leading "X.Y.Z"; false when it has none.
bool ParseVersion(std::string_view v, int* major, int* minor, int* patch) {
  int parts[3] = {0, 0, 0};
  size_t i = 0;
  for (int k = 0; k < 3; ++k) {
    if (i >= v.size() || !std::isdigit(static_cast<unsigned char>(v[i]))) return false;
    int n = 0;
    for (; i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])) && n < 100000; ++i) n = n * 10 + (v[i] - '0');
    parts[k] = n;
    if (k < 2) {
      if (i >= v.size() || v[i] != '.') return false;
      ++i;
    }
  }
  *major = parts[0];
  *minor = parts[1];
  *patch = parts[2];
  return true;
}

constexpr unsigned kErParseError = 1064;  // ER_PARSE_ERROR: the server does not know the syntax

}  // namespace

std::vector<std::string> ReplicationStatementSyntaxes(ReplicationStatement statement, std::string_view server_version) {
  std::string lower(server_version);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const bool mariadb = lower.find("mariadb") != std::string::npos;
  int major = 0, minor = 0, patch = 0;
  const bool known = !mariadb && ParseVersion(server_version, &major, &minor, &patch);
  auto at_least = [&](int a, int b, int c) {
    return known && (major != a ? major > a : minor != b ? minor > b : patch >= c);
  };
  switch (statement) {
    case ReplicationStatement::kBinlogStatus:
      if (mariadb) return {"SHOW MASTER STATUS", "SHOW BINLOG STATUS"};
      if (at_least(8, 2, 0)) return {"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"};
      return {"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"};
    case ReplicationStatement::kReplicaHosts:
      if (mariadb) return {"SHOW SLAVE HOSTS", "SHOW REPLICA HOSTS"};
      if (at_least(8, 0, 22)) return {"SHOW REPLICAS", "SHOW SLAVE HOSTS"};
      return {"SHOW SLAVE HOSTS", "SHOW REPLICAS"};
  }
  return {};
}

ResultSet QueryReplicationStatement(Connection& conn, ReplicationStatement statement) {
  return QueryFirstAccepted(conn, ReplicationStatementSyntaxes(statement, conn.ServerVersion()));
}

ResultSet QueryFirstAccepted(Connection& conn, const std::vector<std::string>& syntaxes) {
  SLUICE_CHECK(!syntaxes.empty(), "QueryFirstAccepted needs at least one statement");
  for (size_t k = 0;; ++k) {
    try {
      return conn.Query(syntaxes[k]);
    } catch (const Error& e) {
      // The handle still holds the failed statement's error number.
      const bool unknown_syntax = conn.handle() && mysql_errno(conn.handle()) == kErParseError;
      if (!unknown_syntax) throw;
      if (k + 1 < syntaxes.size()) continue;
      std::string tried;
      for (const auto& s : syntaxes) tried += (tried.empty() ? "" : " nor ") + s;
      Throw(ErrorKind::kSource,
            "the MySQL server at {}:{} (version {}) understands neither {}: {}. Report the server version to "
            "the Sluice maintainers.",
            conn.options().host, conn.options().port, conn.ServerVersion(), tried, e.what());
    }
  }
}

uint32_t BinlogFileSequence(const std::string& file) {
  size_t dot = file.rfind('.');
  if (dot == std::string::npos || dot + 1 >= file.size()) {
    Throw(ErrorKind::kSource, "binlog file name '{}' has no numeric extension", file);
  }
  uint64_t n = 0;
  for (size_t i = dot + 1; i < file.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(file[i]))) {
      Throw(ErrorKind::kSource, "binlog file name '{}' has a non-numeric extension", file);
    }
    n = n * 10 + static_cast<uint64_t>(file[i] - '0');
    if (n > 0xFFFFFFFFull) Throw(ErrorKind::kSource, "binlog file number of '{}' is too large", file);
  }
  return static_cast<uint32_t>(n);
}

SourceFacts ValidateSource(Connection& conn, uint32_t our_server_id) {
  SourceFacts facts;
  facts.version = conn.ServerVersion();
  facts.is_mariadb = conn.IsMariaDB();
  std::vector<std::string> problems;
  ResultSet vars = conn.Query(
      "SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image, @@global.server_id");
  const Row& v = vars.rows.at(0);
  std::string log_bin = Val(v, 0), format = Upper(Val(v, 1)), image = Upper(Val(v, 2));
  facts.server_id = static_cast<uint32_t>(std::stoul(Val(v, 3).empty() ? "0" : Val(v, 3)));
  if (log_bin != "1" && Upper(log_bin) != "ON") {
    problems.push_back("the binary log is off (log_bin = " + log_bin +
                       "): start the server with log-bin (e.g. log-bin=mysql-bin in my.cnf) and restart it");
  }
  if (format != "ROW") {
    problems.push_back("binlog_format is " + format +
                       ", sluice needs ROW: SET GLOBAL binlog_format = 'ROW' and set binlog-format=ROW in my.cnf");
  }
  if (image != "FULL") {
    problems.push_back("binlog_row_image is " + image +
                       ", sluice needs FULL: SET GLOBAL binlog_row_image = 'FULL' and set binlog-row-image=FULL in my.cnf");
  }
  if (facts.server_id == our_server_id) {
    problems.push_back(fmt::format("source.database.server.id {} equals the source server's own server_id; "
                                   "choose a unique id (e.g. 5401)",
                                   our_server_id));
  }
  // Privileges from SHOW GRANTS; ALL PRIVILEGES covers everything.
  ResultSet grants = conn.Query("SHOW GRANTS FOR CURRENT_USER()");
  std::string all;
  for (const auto& r : grants.rows) all += Upper(Val(r, 0)) + "\n";
  auto has = [&](std::initializer_list<const char*> names) {
    if (all.find("ALL PRIVILEGES ON *.*") != std::string::npos) return true;
    for (const char* n : names) {
      if (all.find(n) != std::string::npos) return true;
    }
    return false;
  };
  std::vector<std::string> missing;
  if (!has({"REPLICATION SLAVE", "REPLICATION REPLICA"})) missing.push_back("REPLICATION SLAVE");
  if (!has({"REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"})) missing.push_back("REPLICATION CLIENT");
  if (!has({"SELECT"})) missing.push_back("SELECT");
  if (!has({"RELOAD"})) missing.push_back("RELOAD");
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    problems.push_back(fmt::format("user '{}' lacks {}: run GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, "
                                   "REPLICATION CLIENT ON *.* TO '{}'@'%'; as an administrator",
                                   conn.options().user, list, conn.options().user));
  }
  // Another replica already registered with our server id?
  try {
    ResultSet hosts = QueryReplicationStatement(conn, ReplicationStatement::kReplicaHosts);
    int id_col = hosts.Col("Server_id");  // SHOW REPLICAS: Server_Id (Col ignores case)
    for (const auto& r : hosts.rows) {
      if (Val(r, id_col) == std::to_string(our_server_id)) {
        problems.push_back(fmt::format("another replica is connected with server id {} ({}); "
                                       "give source.database.server.id a unique value",
                                       our_server_id, facts.is_mariadb ? "SHOW SLAVE HOSTS" : "SHOW REPLICAS"));
      }
    }
  } catch (const Error&) {
    // SHOW SLAVE HOSTS needs REPLICATION MASTER ADMIN on MariaDB; the clash is then detected
    // when the server drops one of the two connections.
  }
  if (!problems.empty()) {
    std::string m = fmt::format("the MySQL server at {}:{} cannot be captured yet:", conn.options().host,
                                conn.options().port);
    for (const auto& p : problems) m += "\n      - " + p;
    throw Error(ErrorKind::kSource, m);
  }
  return facts;
}

namespace {
BinlogCoordinates MariaDbSnapshotPosition(Connection& conn);
}  // namespace

BinlogCoordinates BeginConsistentSnapshot(Connection& conn, bool is_mariadb, bool* locked) {
  conn.Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  *locked = false;
  try {
    conn.Execute("FLUSH TABLES WITH READ LOCK");
    *locked = true;
  } catch (const Error& e) {
    if (!is_mariadb) throw;
    SLOG_WARN("FLUSH TABLES WITH READ LOCK failed ({}); using MariaDB's lock-free binlog_snapshot position", e.what());
  }
  conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT");
  if (*locked) return CurrentBinlogEnd(conn, is_mariadb);
  return MariaDbSnapshotPosition(conn);
}

namespace {

// MariaDB's binlog position of the consistent-snapshot transaction open on `conn`.
BinlogCoordinates MariaDbSnapshotPosition(Connection& conn) {
  BinlogCoordinates at;
  ResultSet st = conn.Query("SHOW STATUS LIKE 'binlog_snapshot_%'");
  for (const auto& r : st.rows) {
    if (*r[0] == "Binlog_snapshot_file") at.file = *r[1];
    if (*r[0] == "Binlog_snapshot_position") at.pos = std::stoull(*r[1]);
  }
  // The GTID position of that binlog point (MariaDB 10.0+), so the offset can resume by GTID.
  if (!at.file.empty()) {
    at.gtid_set = conn.QueryValue("SELECT BINLOG_GTID_POS('" + conn.Escape(at.file) + "', " + std::to_string(at.pos) +
                                  ")").value_or("");
  }
  return at;
}

}  // namespace

BinlogCoordinates BeginSharedSnapshot(const std::vector<Connection*>& conns, bool is_mariadb, bool* locked,
                                      size_t* usable) {
  SLUICE_CHECK(!conns.empty(), "BeginSharedSnapshot needs a connection");
  *usable = 1;
  if (conns.size() == 1) return BeginConsistentSnapshot(*conns[0], is_mariadb, locked);
  Connection& first = *conns[0];
  for (Connection* c : conns) c->Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  *locked = false;
  try {
    first.Execute("FLUSH TABLES WITH READ LOCK");
    *locked = true;
  } catch (const Error& e) {
    if (!is_mariadb) throw;
    SLOG_WARN("FLUSH TABLES WITH READ LOCK failed ({}): the snapshot is read on one connection (several need the "
              "global read lock to see the same data; GRANT RELOAD ON *.* to the capture user for parallel reading)",
              e.what());
  }
  if (!*locked) {
    first.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT");
    return MariaDbSnapshotPosition(first);
  }
  // No transaction can commit while the lock is held: every snapshot started now sees the same data.
  for (Connection* c : conns) c->Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT");
  *usable = conns.size();
  return CurrentBinlogEnd(first, is_mariadb);
}

BinlogCoordinates CurrentBinlogEnd(Connection& conn, bool is_mariadb) {
  BinlogCoordinates c;
  ResultSet st = QueryReplicationStatement(conn, ReplicationStatement::kBinlogStatus);
  if (st.rows.empty()) {
    Throw(ErrorKind::kSource,
          "SHOW BINARY LOG STATUS (SHOW MASTER STATUS) returned nothing: the binary log is off on {}:{}; start "
          "the server with log-bin (e.g. log-bin=mysql-bin in my.cnf)",
          conn.options().host, conn.options().port);
  }
  c.file = Val(st.rows[0], st.Col("File"));
  c.pos = std::stoull(Val(st.rows[0], st.Col("Position")));
  if (is_mariadb) {
    c.gtid_set = conn.QueryValue("SELECT @@global.gtid_binlog_pos").value_or("");
  } else {
    int g = st.Col("Executed_Gtid_Set");
    if (g >= 0) c.gtid_set = Val(st.rows[0], g);
  }
  return c;
}

bool ServerUsesGtids(Connection& conn, bool is_mariadb) {
  if (is_mariadb) return true;  // MariaDB gives every transaction a GTID
  std::string mode = Upper(conn.QueryValue("SELECT @@global.gtid_mode").value_or("OFF"));
  return mode == "ON";
}

std::string GtidListAtStartOf(Connection& conn, const std::string& file) {
  ResultSet rs = conn.Query("SHOW BINLOG EVENTS IN '" + conn.Escape(file) + "' LIMIT 4");
  int type = rs.Col("Event_type"), info = rs.Col("Info");
  for (const auto& r : rs.rows) {
    if (Val(r, type) != "Gtid_list") continue;
    std::string list = Val(r, info);
    if (!list.empty() && list.front() == '[') list = list.substr(1);
    if (!list.empty() && list.back() == ']') list.pop_back();
    return list;
  }
  return "";
}

std::vector<std::string> ListBinlogFiles(Connection& conn) {
  std::vector<std::string> files;
  ResultSet rs = conn.Query("SHOW BINARY LOGS");
  for (const auto& r : rs.rows) files.push_back(Val(r, 0));
  return files;
}

namespace {

std::vector<TableSchemaPtr> LoadWhere(Connection& conn, const std::string& where,
                                      const TableFilter* filter) {
  ResultSet cols = conn.Query(
      "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.CHARACTER_SET_NAME, c.IS_NULLABLE, "
      "c.EXTRA, c.COLUMN_DEFAULT FROM information_schema.COLUMNS c JOIN information_schema.TABLES t "
      "ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME "
      "WHERE t.TABLE_TYPE = 'BASE TABLE' AND " + where +
      " ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION");
  ResultSet keys = conn.Query(
      "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE k "
      "WHERE k.CONSTRAINT_NAME = 'PRIMARY' AND " + ReplaceAll(where, "c.TABLE_", "k.TABLE_") +
      " ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.ORDINAL_POSITION");
  // MariaDB's JSON is LONGTEXT with a json_valid() check constraint.
  std::map<std::string, bool> json_cols;
  if (conn.IsMariaDB()) {
    try {
      ResultSet checks = conn.Query(
          "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM "
          "information_schema.CHECK_CONSTRAINTS WHERE CHECK_CLAUSE LIKE 'json_valid(%'");
      for (const auto& r : checks.rows) {
        std::string clause = Val(r, 3);
        size_t a = clause.find('`'), b = clause.rfind('`');
        if (a != std::string::npos && b > a) {
          json_cols[Val(r, 0) + "." + Val(r, 1) + "." + clause.substr(a + 1, b - a - 1)] = true;
        }
      }
    } catch (const Error&) {
    }
  }
  std::map<std::string, std::shared_ptr<TableSchema>> tables;
  std::vector<std::string> order;
  for (const auto& r : cols.rows) {
    std::string db = Val(r, 0), table = Val(r, 1);
    if (filter && !filter->IncludeTable(db, table)) continue;
    std::string full = db + "." + table;
    auto& t = tables[full];
    if (!t) {
      t = std::make_shared<TableSchema>();
      t->database = db;
      t->table = table;
      order.push_back(full);
    }
    std::string name = Val(r, 2);
    ColumnSchema c = MakeColumnSchema(name, Val(r, 3), Val(r, 4), Val(r, 5) == "YES");
    if (json_cols.count(full + "." + name)) {
      c.kind = ValueKind::kJson;
    }
    std::string extra = Upper(Val(r, 6));
    c.generated = extra.find("GENERATED") != std::string::npos || extra.find("VIRTUAL") != std::string::npos ||
                  extra.find("PERSISTENT") != std::string::npos || extra.find("STORED") != std::string::npos;
    if (r[7] && *r[7] != "NULL") {
      // MariaDB 10.2.7+ quotes string defaults ('abc', with '' for a quote); numbers and
      // expressions (current_timestamp()) are bare. Keep the value as DDL gives it: unquoted.
      std::string d = *r[7];
      if (d.size() >= 2 && d.front() == '\'' && d.back() == '\'') {
        std::string u;
        for (size_t k = 1; k + 1 < d.size(); ++k) {
          if (d[k] == '\'' && d[k + 1] == '\'') ++k;
          u += d[k];
        }
        d = u;
      }
      c.has_default = true;
      c.default_value = d;
    }
    t->columns.push_back(std::move(c));
  }
  for (const auto& r : keys.rows) {
    auto it = tables.find(Val(r, 0) + "." + Val(r, 1));
    if (it == tables.end()) continue;
    int idx = it->second->FindColumn(Val(r, 2));
    if (idx >= 0) it->second->primary_key.push_back(idx);
  }
  std::vector<TableSchemaPtr> out;
  for (const auto& name : order) out.push_back(tables[name]);
  return out;
}

}  // namespace

CharsetDefaults LoadCharsetDefaults(Connection& conn, const TableFilter& filter) {
  CharsetDefaults d;
  d.server = conn.QueryValue("SELECT @@global.character_set_server").value_or("");
  for (const auto& r : conn.Query("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA").rows) {
    if (filter.IncludeDatabase(Val(r, 0))) d.databases[Val(r, 0)] = Val(r, 1);
  }
  for (const auto& r : conn.Query("SELECT t.TABLE_SCHEMA, t.TABLE_NAME, c.CHARACTER_SET_NAME FROM information_schema.TABLES t "
                                  "JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c "
                                  "ON c.COLLATION_NAME = t.TABLE_COLLATION").rows) {
    if (d.databases.count(Val(r, 0))) d.tables[Val(r, 0) + "." + Val(r, 1)] = Val(r, 2);
  }
  return d;
}

std::vector<TableSchemaPtr> LoadSchemas(Connection& conn, const TableFilter& filter) {
  ResultSet dbs = conn.Query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA");
  std::string in;
  for (const auto& r : dbs.rows) {
    std::string db = Val(r, 0);
    if (!filter.IncludeDatabase(db)) continue;
    in += (in.empty() ? "'" : ",'") + conn.Escape(db) + "'";
  }
  if (in.empty()) return {};
  return LoadWhere(conn, "c.TABLE_SCHEMA IN (" + in + ")", &filter);
}

TableSchemaPtr LoadTableSchema(Connection& conn, const std::string& db, const std::string& table) {
  auto v = LoadWhere(conn, "c.TABLE_SCHEMA = '" + conn.Escape(db) + "' AND c.TABLE_NAME = '" + conn.Escape(table) + "'",
                     nullptr);
  return v.empty() ? nullptr : v[0];
}

}  // namespace sluice::mysql
