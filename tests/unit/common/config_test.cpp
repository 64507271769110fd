#include "common/config.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace sluice {
namespace {

const char* kValid = R"(source:
  database.hostname: 127.0.0.1
  database.port: 3306
  database.user: sluice
  database.password: ${SLUICE_TEST_PW}
  database.server.id: 5401
  topic.prefix: smile
  database.include.list: smile, other
  snapshot.mode: initial
bus:
  type: embedded
sink:
  type: clickhouse
  hostname: 127.0.0.1
  port: 8123
  database: smile_olap
  username: default
  password: ""
  tables:
    smile.events:
      order.by: id
state:
  dir: ./state
)";

std::string LoadError(const std::string& yaml) {
  try {
    Config::LoadString(yaml, "p.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigTest, LoadsValidFileWithEnvExpansion) {
  setenv("SLUICE_TEST_PW", "s3cret", 1);
  Config c = Config::LoadString(kValid, "p.yaml", "/etc/sluice");
  EXPECT_EQ(c.GetString("source", "database.hostname"), "127.0.0.1");
  EXPECT_EQ(c.GetInt("source", "database.port"), 3306);
  EXPECT_EQ(c.GetString("source", "database.password"), "s3cret");
  EXPECT_EQ(c.GetInt("source", "database.server.id"), 5401);
  EXPECT_EQ(c.GetList("source", "database.include.list"), (std::vector<std::string>{"smile", "other"}));
  EXPECT_EQ(c.GetString("sink", "database"), "smile_olap");
  EXPECT_EQ(c.GetString("sink", "password"), "");
  EXPECT_EQ(c.GetPath("state", "dir"), "/etc/sluice/state");
  EXPECT_EQ(c.GetMap("sink", "tables").at("smile.events").at("order.by"), "id");
  // Defaults come from the spec.
  EXPECT_EQ(c.GetString("source", "decimal.handling.mode"), "precise");
  EXPECT_TRUE(c.GetBool("source", "tombstones.on.delete"));
  EXPECT_EQ(c.Where("source", "database.user"), "p.yaml:4");
}

TEST(ConfigTest, EnvDefaultAndMissingVariable) {
  unsetenv("SLUICE_TEST_UNSET");
  std::string missing;
  EXPECT_EQ(*ExpandEnv("a${SLUICE_TEST_UNSET:-dflt}b", &missing), "adfltb");
  EXPECT_EQ(*ExpandEnv("cost $$5", &missing), "cost $5");
  EXPECT_FALSE(ExpandEnv("${SLUICE_TEST_UNSET}", &missing).has_value());
  EXPECT_EQ(missing, "SLUICE_TEST_UNSET");

  std::string yaml = kValid;
  yaml.replace(yaml.find("${SLUICE_TEST_PW}"), 17, "${SLUICE_TEST_UNSET}");
  std::string err = LoadError(yaml);
  EXPECT_NE(err.find("p.yaml:5: source.database.password: environment variable SLUICE_TEST_UNSET is not set"),
            std::string::npos)
      << err;
}

TEST(ConfigTest, UnknownKeyNamesLineAndSuggests) {
  setenv("SLUICE_TEST_PW", "x", 1);
  std::string yaml = kValid;
  yaml.replace(yaml.find("database.hostname"), 17, "database.hostnme");
  std::string err = LoadError(yaml);
  EXPECT_NE(err.find("p.yaml:2: source: unknown key 'database.hostnme'; did you mean 'database.hostname'?"),
            std::string::npos)
      << err;
  // Removing hostname also makes a required key missing: every problem is listed.
  EXPECT_NE(err.find("missing required key 'database.hostname'"), std::string::npos) << err;
  EXPECT_NE(err.find("2 problems"), std::string::npos) << err;
}

TEST(ConfigTest, KeyInWrongSectionIsExplained) {
  setenv("SLUICE_TEST_PW", "x", 1);
  std::string yaml = std::string(kValid) + "";
  yaml.replace(yaml.find("  username: default"), 19, "  database.user: default");
  std::string err = LoadError(yaml);
  EXPECT_NE(err.find("'database.user' belongs in section 'source'"), std::string::npos) << err;
}

TEST(ConfigTest, WrongTypesAreErrors) {
  setenv("SLUICE_TEST_PW", "x", 1);
  std::string yaml = kValid;
  yaml.replace(yaml.find("database.port: 3306"), 19, "database.port: abc");
  yaml.replace(yaml.find("snapshot.mode: initial"), 22, "snapshot.mode: sometimes");
  std::string err = LoadError(yaml);
  EXPECT_NE(err.find("p.yaml:3: source.database.port: expected an integer, got 'abc'"), std::string::npos) << err;
  EXPECT_NE(err.find("p.yaml:9: source.snapshot.mode: 'sometimes' is not one of: initial,initial_only,"
                     "when_needed,never,no_data,always"),
            std::string::npos)
      << err;
  std::string yaml2 = kValid;
  yaml2.replace(yaml2.find("database.port: 3306"), 19, "database.port: [1, 2]");
  EXPECT_NE(LoadError(yaml2).find("source.database.port: expected a single value, got a list"), std::string::npos);
}

TEST(ConfigTest, MissingRequiredAndUnknownSection) {
  std::string err = LoadError("source:\n  database.hostname: h\nsinks:\n  hostname: x\n");
  EXPECT_NE(err.find("p.yaml:3: unknown section 'sinks'; did you mean 'sink'?"), std::string::npos) << err;
  EXPECT_NE(err.find("source: missing required key 'database.user'"), std::string::npos) << err;
  EXPECT_NE(err.find("source: missing required key 'database.server.id'"), std::string::npos) << err;
  EXPECT_NE(err.find("source: missing required key 'topic.prefix'"), std::string::npos) << err;
  EXPECT_NE(LoadError("").find("the file is empty"), std::string::npos);
  EXPECT_NE(LoadError("source: [1\n").find("YAML syntax error"), std::string::npos);
}

TEST(ConfigTest, SourceIsOptionalForACommandThatDoesNotConnectToIt) {
  const std::string yaml = "bus:\n  type: kafka\n  bootstrap.servers: k:9092\nsink:\n  hostname: h\n"
                           "  database: d\n  topics: [a.b.c]\n";
  // `sluice sink`: no source section, no connection keys.
  Config c = Config::LoadString(yaml, "p.yaml", ".", /*source_connection=*/false);
  EXPECT_EQ(c.GetList("sink", "topics"), std::vector<std::string>{"a.b.c"});
  Config c2 = Config::LoadString("source:\n  topic.prefix: x\n" + yaml, "p.yaml", ".", false);
  EXPECT_EQ(c2.GetString("source", "topic.prefix"), "x");
  // Every other command needs them; unknown keys stay errors either way.
  EXPECT_NE(LoadError(yaml).find("missing section 'source'"), std::string::npos);
  try {
    Config::LoadString("source:\n  database.hostnme: h\n" + yaml, "p.yaml", ".", false);
    ADD_FAILURE() << "unknown key accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'database.hostnme'"), std::string::npos) << e.what();
  }
}

