"""A private MariaDB server for one test: its own datadir, port and socket under a temporary
directory, started the way scripts/services starts the shared one (mariadb-install-db, then
mariadbd with the binlog settings capture needs) plus any extra flags (TLS, replication), and
stopped by the test. Standard library only.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from helpers import SLUICE


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mariadbd():
    for name in ("mariadbd", "mysqld"):
        p = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
        if p:
            return p
    raise RuntimeError("mariadbd not found: run scripts/install-deps")


class PrivateMariaDB:
    """One mariadbd. `server_id` and `log_bin` name its binlog identity; `extra` are more flags."""

    def __init__(self, name, server_id=1, log_bin="mysql-bin", extra=()):
        self.dir = tempfile.mkdtemp(prefix=f"sluice-{name}-")
        self.port = free_port()
        # Unix socket paths are limited to 108 bytes.
        self.socket = os.path.join(self.dir, "s.sock")
        self.server_id = server_id
        self.log_bin = log_bin
        self.extra = list(extra)
        self.proc = None
        self.log_path = os.path.join(self.dir, "mariadbd.log")

    def start(self, timeout=60):
        data = os.path.join(self.dir, "data")
        # Each server its own tmpdir, also while bootstrapping: two bootstraps sharing /tmp (ctest -j)
        # failed with "Could not remove temporary table '/tmp/#sql-temptable-...'".
        tmp = os.path.join(self.dir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        if not os.path.exists(data):
            out = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                                  "--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve",
                                  f"--tmpdir={tmp}"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"mariadb-install-db failed: {out.stdout}{out.stderr}")
        args = [_mariadbd(), "--no-defaults", "--user=root", f"--datadir={data}",
                f"--tmpdir={tmp}", f"--socket={self.socket}",
                f"--pid-file={os.path.join(self.dir, 'mariadbd.pid')}", f"--port={self.port}",
                "--bind-address=127.0.0.1", "--skip-name-resolve", f"--log-bin={self.log_bin}", "--binlog-format=ROW",
                "--binlog-row-image=FULL", f"--server-id={self.server_id}", "--log-slave-updates=ON",
                "--gtid-strict-mode=ON", "--binlog-checksum=CRC32", "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M", "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci", *self.extra]
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited {self.proc.returncode}:\n{open(self.log_path).read()[-3000:]}")
            if self.root("SELECT 1", check=False) is not None:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"mariadbd did not become ready in {timeout} s:\n{open(self.log_path).read()[-3000:]}")
        # The CDC user (as scripts/services creates it), kept out of the binlog.
        self.root("SET sql_log_bin = 0; DROP USER IF EXISTS ''@'localhost';"
                  "CREATE USER IF NOT EXISTS 'sluice'@'%' IDENTIFIED BY 'sluice';"
                  "GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, BINLOG MONITOR, "
                  "REPLICATION MASTER ADMIN, SLAVE MONITOR ON *.* TO 'sluice'@'%';"
                  "CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl';"
                  "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'; FLUSH PRIVILEGES;")
        return self

    def root(self, sql, check=True):
        """Runs SQL as root over the unix socket; rows as lists of str/None (None on failure when not check)."""
        out = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "--batch", "--raw",
                              "--skip-column-names"], input=sql, capture_output=True, text=True)
        if out.returncode != 0:
            if check:
                raise RuntimeError(f"mariadb failed: {out.stderr}\nSQL: {sql[:500]}")
            return None
        return [[None if f == "NULL" else f for f in line.split("\t")] for line in out.stdout.splitlines()]

    def value(self, sql):
        return self.root(sql)[0][0]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def write_capture_config(path, port, db, server_id=5490, snapshot_mode="initial", extra=""):
    with open(path, "w") as f:
        f.write(f"""source:
  database.hostname: 127.0.0.1
  database.port: {port}
  database.user: sluice
  database.password: sluice
  database.server.id: {server_id}
  topic.prefix: it
  database.include.list: {db}
  snapshot.mode: {snapshot_mode}
{extra}
state:
  dir: state
""")


def capture(config, timeout=120, check=True):
    """`sluice capture CONFIG --output jsonl --exit-when-caught-up`: (events, stderr, returncode)."""
    import json
    out = subprocess.run([SLUICE, "capture", config, "--output", "jsonl", "--exit-when-caught-up"],
                         capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"sluice capture exited {out.returncode}\n{out.stderr[-4000:]}")
    events = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return events, out.stderr, out.returncode
