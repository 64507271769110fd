#pragma once
/// Binlog events: the 19-byte v4 header, one parser per event type, and BinlogDecoder, which keeps
/// the FORMAT_DESCRIPTION state and the table maps of the stream. Pure functions over bytes: no
/// network, no schema history (see mysql/row_decoder.h for turning rows events into ChangeChunks).
///
/// Event layouts: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_replication_binlog_event.html
/// and https://mariadb.com/kb/en/replication-protocol/ (MariaDB-specific events).

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/error.h"

namespace sluice::mysql {

/// Binlog event type codes (MySQL `Log_event_type`, MariaDB additions from 160).
enum class EventType : uint8_t {
  kUnknown = 0,
  kStartV3 = 1,
  kQuery = 2,
  kStop = 3,
  kRotate = 4,
  kIntvar = 5,
  kSlave = 7,
  kAppendBlock = 9,
  kDeleteFile = 11,
  kRand = 13,
  kUserVar = 14,
  kFormatDescription = 15,
  kXid = 16,
  kBeginLoadQuery = 17,
  kExecuteLoadQuery = 18,
  kTableMap = 19,
  kWriteRowsV0 = 20,
  kUpdateRowsV0 = 21,
  kDeleteRowsV0 = 22,
  kWriteRowsV1 = 23,
  kUpdateRowsV1 = 24,
  kDeleteRowsV1 = 25,
  kIncident = 26,
  kHeartbeat = 27,
  kIgnorable = 28,
  kRowsQuery = 29,
  kWriteRows = 30,
  kUpdateRows = 31,
  kDeleteRows = 32,
  kGtid = 33,
  kAnonymousGtid = 34,
  kPreviousGtids = 35,
  kTransactionContext = 36,
  kViewChange = 37,
  kXaPrepare = 38,
  kPartialUpdateRows = 39,
  kTransactionPayload = 40,
  kHeartbeatV2 = 41,
  kGtidTagged = 42,
  kMariaAnnotateRows = 160,
  kMariaBinlogCheckpoint = 161,
  kMariaGtid = 162,
  kMariaGtidList = 163,
  kMariaStartEncryption = 164,
  kMariaQueryCompressed = 165,
  kMariaWriteRowsCompressedV1 = 166,
  kMariaUpdateRowsCompressedV1 = 167,
  kMariaDeleteRowsCompressedV1 = 168,
  kMariaWriteRowsCompressed = 169,
  kMariaUpdateRowsCompressed = 170,
  kMariaDeleteRowsCompressed = 171,
};

/// Returns a printable name of an event type code ("WRITE_ROWS_EVENT", "TYPE_200" when unknown).
std::string EventTypeName(uint8_t type);

/// Column type codes as written in TABLE_MAP events (MySQL `enum_field_types`).
namespace column_type {
inline constexpr uint8_t kDecimal = 0, kTiny = 1, kShort = 2, kLong = 3, kFloat = 4, kDouble = 5,
                         kNull = 6, kTimestamp = 7, kLongLong = 8, kInt24 = 9, kDate = 10,
                         kTime = 11, kDateTime = 12, kYear = 13, kNewDate = 14, kVarchar = 15,
                         kBit = 16, kTimestamp2 = 17, kDateTime2 = 18, kTime2 = 19,
                         kTypedArray = 20, kVector = 242, kInvalid = 243, kBool = 244,
                         kJson = 245, kNewDecimal = 246, kEnum = 247, kSet = 248,
                         kTinyBlob = 249, kMediumBlob = 250, kLongBlob = 251, kBlob = 252,
                         kVarString = 253, kString = 254, kGeometry = 255;
/// MariaDB compressed columns (COMPRESSED attribute), logged with these types.
inline constexpr uint8_t kMariaVarcharCompressed = 140, kMariaBlobCompressed = 141;
}  // namespace column_type

/// Returns the SQL-ish name of a binlog column type ("VARCHAR", "DATETIME2", "TYPE_99").
std::string ColumnTypeName(uint8_t type);

/// Event header flags.
inline constexpr uint16_t kLogEventBinlogInUseFlag = 0x0001;
inline constexpr uint16_t kLogEventArtificialFlag = 0x0020;

/// Rows event flags.
inline constexpr uint16_t kRowsStmtEndFlag = 0x0001;

/// Checksum algorithm announced by the FORMAT_DESCRIPTION event.
enum class ChecksumAlg : uint8_t { kOff = 0, kCrc32 = 1, kUndefined = 255 };

/// Bounds-checked little-endian reader over a byte range. Every read past the end throws
/// Error(kData) naming `what` and the offset. Does not own the bytes.
class ByteReader {
 public:
  ByteReader(std::string_view data, const char* what) : data_(data), what_(what) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return pos_ >= data_.size(); }
  std::string_view data() const { return data_; }
  std::string_view rest() const { return data_.substr(pos_); }

