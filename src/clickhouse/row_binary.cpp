#include "clickhouse/row_binary.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "event/civil_time.h"
#include "common/error.h"

namespace sluice::clickhouse {
namespace {

template <typename T>
inline void PutFixed(T v, std::string& out) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // x86-64 and aarch64 are little-endian, as RowBinary
  out.append(buf, sizeof(T));
}

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;
// DateTime64 is only defined (and displayed) for 1900-01-01 .. 2299-12-31 23:59:59.999999.
constexpr int64_t kDateTime64MinMicros = -25567 * kMicrosPerDay;
constexpr int64_t kDateTime64MaxMicros = 120529 * kMicrosPerDay - 1;
constexpr int64_t kPow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

constexpr size_t kDateTimeTextMax = 26;  // 'YYYY-MM-DD hh:mm:ss.ffffff'

// Writes `n` decimal digits of `v` (zero-padded) ending at p + n.
inline void WriteDigits(uint64_t v, int n, char* p) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

// Writes 'YYYY-MM-DD hh:mm:ss[.f{fsp}]' of wall-clock `micros` to `buf` without allocating and
// returns its length; returns 0 when the year is outside 0000..9999 or fsp outside 0..6 (the
// caller formats those the slow way, with the same text as before).
size_t WriteDateTimeText(int64_t micros, int fsp, char* buf) {
  if (fsp < 0 || fsp > 6) return 0;
  const int64_t days = FloorDiv(micros, kMicrosPerDay);
  const int64_t in_day = micros - days * kMicrosPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  if (y < 0 || y > 9999) return 0;
  const int64_t secs = in_day / kMicrosPerSecond;
  WriteDigits(static_cast<uint64_t>(y), 4, buf);
  buf[4] = '-';
  WriteDigits(m, 2, buf + 5);
  buf[7] = '-';
  WriteDigits(d, 2, buf + 8);
  buf[10] = ' ';
  WriteDigits(static_cast<uint64_t>(secs / 3600), 2, buf + 11);
  buf[13] = ':';
  WriteDigits(static_cast<uint64_t>(secs / 60 % 60), 2, buf + 14);
  buf[16] = ':';
  WriteDigits(static_cast<uint64_t>(secs % 60), 2, buf + 17);
  if (fsp == 0) return 19;
  buf[19] = '.';
  WriteDigits(static_cast<uint64_t>((in_day % kMicrosPerSecond) / kPow10[6 - fsp]), fsp, buf + 20);
  return 20 + static_cast<size_t>(fsp);
}


// Zero dates: NULL in a Nullable column (as Debezium does), else the type's zero.
inline bool IsZeroDate(const ColumnType& t, const ColumnVector& col, size_t row) {
  return (t.encoding == Encoding::kDate || t.encoding == Encoding::kDateTime || t.encoding == Encoding::kDateTime64 ||
          t.encoding == Encoding::kDateTimeText) &&
         col.GetInt(row) == kZeroDate;
}

// Bytes of the fixed-width value of `e` in RowBinary and Native, or 0 for length-prefixed ones.
size_t FixedWidth(Encoding e) {
  switch (e) {
    case Encoding::kInt8: case Encoding::kUInt8: return 1;
    case Encoding::kInt16: case Encoding::kUInt16: case Encoding::kDate: return 2;
    case Encoding::kInt32: case Encoding::kUInt32: case Encoding::kFloat32: case Encoding::kDateTime:
    case Encoding::kDecimal32: return 4;
    case Encoding::kInt64: case Encoding::kUInt64: case Encoding::kFloat64: case Encoding::kDateTime64:
    case Encoding::kTimeMicros: case Encoding::kDecimal64: return 8;
    case Encoding::kDecimal128: return 16;
    case Encoding::kDecimal256: return 32;
    case Encoding::kString: case Encoding::kGeometryWkb: case Encoding::kDateTimeText: return 0;
  }
  return 0;
}

// Appends column `col` at `rows` as Native values of T (a NULL row as T{}), read with `get`.
template <typename T, typename Get>
void PutFixedColumn(const ColumnVector& col, const std::vector<uint32_t>& rows, Get get, std::string& out) {
  const size_t base = out.size();
  out.resize(base + rows.size() * sizeof(T));
  char* p = out.data() + base;
  for (const uint32_t r : rows) {
    const T v = col.IsNull(r) ? T{} : static_cast<T>(get(r));
    std::memcpy(p, &v, sizeof(T));
    p += sizeof(T);
  }
}

void PutName(std::string_view s, std::string& out) {
  RowBinaryEncoder::PutVarUInt(s.size(), out);
  out.append(s.data(), s.size());
}

}  // namespace

