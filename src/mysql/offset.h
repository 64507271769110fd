#pragma once
/// The capture offset: where a restart resumes. Stored in the state directory only after the
/// downstream stage has durably taken every change before it, and only at transaction boundaries.

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::mysql {

struct SourceOffset {
  // Streaming position: the first event of the next transaction to deliver.
  std::string file;
  uint64_t pos = 0;
  /// GTID set including the last delivered transaction: MariaDB's position (last GTID per
  /// domain, "0-1-42,1-2-7"), MySQL's executed set ("uuid:1-42,uuid2:1-7"); "" without GTIDs.
  std::string gtid_set;
  /// True when gtid_set is complete (the server's whole history up to here, minus sources
  /// gtid.source.* filters out), so a restart can resume from it instead of file:pos. Offsets
  /// stored by older versions kept only MySQL's last GTID and leave this false.
  bool gtid_full = false;
  // Snapshot progress (Debezium semantics: the snapshot is done once `snapshot_done`).
  bool snapshot_done = false;
  bool snapshot_running = false;
  std::vector<std::string> tables_done;  ///< "db.table" fully read
  std::string current_table;             ///< table being read
  std::vector<std::string> last_key;     ///< SQL literals of the last delivered row's primary key
  uint64_t rows_done = 0;
  /// Source commit time (ms since the epoch) of the last delivered transaction; for a snapshot,
  /// the time its consistent view was taken. 0 when unknown (offsets stored by older versions).
  int64_t ts_ms = 0;

  bool empty() const { return file.empty() && gtid_set.empty(); }
  std::string Serialize() const;
  /// Throws Error(kState) when `text` is not a serialized offset.
  static SourceOffset Parse(const std::string& text);
  std::string ToString() const;  ///< human-readable, for logs and `status`
};

}  // namespace sluice::mysql
