#pragma once
// Helpers for the mysql decoder tests: fixture files, base64 BINLOG blocks, event builders.

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <string_view>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "event/change.h"
#include "mysql/binlog_event.h"
#include "mysql/row_decoder.h"

namespace sluice::mysql::testing {

inline std::string FixturePath(const std::string& rel) {
  return std::string(SLUICE_SOURCE_DIR) + "/tests/data/mysql-binlog/" + rel;
}

inline std::string ReadFixture(const std::string& rel) {
  std::ifstream in(FixturePath(rel), std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string Base64Decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  uint32_t acc = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// Returns the raw events of every BINLOG '...' block of a mysqlbinlog text file, in order. Each
// base64 line group inside a block may hold several events back to back.
inline std::vector<std::string> BinlogBlockEvents(const std::string& text) {
  std::vector<std::string> events;
  size_t pos = 0;
  while ((pos = text.find("BINLOG '\n", pos)) != std::string::npos) {
    pos += 9;
    size_t end = text.find("'", pos);
    std::string block = text.substr(pos, end - pos);
    std::istringstream lines(block);
    std::string line, chunk;
    while (std::getline(lines, line)) {
      chunk += line;
      std::string raw = Base64Decode(chunk);
      if (raw.size() < 19) continue;
      uint32_t size = static_cast<uint8_t>(raw[9]) | (static_cast<uint8_t>(raw[10]) << 8) |
                      (static_cast<uint8_t>(raw[11]) << 16) | (static_cast<uint32_t>(static_cast<uint8_t>(raw[12])) << 24);
      if (raw.size() >= size) {
        events.push_back(raw.substr(0, size));
        chunk.clear();
      }
    }
    pos = end;
  }
  return events;
}

inline std::string Hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Little-endian byte builder.
struct Bytes {
  std::string b;
  Bytes& u8(uint64_t v) { b.push_back(static_cast<char>(v & 0xff)); return *this; }
  Bytes& le(uint64_t v, int n) { for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff)); return *this; }
  Bytes& be(uint64_t v, int n) { for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff)); return *this; }
  Bytes& str(const std::string& s) { b += s; return *this; }
  Bytes& packed(uint64_t v) {
    if (v < 251) return u8(v);
    if (v < 65536) return u8(0xfc).le(v, 2);
    if (v < (1u << 24)) return u8(0xfd).le(v, 3);
    return u8(0xfe).le(v, 8);
  }
};

// Wraps a body in a v4 header (and a CRC32 trailer when `crc`). Returns a view of storage that
// lives until the end of the test program, because decoded events point into their raw bytes.
inline std::string_view MakeEvent(uint8_t type, const std::string& body, bool crc = true, uint32_t log_pos = 1000,
                             uint32_t server_id = 1, uint16_t flags = 0) {
  Bytes h;
  uint32_t size = static_cast<uint32_t>(19 + body.size() + (crc ? 4 : 0));
  h.le(1700000000, 4).u8(type).le(server_id, 4).le(size, 4).le(log_pos, 4).le(flags, 2);
  std::string ev = h.b + body;
  if (crc) {
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, reinterpret_cast<const Bytef*>(ev.data()), static_cast<uInt>(ev.size()));
    ev += Bytes().le(c, 4).b;
  }
  static std::deque<std::string> keep;
  keep.push_back(std::move(ev));
  return keep.back();
}