RowBinaryEncoder::RowBinaryEncoder(std::vector<ColumnType> types, std::vector<int> key_columns,
                                   std::vector<std::string> column_names)
    : types_(std::move(types)), key_columns_(std::move(key_columns)), column_names_(std::move(column_names)) {
  for (const auto& t : types_) full_types_.push_back(t.Full());
}

void RowBinaryEncoder::PutVarUInt(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void RowBinaryEncoder::PutDecimal(std::string_view text, int scale, int width, std::string& out) {
  uint64_t limb[4] = {0, 0, 0, 0};
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  int frac_digits = 0;
  bool seen_dot = false;
  bool any_digit = false;
  auto mul_add = [&](unsigned digit) {
    unsigned __int128 carry = digit;
    for (auto& l : limb) {
      const unsigned __int128 v = static_cast<unsigned __int128>(l) * 10 + carry;
      l = static_cast<uint64_t>(v);
      carry = v >> 64;
    }
    return carry == 0 && limb[3] < (1ull << 63);
  };
  for (; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '.' && !seen_dot) {
      seen_dot = true;
      continue;
    }
    if (ch < '0' || ch > '9') Throw(ErrorKind::kData, "'{}' is not a decimal number", text);
    any_digit = true;
    if (seen_dot) {
      if (++frac_digits > scale) {
        if (ch != '0') Throw(ErrorKind::kData, "decimal '{}' has more than {} fractional digits", text, scale);
        continue;  // trailing zero beyond the scale: harmless
      }
    }
    if (!mul_add(static_cast<unsigned>(ch - '0'))) Throw(ErrorKind::kData, "decimal '{}' is too large", text);
  }
  if (!any_digit) Throw(ErrorKind::kData, "'{}' is not a decimal number", text);
  for (int f = std::min(frac_digits, scale); f < scale; ++f) {
    if (!mul_add(0)) Throw(ErrorKind::kData, "decimal '{}' is too large", text);
  }
  // The value must fit the signed width (precision is checked by the type: P digits fit it).
  const int bits = width * 8;
  if (bits < 256) {
    const int top_limb = (bits - 1) / 64;
    for (int l = top_limb + 1; l < 4; ++l) {
      if (limb[l] != 0) Throw(ErrorKind::kData, "decimal '{}' does not fit Decimal{}", text, bits);
    }
    const int bit_in_limb = (bits - 1) % 64;
    if (limb[top_limb] >> bit_in_limb != 0) Throw(ErrorKind::kData, "decimal '{}' does not fit Decimal{}", text, bits);
  }
  if (negative) {
    uint64_t carry = 1;
    for (auto& l : limb) {
      l = ~l + carry;
      carry = (carry && l == 0) ? 1 : 0;
    }
  }
  char buf[32];
  std::memcpy(buf, limb, 32);
  out.append(buf, static_cast<size_t>(width));
}

std::string RowBinaryEncoder::FormatDateTime(int64_t micros, int fsp) {
  char buf[kDateTimeTextMax];
  const size_t n = WriteDateTimeText(micros, fsp, buf);
  if (n > 0) return std::string(buf, n);
  const int64_t days = FloorDiv(micros, kMicrosPerDay);
  const int64_t in_day = micros - days * kMicrosPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  const int64_t secs = in_day / kMicrosPerSecond;
  std::string s = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, m, d, secs / 3600, secs / 60 % 60, secs % 60);
  if (fsp > 0) {
    const int64_t frac = (in_day % kMicrosPerSecond) / kPow10[6 - fsp];
    s += fmt::format(".{:0{}}", frac, fsp);
  }
  return s;
}

void RowBinaryEncoder::EncodeValue(const ColumnType& t, const ColumnVector& col, size_t row, std::string& out) {
  const bool is_null = col.IsNull(row);
  const bool zero_date = !is_null && IsZeroDate(t, col, row);
  if (t.nullable) {
    if (is_null || zero_date) {
      out.push_back(1);
      return;
    }
    out.push_back(0);
  } else if (is_null) {
    Throw(ErrorKind::kData, "NULL for a column that is NOT NULL in ClickHouse");
  }
  EncodeBare(t, col, row, zero_date, out);
}

