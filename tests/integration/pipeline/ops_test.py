"""Operability: /metrics and the pipeline page of a real `sluice run` (MariaDB -> ClickHouse).

The numbers scraped from /metrics must match the rows written to MariaDB and found in ClickHouse;
the page at / is loaded in headless Chromium (Debian `chromium`) while the pipeline streams: the
screenshot must not be blank and the DOM must name the tables and show non-zero rates.
Run by ctest (label integration) after scripts/services start.
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import SLUICE, Pipeline, ch_rows, mysql  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, f"malformed metrics line: {line!r}"
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def metric(ms, name, **labels):
    return ms.get((name, frozenset(labels.items())))


def wait_for(predicate, timeout=60, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError) as e:  # endpoint not up yet
            last = e
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


class MetricsPipeline(Pipeline):
    def __init__(self, name):
        super().__init__(name)
        self.port = free_port()
        with open(self.config, "a") as f:
            f.write(f"metrics:\n  port: {self.port}\n")
        self.base = f"http://127.0.0.1:{self.port}"

    def scrape(self):
        return parse_metrics(get(self.base + "/metrics"))

    def api(self):
        return json.loads(get(self.base + "/api/pipeline"))


def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA PNG (what Chromium writes) -> (width, height, channels, rows of bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color = ihdr[:4]
    assert depth == 8 and color in (2, 6), f"unexpected PNG format depth {depth} color {color}"
    ch = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * ch
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, ch, rows


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Operability(unittest.TestCase):
    def test_metrics_match_rows_written(self):
        p = MetricsPipeline("ops_metrics")
        p.reset()
        mysql("CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(100)); CREATE TABLE b (id INT PRIMARY KEY, n BIGINT);",
              db=p.db)
        mysql("INSERT INTO a SELECT seq, CONCAT('row ', seq) FROM seq_1_to_500; "
              "INSERT INTO b SELECT seq, seq * 7 FROM seq_1_to_300;", db=p.db)
        p.start()
        try:
            qa, qb = f"{p.db}.a", f"{p.db}.b"
            ca, cb = f"{p.ch_db}.a", f"{p.ch_db}.b"
            # Snapshot: 800 rows read and acknowledged.
            ms = wait_for(lambda: (lambda m: m if metric(m, "sluice_sink_rows_total", table=ca) == 500
                                   and metric(m, "sluice_sink_rows_total", table=cb) == 300 else None)(p.scrape()),
                          what="the snapshot's rows in the sink metrics")
            self.assertEqual(metric(ms, "sluice_source_rows_total", table=qa, op="read"), 500)
            self.assertEqual(metric(ms, "sluice_source_rows_total", table=qb, op="read"), 300)
            self.assertEqual(metric(ms, "sluice_snapshot_rows_done", table=qa), 500)
            self.assertEqual(metric(ms, "sluice_snapshot_rows_done", table=qb), 300)

            # Streaming: inserts, updates, deletes in several transactions.
            mysql("INSERT INTO a SELECT seq, 'streamed' FROM seq_501_to_700;", db=p.db)
            mysql("UPDATE b SET n = n + 1 WHERE id <= 50;", db=p.db)
            mysql("DELETE FROM a WHERE id <= 10;", db=p.db)
            for i in range(20):
                mysql(f"INSERT INTO b VALUES ({1000 + i}, {i});", db=p.db)
            want_a, want_b = 500 + 200 + 10, 300 + 50 + 20
            ms = wait_for(lambda: (lambda m: m if metric(m, "sluice_sink_rows_total", table=ca) == want_a
                                   and metric(m, "sluice_sink_rows_total", table=cb) == want_b else None)(p.scrape()),
                          what="the streamed rows in the sink metrics")
            self.assertEqual(metric(ms, "sluice_source_rows_total", table=qa, op="insert"), 200)
            self.assertEqual(metric(ms, "sluice_source_rows_total", table=qa, op="delete"), 10)
            self.assertEqual(metric(ms, "sluice_source_rows_total", table=qb, op="update"), 50)
            self.assertEqual(metric(ms, "sluice_source_rows_total", table=qb, op="insert"), 20)
            # ClickHouse holds what the metrics say was acknowledged.
            self.assertEqual(ch_rows(f"SELECT count() FROM {ca} FINAL WHERE _is_deleted = 0")[0][0], "690")
            self.assertEqual(ch_rows(f"SELECT count() FROM {cb} FINAL WHERE _is_deleted = 0")[0][0], "320")
            self.assertEqual(ch_rows(f"SELECT count() FROM {ca}")[0][0], str(want_a))  # before merges: one row per change
            # Histograms agree with the counters.
            for t, rows in ((ca, want_a), (cb, want_b)):
                inserts = metric(ms, "sluice_sink_inserts_total", table=t)
                self.assertGreaterEqual(inserts, 2)
                self.assertEqual(metric(ms, "sluice_sink_insert_rows_count", table=t), inserts)
                self.assertEqual(metric(ms, "sluice_sink_insert_rows_sum", table=t), rows)
                self.assertEqual(metric(ms, "sluice_sink_insert_seconds_count", table=t), inserts)
                self.assertEqual(metric(ms, "sluice_sink_insert_rows_bucket", table=t, le="+Inf"), inserts)
                self.assertGreater(metric(ms, "sluice_sink_bytes_total", table=t), rows * 10)
            # Events and transactions were counted; the binlog positions are real.
            self.assertGreater(metric(ms, "sluice_source_events_total", type="WRITE_ROWS_EVENT_V1") or
                               metric(ms, "sluice_source_events_total", type="WRITE_ROWS_EVENT") or 0, 0)
            self.assertGreaterEqual(metric(ms, "sluice_source_transactions_total"), 23)
            self.assertGreater(metric(ms, "sluice_acked_binlog_position"), 4)
            self.assertGreater(metric(ms, "sluice_acked_binlog_file_number"), 0)
            self.assertEqual(metric(ms, "sluice_sink_retries_total") or 0, 0)
            self.assertEqual(metric(ms, "sluice_snapshot_running"), 0)
            self.assertGreater(metric(ms, "sluice_process_resident_memory_bytes"), 1 << 20)
            state_bytes = [v for (n, _), v in ms.items() if n == "sluice_state_dir_bytes"]
            self.assertEqual(len(state_bytes), 1)
            self.assertGreater(state_bytes[0], 0)

            # Idle: heartbeats keep the lag small although no captured table changes.
            # (Without them and without other writers it would be at least the 6 s slept.)
            time.sleep(6)
            ms = p.scrape()
            self.assertLess(metric(ms, "sluice_lag_seconds"), 4)
            self.assertLess(metric(ms, "sluice_table_lag_seconds", table=ca, source=qa), 4)
            # A fresh change shows up with its commit time.
            mysql("INSERT INTO a VALUES (5000, 'late');", db=p.db)
            wait_for(lambda: metric(p.scrape(), "sluice_sink_rows_total", table=ca) == want_a + 1,
                     what="one more row acknowledged")
            ms = p.scrape()
            self.assertLess(metric(ms, "sluice_lag_seconds"), 8)
            self.assertGreater(metric(ms, "sluice_acked_commit_timestamp_seconds"), time.time() - 60)

            # The JSON behind the page: one edge per table, with the same counts.
            api = p.api()
            edges = {(e["from"], e["to"]): e for e in api["edges"]}
            self.assertEqual(edges[(f"source:{qa}", f"clickhouse:{ca}")]["rows"], want_a + 1)
            self.assertEqual(edges[(f"source:{qb}", f"clickhouse:{cb}")]["rows"], want_b)
            nodes = {n["id"]: n for n in api["nodes"]}
            self.assertEqual(nodes[f"source:{qa}"]["rows"], 500 + 200 + 10 + 1)
            self.assertIsNotNone(api["lag_seconds"])
            self.assertGreater(len(api["lag_history"]), 3)
            # `sluice status`: the stored offset and the live part from the running process.
            st = p.run("status", p.config).stdout
            self.assertIn("source commit time: 20", st)
            self.assertIn("live (pid", st)
            self.assertIn(f"  {qa} -> {ca}: {want_a + 1} rows", st)
            self.assertIn("last error: none", st)
        finally:
            self.assertEqual(p.stop(), 0)

    def test_json_logs(self):
        p = Pipeline("ops_jsonlog")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a'), (2, 'b');", db=p.db)
        out = p.run("--log-format", "json", "run", p.config, "--exit-when-caught-up")
        mysql(r"""ALTER TABLE t ADD COLUMN note VARCHAR(30) DEFAULT 'quote \" and \\'; INSERT INTO t VALUES (3, 'c', 'x');""",
              db=p.db)
        out2 = p.run("--log-format", "json", "run", p.config, "--exit-when-caught-up")
        lines = [json.loads(line) for line in (out.stderr + out2.stderr).splitlines()]  # every line is JSON
        self.assertGreater(len(lines), 3)
        for rec in lines:
            self.assertRegex(rec["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(rec["level"], ("trace", "debug", "info", "warning", "error", "critical"))
            self.assertIsInstance(rec["msg"], str)
        ddl = [r for r in lines if r["msg"].startswith("schema change of")]
        self.assertEqual(len(ddl), 1, lines)
        self.assertEqual(ddl[0]["table"], f"{p.db}.t")
        self.assertRegex(ddl[0]["position"], r"^.+\.\d{6}:\d+$")
        self.assertIn(r'quote \" and', ddl[0]["msg"])
        self.assertEqual(ch_rows(f"SELECT id, note FROM {p.ch_db}.t FINAL WHERE id = 3"), [["3", "x"]])
        # A fatal error is a JSON line too.
        bad = subprocess.run([SLUICE, "--log-format", "json", "run", os.path.join(p.dir, "missing.yaml")],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(bad.returncode, 2)
        rec = json.loads(bad.stderr.strip().splitlines()[-1])
        self.assertEqual(rec["level"], "error")
        self.assertIn("missing.yaml", rec["msg"])

    def test_heartbeat_action_query(self):
        p = Pipeline("ops_hb", source_extra="  heartbeat.interval.ms: 300\n"
                     "  heartbeat.action.query: INSERT INTO ops_hb.hb VALUES (1, NOW(6)) ON DUPLICATE KEY UPDATE ts = NOW(6)")
        p.reset()
        mysql("CREATE TABLE hb (id INT PRIMARY KEY, ts DATETIME(6)); "
              "GRANT INSERT, UPDATE ON ops_hb.* TO 'sluice'@'%';", db=p.db)
        p.start()
        try:
            # The query runs every 300 ms while the source is idle, and its changes are captured.
            wait_for(lambda: int(ch_rows(f"SELECT count() FROM {p.ch_db}.hb")[0][0]) >= 3
                     if ch_rows(f"SELECT count() FROM system.tables WHERE database = '{p.ch_db}' AND name = 'hb'")[0][0]
                     == "1" else False, timeout=30, what="heartbeat rows in ClickHouse")
        finally:
            self.assertEqual(p.stop(), 0)
        self.assertEqual(mysql("SELECT count(*) FROM hb", db=p.db), [["1"]])

    def test_page_in_headless_chromium(self):
        browser = chromium()
        if not browser:
            self.skipTest("chromium is not installed (scripts/install-deps installs it)")
        p = MetricsPipeline("ops_page")
        p.reset()
        mysql("CREATE TABLE orders (id INT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE items (id INT PRIMARY KEY);",
              db=p.db)
        mysql("INSERT INTO orders SELECT seq, 'x' FROM seq_1_to_100; INSERT INTO items SELECT seq FROM seq_1_to_100;",
              db=p.db)
        stop = threading.Event()

        def writer():
            i = 1000
            while not stop.is_set():
                mysql(f"INSERT INTO orders SELECT seq, 'w' FROM seq_{i}_to_{i + 49}; "
                      f"INSERT INTO items SELECT seq FROM seq_{i}_to_{i + 49};", db=p.db)
                i += 50
                time.sleep(0.2)

        t = threading.Thread(target=writer)
        p.start()
        t.start()
        try:
            wait_for(lambda: all((e["rows_per_s"] or 0) > 0 for e in p.api()["edges"]) and len(p.api()["edges"]) == 2,
                     what="non-zero rates on both edges")
            out = os.path.join(p.dir, "page.png")
            base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--hide-scrollbars", f"--user-data-dir={os.path.join(p.dir, 'chromium')}",
                    "--window-size=1200,900", "--virtual-time-budget=4000"]
            r = subprocess.run(base + [f"--screenshot={out}", p.base + "/"], capture_output=True, text=True,
                               timeout=120)
            self.assertTrue(os.path.exists(out), f"no screenshot: {r.stderr[-2000:]}")
            w, h, ch, rows = png_pixels(out)
            self.assertEqual((w, h), (1200, 900))
            colors, busy = set(), 0
            background = rows[h - 1][:3]
            for y in range(0, h, 3):
                row = rows[y]
                for x in range(0, w, 3):
                    px = row[x * ch:x * ch + 3]
                    colors.add(px)
                    busy += px != background
            self.assertGreater(len(colors), 20, "the screenshot is (nearly) one color")
            self.assertGreater(busy, (w // 3) * (h // 3) // 20, "the screenshot is mostly background")

            r = subprocess.run(base + ["--dump-dom", p.base + "/"], capture_output=True, text=True, timeout=120)
            dom = r.stdout
            self.assertIn('data-loaded="1"', dom, f"the page did not load its data: {r.stderr[-2000:]}")
            for name in (f"{p.db}.orders", f"{p.db}.items", f"{p.ch_db}.orders", f"{p.ch_db}.items"):
                self.assertIn(f">{name}<", dom)
            rates = [float(v) for v in re.findall(r'data-rows-per-s="([0-9.eE+-]+)"', dom)]
            self.assertEqual(len(rates), 2, dom[:3000])
            self.assertTrue(all(r > 0 for r in rates), rates)
            cells = re.findall(r'<td class="num rate" data-value="([0-9.eE+-]+)"', dom)
            self.assertEqual(len(cells), 2)
            self.assertTrue(all(float(c) > 0 for c in cells), cells)
            self.assertIn('id="lagline"', dom)  # the lag plot has a line
        finally:
            stop.set()
            t.join()
            self.assertEqual(p.stop(), 0)


if __name__ == "__main__":
    unittest.main()
