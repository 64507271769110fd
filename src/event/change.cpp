#include "event/change.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"

namespace sluice {

namespace {

bool StartsWithWord(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != word[i]) return false;
  }
  return s.size() == word.size() || !std::isalpha(static_cast<unsigned char>(s[word.size()]));
}

}  // namespace

int SourceIntegerBits(const ColumnSchema& c) {
  switch (c.mysql_type) {
    case mysql_type::kTiny: return 8;
    case mysql_type::kShort: return 16;
    case mysql_type::kInt24: return 24;
    case mysql_type::kLong: return 32;
    case mysql_type::kLongLong: return 64;
    default: break;
  }
  const std::string_view ct = c.column_type;
  if (StartsWithWord(ct, "tinyint")) return 8;
  if (StartsWithWord(ct, "smallint")) return 16;
  if (StartsWithWord(ct, "mediumint")) return 24;
  if (StartsWithWord(ct, "int") || StartsWithWord(ct, "integer")) return 32;
  if (StartsWithWord(ct, "bigint")) return 64;
  return 0;
}

bool IsYearColumn(const ColumnSchema& c) {
  return c.mysql_type == mysql_type::kYear || (c.mysql_type == 0 && StartsWithWord(c.column_type, "year"));
}

const char* ValueKindName(ValueKind k) {
  switch (k) {
    case ValueKind::kInt: return "int";
    case ValueKind::kUInt: return "uint";
    case ValueKind::kFloat: return "float";
    case ValueKind::kDouble: return "double";
    case ValueKind::kDecimal: return "decimal";
    case ValueKind::kString: return "string";
    case ValueKind::kBytes: return "bytes";
    case ValueKind::kDate: return "date";
    case ValueKind::kTime: return "time";
    case ValueKind::kDateTime: return "datetime";
    case ValueKind::kTimestamp: return "timestamp";
    case ValueKind::kJson: return "json";
    case ValueKind::kBit: return "bit";
    case ValueKind::kGeometry: return "geometry";
  }
  return "?";
}

int TableSchema::FindColumn(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    const std::string& c = columns[i].name;
    if (c.size() == name.size() &&
        std::equal(c.begin(), c.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void ColumnVector::AppendFrom(const ColumnVector& other, size_t i) {
  SLUICE_CHECK(other.kind_ == kind_, "AppendFrom across kinds");
  if (other.IsNull(i)) {
    AppendNull();
  } else if (IsVarKind(kind_)) {
    AppendBytes(other.GetBytes(i));
  } else {
    AppendInt(other.GetInt(i));
  }
}

ChangeChunk::ChangeChunk(TableSchemaPtr schema) : schema_(std::move(schema)) {
  columns_.reserve(schema_->columns.size());
  for (const auto& c : schema_->columns) columns_.emplace_back(c.kind);
}

ChangeChunk ChangeChunk::Project(TableSchemaPtr target, const std::vector<int>& keep) && {
  ChangeChunk out;
  out.schema_ = std::move(target);
  out.ops_ = std::move(ops_);
  out.versions_ = std::move(versions_);
  out.source_index_ = std::move(source_index_);
  out.row_in_event_ = std::move(row_in_event_);
  out.sources_ = std::move(sources_);
  out.columns_.reserve(keep.size());
  for (int k : keep) out.columns_.push_back(std::move(columns_[static_cast<size_t>(k)]));
  SLUICE_CHECK(out.columns_.size() == out.schema_->columns.size(), "projection does not match its schema");
  columns_.clear();
  return out;
}

size_t ChangeChunk::ByteSize() const {
  size_t n = ops_.size() * (1 + 8 + 4 + 4);
  for (const auto& c : columns_) n += c.size() * 9 + c.HeapBytes();
  for (const auto& s : sources_) n += sizeof(SourceInfo) + s.file.size() + s.gtid.size() + s.query.size();
  return n;
}

uint64_t MakeVersion(uint32_t file_seq, uint64_t event_pos, uint32_t row_in_event) {
  const uint64_t low = event_pos + row_in_event;
  SLUICE_CHECK(low < (1ull << 32), "binlog position too large for _version");
  return (static_cast<uint64_t>(file_seq) << 32) | low;
}

}  // namespace sluice
