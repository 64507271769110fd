#include "common/config.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace sluice {

namespace {

using T = ConfigType;

// clang-format off
const std::vector<ConfigKeySpec> kSpec = {
  // ---- source: Debezium MySQL connector property names --------------------------------------
  {"source", "database.hostname", T::kString, nullptr, nullptr, "MySQL/MariaDB host", true},
  {"source", "database.port", T::kInt, "3306", nullptr, "MySQL/MariaDB port"},
  {"source", "database.user", T::kString, nullptr, nullptr, "user with SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT", true},
  {"source", "database.password", T::kString, "", nullptr, "password (use ${VAR} to read it from the environment)"},
  {"source", "database.server.id", T::kInt, nullptr, nullptr, "replica server id, unique among the source's replicas", true},
  {"source", "database.ssl.mode", T::kEnum, "preferred", "disabled|preferred|required|verify_ca|verify_identity", "TLS to the source"},
  {"source", "database.ssl.ca", T::kString, "", nullptr, "CA certificate(s), PEM file, that signed the server's certificate (verify_ca/verify_identity; Debezium: database.ssl.truststore)"},
  {"source", "database.ssl.cert", T::kString, "", nullptr, "client certificate, PEM file, when the server requires one (Debezium: database.ssl.keystore)"},
  {"source", "database.ssl.key", T::kString, "", nullptr, "private key of database.ssl.cert, PEM file"},
  {"source", "database.ssl.key.password", T::kString, "", nullptr, "passphrase of an encrypted database.ssl.key (Debezium: database.ssl.keystore.password)"},
  {"source", "database.ssl.cipher", T::kString, "", nullptr, "allowed TLS cipher list (OpenSSL syntax); empty: the library's default"},
  {"source", "database.ssl.tls.versions", T::kString, "", nullptr, "allowed TLS versions, e.g. TLSv1.2,TLSv1.3; empty: the library's default"},
  {"source", "topic.prefix", T::kString, nullptr, nullptr, "logical server name: topics are <topic.prefix>.<db>.<table>", true},
  {"source", "database.include.list", T::kList, "", nullptr, "comma-separated regexes of databases to capture"},
  {"source", "database.exclude.list", T::kList, "", nullptr, "comma-separated regexes of databases not to capture"},
  {"source", "table.include.list", T::kList, "", nullptr, "comma-separated regexes of <db>.<table> to capture"},
  {"source", "table.exclude.list", T::kList, "", nullptr, "comma-separated regexes of <db>.<table> not to capture"},
  {"source", "column.exclude.list", T::kList, "", nullptr, "comma-separated regexes of <db>.<table>.<column> to drop"},
  {"source", "snapshot.mode", T::kEnum, "initial", "initial|initial_only|when_needed|never|no_data|always", "what to snapshot at start (Debezium's meaning)"},
  {"source", "gtid.source.includes", T::kList, "", nullptr, "comma-separated regexes of GTID sources kept in the offset and whose transactions are captured: MySQL source UUIDs, MariaDB domain ids"},
  {"source", "gtid.source.excludes", T::kList, "", nullptr, "comma-separated regexes of GTID sources left out of the offset and not captured (see gtid.source.includes)"},
  {"source", "gtid.source.filter.dml.events", T::kBool, "true", nullptr, "skip the row changes of transactions whose GTID source gtid.source.includes/excludes filters out (Debezium's meaning)"},
  {"source", "snapshot.fetch.size", T::kInt, "10000", nullptr, "rows per snapshot chunk (bounded memory)"},
  {"source", "snapshot.max.threads", T::kInt, "2", nullptr, "connections reading the snapshot in parallel (Debezium's name): tables and primary-key ranges of large tables are read concurrently, all in the same consistent snapshot (needs RELOAD for the short global read lock; without it one connection reads). Default 2: the second connection roughly doubles the read rate while the server keeps a core for its other clients"},
  {"source", "connect.timeout.ms", T::kInt, "30000", nullptr, "connection timeout"},
  {"source", "decimal.handling.mode", T::kEnum, "precise", "precise|double|string", "DECIMAL in JSON events"},
  {"source", "time.precision.mode", T::kEnum, "adaptive_time_microseconds", "adaptive_time_microseconds|connect", "TIME/DATETIME in JSON events"},
  {"source", "bigint.unsigned.handling.mode", T::kEnum, "long", "long|precise", "BIGINT UNSIGNED in JSON events"},
  {"source", "binary.handling.mode", T::kEnum, "bytes", "bytes|base64|base64-url-safe|hex", "binary columns in JSON events"},
  {"source", "tombstones.on.delete", T::kBool, "true", nullptr, "emit a tombstone (null value) after each delete event"},
  {"source", "skipped.operations", T::kList, "t", nullptr, "streamed operations to leave out, comma-separated: c (inserts), u (updates), d (deletes), t (truncates), or none (Debezium's meaning; snapshot reads are never skipped). Leaving out c/u/d applies to every output, `run` and views included. TRUNCATE, unless t is listed explicitly: `run` empties the ClickHouse table (and rebuilds the views reading it), `capture` emits Debezium's truncate event (op t; over Kafka to every partition of the table's topic) and `sink` deletes the rows before it"},
  {"source", "schemas.enable", T::kBool, "false", nullptr, "wrap JSON events in Kafka Connect's {schema, payload}"},
  {"source", "include.query", T::kBool, "false", nullptr, "fill source.query with the statement (needs binlog_annotate_row_events / binlog_rows_query_log_events)"},
  {"source", "provide.transaction.metadata", T::kBool, "false", nullptr, "Debezium's transaction metadata: BEGIN/END events on <topic.prefix>.<topic.transaction> and a transaction block (id, total_order, data_collection_order) in every streamed event (capture to Kafka and --output jsonl)"},
  {"source", "topic.transaction", T::kString, "transaction", nullptr, "name of the transaction metadata topic after <topic.prefix>."},
  {"source", "enable.time.adjuster", T::kBool, "true", nullptr, "two-digit years 00-69 -> 2000-2069, 70-99 -> 1970-1999 (Debezium's default)"},
  {"source", "heartbeat.interval.ms", T::kInt, "0", nullptr, "bus.type kafka: a heartbeat record to <topic.heartbeat.prefix>.<topic.prefix> this often (0: none), as Debezium; also the source's replication heartbeat period while idle (0: 1 s), which keeps sluice_lag_seconds truthful"},
  {"source", "topic.heartbeat.prefix", T::kString, "__debezium-heartbeat", nullptr, "first part of the heartbeat topic's name"},
  {"source", "heartbeat.action.query", T::kString, "", nullptr, "statement run on the source every heartbeat.interval.ms (every second when 0), e.g. an UPDATE of a heartbeat table, as in Debezium"},
  // Debezium / Kafka Connect keys that have no meaning for sluice: accepted so existing connector
  // configs carry over, and reported as ignored.
  {"source", "connector.class", T::kPassthrough, nullptr, nullptr, "ignored (Kafka Connect)"},
  {"source", "name", T::kPassthrough, nullptr, nullptr, "ignored (Kafka Connect)"},
  {"source", "tasks.max", T::kPassthrough, nullptr, nullptr, "ignored (Kafka Connect)"},
  {"source", "include.schema.changes", T::kPassthrough, nullptr, nullptr, "ignored: schema history is kept in state.dir"},
  {"source", "schema.history.internal.kafka.bootstrap.servers", T::kPassthrough, nullptr, nullptr, "ignored: schema history is kept in state.dir"},
  {"source", "schema.history.internal.kafka.topic", T::kPassthrough, nullptr, nullptr, "ignored: schema history is kept in state.dir"},
  {"source", "key.converter", T::kPassthrough, nullptr, nullptr, "ignored: events are JSON"},
  {"source", "value.converter", T::kPassthrough, nullptr, nullptr, "ignored: events are JSON"},
  {"source", "key.converter.schemas.enable", T::kPassthrough, nullptr, nullptr, "ignored: source.schemas.enable (or value.converter.schemas.enable) applies to keys and values"},
  {"source", "database.connectionTimeZone", T::kPassthrough, nullptr, nullptr, "ignored: sluice reads TIMESTAMP values in UTC whatever the server's time zone"},
  {"source", "database.allowPublicKeyRetrieval", T::kPassthrough, nullptr, nullptr, "ignored (a JDBC driver option)"},
  {"source", "snapshot.locking.mode", T::kPassthrough, nullptr, nullptr, "ignored: the snapshot holds a global read lock only while it opens its consistent transactions (as minimal), or none without RELOAD"},
  {"source", "max.batch.size", T::kPassthrough, nullptr, nullptr, "ignored: chunks are bounded by rows and bytes; bus.queue.max.bytes bounds the queue"},
  {"source", "max.queue.size", T::kPassthrough, nullptr, nullptr, "ignored: bus.queue.max.bytes bounds the queue"},
  {"source", "max.queue.size.in.bytes", T::kPassthrough, nullptr, nullptr, "ignored: bus.queue.max.bytes bounds the queue"},
  {"source", "poll.interval.ms", T::kPassthrough, nullptr, nullptr, "ignored: changes are passed on as they are decoded"},
  {"source", "event.processing.failure.handling.mode", T::kPassthrough, nullptr, nullptr, "ignored: an event that cannot be decoded stops the capture without moving the offset (Debezium's fail)"},
  {"source", "inconsistent.schema.handling.mode", T::kPassthrough, nullptr, nullptr, "ignored: a table missing from the schema history is read from the server (Debezium's warn)"},
  {"source", "signal.data.collection", T::kPassthrough, nullptr, nullptr, "ignored: Debezium signals are not read"},
  {"source", "snapshot.new.tables", T::kPassthrough, nullptr, nullptr, "ignored"},
  {"source", "errors.tolerance", T::kPassthrough, nullptr, nullptr, "ignored (Kafka Connect): the capture stops on an error it cannot retry"},
  {"source", "transforms", T::kPassthrough, nullptr, nullptr, "ignored: Kafka Connect SMTs are not applied; events keep Debezium's envelope, which sluice sink and transform read as it is"},
  // ---- bus ------------------------------------------------------------------------------------
  {"bus", "type", T::kEnum, "embedded", "embedded|kafka", "embedded: capture and sink in one process, no Kafka; kafka: `sluice capture` and `sluice sink` talk through Kafka topics"},
  {"bus", "queue.max.bytes", T::kInt, "67108864", nullptr, "memory bound of the in-process queue between stages"},
  // Kafka (bus.type: kafka). Every other key of `bus` is a librdkafka property, passed through
  // and checked by librdkafka (src/bus/kafka_config.cpp).
  {"bus", "bootstrap.servers", T::kString, "", nullptr, "Kafka brokers host:port,... (required with type kafka)"},
  {"bus", "topic.create", T::kBool, "true", nullptr, "create missing topics with the settings below; false: a missing topic is an error"},
  {"bus", "topic.partitions", T::kInt, "-1", nullptr, "partitions of created topics (-1: the broker's num.partitions)"},
  {"bus", "topic.replication.factor", T::kInt, "-1", nullptr, "replication factor of created topics (-1: the broker's default.replication.factor)"},
  {"bus", "topic.retention.ms", T::kInt, "", nullptr, "retention.ms of created topics (unset: the broker's; -1: forever, for replay)"},
  {"bus", "topic.cleanup.policy", T::kEnum, "delete", "delete|compact", "cleanup.policy of created topics (compact keeps the last event per key)"},
  // ---- transform: streaming SQL views --------------------------------------------------------
  {"transform", "sql", T::kList, "", nullptr, "files of CREATE MATERIALIZED VIEW statements (PostgreSQL dialect); relative to the config file"},
  {"transform", "group.id", T::kString, "sluice-transform", nullptr, "Kafka consumer group of `sluice transform` (bus.type kafka)"},
  {"transform", "transaction.wait.ms", T::kInt, "10000", nullptr, "with source.provide.transaction.metadata: how long a source transaction whose END was read waits for the rest of its changes before it is applied anyway (a warning; e.g. a compacted topic dropped some)"},
  {"transform", "transaction.buffer.max.bytes", T::kInt, "67108864", nullptr, "with source.provide.transaction.metadata: memory bound of the changes held until their source transaction is complete (above it the oldest are applied incomplete)"},
  {"transform", "format", T::kEnum, "debezium", "debezium|upsert", "how `sluice transform` writes each view's topic: Debezium's envelope (before/after/source/op; schemas.enable applies), or upsert JSON keyed by the view's key (value: the row, a tombstone for a delete — RisingWave's FORMAT UPSERT ENCODE JSON); a view's `CREATE SINK ... FROM view WITH (connector = 'kafka') FORMAT UPSERT|DEBEZIUM ENCODE JSON` overrides it"},
  {"transform", "parallelism", T::kInt, "1", nullptr, "shards of each view whose work splits by key (GROUP BY keys, join keys): with more than 1, every view and every shard is a task of its own (a view over a view reads its topic), and the tasks spread over the `sluice transform` processes of the group"},
  {"transform", "memory.max.bytes", T::kInt, "268435456", nullptr, "memory budget of view state (join and aggregate state beyond it lives in state.dir)"},
  // ---- sink: ClickHouse Kafka Connect sink property names -------------------------------------
  {"sink", "type", T::kEnum, "clickhouse", "clickhouse", "sink kind"},
  {"sink", "hostname", T::kString, nullptr, nullptr, "ClickHouse host", true},
  {"sink", "port", T::kInt, "8123", nullptr, "ClickHouse HTTP port"},
  {"sink", "database", T::kString, nullptr, nullptr, "target database (created when missing)", true},
  {"sink", "username", T::kString, "default", nullptr, "ClickHouse user"},
  {"sink", "password", T::kString, "", nullptr, "ClickHouse password"},
  {"sink", "ssl", T::kBool, "false", nullptr, "use HTTPS"},
  {"sink", "cluster", T::kString, "", nullptr, "cluster name: ON CLUSTER DDL and ReplicatedReplacingMergeTree"},
  {"sink", "batch.max.rows", T::kInt, "100000", nullptr, "rows per INSERT at most"},
  {"sink", "batch.max.bytes", T::kInt, "16777216", nullptr, "bytes per INSERT at most"},
  {"sink", "buffer.max.bytes", T::kInt, "67108864", nullptr, "all tables' buffered rows together: inserted early above this (memory bound)"},
  {"sink", "batch.max.delay.ms", T::kInt, "1000", nullptr, "longest time a row waits before its INSERT"},
  {"sink", "retry.max.ms", T::kInt, "600000", nullptr, "give up after retrying a failing INSERT this long (backpressure meanwhile)"},
  {"sink", "auto.evolve", T::kBool, "false", nullptr, "ALTER an existing ClickHouse table whose columns differ"},
  {"sink", "errors.tolerance", T::kEnum, "none", "none|all", "none: stop on a rejected row; all: write it to _sluice_dlq"},
  {"sink", "retry.backoff.ms", T::kInt, "100", nullptr, "first back-off after a failed INSERT, doubled each try"},
  {"sink", "retry.backoff.max.ms", T::kInt, "10000", nullptr, "longest back-off between retries"},
  {"sink", "connect.timeout.ms", T::kInt, "10000", nullptr, "HTTP connect timeout"},
  {"sink", "request.timeout.ms", T::kInt, "300000", nullptr, "HTTP request timeout"},
  {"sink", "compression", T::kEnum, "auto", "auto|gzip|none", "request body compression (auto: gzip unless loopback)"},
  {"sink", "insert.format", T::kEnum, "native", "native|rowbinary", "INSERT body format (RowBinary always with errors.tolerance all, and for LowCardinality columns)"},
  {"sink", "errors.deadletter.table", T::kString, "_sluice_dlq", nullptr, "dead-letter table for errors.tolerance all"},
  {"sink", "tables", T::kMap, nullptr, nullptr, "per-table overrides: <db>.<table>: {table, order.by, partition.by, settings}"},
  // `sluice sink` with bus.type kafka (ClickHouse Kafka Connect sink names where one exists).
  {"sink", "topics", T::kList, "", nullptr, "topics to read (default: every <topic.prefix>.* topic)"},
  {"sink", "topics.regex", T::kString, "", nullptr, "regex of topics to read, instead of topics"},
  {"sink", "group.id", T::kString, "sluice-sink", nullptr, "Kafka consumer group: sink processes of one group share the partitions"},
  {"sink", "errors.deadletterqueue.topic.name", T::kString, "", nullptr, "topic for messages that are not Debezium events (with errors.tolerance all; unset: log and skip)"},
  // ClickHouse Kafka Connect sink keys with no meaning for sluice: accepted so existing connector
  // configs carry over, and reported as ignored.
  {"sink", "connector.class", T::kPassthrough, nullptr, nullptr, "ignored (Kafka Connect)"},
  {"sink", "name", T::kPassthrough, nullptr, nullptr, "ignored (Kafka Connect)"},
  {"sink", "tasks.max", T::kPassthrough, nullptr, nullptr, "ignored (Kafka Connect): run more `sluice sink` processes in one group.id to share partitions"},
  {"sink", "key.converter", T::kPassthrough, nullptr, nullptr, "ignored: sluice sink reads Debezium JSON"},
  {"sink", "value.converter", T::kPassthrough, nullptr, nullptr, "ignored: sluice sink reads Debezium JSON"},
  {"sink", "key.converter.schemas.enable", T::kPassthrough, nullptr, nullptr, "ignored: events are read with or without a schema block"},
  {"sink", "value.converter.schemas.enable", T::kPassthrough, nullptr, nullptr, "ignored: events are read with or without a schema block"},
  {"sink", "schemas.enable", T::kPassthrough, nullptr, nullptr, "ignored: events are read with or without a schema block"},
  {"sink", "exactlyOnce", T::kPassthrough, nullptr, nullptr, "ignored: a replayed row has the same _version (ReplacingMergeTree keeps one) and offsets are committed after ClickHouse acknowledged, so every replay is idempotent without KeeperMap state"},
  {"sink", "keeperOnCluster", T::kPassthrough, nullptr, nullptr, "ignored (exactlyOnce state is not used)"},
  {"sink", "errors.retry.timeout", T::kPassthrough, nullptr, nullptr, "ignored: use sink.retry.max.ms (milliseconds)"},
  {"sink", "clickhouseSettings", T::kPassthrough, nullptr, nullptr, "ignored: settings are not added to INSERTs; table settings go in sink.tables.<t>.settings"},
  {"sink", "tableRefreshInterval", T::kPassthrough, nullptr, nullptr, "ignored: tables are created and altered from the source schema"},
  {"sink", "bypassRowBinary", T::kPassthrough, nullptr, nullptr, "ignored: see sink.insert.format"},
  {"sink", "jdbcConnectionProperties", T::kPassthrough, nullptr, nullptr, "ignored: sluice talks HTTP to ClickHouse"},
  {"sink", "ignorePartitionsWhenBatching", T::kPassthrough, nullptr, nullptr, "ignored: batches span partitions"},
  {"sink", "dateTimeFormats", T::kPassthrough, nullptr, nullptr, "ignored: Debezium's temporal representations are read as such"},
  {"sink", "transforms", T::kPassthrough, nullptr, nullptr, "ignored: Kafka Connect SMTs are not applied; sluice sink reads Debezium's envelope itself"},
  // ---- metrics: Prometheus /metrics, /api/pipeline and the pipeline page -------------------------
  {"metrics", "port", T::kInt, nullptr, nullptr, "HTTP port of /metrics (Prometheus), /api/pipeline and the page at / (0: any free port)", true},
  {"metrics", "bind.address", T::kString, "127.0.0.1", nullptr, "address the metrics endpoint listens on (0.0.0.0: every interface)"},
  // ---- state ----------------------------------------------------------------------------------
  {"state", "dir", T::kString, "./state", nullptr, "state directory (offsets, schema history); relative to the config file"},
  {"state", "min.free.bytes", T::kInt, "33554432", nullptr, "free space the state directory's disk must keep: below it sluice stops with a disk-full error instead of writing (0: no check)"},
};
// clang-format on

const std::set<std::string> kSections = {"source", "bus", "transform", "sink", "state", "metrics"};
const std::set<std::string> kMapSubKeys = {"database", "table", "order.by", "partition.by", "settings"};

// Families of Kafka Connect / Debezium keys with no meaning for sluice: <prefix>* is ignored.
const std::vector<ConfigKeySpec> kPassthroughPrefixes = {
  {"source", "transforms.", T::kPassthrough, nullptr, nullptr, "ignored: Kafka Connect SMTs are not applied; events keep Debezium's envelope, which sluice sink and transform read as it is"},
  {"source", "predicates.", T::kPassthrough, nullptr, nullptr, "ignored: Kafka Connect SMTs are not applied"},
  {"source", "schema.history.internal.", T::kPassthrough, nullptr, nullptr, "ignored: schema history is kept in state.dir"},
  {"source", "database.history.", T::kPassthrough, nullptr, nullptr, "ignored: schema history is kept in state.dir"},
  {"sink", "transforms.", T::kPassthrough, nullptr, nullptr, "ignored: Kafka Connect SMTs are not applied; sluice sink reads Debezium's envelope itself"},
  {"sink", "predicates.", T::kPassthrough, nullptr, nullptr, "ignored: Kafka Connect SMTs are not applied"},
  {"sink", "consumer.override.", T::kPassthrough, nullptr, nullptr, "ignored: Kafka consumer (librdkafka) properties go in the bus section"},
};

// Older names (Debezium 1.x, Kafka Connect's converter prefix) read as the current key.
const std::vector<std::array<const char*, 3>> kAliases = {
  {"source", "database.server.name", "topic.prefix"},
  {"source", "database.whitelist", "database.include.list"},
  {"source", "database.blacklist", "database.exclude.list"},
  {"source", "table.whitelist", "table.include.list"},
  {"source", "table.blacklist", "table.exclude.list"},
  {"source", "column.blacklist", "column.exclude.list"},
  {"source", "value.converter.schemas.enable", "schemas.enable"},
};

const char* AliasOf(std::string_view section, std::string_view key) {
  for (const auto& a : kAliases) {
    if (section == a[0] && key == a[1]) return a[2];
  }
  return nullptr;
}

const ConfigKeySpec* FindSpec(std::string_view section, std::string_view key) {
  for (const auto& s : kSpec) {
    if (section == s.section && key == s.key) return &s;
  }
  for (const auto& s : kPassthroughPrefixes) {
    if (section == s.section && key.starts_with(s.key)) return &s;
  }
  return nullptr;
}

std::string Suggest(std::string_view section, std::string_view key) {
  const ConfigKeySpec* best = nullptr;
  size_t best_d = SIZE_MAX;
  const ConfigKeySpec* elsewhere = nullptr;
  for (const auto& s : kSpec) {
    if (s.type == T::kPassthrough) continue;
    if (section == s.section) {
      size_t d = EditDistance(key, s.key);
      if (d < best_d) best_d = d, best = &s;
    } else if (key == s.key) {
      elsewhere = &s;
    }
  }
  if (best && best_d <= std::max<size_t>(2, key.size() / 4)) {
    return fmt::format("; did you mean '{}'?", best->key);
  }
  if (elsewhere) return fmt::format("; '{}' belongs in section '{}'", key, elsewhere->section);
  return fmt::format("; see README.md \"Configuration reference\" for the keys of '{}'", section);
}

bool ParseBool(const std::string& v, bool* out) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), ::tolower);
  if (l == "true" || l == "yes" || l == "on" || l == "1") return *out = true, true;
  if (l == "false" || l == "no" || l == "off" || l == "0") return *out = false, true;
  return false;
}

