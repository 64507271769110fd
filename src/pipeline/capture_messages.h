#pragma once
/// The calls a MySqlCapture makes on its ChangeConsumer, as values that can wait in a queue between
/// two threads: the `run` queue between the capture and the sink thread (commands.cpp) and the
/// capture's encoding thread (pipelined_consumer.h). A ChangeChunk travels as itself.

#include <map>
#include <string>

#include "event/change.h"
#include "mysql/offset.h"

namespace sluice {

struct SchemaMsg {  ///< OnSchema
  TableSchemaPtr before, after;
  std::map<std::string, std::string> renames;
};
struct TruncateMsg {  ///< OnTruncate
  TableSchemaPtr table;
  SourceInfo at;
};
struct CommitMsg {  ///< OnCommit
  mysql::SourceOffset offset;
};
struct SnapshotStartMsg {  ///< OnSnapshotStart
  mysql::SourceOffset offset;
};
struct CaughtUpMsg {};  ///< OnCaughtUp
struct IdleMsg {};      ///< OnIdle

}  // namespace sluice
