#include "bus/kafka_consumer.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <exception>
#include <utility>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/log.h"

namespace sluice::kafka {

std::optional<std::string_view> Message::Header(const char* name) const {
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(raw, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  const void* v = nullptr;
  size_t n = 0;
  if (rd_kafka_header_get_last(hdrs, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  return std::string_view(static_cast<const char*>(v), n);
}

KafkaConsumer::KafkaConsumer(const KafkaSettings& settings, const std::string& group_id, RebalanceListener* listener,
                             bool sticky)
    : listener_(listener), sticky_(sticky) {
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"auto.offset.reset", "earliest"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "1000"},
      {"topic.metadata.refresh.interval.ms", "5000"},
      {"queued.max.messages.kbytes", "16384"},  // prefetch bound (librdkafka's default is 64 MB)
      {"reconnect.backoff.max.ms", "10000"},
  };
  // Once the prefetch queue is over its bound, librdkafka >= 2.1 postpones that partition's next
  // fetch by fetch.queue.backoff.ms (1 s by default): a consumer that drains 16 MB in a fraction
  // of a second would then sit idle for the rest of it. (Older versions have no such setting; see
  // WakeParkedFetchers.)
  if (rd_kafka_version() >= 0x020100ff) defaults.emplace_back("fetch.queue.backoff.ms", "10");
  std::vector<std::pair<std::string, std::string>> forced = {
      {"group.id", group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"partition.assignment.strategy", sticky ? "cooperative-sticky" : "range,roundrobin"},
  };
  rd_kafka_conf_t* conf = MakeConf(settings, defaults, forced);
  rd_kafka_conf_set_rebalance_cb(
      conf, [](rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
        KafkaConsumer::OnRebalance(rk, static_cast<int>(err), parts, opaque);
      });
  rd_kafka_conf_set_opaque(conf, this);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk_) {
    rd_kafka_conf_destroy(conf);
    Throw(ErrorKind::kConfig, "{}: cannot create the Kafka consumer: {}", settings.config_file, err);
  }
  rd_kafka_poll_set_consumer(rk_);
}

KafkaConsumer::~KafkaConsumer() {
  if (last_) rd_kafka_message_destroy(last_);
  if (!rk_) return;
  if (!closed_) {
    listener_ = nullptr;  // the owner is going away: nothing to deliver in a last revoke
    rd_kafka_consumer_close(rk_);
  }
  if (sticky_ && !ever_assigned_) {
    // librdkafka < 2.3 asserts (rd_kafka_sticky_assignor_state_destroy, librdkafka#4312) when a
    // cooperative-sticky consumer that never got an assignment is destroyed: closed above (it
    // left the group), the handle is left to the process's exit.
    return;
  }
  rd_kafka_destroy(rk_);
}

void KafkaConsumer::OnRebalance(rd_kafka_t* rk, int err_int, rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  // librdkafka (C) calls this from inside rd_kafka_consumer_poll: nothing may be thrown through
  // it. A listener's error is kept and rethrown by Poll once librdkafka returned.
  try {
    self->Rebalance(rk, err_int, parts);
  } catch (...) {
    if (!self->pending_error_) self->pending_error_ = std::current_exception();
  }
}

void KafkaConsumer::Rebalance(rd_kafka_t* rk, int err_int, rd_kafka_topic_partition_list_t* parts) {
  KafkaConsumer* self = this;
  const auto err = static_cast<rd_kafka_resp_err_t>(err_int);
  // The cooperative protocol hands over only the partitions that move (incremental calls).
  const bool incremental = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->ever_assigned_ = true;
    rd_kafka_topic_partition_list_t* list = parts;
    if (self->listener_) {
      std::vector<TopicPartition> given;
      for (int i = 0; i < parts->cnt; ++i) given.push_back({parts->elems[i].topic, parts->elems[i].partition});
      if (auto instead = self->listener_->Reassign(given)) {
        self->reassigned_ = true;
        list = rd_kafka_topic_partition_list_new(static_cast<int>(instead->size()));
        for (const auto& tp : *instead) rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
      }
    }
    std::string names;
    for (int i = 0; i < list->cnt; ++i) {
      auto& p = list->elems[i];
      if (self->listener_) {
        if (auto off = self->listener_->OnAssign({p.topic, p.partition})) p.offset = *off;
      }
      names += fmt::format("{}{}[{}]", names.empty() ? "" : ", ", p.topic, p.partition);
    }
    if (list->cnt > 0 || !incremental) {
      SLOG_INFO("kafka: assigned {} partition(s){}", list->cnt, names.empty() ? "" : ": " + names);
    }
    if (incremental) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, list)) {
        SLOG_ERROR("kafka: incremental assign failed: {}", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, list);
    }
    if (list != parts) rd_kafka_topic_partition_list_destroy(list);
  } else {
    if (self->listener_ && (parts->cnt > 0 || !incremental)) {
      std::vector<TopicPartition> tps;
      for (int i = 0; i < parts->cnt; ++i) tps.push_back({parts->elems[i].topic, parts->elems[i].partition});
      self->listener_->OnRevoke(tps);
    }
    if (parts->cnt > 0 || !incremental) SLOG_INFO("kafka: {} partition(s) revoked", parts->cnt);
    if (!incremental) {
      rd_kafka_assign(rk, nullptr);
    } else {
      // What the listener read in place of the group's partitions goes with them.
      rd_kafka_topic_partition_list_t* list = parts;
      if (self->reassigned_ && parts->cnt > 0) rd_kafka_assignment(rk, &list);
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, list)) {
        SLOG_ERROR("kafka: incremental unassign failed: {}", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
      if (list != parts) rd_kafka_topic_partition_list_destroy(list);
    }
  }
}

