#include "bus/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
#include <thread>

#include "common/error.h"
#include "common/log.h"

namespace sluice::kafka {

namespace {

/// Fetches cluster metadata, retrying with backoff while no broker answers.
const rd_kafka_metadata_t* Metadata(rd_kafka_t* rk, int give_up_ms) {
  int backoff_ms = 200;
  auto start = std::chrono::steady_clock::now();
  auto last_log = start;
  while (true) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, 5000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return md;
    CheckFatal(rk);
    const auto now = std::chrono::steady_clock::now();
    if (give_up_ms >= 0 && now - start >= std::chrono::milliseconds(give_up_ms)) {
      ThrowRetryable(ErrorKind::kBus, "cannot reach Kafka (bus.bootstrap.servers): {}", rd_kafka_err2str(err));
    }
    if (now - last_log > std::chrono::seconds(10) || last_log == start) {
      SLOG_WARN("kafka: cannot read cluster metadata ({}); retrying (brokers unreachable?)", rd_kafka_err2str(err));
      last_log = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
}

}  // namespace

std::vector<std::pair<std::string, int>> ListTopics(rd_kafka_t* rk, int give_up_ms) {
  const rd_kafka_metadata_t* md = Metadata(rk, give_up_ms);
  std::vector<std::pair<std::string, int>> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    std::string name = t.topic;
    if (!name.empty() && name[0] == '_') continue;  // __consumer_offsets & co
    out.emplace_back(std::move(name), t.partition_cnt);
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

namespace {

using IssueFn = std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>;
using TopicsFn = std::function<const rd_kafka_topic_result_t**(rd_kafka_event_t*, size_t*)>;

/// One admin request on `rk`: `issue(opts, queue)` sends it; waits for its result event and
/// returns "" or what failed — the request's error, else the last topic result whose error is
/// not `tolerated` (`topics(ev, &count)` lists the topic results; `code` gets that error).
std::string AdminAttempt(rd_kafka_t* rk, rd_kafka_admin_op_t op, const IssueFn& issue, const TopicsFn& topics,
                         rd_kafka_resp_err_t tolerated, rd_kafka_resp_err_t* code) {
  char err[512];
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, op);
  rd_kafka_AdminOptions_set_request_timeout(opts, 30000, err, sizeof err);
  rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, err, sizeof err);
  issue(opts, q);
  rd_kafka_event_t* ev = nullptr;
  while (!ev) {
    ev = rd_kafka_queue_poll(q, 1000);
    CheckFatal(rk);
  }
  std::string failure;
  *code = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (rd_kafka_event_error(ev)) {
    failure = rd_kafka_event_error_string(ev);
    *code = rd_kafka_event_error(ev);
  } else {
    size_t cnt = 0;
    const rd_kafka_topic_result_t** tr = topics(ev, &cnt);
    for (size_t i = 0; i < cnt; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != tolerated) {
        *code = e;
        const char* what = rd_kafka_topic_result_error_string(tr[i]);
        failure = fmt::format("{}: {}", rd_kafka_err2name(e), what ? what : "");
      }
    }
  }
  rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_queue_destroy(q);
  return failure;
}

/// Whether an admin request failed only for now: a broker restarting (fewer registered than the
/// replication factor), the controller moving, a request timing out.
bool TransientAdminError(rd_kafka_resp_err_t code) {
  switch (code) {
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      return true;
    default:
      return false;
  }
}

/// AdminAttempt, again while it fails transiently — brokers unreachable or restarting, the
/// controller moving, requests timing out — with backoff and a warning about `what` every 10 s,
/// as long as it lasts (the producers wait out unreachable brokers the same way). Fewer brokers
/// registered than the replication factor is waited out for 10 minutes only (a restarting broker
/// registers again well within it; a cluster that is simply smaller is a configuration error):
/// then that failure is returned.
std::string AdminRoundTrip(rd_kafka_t* rk, rd_kafka_admin_op_t op, const IssueFn& issue, const TopicsFn& topics,
                           rd_kafka_resp_err_t tolerated, const std::string& what) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto warned = start - std::chrono::hours(1);
  for (int backoff_ms = 500;; backoff_ms = std::min(backoff_ms * 2, 5000)) {
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string failure = AdminAttempt(rk, op, issue, topics, tolerated, &code);
    if (!TransientAdminError(code)) return failure;
    const bool too_few = code == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR;
    const auto now = Clock::now();
    if (too_few && now - start >= std::chrono::minutes(10)) return failure;
    if (now - warned >= std::chrono::seconds(10)) {
      SLOG_WARN("kafka: cannot {} yet ({}); retrying{}", what, failure,
                too_few ? " for up to 10 minutes (a broker restarting, or bus.topic.replication.factor above the "
                          "cluster's brokers)"
                        : " while the brokers recover");
      warned = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
  }
}

/// Waits (up to 15 s) until `agree` metadata answers in a row show `topic` with at least
/// `partitions` partitions.
void AwaitPartitions(rd_kafka_t* rk, const std::string& topic, int partitions, int agree) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int agreeing = 0;
  while (agreeing < agree && std::chrono::steady_clock::now() < deadline) {
    bool seen = false;
    for (const auto& [name, n] : ListTopics(rk)) {
      if (name == topic && n >= partitions) seen = true;
    }
    agreeing = seen ? agreeing + 1 : 0;
    if (agreeing < agree) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

void EnsureTopic(rd_kafka_t* rk, const std::string& topic, const TopicSettings& settings) {
  for (const auto& [name, n] : ListTopics(rk)) {
    if (name == topic) return;
  }
  if (!settings.create) {
    Throw(ErrorKind::kBus,
          "Kafka topic {} does not exist and bus.topic.create is false: create it (kafka-topics.sh --create "
          "--topic {}) or set bus.topic.create: true",
          topic, topic);
  }
  char err[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), settings.partitions, settings.replication_factor, err, sizeof err);
  if (!nt) Throw(ErrorKind::kBus, "cannot describe topic {} for creation: {}", topic, err);
  if (!settings.retention_ms.empty()) rd_kafka_NewTopic_set_config(nt, "retention.ms", settings.retention_ms.c_str());
  rd_kafka_NewTopic_set_config(nt, "cleanup.policy", settings.cleanup_policy.c_str());
  const std::string failure = AdminRoundTrip(
      rk, RD_KAFKA_ADMIN_OP_CREATETOPICS,
      [&](rd_kafka_AdminOptions_t* opts, rd_kafka_queue_t* q) { rd_kafka_CreateTopics(rk, &nt, 1, opts, q); },
      [](rd_kafka_event_t* ev, size_t* cnt) {
        return rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), cnt);
      },
      RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "create topic " + topic);
  rd_kafka_NewTopic_destroy(nt);
  if (!failure.empty()) {
    Throw(ErrorKind::kBus,
          "cannot create Kafka topic {} ({} partitions, replication factor {}): {}. Check bus.topic.partitions / "
          "bus.topic.replication.factor against the cluster, or create the topic yourself",
          topic, settings.partitions, settings.replication_factor, failure);
  }
  // The controller has the topic; the other brokers learn of it a little later. A producer whose
  // metadata comes from a broker that does not know it yet sees 0 partitions and fails records
  // already assigned to a partition ("Unknown partition"). Wait until several metadata answers in a
  // row (from whichever broker librdkafka asks) show every partition.
  AwaitPartitions(rk, topic, settings.partitions, 5);
  SLOG_INFO("created Kafka topic {}", topic);
}

