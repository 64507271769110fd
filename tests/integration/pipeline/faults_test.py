"""Fault matrix of `sluice run` (issue 7): each case ends with ClickHouse equal to MariaDB.

- kill -9 while an INSERT is in flight (ClickHouse has committed it, sluice has not heard back);
- ClickHouse answering some INSERTs with errors (before and after taking the rows, or dropping the
  connection mid-request);
- kill -9 at each named point of a checkpoint (SLUICE_CRASH_AT, src/common/crash_point.h): after an
  insert but before the offset, before/after the offset write, while view state spills or commits;
- the state directory's disk full, then space freed.

ClickHouse, MariaDB and RocksDB are the real ones; faults on the ClickHouse path come from a small
HTTP proxy between sluice and the real server (FaultProxy), as toxiproxy would inject them.
"""
import http.client
import zlib
import http.server
import os
import random
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_test import compare_table  # noqa: E402
from helpers import CH_PORT, SLUICE, Pipeline, ch, ch_rows, mysql  # noqa: E402

VIEWS = """
CREATE MATERIALIZED VIEW totals AS
  SELECT grp, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY grp;
CREATE MATERIALIZED VIEW tagged AS
  SELECT t.id, t.v, g.label FROM t JOIN g ON t.grp = g.grp WHERE t.v % 2 = 0;
"""