bool ParseInt(const std::string& v, int64_t* out) {
  if (v.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = x;
  return true;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  std::vector<std::string> trimmed;
  for (auto& x : out) {
    size_t b = x.find_first_not_of(" \t\n"), e = x.find_last_not_of(" \t\n");
    if (b != std::string::npos) trimmed.push_back(x.substr(b, e - b + 1));
  }
  return trimmed;
}

class Loader {
 public:
  Loader(std::string name, bool source_connection) : name_(std::move(name)), source_connection_(source_connection) {}

  void Problem(int line, std::string msg) { problems_.push_back({line, std::move(msg)}); }

  std::optional<std::string> Expand(const std::string& raw, int line, const std::string& what) {
    std::string missing;
    auto v = ExpandEnv(raw, &missing);
    if (!v) {
      Problem(line, fmt::format("{}: environment variable {} is not set (export it, or write "
                                "${{{}:-default}} to give a default)",
                                what, missing, missing));
    }
    return v;
  }

  // Flattens nested maps into dotted keys: `database: {hostname: x}` == `database.hostname: x`.
  void Flatten(const YAML::Node& node, const std::string& prefix, const std::string& section,
               std::map<std::string, ConfigValue>& out) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      int line = it->first.Mark().line + 1;
      std::string k;
      try {
        k = it->first.as<std::string>();
      } catch (const YAML::Exception&) {
        Problem(line, fmt::format("{}: keys must be plain strings", section));
        continue;
      }
      std::string key = prefix.empty() ? k : prefix + "." + k;
      if (const char* alias = AliasOf(section, key)) {
        warnings_.push_back(fmt::format("{}:{}: {}.{} is read as {}.{} (its current name)", name_, line, section, key,
                                        section, alias));
        key = alias;
      }
      const ConfigKeySpec* spec = FindSpec(section, key);
      const YAML::Node v = it->second;  // a copy: the iterator hands out a temporary
      if (v.IsMap() && !(spec && spec->type == T::kMap)) {
        if (!spec) {
          Flatten(v, key, section, out);
        } else {
          Problem(line, fmt::format("{}.{}: expected a {} value, got a mapping", section, key,
                                    spec->type == T::kList ? "list" : "scalar"));
        }
        continue;
      }
      if (out.count(key)) {
        Problem(line, fmt::format("{}.{}: set twice (first on line {})", section, key, out[key].line));
        continue;
      }
      if (!spec && section == "bus" && !v.IsSequence() && !v.IsMap()) {
        // A librdkafka property: kept as written; src/bus/kafka_config.cpp validates it.
        ConfigValue pv;
        pv.line = line;
        if (!v.IsNull()) {
          auto e = Expand(v.Scalar(), line, section + "." + key);
          if (!e) continue;
          pv.scalar = *e;
        }
        out[key] = std::move(pv);
        continue;
      }
      if (!spec) {
        Problem(line, fmt::format("{}: unknown key '{}'{}", section, key, Suggest(section, key)));
        continue;
      }
      ConfigValue cv;
      cv.line = line;
      std::string what = section + "." + key;
      if (spec->type == T::kPassthrough) {
        warnings_.push_back(fmt::format("{}:{}: {}: {}", name_, line, what, spec->help));
        continue;
      }
      if (spec->type == T::kMap) {
        if (!v.IsMap()) {
          Problem(line, fmt::format("{}: expected a mapping of <db>.<table> to settings", what));
          continue;
        }
        for (auto t = v.begin(); t != v.end(); ++t) {
          std::string tname = t->first.as<std::string>();
          int tline = t->first.Mark().line + 1;
          if (!t->second.IsMap()) {
            Problem(tline, fmt::format("{}.{}: expected a mapping with keys {}", what, tname,
                                       "database, table, order.by, partition.by, settings"));
            continue;
          }
          auto& entry = cv.map[tname];
          for (auto s = t->second.begin(); s != t->second.end(); ++s) {
            std::string sk = s->first.as<std::string>();
            int sline = s->first.Mark().line + 1;
            if (!kMapSubKeys.count(sk)) {
              std::string best;
              size_t bd = SIZE_MAX;
              for (const auto& c : kMapSubKeys) {
                size_t d = EditDistance(sk, c);
                if (d < bd) bd = d, best = c;
              }
              Problem(sline, fmt::format("{}.{}: unknown key '{}'{}", what, tname, sk,
                                         bd <= 3 ? fmt::format("; did you mean '{}'?", best)
                                                 : std::string("; allowed: database, table, order.by, partition.by, settings")));
              continue;
            }
            if (!s->second.IsScalar()) {
              Problem(sline, fmt::format("{}.{}.{}: expected a scalar", what, tname, sk));
              continue;
            }
            if (auto e = Expand(s->second.Scalar(), sline, what + "." + tname + "." + sk)) entry[sk] = *e;
          }
        }
        out[key] = std::move(cv);
        continue;
      }
      if (v.IsSequence()) {
        if (spec->type != T::kList) {
          Problem(line, fmt::format("{}: expected a single value, got a list", what));
          continue;
        }
        cv.is_sequence = true;
        for (const auto& item : v) {
          if (!item.IsScalar()) {
            Problem(item.Mark().line + 1, fmt::format("{}: list items must be scalars", what));
            continue;
          }
          if (auto e = Expand(item.Scalar(), item.Mark().line + 1, what)) cv.list.push_back(*e);
        }
        out[key] = std::move(cv);
        continue;
      }
      if (v.IsNull()) {
        cv.scalar = "";
      } else if (v.IsScalar()) {
        auto e = Expand(v.Scalar(), line, what);
        if (!e) continue;
        cv.scalar = *e;
      } else {
        Problem(line, fmt::format("{}: unsupported value", what));
        continue;
      }
      // Type checks.
      switch (spec->type) {
        case T::kInt: {
          int64_t x;
          if (!ParseInt(cv.scalar, &x)) {
            Problem(line, fmt::format("{}: expected an integer, got '{}'", what, cv.scalar));
            continue;
          }
          break;
        }
        case T::kBool: {
          bool b;
          if (!ParseBool(cv.scalar, &b)) {
            Problem(line, fmt::format("{}: expected true or false, got '{}'", what, cv.scalar));
            continue;
          }
          break;
        }
        case T::kEnum: {
          auto allowed = SplitList(std::string(spec->allowed));
          std::string a = spec->allowed;
          std::replace(a.begin(), a.end(), '|', ',');
          allowed = SplitList(a);
          if (std::find(allowed.begin(), allowed.end(), cv.scalar) == allowed.end()) {
            std::string shown = spec->allowed;
            std::replace(shown.begin(), shown.end(), '|', ',');
            Problem(line, fmt::format("{}: '{}' is not one of: {}", what, cv.scalar, shown));
            continue;
          }
          break;
        }
        case T::kList:
          cv.list = SplitList(cv.scalar);
          break;
        default:
          break;
      }
      out[key] = std::move(cv);
    }
  }

  void LoadRoot(const YAML::Node& root, std::map<std::string, std::map<std::string, ConfigValue>>& sections) {
    if (!root || root.IsNull()) {
      Problem(1, "the file is empty; it needs at least a `source` section");
      return;
    }
    if (!root.IsMap()) {
      Problem(root.Mark().line + 1, "the top level must be a mapping with sections source, bus, transform, sink, state, metrics");
      return;
    }
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string section = it->first.as<std::string>();
      int line = it->first.Mark().line + 1;
      if (!kSections.count(section)) {
        std::string best;
        size_t bd = SIZE_MAX;
        for (const auto& s : kSections) {
          size_t d = EditDistance(section, s);
          if (d < bd) bd = d, best = s;
        }
        std::string hint = bd <= 2 ? fmt::format("; did you mean '{}'?", best)
                                   : std::string("; the sections are source, bus, transform, sink, state, metrics");
        Problem(line, fmt::format("unknown section '{}'{}", section, hint));
        continue;
      }
      if (it->second.IsNull()) {
        sections[section];
        continue;
      }
      if (!it->second.IsMap()) {
        Problem(line, fmt::format("section '{}' must be a mapping of keys to values", section));
        continue;
      }
      Flatten(it->second, "", section, sections[section]);
    }
    // Required keys of present sections; `source` is required unless the command does not
    // connect to the database (`sluice sink` reads topics only).
    if (!sections.count("source") && source_connection_) Problem(1, "missing section 'source'");
    for (const auto& s : kSpec) {
      if (!s.required) continue;
      if (!source_connection_ && std::string_view(s.section) == "source") continue;
      auto sec = sections.find(s.section);
      if (sec == sections.end()) continue;
      if (!sec->second.count(s.key)) {
        // line of the section header is not kept; point to line 1 of the file's section.
        Problem(0, fmt::format("{}: missing required key '{}' ({})", s.section, s.key, s.help));
      }
    }
  }

  std::string name_;
  bool source_connection_ = true;
  std::vector<ConfigProblem> problems_;
  std::vector<std::string> warnings_;
};

}  // namespace