void EnsurePartitions(rd_kafka_t* rk, const std::string& topic, int partitions) {
  int have = -1;
  for (const auto& [name, n] : ListTopics(rk)) {
    if (name == topic) have = n;
  }
  if (have < 0) Throw(ErrorKind::kBus, "Kafka topic {} does not exist", topic);
  if (have >= partitions) return;
  char err[512];
  rd_kafka_NewPartitions_t* np = rd_kafka_NewPartitions_new(topic.c_str(), static_cast<size_t>(partitions), err, sizeof err);
  if (!np) Throw(ErrorKind::kBus, "cannot describe new partitions of topic {}: {}", topic, err);
  const std::string failure = AdminRoundTrip(
      rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS,
      [&](rd_kafka_AdminOptions_t* opts, rd_kafka_queue_t* q) { rd_kafka_CreatePartitions(rk, &np, 1, opts, q); },
      [](rd_kafka_event_t* ev, size_t* cnt) {
        return rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), cnt);
      },
      RD_KAFKA_RESP_ERR_INVALID_PARTITIONS, "grow topic " + topic);  // tolerated: another member grew it first
  rd_kafka_NewPartitions_destroy(np);
  if (!failure.empty()) {
    Throw(ErrorKind::kBus, "cannot grow Kafka topic {} from {} to {} partitions: {}", topic, have, partitions, failure);
  }
  AwaitPartitions(rk, topic, partitions, 1);
  SLOG_INFO("Kafka topic {} now has {} partitions (was {})", topic, partitions, have);
}

}  // namespace sluice::kafka
