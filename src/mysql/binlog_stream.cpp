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

std::string StreamStart::ToString() const {
  switch (mode) {
    case Mode::kMariaGtid: return "GTID position " + mariadb_gtid;
    case Mode::kMySqlGtid: return "GTID set " + (mysql_gtid.empty() ? std::string("(empty)") : mysql_gtid);
    case Mode::kFilePos: break;
  }
  return fmt::format("{}:{}", file, pos);
}

std::string ComBinlogDumpGtidPayload(uint32_t server_id, const std::string& encoded_gtid_set, bool non_blocking) {
  constexpr uint16_t kNonBlock = 0x01, kThroughGtid = 0x04;
  std::string p;
  auto put = [&p](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) p += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put(kThroughGtid | (non_blocking ? kNonBlock : 0), 2);  // flags
  put(server_id, 4);
  put(0, 4);  // binlog-filename-len: none, the server finds the file from the GTID set
  put(4, 8);  // binlog-pos
  put(encoded_gtid_set.size(), 4);
  p += encoded_gtid_set;
  return p;
}

void BinlogStream::Open(const StreamStart& start, bool non_blocking, int heartbeat_ms) {
  Close();
  start_ = start;
  raw_ = false;
  conn_ = std::make_unique<Connection>(options_);
  conn_->Connect();
  // Ask for checksums as the server writes them (our decoder verifies them), heartbeats while
  // idle, and MariaDB's GTID/annotate events.
  conn_->Execute("SET @master_binlog_checksum = @@global.binlog_checksum");
  conn_->Execute("SET @source_binlog_checksum = @@global.binlog_checksum");
  // Both names, as for the checksum: MySQL 8.0.26 renamed the replica's variables to source_*.
  conn_->Execute(fmt::format("SET @master_heartbeat_period = {0}, @source_heartbeat_period = {0}",
                             static_cast<uint64_t>(heartbeat_ms) * 1000000ull));
  if (conn_->IsMariaDB()) {
    conn_->Execute("SET @mariadb_slave_capability = 4");
    if (start.mode == StreamStart::Mode::kMariaGtid) {
      conn_->Execute("SET @slave_connect_state = '" + conn_->Escape(start.mariadb_gtid) + "'");
      conn_->Execute("SET @slave_gtid_strict_mode = 1");
      conn_->Execute("SET @slave_gtid_ignore_duplicates = 0");
    }
  }
  if (start.mode == StreamStart::Mode::kMySqlGtid) {
    SLUICE_CHECK(!conn_->IsMariaDB(), "COM_BINLOG_DUMP_GTID is MySQL's; MariaDB resumes with @slave_connect_state");
    const std::string payload = ComBinlogDumpGtidPayload(server_id_, start.mysql_gtid_encoded, non_blocking);
    MYSQL* m = conn_->handle();
    constexpr int kComBinlogDumpGtid = 0x1e;
    if (m->methods->db_command(m, static_cast<enum enum_server_command>(kComBinlogDumpGtid), payload.data(),
                               payload.size(), /*skip_check=*/1, nullptr) != 0) {
      conn_->Fail("starting the binlog dump from " + start.ToString());
    }
    raw_ = true;
    return;
  }
  rpl_ = mariadb_rpl_init(conn_->handle());
  SLUICE_CHECK(rpl_ != nullptr, "mariadb_rpl_init failed");
  unsigned int sid = server_id_;
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_SERVER_ID, sid);
  const bool by_file = start.mode == StreamStart::Mode::kFilePos;
  const std::string file = by_file ? start.file : std::string();
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, file.c_str(), file.size());
  unsigned long pos = by_file ? static_cast<unsigned long>(start.pos) : 4;
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, pos);
  unsigned int flags = MARIADB_RPL_BINLOG_SEND_ANNOTATE_ROWS | (non_blocking ? MARIADB_RPL_BINLOG_DUMP_NON_BLOCK : 0);
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FLAGS, flags);
  if (mariadb_rpl_open(rpl_) != 0) {
    conn_->Fail("starting the binlog dump from " + start.ToString());
  }
}

std::string_view BinlogStream::Next() {
  SLUICE_CHECK(rpl_ != nullptr || raw_, "BinlogStream::Next before Open");
  MYSQL* m = conn_->handle();
  const unsigned char* raw = nullptr;
  size_t size = 0;
  bool failed = false;
  if (raw_) {
    // Each packet: 0x00 + one event, 0xFE (short) at the end of a non-blocking dump; error
    // packets come back as packet_error with the handle's error set.
    const unsigned long len = mysql_net_read_packet(m);
    if (len == static_cast<unsigned long>(-1)) {
      failed = true;
    } else {
      const unsigned char* p = m->net.read_pos;
      if (len < 8 && p[0] == 0xFE) return {};
      if (len < 1 || p[0] != 0) {
        Throw(ErrorKind::kSource, "binlog stream from {}:{}: unexpected packet (first byte {:#x}, {} bytes)",
              options_.host, options_.port, len ? p[0] : 0, len);
      }
      raw = p + 1;
      size = len - 1;
    }
  } else {
    event_ = mariadb_rpl_fetch(rpl_, event_);
    if (!event_) {
      if (mysql_errno(m) == 0 && mariadb_rpl_errno(rpl_) == 0) return {};  // end of a non-blocking dump
      failed = true;
    } else {
      raw = event_->raw_data;
      size = event_->raw_data_size;
      // libmariadb keeps the packet's leading OK byte in raw_data.
      if (size >= 20) {
        uint32_t ev_size;
        std::memcpy(&ev_size, raw + 1 + 9, 4);
        if (raw[0] == 0 && ev_size == size - 1) {
          ++raw;
          --size;
        }
      }
    }
  }
  if (failed) {
    unsigned err = mysql_errno(m);
    std::string msg = err || !rpl_ ? mysql_error(m) : mariadb_rpl_error(rpl_);
    if (err == 1236) {  // ER_MASTER_FATAL_ERROR_READING_BINLOG
      if (start_.mode == StreamStart::Mode::kFilePos) {
        Throw(ErrorKind::kSource,
              "the source cannot send the binlog from {}: {}. The position was probably purged "
              "(see SHOW BINARY LOGS for the oldest file); use snapshot.mode when_needed to re-snapshot, or "
              "reset the state directory",
              start_.ToString(), msg);
      }
      Throw(ErrorKind::kSource,
            "the source cannot send the binlog from {}: {}. The server no longer has (or never had) the "
            "transactions that follow that position: they were purged, or this server is not a replica of the one "
            "the offset was taken from. Use snapshot.mode when_needed to re-snapshot, or reset the state directory",
            start_.ToString(), msg);
    }
    if (err == 1227 || err == 1045) {
      conn_->Fail("reading the binlog (needs REPLICATION SLAVE)");
    }
    ThrowRetryable(ErrorKind::kSource, "binlog stream from {}:{} broke: {} (error {})", options_.host, options_.port,
                   msg, err);
  }
  return std::string_view(reinterpret_cast<const char*>(raw), size);
}

}  // namespace sluice::mysql
