#include "mysql/binlog_stream.h"

#include <cstring>

#include <mariadb_rpl.h>

#include "common/error.h"
#include "common/log.h"

namespace sluice::mysql {

BinlogStream::BinlogStream(ConnectionOptions options, uint32_t server_id)
    : options_(std::move(options)), server_id_(server_id) {}

BinlogStream::~BinlogStream() { Close(); }

void BinlogStream::Close() {
  if (event_) {
    mariadb_free_rpl_event(event_);
    event_ = nullptr;
  }
  if (rpl_) {
    mariadb_rpl_close(rpl_);
    rpl_ = nullptr;
  }
  if (conn_) conn_->Close();
}

void BinlogStream::Open(const StreamStart& start, bool non_blocking, int heartbeat_ms) {
  Close();
  start_ = start;
  conn_ = std::make_unique<Connection>(options_);
  conn_->Connect();
  // Ask for checksums as the server writes them (our decoder verifies them), heartbeats while
  // idle, and MariaDB's GTID/annotate events.
  conn_->Execute("SET @master_binlog_checksum = @@global.binlog_checksum");
  conn_->Execute("SET @source_binlog_checksum = @@global.binlog_checksum");
  conn_->Execute(fmt::format("SET @master_heartbeat_period = {}", static_cast<uint64_t>(heartbeat_ms) * 1000000ull));
  if (conn_->IsMariaDB()) {
    conn_->Execute("SET @mariadb_slave_capability = 4");
    if (start.file.empty()) {
      conn_->Execute("SET @slave_connect_state = '" + conn_->Escape(start.mariadb_gtid) + "'");
      conn_->Execute("SET @slave_gtid_strict_mode = 1");
      conn_->Execute("SET @slave_gtid_ignore_duplicates = 0");
    }
  }
  rpl_ = mariadb_rpl_init(conn_->handle());
  SLUICE_CHECK(rpl_ != nullptr, "mariadb_rpl_init failed");
  unsigned int sid = server_id_;
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_SERVER_ID, sid);
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, start.file.c_str(), start.file.size());
  unsigned long pos = start.file.empty() ? 4 : static_cast<unsigned long>(start.pos);
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, pos);
  unsigned int flags = MARIADB_RPL_BINLOG_SEND_ANNOTATE_ROWS | (non_blocking ? MARIADB_RPL_BINLOG_DUMP_NON_BLOCK : 0);
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FLAGS, flags);
  if (mariadb_rpl_open(rpl_) != 0) {
    conn_->Fail(fmt::format("starting the binlog dump at {}:{}", start.file, start.pos));
  }
}

std::string_view BinlogStream::Next() {
  SLUICE_CHECK(rpl_ != nullptr, "BinlogStream::Next before Open");
  event_ = mariadb_rpl_fetch(rpl_, event_);
  if (!event_) {
    MYSQL* m = conn_->handle();
    unsigned err = mysql_errno(m);
    if (err == 0 && mariadb_rpl_errno(rpl_) == 0) return {};  // end of a non-blocking dump
    std::string msg = err ? mysql_error(m) : mariadb_rpl_error(rpl_);
    if (err == 1236) {  // ER_MASTER_FATAL_ERROR_READING_BINLOG
      Throw(ErrorKind::kSource,
            "the source cannot send the binlog from {}:{}{}: {}. The position was probably purged "
            "(see SHOW BINARY LOGS for the oldest file); use snapshot.mode when_needed to re-snapshot, or "
            "reset the state directory",
            start_.file, start_.pos, start_.mariadb_gtid.empty() ? "" : " (GTID " + start_.mariadb_gtid + ")", msg);
    }
    if (err == 1227 || err == 1045) {
      conn_->Fail("reading the binlog (needs REPLICATION SLAVE)");
    }
    ThrowRetryable(ErrorKind::kSource, "binlog stream from {}:{} broke: {} (error {})", options_.host, options_.port,
                   msg, err);
  }
  const unsigned char* raw = event_->raw_data;
  size_t size = event_->raw_data_size;
  // libmariadb keeps the packet's leading OK byte in raw_data.
  if (size >= 20) {
    uint32_t ev_size;
    std::memcpy(&ev_size, raw + 1 + 9, 4);
    if (raw[0] == 0 && ev_size == size - 1) {
      ++raw;
      --size;
    }
  }
  return std::string_view(reinterpret_cast<const char*>(raw), size);
}

}  // namespace sluice::mysql