void KafkaConsumer::Subscribe(const std::vector<std::string>& topics) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err) Throw(ErrorKind::kBus, "cannot subscribe to Kafka topics: {}", rd_kafka_err2str(err));
}

std::optional<Message> KafkaConsumer::Poll(int timeout_ms) {
  if (last_) {
    rd_kafka_message_destroy(last_);
    last_ = nullptr;
  }
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 0);
  if (!m) {
    if (delivered_since_wake_) {
      delivered_since_wake_ = false;
      WakeParkedFetchers();
    }
    m = rd_kafka_consumer_poll(rk_, timeout_ms);
  }
  CheckFatal(rk_);
  if (pending_error_) {
    if (m) rd_kafka_message_destroy(m);
    std::rethrow_exception(std::exchange(pending_error_, nullptr));
  }
  if (!m) return std::nullopt;
  if (m->err) {
    const std::string what = rd_kafka_message_errstr(m);
    const rd_kafka_resp_err_t e = m->err;
    const std::string topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    rd_kafka_message_destroy(m);
    if (e == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::nullopt;
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      SLOG_WARN("kafka: topic {} does not exist (yet): {}", topic, what);
      return std::nullopt;
    }
    if (e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
      Throw(ErrorKind::kBus, "Kafka refused access to {}: {} (check the ACLs and the credentials in `bus`)",
            topic.empty() ? "the group" : topic, what);
    }
    SLOG_WARN("kafka: consumer: {} ({})", what, rd_kafka_err2name(e));
    return std::nullopt;
  }
  last_ = m;
  delivered_since_wake_ = true;
  Message msg;
  msg.raw = m;
  msg.topic = rd_kafka_topic_name(m->rkt);
  msg.partition = m->partition;
  msg.offset = m->offset;
  rd_kafka_timestamp_type_t tstype;
  msg.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
  if (m->key) msg.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) msg.value = std::string_view(static_cast<const char*>(m->payload), m->len);
  return msg;
}

