#pragma once
/// What the connected ClickHouse server is and which features the generated SQL and data may use.

#include <string>
#include <string_view>

namespace sluice::clickhouse {

/// A ClickHouse release number, e.g. 18.16.1 or 24.8.4.13. Plain value type.
struct ServerVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;

  /// Parses the text of `SELECT version()`; throws Error(kSink) when it is not a version.
  static ServerVersion Parse(std::string_view text);
  bool AtLeast(int maj, int min) const { return major > maj || (major == maj && minor >= min); }
  std::string ToString() const;
};

/// Features the sink relies on, derived from the server version (and probed settings).
/// Plain value type; `ForVersion` gives the defaults a release is known to have.
struct ServerFeatures {
  ServerVersion version;
  bool datetime64 = false;          ///< DateTime64(p, tz) type (20.1+)
  bool decimal256 = false;          ///< Decimal(P, S) with P in 39..76 without an experimental flag (21.7+)
  bool is_deleted_param = false;    ///< ReplacingMergeTree(ver, is_deleted) (23.2+)
  bool rename_column = false;       ///< ALTER TABLE ... RENAME COLUMN (20.4+)
  bool nullable_key = false;        ///< MergeTree setting allow_nullable_key (20.7+)
  bool insert_dedup_token = false;  ///< insert_deduplication_token setting (22.x; probed in system.settings)

  /// Returns the features of release `v` (insert_dedup_token assumed from 22.1 on).
  static ServerFeatures ForVersion(ServerVersion v);
};

}  // namespace sluice::clickhouse
