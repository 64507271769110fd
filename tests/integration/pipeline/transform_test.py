"""Kafka mode with views: MariaDB -> `sluice capture` -> Kafka -> `sluice transform` -> view topics
-> `sluice sink` -> ClickHouse. The view tables must equal the same queries run by MariaDB, also
after a kill -9 of `transform` mid-stream (state and input offsets come back together) and after
`--reset-offsets earliest` rebuilds the views from the topics.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import CH_PORT, MYSQL_PORT, MYSQL_PW, MYSQL_USER, SLUICE, ch, mysql, setting  # noqa: E402
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
  database.server.id: {5900 + random.randint(0, 90)}
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
        for stage in ("capture", "transform", "sink"):
            path = os.path.join(self.dir, f"{stage}.yaml")
            with open(path, "w") as f:
                f.write(base.format(stage=stage))
            self.configs[stage] = path

    def reset(self):
        mysql(f"DROP DATABASE IF EXISTS `{self.db}`; CREATE DATABASE `{self.db}`;")
        ch(f"DROP DATABASE IF EXISTS {self.ch_db}")

    def run(self, stage, *extra, check=True, timeout=300):
        out = subprocess.run([SLUICE, stage, self.configs[stage], "--exit-when-caught-up", *extra],
                             capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"sluice {stage} exited {out.returncode}\n{out.stderr[-4000:]}")
        return out


VIEW_NAMES = ["stock_balance", "stock_value", "big_batches"]


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


if __name__ == "__main__":
    unittest.main()
