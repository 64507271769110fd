#pragma once
/// The replication connection: registers as a replica with `database.server.id` and streams raw
/// binlog events (COM_BINLOG_DUMP through libmariadb's mariadb_rpl) from a file:pos, or from a
/// MariaDB GTID position. Decoding is not done here (see mysql/binlog_event.h). Owns its
/// connection; used by one thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mysql/connection.h"

struct st_mariadb_rpl;
struct st_mariadb_rpl_event;

namespace sluice::mysql {

struct StreamStart {
  std::string file;          ///< binlog file; empty with a MariaDB GTID start
  uint64_t pos = 4;
  std::string mariadb_gtid;  ///< MariaDB slave_connect_state, e.g. "0-1-42"; used when file is empty
};

class BinlogStream {
 public:
  BinlogStream(ConnectionOptions options, uint32_t server_id);
  ~BinlogStream();

  /// Connects and starts the dump. `non_blocking`: the server ends the stream at the current end
  /// of the binlog instead of waiting for new events. Throws Error(kSource) (retryable when the
  /// network failed) with purged-binlog and privilege problems spelled out.
  void Open(const StreamStart& start, bool non_blocking, int heartbeat_ms = 1000);
  /// Returns the next raw event (v4 header + body + checksum when enabled) or an empty view at
  /// the end of a non-blocking stream. The view is valid until the next call.
  std::string_view Next();
  void Close();
  Connection& connection() { return *conn_; }

 private:
  ConnectionOptions options_;
  uint32_t server_id_;
  std::unique_ptr<Connection> conn_;
  st_mariadb_rpl* rpl_ = nullptr;
  st_mariadb_rpl_event* event_ = nullptr;
  StreamStart start_;
};

}  // namespace sluice::mysql
