#include "clickhouse/server_info.h"

#include <charconv>

#include <fmt/format.h>

#include "common/error.h"

namespace sluice::clickhouse {

ServerVersion ServerVersion::Parse(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  ServerVersion v;
  int* parts[3] = {&v.major, &v.minor, &v.patch};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3 && p < end; ++i) {
    auto [next, ec] = std::from_chars(p, end, *parts[i]);
    if (ec != std::errc()) {
      if (i < 2) break;
      return v;
    }
    p = next;
    if (p < end && *p == '.') ++p; else break;
  }
  if (v.major == 0) Throw(ErrorKind::kSink, "cannot parse ClickHouse version from '{}'", text);
  return v;
}

std::string ServerVersion::ToString() const { return fmt::format("{}.{}.{}", major, minor, patch); }

ServerFeatures ServerFeatures::ForVersion(ServerVersion v) {
  ServerFeatures f;
  f.version = v;
  f.datetime64 = v.AtLeast(20, 1);
  f.decimal256 = v.AtLeast(21, 7);
  f.is_deleted_param = v.AtLeast(23, 2);
  f.rename_column = v.AtLeast(20, 4);
  f.nullable_key = v.AtLeast(20, 7);
  f.insert_dedup_token = v.AtLeast(22, 1);
  return f;
}

}  // namespace sluice::clickhouse