void RowBinaryEncoder::EncodeBare(const ColumnType& t, const ColumnVector& col, size_t row, bool zero_date,
                                  std::string& out) {
  switch (t.encoding) {
    case Encoding::kInt8: PutFixed(static_cast<int8_t>(col.GetInt(row)), out); break;
    case Encoding::kInt16: PutFixed(static_cast<int16_t>(col.GetInt(row)), out); break;
    case Encoding::kInt32: PutFixed(static_cast<int32_t>(col.GetInt(row)), out); break;
    case Encoding::kInt64:
    case Encoding::kTimeMicros: PutFixed(col.GetInt(row), out); break;
    case Encoding::kUInt8: PutFixed(static_cast<uint8_t>(col.GetUInt(row)), out); break;
    case Encoding::kUInt16: PutFixed(static_cast<uint16_t>(col.GetUInt(row)), out); break;
    case Encoding::kUInt32: PutFixed(static_cast<uint32_t>(col.GetUInt(row)), out); break;
    case Encoding::kUInt64: PutFixed(col.GetUInt(row), out); break;
    case Encoding::kFloat32: PutFixed(static_cast<float>(col.GetDouble(row)), out); break;
    case Encoding::kFloat64: PutFixed(col.GetDouble(row), out); break;
    case Encoding::kDecimal32:
    case Encoding::kDecimal64:
    case Encoding::kDecimal128:
    case Encoding::kDecimal256:
      PutDecimal(col.GetBytes(row), t.scale, DecimalWidth(t.encoding), out);
      break;
    case Encoding::kString: {
      const std::string_view v = col.GetBytes(row);
      PutVarUInt(v.size(), out);
      out.append(v.data(), v.size());
      break;
    }
    case Encoding::kGeometryWkb: {
      std::string_view v = col.GetBytes(row);
      if (v.size() >= 4) v.remove_prefix(4);  // SRID
      PutVarUInt(v.size(), out);
      out.append(v.data(), v.size());
      break;
    }
    case Encoding::kDate: {
      const int64_t days = zero_date ? 0 : std::clamp<int64_t>(col.GetInt(row), 0, t.max_date_days);
      PutFixed(static_cast<uint16_t>(days), out);
      break;
    }
    case Encoding::kDateTime: {
      const int64_t max_secs = t.max_date_days < 65535 ? (t.max_date_days + 1) * 86400 - 1 : 4294967295LL;
      const int64_t secs = zero_date ? 0 : std::clamp<int64_t>(FloorDiv(col.GetInt(row), kMicrosPerSecond), 0, max_secs);
      PutFixed(static_cast<uint32_t>(secs), out);
      break;
    }
    case Encoding::kDateTime64: {
      int64_t ticks = 0;
      if (!zero_date) {
        const int64_t us = std::clamp(col.GetInt(row), kDateTime64MinMicros, kDateTime64MaxMicros);
        ticks = FloorDiv(us, kPow10[6 - std::clamp(t.scale, 0, 6)]);
      }
      PutFixed(ticks, out);
      break;
    }
    case Encoding::kDateTimeText: {
      if (!zero_date) {
        char buf[kDateTimeTextMax];
        const size_t len = WriteDateTimeText(col.GetInt(row), t.scale, buf);
        if (len > 0) {
          out.push_back(static_cast<char>(len));  // < 128: a one-byte varint
          out.append(buf, len);
          break;
        }
      }
      std::string s;
      if (zero_date) {
        s = t.scale > 0 ? "0000-00-00 00:00:00." + std::string(static_cast<size_t>(t.scale), '0')
                        : "0000-00-00 00:00:00";
      } else {
        s = FormatDateTime(col.GetInt(row), t.scale);
      }
      PutVarUInt(s.size(), out);
      out.append(s);
      break;
    }
  }
}

bool RowBinaryEncoder::KeyChanged(const ChangeChunk& chunk, size_t before, size_t after) const {
  for (int k : key_columns_) {
    const ColumnVector& c = chunk.column(static_cast<size_t>(k));
    const bool nb = c.IsNull(before), na = c.IsNull(after);
    if (nb != na) return true;
    if (nb) continue;
    if (IsVarKind(c.kind())) {
      if (c.GetBytes(before) != c.GetBytes(after)) return true;
    } else if (c.GetInt(before) != c.GetInt(after)) {
      return true;
    }
  }
  return false;
}

