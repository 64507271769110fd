#pragma once
/// MySQL's binary JSON (the storage format of JSON columns, sql-common/json_binary.h) to JSON text
/// exactly as MySQL prints it (JSON_EXTRACT, mysqlbinlog -v): `{"a": 1, "b": [true, null]}` with
/// ", " and ": " separators, keys in stored order, doubles via MySQL's my_gcvt rules (with ".0"
/// appended to integral doubles), opaque DATE/TIME/DATETIME/TIMESTAMP as quoted strings, DECIMAL
/// as a bare number, other opaque values as "base64:typeNN:...". Also applies the logical diffs of
/// a PARTIAL_UPDATE_ROWS event (binlog_row_value_options=PARTIAL_JSON) to a before image.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/json__binary_8h.html

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mysql {

/// Appends the JSON text of binary JSON document `bin` to `out`. An empty document is JSON null
/// (as MySQL treats it). Throws Error(kData) on malformed input.
void JsonBinaryToText(std::string_view bin, std::string& out);

/// Formats a double as MySQL prints a JSON double (my_gcvt with MY_GCVT_MAX_FIELD_WIDTH, then
/// ".0" when neither '.' nor 'e' was produced).
void AppendMysqlJsonDouble(double d, std::string& out);

/// One logical JSON change of a partial update.
/// https://dev.mysql.com/doc/dev/mysql-server/latest/classJson__diff.html
struct JsonDiff {
  enum class Op : uint8_t { kReplace = 0, kInsert = 1, kRemove = 2 };
  Op op = Op::kReplace;
  std::string_view path;   ///< JSON path text, e.g. "$.a[2]" or "$.\"a b\""
  std::string_view value;  ///< binary JSON of the new value (empty for kRemove)
};

/// Parses a Json_diff_vector (the bytes after the 4-byte length of a partial JSON column).
std::vector<JsonDiff> ParseJsonDiffs(std::string_view data);

/// Applies `diffs` in order to the binary JSON document `before` and appends the resulting JSON
/// text to `out`. Throws Error(kData) when a path does not exist or a diff is malformed.
void ApplyJsonDiffs(std::string_view before, const std::vector<JsonDiff>& diffs, std::string& out);

}  // namespace sluice::mysql