void KafkaConsumer::WakeParkedFetchers() {
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (rd_kafka_assignment(rk_, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || !assigned) return;
  if (assigned->cnt > 0 && rd_kafka_position(rk_, assigned) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Partitions whose broker holds records past what was handed to us (the high watermark of the
    // last fetch response, kept locally): their fetcher is parked on a full queue.
    rd_kafka_topic_partition_list_t* behind = rd_kafka_topic_partition_list_new(assigned->cnt);
    for (int i = 0; i < assigned->cnt; ++i) {
      const auto& p = assigned->elems[i];
      int64_t lo = -1, hi = -1;
      if (p.offset < 0 || rd_kafka_get_watermark_offsets(rk_, p.topic, p.partition, &lo, &hi) != 0) continue;
      if (hi > p.offset) rd_kafka_topic_partition_list_add(behind, p.topic, p.partition)->offset = RD_KAFKA_OFFSET_END;
    }
    // A ListOffsets request is an operation for each leader's broker thread: it wakes up, sees the
    // queue drained and fetches again. (The answer itself is not needed.)
    if (behind->cnt > 0) rd_kafka_offsets_for_times(rk_, behind, 1000);
    rd_kafka_topic_partition_list_destroy(behind);
  }
  rd_kafka_topic_partition_list_destroy(assigned);
}

void KafkaConsumer::Commit(const std::map<TopicPartition, int64_t>& next_offsets) {
  if (next_offsets.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size()));
  for (const auto& [tp, off] : next_offsets) {
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)->offset = off;
  }
  int backoff_ms = 100;
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, 0);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE || err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
        err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS || err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
        err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
      SLOG_WARN("kafka: offset commit failed ({}); retrying", rd_kafka_err2str(err));
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    rd_kafka_topic_partition_list_destroy(list);
    // Not fatal for the data: what was written stays written; the partitions are re-read from the
    // last committed offset by whoever owns them now, and the rows collapse by _version.
    SLOG_WARN("kafka: offset commit refused ({}); the new owner of the partitions re-reads from the last commit",
              rd_kafka_err2str(err));
    return;
  }
  rd_kafka_topic_partition_list_destroy(list);
}

std::map<TopicPartition, int64_t> KafkaConsumer::Committed(const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, int64_t> out;
  if (partitions.empty()) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& tp : partitions) rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
  rd_kafka_resp_err_t err = rd_kafka_committed(rk_, list, 10000);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      out[{e.topic, e.partition}] = e.err ? -1 : e.offset;
    }
  } else {
    SLOG_WARN("kafka: cannot read committed offsets: {}", rd_kafka_err2str(err));
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

namespace {

/// The message of `e` (freed here), or "" when there is no error.
std::string TakeError(rd_kafka_error_t* e) {
  if (!e) return {};
  std::string what = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return what;
}

}  // namespace

void KafkaConsumer::Rewind(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& tp : partitions) rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
  std::string failure;
  // Unassigning stops their fetchers and purges what they fetched; assigning again starts them at
  // the log start. (A seek would need each fetcher started first.)
  if (std::string_view(rd_kafka_rebalance_protocol(rk_)) == "COOPERATIVE") {
    failure = TakeError(rd_kafka_incremental_unassign(rk_, list));
    for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    if (failure.empty()) failure = TakeError(rd_kafka_incremental_assign(rk_, list));
  } else {
    rd_kafka_topic_partition_list_t* all = nullptr;
    rd_kafka_assignment(rk_, &all);
    for (int i = 0; i < all->cnt; ++i) {
      auto& p = all->elems[i];
      p.offset = RD_KAFKA_OFFSET_INVALID;  // where it is
      if (rd_kafka_topic_partition_list_find(list, p.topic, p.partition)) p.offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_, nullptr)) failure = rd_kafka_err2str(err);
    if (failure.empty()) {
      if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_, all)) failure = rd_kafka_err2str(err);
    }
    rd_kafka_topic_partition_list_destroy(all);
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (!failure.empty()) Throw(ErrorKind::kBus, "cannot read Kafka partitions again from their start: {}", failure);
}

void KafkaConsumer::AssignMore(const std::map<TopicPartition, int64_t>& partitions) {
  if (partitions.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& [tp, off] : partitions) {
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)->offset = off;
  }
  std::string failure;
  if (std::string_view(rd_kafka_rebalance_protocol(rk_)) == "COOPERATIVE") {
    failure = TakeError(rd_kafka_incremental_assign(rk_, list));
  } else {
    rd_kafka_topic_partition_list_t* all = nullptr;
    rd_kafka_assignment(rk_, &all);
    for (int i = 0; i < list->cnt; ++i) {
      rd_kafka_topic_partition_list_add(all, list->elems[i].topic, list->elems[i].partition)->offset = list->elems[i].offset;
    }
    if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_, all)) failure = rd_kafka_err2str(err);
    rd_kafka_topic_partition_list_destroy(all);
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (!failure.empty()) Throw(ErrorKind::kBus, "cannot assign Kafka partitions: {}", failure);
  SLOG_INFO("kafka: also reading {} more partition(s)", partitions.size());
}

