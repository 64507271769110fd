#include "clickhouse/sink_options.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "common/error.h"

namespace sluice::clickhouse {
namespace {

template <typename T>
T As(const YAML::Node& v, const std::string& key) {
  try {
    return v.as<T>();
  } catch (const YAML::Exception&) {
    Throw(ErrorKind::kConfig, "sink.{}: cannot read '{}' as a {} (line {})", key, v.IsScalar() ? v.Scalar() : "?",
          std::is_same_v<T, bool> ? "boolean" : std::is_same_v<T, std::string> ? "string" : "number",
          v.Mark().line + 1);
  }
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

SinkOptions SinkOptions::FromYaml(const YAML::Node& sink) {
  SinkOptions o;
  if (!sink || sink.IsNull()) return o;
  if (!sink.IsMap()) Throw(ErrorKind::kConfig, "sink: expected a map of settings (line {})", sink.Mark().line + 1);
  for (const auto& kv : sink) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "type") {
      const std::string t = As<std::string>(v, key);
      if (t != "clickhouse") Throw(ErrorKind::kConfig, "sink.type: '{}' is not supported (use clickhouse)", t);
    } else if (key == "hostname") {
      o.client.hostname = As<std::string>(v, key);
    } else if (key == "port") {
      o.client.port = As<int>(v, key);
      if (o.client.port <= 0 || o.client.port > 65535) Throw(ErrorKind::kConfig, "sink.port: {} is not a port", o.client.port);
    } else if (key == "database") {
      o.database = As<std::string>(v, key);
    } else if (key == "username") {
      o.client.username = As<std::string>(v, key);
    } else if (key == "password") {
      o.client.password = v.IsNull() ? "" : As<std::string>(v, key);
    } else if (key == "ssl") {
      o.client.ssl = As<bool>(v, key);
    } else if (key == "cluster") {
      o.cluster = v.IsNull() ? "" : As<std::string>(v, key);
    } else if (key == "batch.max.rows") {
      o.batch_max_rows = As<size_t>(v, key);
    } else if (key == "batch.max.bytes") {
      o.batch_max_bytes = As<size_t>(v, key);
    } else if (key == "batch.max.delay.ms") {
      o.batch_max_delay_ms = As<int64_t>(v, key);
    } else if (key == "auto.evolve") {
      o.auto_evolve = As<bool>(v, key);
    } else if (key == "errors.tolerance") {
      const std::string t = As<std::string>(v, key);
      if (t == "none") o.errors_tolerance = ErrorsTolerance::kNone;
      else if (t == "all") o.errors_tolerance = ErrorsTolerance::kAll;
      else Throw(ErrorKind::kConfig, "sink.errors.tolerance: '{}' is not none or all", t);
    } else if (key == "errors.deadletter.table") {
      o.dlq_table = As<std::string>(v, key);
    } else if (key == "retry.max.ms") {
      o.retry_max_ms = As<int64_t>(v, key);
    } else if (key == "retry.backoff.ms") {
      o.retry_backoff_ms = As<int64_t>(v, key);
    } else if (key == "retry.backoff.max.ms") {
      o.retry_backoff_max_ms = As<int64_t>(v, key);
    } else if (key == "connect.timeout.ms") {
      o.client.connect_timeout_ms = As<int>(v, key);
    } else if (key == "request.timeout.ms") {
      o.client.request_timeout_ms = As<int>(v, key);
    } else if (key == "compression") {
      o.compression = As<std::string>(v, key);
      if (o.compression != "auto" && o.compression != "gzip" && o.compression != "none") {
        Throw(ErrorKind::kConfig, "sink.compression: '{}' is not auto, gzip or none", o.compression);
      }
    } else if (key == "insert.format") {
      const std::string f = As<std::string>(v, key);
      if (f == "native") o.insert_format = InsertFormat::kNative;
      else if (f == "rowbinary") o.insert_format = InsertFormat::kRowBinary;
      else Throw(ErrorKind::kConfig, "sink.insert.format: '{}' is not native or rowbinary", f);
    } else if (key == "topics") {
      // Bus mode: which topics the sink consumes; read by the pipeline, not here.
    } else if (key == "topic2TableMap") {
      const std::string m = As<std::string>(v, key);
      size_t start = 0;
      while (start <= m.size()) {
        const size_t comma = m.find(',', start);
        const std::string item = Trim(m.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (!item.empty()) {
          const size_t eq = item.find('=');
          if (eq == std::string::npos) {
            Throw(ErrorKind::kConfig, "sink.topic2TableMap: '{}' is not topic=table", item);
          }
          o.topic2table[Trim(item.substr(0, eq))] = Trim(item.substr(eq + 1));
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (key == "tables") {
      if (!v.IsMap()) Throw(ErrorKind::kConfig, "sink.tables: expected a map of \"db.table\": {{...}}");
      for (const auto& t : v) {
        const std::string name = t.first.as<std::string>();
        TableOverride ov;
        if (!t.second.IsMap()) Throw(ErrorKind::kConfig, "sink.tables.\"{}\": expected a map", name);
        for (const auto& f : t.second) {
          const std::string fk = f.first.as<std::string>();
          const std::string full = fmt::format("tables.\"{}\".{}", name, fk);
          const std::string val = As<std::string>(f.second, full);
          if (fk == "database") ov.database = val;
          else if (fk == "table") ov.table = val;
          else if (fk == "order.by") ov.order_by = val;
          else if (fk == "partition.by") ov.partition_by = val;
          else if (fk == "settings") ov.settings = val;
          else Throw(ErrorKind::kConfig, "sink.{}: unknown setting (known: database, table, order.by, partition.by, settings)", full);
        }
        o.tables[name] = ov;
      }
    } else {
      Throw(ErrorKind::kConfig,
            "sink.{}: unknown setting (line {}). Known: type, hostname, port, database, username, password, ssl, "
            "cluster, batch.max.rows, batch.max.bytes, batch.max.delay.ms, auto.evolve, errors.tolerance, "
            "errors.deadletter.table, retry.max.ms, retry.backoff.ms, retry.backoff.max.ms, connect.timeout.ms, "
            "request.timeout.ms, compression, insert.format, topics, topic2TableMap, tables",
            key, kv.first.Mark().line + 1);
    }
  }
  if (o.batch_max_rows == 0) Throw(ErrorKind::kConfig, "sink.batch.max.rows: must be at least 1");
  if (o.batch_max_bytes < 1024) Throw(ErrorKind::kConfig, "sink.batch.max.bytes: must be at least 1024");
  return o;
}

const TableOverride& SinkOptions::OverrideFor(const TableSchema& schema) const {
  static const TableOverride kNone;
  auto it = tables.find(schema.QualifiedName());
  if (it == tables.end()) it = tables.find(schema.table);
  return it == tables.end() ? kNone : it->second;
}

std::string SinkOptions::OverrideKey(const TableSchema& schema) {
  return fmt::format("sink.tables.\"{}\"", schema.QualifiedName());
}

}  // namespace sluice::clickhouse