// A MySQL 8.0 FDE body (binlog v4, CRC32) + event, to prime a decoder.
inline std::string MakeFde(const std::string& version = "8.0.36", uint8_t alg = 1) {
  Bytes b;
  b.le(4, 2);
  std::string v = version;
  v.resize(50, '\0');
  b.str(v).le(0, 4).u8(19);
  // post-header lengths for types 1..42 (MySQL 8.0 values)
  const uint8_t post[42] = {56, 13, 0, 8, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 98, 0, 4, 26, 8, 0, 0, 0, 8, 8, 8, 2, 0, 0, 0, 10, 10, 10, 42, 42, 0, 18, 52, 0, 10, 40, 0, 0};
  for (uint8_t p : post) b.u8(p);
  b.u8(alg);
  std::string body = b.b;
  // The FDE always reserves 4 checksum bytes; MakeEvent appends the real CRC when alg == 1.
  if (alg != 1) body += std::string(4, '\0');
  return std::string(MakeEvent(15, body, alg == 1, 0));
}

// Table map event body builder.
struct ColDef {
  uint8_t type;
  std::string meta;  // raw metadata bytes
  bool nullable = true;
};
inline std::string TableMapBody(uint64_t table_id, const std::string& db, const std::string& table,
                                const std::vector<ColDef>& cols, const std::string& optional = "") {
  Bytes b;
  b.le(table_id, 6).le(1, 2).u8(db.size()).str(db).u8(0).u8(table.size()).str(table).u8(0).packed(cols.size());
  for (const auto& c : cols) b.u8(c.type);
  std::string meta;
  for (const auto& c : cols) meta += c.meta;
  b.packed(meta.size()).str(meta);
  std::string nulls((cols.size() + 7) / 8, '\0');
  for (size_t i = 0; i < cols.size(); ++i) if (cols[i].nullable) nulls[i / 8] |= static_cast<char>(1 << (i % 8));
  b.str(nulls).str(optional);
  return b.b;
}

// Rows event (v2) body builder: all columns present; `rows` are the packed images.
inline std::string RowsBody(uint64_t table_id, size_t ncols, const std::string& rows, bool update = false,
                            uint16_t flags = 1) {
  Bytes b;
  b.le(table_id, 6).le(flags, 2).le(2, 2).packed(ncols);
  std::string bitmap((ncols + 7) / 8, '\0');
  for (size_t i = 0; i < ncols; ++i) bitmap[i / 8] |= static_cast<char>(1 << (i % 8));
  b.str(bitmap);
  if (update) b.str(bitmap);
  b.str(rows);
  return b.b;
}

inline ColumnSchema Col(const std::string& name, ValueKind kind, const std::string& charset = "") {
  ColumnSchema c;
  c.name = name;
  c.kind = kind;
  c.charset = charset;
  return c;
}

inline TableSchemaPtr Schema(const std::string& db, const std::string& table, std::vector<ColumnSchema> cols) {
  auto s = std::make_shared<TableSchema>();
  s->database = db;
  s->table = table;
  s->columns = std::move(cols);
  return s;
}

// Decodes the rows of `ev` into a fresh chunk with `schema`.
inline ChangeChunk DecodeChunk(const RowsEvent& ev, const TableMap& map, const TableSchemaPtr& schema,
                               RowsDecodeResult* res = nullptr) {
  ChangeChunk chunk(schema);
  uint32_t src = chunk.AddSource(SourceInfo{});
  RowsDecodeResult r = DecodeRows(ev, map, schema, chunk, src, [](uint32_t i) { return 100 + i; });
  if (res) *res = r;
  return chunk;
}

inline std::string Str(const ChangeChunk& c, size_t row, size_t col) {
  if (c.column(col).IsNull(row)) return "<NULL>";
  return std::string(c.column(col).GetBytes(row));
}

// Civil time helpers computed independently of the decoder (via timegm).
inline int64_t DaysOf(int y, int m, int d) {
  struct tm t {};
  t.tm_year = y - 1900;
  t.tm_mon = m - 1;
  t.tm_mday = d;
  return static_cast<int64_t>(timegm(&t)) / 86400;
}
inline int64_t MicrosOf(int y, int mo, int d, int h, int mi, int s, int us = 0) {
  struct tm t {};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  return static_cast<int64_t>(timegm(&t)) * 1000000 + us;
}

}  // namespace sluice::mysql::testing