void RowBinaryEncoder::EncodeRow(const ChangeChunk& chunk, size_t row, uint8_t is_deleted, std::string& out) const {
  for (size_t c = 0; c < types_.size(); ++c) EncodeValue(types_[c], chunk.column(c), row, out);
  PutFixed(chunk.version(row), out);
  out.push_back(static_cast<char>(is_deleted));
}

bool RowBinaryEncoder::SelectRow(const ChangeChunk& chunk, size_t i, uint8_t& is_deleted) const {
  is_deleted = 0;
  switch (chunk.op(i)) {
    case RowOp::kInsert:
    case RowOp::kUpdateAfter:
      break;
    case RowOp::kDelete:
      is_deleted = 1;
      break;
    case RowOp::kUpdateBefore:
      // The update-after row supersedes this one, unless the update moved the row to a new key:
      // then the old key must be deleted. Without an after row (chunk cut mid-pair), delete.
      if (i + 1 < chunk.size() && chunk.op(i + 1) == RowOp::kUpdateAfter && !KeyChanged(chunk, i, i + 1)) {
        return false;
      }
      is_deleted = 1;
      break;
  }
  return true;
}

size_t RowBinaryEncoder::Encode(const ChangeChunk& chunk, std::string& out, std::vector<size_t>* row_starts,
                                std::vector<RejectedRow>* rejected) const {
  SLUICE_CHECK(chunk.num_columns() == types_.size(), "chunk and encoder disagree on the column count");
  size_t written = 0;
  const size_t n = chunk.size();
  for (size_t i = 0; i < n; ++i) {
    uint8_t is_deleted = 0;
    if (!SelectRow(chunk, i, is_deleted)) continue;
    const size_t start = out.size();
    try {
      EncodeRow(chunk, i, is_deleted, out);
    } catch (const Error& e) {
      out.resize(start);
      // Name the column: re-encode value by value to find it (rare path).
      std::string where;
      for (size_t c = 0; c < types_.size(); ++c) {
        std::string scratch;
        try {
          EncodeValue(types_[c], chunk.column(c), i, scratch);
        } catch (const Error&) {
          where = chunk.schema() ? chunk.schema()->columns[c].name : fmt::format("#{}", c);
          break;
        }
      }
      std::string msg = fmt::format("{}: column `{}` of row with _version {}: {}",
                                    chunk.schema() ? chunk.schema()->QualifiedName() : std::string("?"), where,
                                    chunk.version(i), e.what());
      if (!rejected) throw Error(ErrorKind::kData, msg);
      rejected->push_back(RejectedRow{i, chunk.version(i), std::move(msg)});
      continue;
    }
    if (row_starts) row_starts->push_back(start);
    ++written;
  }
  return written;
}

size_t RowBinaryEncoder::AppendSelected(const ChangeChunk& chunk, ChangeChunk& pending) const {
  SLUICE_CHECK(chunk.num_columns() == pending.num_columns(), "chunk and pending rows disagree on the column count");
  if (pending.sources().empty()) pending.AddSource({});
  size_t appended = 0;
  for (size_t i = 0; i < chunk.size(); ++i) {
    uint8_t is_deleted = 0;
    if (!SelectRow(chunk, i, is_deleted)) continue;
    pending.BeginRow(is_deleted ? RowOp::kDelete : RowOp::kInsert, chunk.version(i), 0, 0);
    for (size_t c = 0; c < chunk.num_columns(); ++c) pending.column(c).AppendFrom(chunk.column(c), i);
    ++appended;
  }
  return appended;
}

