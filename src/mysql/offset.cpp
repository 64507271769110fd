#include "mysql/offset.h"

#include <sstream>

#include "common/error.h"

namespace sluice::mysql {

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out;
}

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[++i];
      out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "\t" : "") + Escape(v[i]);
  return out;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      cur += s[i];
      cur += s[++i];
    } else if (s[i] == '\t') {
      out.push_back(Unescape(cur));
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  out.push_back(Unescape(cur));
  return out;
}

}  // namespace

std::string SourceOffset::Serialize() const {
  std::ostringstream o;
  o << "v1\n"
    << "file\t" << Escape(file) << "\n"
    << "pos\t" << pos << "\n"
    << "gtid\t" << Escape(gtid_set) << "\n"
    << "gtid_full\t" << (gtid_full ? 1 : 0) << "\n"
    << "snapshot_done\t" << (snapshot_done ? 1 : 0) << "\n"
    << "snapshot_running\t" << (snapshot_running ? 1 : 0) << "\n"
    << "tables_done\t" << Escape(Join(tables_done)) << "\n"
    << "current_table\t" << Escape(current_table) << "\n"
    << "last_key\t" << Escape(Join(last_key)) << "\n"
    << "rows_done\t" << rows_done << "\n"
    << "ts_ms\t" << ts_ms << "\n";
  return o.str();
}

SourceOffset SourceOffset::Parse(const std::string& text) {
  SourceOffset o;
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != "v1") {
    Throw(ErrorKind::kState, "the stored offset has an unknown format (first line '{}'); was the state directory "
          "written by a newer sluice?", line);
  }
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string k = line.substr(0, tab), v = Unescape(line.substr(tab + 1));
    if (k == "file") o.file = v;
    else if (k == "pos") o.pos = std::stoull(v);
    else if (k == "gtid") o.gtid_set = v;
    else if (k == "gtid_full") o.gtid_full = v == "1";
    else if (k == "snapshot_done") o.snapshot_done = v == "1";
    else if (k == "snapshot_running") o.snapshot_running = v == "1";
    else if (k == "tables_done") o.tables_done = Split(v);
    else if (k == "current_table") o.current_table = v;
    else if (k == "last_key") o.last_key = Split(v);
    else if (k == "rows_done") o.rows_done = std::stoull(v);
    else if (k == "ts_ms") o.ts_ms = std::stoll(v);
  }
  return o;
}

std::string SourceOffset::ToString() const {
  std::string s = file.empty() ? std::string() : fmt::format("{}:{}", file, pos);
  if (!gtid_set.empty()) s += fmt::format("{}gtid {}", s.empty() ? "" : " ", gtid_set);
  if (snapshot_running) {
    s += fmt::format(" (snapshot in progress: {} tables done, at {}, {} rows)", tables_done.size(), current_table,
                     rows_done);
  }
  return s;
}

}  // namespace sluice::mysql