  void Need(size_t n, const char* field) const {
    if (n > data_.size() - pos_) Truncated(n, field);
  }
  void Skip(size_t n, const char* field = "bytes") {
    Need(n, field);
    pos_ += n;
  }
  uint8_t U8(const char* field = "u8") {
    Need(1, field);
    return static_cast<uint8_t>(data_[pos_++]);
  }
  /// Reads an unsigned little-endian integer of `n` bytes (0..8).
  uint64_t UIntLE(size_t n, const char* field = "int") {
    Need(n, field);
    uint64_t v = 0;
    const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    pos_ += n;
    return v;
  }
  uint16_t U16(const char* field = "u16") { return static_cast<uint16_t>(UIntLE(2, field)); }
  uint32_t U32(const char* field = "u32") { return static_cast<uint32_t>(UIntLE(4, field)); }
  uint64_t U64(const char* field = "u64") { return UIntLE(8, field); }
  std::string_view Bytes(size_t n, const char* field = "bytes") {
    Need(n, field);
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  /// Reads a MySQL length-encoded ("packed") integer: <251 in one byte, 0xfc+2, 0xfd+3, 0xfe+8.
  uint64_t PackedInt(const char* field = "packed integer");
  /// Reads a packed integer length followed by that many bytes.
  std::string_view PackedString(const char* field = "packed string") {
    uint64_t n = PackedInt(field);
    if (n > remaining()) Truncated(n, field);
    return Bytes(static_cast<size_t>(n), field);
  }
  /// Reads a MySQL serialization-library variable-length unsigned integer (libs/mysql/serialization).
  uint64_t VarLenUInt(const char* field = "varlen integer");

  [[noreturn]] void Truncated(uint64_t n, const char* field) const;
  [[noreturn]] void Fail(const std::string& msg) const;

 private:
  std::string_view data_;
  size_t pos_ = 0;
  const char* what_;
};

/// The 19-byte v4 event header.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_replication_binlog_event.html#sect_protocol_replication_binlog_event_header
struct EventHeader {
  uint32_t timestamp = 0;  ///< seconds since epoch (statement start)
  uint8_t type = 0;        ///< EventType code (kept raw: unknown codes are legal)
  uint32_t server_id = 0;
  uint32_t event_size = 0;  ///< header + body + checksum
  uint32_t log_pos = 0;     ///< position of the NEXT event in the binlog file (0 for artificial events)
  uint16_t flags = 0;

  static constexpr size_t kSize = 19;
  EventType event_type() const { return static_cast<EventType>(type); }
  /// Position of this event in its binlog file (log_pos - event_size), 0 when unknown.
  uint64_t position() const { return log_pos >= event_size ? log_pos - event_size : 0; }
};

/// Parses the v4 header at the start of `raw` (throws Error(kData) when shorter than 19 bytes).
EventHeader ParseEventHeader(std::string_view raw);

/// FORMAT_DESCRIPTION_EVENT (15).
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Format__description__event.html
struct FormatDescriptionEvent {
  uint16_t binlog_version = 4;
  std::string server_version;       ///< "8.0.36", "10.11.6-MariaDB-log"
  uint32_t create_timestamp = 0;
  uint8_t common_header_length = 19;
  std::vector<uint8_t> post_header_lengths;  ///< index = event type - 1
  ChecksumAlg checksum_alg = ChecksumAlg::kUndefined;
  bool mariadb = false;
  std::array<int, 3> version{0, 0, 0};  ///< parsed major.minor.patch

