#include "clickhouse/client.h"

#include <gtest/gtest.h>

#include "clickhouse/sink.h"

namespace sluice::clickhouse {
namespace {

TEST(ClientErrorTest, ParsesExceptionCodes) {
  EXPECT_EQ(ParseExceptionCode("Code: 60, e.displayText() = DB::Exception: Table x doesn't exist."), 60);
  EXPECT_EQ(ParseExceptionCode("Code: 241. DB::Exception: Memory limit (total) exceeded"), 241);
  EXPECT_EQ(ParseExceptionCode("<html>502 Bad Gateway</html>"), -1);
}

TEST(ClientErrorTest, ClassifiesRetryable) {
  // A ClickHouse user error answered with 500 by old servers is not retried...
  Error syntax = MakeHttpError(500, "Code: 62, e.displayText() = DB::Exception: Syntax error", "SELEC 1",
                               "http://h:1", "default");
  EXPECT_FALSE(syntax.retryable());
  EXPECT_EQ(syntax.kind(), ErrorKind::kSink);
  EXPECT_NE(std::string(syntax.what()).find("statement: SELEC 1"), std::string::npos);
  // ...while load and network conditions are.
  EXPECT_TRUE(MakeHttpError(500, "Code: 252, e.displayText() = DB::Exception: Too many parts", "INSERT", "h", "u").retryable());
  EXPECT_TRUE(MakeHttpError(503, "Service Unavailable", "INSERT", "h", "u").retryable());
  EXPECT_FALSE(MakeHttpError(404, "Code: 60, Table t doesn't exist", "INSERT", "h", "u").retryable());
  EXPECT_FALSE(MakeHttpError(400, "", "INSERT", "h", "u").retryable());
}

TEST(ClientErrorTest, AuthFailureNamesTheSettings) {
  for (const char* body : {"Code: 193, e.displayText() = DB::Exception: Wrong password for user default",
                           "Code: 516. DB::Exception: default: Authentication failed"}) {
    Error e = MakeHttpError(401, body, "SELECT 1", "http://h:8123", "default");
    EXPECT_FALSE(e.retryable());
    const std::string m = e.what();
    EXPECT_NE(m.find("sink.username"), std::string::npos) << m;
    EXPECT_NE(m.find("sink.password"), std::string::npos) << m;
    EXPECT_NE(m.find("'default'"), std::string::npos) << m;
  }
}

TEST(ClientErrorTest, TrimsLongStatements) {
  const std::string sql(1000, 'x');
  EXPECT_EQ(TrimStatement(sql, 10), "xxxxxxxxxx...");
  EXPECT_EQ(TrimStatement("short", 10), "short");
}

TEST(ClientErrorTest, UnreachableServerIsRetryable) {
  ClientOptions o;
  o.hostname = "127.0.0.1";
  o.port = 1;  // nothing listens on port 1
  o.connect_timeout_ms = 2000;
  ClickHouseClient c(o);
  try {
    c.Query("SELECT 1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("cannot reach ClickHouse at http://127.0.0.1:1"), std::string::npos) << e.what();
  }
}

TEST(SinkHelpersTest, StableHashAndSchemaReport) {
  EXPECT_EQ(StableHash64("abc"), StableHash64(std::string("abc")));
  EXPECT_NE(StableHash64("abc"), StableHash64("abd"));
  EXPECT_NE(StableHash64(std::string(16, 'a')), StableHash64(std::string(17, 'a')));
  const std::string r = DescribeSchemas({{"id", "UInt32"}, {"name", "String"}, {"_version", "UInt64"}},
                                        {{"id", "Int32"}, {"_version", "UInt64"}, {"extra", "String"}});
  EXPECT_NE(r.find("* id"), std::string::npos) << r;
  EXPECT_NE(r.find("(missing)"), std::string::npos) << r;
  EXPECT_NE(r.find("(not in source)"), std::string::npos) << r;
}

}  // namespace
}  // namespace sluice::clickhouse
