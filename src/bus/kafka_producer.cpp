#include "bus/kafka_producer.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <thread>

#include "common/error.h"
#include "common/log.h"

namespace sluice::kafka {

KafkaProducer::KafkaProducer(const KafkaSettings& settings,
                             const std::vector<std::pair<std::string, std::string>>& extra) {
  // Defaults the user may override (in `bus`): Java's murmur2 partitioner, so a key lands in the
  // same partition as when Kafka Connect (Debezium) writes it; lz4 batches; no delivery timeout
  // (an unreachable broker is retried forever with backoff and logged, never given up silently).
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"partitioner", "murmur2_random"},
      {"compression.codec", "lz4"},
      {"linger.ms", "20"},
      {"message.timeout.ms", "0"},
      {"retry.backoff.ms", "200"},
      {"reconnect.backoff.max.ms", "10000"},
  };
  // Forced: per-partition order and no duplicates from producer retries.
  std::vector<std::pair<std::string, std::string>> forced = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
  };
  for (const auto& e : extra) forced.push_back(e);
  rd_kafka_conf_t* conf = MakeConf(settings, defaults, forced);
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaProducer::OnDelivery);
  rd_kafka_conf_set_opaque(conf, this);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk_) {
    rd_kafka_conf_destroy(conf);
    Throw(ErrorKind::kConfig, "{}: cannot create the Kafka producer: {}", settings.config_file, err);
  }
}

KafkaProducer::~KafkaProducer() {
  if (!rk_) return;
  rd_kafka_flush(rk_, 2000);
  rd_kafka_destroy(rk_);
}

void KafkaProducer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  const auto seq = reinterpret_cast<uintptr_t>(msg->_private);
  if (msg->err) {
    if (self->failure_.empty()) {
      self->failure_ = fmt::format("delivery to {} [{}] failed: {}", rd_kafka_topic_name(msg->rkt), msg->partition,
                                   rd_kafka_err2str(msg->err));
    }
    return;  // stays outstanding: nothing after it is considered delivered
  }
  self->outstanding_.erase(seq);
}

void KafkaProducer::ThrowIfFailed() {
  if (!failure_.empty()) {
    Throw(ErrorKind::kBus, "Kafka {} (the stored offset stays before it; a restart re-sends)", failure_);
  }
  CheckFatal(rk_);
}

uint64_t KafkaProducer::Produce(std::string_view topic, const std::string_view* key, const std::string_view* value,
                                const std::vector<Header>& headers, int32_t partition) {
  const uint64_t seq = next_seq_;
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& h : headers) {
      rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                          static_cast<ssize_t>(h.value.size()));
    }
  }
  auto last_log = std::chrono::steady_clock::now();
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(std::string(topic).c_str()),
        RD_KAFKA_V_KEY(key ? const_cast<char*>(key->data()) : nullptr, key ? key->size() : 0),
        RD_KAFKA_V_VALUE(value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0),
        RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(seq))),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // Backpressure: the brokers are slow or away. Serve delivery reports and retry.
      rd_kafka_poll(rk_, 100);
      ThrowIfFailed();
      if (std::chrono::steady_clock::now() - last_log > std::chrono::seconds(10)) {
        SLOG_WARN("kafka: the producer queue is full ({} messages waiting for the brokers); waiting",
                  outstanding_.size());
        last_log = std::chrono::steady_clock::now();
      }
      continue;
    }
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    Throw(ErrorKind::kBus, "cannot produce to topic {}: {}", topic, rd_kafka_err2str(err));
  }
  outstanding_.insert(seq);
  ++next_seq_;
  rd_kafka_poll(rk_, 0);
  ThrowIfFailed();
  return seq;
}

void KafkaProducer::Poll(int timeout_ms) {
  rd_kafka_poll(rk_, timeout_ms);
  ThrowIfFailed();
}