  /// Post-header length of `type`, or the MySQL 5.6+ default when the FDE does not list it.
  uint8_t PostHeaderLength(uint8_t type) const;
};

/// ROTATE_EVENT (4): the next binlog file and position.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Rotate__event.html
struct RotateEvent {
  uint64_t position = 4;
  std::string next_file;
};

/// QUERY_EVENT (2) and MariaDB QUERY_COMPRESSED_EVENT (165): BEGIN, COMMIT, DDL, statements.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Query__event.html
/// Views point into the raw event bytes (or `storage` when the query was compressed).
struct QueryEvent {
  uint32_t thread_id = 0;
  uint32_t exec_time = 0;
  uint16_t error_code = 0;
  std::string_view status_vars;  ///< raw status variables (skipped, not interpreted)
  std::string_view database;
  std::string_view query;
  std::shared_ptr<const std::string> storage;  ///< owns `query` for compressed events
};

/// XID_EVENT (16): commit of a transactional (InnoDB) transaction.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1XID__event.html
struct XidEvent {
  uint64_t xid = 0;
};

/// MySQL GTID_LOG_EVENT (33), ANONYMOUS_GTID_LOG_EVENT (34) and GTID_TAGGED_LOG_EVENT (42).
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Gtid__event.html
struct GtidEvent {
  bool anonymous = false;
  uint8_t flags = 0;  ///< bit 0: may contain statement-based changes
  std::array<uint8_t, 16> uuid{};
  std::string tag;    ///< GTID tag (MySQL 8.4+), empty when untagged
  int64_t gno = 0;
  int64_t last_committed = 0;
  int64_t sequence_number = 0;
  uint64_t immediate_commit_timestamp_us = 0;  ///< 0 when not logged
  uint64_t original_commit_timestamp_us = 0;
  uint64_t transaction_length = 0;
  uint32_t immediate_server_version = 0;
  uint32_t original_server_version = 0;
  std::string gtid;  ///< "uuid:gno" or "uuid:tag:gno"; "" for anonymous transactions
};

/// Formats a 16-byte UUID as 8-4-4-4-12 lowercase hex.
std::string FormatUuid(const std::array<uint8_t, 16>& uuid);

/// PREVIOUS_GTIDS_LOG_EVENT (35): the GTID set executed before this binlog file.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Previous__gtids__event.html
struct PreviousGtidsEvent {
  struct Interval {
    int64_t start = 0;
    int64_t end = 0;  ///< exclusive
  };
  struct Entry {
    std::array<uint8_t, 16> uuid{};
    std::string tag;
    std::vector<Interval> intervals;
  };
  std::vector<Entry> entries;
  /// Returns MySQL's text form: "uuid:1-14:mytag:1-3,uuid2:5" ("" when empty).
  std::string ToString() const;
};

/// MariaDB GTID_EVENT (162): starts an event group ("domain-server-seq").
/// https://mariadb.com/kb/en/gtid_event/
struct MariaGtidEvent {
  static constexpr uint8_t kStandalone = 1, kGroupCommitId = 2, kTransactional = 4,
                           kAllowParallel = 8, kWaited = 16, kDdl = 32, kPreparedXa = 64,
                           kCompletedXa = 128;
  uint64_t seq_no = 0;
  uint32_t domain_id = 0;
  uint32_t server_id = 0;  ///< from the event header
  uint8_t flags = 0;
  uint64_t commit_id = 0;  ///< group commit id when kGroupCommitId is set
  uint8_t flags_extra = 0; ///< MariaDB 10.5+ extra flags (0 when absent)
  std::string gtid;        ///< "domain-server-seq"
  /// True when the group has no terminating COMMIT/XID (DDL, non-transactional statement).
  bool standalone() const { return (flags & kStandalone) != 0; }
};

/// MariaDB GTID_LIST_EVENT (163): the binlog state at the start of a file.
/// https://mariadb.com/kb/en/gtid_list_event/
struct MariaGtidListEvent {
  struct Gtid {
    uint32_t domain_id = 0;
    uint32_t server_id = 0;
    uint64_t seq_no = 0;
  };
  uint8_t flags = 0;  ///< upper 4 bits of the count field
  std::vector<Gtid> gtids;
  /// Returns "domain-server-seq,..." in event order ("" when empty).
  std::string ToString() const;
};

/// MariaDB BINLOG_CHECKPOINT_EVENT (161).
/// https://mariadb.com/kb/en/binlog_checkpoint_event/
struct MariaBinlogCheckpointEvent {
  std::string file;
};

/// ROWS_QUERY_LOG_EVENT (29) and MariaDB ANNOTATE_ROWS_EVENT (160): the statement text of the
/// following rows events. `query` points into the raw event bytes.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Rows__query__event.html
/// https://mariadb.com/kb/en/annotate_rows_event/
struct RowsQueryEvent {
  bool mariadb_annotate = false;
  std::string_view query;
};

/// HEARTBEAT_LOG_EVENT (27, MySQL and MariaDB) and HEARTBEAT_LOG_EVENT_V2 (41).
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Heartbeat__event.html
struct HeartbeatEvent {
  std::string log_file;
  uint64_t log_pos = 0;  ///< from the header (v1) or the body (v2)
};

/// INCIDENT_EVENT (26): the source lost events (the stream is not complete).
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Incident__event.html
struct IncidentEvent {
  uint16_t incident = 0;
  std::string message;
};

/// STOP_EVENT (3): the source shut down; nothing follows in this file.
struct StopEvent {};

/// One column of a TABLE_MAP event.
struct TableMapColumn {
  uint8_t type = 0;         ///< type as logged (STRING for ENUM/SET/CHAR)
  uint8_t real_type = 0;    ///< ENUM/SET/STRING resolved from the metadata; else == type
  uint16_t meta = 0;        ///< raw metadata (1 or 2 bytes; 2-byte values little-endian, STRING as (b0<<8)|b1)
  uint32_t max_length = 0;  ///< byte length for CHAR/VARCHAR/BINARY, pack length for BLOB-like, ENUM/SET size
  bool nullable = true;
};

/// A decoded TABLE_MAP_EVENT (19) with its optional metadata (MySQL 8.0.1+ binlog_row_metadata,
/// MariaDB 10.5+). Per-column vectors are sized to the column count when the matching optional
/// field was present, and empty otherwise. Immutable once shared.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Table__map__event.html
struct TableMap {
  uint64_t table_id = 0;
  uint16_t flags = 0;
  std::string database;
  std::string table;
  std::vector<TableMapColumn> columns;

