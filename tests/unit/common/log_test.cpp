#include "common/log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <simdjson.h>

namespace sluice {
namespace {

std::string Parse(const std::string& line, const char* field) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(line);  // throws on invalid JSON
  std::string_view v;
  if (doc[field].get(v) != simdjson::SUCCESS) return "<missing>";
  return std::string(v);
}

TEST(JsonLog, EveryMessageIsOneValidJsonLine) {
  const std::string nasty = std::string("quote \" backslash \\ newline \n tab \t ctl \x01 del \x7f ") +
                            "utf8 ünï 🚀 invalid \xff\xfe end \xe2\x82";
  std::string line;
  FormatJsonLogLine(line, 1764640000123, "warn", nasty, "shop.orders", "mysql-bin.000003:4567");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(Parse(line, "ts"), "2025-12-02T01:46:40.123Z");
  EXPECT_EQ(Parse(line, "level"), "warn");
  EXPECT_EQ(Parse(line, "table"), "shop.orders");
  EXPECT_EQ(Parse(line, "position"), "mysql-bin.000003:4567");
  EXPECT_EQ(Parse(line, "msg"), "quote \" backslash \\ newline \n tab \t ctl \x01 del \x7f utf8 ünï 🚀 invalid "
                                "\xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd");
}

TEST(JsonLog, TableAndPositionOnlyWhenKnown) {
  std::string line;
  FormatJsonLogLine(line, 0, "info", "hello", "", "");
  EXPECT_EQ(line, R"({"ts":"1970-01-01T00:00:00.000Z","level":"info","msg":"hello"})");
}

TEST(JsonLog, LoggerWritesContextOfTheThread) {
  // Redirect stderr to a file for the duration of the test.
  char path[] = "/tmp/sluice-log-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(fd, 2);
  InitLogging("info", "json");
  {
    std::string table = "db.t", file = "binlog.000001";
    uint64_t pos = 4;
    ScopedLogTable t(&table);
    ScopedLogPosition p(&file, &pos);
    pos = 1234;  // read when the line is written
    SLOG_WARN("rows {} \"quoted\"", 3);
  }
  SLOG_INFO("outside");
  LogFatal("the end\nof it");
  spdlog::default_logger()->flush();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  InitLogging("info", "text");
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  unlink(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Parse(lines[0], "msg"), "rows 3 \"quoted\"");
  EXPECT_EQ(Parse(lines[0], "level"), "warning");
  EXPECT_EQ(Parse(lines[0], "table"), "db.t");
  EXPECT_EQ(Parse(lines[0], "position"), "binlog.000001:1234");
  EXPECT_EQ(Parse(lines[1], "table"), "<missing>");
  EXPECT_EQ(Parse(lines[2], "level"), "error");
  EXPECT_EQ(Parse(lines[2], "msg"), "the end\nof it");
}

}  // namespace
}  // namespace sluice
