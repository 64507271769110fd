#include "mysql/gtid_set.h"

#include <algorithm>
#include <cctype>

#include "common/config.h"
#include "common/error.h"

namespace sluice::mysql {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

bool ParseUInt(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
    if (next / 10 != v) return false;  // overflow
    v = next;
  }
  *out = v;
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "8-4-4-4-12" hex digits (MySQL also accepts 32 hex digits without dashes).
bool ParseUuid(std::string_view s, std::string* canonical) {
  std::string hex;
  for (char c : s) {
    if (c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 32) return false;
  if (s.size() == 36 && (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')) return false;
  if (s.size() != 36 && s.size() != 32) return false;
  *canonical = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
               hex.substr(20);
  return true;
}

// MySQL 8.4 tags: a letter or underscore, then up to 31 letters, digits or underscores.
bool IsTag(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// MySQL's serialization library variable-length unsigned integer (libs/mysql/serialization):
// the number of trailing one bits in the first byte is the number of bytes that follow; the
// value is stored shifted left by the total byte count, little-endian; 0xff: 8 raw bytes follow.
void PutVarLenUInt(std::string& out, uint64_t v) {
  for (int n = 1; n <= 8; ++n) {
    if (n < 8 ? v < (1ull << (7 * n)) : v < (1ull << 56)) {
      uint64_t enc = (v << n) | ((1ull << (n - 1)) - 1);
      for (int i = 0; i < n; ++i) out += static_cast<char>((enc >> (8 * i)) & 0xff);
      return;
    }
  }
  out += static_cast<char>(0xff);
  PutU64(out, v);
}

[[noreturn]] void BadSet(std::string_view text, std::string_view part, const char* why) {
  Throw(ErrorKind::kSource, "GTID set '{}' is not valid: '{}' {} (expected MySQL's form uuid:1-5:7,uuid2:tag:1-3)",
        text.substr(0, 300), part, why);
}

}  // namespace

// ---------------------------------------------------------------- MySQL

MySqlGtidSet MySqlGtidSet::Parse(std::string_view text) {
  MySqlGtidSet set;
  for (std::string_view element : SplitOn(text, ',')) {
    element = Trim(element);
    if (element.empty()) continue;
    std::vector<std::string_view> parts = SplitOn(element, ':');
    std::string uuid;
    if (!ParseUuid(Trim(parts[0]), &uuid)) BadSet(text, parts[0], "is not a server UUID");
    if (parts.size() < 2) BadSet(text, element, "has no transaction numbers");
    std::string tag;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string_view p = Trim(parts[i]);
      if (!p.empty() && !std::isdigit(static_cast<unsigned char>(p[0]))) {
        if (!IsTag(p)) BadSet(text, p, "is neither an interval nor a GTID tag");
        tag = Lower(p);
        if (i + 1 == parts.size()) BadSet(text, element, "ends with a tag without intervals");
        continue;
      }
      size_t dash = p.find('-');
      uint64_t a = 0, b = 0;
      if (!ParseUInt(p.substr(0, dash), &a) ||
          (dash != std::string_view::npos && !ParseUInt(p.substr(dash + 1), &b))) {
        BadSet(text, p, "is not an interval n or n-m");
      }
      if (dash == std::string_view::npos) b = a;
      if (a < 1 || b < a || b >= (1ull << 63) - 1) BadSet(text, p, "is not an interval with 1 <= n <= m < 2^63-1");
      set.AddInterval({uuid, tag}, {static_cast<int64_t>(a), static_cast<int64_t>(b)});
    }
  }
  return set;
}

void MySqlGtidSet::AddGtid(std::string_view gtid) {
  std::vector<std::string_view> parts = SplitOn(gtid, ':');
  std::string uuid;
  uint64_t gno = 0;
  if ((parts.size() != 2 && parts.size() != 3) || !ParseUuid(parts[0], &uuid) || !ParseUInt(parts.back(), &gno) ||
      gno < 1 || (parts.size() == 3 && !IsTag(parts[1]))) {
    Throw(ErrorKind::kData, "'{}' is not a MySQL GTID (uuid:number or uuid:tag:number)", gtid);
  }
  Add(uuid, parts.size() == 3 ? Lower(parts[1]) : std::string(), static_cast<int64_t>(gno));
}

void MySqlGtidSet::AddInterval(const Source& source, Interval iv) {
  std::vector<Interval>& ivs = sets_[source];
  // Insert keeping order, then coalesce overlapping or adjacent neighbours.
  auto it = std::lower_bound(ivs.begin(), ivs.end(), iv, [](const Interval& a, const Interval& b) {
    return a.first < b.first;
  });
  it = ivs.insert(it, iv);
  size_t i = static_cast<size_t>(it - ivs.begin());
  if (i > 0 && ivs[i - 1].last + 1 >= ivs[i].first) --i;
  while (i + 1 < ivs.size() && ivs[i].last + 1 >= ivs[i + 1].first) {
    ivs[i].last = std::max(ivs[i].last, ivs[i + 1].last);
    ivs.erase(ivs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  }
}

void MySqlGtidSet::Merge(const MySqlGtidSet& other) {
  for (const auto& [src, ivs] : other.sets_) {
    for (const Interval& iv : ivs) AddInterval(src, iv);
  }
}

MySqlGtidSet MySqlGtidSet::Missing(const MySqlGtidSet& other) const {
  MySqlGtidSet out;
  for (const auto& [src, theirs] : other.sets_) {
    auto mine_it = sets_.find(src);
    for (Interval iv : theirs) {
      if (mine_it != sets_.end()) {
        for (const Interval& m : mine_it->second) {
          if (m.last < iv.first) continue;
          if (m.first > iv.last) break;
          if (m.first > iv.first) out.AddInterval(src, {iv.first, m.first - 1});
          iv.first = m.last + 1;
          if (iv.first > iv.last) break;
        }
      }
      if (iv.first <= iv.last) out.AddInterval(src, iv);
    }
  }
  return out;
}

bool MySqlGtidSet::Contains(const MySqlGtidSet& other) const { return Missing(other).empty(); }

std::string MySqlGtidSet::ToString() const {
  std::string out;
  std::string uuid;
  for (const auto& [src, ivs] : sets_) {
    if (src.first != uuid) {
      out += (out.empty() ? "" : ",") + src.first;
      uuid = src.first;
    }
    if (!src.second.empty()) out += ":" + src.second;
    for (const Interval& iv : ivs) {
      out += ":" + std::to_string(iv.first);
      if (iv.last != iv.first) out += "-" + std::to_string(iv.last);
    }
  }
  return out;
}

std::string MySqlGtidSet::Encode() const {
  const bool tagged = std::any_of(sets_.begin(), sets_.end(), [](const auto& e) { return !e.first.second.empty(); });
  std::string out;
  const uint64_t n = sets_.size();
  // Tagged format (Gtid_format::tagged = 1): the format in the top and bottom byte, the count in
  // between.
  PutU64(out, tagged ? (1ull << 56) | (n << 8) | 1ull : n);
  for (const auto& [src, ivs] : sets_) {
    const std::string& u = src.first;
    for (size_t i = 0; i < u.size();) {
      if (u[i] == '-') {
        ++i;
        continue;
      }
      out += static_cast<char>(std::stoi(u.substr(i, 2), nullptr, 16));
      i += 2;
    }
    if (tagged) {
      PutVarLenUInt(out, src.second.size());
      out += src.second;
    }
    PutU64(out, ivs.size());
    for (const Interval& iv : ivs) {
      PutU64(out, static_cast<uint64_t>(iv.first));
      PutU64(out, static_cast<uint64_t>(iv.last) + 1);  // end exclusive
    }
  }
  return out;
}

// ---------------------------------------------------------------- MariaDB

MariaGtidPosition MariaGtidPosition::Parse(std::string_view text) {
  MariaGtidPosition pos;
  for (std::string_view element : SplitOn(text, ',')) {
    element = Trim(element);
    if (element.empty()) continue;
    std::vector<std::string_view> parts = SplitOn(element, '-');
    uint64_t d = 0, s = 0, q = 0;
    if (parts.size() != 3 || !ParseUInt(parts[0], &d) || !ParseUInt(parts[1], &s) || !ParseUInt(parts[2], &q) ||
        d > 0xFFFFFFFFull || s > 0xFFFFFFFFull) {
      Throw(ErrorKind::kSource, "MariaDB GTID position '{}' is not valid: '{}' is not domain-server-sequence "
            "(e.g. 0-1-42)", text.substr(0, 300), element);
    }
    if (pos.domains_.count(static_cast<uint32_t>(d))) {
      Throw(ErrorKind::kSource, "MariaDB GTID position '{}' names domain {} twice; a position has one GTID per "
            "domain (use @@gtid_binlog_pos, not @@gtid_binlog_state)", text.substr(0, 300), d);
    }
    pos.domains_[static_cast<uint32_t>(d)] = {static_cast<uint32_t>(s), q};
  }
  return pos;
}

MariaGtidPosition MariaGtidPosition::FromState(std::string_view text) {
  MariaGtidPosition out;
  for (std::string_view element : SplitOn(text, ',')) {
    MariaGtidPosition one = Parse(element);
    for (const auto& [d, g] : one.domains_) {
      auto it = out.domains_.find(d);
      if (it == out.domains_.end() || it->second.seq_no < g.seq_no) out.domains_[d] = g;
    }
  }
  return out;
}

bool MariaGtidPosition::Covers(const MariaGtidPosition& other) const {
  for (const auto& [d, g] : other.domains_) {
    auto it = domains_.find(d);
    if (it == domains_.end() || it->second.seq_no < g.seq_no) return false;
  }
  return true;
}

void MariaGtidPosition::AddMissing(const MariaGtidPosition& other) {
  for (const auto& [d, g] : other.domains_) domains_.emplace(d, g);
}

std::string MariaGtidPosition::ToString() const {
  std::string out;
  for (const auto& [d, g] : domains_) {
    out += (out.empty() ? "" : ",") + std::to_string(d) + "-" + std::to_string(g.server_id) + "-" +
           std::to_string(g.seq_no);
  }
  return out;
}

// ---------------------------------------------------------------- filter

namespace {

std::vector<std::regex> CompileAll(const std::vector<std::string>& patterns, const std::string& where,
                                   const char* key) {
  std::vector<std::regex> out;
  for (const auto& p : patterns) {
    try {
      out.emplace_back(p, std::regex::ECMAScript | std::regex::icase | std::regex::optimize);
    } catch (const std::regex_error& e) {
      Throw(ErrorKind::kConfig, "{}source.{}: '{}' is not a valid regular expression: {}", where, key, p, e.what());
    }
  }
  return out;
}

}  // namespace

GtidSourceFilter::GtidSourceFilter(const std::vector<std::string>& includes, const std::vector<std::string>& excludes)
    : includes_(CompileAll(includes, "", "gtid.source.includes")),
      excludes_(CompileAll(excludes, "", "gtid.source.excludes")) {
  if (!includes_.empty() && !excludes_.empty()) {
    Throw(ErrorKind::kConfig, "set either source.gtid.source.includes or source.gtid.source.excludes, not both");
  }
}

GtidSourceFilter::GtidSourceFilter(const Config& config)
    : includes_(CompileAll(config.GetList("source", "gtid.source.includes"),
                           config.Where("source", "gtid.source.includes") + ": ", "gtid.source.includes")),
      excludes_(CompileAll(config.GetList("source", "gtid.source.excludes"),
                           config.Where("source", "gtid.source.excludes") + ": ", "gtid.source.excludes")) {
  if (!includes_.empty() && !excludes_.empty()) {
    Throw(ErrorKind::kConfig, "{}: set either source.gtid.source.includes or source.gtid.source.excludes, not both",
          config.file());
  }
}

bool GtidSourceFilter::Keep(const std::string& source) const {
  if (!includes_.empty()) {
    return std::any_of(includes_.begin(), includes_.end(), [&](const std::regex& r) { return std::regex_match(source, r); });
  }
  return std::none_of(excludes_.begin(), excludes_.end(), [&](const std::regex& r) { return std::regex_match(source, r); });
}

}  // namespace sluice::mysql