TEST(ConfigTest, NestedMapsFlattenToDebeziumNames) {
  Config c = Config::LoadString(
      "source:\n  database:\n    hostname: h\n    user: u\n    server.id: 7\n  topic.prefix: p\n", "p.yaml");
  EXPECT_EQ(c.GetString("source", "database.hostname"), "h");
  EXPECT_EQ(c.GetInt("source", "database.server.id"), 7);
}

TEST(ConfigTest, KafkaConnectKeysAreIgnoredWithWarning) {
  Config c = Config::LoadString(
      "source:\n  connector.class: io.debezium.connector.mysql.MySqlConnector\n  database.hostname: h\n"
      "  database.user: u\n  database.server.id: 7\n  topic.prefix: p\n",
      "p.yaml");
  ASSERT_EQ(c.warnings().size(), 1u);
  EXPECT_NE(c.warnings()[0].find("p.yaml:2: source.connector.class: ignored"), std::string::npos);
}

TEST(ConfigTest, DebeziumOneXNamesAndConnectFamiliesCarryOver) {
  // A Debezium 1.x connector config: old names are read as the current ones; SMTs, history and
  // tuning keys are ignored with a warning each.
  Config c = Config::LoadString(
      "source:\n  database.hostname: h\n  database.user: u\n  database.server.id: 7\n"
      "  database.server.name: shop\n  table.whitelist: a\\.t1,a\\.t2\n  value.converter.schemas.enable: true\n"
      "  transforms: unwrap\n  transforms.unwrap.type: io.debezium.transforms.ExtractNewRecordState\n"
      "  database.history.kafka.topic: h\n  max.batch.size: 2048\n  snapshot.locking.mode: none\n",
      "p.yaml");
  EXPECT_EQ(c.GetString("source", "topic.prefix"), "shop");
  EXPECT_EQ(c.GetList("source", "table.include.list"), (std::vector<std::string>{"a\\.t1", "a\\.t2"}));
  EXPECT_TRUE(c.GetBool("source", "schemas.enable"));
  std::string all;
  for (const auto& w : c.warnings()) all += w + "\n";
  EXPECT_EQ(c.warnings().size(), 8u) << all;
  EXPECT_NE(all.find("p.yaml:5: source.database.server.name is read as source.topic.prefix"), std::string::npos) << all;
  EXPECT_NE(all.find("p.yaml:9: source.transforms.unwrap.type: ignored: Kafka Connect SMTs"), std::string::npos) << all;
  EXPECT_NE(all.find("p.yaml:10: source.database.history.kafka.topic: ignored"), std::string::npos) << all;
  // The old and the new name of one key together: set twice.
  std::string err = LoadError(
      "source:\n  database.hostname: h\n  database.user: u\n  database.server.id: 7\n  topic.prefix: p\n"
      "  database.server.name: q\n");
  EXPECT_NE(err.find("p.yaml:6: source.topic.prefix: set twice (first on line 5)"), std::string::npos) << err;
}

TEST(ConfigTest, DuplicateKeyAndBadTableOverride) {
  std::string err = LoadError(
      "source:\n  database.hostname: h\n  database:\n    hostname: h2\n  database.user: u\n"
      "  database.server.id: 7\n  topic.prefix: p\nsink:\n  hostname: c\n  database: d\n  tables:\n"
      "    db.t:\n      order_by: id\n");
  EXPECT_NE(err.find("p.yaml:4: source.database.hostname: set twice (first on line 2)"), std::string::npos) << err;
  EXPECT_NE(err.find("p.yaml:13: sink.tables.db.t: unknown key 'order_by'; did you mean 'order.by'?"),
            std::string::npos)
      << err;
}

TEST(ConfigTest, EditDistance) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("same", "same"), 0u);
}

}  // namespace
}  // namespace sluice
