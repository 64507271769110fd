#include "mysql/binlog_event.h"

#include <isa-l/crc.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "event/change.h"
#include "mysql/row_decoder.h"

namespace sluice::mysql {
namespace {

constexpr uint8_t T(EventType t) { return static_cast<uint8_t>(t); }

// Inflates MariaDB-compressed event data: 1 header byte (0x80 | alg << 4 | lenlen), the
// uncompressed length big-endian in `lenlen` bytes, then a zlib stream.
// https://mariadb.com/kb/en/rows_event_v1v2-rows_compressed_event_v1/
std::shared_ptr<std::string> MariaUncompress(std::string_view data, const char* what) {
  ByteReader r(data, what);
  uint8_t h = r.U8("compression header");
  if ((h & 0x80) == 0) r.Fail("compression header lacks the compressed flag");
  if (((h & 0x70) >> 4) != 0) r.Fail("unknown compression algorithm " + std::to_string((h & 0x70) >> 4));
  size_t lenlen = h & 0x07;
  if (lenlen < 1 || lenlen > 4) r.Fail("bad uncompressed-length size " + std::to_string(lenlen));
  std::string_view lb = r.Bytes(lenlen, "uncompressed length");
  uint64_t len = 0;
  for (char c : lb) len = (len << 8) | static_cast<uint8_t>(c);
  std::string_view src = r.rest();
  auto out = std::make_shared<std::string>();
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) r.Fail("zlib init failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(src.data()));
  zs.avail_in = static_cast<uInt>(src.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    size_t old = out->size();
    size_t grow = std::max<size_t>(4096, std::min<uint64_t>(len - std::min<uint64_t>(len, old), 1 << 20));
    if (old + grow > len + 4096) grow = static_cast<size_t>(len + 4096 - old);
    if (grow == 0) break;
    out->resize(old + grow);
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + old);
    zs.avail_out = static_cast<uInt>(grow);
    rc = inflate(&zs, Z_NO_FLUSH);
    out->resize(old + grow - zs.avail_out);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) r.Fail("zlib stream is corrupt or truncated");
  if (out->size() != len) {
    r.Fail("uncompressed " + std::to_string(out->size()) + " bytes, header says " + std::to_string(len));
  }
  return out;
}

std::array<int, 3> ParseVersion(std::string_view v) {
  std::array<int, 3> out{0, 0, 0};
  size_t i = 0;
  for (int k = 0; k < 3 && i < v.size(); ++k) {
    int n = 0;
    size_t start = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9' && n < 100000) n = n * 10 + (v[i++] - '0');
    if (i == start) break;
    out[static_cast<size_t>(k)] = n;
    if (i < v.size() && v[i] == '.') ++i; else break;
  }
  return out;
}

bool VersionAtLeast(const std::array<int, 3>& v, int a, int b, int c) {
  if (v[0] != a) return v[0] > a;
  if (v[1] != b) return v[1] > b;
  return v[2] >= c;
}

// Post-header lengths of MySQL 8.0 (used before any FORMAT_DESCRIPTION and for types it lacks).
uint8_t DefaultPostHeaderLength(uint8_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kStartV3: return 56;
    case EventType::kQuery: return 13;
    case EventType::kRotate: return 8;
    case EventType::kAppendBlock: return 4;
    case EventType::kDeleteFile: return 4;
    case EventType::kBeginLoadQuery: return 4;
    case EventType::kExecuteLoadQuery: return 26;
    case EventType::kTableMap: return 8;
    case EventType::kWriteRowsV1: case EventType::kUpdateRowsV1: case EventType::kDeleteRowsV1: return 8;
    case EventType::kIncident: return 2;
    case EventType::kWriteRows: case EventType::kUpdateRows: case EventType::kDeleteRows:
    case EventType::kPartialUpdateRows: return 10;
    case EventType::kGtid: case EventType::kAnonymousGtid: return 42;
    case EventType::kTransactionContext: return 18;
    case EventType::kViewChange: return 52;
    case EventType::kMariaQueryCompressed: return 13;
    case EventType::kMariaWriteRowsCompressedV1: case EventType::kMariaUpdateRowsCompressedV1:
    case EventType::kMariaDeleteRowsCompressedV1: return 8;
    case EventType::kMariaWriteRowsCompressed: case EventType::kMariaUpdateRowsCompressed:
    case EventType::kMariaDeleteRowsCompressed: return 10;
    default: return 0;
  }
}

bool IsNumericType(uint8_t t) {
  using namespace column_type;
  return t == kTiny || t == kShort || t == kInt24 || t == kLong || t == kLongLong || t == kFloat ||
         t == kDouble || t == kNewDecimal || t == kDecimal;
}
bool IsCharacterType(uint8_t t) {
  using namespace column_type;
  return t == kString || t == kVarString || t == kVarchar || t == kBlob || t == kTinyBlob ||
         t == kMediumBlob || t == kLongBlob || t == kMariaVarcharCompressed || t == kMariaBlobCompressed ||
         t == kVector;
}

// Reads a bitmap whose first element is the most significant bit of the first byte (the order
// of MySQL's optional table-map metadata).
bool MsbBit(std::string_view bits, size_t i) {
  return (static_cast<uint8_t>(bits[i / 8]) & (0x80u >> (i % 8))) != 0;
}

std::string_view StripNul(std::string_view s) {
  size_t n = s.find('\0');
  return n == std::string_view::npos ? s : s.substr(0, n);
}

