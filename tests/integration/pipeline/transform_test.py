"""Kafka mode with views: MariaDB -> `sluice capture` -> Kafka -> `sluice transform` -> view topics
-> `sluice sink` -> ClickHouse. The view tables must equal the same queries run by MariaDB, also
after a kill -9 of `transform` mid-stream (state and input offsets come back together) and after
`--reset-offsets earliest` rebuilds the views from the topics.
"""
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import CH_PORT, MYSQL_PORT, MYSQL_PW, MYSQL_USER, SLUICE, ch, mysql, server_id, services, setting  # noqa: E402
from views_test import HIDDEN_KEY_EXPECTED, HIDDEN_KEY_VIEWS, Workload, compare_view  # noqa: E402

BOOTSTRAP = setting("SLUICE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
RUN_ID = f"{int(time.time()) % 100000}{random.randint(0, 99)}"

VIEWS = """
CREATE MATERIALIZED VIEW stock_balance AS
SELECT b.facility_id, b.material_id, f.name AS facility, sum(b.qty) AS qty, count(*) AS batches
FROM batches b JOIN facilities f ON f.id = b.facility_id
GROUP BY b.facility_id, b.material_id, f.name;

CREATE MATERIALIZED VIEW stock_value AS
SELECT b.id, b.currency, b.qty * b.price * r.rate AS value_eur
FROM batches b JOIN rates r ON r.currency = b.currency;

CREATE MATERIALIZED VIEW big_batches AS SELECT id, facility_id, qty FROM batches WHERE qty >= 100;
""" + HIDDEN_KEY_VIEWS  # views keyed by hidden key columns: their topics are keyed by them too


class Setup:
    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix=f"sluice-{name}-")
        self.db = name
        self.ch_db = f"{name}_olap"
        self.prefix = f"{name}{RUN_ID}"
        with open(os.path.join(self.dir, "views.sql"), "w") as f:
            f.write(VIEWS)
        base = f"""source:
  database.hostname: 127.0.0.1
  database.port: {MYSQL_PORT}
  database.user: {MYSQL_USER}
  database.password: {MYSQL_PW}
  database.server.id: {server_id()}
  topic.prefix: {self.prefix}
  database.include.list: {self.db}
bus:
  type: kafka
  bootstrap.servers: {BOOTSTRAP}
  topic.partitions: 3
transform:
  sql: [views.sql]
  group.id: {self.prefix}-transform
  memory.max.bytes: 1048576
sink:
  hostname: 127.0.0.1
  port: {CH_PORT}
  database: {self.ch_db}
  batch.max.delay.ms: 200
  group.id: {self.prefix}-sink
state:
  dir: state-{{stage}}
"""
        self.configs = {}
        self.procs = []
        for stage in ("capture", "transform", "sink"):
            path = os.path.join(self.dir, f"{stage}.yaml")
            with open(path, "w") as f:
                f.write(base.format(stage=stage))
            self.configs[stage] = path

    def reset(self):
        mysql(f"DROP DATABASE IF EXISTS `{self.db}`; CREATE DATABASE `{self.db}`;")
        ch(f"DROP DATABASE IF EXISTS {self.ch_db}")

    def start_transform(self, cfg, name):
        """`sluice transform CFG` in the background, its output in the file NAME of the test directory."""
        with open(os.path.join(self.dir, name), "w") as log:
            p = subprocess.Popen([SLUICE, "transform", cfg], stdout=log, stderr=log)
        self.procs.append(p)
        return p

    def log(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    def wait_for_log(self, test, name, text, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log(name):
                return
            time.sleep(0.2)
        test.fail(f"{name}: no '{text}' in {timeout} s:\n{self.log(name)[-3000:]}")

    def kill_started(self):
        """Kills what start_transform started and is still running (paused ones too)."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()

    def run_until_crash(self, test, stage, point):
        """`sluice STAGE --exit-when-caught-up`, killed by SLUICE_CRASH_AT=POINT:1 (asserted); its output."""
        out = subprocess.run([SLUICE, stage, self.configs[stage], "--exit-when-caught-up"],
                             capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, SLUICE_CRASH_AT=f"{point}:1"))
        test.assertEqual(out.returncode, -signal.SIGKILL, out.stderr[-3000:])
        return out

    def run(self, stage, *extra, check=True, timeout=300):
        out = subprocess.run([SLUICE, stage, self.configs[stage], "--exit-when-caught-up", *extra],
                             capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"sluice {stage} exited {out.returncode}\n{out.stderr[-4000:]}")
        return out


VIEW_NAMES = ["stock_balance", "stock_value", "big_batches"]

CHAINED_VIEWS = """
CREATE MATERIALIZED VIEW batch_sites AS
SELECT b.id, b.qty, f.province_id FROM batches b JOIN facilities f ON f.id = b.facility_id;
CREATE MATERIALIZED VIEW province_stock AS
SELECT province_id, sum(qty) AS qty, count(*) AS n FROM batch_sites GROUP BY province_id;
"""
CHAINED_EXPECTED = {
    "batch_sites": ("id, qty, province_id",
                    "SELECT b.id, b.qty, f.province_id FROM batches b JOIN facilities f ON f.id = b.facility_id"),
    "province_stock": ("province_id, qty, n",
                       "SELECT f.province_id, sum(b.qty), count(*) FROM batches b "
                       "JOIN facilities f ON f.id = b.facility_id GROUP BY f.province_id"),
}


def compare_views(test, s):
    for v in VIEW_NAMES:
        compare_view(test, s, v)
    for v in HIDDEN_KEY_EXPECTED:
        compare_view(test, s, v, HIDDEN_KEY_EXPECTED)


class Transform(unittest.TestCase):
    def test_views_over_kafka_equal_mariadb_with_kill9_and_replay(self):
        s = Setup("kafka_views")
        s.reset()
        w = Workload(s.db, 5)
        w.setup(batches=300)
        w.run(100)
        s.run("capture")
        out = s.run("transform")
        self.assertIn("transform stopped (caught up)", out.stderr)
        s.run("sink")
        compare_views(self, s)
        # Views keyed by hidden columns: their messages are keyed by them.
        for view, col in [("batch_lines", "_key_batches_id"), ("movements", "_branch")]:
            keys = subprocess.run(["kcat", "-b", BOOTSTRAP, "-C", "-t", f"{s.prefix}.{view}", "-e", "-q",
                                   "-f", "%k\n", "-c", "50"], capture_output=True, text=True, timeout=60).stdout.split()
            self.assertTrue(keys, view)
            for k in keys:
                self.assertIn(f'"{col}"', k, view)

        # kill -9 of transform while it works through a backlog: restart resumes from the offsets
        # stored with the view state; nothing is applied twice.
        w.run(200)
        mysql("INSERT INTO batches SELECT 100000 + seq, 1 + seq % 19, 1 + seq % 30, seq % 300, 1.50, "
              "ELT(1 + seq % 3, 'EUR', 'USD', 'GBP'), '2026-01-01', NULL, NULL FROM seq_1_to_20000; "
              "UPDATE batches SET qty = qty + 1 WHERE id > 100000 AND id % 2 = 0; "
              "DELETE FROM batches WHERE id > 100000 AND id % 7 = 0;", db=s.db)
        s.run("capture")
        log = open(os.path.join(s.dir, "transform.log"), "w")
        proc = subprocess.Popen([SLUICE, "transform", s.configs["transform"]], stdout=log, stderr=log)
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
        with open(os.path.join(s.dir, "transform.log")) as f:
            self.assertNotIn("transform stopped", f.read())
        s.run("transform")
        s.run("sink")
        compare_views(self, s)

        # A changed view is refused until the views are rebuilt from the topics.
        with open(os.path.join(s.dir, "views.sql"), "w") as f:
            f.write(VIEWS.replace("qty >= 100", "qty >= 200"))
        out = s.run("transform", check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("--reset-offsets earliest", out.stderr)
        ch(f"DROP TABLE IF EXISTS {s.ch_db}.big_batches")
        s.run("transform", "--reset-offsets", "earliest")
        s.run("sink")
        import views_test
        saved = views_test.EXPECTED["big_batches"]
        views_test.EXPECTED["big_batches"] = (saved[0], saved[1].replace(">= 100", ">= 200"))
        try:
            compare_views(self, s)
        finally:
            views_test.EXPECTED["big_batches"] = saved

    def test_truncate_rebuilds_the_views(self):
        """TRUNCATE of input tables (the fact table and a joined reference table; changes before and
        after it read by one transform run): the views keep no input rows to retract, so transform
        rebuilds them from the topics without the table's earlier changes — view tables equal
        MariaDB's queries; the truncate events on the other partitions and a replay from earliest
        (which reads the truncates again) change nothing."""
        s = Setup("kafka_trunc_views")
        s.reset()
        w = Workload(s.db, 9)
        w.setup(batches=300)
        w.run(100)
        s.run("capture")
        s.run("transform")
        s.run("sink")
        compare_views(self, s)
        w.run(60)
        mysql("TRUNCATE TABLE batches;"
              "INSERT INTO batches SELECT seq, 1 + seq % 19, 1 + seq % 30, seq % 300, 1.50, "
              "ELT(1 + seq % 3, 'EUR', 'USD', 'GBP'), '2026-01-01', NULL, NULL FROM seq_1_to_400;"
              "UPDATE batches SET qty = qty + 7 WHERE id % 5 = 0; DELETE FROM batches WHERE id % 11 = 0;", db=s.db)
        w.next_batch = 401
        w.run(60)
        s.run("capture")
        # kill -9 once the view topics' rows are deleted, before the rebuild is stored: the restart
        # resumes from the last checkpoint, reads the TRUNCATE again and rebuilds, producing above
        # those deletes (the lease names their version).
        out = s.run_until_crash(self, "transform", "transform.after_sweep")
        self.assertIn("deleted the", out.stderr)
        out = s.run("transform")
        self.assertEqual(out.stderr.count("every view is rebuilt from the input topics"), 1, out.stderr[-3000:])
        s.run("sink")
        compare_views(self, s)
        # A reference table the fact table joins, truncated and refilled, in the next run.
        mysql("TRUNCATE TABLE rates; INSERT INTO rates VALUES ('EUR', 1.000000), ('GBP', 1.170000);", db=s.db)
        w.run(40)
        s.run("capture")
        s.run("transform")
        s.run("sink")
        compare_views(self, s)
        # Nothing new: no rebuild. A replay from earliest meets both truncates again.
        out = s.run("transform")
        self.assertNotIn("rebuilt", out.stderr)
        out = s.run("transform", "--reset-offsets", "earliest")
        self.assertEqual(out.stderr.count("every view is rebuilt from the input topics"), 2, out.stderr[-3000:])
        s.run("sink")
        compare_views(self, s)

    def test_kill9_between_checkpoint_and_produce_loses_no_view_change(self):
        """The views' output waits in an outbox stored with the checkpoint and is produced after it:
        killed right after the store, a restart produces the stored outbox (else those changes were lost:
        the state and input offsets are already past them)."""
        s = Setup("kafka_outbox")
        s.reset()
        w = Workload(s.db, 11)
        w.setup(batches=300)
        w.run(300)
        s.run("capture")
        s.run_until_crash(self, "transform", "transform.after_checkpoint")
        out = s.run("transform")
        s.run("sink")
        compare_views(self, s)
        m = re.search(r"producing the (\d+) view change\(s\) stored with the last checkpoint", out.stderr)
        self.assertTrue(m, out.stderr[-3000:])
        self.assertGreater(int(m.group(1)), 0)
        # Produced once; a further restart has nothing stored to produce again.
        out = s.run("transform")
        self.assertNotIn("stored with the last checkpoint", out.stderr)

    def test_kill9_after_produce_produces_no_view_change_twice(self):
        """Killed after the stored outbox reached Kafka, before the state directory forgot it: the
        restart finds the outbox's token in the lease partition (written in the same Kafka
        transaction) and does not produce it again. Every view change is in its topic once, as a
        changelog: an update or delete carries the row the key had (what a view over the view, or
        any reader that does not collapse by `_version`, applies)."""
        import json
        from kafka_test import read_topic
        s = Setup("kafka_once")
        s.reset()
        w = Workload(s.db, 29)
        w.setup(batches=300)
        w.run(300)
        s.run("capture")
        s.run_until_crash(self, "transform", "transform.after_produce")
        out = s.run("transform")
        m = re.search(r"the (\d+) view change\(s\) stored with the last checkpoint reached Kafka", out.stderr)
        self.assertTrue(m, out.stderr[-3000:])
        self.assertGreater(int(m.group(1)), 0)
        self.assertNotIn("producing the", out.stderr)
        w.run(100)
        s.run("capture")
        s.run("transform")
        s.run("sink")
        compare_views(self, s)
        for view in VIEW_NAMES:
            alive, seen, changes = {}, set(), 0
            for rec in read_topic(f"{s.prefix}.{view}"):
                if rec.value() is None:
                    continue  # a tombstone
                v = json.loads(rec.value())
                src = v["source"]
                ident = (rec.key(), src["file"], src["pos"])
                self.assertNotIn(ident, seen, f"{view}: a change produced twice")
                seen.add(ident)
                changes += 1
                key = rec.key()
                if v["op"] in ("u", "d"):
                    self.assertEqual(alive.get(key), v["before"], f"{view}: {v['op']} of a row the topic does not hold")
                else:
                    self.assertNotIn(key, alive, f"{view}: an insert of a key the topic holds")
                if v["op"] == "d":
                    del alive[key]
                else:
                    alive[key] = v["after"]
            self.assertGreater(changes, 100, view)
            self.assertTrue(alive, view)

    def test_upsert_format_views_equal_mariadb(self):
        """transform.format: upsert (RisingWave's FORMAT UPSERT ENCODE JSON): a view topic's records
        are keyed by the view's key, the value is the row itself, a delete is a tombstone. A view's
        CREATE SINK ... FORMAT DEBEZIUM ENCODE JSON keeps the envelope for it. With parallelism 2 a
        view over an upsert view reads its topic (the headers carry the row replaced), and after a
        kill -9 between checkpoint and produce the stored upsert records are produced again: `sink`
        gives ClickHouse tables equal to MariaDB."""
        import json
        from kafka_test import read_topic
        s = Setup("kafka_upsert")
        s.reset()
        with open(os.path.join(s.dir, "views.sql"), "a") as f:
            f.write(CHAINED_VIEWS + "\nCREATE SINK big_out FROM big_batches WITH (connector = 'kafka', "
                    "topic = 'x') FORMAT DEBEZIUM ENCODE JSON;\n")
        with open(s.configs["transform"]) as f:
            text = f.read()
        with open(s.configs["transform"], "w") as f:
            f.write(text.replace("  memory.max.bytes: 1048576\n",
                                 "  memory.max.bytes: 1048576\n  format: upsert\n  parallelism: 2\n"))
        w = Workload(s.db, 31)
        w.setup(batches=300)
        w.run(300)
        s.run("capture")
        s.run_until_crash(self, "transform", "transform.after_checkpoint")
        out = s.run("transform")
        self.assertIn("sink big_out (connector kafka): with bus.type kafka, `sluice transform` produces view "
                      "big_batches to its own topic (docs/ARCHITECTURE.md) as FORMAT DEBEZIUM ENCODE JSON", out.stderr)
        w.run(200)
        s.run("capture")
        s.run("transform")
        s.run("sink")
        compare_views(self, s)
        for v in CHAINED_EXPECTED:
            compare_view(self, s, v, CHAINED_EXPECTED)
        recs = read_topic(f"{s.prefix}.stock_balance")
        tombstones = [r for r in recs if r.value() is None]
        rows = [json.loads(r.value()) for r in recs if r.value() is not None]
        self.assertTrue(tombstones)
        self.assertTrue(rows)
        for r in recs[:50]:
            key = json.loads(r.key())
            self.assertEqual(sorted(key), ["facility", "facility_id", "material_id"], key)
        for row in rows[:50]:
            self.assertEqual(sorted(row), ["batches", "facility", "facility_id", "material_id", "qty"], row)
        headers = dict(recs[-1].headers() or [])
        self.assertIn("sluice.version", headers)
        big = [json.loads(r.value()) for r in read_topic(f"{s.prefix}.big_batches") if r.value() is not None]
        self.assertTrue(big)
        self.assertIn(big[0]["op"], ("c", "u", "d"))

    def test_two_transforms_in_a_group_one_killed_the_other_takes_over(self):
        """Two `transform` processes in one group (each its own state directory): one holds the lease
        and maintains the views, the other stands by. kill -9 of the active one: the other takes
        over, rebuilds the views from the topics (its directory is not the last one that ran them)
        with versions above the dead one's, and ClickHouse ends equal to MariaDB."""
        s = Setup("kafka_2tf")
        s.reset()
        w = Workload(s.db, 13)
        w.setup(batches=300)
        w.run(100)
        s.run("capture")
        cfg_b = os.path.join(s.dir, "transform-b.yaml")
        with open(s.configs["transform"]) as f, open(cfg_b, "w") as g:
            g.write(f.read().replace("dir: state-transform", "dir: state-transform-b"))

        a = s.start_transform(s.configs["transform"], "transform-a.log")
        try:
            s.wait_for_log(self, "transform-a.log", "holding the lease")
            b = s.start_transform(cfg_b, "transform-b.log")
            s.wait_for_log(self, "transform-b.log", "standing by")
            w.run(200)
            s.run("capture")
            time.sleep(3)  # the active one works through the new changes
            # ... and has committed view records (which the successor's sweep must delete).
            deadline = time.time() + 60
            while time.time() < deadline and not subprocess.run(
                    ["kcat", "-b", BOOTSTRAP, "-X", "isolation.level=read_committed", "-C", "-t",
                     f"{s.prefix}.stock_balance", "-e", "-q", "-f", "%k\n", "-c", "1"],
                    capture_output=True, text=True, timeout=60).stdout.strip():
                time.sleep(0.5)
            a.send_signal(signal.SIGKILL)
            a.wait()
            w.run(200)
            mysql("UPDATE facilities SET name = CONCAT(name, '*') WHERE id % 3 = 0", db=s.db)
            s.run("capture")
            # The group notices the dead member after session.timeout.ms (10 s).
            s.wait_for_log(self, "transform-b.log", "taking over the views from member", timeout=90)
            # The sweep deletes what A produced (through the state store's scratch range).
            s.wait_for_log(self, "transform-b.log", "view row(s) they hold")
            swept = re.search(r"deleted the (\d+) view row\(s\) they hold", s.log("transform-b.log"))
            self.assertIsNotNone(swept, s.log("transform-b.log")[-3000:])
            self.assertGreater(int(swept.group(1)), 0)
            time.sleep(2)
            b.send_signal(signal.SIGTERM)
            self.assertEqual(b.wait(timeout=120), 0)
        finally:
            s.kill_started()
        # B was the last to hold the lease: it resumes from its own state to the end.
        out = subprocess.run([SLUICE, "transform", cfg_b, "--exit-when-caught-up"], capture_output=True, text=True,
                             timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        self.assertIn("resuming from this state directory's checkpoint", out.stderr)
        s.run("sink")
        compare_views(self, s)

    def test_parallel_transforms_share_the_views_by_shard(self):
        """transform.parallelism 3, two `transform` processes in one group: views whose work splits by
        key (GROUP BY keys, a join on the group key, filters) run as three shards each, the others
        whole, and the group spreads the tasks over both processes — both maintain views. kill -9 of
        one mid-stream: the other takes over its tasks (rebuilding each shard from the topics, its
        sweep deleting only that shard's rows), and ClickHouse ends equal to MariaDB."""
        s = Setup("kafka_par")
        s.reset()
        w = Workload(s.db, 19)
        w.setup(batches=300)
        w.run(100)
        s.run("capture")
        # A view over a join view, grouping by a column of the dimension (the join alone could not
        # split so): each is a task of its own, the second reading the first's topic.
        with open(os.path.join(s.dir, "views.sql"), "a") as f:
            f.write(CHAINED_VIEWS)
        with open(s.configs["transform"]) as f:
            base = f.read().replace("  memory.max.bytes: 1048576\n", "  memory.max.bytes: 1048576\n  parallelism: 3\n")
        cfg_a = os.path.join(s.dir, "transform-a.yaml")
        cfg_b = os.path.join(s.dir, "transform-b.yaml")
        with open(cfg_a, "w") as g:
            g.write(base)
        with open(cfg_b, "w") as g:
            g.write(base.replace("dir: state-transform", "dir: state-transform-b"))
        chk = subprocess.run([SLUICE, "check", cfg_a], capture_output=True, text=True, timeout=120)
        self.assertIn("transform.parallelism 3: split into 3 shards: stock_balance, stock_value, big_batches, "
                      "batch_lines, big_lines, facility_qty, batch_sites, province_stock; "
                      "whole: movements, province_batches, batch_totals", chk.stdout)
        a = s.start_transform(cfg_a, "a.log")
        try:
            s.wait_for_log(self, "a.log", "task stock_balance.shard-2-of-3: holding the lease")
            b = s.start_transform(cfg_b, "b.log")
            # The group gives B some of A's tasks: A stops them, B rebuilds them from the topics.
            s.wait_for_log(self, "b.log", "taking over the views from member", timeout=90)
            s.wait_for_log(self, "a.log", "away (a member joined or left)")
            w.run(200)
            s.run("capture")
            time.sleep(5)  # both work through the new changes
            tasks_a = set(re.findall(r"task (\S+): \d+ view\(s\) over", s.log("a.log")))
            tasks_b = set(re.findall(r"task (\S+): \d+ view\(s\) over", s.log("b.log")))
            # stock_value (batches joined to the rates dimension, broadcast) and stock_balance (GROUP
            # BY over the join by its key) split into shards; so do the views over views.
            self.assertIn("stock_value.shard-0-of-3", tasks_a | tasks_b)
            self.assertIn("stock_balance.shard-2-of-3", tasks_a | tasks_b)
            self.assertIn("province_stock.shard-1-of-3", tasks_a | tasks_b)
            self.assertIn("big_lines.shard-0-of-3", tasks_a | tasks_b)
            self.assertTrue(tasks_b, s.log("b.log")[-3000:])
            a.send_signal(signal.SIGKILL)
            a.wait()
            w.run(200)
            mysql("UPDATE facilities SET name = CONCAT(name, '*') WHERE id % 3 = 0", db=s.db)
            s.run("capture")
            # The group notices the dead member after session.timeout.ms (10 s); B takes its tasks.
            total = int(re.search(r"(\d+) task\(s\) in group", s.log("b.log")).group(1))
            self.assertLess(len(tasks_b), total)

            def held_by_b():
                return set(re.findall(r"task (\S+): \d+ view\(s\) over", s.log("b.log")))
            deadline = time.time() + 90
            while time.time() < deadline and len(held_by_b()) < total:
                time.sleep(0.5)
            self.assertEqual(len(held_by_b()), total, s.log("b.log")[-3000:])
            time.sleep(5)
            b.send_signal(signal.SIGTERM)
            self.assertEqual(b.wait(timeout=120), 0, s.log("b.log")[-3000:])
        finally:
            s.kill_started()
        out = subprocess.run([SLUICE, "transform", cfg_b, "--exit-when-caught-up"], capture_output=True, text=True,
                             timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        self.assertIn("transform stopped (caught up)", out.stderr)
        s.run("sink")
        compare_views(self, s)
        for v in CHAINED_EXPECTED:
            compare_view(self, s, v, CHAINED_EXPECTED)
        # Another layout (parallelism 4: more tasks, the lease topic grows): new tasks in fresh state
        # directories delete what the old layout's tasks left in their view topics (above every
        # old lease's version) and rebuild.
        w.run(100)
        s.run("capture")
        cfg_c = os.path.join(s.dir, "transform-c.yaml")
        with open(cfg_c, "w") as g:
            g.write(base.replace("  parallelism: 3\n", "  parallelism: 4\n"))
        out = subprocess.run([SLUICE, "transform", cfg_c, "--exit-when-caught-up"], capture_output=True, text=True,
                             timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        self.assertIn("stock_balance.shard-3-of-4", out.stderr)
        self.assertIn("now has 35 partitions (was 27)", out.stderr)
        self.assertNotIn("resuming from this state directory's checkpoint", out.stderr)
        st = subprocess.run([SLUICE, "status", cfg_c], capture_output=True, text=True, timeout=120)
        self.assertIn("views (transform task stock_balance.shard-3-of-4):\n  stock_balance: maintained", st.stdout)
        s.run("sink")
        compare_views(self, s)
        for v in CHAINED_EXPECTED:
            compare_view(self, s, v, CHAINED_EXPECTED)

    def test_a_paused_holder_is_fenced_by_its_successor(self):
        """The lease holder is paused (SIGSTOP) with view changes it has not produced yet, past the
        session timeout: the standby takes over and rebuilds. Resumed, the old holder tries to
        produce and is fenced (Kafka transactions): none of its records becomes visible, it says
        so, and ClickHouse ends equal to MariaDB."""
        s = Setup("kafka_fence")
        s.reset()
        w = Workload(s.db, 17)
        w.setup(batches=200)
        w.run(100)
        s.run("capture")
        cfg_a = os.path.join(s.dir, "transform-a.yaml")
        cfg_b = os.path.join(s.dir, "transform-b.yaml")
        with open(s.configs["transform"]) as f:
            base = f.read().replace("  topic.partitions: 3\n", "  topic.partitions: 3\n  session.timeout.ms: 6000\n")
        with open(cfg_a, "w") as g:
            # A checkpoints (and produces) only every minute: paused, it holds unproduced changes.
            g.write(base.replace("  batch.max.delay.ms: 200\n", "  batch.max.delay.ms: 60000\n"))
        with open(cfg_b, "w") as g:
            g.write(base.replace("dir: state-transform", "dir: state-transform-b"))
        a = s.start_transform(cfg_a, "a.log")
        try:
            s.wait_for_log(self, "a.log", "resuming from this state directory's checkpoint")
            time.sleep(2)  # A has rebuilt the views and produced its first checkpoint
            b = s.start_transform(cfg_b, "b.log")
            s.wait_for_log(self, "b.log", "standing by")
            w.run(150)
            s.run("capture")
            time.sleep(3)  # A derives view changes from them, not produced before its next minute
            a.send_signal(signal.SIGSTOP)
            s.wait_for_log(self, "b.log", "taking over the views from member", timeout=90)
            w.run(100)
            s.run("capture")
            time.sleep(3)
            a.send_signal(signal.SIGCONT)
            # A notices it lost the lease; its attempt to write is fenced.
            s.wait_for_log(self, "a.log", "fenced")
            a.send_signal(signal.SIGTERM)
            a.wait(timeout=60)
            b.send_signal(signal.SIGTERM)
            self.assertEqual(b.wait(timeout=120), 0, s.log("b.log")[-3000:])
        finally:
            s.kill_started()
        out = subprocess.run([SLUICE, "transform", cfg_b, "--exit-when-caught-up"], capture_output=True, text=True,
                             timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        s.run("sink")
        compare_views(self, s)

    def test_transaction_metadata_keeps_source_transactions_whole(self):
        """provide.transaction.metadata: a view over two tables, fed by transactions that move
        amounts between rows of both (3 partitions each), never shows half of a transaction: every
        record of the view topic has the invariant total, also across a kill -9 of `transform`."""
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from kafka_test import read_topic  # noqa: E402
        import json
        s = Setup("kafka_txn_whole")
        s.reset()
        with open(os.path.join(s.dir, "views.sql"), "w") as f:
            # Every transaction adds an even amount to sum(ver) and keeps sum(bal) and count(*):
            # a record showing part of one has an odd sum(ver), another total or another count.
            f.write("CREATE MATERIALIZED VIEW total AS SELECT grp, CAST(sum(bal) AS BIGINT) AS total, count(*) AS n, "
                    "CAST(sum(ver) AS BIGINT) AS vers "
                    "FROM (SELECT grp, bal, ver FROM a UNION ALL SELECT grp, bal, ver FROM b) t GROUP BY grp;\n")
        for stage, path in s.configs.items():
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("  database.include.list:",
                                     "  provide.transaction.metadata: true\n  database.include.list:")
                        .replace("  topic.partitions: 3\n", "  topic.partitions: 3\n  session.timeout.ms: 6000\n"))
        mysql("CREATE TABLE a (id INT PRIMARY KEY, grp INT NOT NULL, bal BIGINT NOT NULL, ver INT NOT NULL);"
              "CREATE TABLE b (id INT PRIMARY KEY, grp INT NOT NULL, bal BIGINT NOT NULL, ver INT NOT NULL);"
              "INSERT INTO a SELECT seq, 1, 1000, 0 FROM seq_1_to_200; "
              "INSERT INTO b SELECT seq, 1, 1000, 0 FROM seq_1_to_200;", db=s.db)
        s.run("capture")
        rnd = random.Random(5)

        next_id = [1000]

        def burst(n):
            stmts = []
            for _ in range(n):
                k = rnd.randint(1, 50)
                # Rows 101..200 stay where they are (a move takes the lowest id of its table).
                x, y = rnd.randint(101, 200), rnd.randint(101, 200)
                kind = rnd.random()
                if kind < 0.6:  # a transfer from a to b (or back)
                    src, dst = ("a", "b") if rnd.random() < 0.5 else ("b", "a")
                    stmts.append(f"START TRANSACTION; UPDATE {src} SET bal = bal - {k}, ver = ver + 1 WHERE id = {x}; "
                                 f"UPDATE {dst} SET bal = bal + {k}, ver = ver + 1 WHERE id = {y}; COMMIT;")
                elif kind < 0.8:  # within one table, rows in different partitions
                    y = 101 + (x - 100) % 100 if y == x else y  # two rows: each update changes one row
                    stmts.append(f"START TRANSACTION; UPDATE a SET bal = bal - {k}, ver = ver + 1 WHERE id = {x}; "
                                 f"UPDATE a SET bal = bal + {k}, ver = ver + 1 WHERE id = {y}; "
                                 f"UPDATE b SET bal = bal + 1, ver = ver + 1 WHERE id = {x}; "
                                 f"UPDATE b SET bal = bal - 1, ver = ver + 1 WHERE id = {y}; COMMIT;")
                else:  # a row moves from one table to the other (delete + insert)
                    next_id[0] += 1
                    src, dst = ("a", "b") if rnd.random() < 0.5 else ("b", "a")
                    stmts.append(f"START TRANSACTION; INSERT INTO {dst} SELECT {next_id[0]}, grp, bal, ver + 2 FROM {src} "
                                 f"WHERE id = (SELECT min(id) FROM {src}); DELETE FROM {src} WHERE id = "
                                 f"(SELECT min(id) FROM (SELECT id FROM {src}) z); COMMIT;")
            mysql("\n".join(stmts), db=s.db)
            s.run("capture")

        try:
            t = s.start_transform(s.configs["transform"], "transform-1.log")
            for i in range(16):
                burst(20)
                time.sleep(0.3)
                if i == 7:
                    t.send_signal(signal.SIGKILL)
                    t.wait()
                    t = s.start_transform(s.configs["transform"], "transform-2.log")
                    # The killed member leaves the group after its session.
                    s.wait_for_log(self, "transform-2.log", "holding the lease")
            s.run("capture")
            t.send_signal(signal.SIGTERM)
            self.assertEqual(t.wait(timeout=120), 0)
            out = s.run("transform")  # whatever the stopped one had not applied yet
        finally:
            s.kill_started()
        self.assertRegex(out.stderr, r"\b0 transaction\(s\) applied incomplete")
        records = read_topic(f"{s.prefix}.total")
        values = [json.loads(m.value()) for m in records if m.value()]
        afters = [v.get("payload", v)["after"] for v in values]
        # The snapshot (op "r", no transaction) is applied as it arrives: its rows are not one
        # source transaction. Every record after it must show whole transactions.
        afters = [a for a in afters if a and int(a["vers"]) > 0]
        self.assertGreater(len(afters), 8, f"the view changed with the bursts ({len(records)} records)")
        bad = [a for a in afters if (int(a["total"]), int(a["n"])) != (400000, 400) or int(a["vers"]) % 2]
        self.assertEqual(bad, [], "a view record showed part of a source transaction")
        self.assertGreater(len({int(a["vers"]) for a in afters}), 8)
        got = mysql("SELECT sum(bal), count(*) FROM (SELECT bal FROM a UNION ALL SELECT bal FROM b) t", db=s.db)
        self.assertEqual([str(x) for x in got[0]], ["400000", "400"])

    def test_transaction_metadata_with_empty_partitions(self):
        """provide.transaction.metadata over a table whose topic has empty partitions (one row, three
        partitions) and another whose topic is empty: the gate waits for snapshot rows only where
        there can be some, so the view shows every transaction and nothing stays held."""
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from kafka_test import read_topic  # noqa: E402
        import json
        s = Setup("kafka_txn_empty")
        s.reset()
        with open(os.path.join(s.dir, "views.sql"), "w") as f:
            f.write("CREATE MATERIALIZED VIEW one AS SELECT grp, CAST(sum(v) AS BIGINT) AS total, count(*) AS n "
                    "FROM (SELECT grp, v FROM solo UNION ALL SELECT grp, v FROM empty) t GROUP BY grp;\n")
        for stage, path in s.configs.items():
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("  database.include.list:",
                                     "  provide.transaction.metadata: true\n  database.include.list:"))
        mysql("CREATE TABLE solo (id INT PRIMARY KEY, grp INT NOT NULL, v INT NOT NULL);"
              "CREATE TABLE empty (id INT PRIMARY KEY, grp INT NOT NULL, v INT NOT NULL);"
              "INSERT INTO solo VALUES (1, 1, 0);", db=s.db)
        s.run("capture")
        mysql("".join(f"UPDATE solo SET v = {i} WHERE id = 1;" for i in range(1, 11)), db=s.db)
        s.run("capture")

        def totals():
            records = read_topic(f"{s.prefix}.one")
            values = [json.loads(m.value()) for m in records if m.value()]
            return [int(v.get("payload", v)["after"]["total"]) for v in values if v.get("payload", v)["after"]]

        # Running (not --exit-when-caught-up): the empty partitions settle from their fetches.
        p = s.start_transform(s.configs["transform"], "transform.log")
        try:
            deadline = time.time() + 60
            while time.time() < deadline and (not totals() or totals()[-1] != 10):
                time.sleep(0.5)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 0)
        finally:
            s.kill_started()
        text = s.log("transform.log")
        self.assertEqual(totals()[-1], 10, text[-3000:])
        self.assertRegex(text, r"\b0 change\(s\) of unfinished source transactions held")
        self.assertRegex(text, r"\b0 transaction\(s\) applied incomplete")
        # --exit-when-caught-up after more transactions: it does not leave before they are applied.
        mysql("".join(f"UPDATE solo SET v = {i} WHERE id = 1;" for i in range(11, 16)), db=s.db)
        s.run("capture")
        out = s.run("transform", timeout=120)
        self.assertRegex(out.stderr, r"\b0 change\(s\) of unfinished source transactions held")
        self.assertRegex(out.stderr, r"\b0 transaction\(s\) applied incomplete")
        self.assertEqual(totals()[-1], 15)

    def test_transform_without_a_source_connection_reads_columns_from_the_topics(self):
        """A transform config without source.database.*: the tables' columns come from their
        topics (the newest record's schema header); the views equal MariaDB's queries. A view over
        a table whose topic holds no record says so."""
        s = Setup("kafka_nodb")
        s.reset()
        w = Workload(s.db, 13)
        w.setup(batches=300)
        w.run(100)
        with open(s.configs["transform"]) as f:
            text = f.read()
        text = re.sub(r"  database\.(hostname|port|user|password|server\.id): .*\n", "", text)
        self.assertNotIn("database.hostname", text)
        with open(s.configs["transform"], "w") as f:
            f.write(text)
        s.run("capture")
        out = s.run("transform")
        self.assertIn("come from their topics", out.stderr)
        s.run("sink")
        compare_views(self, s)
        chk = subprocess.run([SLUICE, "check", s.configs["transform"]], capture_output=True, text=True, timeout=120)
        self.assertEqual(chk.returncode, 0, chk.stdout + chk.stderr[-2000:])
        self.assertIn("reads the tables' columns from their topics", chk.stdout)
        self.assertIn("views: ok", chk.stdout)
        w.run(100)
        s.run("capture")
        s.run("transform")
        s.run("sink")
        compare_views(self, s)
        # A view over a table captured later whose topic has no record yet: a clear error naming it.
        mysql("CREATE TABLE later (id INT PRIMARY KEY, v INT)", db=s.db)
        s.run("capture")
        with open(os.path.join(s.dir, "views.sql"), "a") as f:
            f.write("\nCREATE MATERIALIZED VIEW later_v AS SELECT id, v FROM later;\n")
        out = s.run("transform", "--reset-offsets", "earliest", check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("later", out.stderr)

    def test_risingwave_source_ddl_carries_over(self):
        """A RisingWave script: the topics declared with CREATE TABLE ... WITH (connector='kafka')
        FORMAT DEBEZIUM ENCODE JSON (one under another name than the MySQL table), views over them.
        `transform` and `run` both accept it; bad declarations say what is wrong and where."""
        s = Setup("kafka_rwddl")
        s.reset()
        w = Workload(s.db, 9)
        w.setup(batches=200)
        w.run(50)
        t_batches, t_fac = f"{s.prefix}.{s.db}.batches", f"{s.prefix}.{s.db}.facilities"
        script = f"""-- exported from RisingWave
CREATE TABLE batches (
  id INT, facility_id INT, material_id INT, qty DECIMAL, price DECIMAL, currency VARCHAR,
  received DATE, expiry DATE, note VARCHAR,
  PRIMARY KEY (id)
) WITH (
  connector = 'kafka', topic = '{t_batches}', properties.bootstrap.server = '{BOOTSTRAP}',
  scan.startup.mode = 'earliest'
) FORMAT DEBEZIUM ENCODE JSON;
CREATE TABLE IF NOT EXISTS fac (id INT PRIMARY KEY, name VARCHAR, province_id INT)
WITH (connector = 'kafka', topic = '{t_fac}', properties.bootstrap.server = '{BOOTSTRAP}')
FORMAT DEBEZIUM ENCODE JSON;

CREATE MATERIALIZED VIEW stock_balance AS
SELECT b.facility_id, b.material_id, f.name AS facility, sum(b.qty) AS qty, count(*) AS batches
FROM batches b JOIN fac f ON f.id = b.facility_id
GROUP BY b.facility_id, b.material_id, f.name;
CREATE MATERIALIZED VIEW big_batches AS SELECT id, facility_id, qty FROM batches WHERE qty >= 100;
"""
        with open(os.path.join(s.dir, "views.sql"), "w") as f:
            f.write(script)
        s.run("capture")
        s.run("transform")
        s.run("sink")
        w.run(50)
        s.run("capture")
        s.run("transform")
        s.run("sink")
        for v in ("stock_balance", "big_batches"):
            compare_view(self, s, v)

        # The same script in one process (`sluice run`, no Kafka): the declarations name the
        # captured tables by their topics.
        run_cfg = os.path.join(s.dir, "run.yaml")
        with open(s.configs["transform"]) as f:
            cfg = f.read()
        with open(run_cfg, "w") as f:
            f.write(cfg.replace("  type: kafka\n", "  type: embedded\n").replace(f"database: {s.ch_db}",
                                                                              f"database: {s.ch_db}_run"))
        ch(f"DROP DATABASE IF EXISTS {s.ch_db}_run")
        out = subprocess.run([SLUICE, "run", run_cfg, "--exit-when-caught-up"], capture_output=True, text=True,
                             timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        self.assertIn(f"table fac is {s.db}.facilities (topic {t_fac})", out.stderr)

        class RunDb:
            db, ch_db = s.db, f"{s.ch_db}_run"
        for v in ("stock_balance", "big_batches"):
            compare_view(self, RunDb, v)

        # Bad declarations: file:line:column and what to do.
        cases = [
            (script.replace(t_fac, "nope.topic"), r"views\.sql:\d+:1: CREATE TABLE fac: topic 'nope\.topic' is not "
             r"the topic of a captured table"),
            (script.replace("province_id INT)", "province_id INT, colour INT)"),
             r"views\.sql:\d+:1: CREATE TABLE fac: column colour is not a column of kafka_rwddl\.facilities"),
            (script.replace("FORMAT DEBEZIUM ENCODE JSON;\n\nCREATE MATERIALIZED",
                            "FORMAT PLAIN ENCODE JSON;\n\nCREATE MATERIALIZED"),
             r"views\.sql:\d+:1: CREATE TABLE fac: FORMAT PLAIN ENCODE JSON is not supported"),
            (script.replace("connector = 'kafka', topic = '" + t_fac, "connector = 'pulsar', topic = '" + t_fac),
             r"CREATE TABLE fac: connector 'pulsar' is not supported"),
            (script.replace("id INT PRIMARY KEY, name", "id INT, name"), r"CREATE TABLE fac: FORMAT DEBEZIUM needs a "
             r"PRIMARY KEY"),
            (script.replace("PRIMARY KEY (id)", "PRIMARY KEY (facility_id)"),
             r"CREATE TABLE batches: PRIMARY KEY \(facility_id\) differs from the primary key \(id\)"),
            (script.replace("CREATE TABLE IF NOT EXISTS fac (id INT PRIMARY KEY, name VARCHAR, province_id INT)\nWITH",
                            "CREATE TABLE IF NOT EXISTS fac (id INT PRIMARY KEY, name VARCHAR, province_id INT)\nWITH ("
                            "connector = 'kafka', topic = 'x'"),
             r"views\.sql:11:\d+: expected an option name in WITH"),
            ("CREATE TABLE t (id INT PRIMARY KEY);", r"views\.sql:1:1: unsupported: CREATE TABLE t without WITH"),
            ("CREATE SOURCE s (id INT) WITH (connector = 'kafka', topic = 'x') FORMAT PLAIN ENCODE JSON;",
             r"views\.sql:1:1: unsupported: CREATE SOURCE"),
        ]
        for text, pattern in cases:
            with open(os.path.join(s.dir, "views.sql"), "w") as f:
                f.write(text)
            out = subprocess.run([SLUICE, "check", run_cfg], capture_output=True, text=True, timeout=120)
            self.assertNotEqual(out.returncode, 0, text)
            self.assertRegex(out.stderr + out.stdout, pattern, text)


class TransformFaults(unittest.TestCase):
    """Stops a shared broker: run alone (RUN_SERIAL)."""

    def test_broker_restart_under_parallel_transform(self):
        """One broker of three stopped and restarted while `sluice transform` (parallelism 2: many
        tasks, each with its own Kafka transactions, some coordinated by that broker) starts and works
        through a backlog (replication factor 3): view topics it creates meanwhile wait for the
        broker (too few registered for the replication factor), offsets asked of a moved leader are
        asked again, and the views end equal to MariaDB — nothing lost, nothing doubled."""
        if int(setting("SLUICE_KAFKA_BROKERS", "1")) < 3:
            self.fail("needs KAFKA_BROKERS=3 (make test starts three brokers)")
        s = Setup("kafka_tfbrk")
        for stage, path in s.configs.items():
            with open(path) as f:
                text = f.read().replace("  topic.partitions: 3\n", "  topic.partitions: 3\n  topic.replication.factor: 3\n")
            if stage == "transform":
                text = text.replace("  memory.max.bytes: 1048576\n", "  memory.max.bytes: 1048576\n  parallelism: 2\n")
            with open(path, "w") as f:
                f.write(text)
        s.reset()
        w = Workload(s.db, 23)
        w.setup(batches=300)
        w.run(300)
        s.run("capture")
        t = s.start_transform(s.configs["transform"], "transform.log")
        try:
            s.wait_for_log(self, "transform.log", "holding the lease")
            services("stop", "kafka-2")
            w.run(200)
            s.run("capture")
            time.sleep(5)
            services("start", "kafka-2")
            w.run(100)
            s.run("capture")
            time.sleep(5)
            t.send_signal(signal.SIGTERM)
            self.assertEqual(t.wait(timeout=180), 0, s.log("transform.log")[-3000:])
        finally:
            s.kill_started()
        out = s.run("transform")
        self.assertIn("transform stopped (caught up)", out.stderr)
        s.run("sink")
        compare_views(self, s)


if __name__ == "__main__":
    unittest.main()