const std::vector<ConfigKeySpec>& ConfigSpec() { return kSpec; }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string> ExpandEnv(std::string_view text, std::string* missing) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (c == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        out.append(text.substr(i));
        break;
      }
      std::string_view inner = text.substr(i + 2, close - i - 2);
      std::string_view name = inner, def;
      bool has_def = false;
      size_t d = inner.find(":-");
      if (d != std::string_view::npos) {
        name = inner.substr(0, d);
        def = inner.substr(d + 2);
        has_def = true;
      }
      std::string n(name);
      const char* v = std::getenv(n.c_str());
      if (v && (*v || !has_def)) {
        out += v;
      } else if (has_def) {
        out.append(def);
      } else {
        if (missing) *missing = n;
        return std::nullopt;
      }
      i = close;
      continue;
    }
    out += c;
  }
  return out;
}

ConfigError::ConfigError(std::string file, std::vector<ConfigProblem> problems)
    : Error(ErrorKind::kConfig,
            [&] {
              std::string m = fmt::format("{}: {} problem{} in the configuration:", file, problems.size(),
                                          problems.size() == 1 ? "" : "s");
              for (const auto& p : problems) {
                if (p.line > 0) {
                  m += fmt::format("\n  {}:{}: {}", file, p.line, p.message);
                } else {
                  m += fmt::format("\n  {}: {}", file, p.message);
                }
              }
              return m;
            }()),
      problems_(std::move(problems)) {}

