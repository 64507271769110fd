#pragma once
/// Settings of the ClickHouse sink, named as the ClickHouse Kafka Connect sink names them where it
/// has a name (`hostname`, `port`, `database`, `username`, `password`, `ssl`, `topic2TableMap`,
/// `errors.tolerance`), plus Sluice's own (`cluster`, `batch.*`, `auto.evolve`, `retry.*`, `tables`).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "clickhouse/client.h"
#include "clickhouse/ddl.h"
#include "event/change.h"

namespace YAML {
class Node;
}

namespace sluice::clickhouse {

/// What to do with a row ClickHouse rejects for its data.
enum class ErrorsTolerance : uint8_t {
  kNone,  ///< stop with the error and the row
  kAll,   ///< write the row and the error to the dead-letter table `_sluice_dlq` and go on
};

/// How INSERT bodies are encoded.
enum class InsertFormat : uint8_t {
  kNative,     ///< one Native block per chunk (columnar: less CPU in ClickHouse)
  kRowBinary,  ///< row by row; always used with errors.tolerance = all (rows are bisected)
};

/// All sink settings. Plain value type.
struct SinkOptions {
  ClientOptions client;                          ///< hostname, port, ssl, username, password, timeouts
  std::string database = "default";              ///< `database`: target database (created when missing)
  std::string cluster;                           ///< `cluster`: ON CLUSTER + Replicated engine
  size_t batch_max_rows = 100000;                ///< `batch.max.rows`
  size_t batch_max_bytes = 16u << 20;            ///< `batch.max.bytes` (RowBinary bytes per table)
  int64_t batch_max_delay_ms = 1000;             ///< `batch.max.delay.ms`
  bool auto_evolve = false;                      ///< `auto.evolve`: ALTER an existing table that lacks columns
  ErrorsTolerance errors_tolerance = ErrorsTolerance::kNone;  ///< `errors.tolerance`: none | all
  int64_t retry_max_ms = 600000;                 ///< `retry.max.ms`: give up retrying after this; -1 = never
  int64_t retry_backoff_ms = 100;                ///< `retry.backoff.ms`: first back-off, doubled each try
  int64_t retry_backoff_max_ms = 10000;          ///< `retry.backoff.max.ms`
  std::string compression = "auto";              ///< `compression`: auto (gzip unless loopback) | gzip | none
  InsertFormat insert_format = InsertFormat::kNative;  ///< `insert.format`: native | rowbinary
  std::string dlq_table = "_sluice_dlq";         ///< `errors.deadletter.table`
  std::map<std::string, TableOverride> tables;   ///< `tables`: "<db>.<table>" (or "<table>") → override
  std::map<std::string, std::string> topic2table;  ///< `topic2TableMap`: "topic=table, ..." (bus mode)

  /// Reads the `sink:` section. Throws Error(kConfig) naming the key on unknown keys and bad values.
  static SinkOptions FromYaml(const YAML::Node& sink);

  /// Returns the override for a source table ("db.table" first, then "table"), or an empty one.
  const TableOverride& OverrideFor(const TableSchema& schema) const;
  /// Returns the config key of that override, for messages: `sink.tables."db.table"`.
  static std::string OverrideKey(const TableSchema& schema);
};

}  // namespace sluice::clickhouse