class FaultProxy:
    """HTTP proxy in front of the real ClickHouse that injects faults into INSERT requests.

    mode "pass": forward everything. mode "errors": of the INSERTs, every third one fails, in turn
    (a) with a 500 before ClickHouse sees it, (b) with a 500 after ClickHouse has taken the rows,
    (c) by closing the connection after ClickHouse has taken the rows. mode "hold": the
    `hold_at`-th INSERT is never answered (held.set()); with `forward` ClickHouse commits it first,
    without, ClickHouse never sees it.
    """

    def __init__(self, mode="pass", hold_at=1, forward=True):
        self.mode, self.hold_at, self.forward = mode, hold_at, forward
        self.inserts = 0
        self.injected = {"500-before": 0, "500-after": 0, "reset-after": 0}
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self, method, body):
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "expect", "connection", "content-length")}
                conn = http.client.HTTPConnection("127.0.0.1", CH_PORT, timeout=120)
                conn.request(method, self.path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                conn.close()
                return r.status, [(k, v) for k, v in r.getheaders()
                                  if k.lower() not in ("transfer-encoding", "connection", "content-length",
                                                       "keep-alive")], data

            def _reply(self, status, headers, data):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                is_insert = "INSERT" in self.path.upper() or "INSERT%20" in self.path.upper()
                fault = None
                if is_insert:
                    with proxy.lock:
                        proxy.inserts += 1
                        k = proxy.inserts
                    if proxy.mode == "errors" and k % 3 == 0:
                        fault = ("500-before", "500-after", "reset-after")[(k // 3) % 3]
                    if proxy.mode == "hold" and k == proxy.hold_at:
                        fault = "hold"
                if fault == "500-before":
                    proxy.injected[fault] += 1
                    self._reply(500, [], b"Code: 252, e.displayText() = DB::Exception: Too many parts "
                                         b"(injected by the test proxy)\n")
                    return
                if fault == "hold" and not proxy.forward:
                    proxy.held.set()
                    proxy.release.wait(300)
                    self.close_connection = True
                    return
                status, headers, data = self._forward(method, body)
                if fault == "500-after" and status == 200:
                    proxy.injected[fault] += 1
                    self._reply(500, [], b"Code: 159, e.displayText() = DB::Exception: Timeout exceeded "
                                         b"(injected by the test proxy after the insert)\n")
                    return
                if fault == "reset-after" and status == 200:
                    proxy.injected[fault] += 1
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "hold":
                    proxy.held.set()
                    proxy.release.wait(300)
                    self.close_connection = True
                    return
                self._reply(status, headers, data)

            def do_POST(self):  # noqa: N802
                self._handle("POST")

            def do_GET(self):  # noqa: N802
                self._handle("GET")

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def proxied(p, port):
    """Points the pipeline's sink at `port` (the proxy)."""
    with open(p.config) as f:
        cfg = f.read()
    with open(p.config, "w") as f:
        f.write(cfg.replace(f"  port: {CH_PORT}\n", f"  port: {port}\n"))


def direct(p, port):
    with open(p.config) as f:
        cfg = f.read()
    with open(p.config, "w") as f:
        f.write(cfg.replace(f"  port: {port}\n", f"  port: {CH_PORT}\n"))


def write_batch(db, rnd, first_id, n):
    """One transaction of inserts, updates and deletes on t (and a label change in g)."""
    stmts = ["START TRANSACTION"]
    for i in range(n):
        stmts.append(f"INSERT INTO t VALUES ({first_id + i}, {rnd.randint(1, 5)}, {rnd.randint(-1000, 1000)}, "
                     f"'n{first_id + i}') ON DUPLICATE KEY UPDATE v = v + 1")
    stmts.append(f"UPDATE t SET v = v * 3 - 7, note = 'u' WHERE id % 17 = {rnd.randint(0, 16)}")
    stmts.append(f"DELETE FROM t WHERE id % 29 = {rnd.randint(0, 28)} AND v > 0")
    stmts.append(f"UPDATE g SET label = 'L{rnd.randint(0, 99)}' WHERE grp = {rnd.randint(1, 5)}")
    stmts.append("COMMIT")
    mysql(";\n".join(stmts) + ";", db=db)


def setup(p, rows=2000):
    p.reset()
    mysql("CREATE TABLE t (id INT PRIMARY KEY, grp INT NOT NULL, v BIGINT NOT NULL, note VARCHAR(20));"
          "CREATE TABLE g (grp INT PRIMARY KEY, label VARCHAR(20));"
          "INSERT INTO g VALUES (1,'a'),(2,'b'),(3,'c'),(4,'d'),(5,'e');"
          f"INSERT INTO t SELECT seq, seq % 5 + 1, CAST(seq * 7 % 1000 AS SIGNED) - 500, 'init' FROM seq_1_to_{rows};", db=p.db)


def compare_all(test, p, views=True):
    compare_table(test, p.db, p.ch_db, "t", [("grp", "", "int"), ("v", "", "int"), ("note", "", "hex")])
    compare_table(test, p.db, p.ch_db, "g", [("label", "", "hex")], key="grp")
    if not views:
        return
    m = mysql("SELECT grp, count(*), sum(v), min(v), max(v) FROM t GROUP BY grp ORDER BY grp", db=p.db)
    c = ch_rows(f"SELECT toString(grp), toString(n), toString(s), toString(lo), toString(hi) FROM {p.ch_db}.totals "
                "FINAL WHERE _is_deleted = 0 ORDER BY grp")
    test.assertEqual(m, c, "view totals differs from MariaDB")
    m = mysql("SELECT t.id, t.v, g.label FROM t JOIN g ON t.grp = g.grp WHERE t.v % 2 = 0 ORDER BY t.id", db=p.db)
    c = ch_rows(f"SELECT toString(id), toString(v), label FROM {p.ch_db}.tagged FINAL WHERE _is_deleted = 0 "
                "ORDER BY id")
    test.assertEqual(m, c, "view tagged differs from MariaDB")


class FaultMatrix(unittest.TestCase):
    def test_kill9_during_clickhouse_insert(self):
        # An INSERT whose answer never reaches sluice, committed by ClickHouse or not; kill -9 then.
        # The restart replays from the stored offset: rows ClickHouse has come again with the same
        # _version and collapse; rows it never saw arrive (the offset had not moved past them).
        p = Pipeline("flt_insert", views=VIEWS, sink_extra="  batch.max.rows: 500\n")
        setup(p)
        rnd = random.Random(7)
        for hold_at, forward in ((2, True), (5, False), (9, True), (3, False)):
            proxy = FaultProxy("hold", hold_at=hold_at, forward=forward)
            try:
                proxied(p, proxy.port)
                p.start()
                next_id = 10000 + hold_at * 1000
                deadline = time.time() + 60
                while not proxy.held.is_set():
                    self.assertLess(time.time(), deadline, "no INSERT reached the proxy")
                    self.assertIsNone(p.proc.poll(), "sluice exited")
                    write_batch(p.db, rnd, next_id, 50)
                    next_id += 50
                    time.sleep(0.05)
                p.kill9()
            finally:
                proxy.close()
                direct(p, proxy.port)
            write_batch(p.db, rnd, next_id, 50)
        p.catch_up()
        compare_all(self, p)

    def test_clickhouse_errors_for_some_inserts(self):
        p = Pipeline("flt_errors", views=VIEWS,
                     sink_extra="  batch.max.rows: 300\n  retry.backoff.ms: 50\n  retry.backoff.max.ms: 200\n")
        setup(p)
        proxy = FaultProxy("errors")
        try:
            proxied(p, proxy.port)
            p.start()
            rnd = random.Random(11)
            for i in range(40):
                write_batch(p.db, rnd, 20000 + i * 40, 40)
                time.sleep(0.05)
            time.sleep(2)
            self.assertIsNone(p.proc.poll(), "sluice exited on retryable ClickHouse errors")
            self.assertEqual(p.stop(), 0)
            with open(os.path.join(p.dir, "run.log")) as f:
                log = f.read()
            for kind, n in proxy.injected.items():
                self.assertGreater(n, 0, f"no {kind} fault was injected ({proxy.injected}, {proxy.inserts} inserts)")
            self.assertIn("retry", log.lower())
            # Every fault was retried past; nothing is missing even before a final catch-up run.
            compare_all(self, p)
        finally:
            proxy.close()
            direct(p, proxy.port)

    def _crash_at(self, name, hits, views=True, view_memory=None):
        p = Pipeline(f"flt_{name.replace('.', '_')}", views=VIEWS if views else None, view_memory=view_memory,
                     sink_extra="  batch.max.rows: 400\n")
        setup(p, rows=3000)
        rnd = random.Random(zlib.crc32(name.encode()))
        next_id = 50000
        for hit in hits:
            log = open(os.path.join(p.dir, "crash.log"), "a")
            env = dict(os.environ, SLUICE_CRASH_AT=f"{name}:{hit}")
            proc = subprocess.Popen([SLUICE, "run", p.config], stdout=log, stderr=log, env=env)
            deadline = time.time() + 90
            while proc.poll() is None:
                if time.time() > deadline:
                    proc.kill()
                    self.fail(f"crash point {name}:{hit} was not reached in 90 s")
                write_batch(p.db, rnd, next_id, 30)
                next_id += 30
                time.sleep(0.05)
            log.close()
            if proc.returncode != -signal.SIGKILL:
                with open(os.path.join(p.dir, "crash.log")) as f:
                    self.fail(f"sluice exited {proc.returncode} instead of dying at {name}:{hit}: {f.read()[-3000:]}")
        write_batch(p.db, rnd, next_id, 30)
        p.catch_up()
        with open(os.path.join(p.dir, "crash.log")) as f:
            self.assertIn(f"crash point {name}", f.read())
        compare_all(self, p, views=views)

    def test_kill9_after_insert_before_offset(self):
        self._crash_at("sink.after_insert", [3, 7])

    def test_kill9_before_the_first_checkpoint_leaves_no_ghosts(self):
        # Killed right after ClickHouse took the first snapshot rows: had no offset been stored yet,
        # the restart would take a new snapshot, and rows deleted in between would stay alive in
        # ClickHouse. The snapshot's start is stored first, so the restart resumes it and streams
        # the deletes.
        p = Pipeline("flt_ghost", sink_extra="  batch.max.rows: 500\n")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v BIGINT NOT NULL);"
              "INSERT INTO t SELECT seq, seq FROM seq_1_to_3000;", db=p.db)
        log = open(os.path.join(p.dir, "crash.log"), "w")
        proc = subprocess.run([SLUICE, "run", p.config], stdout=log, stderr=log, timeout=120,
                              env=dict(os.environ, SLUICE_CRASH_AT="sink.after_insert:1"))
        log.close()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        self.assertGreater(int(ch(f"SELECT count() FROM {p.ch_db}.t").strip()), 0)
        mysql("DELETE FROM t WHERE id % 10 = 0; UPDATE t SET v = -v WHERE id % 10 = 1", db=p.db)
        p.catch_up()
        compare_table(self, p.db, p.ch_db, "t", [("v", "", "int")])

    def test_kill9_during_checkpoint(self):
        self._crash_at("checkpoint.before_offset_write", [2, 5])
        self._crash_at("checkpoint.after_offset_write", [3])

    def test_kill9_while_view_state_spills_and_commits(self):
        # A 64 KiB budget makes the views spill state between checkpoints (undo-logged, unsynced).
        self._crash_at("view_state.after_spill", [1, 4], view_memory=65536)
        self._crash_at("view_state.before_commit", [3], view_memory=65536)

    def test_kill9_after_the_snapshots_view_state_was_ingested(self):
        # The views' state derived by the snapshot is written once, as table files ingested before
        # the synced commit of the offset past the snapshot; killed in between, the restart rebuilds
        # the views (the stored offset is still inside the snapshot) over what was ingested.
        self._crash_at("view_state.after_ingest", [1])

    def test_oversized_rows_pass_the_memory_bounds(self):
        # Rows far larger than the queue and sink budgets (1 MiB each here) still go through, one at
        # a time, exactly; the budgets bound everything else.
        p = Pipeline("flt_big", sink_extra="  buffer.max.bytes: 1048576\n",
                     source_extra="bus:\n  queue.max.bytes: 1048576\n")
        p.reset()
        mysql("SET GLOBAL max_allowed_packet = 67108864")
        mysql("CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT, n INT)", db=p.db)
        mysql("INSERT INTO big VALUES (1, REPEAT(X'00FF', 3000000), REPEAT('é', 2500000), 1), (2, NULL, 'x', 2)",
              db=p.db)
        p.catch_up()
        mysql("UPDATE big SET b = REPEAT(X'AB', 9000000), n = 3 WHERE id = 2; "
              "INSERT INTO big VALUES (3, REPEAT(X'01', 100), REPEAT('z', 12000000), 4); DELETE FROM big WHERE id = 1",
              db=p.db)
        p.catch_up()
        m = mysql("SELECT id, LENGTH(b), MD5(b), LENGTH(t), MD5(t), n FROM big ORDER BY id", db=p.db)
        c = ch_rows(f"SELECT toString(id), toString(length(b)), lower(hex(MD5(b))), toString(length(t)), "
                    f"lower(hex(MD5(t))), toString(n) FROM {p.ch_db}.big FINAL WHERE _is_deleted = 0 ORDER BY id")
        self.assertEqual(m, c)

    def test_state_dir_disk_full_then_freed(self):
        p = Pipeline("flt_diskfull", views=VIEWS, view_memory=65536)
        setup(p, rows=3000)
        state = os.path.join(p.dir, "state")
        os.makedirs(state)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", state],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            self.skipTest(f"cannot mount a small tmpfs for the state directory: {mounted.stderr.strip()}")
        try:
            p.catch_up()
            rnd = random.Random(3)
            next_id = 70000
            # First with the free-space reserve (state.min.free.bytes, 32 MiB by default: sluice
            # refuses the write), then without it (RocksDB itself hits ENOSPC).
            for reserve in (None, 0):
                if reserve is not None:
                    with open(p.config, "a") as f:
                        f.write(f"  min.free.bytes: {reserve}\n")
                # The disk fills while sluice runs: the next checkpoint or view state spill fails
                # with a clear error, exit 1.
                p.start()
                time.sleep(1)
                filler = os.path.join(state, "filler")
                subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
                deadline = time.time() + 60
                while p.proc.poll() is None:
                    self.assertLess(time.time(), deadline, "sluice kept running with a full state disk")
                    write_batch(p.db, rnd, next_id, 200)
                    next_id += 200
                    time.sleep(0.1)
                rc = p.proc.returncode
                p.log.close()
                p.proc = None
                with open(os.path.join(p.dir, "run.log")) as f:
                    log = f.read()
                self.assertEqual(rc, 1, log[-3000:])
                self.assertIn("disk is full", log)
                self.assertIn(state, log)
                os.rename(os.path.join(p.dir, "run.log"), os.path.join(p.dir, f"run-{reserve}.log"))
                # Started again while the disk is still full: refused at once with the reserve.
                # (Without it, what RocksDB does on reopening a full disk is its own business:
                # it may free obsolete files and go on, or wait in its error recovery.)
                if reserve is None:
                    out = p.run("run", p.config, "--exit-when-caught-up", check=False, timeout=120)
                    self.assertEqual(out.returncode, 1, out.stderr[-3000:])
                    self.assertIn("disk is full", out.stderr)
                # Space freed: the state opens (not corrupt) and the pipeline converges.
                os.remove(filler)
                write_batch(p.db, rnd, next_id, 200)
                next_id += 200
                p.catch_up()
                compare_all(self, p)
        finally:
            subprocess.run(["umount", "-l", state], capture_output=True)
            shutil.rmtree(p.dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