void KafkaProducer::Flush() {
  auto start = std::chrono::steady_clock::now();
  auto last_log = start;
  while (!outstanding_.empty()) {
    rd_kafka_flush(rk_, 500);
    ThrowIfFailed();
    const auto now = std::chrono::steady_clock::now();
    if (!outstanding_.empty() && now - last_log > std::chrono::seconds(10)) {
      SLOG_WARN("kafka: {} message(s) not yet acknowledged after {} s (brokers unreachable?); still waiting",
                outstanding_.size(), std::chrono::duration_cast<std::chrono::seconds>(now - start).count());
      last_log = now;
    }
  }
}

namespace {

std::string TakeMessage(rd_kafka_error_t* e) {
  std::string m = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return m;
}

}  // namespace

void KafkaProducer::InitTransactions() {
  int backoff_ms = 500;
  while (true) {
    rd_kafka_error_t* e = rd_kafka_init_transactions(rk_, 30000);
    if (!e) return;
    const bool retriable = rd_kafka_error_is_retriable(e) || rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__TIMED_OUT;
    const std::string msg = TakeMessage(e);
    if (!retriable) {
      Throw(ErrorKind::kBus,
            "cannot start Kafka transactions: {}. The brokers need transaction support (the "
            "__transaction_state topic: transaction.state.log.replication.factor and min.isr no larger than the "
            "brokers that are up) and the principal needs WRITE and DESCRIBE on its TransactionalId",
            msg);
    }
    SLOG_WARN("kafka: starting transactions: {}; retrying (the brokers' transaction coordinator must be "
              "available: transaction.state.log.replication.factor and min.isr no larger than the brokers that "
              "are up)", msg);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 10000);
  }
}

bool KafkaProducer::RunTransaction(const std::function<void()>& produce) {
  auto fatal = [&](const std::string& what) {
    char buf[512];
    const rd_kafka_resp_err_t code = rd_kafka_fatal_error(rk_, buf, sizeof buf);
    if (IsFencedError(code)) {
      fenced_ = true;
      Throw(ErrorKind::kBus, "this process was fenced: another one started the same Kafka transactions ({})", buf);
    }
    Throw(ErrorKind::kBus, "Kafka transaction failed: {}", code ? std::string(buf) : what);
  };
  auto abort = [&](const std::string& why) {
    rd_kafka_error_t* e = rd_kafka_abort_transaction(rk_, -1);
    if (e) {
      const std::string msg = TakeMessage(e);
      if (rd_kafka_fatal_error(rk_, nullptr, 0)) fatal(msg);
      Throw(ErrorKind::kBus, "cannot abort a Kafka transaction ({}): {}", why, msg);
    }
    failure_.clear();
    outstanding_.clear();
    SLOG_WARN("kafka: transaction aborted ({}); it will be sent again", why);
    return false;
  };
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk_)) {
    const std::string msg = TakeMessage(e);
    if (rd_kafka_fatal_error(rk_, nullptr, 0)) fatal(msg);
    Throw(ErrorKind::kBus, "cannot begin a Kafka transaction: {}", msg);
  }
  try {
    produce();
  } catch (const Error& err) {
    if (rd_kafka_fatal_error(rk_, nullptr, 0)) fatal(err.what());
    return abort(err.what());
  }
  while (true) {
    rd_kafka_error_t* e = rd_kafka_commit_transaction(rk_, -1);
    if (!e) break;
    const bool retriable = rd_kafka_error_is_retriable(e);
    const bool needs_abort = rd_kafka_error_txn_requires_abort(e);
    const std::string msg = TakeMessage(e);
    if (rd_kafka_fatal_error(rk_, nullptr, 0)) fatal(msg);
    if (needs_abort) return abort(msg);
    if (!retriable) Throw(ErrorKind::kBus, "cannot commit a Kafka transaction: {}", msg);
    SLOG_WARN("kafka: committing a transaction: {}; retrying", msg);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  rd_kafka_poll(rk_, 0);  // the delivery reports of the committed records
  outstanding_.clear();
  failure_.clear();
  return true;
}

}  // namespace sluice::kafka