  std::vector<uint8_t> is_unsigned;   ///< SIGNEDNESS, per column (0 for non-numeric)
  std::vector<uint32_t> collation;    ///< charset collation id per column (0 when none/unknown)
  std::vector<std::string> column_names;
  std::vector<std::vector<std::string>> enum_values;  ///< per column (ENUM only)
  std::vector<std::vector<std::string>> set_values;   ///< per column (SET only)
  std::vector<uint32_t> geometry_type;                ///< per column (GEOMETRY only)
  std::vector<uint16_t> primary_key;                  ///< column indexes, in key order
  std::vector<uint32_t> primary_key_prefix;           ///< prefix length per key part (0 = whole)
  std::vector<uint8_t> visible;                       ///< COLUMN_VISIBILITY per column
  std::vector<uint32_t> vector_dimensions;            ///< per column (VECTOR only)
  bool has_primary_key_metadata = false;              ///< SIMPLE_PRIMARY_KEY or PRIMARY_KEY_WITH_PREFIX seen
  std::vector<uint8_t> unknown_optional_fields;       ///< optional-metadata types we skipped

  std::string QualifiedName() const { return database + "." + table; }
  /// Number of JSON columns (used by PARTIAL_UPDATE_ROWS).
  size_t JsonColumnCount() const;
};
using TableMapPtr = std::shared_ptr<const TableMap>;

/// TABLE_MAP_EVENT result.
struct TableMapEvent {
  TableMapPtr map;
};

/// What a rows event does to its rows.
enum class RowsKind : uint8_t { kWrite, kUpdate, kDelete, kPartialUpdate };

/// WRITE/UPDATE/DELETE_ROWS v1 (23-25) and v2 (30-32), PARTIAL_UPDATE_ROWS (39), and MariaDB
/// compressed rows events (166-171, inflated). The row images stay undecoded until
/// RowDecoder::Decode (mysql/row_decoder.h). Views point into the raw event (or `storage`).
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Rows__event.html
struct RowsEvent {
  EventHeader header;
  RowsKind kind = RowsKind::kWrite;
  uint8_t version = 2;  ///< 1 for v1 and MariaDB events, 2 for v2
  uint64_t table_id = 0;
  uint16_t flags = 0;
  uint32_t column_count = 0;
  std::string_view columns_before;  ///< columns-present bitmap of the before image (update/delete)
  std::string_view columns_after;   ///< columns-present bitmap of the after image (write/update)
  std::string_view rows;            ///< the packed row images
  std::shared_ptr<const std::string> storage;  ///< owns `rows` for compressed events
  TableMapPtr table;  ///< the table map in force for table_id when the event was decoded (may be null)