Config Config::LoadFile(const std::string& path, bool source_connection) {
  std::ifstream in(path);
  if (!in) {
    Throw(ErrorKind::kConfig, "cannot read config file '{}': {} (give the path of a YAML file, "
          "e.g. `sluice run pipeline.yaml`)", path, std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto dir = std::filesystem::absolute(path).parent_path().string();
  return LoadString(ss.str(), path, dir, source_connection);
}

Config Config::LoadString(const std::string& yaml, const std::string& name, const std::string& base_dir,
                          bool source_connection) {
  Config c;
  c.file_ = name;
  c.base_dir_ = base_dir;
  Loader loader(name, source_connection);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(name, {{e.mark.line + 1, fmt::format("YAML syntax error: {}", e.msg)}});
  }
  try {
    loader.LoadRoot(root, c.sections_);
  } catch (const YAML::Exception& e) {
    loader.Problem(e.mark.line + 1, fmt::format("YAML error: {}", e.msg));
  }
  if (!loader.problems_.empty()) {
    std::stable_sort(loader.problems_.begin(), loader.problems_.end(),
                     [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
    throw ConfigError(name, std::move(loader.problems_));
  }
  c.warnings_ = std::move(loader.warnings_);
  return c;
}

const ConfigValue* Config::Find(std::string_view section, std::string_view key) const {
  auto s = sections_.find(std::string(section));
  if (s == sections_.end()) return nullptr;
  auto k = s->second.find(std::string(key));
  return k == s->second.end() ? nullptr : &k->second;
}

bool Config::Has(std::string_view section, std::string_view key) const { return Find(section, key) != nullptr; }

std::string Config::GetString(std::string_view section, std::string_view key) const {
  if (const ConfigValue* v = Find(section, key)) return v->scalar;
  const ConfigKeySpec* spec = FindSpec(section, key);
  SLUICE_CHECK(spec != nullptr, fmt::format("config key {}.{} is not declared", section, key));
  return spec->default_value ? spec->default_value : "";
}

int64_t Config::GetInt(std::string_view section, std::string_view key) const {
  int64_t x = 0;
  std::string s = GetString(section, key);
  if (s.empty()) return 0;
  SLUICE_CHECK(ParseInt(s, &x), "validated integer did not parse");
  return x;
}

bool Config::GetBool(std::string_view section, std::string_view key) const {
  bool b = false;
  std::string s = GetString(section, key);
  if (s.empty()) return false;
  SLUICE_CHECK(ParseBool(s, &b), "validated bool did not parse");
  return b;
}

std::vector<std::string> Config::GetList(std::string_view section, std::string_view key) const {
  if (const ConfigValue* v = Find(section, key)) return v->list;
  return SplitList(GetString(section, key));
}

const std::map<std::string, std::map<std::string, std::string>>& Config::GetMap(std::string_view section,
                                                                                 std::string_view key) const {
  static const std::map<std::string, std::map<std::string, std::string>> kEmpty;
  if (const ConfigValue* v = Find(section, key)) return v->map;
  return kEmpty;
}

std::string Config::GetPath(std::string_view section, std::string_view key) const {
  std::filesystem::path p(GetString(section, key));
  if (p.is_relative()) p = std::filesystem::path(base_dir_) / p;
  return p.lexically_normal().string();
}

std::string Config::Where(std::string_view section, std::string_view key) const {
  if (const ConfigValue* v = Find(section, key)) return fmt::format("{}:{}", file_, v->line);
  return fmt::format("{} ({}.{} not set)", file_, section, key);
}

std::vector<std::pair<std::string, std::string>> Config::Entries(std::string_view section) const {
  std::vector<std::pair<std::string, std::string>> out;
  auto s = sections_.find(std::string(section));
  if (s == sections_.end()) return out;
  for (const auto& [k, v] : s->second) out.emplace_back(k, v.scalar);
  return out;
}

}  // namespace sluice