size_t RowBinaryEncoder::EncodeNative(const ChangeChunk& chunk, std::string& out) const {
  SLUICE_CHECK(chunk.num_columns() == types_.size(), "chunk and encoder disagree on the column count");
  SLUICE_CHECK(column_names_.size() == types_.size(), "the Native format needs the column names");
  std::vector<uint32_t> rows;
  std::vector<uint8_t> deleted;
  rows.reserve(chunk.size());
  deleted.reserve(chunk.size());
  for (size_t i = 0; i < chunk.size(); ++i) {
    uint8_t is_deleted = 0;
    if (!SelectRow(chunk, i, is_deleted)) continue;
    rows.push_back(static_cast<uint32_t>(i));
    deleted.push_back(is_deleted);
  }
  if (rows.empty()) return 0;  // an empty block would end the stream
  const size_t start = out.size();
  auto fail = [&](size_t c, uint32_t r, std::string_view what) {
    out.resize(start);
    throw Error(ErrorKind::kData,
                fmt::format("{}: column `{}` of row with _version {}: {}",
                            chunk.schema() ? chunk.schema()->QualifiedName() : std::string("?"), column_names_[c],
                            chunk.version(r), what));
  };
  PutVarUInt(types_.size() + 2, out);  // no block info: the HTTP interface reads with client revision 0
  PutVarUInt(rows.size(), out);
  for (size_t c = 0; c < types_.size(); ++c) {
    const ColumnType& t = types_[c];
    const ColumnVector& col = chunk.column(c);
    PutName(column_names_[c], out);
    PutName(full_types_[c], out);
    // Nullable(T): the null map (1 = NULL), then the nested column with a default under each NULL.
    const bool dates = t.encoding == Encoding::kDate || t.encoding == Encoding::kDateTime ||
                       t.encoding == Encoding::kDateTime64 || t.encoding == Encoding::kDateTimeText;
    if (t.nullable) {
      const size_t base = out.size();
      out.resize(base + rows.size());
      char* p = out.data() + base;
      for (const uint32_t r : rows) {
        *p++ = static_cast<char>(col.IsNull(r) || (dates && IsZeroDate(t, col, r)));
      }
    } else {
      for (const uint32_t r : rows) {
        if (col.IsNull(r)) fail(c, r, "NULL for a column that is NOT NULL in ClickHouse");
      }
    }
    switch (t.encoding) {
      case Encoding::kInt8: PutFixedColumn<int8_t>(col, rows, [&](uint32_t r) { return col.GetInt(r); }, out); continue;
      case Encoding::kInt16: PutFixedColumn<int16_t>(col, rows, [&](uint32_t r) { return col.GetInt(r); }, out); continue;
      case Encoding::kInt32: PutFixedColumn<int32_t>(col, rows, [&](uint32_t r) { return col.GetInt(r); }, out); continue;
      case Encoding::kInt64:
      case Encoding::kTimeMicros: PutFixedColumn<int64_t>(col, rows, [&](uint32_t r) { return col.GetInt(r); }, out); continue;
      case Encoding::kUInt8: PutFixedColumn<uint8_t>(col, rows, [&](uint32_t r) { return col.GetUInt(r); }, out); continue;
      case Encoding::kUInt16: PutFixedColumn<uint16_t>(col, rows, [&](uint32_t r) { return col.GetUInt(r); }, out); continue;
      case Encoding::kUInt32: PutFixedColumn<uint32_t>(col, rows, [&](uint32_t r) { return col.GetUInt(r); }, out); continue;
      case Encoding::kUInt64: PutFixedColumn<uint64_t>(col, rows, [&](uint32_t r) { return col.GetUInt(r); }, out); continue;
      case Encoding::kFloat32: PutFixedColumn<float>(col, rows, [&](uint32_t r) { return col.GetDouble(r); }, out); continue;
      case Encoding::kFloat64: PutFixedColumn<double>(col, rows, [&](uint32_t r) { return col.GetDouble(r); }, out); continue;
      case Encoding::kString:
        for (const uint32_t r : rows) {
          if (col.IsNull(r)) {
            out.push_back(0);
          } else {
            PutName(col.GetBytes(r), out);
          }
        }
        continue;
      default:
        break;
    }
    // Decimals, dates, text forms: value by value as RowBinary writes them (without the prefix).
    const size_t width = FixedWidth(t.encoding);
    for (const uint32_t r : rows) {
      const bool null = col.IsNull(r);
      const bool zero_date = !null && dates && IsZeroDate(t, col, r);
      if (null || (t.nullable && zero_date)) {
        if (width == 0) {
          out.push_back(0);  // empty string
        } else {
          out.append(width, '\0');
        }
        continue;
      }
      try {
        EncodeBare(t, col, r, zero_date, out);
      } catch (const Error& e) {
        fail(c, r, e.what());
      }
    }
  }
  PutName("_version", out);
  PutName("UInt64", out);
  for (const uint32_t r : rows) PutFixed(chunk.version(r), out);
  PutName("_is_deleted", out);
  PutName("UInt8", out);
  out.append(reinterpret_cast<const char*>(deleted.data()), deleted.size());
  return rows.size();
}

}  // namespace sluice::clickhouse