void AppendIntervals(const std::vector<PreviousGtidsEvent::Interval>& iv, std::string& out) {
  for (const auto& i : iv) {
    out.push_back(':');
    out.append(std::to_string(i.start));
    if (i.end - 1 > i.start) {
      out.push_back('-');
      out.append(std::to_string(i.end - 1));
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- ByteReader

uint64_t ByteReader::PackedInt(const char* field) {
  uint8_t first = U8(field);
  if (first < 0xfb) return first;
  switch (first) {
    case 0xfc: return UIntLE(2, field);
    case 0xfd: return UIntLE(3, field);
    case 0xfe: return UIntLE(8, field);
    default: Fail(std::string("invalid packed integer prefix for ") + field);
  }
}

uint64_t ByteReader::VarLenUInt(const char* field) {
  uint8_t first = U8(field);
  if (first == 0xff) return UIntLE(8, field);
  int ones = 0;
  while (ones < 8 && (first & (1u << ones))) ++ones;
  size_t n = static_cast<size_t>(ones) + 1;
  uint64_t v = first;
  if (n > 1) {
    uint64_t more = UIntLE(n - 1, field);
    v |= more << 8;
  }
  return v >> n;
}

void ByteReader::Truncated(uint64_t n, const char* field) const {
  Throw(ErrorKind::kData, "{}: truncated: {} needs {} bytes at offset {} but only {} remain", what_,
        field, n, pos_, data_.size() - pos_);
}

void ByteReader::Fail(const std::string& msg) const {
  Throw(ErrorKind::kData, "{}: {} (at offset {})", what_, msg, pos_);
}

// ---------------------------------------------------------------- names

std::string EventTypeName(uint8_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kUnknown: return "UNKNOWN_EVENT";
    case EventType::kStartV3: return "START_EVENT_V3";
    case EventType::kQuery: return "QUERY_EVENT";
    case EventType::kStop: return "STOP_EVENT";
    case EventType::kRotate: return "ROTATE_EVENT";
    case EventType::kIntvar: return "INTVAR_EVENT";
    case EventType::kSlave: return "SLAVE_EVENT";
    case EventType::kAppendBlock: return "APPEND_BLOCK_EVENT";
    case EventType::kDeleteFile: return "DELETE_FILE_EVENT";
    case EventType::kRand: return "RAND_EVENT";
    case EventType::kUserVar: return "USER_VAR_EVENT";
    case EventType::kFormatDescription: return "FORMAT_DESCRIPTION_EVENT";
    case EventType::kXid: return "XID_EVENT";
    case EventType::kBeginLoadQuery: return "BEGIN_LOAD_QUERY_EVENT";
    case EventType::kExecuteLoadQuery: return "EXECUTE_LOAD_QUERY_EVENT";
    case EventType::kTableMap: return "TABLE_MAP_EVENT";
    case EventType::kWriteRowsV0: return "WRITE_ROWS_EVENT_V0";
    case EventType::kUpdateRowsV0: return "UPDATE_ROWS_EVENT_V0";
    case EventType::kDeleteRowsV0: return "DELETE_ROWS_EVENT_V0";
    case EventType::kWriteRowsV1: return "WRITE_ROWS_EVENT_V1";
    case EventType::kUpdateRowsV1: return "UPDATE_ROWS_EVENT_V1";
    case EventType::kDeleteRowsV1: return "DELETE_ROWS_EVENT_V1";
    case EventType::kIncident: return "INCIDENT_EVENT";
    case EventType::kHeartbeat: return "HEARTBEAT_LOG_EVENT";
    case EventType::kIgnorable: return "IGNORABLE_LOG_EVENT";
    case EventType::kRowsQuery: return "ROWS_QUERY_LOG_EVENT";
    case EventType::kWriteRows: return "WRITE_ROWS_EVENT";
    case EventType::kUpdateRows: return "UPDATE_ROWS_EVENT";
    case EventType::kDeleteRows: return "DELETE_ROWS_EVENT";
    case EventType::kGtid: return "GTID_LOG_EVENT";
    case EventType::kAnonymousGtid: return "ANONYMOUS_GTID_LOG_EVENT";
    case EventType::kPreviousGtids: return "PREVIOUS_GTIDS_LOG_EVENT";
    case EventType::kTransactionContext: return "TRANSACTION_CONTEXT_EVENT";
    case EventType::kViewChange: return "VIEW_CHANGE_EVENT";
    case EventType::kXaPrepare: return "XA_PREPARE_LOG_EVENT";
    case EventType::kPartialUpdateRows: return "PARTIAL_UPDATE_ROWS_EVENT";
    case EventType::kTransactionPayload: return "TRANSACTION_PAYLOAD_EVENT";
    case EventType::kHeartbeatV2: return "HEARTBEAT_LOG_EVENT_V2";
    case EventType::kGtidTagged: return "GTID_TAGGED_LOG_EVENT";
    case EventType::kMariaAnnotateRows: return "ANNOTATE_ROWS_EVENT";
    case EventType::kMariaBinlogCheckpoint: return "BINLOG_CHECKPOINT_EVENT";
    case EventType::kMariaGtid: return "GTID_EVENT(MariaDB)";
    case EventType::kMariaGtidList: return "GTID_LIST_EVENT";
    case EventType::kMariaStartEncryption: return "START_ENCRYPTION_EVENT";
    case EventType::kMariaQueryCompressed: return "QUERY_COMPRESSED_EVENT";
    case EventType::kMariaWriteRowsCompressedV1: return "WRITE_ROWS_COMPRESSED_EVENT_V1";
    case EventType::kMariaUpdateRowsCompressedV1: return "UPDATE_ROWS_COMPRESSED_EVENT_V1";
    case EventType::kMariaDeleteRowsCompressedV1: return "DELETE_ROWS_COMPRESSED_EVENT_V1";
    case EventType::kMariaWriteRowsCompressed: return "WRITE_ROWS_COMPRESSED_EVENT";
    case EventType::kMariaUpdateRowsCompressed: return "UPDATE_ROWS_COMPRESSED_EVENT";
    case EventType::kMariaDeleteRowsCompressed: return "DELETE_ROWS_COMPRESSED_EVENT";
  }
  return "TYPE_" + std::to_string(type);
}

std::string ColumnTypeName(uint8_t type) {
  using namespace column_type;
  switch (type) {
    case kDecimal: return "DECIMAL(old)";
    case kTiny: return "TINYINT";
    case kShort: return "SMALLINT";
    case kLong: return "INT";
    case kFloat: return "FLOAT";
    case kDouble: return "DOUBLE";
    case kNull: return "NULL";
    case kTimestamp: return "TIMESTAMP";
    case kLongLong: return "BIGINT";
    case kInt24: return "MEDIUMINT";
    case kDate: return "DATE";
    case kTime: return "TIME";
    case kDateTime: return "DATETIME";
    case kYear: return "YEAR";
    case kNewDate: return "NEWDATE";
    case kVarchar: return "VARCHAR";
    case kBit: return "BIT";
    case kTimestamp2: return "TIMESTAMP2";
    case kDateTime2: return "DATETIME2";
    case kTime2: return "TIME2";
    case kTypedArray: return "TYPED_ARRAY";
    case kVector: return "VECTOR";
    case kBool: return "BOOL";
    case kJson: return "JSON";
    case kNewDecimal: return "DECIMAL";
    case kEnum: return "ENUM";
    case kSet: return "SET";
    case kTinyBlob: return "TINYBLOB";
    case kMediumBlob: return "MEDIUMBLOB";
    case kLongBlob: return "LONGBLOB";
    case kBlob: return "BLOB";
    case kVarString: return "VAR_STRING";
    case kString: return "CHAR";
    case kGeometry: return "GEOMETRY";
    case kMariaVarcharCompressed: return "VARCHAR COMPRESSED";
    case kMariaBlobCompressed: return "BLOB COMPRESSED";
    default: return "TYPE_" + std::to_string(type);
  }
}

std::string FormatUuid(const std::array<uint8_t, 16>& u) {
  char buf[37];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  return buf;
}

std::string PreviousGtidsEvent::ToString() const {
  std::string out;
  size_t i = 0;
  while (i < entries.size()) {
    if (!out.empty()) out.push_back(',');
    out.append(FormatUuid(entries[i].uuid));
    size_t j = i;
    for (; j < entries.size() && entries[j].uuid == entries[i].uuid; ++j) {
      if (!entries[j].tag.empty()) {
        out.push_back(':');
        out.append(entries[j].tag);
      }
      AppendIntervals(entries[j].intervals, out);
    }
    i = j;
  }
  return out;
}

std::string MariaGtidListEvent::ToString() const {
  std::string out;
  for (const auto& g : gtids) {
    if (!out.empty()) out.push_back(',');
    out.append(fmt::format("{}-{}-{}", g.domain_id, g.server_id, g.seq_no));
  }
  return out;
}

size_t TableMap::JsonColumnCount() const {
  size_t n = 0;
  for (const auto& c : columns) n += c.type == column_type::kJson;
  return n;
}

uint8_t FormatDescriptionEvent::PostHeaderLength(uint8_t type) const {
  if (type >= 1 && static_cast<size_t>(type) <= post_header_lengths.size()) {
    return post_header_lengths[type - 1];
  }
  return DefaultPostHeaderLength(type);
}

// ---------------------------------------------------------------- header & checksum

EventHeader ParseEventHeader(std::string_view raw) {
  ByteReader r(raw, "binlog event header");
  r.Need(EventHeader::kSize, "19-byte v4 header");
  EventHeader h;
  h.timestamp = r.U32();
  h.type = r.U8();
  h.server_id = r.U32();
  h.event_size = r.U32();
  h.log_pos = r.U32();
  h.flags = r.U16();
  return h;
}

uint32_t ComputeEventCrc32(std::string_view raw) {
  // ISA-L's crc32_gzip_refl is zlib's crc32 (same polynomial, pre- and post-inversion; chains the
  // same way), with carry-less multiplication: ~5x zlib's speed here.
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  if (raw.size() > 17 && static_cast<uint8_t>(raw[4]) == T(EventType::kFormatDescription) &&
      (static_cast<uint8_t>(raw[17]) & kLogEventBinlogInUseFlag)) {
    // An FDE of a binlog still being written carries LOG_EVENT_BINLOG_IN_USE_F; its CRC was
    // computed before the flag was set.
    uint32_t crc = crc32_gzip_refl(0, p, 17);
    const unsigned char b = static_cast<unsigned char>(static_cast<uint8_t>(raw[17]) & ~kLogEventBinlogInUseFlag);
    crc = crc32_gzip_refl(crc, &b, 1);
    return crc32_gzip_refl(crc, p + 18, raw.size() - 18);
  }
  return crc32_gzip_refl(0, p, raw.size());
}

// ---------------------------------------------------------------- parsers

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Format__description__event.html
// https://mariadb.com/kb/en/format_description_event/
// `body` here includes the checksum-algorithm byte and the 4-byte checksum slot (always present
// from MySQL 5.6.1 / MariaDB 5.3 on, even with checksums off).
FormatDescriptionEvent ParseFormatDescription(const EventHeader&, std::string_view body) {
  ByteReader r(body, "FORMAT_DESCRIPTION_EVENT");
  FormatDescriptionEvent f;
  f.binlog_version = r.U16("binlog_version");
  if (f.binlog_version != 4) r.Fail("unsupported binlog version " + std::to_string(f.binlog_version));
  f.server_version = std::string(StripNul(r.Bytes(50, "server_version")));
  f.create_timestamp = r.U32("create_timestamp");
  f.common_header_length = r.U8("header_length");
  if (f.common_header_length != EventHeader::kSize) {
    r.Fail("unsupported common header length " + std::to_string(f.common_header_length));
  }
  f.mariadb = f.server_version.find("MariaDB") != std::string::npos;
  f.version = ParseVersion(f.server_version);
  bool has_alg = f.mariadb ? VersionAtLeast(f.version, 5, 3, 0) : VersionAtLeast(f.version, 5, 6, 1);
  std::string_view rest = r.rest();
  if (has_alg) {
    if (rest.size() < 5) r.Fail("missing checksum algorithm");
    uint8_t alg = static_cast<uint8_t>(rest[rest.size() - 5]);
    if (alg != 0 && alg != 1 && alg != 255) r.Fail("unknown checksum algorithm " + std::to_string(alg));
    f.checksum_alg = static_cast<ChecksumAlg>(alg);
    rest = rest.substr(0, rest.size() - 5);
  } else {
    f.checksum_alg = ChecksumAlg::kOff;
  }
  f.post_header_lengths.assign(rest.begin(), rest.end());
  return f;
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Rotate__event.html
RotateEvent ParseRotate(const EventHeader&, std::string_view body, const FormatDescriptionEvent* fde) {
  ByteReader r(body, "ROTATE_EVENT");
  RotateEvent e;
  uint8_t post = fde ? fde->PostHeaderLength(T(EventType::kRotate)) : 8;
  if (post >= 8) {
    e.position = r.U64("position");
    r.Skip(post - 8u, "post-header");
  }
  e.next_file = std::string(r.rest());
  if (e.next_file.empty()) r.Fail("empty next binlog file name");
  return e;
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Query__event.html
// https://mariadb.com/kb/en/query_event/ (and QUERY_COMPRESSED_EVENT)
QueryEvent ParseQuery(const EventHeader& h, std::string_view body, const FormatDescriptionEvent& fde) {
  ByteReader r(body, "QUERY_EVENT");
  QueryEvent q;
  uint8_t post = fde.PostHeaderLength(h.type);
  if (post < 11) r.Fail("post-header shorter than 11 bytes");
  q.thread_id = r.U32("thread_id");
  q.exec_time = r.U32("exec_time");
  uint8_t db_len = r.U8("db_len");
  q.error_code = r.U16("error_code");
  uint16_t status_len = 0;
  if (post >= 13) status_len = r.U16("status_vars_len");
  r.Skip(post - (post >= 13 ? 13u : 11u), "post-header");
  q.status_vars = r.Bytes(status_len, "status variables");
  q.database = r.Bytes(db_len, "database name");
  if (r.U8("database terminator") != 0) r.Fail("database name not NUL-terminated");
  q.query = r.rest();
  if (h.type == T(EventType::kMariaQueryCompressed)) {
    q.storage = MariaUncompress(q.query, "QUERY_COMPRESSED_EVENT query");
    q.query = *q.storage;
  }
  return q;
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1XID__event.html
XidEvent ParseXid(const EventHeader&, std::string_view body) {
  ByteReader r(body, "XID_EVENT");
  return XidEvent{r.U64("xid")};
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Gtid__event.html
GtidEvent ParseGtid(const EventHeader& h, std::string_view body) {
  ByteReader r(body, h.type == T(EventType::kAnonymousGtid) ? "ANONYMOUS_GTID_LOG_EVENT" : "GTID_LOG_EVENT");
  GtidEvent g;
  g.anonymous = h.type == T(EventType::kAnonymousGtid);
  g.flags = r.U8("flags");
  std::string_view sid = r.Bytes(16, "sid");
  std::memcpy(g.uuid.data(), sid.data(), 16);
  g.gno = static_cast<int64_t>(r.U64("gno"));
  if (!r.empty() && static_cast<uint8_t>(r.rest()[0]) == 2) {  // LOGICAL_TIMESTAMP_TYPECODE
    r.Skip(1);
    g.last_committed = static_cast<int64_t>(r.U64("last_committed"));
    g.sequence_number = static_cast<int64_t>(r.U64("sequence_number"));
    if (r.remaining() >= 7) {
      uint64_t ts = r.UIntLE(7, "immediate_commit_timestamp");
      if (ts & (1ull << 55)) {
        g.immediate_commit_timestamp_us = ts & ~(1ull << 55);
        g.original_commit_timestamp_us = r.UIntLE(7, "original_commit_timestamp");
      } else {
        g.immediate_commit_timestamp_us = g.original_commit_timestamp_us = ts;
      }
      if (!r.empty()) g.transaction_length = r.PackedInt("transaction_length");
      if (r.remaining() >= 4) {
        uint32_t v = r.U32("immediate_server_version");
        if (v & (1u << 31)) {
          g.immediate_server_version = v & ~(1u << 31);
          g.original_server_version = r.U32("original_server_version");
        } else {
          g.immediate_server_version = g.original_server_version = v;
        }
      }
    }
  }
  if (!g.anonymous) {
    if (g.gno <= 0) r.Fail("GTID gno " + std::to_string(g.gno) + " is not positive");
    g.gtid = FormatUuid(g.uuid) + ":" + std::to_string(g.gno);
  }
  return g;
}

// GTID_TAGGED_LOG_EVENT (42), MySQL 8.3+: written with the MySQL serialization library.
// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Gtid__event.html
// https://dev.mysql.com/doc/dev/mysql-server/latest/PageLibsMysqlSerialization.html
GtidEvent ParseGtidTagged(const EventHeader&, std::string_view body) {
  ByteReader r(body, "GTID_TAGGED_LOG_EVENT");
  GtidEvent g;
  size_t start = r.pos();
  r.U8("serialization version");
  uint64_t payload_size = r.VarLenUInt("payload size");
  uint64_t last_non_ignorable = r.VarLenUInt("last non-ignorable field id");
  uint64_t consumed = r.pos() - start;
  if (payload_size < consumed || payload_size - consumed > r.remaining()) {
    r.Fail("payload size " + std::to_string(payload_size) + " does not fit the event");
  }
  ByteReader f(r.Bytes(static_cast<size_t>(payload_size - consumed), "fields"), "GTID_TAGGED_LOG_EVENT fields");
  auto signed_varlen = [&](const char* what) {
    uint64_t u = f.VarLenUInt(what);
    return (u & 1) ? -static_cast<int64_t>(u >> 1) - 1 : static_cast<int64_t>(u >> 1);
  };
  bool have_original_ts = false, have_original_version = false, have_tag = false;
  while (!f.empty()) {
    uint64_t id = f.VarLenUInt("field id");
    switch (id) {
      case 0: g.flags = static_cast<uint8_t>(f.VarLenUInt("gtid_flags")); break;
      case 1:
        for (auto& b : g.uuid) {
          uint64_t v = f.VarLenUInt("uuid byte");
          if (v > 255) f.Fail("uuid byte out of range");
          b = static_cast<uint8_t>(v);
        }
        break;
      case 2: g.gno = signed_varlen("gno"); break;
      case 3: {
        uint64_t len = f.VarLenUInt("tag length");
        if (len > 32) f.Fail("tag longer than 32 characters");
        g.tag = std::string(f.Bytes(static_cast<size_t>(len), "tag"));
        have_tag = true;
        break;
      }
      case 4: g.last_committed = signed_varlen("last_committed"); break;
      case 5: g.sequence_number = signed_varlen("sequence_number"); break;
      case 6: g.immediate_commit_timestamp_us = f.VarLenUInt("immediate_commit_timestamp"); break;
      case 7: g.original_commit_timestamp_us = f.VarLenUInt("original_commit_timestamp"); have_original_ts = true; break;
      case 8: g.transaction_length = f.VarLenUInt("transaction_length"); break;
      case 9: g.immediate_server_version = static_cast<uint32_t>(f.VarLenUInt("immediate_server_version")); break;
      case 10: g.original_server_version = static_cast<uint32_t>(f.VarLenUInt("original_server_version")); have_original_version = true; break;
      case 11: f.VarLenUInt("commit_group_ticket"); break;
      default:
        if (id <= last_non_ignorable) f.Fail("unknown non-ignorable field " + std::to_string(id));
        f.Skip(f.remaining());
    }
  }
  if (!have_original_ts) g.original_commit_timestamp_us = g.immediate_commit_timestamp_us;
  if (!have_original_version) g.original_server_version = g.immediate_server_version;
  if (g.gno <= 0) r.Fail("GTID gno " + std::to_string(g.gno) + " is not positive");
  g.gtid = FormatUuid(g.uuid) + ":" + (have_tag && !g.tag.empty() ? g.tag + ":" : "") + std::to_string(g.gno);
  return g;
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Previous__gtids__event.html
PreviousGtidsEvent ParsePreviousGtids(const EventHeader&, std::string_view body) {
  ByteReader r(body, "PREVIOUS_GTIDS_LOG_EVENT");
  PreviousGtidsEvent e;
  uint64_t header = r.U64("n_sids");
  bool tagged = (header >> 56) != 0;
  uint64_t n = tagged ? (header >> 8) & ((1ull << 48) - 1) : header & ((1ull << 56) - 1);
  if (n > r.remaining() / 24) r.Fail("n_sids " + std::to_string(n) + " does not fit the event");
  for (uint64_t i = 0; i < n; ++i) {
    PreviousGtidsEvent::Entry en;
    std::string_view sid = r.Bytes(16, "sid");
    std::memcpy(en.uuid.data(), sid.data(), 16);
    if (tagged) {
      uint64_t len = r.VarLenUInt("tag length");
      if (len > 32) r.Fail("tag longer than 32 characters");
      en.tag = std::string(r.Bytes(static_cast<size_t>(len), "tag"));
    }
    uint64_t k = r.U64("n_intervals");
    if (k > r.remaining() / 16) r.Fail("n_intervals " + std::to_string(k) + " does not fit the event");
    for (uint64_t j = 0; j < k; ++j) {
      PreviousGtidsEvent::Interval iv;
      iv.start = static_cast<int64_t>(r.U64("interval start"));
      iv.end = static_cast<int64_t>(r.U64("interval end"));
      if (iv.end <= iv.start) r.Fail("empty or reversed GTID interval");
      en.intervals.push_back(iv);
    }
    e.entries.push_back(std::move(en));
  }
  return e;
}

// https://mariadb.com/kb/en/gtid_event/
MariaGtidEvent ParseMariaGtid(const EventHeader& h, std::string_view body) {
  ByteReader r(body, "GTID_EVENT(MariaDB)");
  MariaGtidEvent g;
  g.seq_no = r.U64("seq_no");
  g.domain_id = r.U32("domain_id");
  g.flags = r.U8("flags");
  g.server_id = h.server_id;
  if (g.flags & MariaGtidEvent::kGroupCommitId) {
    g.commit_id = r.U64("commit_id");
  } else if (g.flags & (MariaGtidEvent::kPreparedXa | MariaGtidEvent::kCompletedXa)) {
    r.U32("xid format_id");
    uint8_t gtrid = r.U8("xid gtrid_length");
    uint8_t bqual = r.U8("xid bqual_length");
    r.Skip(static_cast<size_t>(gtrid) + bqual, "xid data");
  } else {
    r.Skip(std::min<size_t>(6, r.remaining()), "padding");
  }
  if (!r.empty()) g.flags_extra = r.U8("flags_extra");
  g.gtid = fmt::format("{}-{}-{}", g.domain_id, g.server_id, g.seq_no);
  return g;
}

// https://mariadb.com/kb/en/gtid_list_event/
MariaGtidListEvent ParseMariaGtidList(const EventHeader&, std::string_view body) {
  ByteReader r(body, "GTID_LIST_EVENT");
  MariaGtidListEvent e;
  uint32_t v = r.U32("count");
  uint32_t n = v & 0x0fffffff;
  e.flags = static_cast<uint8_t>(v >> 28);
  if (n > r.remaining() / 16) r.Fail("count " + std::to_string(n) + " does not fit the event");
  for (uint32_t i = 0; i < n; ++i) {
    MariaGtidListEvent::Gtid g;
    g.domain_id = r.U32("domain_id");
    g.server_id = r.U32("server_id");
    g.seq_no = r.U64("seq_no");
    e.gtids.push_back(g);
  }
  return e;
}

// https://mariadb.com/kb/en/binlog_checkpoint_event/
MariaBinlogCheckpointEvent ParseMariaBinlogCheckpoint(const EventHeader&, std::string_view body) {
  ByteReader r(body, "BINLOG_CHECKPOINT_EVENT");
  uint32_t len = r.U32("file name length");
  return MariaBinlogCheckpointEvent{std::string(r.Bytes(len, "file name"))};
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Rows__query__event.html
RowsQueryEvent ParseRowsQuery(const EventHeader&, std::string_view body) {
  ByteReader r(body, "ROWS_QUERY_LOG_EVENT");
  r.U8("length");  // truncated to 255 by the server: the text runs to the end of the event
  return RowsQueryEvent{false, r.rest()};
}

// https://mariadb.com/kb/en/annotate_rows_event/
RowsQueryEvent ParseAnnotateRows(const EventHeader&, std::string_view body) {
  return RowsQueryEvent{true, body};
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Heartbeat__event.html
// https://mariadb.com/kb/en/heartbeat_log_event/
HeartbeatEvent ParseHeartbeat(const EventHeader& h, std::string_view body) {
  return HeartbeatEvent{std::string(body), h.log_pos};
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Heartbeat__event__v2.html
HeartbeatEvent ParseHeartbeatV2(const EventHeader&, std::string_view body) {
  ByteReader r(body, "HEARTBEAT_LOG_EVENT_V2");
  HeartbeatEvent e;
  while (!r.empty()) {
    uint64_t type = r.PackedInt("field type");
    if (type == 0) break;  // end mark
    uint64_t len = r.PackedInt("field length");
    if (len > r.remaining()) r.Truncated(len, "field value");
    std::string_view v = r.Bytes(static_cast<size_t>(len), "field value");
    if (type == 1) {
      e.log_file = std::string(v);
    } else if (type == 2) {
      ByteReader pr(v, "HEARTBEAT_LOG_EVENT_V2 position");
      e.log_pos = pr.PackedInt("log position");
    }
  }
  return e;
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Incident__event.html
IncidentEvent ParseIncident(const EventHeader& h, std::string_view body, const FormatDescriptionEvent& fde) {
  ByteReader r(body, "INCIDENT_EVENT");
  IncidentEvent e;
  uint8_t post = fde.PostHeaderLength(h.type);
  e.incident = r.U16("incident type");
  if (post > 2) r.Skip(post - 2u, "post-header");
  if (!r.empty()) {
    uint8_t len = r.U8("message length");
    e.message = std::string(r.Bytes(len, "message"));
  }
  return e;
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Table__map__event.html
// https://mariadb.com/kb/en/table_map_event/
TableMapPtr ParseTableMap(const EventHeader& h, std::string_view body, const FormatDescriptionEvent& fde) {
  using namespace column_type;
  ByteReader r(body, "TABLE_MAP_EVENT");
  auto m = std::make_shared<TableMap>();
  uint8_t post = fde.PostHeaderLength(h.type);
  if (post == 6) {
    m->table_id = r.U32("table_id");
  } else {
    m->table_id = r.UIntLE(6, "table_id");
  }
  m->flags = r.U16("flags");
  if (post > 8) r.Skip(post - 8u, "post-header");
  uint8_t db_len = r.U8("database length");
  m->database = std::string(r.Bytes(db_len, "database name"));
  if (r.U8("database terminator") != 0) r.Fail("database name not NUL-terminated");
  uint8_t tbl_len = r.U8("table length");
  m->table = std::string(r.Bytes(tbl_len, "table name"));
  if (r.U8("table terminator") != 0) r.Fail("table name not NUL-terminated");
  uint64_t n = r.PackedInt("column count");
  if (n == 0 || n > 4096 || n > r.remaining()) r.Fail("implausible column count " + std::to_string(n));
  std::string_view types = r.Bytes(static_cast<size_t>(n), "column types");
  m->columns.resize(static_cast<size_t>(n));
  uint64_t meta_len = r.PackedInt("metadata length");
  if (meta_len > r.remaining()) r.Truncated(meta_len, "column metadata");
  ByteReader mr(r.Bytes(static_cast<size_t>(meta_len)), "TABLE_MAP_EVENT column metadata");
  for (size_t i = 0; i < m->columns.size(); ++i) {
    TableMapColumn& c = m->columns[i];
    c.type = static_cast<uint8_t>(types[i]);
    c.real_type = c.type;
    switch (c.type) {
      case kFloat: case kDouble: case kBlob: case kTinyBlob: case kMediumBlob: case kLongBlob:
      case kGeometry: case kJson: case kVector: case kMariaBlobCompressed:
        c.meta = mr.U8("pack length");
        c.max_length = c.meta;
        if (c.type == kTinyBlob) c.max_length = 1;
        if (c.type == kMediumBlob) c.max_length = 3;
        if (c.type == kLongBlob) c.max_length = 4;
        break;
      case kTime2: case kDateTime2: case kTimestamp2:
        c.meta = mr.U8("fsp");
        if (c.meta > 6) mr.Fail("fractional seconds precision " + std::to_string(c.meta) + " > 6");
        break;
      case kVarchar: case kVarString: case kMariaVarcharCompressed:
        c.meta = mr.U16("max length");
        c.max_length = c.meta;
        break;
      case kBit:
        c.meta = mr.U16("bit length");
        if ((c.meta & 0xff) > 7 || (c.meta >> 8) > 8 || (c.meta >> 8) * 8 + (c.meta & 0xff) > 64) {
          mr.Fail("bad BIT metadata");
        }
        c.max_length = (c.meta >> 8) * 8u + (c.meta & 0xffu);
        break;
      case kNewDecimal: case kDecimal: {
        uint8_t precision = mr.U8("precision");
        uint8_t scale = mr.U8("scale");
        c.meta = static_cast<uint16_t>((precision << 8) | scale);
        break;
      }
      case kString: case kEnum: case kSet: {
        uint8_t b0 = mr.U8("real type");
        uint8_t b1 = mr.U8("length");
        c.meta = static_cast<uint16_t>((b0 << 8) | b1);
        if (b0 == kEnum || b0 == kSet) {
          c.real_type = b0;
          c.max_length = b1;
        } else if ((b0 & 0x30) != 0x30) {
          c.real_type = static_cast<uint8_t>(b0 | 0x30);
          c.max_length = b1 | (((b0 & 0x30u) ^ 0x30u) << 4);
        } else {
          c.real_type = b0;
          c.max_length = b1;
        }
        break;
      }
      default:
        break;
    }
  }
  std::string_view nulls = r.Bytes((m->columns.size() + 7) / 8, "null bitmap");
  for (size_t i = 0; i < m->columns.size(); ++i) {
    m->columns[i].nullable = (static_cast<uint8_t>(nulls[i / 8]) >> (i % 8)) & 1;
  }
  // Optional metadata (binlog_row_metadata): type, packed length, value.
  const size_t ncols = m->columns.size();
  auto char_columns = [&]() {
    std::vector<size_t> v;
    for (size_t i = 0; i < ncols; ++i) {
      if (IsCharacterType(m->columns[i].real_type)) v.push_back(i);
    }
    return v;
  };
  auto typed_columns = [&](uint8_t rt) {
    std::vector<size_t> v;
    for (size_t i = 0; i < ncols; ++i) {
      if (m->columns[i].real_type == rt) v.push_back(i);
    }
    return v;
  };
  auto read_charsets = [&](ByteReader& f, bool with_default, const std::vector<size_t>& cols) {
    if (m->collation.empty()) m->collation.assign(ncols, 0);
    if (with_default) {
      uint64_t def = f.PackedInt("default collation");
      for (size_t c : cols) m->collation[c] = static_cast<uint32_t>(def);
      while (!f.empty()) {
        uint64_t idx = f.PackedInt("column index");
        uint64_t coll = f.PackedInt("collation");
        if (idx >= cols.size()) f.Fail("charset column index out of range");
        m->collation[cols[static_cast<size_t>(idx)]] = static_cast<uint32_t>(coll);
      }
    } else {
      for (size_t c : cols) m->collation[c] = static_cast<uint32_t>(f.PackedInt("collation"));
    }
  };
  auto read_str_values = [&](ByteReader& f, std::vector<std::vector<std::string>>& dst, uint8_t rt) {
    dst.assign(ncols, {});
    for (size_t c : typed_columns(rt)) {
      if (f.empty()) break;
      uint64_t count = f.PackedInt("value count");
      if (count > f.remaining()) f.Fail("value count does not fit");
      for (uint64_t k = 0; k < count; ++k) dst[c].emplace_back(f.PackedString("value"));
    }
  };
  while (!r.empty()) {
    uint8_t type = r.U8("optional metadata type");
    uint64_t len = r.PackedInt("optional metadata length");
    if (len > r.remaining()) r.Truncated(len, "optional metadata field");
    ByteReader f(r.Bytes(static_cast<size_t>(len)), "TABLE_MAP_EVENT optional metadata");
    switch (type) {
      case 1: {  // SIGNEDNESS: one bit per numeric column, most significant bit first
        m->is_unsigned.assign(ncols, 0);
        size_t k = 0;
        std::string_view bits = f.rest();
        for (size_t i = 0; i < ncols; ++i) {
          if (!IsNumericType(m->columns[i].real_type)) continue;
          if (k / 8 >= bits.size()) f.Fail("signedness bitmap too short");
          m->is_unsigned[i] = MsbBit(bits, k++);
        }
        break;
      }
      case 2: read_charsets(f, true, char_columns()); break;    // DEFAULT_CHARSET
      case 3: read_charsets(f, false, char_columns()); break;   // COLUMN_CHARSET
      case 4:                                                   // COLUMN_NAME
        m->column_names.clear();
        for (size_t i = 0; i < ncols; ++i) m->column_names.emplace_back(f.PackedString("column name"));
        break;
      case 5: read_str_values(f, m->set_values, kSet); break;   // SET_STR_VALUE
      case 6: read_str_values(f, m->enum_values, kEnum); break; // ENUM_STR_VALUE
      case 7:                                                   // GEOMETRY_TYPE
        m->geometry_type.assign(ncols, 0);
        for (size_t c : typed_columns(kGeometry)) m->geometry_type[c] = static_cast<uint32_t>(f.PackedInt("geometry type"));
        break;
      case 8:  // SIMPLE_PRIMARY_KEY
        m->has_primary_key_metadata = true;
        while (!f.empty()) {
          uint64_t idx = f.PackedInt("key column");
          if (idx >= ncols) f.Fail("primary key column out of range");
          m->primary_key.push_back(static_cast<uint16_t>(idx));
          m->primary_key_prefix.push_back(0);
        }
        break;
      case 9:  // PRIMARY_KEY_WITH_PREFIX
        m->has_primary_key_metadata = true;
        while (!f.empty()) {
          uint64_t idx = f.PackedInt("key column");
          uint64_t prefix = f.PackedInt("key prefix");
          if (idx >= ncols) f.Fail("primary key column out of range");
          m->primary_key.push_back(static_cast<uint16_t>(idx));
          m->primary_key_prefix.push_back(static_cast<uint32_t>(prefix));
        }
        break;
      case 10: case 11: {  // ENUM_AND_SET_DEFAULT_CHARSET / ENUM_AND_SET_COLUMN_CHARSET
        std::vector<size_t> cols;
        for (size_t i = 0; i < ncols; ++i) {
          if (m->columns[i].real_type == kEnum || m->columns[i].real_type == kSet) cols.push_back(i);
        }
        read_charsets(f, type == 10, cols);
        break;
      }
      case 12: {  // COLUMN_VISIBILITY
        std::string_view bits = f.rest();
        if (bits.size() * 8 < ncols) f.Fail("visibility bitmap too short");
        m->visible.assign(ncols, 1);
        for (size_t i = 0; i < ncols; ++i) m->visible[i] = MsbBit(bits, i);
        break;
      }
      case 13:  // VECTOR_DIMENSIONALITY
        m->vector_dimensions.assign(ncols, 0);
        for (size_t c : typed_columns(kVector)) m->vector_dimensions[c] = static_cast<uint32_t>(f.PackedInt("vector dimension"));
        break;
      default:
        m->unknown_optional_fields.push_back(type);
    }
  }
  return m;
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Rows__event.html
// https://mariadb.com/kb/en/rows_event_v1v2-rows_compressed_event_v1/
RowsEvent ParseRows(const EventHeader& h, std::string_view body, const FormatDescriptionEvent& fde) {
  ByteReader r(body, "rows event");
  RowsEvent e;
  e.header = h;
  bool compressed = false;
  switch (static_cast<EventType>(h.type)) {
    case EventType::kWriteRowsV1: e.kind = RowsKind::kWrite; e.version = 1; break;
    case EventType::kUpdateRowsV1: e.kind = RowsKind::kUpdate; e.version = 1; break;
    case EventType::kDeleteRowsV1: e.kind = RowsKind::kDelete; e.version = 1; break;
    case EventType::kWriteRows: e.kind = RowsKind::kWrite; break;
    case EventType::kUpdateRows: e.kind = RowsKind::kUpdate; break;
    case EventType::kDeleteRows: e.kind = RowsKind::kDelete; break;
    case EventType::kPartialUpdateRows: e.kind = RowsKind::kPartialUpdate; break;
    case EventType::kMariaWriteRowsCompressedV1: e.kind = RowsKind::kWrite; e.version = 1; compressed = true; break;
    case EventType::kMariaUpdateRowsCompressedV1: e.kind = RowsKind::kUpdate; e.version = 1; compressed = true; break;
    case EventType::kMariaDeleteRowsCompressedV1: e.kind = RowsKind::kDelete; e.version = 1; compressed = true; break;
    case EventType::kMariaWriteRowsCompressed: e.kind = RowsKind::kWrite; compressed = true; break;
    case EventType::kMariaUpdateRowsCompressed: e.kind = RowsKind::kUpdate; compressed = true; break;
    case EventType::kMariaDeleteRowsCompressed: e.kind = RowsKind::kDelete; compressed = true; break;
    default: r.Fail("not a rows event type");
  }
  uint8_t post = fde.PostHeaderLength(h.type);
  if (post == 6) {
    e.table_id = r.U32("table_id");
  } else {
    e.table_id = r.UIntLE(6, "table_id");
  }
  e.flags = r.U16("flags");
  size_t fixed = post == 6 ? 6 : 8;
  if (e.version == 2) {
    uint16_t extra = r.U16("extra data length");
    if (extra < 2) r.Fail("extra data length " + std::to_string(extra) + " < 2");
    r.Skip(extra - 2u, "extra data");
    fixed += 2;
  }
  if (post > fixed) r.Skip(post - fixed, "post-header");
  uint64_t n = r.PackedInt("column count");
  if (n == 0 || n > 4096) r.Fail("implausible column count " + std::to_string(n));
  e.column_count = static_cast<uint32_t>(n);
  size_t bitmap = (e.column_count + 7) / 8;
  std::string_view first = r.Bytes(bitmap, "columns-present bitmap");
  if (e.kind == RowsKind::kWrite) {
    e.columns_after = first;
  } else if (e.kind == RowsKind::kDelete) {
    e.columns_before = first;
  } else {
    e.columns_before = first;
    e.columns_after = r.Bytes(bitmap, "after-image columns-present bitmap");
  }
  e.rows = r.rest();
  if (compressed) {
    e.storage = MariaUncompress(e.rows, "compressed rows event");
    e.rows = *e.storage;
  }
  return e;
}

// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Transaction__payload__event.html
TransactionPayloadEvent ParseTransactionPayload(const EventHeader&, std::string_view body) {
  ByteReader r(body, "TRANSACTION_PAYLOAD_EVENT");
  TransactionPayloadEvent e;
  bool have_size = false;
  while (true) {
    uint64_t type = r.PackedInt("field type");
    if (type == 0) break;  // OTW_PAYLOAD_HEADER_END_MARK
    uint64_t len = r.PackedInt("field length");
    if (len > r.remaining()) r.Truncated(len, "field value");
    ByteReader v(r.Bytes(static_cast<size_t>(len)), "TRANSACTION_PAYLOAD_EVENT field");
    switch (type) {
      case 1: e.payload_size = v.PackedInt("payload size"); have_size = true; break;
      case 2: e.compression_type = v.PackedInt("compression type"); break;
      case 3: e.uncompressed_size = v.PackedInt("uncompressed size"); break;
      default: break;  // newer fields: skipped by length
    }
  }
  std::string_view payload = r.rest();
  if (have_size && e.payload_size != payload.size()) {
    r.Fail("payload size field says " + std::to_string(e.payload_size) + " but " +
           std::to_string(payload.size()) + " bytes follow");
  }
  auto out = std::make_shared<std::string>();
  if (e.compression_type == 255) {  // NONE
    out->assign(payload);
  } else if (e.compression_type == 0) {  // ZSTD, possibly several frames
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    if (!dctx) r.Fail("cannot create a zstd context");
    ZSTD_inBuffer in{payload.data(), payload.size(), 0};
    size_t rc = 1;
    const uint64_t limit = e.uncompressed_size ? e.uncompressed_size : (1ull << 32);
    while (in.pos < in.size || rc != 0) {
      size_t old = out->size();
      if (old >= limit + 1) break;
      size_t grow = static_cast<size_t>(std::min<uint64_t>(std::max<uint64_t>(limit - std::min<uint64_t>(limit, old), 1), 1 << 20));
      out->resize(old + grow);
      ZSTD_outBuffer ob{out->data() + old, grow, 0};
      rc = ZSTD_decompressStream(dctx, &ob, &in);
      out->resize(old + ob.pos);
      if (ZSTD_isError(rc)) {
        ZSTD_freeDCtx(dctx);
        r.Fail(std::string("zstd: ") + ZSTD_getErrorName(rc));
      }
      if (ob.pos == 0 && in.pos == in.size) break;  // no progress and no input left
    }
    ZSTD_freeDCtx(dctx);
    if (rc != 0) r.Fail("zstd stream truncated");
  } else {
    r.Fail("unknown compression type " + std::to_string(e.compression_type));
  }
  if (e.uncompressed_size && out->size() != e.uncompressed_size) {
    r.Fail("uncompressed " + std::to_string(out->size()) + " bytes, header says " +
           std::to_string(e.uncompressed_size));
  }
  e.uncompressed_size = out->size();
  e.uncompressed = out;
  std::string_view all = *out;
  size_t pos = 0;
  while (pos < all.size()) {
    EventHeader ih = ParseEventHeader(all.substr(pos));
    if (ih.event_size < EventHeader::kSize || ih.event_size > all.size() - pos) {
      r.Fail("inner event at offset " + std::to_string(pos) + " has bad size " + std::to_string(ih.event_size));
    }
    e.events.push_back(all.substr(pos, ih.event_size));
    pos += ih.event_size;
  }
  return e;
}

// ---------------------------------------------------------------- decoder

BinlogDecoder::BinlogDecoder(Options options) : options_(options) {}

void BinlogDecoder::SetFormat(FormatDescriptionEvent fde) {
  format_ = std::move(fde);
  has_format_ = true;
}

TableMapPtr BinlogDecoder::FindTable(uint64_t table_id) const {
  auto it = tables_.find(table_id);
  return it == tables_.end() ? nullptr : it->second;
}

BinlogEvent BinlogDecoder::Decode(std::string_view raw) { return DecodeImpl(raw, false); }
BinlogEvent BinlogDecoder::DecodeInner(std::string_view raw) { return DecodeImpl(raw, true); }

std::string_view BinlogDecoder::StripChecksum(const EventHeader& h, std::string_view raw, bool inner) {
  if (inner || h.type == T(EventType::kFormatDescription)) return raw;
  ChecksumAlg alg = has_format_ ? format_.checksum_alg : options_.checksum_before_fde;
  if (alg == ChecksumAlg::kUndefined && !has_format_) {
    // Before any FDE (fake ROTATE of a dump): accept a trailer only when it verifies.
    if (raw.size() >= EventHeader::kSize + 4) {
      uint32_t stored = static_cast<uint32_t>(ByteReader(raw.substr(raw.size() - 4), "crc").U32());
      if (ComputeEventCrc32(raw.substr(0, raw.size() - 4)) == stored) return raw.substr(0, raw.size() - 4);
    }
    return raw;
  }
  if (alg != ChecksumAlg::kCrc32) return raw;
  if (raw.size() < EventHeader::kSize + 4) {
    Throw(ErrorKind::kData, "binlog {} at position {}: event of {} bytes is too short for its CRC32",
          EventTypeName(h.type), h.position(), raw.size());
  }
  std::string_view without = raw.substr(0, raw.size() - 4);
  if (options_.verify_checksum) {
    uint32_t stored = static_cast<uint32_t>(ByteReader(raw.substr(raw.size() - 4), "crc").U32());
    uint32_t computed = ComputeEventCrc32(without);
    if (stored != computed) {
      Throw(ErrorKind::kData,
            "binlog {} at position {}: CRC32 checksum mismatch (event says {:#010x}, computed {:#010x}); "
            "the event is corrupt: not advancing past it",
            EventTypeName(h.type), h.position(), stored, computed);
    }
  }
  return without;
}

BinlogEvent BinlogDecoder::DecodeImpl(std::string_view raw, bool inner) {
  BinlogEvent ev;
  ev.header = ParseEventHeader(raw);
  const EventHeader& h = ev.header;
  if (h.event_size != raw.size()) {
    Throw(ErrorKind::kData, "binlog {} at position {}: header says {} bytes but {} were given",
          EventTypeName(h.type), h.position(), h.event_size, raw.size());
  }
  std::string_view data = StripChecksum(h, raw, inner);
  std::string_view body = data.substr(EventHeader::kSize);
  try {
    const FormatDescriptionEvent& fde = format_;
    switch (static_cast<EventType>(h.type)) {
      case EventType::kFormatDescription: {
        FormatDescriptionEvent f = ParseFormatDescription(h, body);
        if (f.checksum_alg == ChecksumAlg::kCrc32 && options_.verify_checksum && !inner) {
          uint32_t stored = static_cast<uint32_t>(ByteReader(raw.substr(raw.size() - 4), "crc").U32());
          uint32_t computed = ComputeEventCrc32(raw.substr(0, raw.size() - 4));
          if (stored != computed) {
            Throw(ErrorKind::kData, "CRC32 checksum mismatch (event says {:#010x}, computed {:#010x})",
                  stored, computed);
          }
        }
        format_ = f;
        has_format_ = true;
        ev.body = std::move(f);
        break;
      }
      case EventType::kRotate:
        ev.body = ParseRotate(h, body, has_format_ ? &format_ : nullptr);
        break;
      case EventType::kQuery:
      case EventType::kMariaQueryCompressed:
        ev.body = ParseQuery(h, body, fde);
        break;
      case EventType::kXid:
        ev.body = ParseXid(h, body);
        break;
      case EventType::kGtid:
      case EventType::kAnonymousGtid:
        ev.body = ParseGtid(h, body);
        break;
      case EventType::kGtidTagged:
        ev.body = ParseGtidTagged(h, body);
        break;
      case EventType::kPreviousGtids:
        ev.body = ParsePreviousGtids(h, body);
        break;
      case EventType::kMariaGtid:
        ev.body = ParseMariaGtid(h, body);
        break;
      case EventType::kMariaGtidList:
        ev.body = ParseMariaGtidList(h, body);
        break;
      case EventType::kMariaBinlogCheckpoint:
        ev.body = ParseMariaBinlogCheckpoint(h, body);
        break;
      case EventType::kRowsQuery:
        ev.body = ParseRowsQuery(h, body);
        break;
      case EventType::kMariaAnnotateRows:
        ev.body = ParseAnnotateRows(h, body);
        break;
      case EventType::kHeartbeat:
        ev.body = ParseHeartbeat(h, body);
        break;
      case EventType::kHeartbeatV2:
        ev.body = ParseHeartbeatV2(h, body);
        break;
      case EventType::kIncident:
        ev.body = ParseIncident(h, body, fde);
        break;
      case EventType::kStop:
        ev.body = StopEvent{};
        break;
      case EventType::kTableMap: {
        TableMapPtr m = ParseTableMap(h, body, fde);
        tables_[m->table_id] = m;
        ev.body = TableMapEvent{std::move(m)};
        break;
      }
      case EventType::kWriteRowsV1: case EventType::kUpdateRowsV1: case EventType::kDeleteRowsV1:
      case EventType::kWriteRows: case EventType::kUpdateRows: case EventType::kDeleteRows:
      case EventType::kPartialUpdateRows:
      case EventType::kMariaWriteRowsCompressedV1: case EventType::kMariaUpdateRowsCompressedV1:
      case EventType::kMariaDeleteRowsCompressedV1: case EventType::kMariaWriteRowsCompressed:
      case EventType::kMariaUpdateRowsCompressed: case EventType::kMariaDeleteRowsCompressed: {
        RowsEvent rows = ParseRows(h, body, fde);
        rows.table = FindTable(rows.table_id);
        if (rows.end_of_statement()) tables_.clear();
        ev.body = std::move(rows);
        break;
      }
      case EventType::kTransactionPayload:
        ev.body = ParseTransactionPayload(h, body);
        break;
      case EventType::kIntvar: case EventType::kRand: case EventType::kUserVar:
      case EventType::kIgnorable: case EventType::kTransactionContext: case EventType::kViewChange:
      case EventType::kXaPrepare: case EventType::kBeginLoadQuery: case EventType::kExecuteLoadQuery:
      case EventType::kAppendBlock: case EventType::kDeleteFile: case EventType::kSlave:
      case EventType::kMariaStartEncryption:
        ev.body = SkippedEvent{true, EventTypeName(h.type) + " is not used by row-based capture"};
        break;
      default:
        ev.body = SkippedEvent{false, "unknown event type " + EventTypeName(h.type)};
        break;
    }
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kData) throw;
    Throw(ErrorKind::kData, "binlog {} at position {} (server {}): {}", EventTypeName(h.type),
          h.position(), h.server_id, e.what());
  }
  return ev;
}

std::vector<FileEvent> DecodeBinlogFile(std::string_view file, BinlogDecoder& decoder) {
  if (file.size() < 4 || file.substr(0, 4) != std::string_view("\xfe" "bin", 4)) {
    Throw(ErrorKind::kData, "not a binlog file: missing the \\xfebin magic");
  }
  std::vector<FileEvent> out;
  size_t pos = 4;
  while (pos < file.size()) {
    if (file.size() - pos < EventHeader::kSize) {
      Throw(ErrorKind::kData, "binlog file truncated at offset {}: {} bytes left, a header needs 19", pos,
            file.size() - pos);
    }
    EventHeader h = ParseEventHeader(file.substr(pos));
    if (h.event_size < EventHeader::kSize || h.event_size > file.size() - pos) {
      Throw(ErrorKind::kData, "binlog {} at offset {}: event size {} runs past the end of the file ({} bytes)",
            EventTypeName(h.type), pos, h.event_size, file.size());
    }
    FileEvent fe;
    fe.offset = pos;
    fe.event = decoder.Decode(file.substr(pos, h.event_size));
    if (const auto* tp = fe.event.As<TransactionPayloadEvent>()) {
      auto keep = tp->uncompressed;  // keeps inner views alive through the copy below
      std::vector<std::string_view> inner = tp->events;
      out.push_back(std::move(fe));
      for (std::string_view ie : inner) {
        FileEvent f2;
        f2.offset = pos;
        f2.inner = true;
        f2.event = decoder.DecodeInner(ie);
        out.push_back(std::move(f2));
      }
    } else {
      out.push_back(std::move(fe));
    }
    pos += h.event_size;
  }
  return out;
}

size_t DecodeAnyEvent(std::string_view bytes) { return DecodeAnyEvent(bytes, BinlogDecoder::Options{}); }

size_t DecodeAnyEvent(std::string_view bytes, const BinlogDecoder::Options& options) {
  BinlogDecoder decoder(options);
  std::vector<FileEvent> events;
  if (bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("\xfe" "bin", 4)) {
    events = DecodeBinlogFile(bytes, decoder);
  } else {
    size_t pos = 0;
    while (bytes.size() - pos >= EventHeader::kSize) {
      EventHeader h = ParseEventHeader(bytes.substr(pos));
      if (h.event_size < EventHeader::kSize || h.event_size > bytes.size() - pos) break;
      FileEvent fe;
      fe.offset = pos;
      fe.event = decoder.Decode(bytes.substr(pos, h.event_size));
      events.push_back(std::move(fe));
      pos += h.event_size;
    }
  }
  RowDecoder rows;
  for (const auto& fe : events) {
    const auto* re = fe.event.As<RowsEvent>();
    if (!re || !re->table) continue;
    TableSchemaPtr schema = SchemaFromTableMap(*re->table);
    ChangeChunk chunk(schema);
    uint32_t src = chunk.AddSource(SourceInfo{});
    rows.Decode(*re, *re->table, schema, chunk, src, [](uint32_t i) { return static_cast<uint64_t>(i); });
  }
  return events.size();
}

}  // namespace sluice::mysql
