// KafkaProducer's transactions against the real brokers (scripts/services): what `sluice
// transform` relies on to fence a lease holder that lost the lease without noticing.
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bus/kafka_admin.h"
#include "bus/kafka_config.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_producer.h"
#include "common/error.h"
#include "test_env.h"

namespace sluice::kafka {
namespace {

KafkaSettings Settings() {
  KafkaSettings s;
  s.bootstrap_servers = test::Services().kafka_bootstrap;
  s.topics.partitions = 1;
  s.topics.replication_factor = -1;  // the brokers' default (scripts/services: as many as run, up to 3)
  s.config_file = "kafka_transactions_test";
  return s;
}

std::string Unique(const std::string& what) {
  std::random_device rd;
  return "sluice_txn_test_" + what + "_" + std::to_string(rd() % 1000000000);
}

std::vector<std::pair<std::string, std::string>> Transactional(const std::string& id) {
  return {{"transactional.id", id}, {"transaction.timeout.ms", "60000"}, {"message.timeout.ms", "60000"}};
}

/// The values of every committed record of partition 0 of `topic` (read_committed, librdkafka's
/// default), in order, once there are `want` of them (a commit returns before the coordinator
/// wrote its markers: the records become readable a moment later) or after 20 s.
std::vector<std::string> Committed(const KafkaSettings& s, const std::string& topic, size_t want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    std::vector<std::string> out;
    ReadAll(s, {TopicPartition{topic, 0}}, [&](const Message& m) {
      if (m.value) out.emplace_back(*m.value);
    });
    if (out.size() >= want || std::chrono::steady_clock::now() > deadline) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

/// A fresh one-partition topic and a first producer that started transactions with a fresh id.
class KafkaTransactions : public ::testing::Test {
 protected:
  void SetUp() override {
    KafkaProducer admin(s);
    EnsureTopic(admin.handle(), topic, s.topics);
    first.InitTransactions();
  }
  const KafkaSettings s = Settings();
  const std::string topic = Unique("topic"), id = Unique("id");
  KafkaProducer first{s, Transactional(id)};
};

TEST_F(KafkaTransactions, ASuccessorFencesTheEarlierProducerAndItsOpenTransaction) {
  const std::string_view a = "first-1";
  ASSERT_TRUE(first.RunTransaction([&] { first.Produce(topic, nullptr, &a, {}); }));
  EXPECT_FALSE(first.fenced());

  // The successor starts the same transactions: from now on the first one's writes fail, and
  // nothing of them becomes visible.
  KafkaProducer second(s, Transactional(id));
  second.InitTransactions();
  const std::string_view z = "zombie";
  try {
    first.RunTransaction([&] { first.Produce(topic, nullptr, &z, {}); });
    ADD_FAILURE() << "the fenced producer's transaction committed";
  } catch (const Error& e) {
    EXPECT_TRUE(first.fenced()) << e.what();
    EXPECT_NE(std::string(e.what()).find("fenced"), std::string::npos) << e.what();
  }
  const std::string_view b = "second-1";
  ASSERT_TRUE(second.RunTransaction([&] { second.Produce(topic, nullptr, &b, {}); }));
  EXPECT_EQ(Committed(s, topic, 2), (std::vector<std::string>{"first-1", "second-1"}));

  // The last value of a transactional partition sits before its commit marker.
  EXPECT_EQ(ReadLastValue(s, TopicPartition{topic, 0}), std::optional<std::string>("second-1"));
}

TEST_F(KafkaTransactions, AnOpenTransactionOfTheFencedProducerIsAborted) {
  // A transaction whose records reached the broker but that is not committed when its producer
  // stalls (the lease holder paused mid-checkpoint): the successor's InitTransactions aborts it.
  rd_kafka_error_t* e = rd_kafka_begin_transaction(first.handle());
  ASSERT_EQ(e, nullptr) << rd_kafka_error_string(e);
  const std::string_view z = "open-zombie";
  first.Produce(topic, nullptr, &z, {});
  ASSERT_EQ(rd_kafka_flush(first.handle(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);

  KafkaProducer second(s, Transactional(id));
  second.InitTransactions();
  const std::string_view b = "after";
  ASSERT_TRUE(second.RunTransaction([&] { second.Produce(topic, nullptr, &b, {}); }));
  EXPECT_EQ(Committed(s, topic, 1), (std::vector<std::string>{"after"}));
  EXPECT_EQ(ReadLastValue(s, TopicPartition{topic, 0}), std::optional<std::string>("after"));
}

}  // namespace
}  // namespace sluice::kafka