  bool end_of_statement() const { return (flags & kRowsStmtEndFlag) != 0; }
};

/// TRANSACTION_PAYLOAD_EVENT (40): a zstd-compressed transaction. `events` are the inner raw
/// events (header + body, no checksum), to be fed to BinlogDecoder::DecodeInner in order.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classmysql_1_1binlog_1_1event_1_1Transaction__payload__event.html
struct TransactionPayloadEvent {
  uint64_t compression_type = 0;  ///< 0 = ZSTD, 255 = NONE
  uint64_t payload_size = 0;
  uint64_t uncompressed_size = 0;
  std::shared_ptr<const std::string> uncompressed;
  std::vector<std::string_view> events;  ///< views into *uncompressed
};

/// An event the decoder does not interpret (unknown type, statement-based helpers, ...). The
/// caller logs a warning for unknown types; `known` is true for types deliberately ignored.
struct SkippedEvent {
  bool known = false;
  std::string reason;
};

using EventBody =
    std::variant<SkippedEvent, FormatDescriptionEvent, RotateEvent, QueryEvent, XidEvent, GtidEvent,
                 PreviousGtidsEvent, MariaGtidEvent, MariaGtidListEvent, MariaBinlogCheckpointEvent,
                 RowsQueryEvent, HeartbeatEvent, IncidentEvent, StopEvent, TableMapEvent, RowsEvent,
                 TransactionPayloadEvent>;

/// One decoded event: the header and the typed body. String views inside point into the raw
/// bytes passed to Decode (or into owned storage noted on the body): keep them alive.
struct BinlogEvent {
  EventHeader header;
  EventBody body;

  template <typename T>
  const T* As() const { return std::get_if<T>(&body); }
  template <typename T>
  bool Is() const { return std::holds_alternative<T>(body); }
};

/// Decodes a stream of raw events, keeping the state they depend on: the current
/// FORMAT_DESCRIPTION (post-header lengths, checksum algorithm) and the table maps by table id.
/// One per replication stream; not thread-safe. Table maps are dropped after a rows event with
/// STMT_END_F (MySQL and MariaDB always log fresh table maps for the next statement); a RowsEvent
/// keeps its own reference to its TableMap.
class BinlogDecoder {
 public:
  struct Options {
    bool verify_checksum = true;  ///< verify CRC32 trailers when the FDE says CRC32
    /// Whether events before the first FORMAT_DESCRIPTION (the fake ROTATE of a dump) carry a
    /// checksum: kUndefined = detect (trailer accepted when it matches the CRC32 of the event).
    ChecksumAlg checksum_before_fde = ChecksumAlg::kUndefined;
  };

  BinlogDecoder() : BinlogDecoder(Options{}) {}
  explicit BinlogDecoder(Options options);

  /// Decodes one raw event exactly as it appears in a binlog file or a dump packet (without the
  /// network OK byte): 19-byte header, body, and the 4-byte CRC32 trailer when checksums are on.
  /// Throws Error(kData) on a truncated/corrupt event or a checksum mismatch, naming the event
  /// type, its position and what is wrong.
  BinlogEvent Decode(std::string_view raw);

  /// Decodes an event taken out of a TRANSACTION_PAYLOAD (never has a checksum trailer).
  BinlogEvent DecodeInner(std::string_view raw);