namespace {

using ReaderPtr = std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)>;

/// A consumer for assign() outside any group (a group.id is needed to poll; none is joined).
ReaderPtr NewReader(const KafkaSettings& settings, bool partition_eof) {
  rd_kafka_conf_t* conf = MakeConf(settings, {}, {{"group.id", "_sluice-reader"}, {"enable.auto.commit", "false"},
                                                  {"enable.partition.eof", partition_eof ? "true" : "false"}});
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    Throw(ErrorKind::kConfig, "{}: cannot create a Kafka consumer: {}", settings.config_file, errstr);
  }
  return ReaderPtr(rk, rd_kafka_destroy);
}

/// (low, high) watermarks of `tp`, asked again while the broker answers with a transient error
/// (a leader moving while a broker restarts) until `timeout_ms` has passed. UNKNOWN_TOPIC_OR_PART
/// is returned as it is (for the caller to decide), every other error after the deadline thrown.
rd_kafka_resp_err_t QueryWatermarks(rd_kafka_t* rk, const TopicPartition& tp, int64_t* lo, int64_t* hi,
                                    int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int backoff_ms = 200;
  while (true) {
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, tp.topic.c_str(), tp.partition, lo, hi, std::min(timeout_ms, 10000));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return err;
    if (std::chrono::steady_clock::now() >= deadline) {
      Throw(ErrorKind::kBus, "cannot read the offsets of {}[{}]: {}", tp.topic, tp.partition, rd_kafka_err2str(err));
    }
    SLOG_WARN("kafka: cannot read the offsets of {}[{}]: {}; retrying", tp.topic, tp.partition, rd_kafka_err2str(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 5000);
    // Ask where the partition's leader is now (it moves while a broker restarts): the request
    // goes to the leader the client's metadata names.
    if (rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, tp.topic.c_str(), nullptr)) {
      const struct rd_kafka_metadata* md = nullptr;
      if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && md) rd_kafka_metadata_destroy(md);
      rd_kafka_topic_destroy(rkt);
    }
  }
}

}  // namespace

std::optional<std::string> ReadLastValue(const KafkaSettings& settings, const TopicPartition& tp, int timeout_ms) {
  ReaderPtr guard = NewReader(settings, /*partition_eof=*/true);
  rd_kafka_t* rk = guard.get();
  int64_t lo = 0, hi = 0;
  rd_kafka_resp_err_t err = QueryWatermarks(rk, tp, &lo, &hi, timeout_ms);
  if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return std::nullopt;
  if (hi <= lo) return std::nullopt;
  rd_kafka_poll_set_consumer(rk);
  // The last record is not always at hi - 1: a transaction's commit marker (or an aborted
  // transaction's records, which read_committed skips) may follow it. Read a window before the
  // end to its end, and the whole partition when the window holds no record.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::optional<std::string> last;
  for (int64_t start : {std::max(lo, hi - 64), lo}) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)->offset = start;
    err = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) Throw(ErrorKind::kBus, "cannot read {}[{}]: {}", tp.topic, tp.partition, rd_kafka_err2str(err));
    for (bool eof = false; !eof;) {
      if (std::chrono::steady_clock::now() >= deadline) {
        Throw(ErrorKind::kBus, "reading the last record of {}[{}] timed out after {} ms", tp.topic, tp.partition,
              timeout_ms);
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
      if (!m) continue;
      std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> mg(m, rd_kafka_message_destroy);
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        eof = true;
      } else if (m->err) {
        Throw(ErrorKind::kBus, "cannot read {}[{}]: {}", tp.topic, tp.partition, rd_kafka_message_errstr(m));
      } else {
        last = m->payload ? std::string(static_cast<const char*>(m->payload), m->len) : std::string();
      }
    }
    if (last || start == lo) break;
  }
  rd_kafka_consumer_close(rk);
  return last;
}

