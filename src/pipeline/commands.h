#pragma once
/// The CLI commands. Each returns the process exit code; user errors are thrown as sluice::Error
/// and reported by main().

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "event/change.h"

namespace sluice {
class Config;
class StateStore;
struct DebeziumOptions;
}  // namespace sluice
namespace sluice::clickhouse {
struct SinkOptions;
}  // namespace sluice::clickhouse
namespace sluice::mysql {
struct CaptureOptions;
class TableFilter;
}  // namespace sluice::mysql

namespace sluice::pipeline {

struct CommonFlags {
  std::string config_path;
  bool exit_when_caught_up = false;
};

/// `sluice check CONFIG`: config, connectivity and privileges; lists every problem.
int Check(const CommonFlags& flags);
/// `sluice capture CONFIG --output jsonl`: source only, Debezium JSON lines on stdout.
int Capture(const CommonFlags& flags, const std::string& output);
/// `sluice run CONFIG`: capture -> ClickHouse in one process.
int Run(const CommonFlags& flags);
/// `sluice status CONFIG`: offsets and snapshot progress from the state directory.
int Status(const CommonFlags& flags);

/// Shared by the Kafka commands (pipeline/kafka_commands.cpp): the config (warnings logged), the
/// Debezium options of `source`, the ClickHouse sink options of `sink`.
/// `source_connection` false: the command does not connect to the source database (Config::LoadFile).
Config LoadConfig(const CommonFlags& flags, bool source_connection = true);
DebeziumOptions DebeziumFromConfig(const Config& c);
clickhouse::SinkOptions SinkFromConfig(const Config& c);
/// The captured tables' schemas as the capture emits them (column.exclude.list applied), read from
/// the source now: views are bound against them (`run`, `check`, `transform`).
std::vector<TableSchemaPtr> LoadEmittedSchemas(const mysql::CaptureOptions& options, const mysql::TableFilter& filter);
/// The state directory of `state.dir`, opened for writing with `state.min.free.bytes`.
std::unique_ptr<StateStore> OpenState(const Config& config);
/// The bound of the chunks `sluice capture` has decoded and not yet encoded (PipelinedConsumer):
/// bus.queue.max.bytes, at most 16 MiB (two chunks in flight are all the pipelining needs).
size_t CaptureQueueBytes(const Config& config);
/// True for the `sink` keys that configure the Kafka consumer, not ClickHouse.
bool IsKafkaSinkKey(std::string_view key);

/// Set by SIGINT/SIGTERM.
bool StopRequested();
void InstallSignalHandlers();

}  // namespace sluice::pipeline
