#pragma once
/// The one representation of a change that flows through the engine: typed column chunks with an
/// op column (RisingWave's StreamChunk, Velox's RowVector). JSON exists only at the Kafka boundary
/// and in `--output jsonl` (see event/debezium_json.h).

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// Logical kind of a value as it flows through the engine. The physical storage of each kind in a
/// ColumnVector is given in brackets: [fixed] uses the 64-bit slot, [var] the byte heap.
enum class ValueKind : uint8_t {
  kInt,        ///< [fixed] signed integer: TINYINT..BIGINT signed, MEDIUMINT, YEAR
  kUInt,       ///< [fixed] unsigned integer, stored bitwise in int64 (BIGINT UNSIGNED > 2^63 too)
  kFloat,      ///< [fixed] FLOAT, stored as a double (bit_cast) holding the float's exact value
  kDouble,     ///< [fixed] DOUBLE, stored bit_cast
  kDecimal,    ///< [var] exact decimal as canonical text with the column's scale: "-12.50"
  kString,     ///< [var] character data converted to UTF-8 (CHAR/VARCHAR/TEXT, ENUM, SET)
  kBytes,      ///< [var] binary data (BINARY/VARBINARY/BLOB, text with binary charset)
  kDate,       ///< [fixed] days since 1970-01-01; kZeroDate for '0000-00-00' and zero-in-date
  kTime,       ///< [fixed] signed microseconds (TIME may be negative and exceed 24h)
  kDateTime,   ///< [fixed] microseconds since 1970-01-01 00:00 as wall-clock (no zone); kZeroDate
  kTimestamp,  ///< [fixed] microseconds since epoch, UTC; 0 is MySQL's zero timestamp
  kJson,       ///< [var] JSON text
  kBit,        ///< [fixed] BIT(n) as an unsigned integer (n <= 64)
  kGeometry,   ///< [var] MySQL geometry: 4-byte little-endian SRID followed by WKB
};

/// Sentinel used in kDate/kDateTime slots for zero dates and dates with zero parts.
inline constexpr int64_t kZeroDate = INT64_MIN;

/// Returns true when values of this kind live in the byte heap of a ColumnVector.
constexpr bool IsVarKind(ValueKind k) {
  return k == ValueKind::kDecimal || k == ValueKind::kString || k == ValueKind::kBytes ||
         k == ValueKind::kJson || k == ValueKind::kGeometry;
}

const char* ValueKindName(ValueKind k);

/// MYSQL_TYPE_* numbers of ColumnSchema::mysql_type (include/field_types.h in the MySQL server).
namespace mysql_type {
constexpr uint8_t kTiny = 1, kShort = 2, kLong = 3, kLongLong = 8, kInt24 = 9, kYear = 13;
}  // namespace mysql_type

struct ColumnSchema;
/// The integer width in bits (8/16/24/32/64) of an integer source column (24 is MEDIUMINT), from
/// its MySQL type or else its COLUMN_TYPE; 0 when neither says (a view's column): assume 64.
int SourceIntegerBits(const ColumnSchema& column);
/// Whether an integer column is MySQL's YEAR.
bool IsYearColumn(const ColumnSchema& column);

/// One column of a captured table (or of a view's output).
/// Plain value type; copied freely.
struct ColumnSchema {
  std::string name;
  ValueKind kind = ValueKind::kString;
  uint8_t mysql_type = 0;      ///< MYSQL_TYPE_* real type (ENUM/SET resolved), 0 when not from MySQL
  std::string column_type;     ///< information_schema.COLUMNS.COLUMN_TYPE, e.g. "decimal(10,2) unsigned"
  bool nullable = true;
  bool is_unsigned = false;
  int length = 0;              ///< char length for strings, bit count for BIT, display width otherwise
  int precision = 0;           ///< DECIMAL precision
  int scale = 0;               ///< DECIMAL scale
  int fsp = 0;                 ///< fractional seconds precision for TIME/DATETIME/TIMESTAMP (0..6)
  std::string charset;         ///< "utf8mb4", "latin1", "binary", ... (empty for non-strings)
  std::vector<std::string> enum_values;  ///< ENUM and SET members, in definition order
  bool is_enum = false;
  bool is_set = false;
  bool generated = false;
  bool has_default = false;
  std::string default_value;   ///< textual default as in information_schema (when has_default)
};

/// Schema of one table at one point of the binlog. Immutable once shared.
struct TableSchema {
  std::string database;
  std::string table;
  std::vector<ColumnSchema> columns;
  std::vector<int> primary_key;  ///< indexes into columns; empty when the table has no primary key
  uint64_t version = 0;          ///< schema version counter (bumped on every DDL)

  int FindColumn(std::string_view name) const;  ///< index or -1 (case-insensitive, as MySQL)
  std::string QualifiedName() const { return database + "." + table; }
};
using TableSchemaPtr = std::shared_ptr<const TableSchema>;

/// A growable typed column. Fixed kinds keep one int64 slot per row; var kinds keep offsets into
/// one byte heap. Not thread-safe; owned by its ChangeChunk.
class ColumnVector {
 public:
  explicit ColumnVector(ValueKind kind = ValueKind::kString) : kind_(kind) { offsets_.push_back(0); }

  ValueKind kind() const { return kind_; }
  size_t size() const { return nulls_.size(); }
  bool IsNull(size_t i) const { return nulls_[i] != 0; }

