#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/allocator.h"
#include "common/error.h"
#include "common/log.h"
#include "pipeline/commands.h"
#include "pipeline/kafka_commands.h"
#include "pipeline/transform_command.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  CLI::App app{"sluice: stream every committed MySQL/MariaDB change into ClickHouse"};
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  std::string log_level = "info";
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text, or json: one JSON object per line (ts, level, msg, and table/position when known)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (logs go to stderr)")
      ->capture_default_str();
  app.require_subcommand(1);

  sluice::pipeline::CommonFlags flags;
  std::string output;

  auto* run = app.add_subcommand("run", "run the whole pipeline (capture -> ClickHouse) until SIGINT/SIGTERM");
  run->add_option("CONFIG", flags.config_path, "pipeline YAML file")->required();
  run->add_flag("--exit-when-caught-up", flags.exit_when_caught_up,
                "exit 0 once the snapshot is done and every change committed before catching up is in ClickHouse");

  auto* capture = app.add_subcommand(
      "capture", "capture only: change events (Debezium JSON) to Kafka (bus.type kafka) or stdout (--output jsonl)");
  capture->add_option("CONFIG", flags.config_path, "pipeline YAML file")->required();
  capture->add_option("--output", output, "jsonl: one {\"topic\",\"key\",\"value\"} line per event on stdout")
      ->check(CLI::IsMember({"jsonl"}));
  capture->add_flag("--exit-when-caught-up", flags.exit_when_caught_up,
                    "exit 0 once the snapshot is done and every change committed before catching up is printed");

  sluice::pipeline::TransformFlags transform_flags;
  auto* transform = app.add_subcommand(
      "transform", "views only (bus.type kafka): source topics -> transform.sql views -> one topic per view");
  transform->add_option("CONFIG", flags.config_path, "pipeline YAML file")->required();
  transform->add_flag("--exit-when-caught-up", flags.exit_when_caught_up,
                      "exit 0 once every record before the source topics' end offsets at start is processed and its "
                      "view changes acknowledged");
  transform->add_option("--reset-offsets", transform_flags.reset_offsets,
                        "earliest: drop the views' state and rebuild them from the beginning of the source topics")
      ->check(CLI::IsMember({"earliest"}));

  sluice::pipeline::SinkFlags sink_flags;
  auto* sink = app.add_subcommand("sink", "sink only (bus.type kafka): Debezium topics -> ClickHouse, in a consumer group");
  sink->add_option("CONFIG", flags.config_path, "pipeline YAML file")->required();
  sink->add_flag("--exit-when-caught-up", flags.exit_when_caught_up,
                 "exit 0 once every message before the topics' end offsets at start is in ClickHouse");
  sink->add_option("--reset-offsets", sink_flags.reset_offsets,
                   "earliest, or a timestamp in ms: the group re-reads the topics from there (replay)");

  auto* check = app.add_subcommand("check", "validate the config file and the connections it names");
  check->add_option("CONFIG", flags.config_path, "pipeline YAML file")->required();

  auto* status = app.add_subcommand("status", "print positions and snapshot progress from the state directory");
  status->add_option("CONFIG", flags.config_path, "pipeline YAML file")->required();

  CLI11_PARSE(app, argc, argv);

  try {
    sluice::TuneAllocator();
    sluice::InitLogging(log_level, log_format);
    sluice::pipeline::InstallSignalHandlers();
    if (*run) return sluice::pipeline::Run(flags);
    if (*capture) return sluice::pipeline::Capture(flags, output);
    if (*sink) return sluice::pipeline::Sink(flags, sink_flags);
    if (*transform) return sluice::pipeline::Transform(flags, transform_flags);
    if (*check) return sluice::pipeline::Check(flags);
    if (*status) return sluice::pipeline::Status(flags);
  } catch (const sluice::Error& e) {
    sluice::LogFatal(e.what());  // "error: ..." (or a JSON line with --log-format json)
    return e.kind() == sluice::ErrorKind::kConfig ? 2 : 1;
  } catch (const std::exception& e) {
    sluice::LogFatal(std::string("unexpected failure: ") + e.what());
    return 1;
  }
  return 0;
}
