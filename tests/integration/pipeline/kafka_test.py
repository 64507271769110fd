"""Kafka mode end to end: MariaDB -> `sluice capture` -> Kafka 4.4 -> `sluice sink` -> ClickHouse,
against the real services of scripts/services (Kafka included), compared with `sluice run` on the
same workload, with kill -9 and consumer groups, real Debezium records, and a confluent-kafka
(librdkafka's Python client, Debian python3-confluent-kafka) consumer reading Sluice's topics.

Each test uses its own databases, topic prefix and consumer group (a per-run suffix), so reruns and
other tests sharing the broker do not collide.
"""
import base64
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import CH_PORT, MYSQL_PORT, MYSQL_PW, MYSQL_USER, ROOT, SLUICE, ch, ch_rows, mysql, server_id, services, setting  # noqa: E402
from e2e_test import ROWS, TYPES, compare_table, create_types_table, insert_types  # noqa: E402

try:
    import confluent_kafka  # noqa: F401
except ImportError:  # a pyenv/venv python without Debian's dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import confluent_kafka  # noqa: F401
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402

BOOTSTRAP = setting("SLUICE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
RUN_ID = f"{int(time.time()) % 100000}{random.randint(0, 99)}"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def wait_for_log(test, path, text, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            if text in f.read():
                return
        time.sleep(0.2)
    test.fail(f"{path}: no '{text}' within {timeout} s")


class Setup:
    """Config files for one test: `kafka.yaml` (capture/sink over Kafka) and `run.yaml` (embedded)."""

    def __init__(self, name, source_extra="", bus_extra="", sink_extra=""):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"sluice-{name}-")
        self.db = name
        self.prefix = f"{name}{RUN_ID}"
        self.group = f"{name}-{RUN_ID}"
        self.ch_kafka = f"{name}_k"
        self.ch_run = f"{name}_r"
        self.kafka = os.path.join(self.dir, "kafka.yaml")
        self.run_cfg = os.path.join(self.dir, "run.yaml")
        source = f"""source:
  database.hostname: 127.0.0.1
  database.port: {MYSQL_PORT}
  database.user: {MYSQL_USER}
  database.password: {MYSQL_PW}
  database.server.id: {{sid}}
  topic.prefix: {self.prefix}
  database.include.list: {self.db}
{source_extra}"""
        sink = """sink:
  hostname: 127.0.0.1
  port: {port}
  database: {db}
  batch.max.delay.ms: 200
{extra}"""
        write(self.kafka, source.format(sid=server_id()) + f"""bus:
  type: kafka
  bootstrap.servers: {BOOTSTRAP}
  topic.partitions: 3
{bus_extra}""" + sink.format(port=CH_PORT, db=self.ch_kafka, extra=f"  group.id: {self.group}\n{sink_extra}")
              + "state:\n  dir: state-capture\n")
        write(self.run_cfg, source.format(sid=server_id()) + sink.format(port=CH_PORT, db=self.ch_run, extra="")
              + "state:\n  dir: state-run\n")
        self.procs = []
        self.logs = []

    def reset(self):
        mysql(f"DROP DATABASE IF EXISTS `{self.db}`; CREATE DATABASE `{self.db}`;")
        ch(f"DROP DATABASE IF EXISTS {self.ch_kafka}")
        ch(f"DROP DATABASE IF EXISTS {self.ch_run}")

    def sluice(self, *args, timeout=180, check=True):
        out = subprocess.run([SLUICE, *args], capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"sluice {' '.join(args)} exited {out.returncode}\n{out.stderr[-4000:]}")
        return out

    def capture(self):
        return self.sluice("capture", self.kafka, "--exit-when-caught-up")

    def sink(self, *extra, check=True):
        return self.sluice("sink", self.kafka, "--exit-when-caught-up", *extra, check=check)

    def run(self):
        return self.sluice("run", self.run_cfg, "--exit-when-caught-up")

    def start_sink(self, tag):
        log = open(os.path.join(self.dir, f"sink-{tag}.log"), "w")
        p = subprocess.Popen([SLUICE, "sink", self.kafka], stdout=log, stderr=log)
        self.procs.append(p)
        self.logs.append(log)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in self.logs:
            log.close()


def table_dump(db, table, columns, where="1"):
    """Every row of the FINAL table (deleted ones too) with _version and _is_deleted, as text."""
    # Raw values (JSONCompact): toString() of Decimal128 and some integers is broken on 18.16.
    exprs = ", ".join(f"`{c}`" for c in columns)
    return ch_rows(f"SELECT {exprs}, toString(_version), toString(_is_deleted) FROM {db}.`{table}` FINAL "
                   f"WHERE {where} ORDER BY `{columns[0]}`")


def ch_columns(db, table):
    return ch_rows(f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = '{table}' "
                   f"ORDER BY name")


def read_topic(topic, timeout=20):
    """Every record of `topic` with a confluent-kafka consumer (its own group, from the start)."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"reader-{RUN_ID}-{random.random()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, "enable.partition.eof": True})
    md = c.list_topics(topic, timeout=10)
    parts = md.topics[topic].partitions
    ends = {}
    for p in parts:
        for attempt in range(20):
            try:
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                break
            except KafkaException as e:
                # A topic just created: the brokers may not all agree on its leaders yet.
                err = e.args[0]
                if attempt == 19 or not (err.retriable() or err.code() == KafkaError.NOT_LEADER_FOR_PARTITION):
                    raise
                time.sleep(0.5)
        ends[p] = hi
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out, seen = [], {p: 0 for p in parts}
    deadline = time.time() + timeout
    while any(seen[p] < ends[p] for p in parts) and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() and m.error().code() == KafkaError._PARTITION_EOF:
            # The end: a transactional topic (view topics) ends with a commit marker past its
            # last record.
            seen[m.partition()] = max(seen[m.partition()], ends[m.partition()])
            continue
        if m is None or m.error():
            continue
        seen[m.partition()] = m.offset() + 1
        out.append(m)
    c.close()
    return out


class Kafka(unittest.TestCase):
    def test_capture_sink_equals_run(self):
        """capture -> topics -> sink gives the ClickHouse tables `sluice run` gives: same columns,
        values, _version and _is_deleted (type matrix, updates, deletes, a key change, ADD COLUMN)."""
        s = Setup("kfk_eq", source_extra="  heartbeat.interval.ms: 100\n")
        s.reset()
        create_types_table(s.db)
        insert_types(s.db, ROWS)
        mysql("INSERT INTO types (id) VALUES (99)", db=s.db)  # never changed after the snapshot
        s.capture()  # snapshot into Kafka
        s.run()      # its own snapshot (a later position: other tests write the binlog too)
        # Streamed changes touch every row, so the FINAL rows carry streamed versions on both sides.
        mysql("UPDATE types SET si = 7 WHERE id IN (1, 2); UPDATE types SET ti = 1 WHERE id = 3", db=s.db)
        insert_types(s.db, ROWS, id_offset=10)
        mysql("START TRANSACTION; UPDATE types SET vc = 'moved' WHERE id = 11; UPDATE types SET id = 20 WHERE id = 12;"
              " DELETE FROM types WHERE id = 13; COMMIT;", db=s.db)
        mysql("ALTER TABLE types ADD COLUMN extra INT NOT NULL DEFAULT 5", db=s.db)
        mysql("INSERT INTO types (id, extra) VALUES (30, 6); UPDATE types SET extra = 9 WHERE id = 1", db=s.db)
        s.capture()
        s.run()
        s.sink()
        # A column rename keeps the column's data in ClickHouse on both paths.
        mysql("ALTER TABLE types RENAME COLUMN extra TO extra2", db=s.db)
        mysql("INSERT INTO types (id, extra2) VALUES (31, 7)", db=s.db)
        s.capture()
        s.run()
        s.sink()
        # A column added while no sink runs: the next sink process adds it before writing.
        mysql("ALTER TABLE types ADD COLUMN late INT NOT NULL DEFAULT 3", db=s.db)
        mysql("INSERT INTO types (id, late) VALUES (32, 4)", db=s.db)
        s.capture()
        s.run()
        s.sink()
        status = s.sluice("status", s.kafka).stdout
        self.assertRegex(status, rf"sink \(Kafka group {s.group}\):\n  {s.prefix}\.{s.db}\.types: (\d+) of \1 record\(s\) "
                                 r"in retention committed, lag 0 \(3 partition\(s\)\)")
        cols = ["id"] + [c for c, _, _ in TYPES] + ["extra2", "late"]
        self.assertEqual(ch_columns(s.ch_kafka, "types"), ch_columns(s.ch_run, "types"))
        # Row 99 keeps its snapshot version, which differs: `sluice run` took its own, later snapshot.
        via_kafka, direct = (table_dump(s.ch_kafka, "types", cols, "id != 99"),
                             table_dump(s.ch_run, "types", cols, "id != 99"))
        self.assertEqual(len(via_kafka), 10)  # 1 2 3 11 12(key change) 13(deleted) 20 30 31 32
        self.assertEqual(via_kafka, direct)
        compare_table(self, s.db, s.ch_kafka, "types",
                      [(c, t, k) for c, t, k in TYPES] + [("extra2", "", "int"), ("late", "", "int")])

        # Replay from Kafka retention into a dropped ClickHouse database, without touching MySQL.
        ch(f"DROP DATABASE {s.ch_kafka}")
        s.sink("--reset-offsets", "earliest")
        self.assertEqual(table_dump(s.ch_kafka, "types", cols, "id != 99"), direct)

        # Debezium's heartbeat topic.
        beats = read_topic(f"__debezium-heartbeat.{s.prefix}")
        self.assertGreater(len(beats), 0)
        self.assertEqual(json.loads(beats[0].key()), {"serverName": s.prefix})
        self.assertGreater(json.loads(beats[-1].value())["ts_ms"], 1700000000000)

        # A confluent-kafka consumer reads Sluice's topic: Debezium keys and envelopes, tombstones.
        recs = read_topic(f"{s.prefix}.{s.db}.types")
        checked_snapshot = False
        ops = [json.loads(m.value())["op"] if m.value() is not None else "tombstone" for m in recs]
        self.assertEqual(sorted(ops).count("r"), 4)
        self.assertEqual(ops.count("tombstone"), ops.count("d"))
        self.assertIn("u", ops)
        for m in recs:
            key = json.loads(m.key())
            self.assertEqual(list(key), ["id"])
            self.assertIn(("sluice.schema", m.headers()[0][1]), m.headers())
            if m.value() is None:
                continue
            v = json.loads(m.value())
            self.assertEqual(set(v) >= {"before", "after", "source", "op", "ts_ms"}, True)
            row = v["after"] or v["before"]
            self.assertEqual(row["id"], key["id"])
            src = v["source"]
            if v["op"] == "r" and key["id"] == 99:
                # A snapshot row: _version = MakeVersion(file, pos, 0) - 1 from the envelope's source.
                seq = int(src["file"].rsplit(".", 1)[1])
                want = ((seq << 32) | src["pos"]) - 1
                got = ch_rows(f"SELECT toString(_version) FROM {s.ch_kafka}.types FINAL WHERE id = 99")
                self.assertEqual(got, [[str(want)]])
                checked_snapshot = True
        self.assertTrue(checked_snapshot)

    def test_kill9_sink_and_two_sinks_in_one_group(self):
        """Two sinks share the partitions; one is killed -9 mid-stream; a third joins and catches up:
        nothing lost, nothing doubled through FINAL."""
        s = Setup("kfk_grp")
        s.reset()
        mysql("CREATE TABLE acc (id INT PRIMARY KEY, bal BIGINT NOT NULL, note VARCHAR(40))", db=s.db)
        mysql("INSERT INTO acc SELECT seq, seq, 'init' FROM seq_1_to_20000", db=s.db)
        s.capture()
        try:
            a, b = s.start_sink("a"), s.start_sink("b")
            rnd = random.Random(7)
            for i in range(30):
                lo = rnd.randint(1, 19000)
                mysql(f"UPDATE acc SET bal = bal + {i}, note = 'u{i}' WHERE id BETWEEN {lo} AND {lo + 500};"
                      f"DELETE FROM acc WHERE id = {rnd.randint(1, 20000)};"
                      f"INSERT INTO acc VALUES ({20001 + i}, {i}, 'n{i}')", db=s.db)
            s.capture()
            # Both members must be in the group before b dies (the broker delays the first
            # rebalance of a new group by group.initial.rebalance.delay.ms, and a slow join would
            # otherwise let a take every partition and the kill test nothing).
            wait_for_log(self, os.path.join(s.dir, "sink-a.log"), "assigned")
            wait_for_log(self, os.path.join(s.dir, "sink-b.log"), "assigned")
            time.sleep(1.5)
            b.send_signal(signal.SIGKILL)
            b.wait()
            more = "; ".join(f"INSERT INTO acc VALUES ({30000 + i}, {i}, 'm{i}')" for i in range(200))
            mysql(more + "; UPDATE acc SET bal = -bal WHERE id % 7 = 0", db=s.db)
            s.capture()
            s.sink()  # a third member: exits once the group committed everything
            a.send_signal(signal.SIGTERM)
            self.assertEqual(a.wait(timeout=60), 0)
        finally:
            s.cleanup()
        logs = {t: open(os.path.join(s.dir, f"sink-{t}.log")).read() for t in ("a", "b")}
        self.assertIn("assigned", logs["a"])
        self.assertIn("assigned", logs["b"])
        total = ch_rows(f"SELECT count(), uniqExact(id) FROM {s.ch_kafka}.acc FINAL WHERE _is_deleted = 0")
        self.assertEqual(total[0][0], total[0][1])
        compare_table(self, s.db, s.ch_kafka, "acc", [("bal", "", "int"), ("note", "", "hex")])

    def test_truncate_over_kafka(self):
        """TRUNCATE in the source: `capture` sends Debezium's truncate event (op "t", key null) to
        every partition of the table's topic, and `sink` deletes the rows written before it while
        keeping those after it (also rows re-inserted under the same keys, read in the same batch
        or from other partitions first): ClickHouse equals MariaDB and `sluice run`."""
        s = Setup("kfk_trunc")
        s.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL);"
              "CREATE TABLE u (id INT PRIMARY KEY, v INT NOT NULL);"
              "INSERT INTO t SELECT seq, seq FROM seq_1_to_3000;"
              "INSERT INTO u SELECT seq, seq FROM seq_1_to_500;", db=s.db)
        s.capture()
        s.sink()
        self.assertEqual(ch_rows(f"SELECT count() FROM {s.ch_kafka}.t FINAL WHERE _is_deleted = 0"), [['3000']])
        # t: already in ClickHouse when the truncate comes; u: rows, truncate and new rows under
        # the same keys all read by one sink run.
        mysql("UPDATE t SET v = -v WHERE id % 3 = 0; TRUNCATE TABLE t;"
              "INSERT INTO t SELECT seq, seq * 10 FROM seq_2500_to_3500;"
              "INSERT INTO u SELECT seq, seq FROM seq_501_to_900; TRUNCATE TABLE u;"
              "INSERT INTO u SELECT seq, -seq FROM seq_100_to_200; DELETE FROM u WHERE id = 150", db=s.db)
        s.capture()
        for table in ("t", "u"):
            recs = [r for r in read_topic(f"{s.prefix}.{s.db}.{table}")
                    if r.value() and json.loads(r.value()).get("op") == "t"]
            self.assertEqual(sorted(r.partition() for r in recs), [0, 1, 2], f"truncate events of {table}")
            self.assertTrue(all(r.key() is None for r in recs))
            ev = json.loads(recs[0].value())
            self.assertIsNone(ev["before"])
            self.assertEqual(ev["source"]["table"], table)
        s.sink()
        s.run()
        for table in ("t", "u"):
            compare_table(self, s.db, s.ch_kafka, table, [("v", "", "int")])
            compare_table(self, s.db, s.ch_run, table, [("v", "", "int")])
        # A replay (offsets reset) applies the same truncates again: same result.
        s.sink("--reset-offsets", "earliest")
        for table in ("t", "u"):
            compare_table(self, s.db, s.ch_kafka, table, [("v", "", "int")])

    def test_kill9_capture_loses_nothing(self):
        """kill -9 of `sluice capture` while MariaDB is written: the offset is stored only after the
        brokers acknowledged, so a restart re-sends (same _version) and nothing is lost."""
        s = Setup("kfk_cap")
        s.reset()
        mysql("CREATE TABLE acc (id INT PRIMARY KEY, bal BIGINT NOT NULL, note VARCHAR(40))", db=s.db)
        mysql("INSERT INTO acc SELECT seq, 0, 'init' FROM seq_1_to_3000", db=s.db)
        stop = threading.Event()
        rnd = random.Random(11)

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                a, b = rnd.randint(1, 4000), rnd.randint(1, 4000)
                mysql(f"START TRANSACTION; INSERT INTO acc VALUES ({a}, {i}, 'w{i}') ON DUPLICATE KEY UPDATE "
                      f"bal = bal + 1, note = 'u{i}'; DELETE FROM acc WHERE id = {b} AND bal % 3 = 0; COMMIT;", db=s.db)

        t = threading.Thread(target=writer)
        t.start()
        try:
            for round_ in range(3):
                log = open(os.path.join(s.dir, f"capture-{round_}.log"), "w")
                p = subprocess.Popen([SLUICE, "capture", s.kafka], stdout=log, stderr=log)
                time.sleep(1.0 + round_ * 0.6)
                p.send_signal(signal.SIGKILL)
                p.wait()
                log.close()
        finally:
            stop.set()
            t.join()
        s.capture()
        s.sink()
        total = ch_rows(f"SELECT count(), uniqExact(id) FROM {s.ch_kafka}.acc FINAL WHERE _is_deleted = 0")
        self.assertEqual(total[0][0], total[0][1])
        compare_table(self, s.db, s.ch_kafka, "acc", [("bal", "", "int"), ("note", "", "hex")])

    def test_real_debezium_topics(self):
        """Records written by real Debezium 3.6.1 (with and without schemas.enable), produced to Kafka
        unchanged, are written by `sluice sink`."""
        if os.environ.get("SLUICE_SKIP_PEERS") == "1":
            raise unittest.SkipTest("SLUICE_SKIP_PEERS=1")
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from debezium_diff_test import DBZ_GRANTS, DBZ_PW, DBZ_USER, ensure_peer
        peer = ensure_peer()
        cp = f"{os.path.join(peer, 'classes')}:{os.path.join(peer, 'lib', '*')}"
        db = "kfk_dbz"
        for host in ("%", "127.0.0.1", "localhost"):
            mysql(f"CREATE USER IF NOT EXISTS '{DBZ_USER}'@'{host}' IDENTIFIED BY '{DBZ_PW}';"
                  f"GRANT {DBZ_GRANTS} ON *.* TO '{DBZ_USER}'@'{host}';")
        mysql(f"DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}`;")
        mysql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(30), amount DECIMAL(12,3), qty BIGINT, "
              "created DATETIME(6), flag TINYINT)", db=db)
        mysql("INSERT INTO t VALUES (1, 'one', 1.5, 10, '2024-01-02 03:04:05.123456', 1), "
              "(2, 'two', -2.25, 20, '2024-02-03 04:05:06', 0), (3, 'three', 0, NULL, NULL, NULL)", db=db)
        work = tempfile.mkdtemp(prefix="sluice-kfkdbz-")

        def debezium(prefix, state, expect, extra):
            cmd = ["java", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Duser.timezone=UTC",
                   "-cp", cp, "DebeziumDump", "--state-dir", os.path.join(work, state), "--expect", str(expect),
                   "--timeout-s", "120", "database.hostname=127.0.0.1", f"database.port={MYSQL_PORT}",
                   f"database.user={DBZ_USER}", f"database.password={DBZ_PW}", f"database.server.id={server_id()}",
                   f"topic.prefix={prefix}", f"database.include.list={db}", "snapshot.mode=initial",
                   "snapshot.locking.mode=none", "schema.history.internal.store.only.captured.databases.ddl=true",
                   "schema.history.internal.store.only.captured.tables.ddl=true"] + extra
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
            if out.returncode != 0:
                raise AssertionError(f"DebeziumDump failed: {out.stderr[-3000:]}")
            return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

        variants = [("plain", []), ("schemas", ["converter.schemas.enable=true"])]
        producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
        prefixes = {}
        recs = {}
        for name, extra in variants:
            prefixes[name] = f"kdbz{name}{RUN_ID}"
            recs[name] = debezium(prefixes[name], name, 3, extra)  # snapshot
        mysql("UPDATE t SET name = 'uno', amount = 11.125 WHERE id = 1; DELETE FROM t WHERE id = 2; "
              "INSERT INTO t VALUES (4, 'four', 4.5, 40, '2025-05-05 05:05:05.5', 1)", db=db)
        for name, extra in variants:
            recs[name] += debezium(prefixes[name], name, 4, extra)  # update, delete + tombstone, insert
            for r in recs[name]:
                k = None if r["key"] is None else json.dumps(r["key"]).encode()
                v = None if r["value"] is None else json.dumps(r["value"]).encode()
                producer.produce(r["topic"], key=k, value=v)
            producer.flush(30)
        for name, _ in variants:
            cfg = os.path.join(work, f"{name}.yaml")
            # `sluice sink` never connects to the database: no connection settings needed, and with
            # topics.regex no `source` section at all.
            if name == "schemas":
                source, topics = "", f"  topics.regex: '{prefixes[name]}\\..*'\n"
            else:
                source, topics = f"source:\n  topic.prefix: {prefixes[name]}\n", ""
            write(cfg, source + f"""bus:
  type: kafka
  bootstrap.servers: {BOOTSTRAP}
sink:
  hostname: 127.0.0.1
  port: {CH_PORT}
  database: kfk_dbz_{name}
  group.id: kdbz-{name}-{RUN_ID}
  batch.max.delay.ms: 200
""" + topics)
            ch(f"DROP DATABASE IF EXISTS kfk_dbz_{name}")
            chk = subprocess.run([SLUICE, "check", cfg], capture_output=True, text=True, timeout=120)
            self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr)
            self.assertIn("source: none", chk.stdout)
            out = subprocess.run([SLUICE, "sink", cfg, "--exit-when-caught-up"], capture_output=True, text=True,
                                 timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr[-3000:])
            rows = ch_rows(f"SELECT id, name, toString(qty), _is_deleted FROM kfk_dbz_{name}.t FINAL ORDER BY id")
            self.assertEqual(rows, [["1", "uno", "10", "0"], ["2", "two", "20", "1"], ["3", "three", None, "0"],
                                    ["4", "four", "40", "0"]], name)
            if name == "schemas":
                # Types from the Connect schema: Decimal(12,3), DateTime64/text with micros, Int16.
                got = ch_rows(f"SELECT toString(amount), toString(created) FROM kfk_dbz_schemas.t FINAL "
                              f"WHERE id IN (1, 4) ORDER BY id")
                self.assertEqual(got, [["11.125", "2024-01-02 03:04:05.123456"], ["4.500", "2025-05-05 05:05:05.500000"]])
                # `sluice transform` over the same Debezium topics, without a database connection:
                # the columns come from the records' Connect schema; its view topic goes to ClickHouse.
                tcfg = os.path.join(work, "transform.yaml")
                write(os.path.join(work, "views.sql"),
                      "CREATE MATERIALIZED VIEW tv AS SELECT id, upper(name) AS name, amount * 2 AS amount2 "
                      "FROM t WHERE qty IS NOT NULL;\n")
                write(tcfg, f"""source:
  topic.prefix: {prefixes[name]}
  database.include.list: {db}
bus:
  type: kafka
  bootstrap.servers: {BOOTSTRAP}
transform:
  sql: [views.sql]
  group.id: kdbz-transform-{RUN_ID}
sink:
  hostname: 127.0.0.1
  port: {CH_PORT}
  database: kfk_dbz_views
  group.id: kdbz-views-{RUN_ID}
  batch.max.delay.ms: 200
  topics: {prefixes[name]}.tv
state:
  dir: {os.path.join(work, "transform-state")}
""")
                out = subprocess.run([SLUICE, "transform", tcfg, "--exit-when-caught-up"], capture_output=True,
                                     text=True, timeout=120)
                self.assertEqual(out.returncode, 0, out.stderr[-3000:])
                self.assertIn("come from their topics", out.stderr)
                ch("DROP DATABASE IF EXISTS kfk_dbz_views")
                out = subprocess.run([SLUICE, "sink", tcfg, "--exit-when-caught-up"], capture_output=True, text=True,
                                     timeout=120)
                self.assertEqual(out.returncode, 0, out.stderr[-3000:])
                got = ch_rows("SELECT id, name, toString(amount2) FROM kfk_dbz_views.tv FINAL WHERE _is_deleted = 0 "
                              "ORDER BY id")
                self.assertEqual(got, [["1", "UNO", "22.250"], ["4", "FOUR", "9.000"]])

    def test_transaction_metadata_topic(self):
        """provide.transaction.metadata: BEGIN/END per source transaction on <prefix>.transaction, a
        transaction block in every streamed event whose counts match END's, none on snapshot rows;
        `sluice sink` (subscribed to <prefix>.*) passes over the metadata records."""
        s = Setup("kfk_txn", source_extra="  provide.transaction.metadata: true\n")
        s.reset()
        mysql("CREATE TABLE a (id INT PRIMARY KEY, v INT); CREATE TABLE b (id INT PRIMARY KEY, w VARCHAR(10));"
              "INSERT INTO a VALUES (1, 1), (2, 2);", db=s.db)
        s.capture()
        txns = []
        for i in range(5):
            stmts = [f"INSERT INTO a VALUES ({10 + i}, {i})", f"UPDATE a SET v = v + 1 WHERE id = {1 + i % 2}"]
            if i % 2:
                stmts.append(f"INSERT INTO b VALUES ({i}, 'x{i}')")
            if i == 4:
                stmts.append("DELETE FROM a WHERE id = 10")
            mysql("START TRANSACTION; " + "; ".join(stmts) + "; COMMIT;", db=s.db)
            txns.append(stmts)
        s.capture()
        meta = [json.loads(m.value()) for m in read_topic(f"{s.prefix}.transaction")]
        begins = [m for m in meta if m["status"] == "BEGIN"]
        ends = {m["id"]: m for m in meta if m["status"] == "END"}
        self.assertEqual(len(begins), 5, meta)
        self.assertEqual(len(ends), 5, meta)
        for b in begins:
            self.assertIsNone(b["event_count"])
            self.assertIsNone(b["data_collections"])
            self.assertIn(b["id"], ends)
        # Data events: snapshot rows have no transaction; streamed ones point at their END.
        events = {}
        for table in ("a", "b"):
            for m in read_topic(f"{s.prefix}.{s.db}.{table}"):
                if m.value() is None:
                    continue  # tombstone
                v = json.loads(m.value())
                if v["op"] == "r":
                    self.assertIsNone(v["transaction"])
                    continue
                t = v["transaction"]
                events.setdefault(t["id"], []).append((f"{s.db}.{table}", t["total_order"], t["data_collection_order"]))
        self.assertEqual(sorted(events), sorted(ends))
        for tid, evs in events.items():
            end = ends[tid]
            self.assertEqual(end["event_count"], len(evs))
            self.assertEqual(sorted(e[1] for e in evs), list(range(1, len(evs) + 1)))
            per = {}
            for coll, _, order in evs:
                per.setdefault(coll, []).append(order)
            self.assertEqual({d["data_collection"]: d["event_count"] for d in end["data_collections"]},
                             {k: len(v) for k, v in per.items()})
            for orders in per.values():
                self.assertEqual(sorted(orders), list(range(1, len(orders) + 1)))
        self.assertEqual(sorted(e["event_count"] for e in ends.values()), sorted(len(t) for t in txns))
        # The sink reads <prefix>.* including the metadata topic, and writes the tables alone.
        s.sink()
        compare_table(self, s.db, s.ch_kafka, "a", [("v", "", "int")])
        compare_table(self, s.db, s.ch_kafka, "b", [("w", "", "hex")])
        self.assertEqual(ch(f"EXISTS TABLE {s.ch_kafka}.`transaction`").strip(), "0")

    def test_bad_records_and_bad_config(self):
        """Not-a-Debezium record: stop with topic/partition/offset (errors.tolerance none) or send it
        to the dead-letter topic (all); a librdkafka property librdkafka rejects is a config error
        naming file:line."""
        s = Setup("kfk_bad", sink_extra="")
        s.reset()
        topic = f"{s.prefix}.{s.db}.junk"
        p = Producer({"bootstrap.servers": BOOTSTRAP})
        p.produce(topic, key=b'{"id":1}', value=b"this is not json")
        p.produce(topic, key=b'{"id":2}', value=b'{"hello": "world"}')
        p.flush(30)
        out = s.sink(check=False)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn(f"{topic}[0]@0", out.stderr)
        self.assertIn("errors.tolerance", out.stderr)
        dlq = f"{s.prefix}-dlq"
        with open(s.kafka) as f:
            text = f.read()
        write(s.kafka, text.replace("  batch.max.delay.ms: 200\n",
                                    f"  batch.max.delay.ms: 200\n  errors.tolerance: all\n"
                                    f"  errors.deadletterqueue.topic.name: {dlq}\n"))
        s.sink()
        dead = read_topic(dlq)
        self.assertEqual([m.value() for m in dead], [b"this is not json", b'{"hello": "world"}'])
        self.assertEqual(dict(dead[0].headers())["__connect.errors.topic"], topic.encode())
        write(s.kafka, text.replace("  topic.partitions: 3\n", "  topic.partitions: 3\n  linger.mss: 5\n"))
        out = s.sluice("capture", s.kafka, check=False)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertRegex(out.stderr, r"kafka.yaml:\d+: bus.linger.mss: rejected by librdkafka")

        # A topic that does not exist, with topic creation off: a clear error before anything is sent.
        mysql("CREATE TABLE t (id INT PRIMARY KEY)", db=s.db)
        write(s.kafka, text.replace("  topic.partitions: 3\n", "  topic.partitions: 3\n  topic.create: false\n"))
        out = s.sluice("capture", s.kafka, "--exit-when-caught-up", check=False)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn(f"Kafka topic {s.prefix}.{s.db}.t does not exist and bus.topic.create is false", out.stderr)

        # Brokers unreachable: the capture waits and says so (nothing is lost), and stops on SIGTERM.
        write(s.kafka, text.replace(BOOTSTRAP, "127.0.0.1:1"))
        log = open(os.path.join(s.dir, "unreachable.log"), "w")
        p = subprocess.Popen([SLUICE, "capture", s.kafka], stdout=log, stderr=log)
        time.sleep(7)
        self.assertIsNone(p.poll())
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=30), 0)
        log.close()
        with open(os.path.join(s.dir, "unreachable.log")) as f:
            self.assertIn("cannot reach Kafka", f.read())


class KafkaFaults(unittest.TestCase):
    """Stops a shared broker: run alone (RUN_SERIAL)."""

    def test_broker_restart_mid_stream(self):
        """One broker of three stopped and restarted while capture and sink run (replication factor
        3, min.insync.replicas 2): nothing lost, nothing doubled through FINAL."""
        if int(setting("SLUICE_KAFKA_BROKERS", "1")) < 3:
            self.fail("needs KAFKA_BROKERS=3 (make test starts three brokers)")
        s = Setup("kfk_brk", bus_extra="  topic.replication.factor: 3\n")
        s.reset()
        mysql("CREATE TABLE acc (id INT PRIMARY KEY, bal BIGINT NOT NULL, note VARCHAR(40))", db=s.db)
        mysql("INSERT INTO acc SELECT seq, 0, 'init' FROM seq_1_to_5000", db=s.db)
        stop = threading.Event()
        rnd = random.Random(5)

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                a = rnd.randint(1, 6000)
                mysql(f"INSERT INTO acc VALUES ({a}, {i}, 'w{i}') ON DUPLICATE KEY UPDATE bal = bal + 1, "
                      f"note = 'u{i}'; DELETE FROM acc WHERE id = {rnd.randint(1, 6000)} AND bal % 5 = 0", db=s.db)

        log = open(os.path.join(s.dir, "capture.log"), "w")
        capture = subprocess.Popen([SLUICE, "capture", s.kafka], stdout=log, stderr=log)
        sink = s.start_sink("a")
        t = threading.Thread(target=writer)
        t.start()
        try:
            time.sleep(2)
            services("stop", "kafka-2")
            time.sleep(4)
            services("start", "kafka-2")
            time.sleep(2)
        finally:
            stop.set()
            t.join()
            capture.send_signal(signal.SIGTERM)
            rc = capture.wait(timeout=120)
            log.close()
        self.assertEqual(rc, 0)
        s.capture()
        s.sink()
        sink.send_signal(signal.SIGTERM)
        self.assertEqual(sink.wait(timeout=60), 0)
        s.cleanup()
        total = ch_rows(f"SELECT count(), uniqExact(id) FROM {s.ch_kafka}.acc FINAL WHERE _is_deleted = 0")
        self.assertEqual(total[0][0], total[0][1])
        compare_table(self, s.db, s.ch_kafka, "acc", [("bal", "", "int"), ("note", "", "hex")])


if __name__ == "__main__":
    unittest.main()
