#pragma once
/// The replication connection: registers as a replica with `database.server.id` and streams raw
/// binlog events from a file:pos or a MariaDB GTID position (COM_BINLOG_DUMP through libmariadb's
/// mariadb_rpl), or from a MySQL GTID set (COM_BINLOG_DUMP_GTID, sent and read here). Decoding is not done here (see mysql/binlog_event.h). Owns its
/// connection; used by one thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mysql/connection.h"

struct st_mariadb_rpl;
struct st_mariadb_rpl_event;

namespace sluice::mysql {

/// Where a dump starts: a binlog file:pos, a MariaDB GTID position or a MySQL GTID set.
struct StreamStart {
  enum class Mode { kFilePos, kMariaGtid, kMySqlGtid };
  Mode mode = Mode::kFilePos;
  std::string file;          ///< binlog file (kFilePos)
  uint64_t pos = 4;
  std::string mariadb_gtid;  ///< kMariaGtid: @slave_connect_state, e.g. "0-1-42,1-2-7"
  std::string mysql_gtid;    ///< kMySqlGtid: the executed set, text (for messages)
  std::string mysql_gtid_encoded;  ///< kMySqlGtid: the same set as MySqlGtidSet::Encode()
  /// "file:pos", "GTID position ..." or "GTID set ...", for messages.
  std::string ToString() const;
};

/// The COM_BINLOG_DUMP_GTID (0x1e) packet payload without the command byte: flags
/// (BINLOG_THROUGH_GTID, plus BINLOG_DUMP_NON_BLOCK when `non_blocking`), server id, an empty
/// file name, position 4 and the encoded GTID set.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_binlog_dump_gtid.html
std::string ComBinlogDumpGtidPayload(uint32_t server_id, const std::string& encoded_gtid_set, bool non_blocking);

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
  bool raw_ = false;  ///< reading COM_BINLOG_DUMP_GTID packets directly (not through rpl_)
  StreamStart start_;
};

}  // namespace sluice::mysql
