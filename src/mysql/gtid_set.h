#pragma once
/// GTID sets of both flavours, as the capture keeps them in its offset and hands them to the
/// server to resume: MySQL's executed set (source UUID [+ tag] -> intervals of transaction
/// numbers, text "uuid:1-5:7,uuid2:tag:1-3", binary form of Gtid_set::encode for
/// COM_BINLOG_DUMP_GTID) and MariaDB's GTID position (the last GTID per replication domain,
/// "domain-server-seq,..." as @@gtid_binlog_pos and @slave_connect_state take it). Plain values;
/// not thread-safe.

#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {
class Config;
}

namespace sluice::mysql {

/// A MySQL GTID set: for each (source UUID, tag) a sorted list of disjoint, non-adjacent closed
/// intervals of transaction numbers (gno >= 1).
/// https://dev.mysql.com/doc/refman/8.4/en/replication-gtids-concepts.html
class MySqlGtidSet {
 public:
  struct Interval {
    int64_t first = 0;
    int64_t last = 0;  ///< inclusive
    bool operator==(const Interval& o) const { return first == o.first && last == o.last; }
  };
  /// (lowercase UUID "8-4-4-4-12", lowercase tag or "" when untagged)
  using Source = std::pair<std::string, std::string>;

  /// Parses MySQL's text form: "uuid:1-5:7[:tag:1-3...][,uuid2:...]". Whitespace and newlines
  /// between elements are ignored (SHOW MASTER STATUS prints ",\n"). Throws Error(kSource)
  /// naming the text and the offending part.
  static MySqlGtidSet Parse(std::string_view text);

  /// Adds one transaction, "uuid:gno" or "uuid:tag:gno" (the GtidEvent's text).
  void AddGtid(std::string_view gtid);
  void Add(const std::string& uuid, const std::string& tag, int64_t gno) { AddInterval({uuid, tag}, {gno, gno}); }
  void AddInterval(const Source& source, Interval iv);
  /// Adds every transaction of `other`.
  void Merge(const MySqlGtidSet& other);
  /// True when every transaction of `other` is in this set.
  bool Contains(const MySqlGtidSet& other) const;
  /// The transactions of `other` that are not in this set.
  MySqlGtidSet Missing(const MySqlGtidSet& other) const;
  /// Only the sources whose UUID `keep` accepts.
  template <typename Pred>
  MySqlGtidSet Filter(Pred keep) const {
    MySqlGtidSet out;
    for (const auto& [src, ivs] : sets_) {
      if (keep(src.first)) out.sets_[src] = ivs;
    }
    return out;
  }

  bool empty() const { return sets_.empty(); }
  const std::map<Source, std::vector<Interval>>& sources() const { return sets_; }
  /// MySQL's canonical text: UUIDs in order, the untagged intervals first, then each tag's.
  std::string ToString() const;
  /// The binary form MySQL's Gtid_set::encode writes (the data of COM_BINLOG_DUMP_GTID and of
  /// PREVIOUS_GTIDS_LOG_EVENT): 8-byte source count, then per source the 16-byte UUID, [the tag,]
  /// an 8-byte interval count and [start, end) pairs of 8-byte numbers. The tagged layout (MySQL
  /// 8.3+) is used only when the set holds a tagged GTID, as MySQL does.
  std::string Encode() const;

 private:
  std::map<Source, std::vector<Interval>> sets_;
};

/// A MariaDB GTID position: the last GTID "domain-server-seq" of each replication domain.
/// https://mariadb.com/kb/en/gtid/
class MariaGtidPosition {
 public:
  struct Gtid {
    uint32_t server_id = 0;
    uint64_t seq_no = 0;
  };
  /// Parses "0-1-42,1-2-7" (whitespace ignored, "" is empty). Throws Error(kSource) naming the
  /// text when an element is not domain-server-seq or a domain appears twice.
  static MariaGtidPosition Parse(std::string_view text);
  /// Parses a binlog state (@@gtid_binlog_state, a GTID_LIST event: one GTID per domain and
  /// server) into the position it ends at: the highest sequence number of each domain.
  static MariaGtidPosition FromState(std::string_view text);

  /// Records `gtid` as its domain's last transaction.
  void Set(uint32_t domain, Gtid gtid) { domains_[domain] = gtid; }
  /// True when, for every domain of `other`, this position is at or after it (same sequence
  /// number or later).
  bool Covers(const MariaGtidPosition& other) const;
  /// Only the domains `keep` accepts (called with the domain id as decimal text).
  template <typename Pred>
  MariaGtidPosition Filter(Pred keep) const {
    MariaGtidPosition out;
    for (const auto& [d, g] : domains_) {
      if (keep(std::to_string(d))) out.domains_[d] = g;
    }
    return out;
  }
  /// Domains of `other` not in this position are added (this position wins where both have one).
  void AddMissing(const MariaGtidPosition& other);

  bool empty() const { return domains_.empty(); }
  const std::map<uint32_t, Gtid>& domains() const { return domains_; }
  std::string ToString() const;  ///< "domain-server-seq,..." by domain

 private:
  std::map<uint32_t, Gtid> domains_;
};

/// Debezium's gtid.source.includes / gtid.source.excludes: comma-separated regexes matched
/// (anchored, case-insensitive) against a MySQL GTID's source UUID or a MariaDB GTID's domain id.
/// Without either list every source is kept.
class GtidSourceFilter {
 public:
  GtidSourceFilter() = default;
  /// Throws Error(kConfig) naming the key when both lists are set or a regex does not compile.
  explicit GtidSourceFilter(const Config& config);
  GtidSourceFilter(const std::vector<std::string>& includes, const std::vector<std::string>& excludes);
  bool Keep(const std::string& source) const;
  bool active() const { return !includes_.empty() || !excludes_.empty(); }

 private:
  std::vector<std::regex> includes_, excludes_;
};

}  // namespace sluice::mysql