void ReadAll(const KafkaSettings& settings, const std::vector<TopicPartition>& partitions,
             const std::function<void(const Message&)>& fn, int64_t tail) {
  if (partitions.empty()) return;
  // Partition EOF ends a partition too: under cleanup.policy=compact offsets have gaps.
  ReaderPtr guard = NewReader(settings, /*partition_eof=*/true);
  rd_kafka_t* rk = guard.get();
  rd_kafka_poll_set_consumer(rk);
  std::map<std::pair<std::string, int32_t>, int64_t> end;  // partitions still to read -> end offset
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& tp : partitions) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err = QueryWatermarks(rk, tp, &lo, &hi, 60000);
    if (err) {
      rd_kafka_topic_partition_list_destroy(list);
      Throw(ErrorKind::kBus, "cannot read the offsets of {}[{}]: {}", tp.topic, tp.partition, rd_kafka_err2str(err));
    }
    if (hi <= lo) continue;
    end[{tp.topic, tp.partition}] = hi;
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)->offset =
        tail > 0 ? std::max(lo, hi - tail) : lo;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err) Throw(ErrorKind::kBus, "cannot read Kafka partitions: {}", rd_kafka_err2str(err));
  auto last_progress = std::chrono::steady_clock::now();
  while (!end.empty()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (!m) {
      if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(60)) {
        Throw(ErrorKind::kBus, "reading {} partition(s) from their start stalled for 60 s", end.size());
      }
      continue;
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> mg(m, rd_kafka_message_destroy);
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->rkt) end.erase({rd_kafka_topic_name(m->rkt), m->partition});
        continue;
      }
      Throw(ErrorKind::kBus, "cannot read {}: {}", m->rkt ? rd_kafka_topic_name(m->rkt) : "a partition",
            rd_kafka_message_errstr(m));
    }
    last_progress = std::chrono::steady_clock::now();
    const std::string topic = rd_kafka_topic_name(m->rkt);
    auto it = end.find({topic, m->partition});
    if (it == end.end() || m->offset >= it->second) continue;
    Message msg;
    msg.topic = topic;
    msg.partition = m->partition;
    msg.offset = m->offset;
    msg.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
    if (m->key) msg.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) msg.value = std::string_view(static_cast<const char*>(m->payload), m->len);
    msg.raw = m;
    fn(msg);
    if (m->offset + 1 >= it->second) end.erase(it);
  }
  rd_kafka_consumer_close(rk);
}

std::optional<std::pair<int64_t, int64_t>> KafkaConsumer::CachedWatermarks(const TopicPartition& tp) {
  int64_t lo = -1, hi = -1;
  if (rd_kafka_get_watermark_offsets(rk_, tp.topic.c_str(), tp.partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      hi < 0) {
    return std::nullopt;
  }
  return std::pair<int64_t, int64_t>{lo, hi};
}

std::optional<int64_t> KafkaConsumer::Position(const TopicPartition& tp) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
  std::optional<int64_t> out;
  if (rd_kafka_position(rk_, list) == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].offset >= 0) {
    out = list->elems[0].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

std::pair<int64_t, int64_t> KafkaConsumer::Watermarks(const TopicPartition& tp) {
  int64_t lo = 0, hi = 0;
  int backoff_ms = 200;
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk_, tp.topic.c_str(), tp.partition, &lo, &hi, 10000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {lo, hi};
    CheckFatal(rk_);
    SLOG_WARN("kafka: cannot read the end offset of {}[{}]: {}; retrying", tp.topic, tp.partition, rd_kafka_err2str(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
}

int64_t KafkaConsumer::OffsetForTime(const TopicPartition& tp, int64_t timestamp_ms) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)->offset = timestamp_ms;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_, list, 10000);
  int64_t off = list->elems[0].offset;
  const rd_kafka_resp_err_t perr = list->elems[0].err;
  rd_kafka_topic_partition_list_destroy(list);
  if (err || perr) {
    Throw(ErrorKind::kBus, "cannot find the offset of {}[{}] at timestamp {}: {}", tp.topic, tp.partition,
          timestamp_ms, rd_kafka_err2str(err ? err : perr));
  }
  if (off < 0) off = Watermarks(tp).second;  // no record at or after the time: start at the end
  return off;
}

void KafkaConsumer::Close() {
  if (closed_ || !rk_) return;
  if (last_) {
    rd_kafka_message_destroy(last_);
    last_ = nullptr;
  }
  rd_kafka_consumer_close(rk_);
  closed_ = true;
  if (pending_error_) std::rethrow_exception(std::exchange(pending_error_, nullptr));
}

}  // namespace sluice::kafka
