#pragma once
// Helpers for the ClickHouse unit tests: schemas and hex views of bytes.

#include <string>
#include <string_view>

#include "common/error.h"
#include "event/change.h"

namespace sluice::clickhouse::testing {

inline ColumnSchema Col(std::string name, ValueKind kind, std::string column_type, bool nullable = false,
                        uint8_t mysql_type = 0) {
  ColumnSchema c;
  c.name = std::move(name);
  c.kind = kind;
  c.column_type = std::move(column_type);
  c.nullable = nullable;
  c.mysql_type = mysql_type;
  c.is_unsigned = c.column_type.find("unsigned") != std::string::npos;
  return c;
}

inline ColumnSchema DecimalCol(std::string name, int p, int s, bool nullable = false) {
  ColumnSchema c = Col(std::move(name), ValueKind::kDecimal, "decimal(" + std::to_string(p) + "," + std::to_string(s) + ")", nullable);
  c.precision = p;
  c.scale = s;
  return c;
}

inline ColumnSchema TimeCol(std::string name, ValueKind kind, std::string column_type, int fsp, bool nullable = false) {
  ColumnSchema c = Col(std::move(name), kind, std::move(column_type), nullable);
  c.fsp = fsp;
  return c;
}

/// "01 ff" style hex of `bytes`.
inline std::string Hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) s.push_back(' ');
    const auto b = static_cast<unsigned char>(bytes[i]);
    s.push_back(d[b >> 4]);
    s.push_back(d[b & 15]);
  }
  return s;
}

}  // namespace sluice::clickhouse::testing