  void AppendNull() {
    nulls_.push_back(1);
    if (IsVarKind(kind_)) {
      offsets_.push_back(static_cast<uint32_t>(heap_.size()));
    } else {
      fixed_.push_back(0);
    }
  }
  void AppendInt(int64_t v) { nulls_.push_back(0); fixed_.push_back(v); }
  void AppendUInt(uint64_t v) { nulls_.push_back(0); fixed_.push_back(static_cast<int64_t>(v)); }
  void AppendDouble(double v) {
    int64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    AppendInt(bits);
  }
  void AppendBytes(std::string_view v) {
    nulls_.push_back(0);
    heap_.append(v.data(), v.size());
    offsets_.push_back(static_cast<uint32_t>(heap_.size()));
  }
  /// Appends row `i` of `other` (same kind) to this column.
  void AppendFrom(const ColumnVector& other, size_t i);

  int64_t GetInt(size_t i) const { return fixed_[i]; }
  uint64_t GetUInt(size_t i) const { return static_cast<uint64_t>(fixed_[i]); }
  double GetDouble(size_t i) const {
    double v;
    std::memcpy(&v, &fixed_[i], sizeof v);
    return v;
  }
  std::string_view GetBytes(size_t i) const {
    return std::string_view(heap_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  size_t HeapBytes() const { return heap_.size(); }
  void Clear() {
    nulls_.clear();
    fixed_.clear();
    offsets_.assign(1, 0);
    heap_.clear();
  }
  void Reserve(size_t rows) {
    nulls_.reserve(rows);
    if (IsVarKind(kind_)) offsets_.reserve(rows + 1); else fixed_.reserve(rows);
  }

 private:
  ValueKind kind_;
  std::vector<uint8_t> nulls_;
  std::vector<int64_t> fixed_;
  std::vector<uint32_t> offsets_;
  std::string heap_;
};

/// Row operation, as RisingWave's Op: an UPDATE is an adjacent kUpdateBefore/kUpdateAfter pair.
enum class RowOp : uint8_t { kInsert, kDelete, kUpdateBefore, kUpdateAfter };

/// Where a change came from: one per binlog rows event (or per snapshot chunk). Shared by the rows
/// of that event in a chunk. Carries everything Debezium's `source` block needs.
struct SourceInfo {
  int64_t ts_ms = 0;            ///< commit time in the source (event header timestamp) in ms
  std::string file;             ///< binlog file of the rows event
  uint64_t pos = 0;             ///< position of the rows event (or of the snapshot) in `file`
  std::string gtid;             ///< GTID of the transaction ("0-1-42" MariaDB / "uuid:n" MySQL) or ""
  uint32_t server_id = 0;
  uint64_t thread = 0;          ///< connection id from the QUERY event that began the transaction
  std::string query;            ///< statement text from ANNOTATE_ROWS/ROWS_QUERY when available
  /// Debezium's `source.snapshot`: "first"/"last" for the first/last record of the whole
  /// snapshot, "first_in_data_collection"/"last_in_data_collection" for each table's first/last.
  enum class Snapshot : uint8_t {
    kFalse, kTrue, kFirst, kLast, kIncremental, kFirstInDataCollection, kLastInDataCollection
  } snapshot = Snapshot::kFalse;
};

/// A batch of row changes of one table, in commit order. Columns follow `schema->columns`.
/// Owned by one stage at a time (moved between stages); not thread-safe.
class ChangeChunk {
 public:
  ChangeChunk() = default;
  explicit ChangeChunk(TableSchemaPtr schema);

  const TableSchemaPtr& schema() const { return schema_; }
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }

  /// Starts a row: the caller then appends exactly one value to every column.
  void BeginRow(RowOp op, uint64_t version, uint32_t source_index, uint32_t row_in_event) {
    ops_.push_back(op);
    versions_.push_back(version);
    source_index_.push_back(source_index);
    row_in_event_.push_back(row_in_event);
  }
  /// Adds a SourceInfo and returns its index for BeginRow.
  uint32_t AddSource(SourceInfo s) {
    sources_.push_back(std::move(s));
    return static_cast<uint32_t>(sources_.size() - 1);
  }

  ColumnVector& column(size_t i) { return columns_[i]; }
  const ColumnVector& column(size_t i) const { return columns_[i]; }
  size_t num_columns() const { return columns_.size(); }
  RowOp op(size_t row) const { return ops_[row]; }
  uint64_t version(size_t row) const { return versions_[row]; }
  uint32_t row_in_event(size_t row) const { return row_in_event_[row]; }
  const SourceInfo& source(size_t row) const { return sources_[source_index_[row]]; }
  uint32_t source_index(size_t row) const { return source_index_[row]; }
  const std::vector<SourceInfo>& sources() const { return sources_; }

  /// Re-tags row `row` with another source (e.g. to mark the last snapshot row).
  void SetRowSource(size_t row, uint32_t source_index) { source_index_[row] = source_index; }
  /// Returns a chunk over `target` whose columns are this chunk's columns `keep[i]` (moved, not
  /// copied); this chunk is left empty. Used to drop excluded columns.
  ChangeChunk Project(TableSchemaPtr target, const std::vector<int>& keep) &&;

  /// Approximate memory held by this chunk, for batching and memory budgets.
  size_t ByteSize() const;

 private:
  TableSchemaPtr schema_;
  std::vector<RowOp> ops_;
  std::vector<uint64_t> versions_;
  std::vector<uint32_t> source_index_;
  std::vector<uint32_t> row_in_event_;
  std::vector<SourceInfo> sources_;
  std::vector<ColumnVector> columns_;
};

/// Makes the `_version` of a change from its binlog coordinates: strictly increasing in commit
/// order and identical when the same event is read again. Layout: binlog file sequence number in
/// the high 32 bits, `event_pos + row_in_event` in the low 32 bits. Every row of a rows event
/// occupies at least one byte of that event, so `event_pos + row_in_event` stays below the next
/// event's position: versions are unique and ordered without a row-count limit.
uint64_t MakeVersion(uint32_t file_seq, uint64_t event_pos, uint32_t row_in_event);

}  // namespace sluice
