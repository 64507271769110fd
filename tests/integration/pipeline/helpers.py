"""Helpers for end-to-end tests against the real MariaDB and ClickHouse of scripts/services.

Standard library only: MariaDB through the `mariadb` command-line client, ClickHouse over HTTP.
"""
import fcntl
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _run_env():
    env = {}
    path = os.path.join(os.environ.get("SLUICE_RUN_DIR", os.path.join(ROOT, ".run")), "env")
    if os.path.exists(path):
        for line in open(path):
            if line.startswith("export ") and "=" in line:
                k, v = line[7:].strip().split("=", 1)
                env[k] = v.strip("'\"")
    return env


_ENV = _run_env()


def setting(name, default):
    return os.environ.get(name) or _ENV.get(name) or default


MYSQL_PORT = int(setting("SLUICE_MYSQL_PORT", "13306"))
MYSQL_ROOT_PW = setting("SLUICE_MYSQL_ROOT_PASSWORD", "root")
MYSQL_USER = setting("SLUICE_MYSQL_USER", "sluice")
MYSQL_PW = setting("SLUICE_MYSQL_PASSWORD", "sluice")
CH_PORT = int(setting("SLUICE_CH_HTTP_PORT", "18123"))
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build", "sluice"))


def server_id():
    """A replica server id no other test (of any process, ctest -j) holds: MariaDB drops the older
    of two replicas registered with the same id ("A slave with the same server_id is already
    connected"). A counter under an exclusive lock, cycling through 10000-59999."""
    path = os.path.join(tempfile.gettempdir(), "sluice-test-server-ids")
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read().strip()
        last = int(text) if text.isdigit() else 10000 + os.getpid() % 50000
        sid = 10000 + (last + 1 - 10000) % 50000
        f.seek(0)
        f.truncate()
        f.write(str(sid))
        return sid


def mysql(sql, db=None, user="root", password=None):
    """Runs SQL as root (UTC session); returns rows as lists of str/None."""
    args = ["mariadb", "--protocol=tcp", "-h127.0.0.1", f"-P{MYSQL_PORT}", f"-u{user}",
            f"-p{MYSQL_ROOT_PW if password is None else password}", "--batch", "--raw", "--skip-column-names",
            "--default-character-set=utf8mb4"]
    if db:
        args.append(db)
    out = subprocess.run(args, input="SET time_zone = '+00:00';\n" + sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"mariadb failed: {out.stderr}\nSQL: {sql[:500]}")
    rows = []
    for line in out.stdout.splitlines():
        rows.append([None if f == "NULL" else f for f in line.split("\t")])
    return rows


def ch(query, check=True):
    """Runs a ClickHouse query over HTTP; returns the response text."""
    req = urllib.request.Request(f"http://127.0.0.1:{CH_PORT}/", data=query.encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        if check:
            raise RuntimeError(f"ClickHouse: {e.read().decode()[:1000]}\nquery: {query[:500]}")
        return None


def ch_rows(query):
    """Rows of a ClickHouse query as lists of str/None (JSONCompact)."""
    text = ch(query + " FORMAT JSONCompact")
    import decimal
    data = json.loads(text, parse_float=decimal.Decimal)["data"]
    return [[None if v is None else str(v) for v in row] for row in data]


class Pipeline:
    """A pipeline config in a temporary directory and the sluice processes run with it."""

    def __init__(self, name, source_extra="", sink_extra="", snapshot_mode="initial", database=None, views=None,
                 view_memory=None):
        self.dir = tempfile.mkdtemp(prefix=f"sluice-{name}-")
        self.db = database or name
        self.ch_db = f"{name}_olap"
        self.config = os.path.join(self.dir, "pipeline.yaml")
        transform = ""
        if views is not None:  # CREATE MATERIALIZED VIEW statements -> views.sql, transform.sql
            self.write_views(views)
            transform = "transform:\n  sql: [views.sql]\n"
            if view_memory:  # transform.memory.max.bytes: a small budget makes view state spill to RocksDB
                transform += f"  memory.max.bytes: {view_memory}\n"
        with open(self.config, "w") as f:
            f.write(f"""source:
  database.hostname: 127.0.0.1
  database.port: {MYSQL_PORT}
  database.user: {MYSQL_USER}
  database.password: {MYSQL_PW}
  database.server.id: {server_id()}
  topic.prefix: it
  database.include.list: {self.db}
  snapshot.mode: {snapshot_mode}
{source_extra}
{transform}sink:
  type: clickhouse
  hostname: 127.0.0.1
  port: {CH_PORT}
  database: {self.ch_db}
  batch.max.delay.ms: 200
{sink_extra}
state:
  dir: state
""")
        self.proc = None

    def write_views(self, text):
        with open(os.path.join(self.dir, "views.sql"), "w") as f:
            f.write(text)

    def reset(self):
        mysql(f"DROP DATABASE IF EXISTS `{self.db}`; CREATE DATABASE `{self.db}`;")
        ch(f"DROP DATABASE IF EXISTS {self.ch_db}")

    def run(self, *args, timeout=300, check=True):
        out = subprocess.run([SLUICE, *args], capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"sluice {' '.join(args)} exited {out.returncode}\n{out.stderr[-4000:]}")
        return out

    def catch_up(self, timeout=300):
        return self.run("run", self.config, "--exit-when-caught-up", timeout=timeout)

    def start(self):
        self.log = open(os.path.join(self.dir, "run.log"), "a")
        self.proc = subprocess.Popen([SLUICE, "run", self.config], stdout=self.log, stderr=self.log)

    def kill9(self):
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None
            self.log.close()

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=60)
            self.proc = None
            self.log.close()
            return rc
        return 0


def services(*args):
    """Runs scripts/services (e.g. restart mariadb) for fault tests."""
    env = dict(os.environ)
    # Restart with the topology that was started (e.g. two ClickHouse replicas).
    env.setdefault("CH_REPLICAS", setting("SLUICE_CH_REPLICAS", "1"))
    env.setdefault("KAFKA_BROKERS", setting("SLUICE_KAFKA_BROKERS", "1"))
    out = subprocess.run([os.path.join(ROOT, "scripts", "services"), *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/services {' '.join(args)} failed: {out.stdout}{out.stderr}")
