#pragma once
/// Converts values read with the text protocol (snapshot SELECTs) into the engine's typed values,
/// exactly as the binlog decoder would have produced them for the same row.

#include <string_view>

#include "event/civil_time.h"
#include "event/change.h"

namespace sluice::mysql {

/// Appends the text-protocol value `text` (not NULL) of column `col` to `out`. Throws Error(kData)
/// naming the column when the text cannot be parsed for the column's type.
void AppendTextValue(const ColumnSchema& col, std::string_view text, ColumnVector& out);


}  // namespace sluice::mysql