  /// Current FORMAT_DESCRIPTION, or null before the first one.
  const FormatDescriptionEvent* format() const { return has_format_ ? &format_ : nullptr; }
  /// Installs a FORMAT_DESCRIPTION (e.g. restored from a checkpoint).
  void SetFormat(FormatDescriptionEvent fde);

  /// The table map in force for `table_id`, or null.
  TableMapPtr FindTable(uint64_t table_id) const;
  /// Forgets every table map.
  void ClearTables() { tables_.clear(); }
  size_t table_count() const { return tables_.size(); }

 private:
  BinlogEvent DecodeImpl(std::string_view raw, bool inner);
  std::string_view StripChecksum(const EventHeader& h, std::string_view raw, bool inner);

  Options options_;
  FormatDescriptionEvent format_;
  bool has_format_ = false;
  std::unordered_map<uint64_t, TableMapPtr> tables_;
};

/// Parsers for single event bodies. `body` excludes the 19-byte header and the checksum trailer.
/// Each throws Error(kData) naming the event and what is wrong. Exposed for tests and tools.
FormatDescriptionEvent ParseFormatDescription(const EventHeader& h, std::string_view body);
RotateEvent ParseRotate(const EventHeader& h, std::string_view body, const FormatDescriptionEvent* fde);
QueryEvent ParseQuery(const EventHeader& h, std::string_view body, const FormatDescriptionEvent& fde);
XidEvent ParseXid(const EventHeader& h, std::string_view body);
GtidEvent ParseGtid(const EventHeader& h, std::string_view body);
GtidEvent ParseGtidTagged(const EventHeader& h, std::string_view body);
PreviousGtidsEvent ParsePreviousGtids(const EventHeader& h, std::string_view body);
MariaGtidEvent ParseMariaGtid(const EventHeader& h, std::string_view body);
MariaGtidListEvent ParseMariaGtidList(const EventHeader& h, std::string_view body);
MariaBinlogCheckpointEvent ParseMariaBinlogCheckpoint(const EventHeader& h, std::string_view body);
RowsQueryEvent ParseRowsQuery(const EventHeader& h, std::string_view body);
RowsQueryEvent ParseAnnotateRows(const EventHeader& h, std::string_view body);
HeartbeatEvent ParseHeartbeat(const EventHeader& h, std::string_view body);
HeartbeatEvent ParseHeartbeatV2(const EventHeader& h, std::string_view body);
IncidentEvent ParseIncident(const EventHeader& h, std::string_view body, const FormatDescriptionEvent& fde);
TableMapPtr ParseTableMap(const EventHeader& h, std::string_view body, const FormatDescriptionEvent& fde);
RowsEvent ParseRows(const EventHeader& h, std::string_view body, const FormatDescriptionEvent& fde);
TransactionPayloadEvent ParseTransactionPayload(const EventHeader& h, std::string_view body);

/// Computes the CRC32 (zlib) that MySQL stores in the checksum trailer of `raw` (all bytes but
/// the last 4), clearing LOG_EVENT_BINLOG_IN_USE_F first for FORMAT_DESCRIPTION events.
uint32_t ComputeEventCrc32(std::string_view raw_without_trailer);

/// Decodes every event of a binlog file image (magic "\xfebin" + events), feeding TRANSACTION_PAYLOAD
/// contents back through the decoder. Returns the events with their file offsets; the events'
/// views point into `file`. Used by tests and the fuzz target.
struct FileEvent {
  uint64_t offset = 0;
  bool inner = false;  ///< came out of a TRANSACTION_PAYLOAD
  BinlogEvent event;
};
std::vector<FileEvent> DecodeBinlogFile(std::string_view file, BinlogDecoder& decoder);

/// Fuzzing entry point: decodes `bytes` as a sequence of events (first as a binlog file if it
/// starts with the magic, else as back-to-back events) and decodes the rows of every rows event
/// with a schema derived from its table map. Returns the number of events decoded; throws only
/// sluice::Error.
size_t DecodeAnyEvent(std::string_view bytes);
/// As above with decoder options (the fuzz target also decodes without checksum verification, so
/// that mutated events reach the parsers).
size_t DecodeAnyEvent(std::string_view bytes, const BinlogDecoder::Options& options);

}  // namespace sluice::mysql
