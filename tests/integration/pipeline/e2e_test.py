"""End to end: MariaDB -> `sluice run` -> ClickHouse, compared value by value.

Run by ctest (label integration) after scripts/services start. Each TestCase method is its own
ctest entry (see CMakeLists.txt).
"""
import decimal
import os
import random
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import Pipeline, ch, ch_rows, mysql, services  # noqa: E402

# column -> (SQL type, comparison kind)
TYPES = [
    ("ti", "TINYINT", "int"), ("tiu", "TINYINT UNSIGNED", "int"), ("si", "SMALLINT", "int"),
    ("siu", "SMALLINT UNSIGNED", "int"), ("mi", "MEDIUMINT", "int"), ("miu", "MEDIUMINT UNSIGNED", "int"),
    ("i", "INT", "int"), ("iu", "INT UNSIGNED", "int"), ("bi", "BIGINT", "int"), ("biu", "BIGINT UNSIGNED", "int"),
    ("d1", "DECIMAL(10,2)", "decimal"), ("d2", "DECIMAL(65,30)", "decimal"), ("d3", "DECIMAL(38,10) UNSIGNED", "decimal"),
    ("f", "FLOAT", "float"), ("dbl", "DOUBLE", "double"),
    ("b1", "BIT(1)", "bit"), ("b64", "BIT(64)", "bit"), ("b13", "BIT(13)", "bit"),
    ("dt", "DATE", "text"), ("tm", "TIME", "time"), ("tm6", "TIME(6)", "time"),
    ("dtm", "DATETIME", "text"), ("dtm3", "DATETIME(3)", "text"), ("dtm6", "DATETIME(6)", "text"),
    ("ts", "TIMESTAMP NULL", "text"), ("ts6", "TIMESTAMP(6) NULL", "text"), ("yr", "YEAR", "int"),
    ("c", "CHAR(10)", "hex"), ("vc", "VARCHAR(100)", "hex"), ("vcl", "VARCHAR(50) CHARACTER SET latin1", "hex"),
    ("txt", "TEXT", "hex"), ("mtxt", "MEDIUMTEXT", "hex"), ("bin", "BINARY(4)", "binhex"),
    ("vbin", "VARBINARY(20)", "binhex"), ("blb", "BLOB", "binhex"), ("e", "ENUM('a','b','c')", "hex"),
    ("st", "SET('x','y','z')", "hex"), ("j", "JSON", "hex"), ("g", "GEOMETRY", "geo"),
    # MariaDB's data type plugins: text as MariaDB writes it (CAST(col AS CHAR)) in ClickHouse.
    ("uu", "UUID", "cast"), ("ip4", "INET4", "cast"), ("ip6", "INET6", "cast"),
]

ROWS = [
    # id, values in TYPES order (SQL literals)
    ["1", "-128", "255", "-32768", "65535", "-8388608", "16777215", "-2147483648", "4294967295",
     "-9223372036854775808", "18446744073709551615", "-99999999.99",
     "-99999999999999999999999999999999999.999999999999999999999999999999", "9999999999999999999999999999.9999999999",
     "-3.40282e38", "-1.7976931348623157e308", "b'1'", "b'1111111111111111111111111111111111111111111111111111111111111111'",
     "b'1010101010101'", "'1970-01-02'", "'-838:59:59'", "'-00:00:01.000001'", "'1970-01-01 00:00:01'",
     "'2038-01-19 03:14:07.999'", "'2106-02-07 06:28:14.999999'", "'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'",
     "1901", "'a'", "'ünïcødé 🚀 中文'", "X'636166E9'", "''", "REPEAT('x', 70000)", "X'00FF0001'", "X''",
     "X'000102030405060708090A0B0C0D0E0F'", "'a'", "'x,z'", "'{\"a\": [1, 2.5, null, true], \"b\": {\"c\": \"d\"}}'",
     "ST_GeomFromText('POINT(1 2)')",
     # a version-1 UUID (MariaDB stores it with its segments swapped), the text forms of the docs
     "'123E4567-E89B-12D3-A456-426614174000'", "'192.168.0.1'", "'2001:DB8::1'"],
    ["2", "127", "0", "32767", "0", "8388607", "0", "2147483647", "0", "9223372036854775807", "9223372036854775808",
     "99999999.99", "99999999999999999999999999999999999.999999999999999999999999999999", "0.0000000001",
     "1.17549e-38", "2.2250738585072014e-308", "b'0'", "b'0'", "b'0'", "'2106-02-06'", "'838:59:59'",
     "'12:34:56.789012'", "'2106-02-06 23:59:59'", "'1970-01-01 00:00:00.001'", "'1970-01-01 00:00:00.000001'",
     "'2038-01-19 03:14:07'", "'1970-01-01 00:00:01.000001'", "2155", "'tab\\there'", "'line\\nbreak \\\\ \\' \"q\"'",
     "'ÀÿÆ'", "'\\0nul'", "'ok'", "X'61'", "X'00'", "X'FF'", "'c'", "''", "'[]'", "ST_GeomFromText('LINESTRING(0 0,1 1,2 2)')",
     # all-zero values (logged as zero bytes), an IPv4-mapped IPv6 address
     "'00000000-0000-0000-0000-000000000000'", "'0.0.0.0'", "'::ffff:192.168.0.1'"],
    ["3"] + ["NULL"] * len(TYPES),
]


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def mysql_expr(col, kind):
    if kind == "bit":
        return f"CAST(`{col}` AS UNSIGNED)"
    if kind == "hex":
        return f"HEX(CONVERT(`{col}` USING utf8mb4))"
    if kind == "binhex":
        return f"HEX(`{col}`)"
    if kind == "geo":
        return f"HEX(ST_AsBinary(`{col}`))"
    if kind == "float":
        return f"CAST(`{col}` AS DOUBLE)"
    if kind == "cast":
        return f"CAST(`{col}` AS CHAR)"
    return f"`{col}`"


def ch_expr(col, kind):
    if kind in ("hex", "binhex", "geo"):
        return f"hex(`{col}`)"
    if kind == "float":
        return f"toFloat64(`{col}`)"
    if kind == "decimal":
        return f"`{col}`"  # toString(Decimal128) is broken on ClickHouse 18.16 (embedded NULs)
    return f"toString(`{col}`)"


def time_micros(text):
    neg = text.startswith("-")
    h, m, s = text.lstrip("-").split(":")
    sec, _, frac = s.partition(".")
    us = ((int(h) * 60 + int(m)) * 60 + int(sec)) * 1000000 + int((frac + "000000")[:6])
    return -us if neg else us


def normalize(kind, v, side):
    if v is None:
        return None
    if kind == "decimal":
        return decimal.Decimal(v)
    if kind in ("float", "double"):
        return float(v)
    if kind == "time" and side == "mysql":
        return time_micros(v)
    if kind == "time":
        return int(v)
    return v


def compare_table(test, db, ch_db, table, columns, key="id"):
    """Asserts ClickHouse FINAL (not deleted) equals the MariaDB table, value by value."""
    mexprs = ", ".join(mysql_expr(c, k) for c, _, k in columns)
    cexprs = ", ".join(ch_expr(c, k) for c, _, k in columns)
    mrows = mysql(f"SELECT `{key}`, {mexprs} FROM `{table}` ORDER BY `{key}`", db=db)
    crows = ch_rows(f"SELECT toString(`{key}`), {cexprs} FROM {ch_db}.`{table}` FINAL WHERE _is_deleted = 0 "
                    f"ORDER BY `{key}`")
    test.assertEqual([r[0] for r in mrows], [r[0] for r in crows], f"{table}: keys differ")
    for mr, cr in zip(mrows, crows):
        for i, (col, _, kind) in enumerate(columns):
            a, b = normalize(kind, mr[i + 1], "mysql"), normalize(kind, cr[i + 1], "ch")
            if kind in ("float", "double") and a is not None and b is not None:
                test.assertAlmostEqual(a, b, delta=abs(a) * 1e-15, msg=f"{table}.{col} row {mr[0]}")
            else:
                test.assertEqual(a, b, f"{table}.{col} row {mr[0]}: MariaDB {mr[i + 1]!r} vs ClickHouse {cr[i + 1]!r}")


def create_types_table(db):
    cols = ", ".join(f"`{c}` {t}" for c, t, _ in TYPES)
    mysql(f"SET SESSION sql_mode = ''; CREATE TABLE types (id INT PRIMARY KEY, {cols}) DEFAULT CHARSET=utf8mb4", db=db)


def insert_types(db, rows, id_offset=0):
    for r in rows:
        vals = [str(int(r[0]) + id_offset)] + r[1:]
        mysql(f"SET SESSION sql_mode = ''; INSERT INTO types VALUES ({', '.join(vals)})", db=db)


class EndToEnd(unittest.TestCase):
    def test_type_matrix_snapshot_and_stream(self):
        p = Pipeline("e2e_types")
        p.reset()
        create_types_table(p.db)
        insert_types(p.db, ROWS)  # read by the snapshot
        p.catch_up()
        compare_table(self, p.db, p.ch_db, "types", TYPES)
        insert_types(p.db, ROWS, id_offset=100)  # streamed
        mysql("UPDATE types SET vc = CONCAT(IFNULL(vc, ''), '+'), d2 = -d2, b64 = b'101', tm = '-00:00:00.5', "
              "dtm6 = '2001-02-03 04:05:06.000007', uu = '01890a5d-ac96-774b-bcce-b302099a8057', "
              "ip4 = '10.0.0.0', ip6 = '1:0:2:3:4:5:6:7' WHERE id IN (1, 101, 103)", db=p.db)
        mysql("DELETE FROM types WHERE id IN (2, 102)", db=p.db)
        p.catch_up()
        compare_table(self, p.db, p.ch_db, "types", TYPES)
        n = ch_rows(f"SELECT count() FROM {p.ch_db}.types FINAL")[0][0]
        self.assertEqual(n, "6")  # 4 live rows + 2 deleted rows kept as _is_deleted = 1
        for col in ("uu", "ip4", "ip6"):
            self.assertEqual(ch_rows(f"SELECT toString(toTypeName(`{col}`)) FROM {p.ch_db}.types LIMIT 1"),
                             [["Nullable(String)"]], col)

    def test_mariadb_uuid_and_inet_keys(self):
        """UUID, INET4 and INET6 primary keys: the snapshot's keyset pages (fetch size 3) continue
        after each page's last key, streamed inserts, updates of and to other keys, deletes; the
        text equals MariaDB's CAST(col AS CHAR)."""
        p = Pipeline("e2e_uuid_keys", source_extra="  snapshot.fetch.size: 3")
        p.reset()
        mysql("CREATE TABLE u (id UUID PRIMARY KEY, n INT); CREATE TABLE i4 (id INET4 PRIMARY KEY, n INT); "
              "CREATE TABLE i6 (id INET6 PRIMARY KEY, n INT)", db=p.db)
        uuids = ["123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174001",
                 "023e4567-e89b-12d3-a456-426614174000", "f47ac10b-58cc-4372-a567-0e02b2c3d479",
                 "01890a5d-ac96-774b-bcce-b302099a8057", "00000000-0000-0000-0000-000000000000",
                 "ffffffff-ffff-ffff-ffff-ffffffffffff", "123e4567-e89b-62d3-a456-426614174000"]
        v4 = ["0.0.0.0", "10.0.0.1", "192.168.0.1", "255.255.255.255", "1.2.3.4", "10.0.0.0", "127.0.0.1"]
        v6 = ["::", "::1", "2001:db8::1", "::ffff:192.168.0.1", "::1.2.3.4", "fe80::1:2:3:4", "1::", "1:0:0:1::1"]

        def fill(table, values, start):
            mysql(f"INSERT INTO {table} VALUES " + ", ".join(f"('{v}', {start + k})" for k, v in enumerate(values)),
                  db=p.db)

        fill("u", uuids, 0)
        fill("i4", v4, 0)
        fill("i6", v6, 0)

        def compare(table):
            # Sorted as text: MariaDB orders UUIDs by its swapped storage form, ClickHouse as strings.
            want = sorted(mysql(f"SELECT CAST(id AS CHAR), n FROM {table}", db=p.db))
            got = sorted(ch_rows(f"SELECT id, toString(n) FROM {p.ch_db}.{table} FINAL WHERE _is_deleted = 0"))
            self.assertEqual(want, got, table)

        p.catch_up()  # snapshot
        for t in ("u", "i4", "i6"):
            compare(t)
        fill("u", ["7d444840-9dc0-11d1-b245-5ffdce74fad2", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"], 100)
        fill("i4", ["8.8.8.8"], 100)
        fill("i6", ["abcd::ef", "::fffe:1:2"], 100)
        mysql("UPDATE u SET id = '6ba7b811-9dad-11d1-80b4-00c04fd430c8' WHERE n = 101; UPDATE u SET n = -n; "
              "DELETE FROM u WHERE id = 'ffffffff-ffff-ffff-ffff-ffffffffffff'; "
              "UPDATE i4 SET id = '9.9.9.9' WHERE id = '10.0.0.0'; DELETE FROM i4 WHERE n = 0; "
              "UPDATE i6 SET id = '1:0:2:3:4:5:6:7' WHERE id = '::'; UPDATE i6 SET n = n + 1", db=p.db)
        p.catch_up()  # streamed
        for t in ("u", "i4", "i6"):
            compare(t)
        self.assertIn(["6ba7b811-9dad-11d1-80b4-00c04fd430c8", "-101"],
                      ch_rows(f"SELECT id, toString(n) FROM {p.ch_db}.u FINAL WHERE _is_deleted = 0"))

    def test_ddl_mid_stream(self):
        p = Pipeline("e2e_ddl")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT)", db=p.db)
        mysql("INSERT INTO t VALUES (1, 'x', 10), (2, 'y', 20)", db=p.db)
        p.catch_up()
        mysql("INSERT INTO t VALUES (3, 'z', 30); ALTER TABLE t ADD COLUMN c DECIMAL(8,3) DEFAULT 1.5;"
              "INSERT INTO t VALUES (4, 'w', 40, 2.25); UPDATE t SET c = 9.125 WHERE id = 1;"
              "ALTER TABLE t DROP COLUMN b; INSERT INTO t VALUES (5, 'v', 3.5);"
              "ALTER TABLE t MODIFY COLUMN a VARCHAR(200); INSERT INTO t VALUES (6, REPEAT('q', 150), 4);"
              "CREATE TABLE u (k VARCHAR(20) PRIMARY KEY, v INT); INSERT INTO u VALUES ('one', 1);"
              "START TRANSACTION; INSERT INTO u VALUES ('sp1', 1); SAVEPOINT s1; INSERT INTO u VALUES ('sp2', 2);"
              "ROLLBACK TO SAVEPOINT s1; INSERT INTO u VALUES ('sp3', 3); CREATE TEMPORARY TABLE tmp (x INT);"
              "INSERT INTO u VALUES ('sp4', 4); COMMIT;", db=p.db)
        p.catch_up()
        cols = [("a", "", "hex"), ("c", "", "decimal")]
        compare_table(self, p.db, p.ch_db, "t", cols)
        compare_table(self, p.db, p.ch_db, "u", [("v", "", "int")], key="k")
        # Renames keep the data; TRUNCATE empties the table; RENAME TABLE writes to the new name.
        mysql("ALTER TABLE t RENAME COLUMN a TO a2; INSERT INTO t VALUES (7, 'after', 5);"
              "ALTER TABLE t CHANGE c c2 DECIMAL(8,3); UPDATE t SET c2 = 7.5 WHERE id = 2;"
              "TRUNCATE TABLE u; INSERT INTO u VALUES ('two', 2);"
              "CREATE TABLE r (id INT PRIMARY KEY, x INT); INSERT INTO r VALUES (1, 1);"
              "RENAME TABLE r TO r2; INSERT INTO r2 VALUES (2, 2)", db=p.db)
        p.catch_up()
        compare_table(self, p.db, p.ch_db, "t", [("a2", "", "hex"), ("c2", "", "decimal")])
        compare_table(self, p.db, p.ch_db, "u", [("v", "", "int")], key="k")
        compare_table(self, p.db, p.ch_db, "r2", [("x", "", "int")])

    def test_kill9_during_streaming_loses_nothing(self):
        p = Pipeline("e2e_kill")
        p.reset()
        mysql("CREATE TABLE acc (id INT PRIMARY KEY, bal BIGINT NOT NULL, note VARCHAR(40))", db=p.db)
        mysql("INSERT INTO acc SELECT seq, 0, 'init' FROM seq_1_to_5000", db=p.db)
        stop = threading.Event()
        rnd = random.Random(42)

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                a, b = rnd.randint(1, 6000), rnd.randint(1, 6000)
                mysql(f"START TRANSACTION; INSERT INTO acc VALUES ({a}, {i}, 'w{i}') ON DUPLICATE KEY UPDATE "
                      f"bal = bal + 1, note = 'u{i}'; DELETE FROM acc WHERE id = {b} AND bal % 3 = 0; "
                      f"UPDATE acc SET bal = bal - 1 WHERE id = {a % 100 + 1}; COMMIT;", db=p.db)

        t = threading.Thread(target=writer)
        t.start()
        try:
            for round_ in range(4):
                p.start()
                time.sleep(1.0 + round_ * 0.7)
                p.kill9()
        finally:
            stop.set()
            t.join()
        p.catch_up()
        compare_table(self, p.db, p.ch_db, "acc", [("bal", "", "int"), ("note", "", "hex")])

    def test_sigterm_is_graceful_and_resumes(self):
        p = Pipeline("e2e_term")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v INT)", db=p.db)
        mysql("INSERT INTO t SELECT seq, seq FROM seq_1_to_1000", db=p.db)
        p.start()
        time.sleep(2)
        self.assertEqual(p.stop(), 0)
        mysql("UPDATE t SET v = -v WHERE id % 2 = 0; DELETE FROM t WHERE id % 5 = 0", db=p.db)
        out = p.catch_up()
        self.assertIn("resuming from", out.stderr)
        compare_table(self, p.db, p.ch_db, "t", [("v", "", "int")])

    def test_capture_jsonl_debezium_envelope(self):
        p = Pipeline("e2e_jsonl")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(10,2), at DATETIME(6))", db=p.db)
        mysql("INSERT INTO t VALUES (1, 'a', 1.50, '2024-01-02 03:04:05.123456')", db=p.db)
        out = p.run("capture", p.config, "--output", "jsonl", "--exit-when-caught-up")
        import json
        lines = [json.loads(l) for l in out.stdout.splitlines()]
        self.assertEqual(len(lines), 1)
        ev = lines[0]
        self.assertEqual(ev["topic"], f"it.{p.db}.t")
        self.assertEqual(ev["key"], {"id": 1})
        v = ev["value"]
        self.assertEqual(v["op"], "r")
        self.assertEqual(v["after"]["name"], "a")
        self.assertEqual(v["after"]["price"], "AJY=")  # 150 unscaled, base64 (Kafka Connect Decimal)
        self.assertEqual(v["after"]["at"], 1704164645123456)  # MicroTimestamp
        mysql("UPDATE t SET name = 'b' WHERE id = 1; DELETE FROM t WHERE id = 1;", db=p.db)
        out = p.run("capture", p.config, "--output", "jsonl", "--exit-when-caught-up")
        lines = [json.loads(l) for l in out.stdout.splitlines()]
        self.assertEqual([l["value"]["op"] if l["value"] else None for l in lines], ["u", "d", None])
        self.assertEqual(lines[0]["value"]["before"]["name"], "a")
        self.assertEqual(lines[0]["value"]["after"]["name"], "b")
        self.assertEqual(lines[0]["value"]["source"]["db"], p.db)
        self.assertTrue(lines[0]["value"]["source"]["file"].startswith("mysql-bin."))
        self.assertIsNone(lines[2]["value"])  # tombstone
        self.assertEqual(lines[2]["key"], {"id": 1})

    def test_snapshot_resume_after_kill9_with_concurrent_writes(self):
        p = Pipeline("e2e_snap", source_extra="  snapshot.fetch.size: 2000")
        p.reset()
        mysql("CREATE TABLE big (id INT PRIMARY KEY, k2 VARCHAR(10), v BIGINT, pad CHAR(100));"
              "CREATE TABLE small (a INT, b VARCHAR(10), c INT, PRIMARY KEY (a, b))", db=p.db)
        mysql("INSERT INTO big SELECT seq, CONCAT('k', seq % 7), seq, REPEAT('p', 100) FROM seq_1_to_200000;"
              "INSERT INTO small SELECT seq % 50, CONCAT('b', seq), seq FROM seq_1_to_3000", db=p.db)
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                mysql(f"UPDATE big SET v = v + 1000000 WHERE id % 997 = {i % 997};"
                      f"DELETE FROM big WHERE id = {(i * 7919) % 200000 + 1};"
                      f"INSERT INTO big VALUES ({200000 + i}, 'new', {i}, 'n');"
                      f"UPDATE small SET c = c + 1 WHERE a = {i % 50}", db=p.db)

        t = threading.Thread(target=writer)
        t.start()
        try:
            for delay in (1.5, 2.0):
                p.start()
                time.sleep(delay)
                p.kill9()
            status = p.run("status", p.config).stdout
            self.assertIn("run:", status)
        finally:
            stop.set()
            t.join()
        out = p.catch_up()
        compare_table(self, p.db, p.ch_db, "big", [("k2", "", "hex"), ("v", "", "int"), ("pad", "", "hex")])
        mrows = mysql("SELECT a, b, c FROM small ORDER BY a, b", db=p.db)
        crows = ch_rows(f"SELECT toString(a), b, toString(c) FROM {p.ch_db}.small FINAL WHERE _is_deleted = 0 "
                        f"ORDER BY a, b")
        self.assertEqual(mrows, crows)

    def test_parallel_snapshot_ranges_resume_after_kill9(self):
        """Three connections read key ranges of a 400k-row table (sparse, composite key) and a second table
        in one consistent snapshot, with writes going on, a kill -9 mid-snapshot and another soon after
        it resumed: ClickHouse ends equal to MariaDB."""
        # Small chunks keep the snapshot (~1.5M rows/s with big ones) running for a few seconds, so the
        # kills below land mid-snapshot, after some chunks are stored.
        p = Pipeline("e2e_psnap", source_extra="  snapshot.fetch.size: 250\n  snapshot.max.threads: 3")
        p.reset()
        mysql("CREATE TABLE big (id BIGINT, sub VARCHAR(4), v BIGINT, pad CHAR(60), PRIMARY KEY (id, sub));"
              "CREATE TABLE other (id INT PRIMARY KEY, v INT)", db=p.db)
        # Keys with gaps and a dense stretch, two rows per first-column value.
        mysql("INSERT INTO big SELECT IF(seq < 150000, seq * 3, 1000000 + seq), 'a', seq, 'p' FROM seq_1_to_200000;"
              "INSERT INTO big SELECT id, 'b', v, 'q' FROM big;"
              "INSERT INTO other SELECT seq, seq FROM seq_1_to_20000; ANALYZE TABLE big, other", db=p.db)
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                mysql(f"UPDATE big SET v = v + 1000000 WHERE id % 991 = {i % 991};"
                      f"DELETE FROM big WHERE id = {((i * 7919) % 149999 + 1) * 3};"
                      f"INSERT INTO big VALUES ({2000000 + i}, 'n', {i}, 'n');"
                      f"UPDATE other SET v = v + 1 WHERE id % 100 = {i % 100}", db=p.db)

        def wait_log(text, seen_before, timeout=60):
            end = time.time() + timeout
            while time.time() < end:
                with open(os.path.join(p.dir, "run.log")) as f:
                    if f.read().count(text) > seen_before:
                        return True
                time.sleep(0.05)
            return False

        t = threading.Thread(target=writer)
        t.start()
        try:
            p.start()
            self.assertTrue(wait_log("on 3 connection(s)", 0))
            # Killed once ClickHouse has taken some snapshot rows (their chunks' progress is stored
            # right after), long before the last chunk.
            end = time.time() + 60
            while time.time() < end and (ch(f"SELECT count() FROM {p.ch_db}.big", check=False) or "0").strip() == "0":
                time.sleep(0.05)
            time.sleep(0.1)
            p.kill9()
            p.start()
            resumed = wait_log("resuming the snapshot on 3 connection(s)", 0)
            time.sleep(0.8)
            p.kill9()
        finally:
            stop.set()
            t.join()
        self.assertTrue(resumed, "the first run finished its snapshot before the kill")
        with open(os.path.join(p.dir, "run.log")) as f:
            so_far = re.search(r"resuming the snapshot on 3 connection\(s\): .*\((\d+) rows so far\)", f.read())
        self.assertIsNotNone(so_far)
        self.assertGreater(int(so_far.group(1)), 0, "the first run stored no chunk before the kill")
        p.catch_up()
        mrows = mysql("SELECT id, sub, v, pad FROM big ORDER BY id, sub", db=p.db)
        crows = ch_rows(f"SELECT toString(id), sub, toString(v), pad FROM {p.ch_db}.big FINAL WHERE _is_deleted = 0 "
                        f"ORDER BY id, sub")
        self.assertEqual(len(mrows), len(crows))
        self.assertEqual(mrows, crows)
        mrows = mysql("SELECT id, v FROM other ORDER BY id", db=p.db)
        crows = ch_rows(f"SELECT toString(id), toString(v) FROM {p.ch_db}.other FINAL WHERE _is_deleted = 0 ORDER BY id")
        self.assertEqual(mrows, crows)

    def test_parallel_snapshot_order_and_markers(self):
        """A multi-range parallel snapshot emits each table in key order, every row once, with Debezium's
        snapshot markers where a one-connection snapshot puts them."""
        import json
        p = Pipeline("e2e_pmark", snapshot_mode="initial_only",
                     source_extra="  snapshot.fetch.size: 500\n  snapshot.max.threads: 2")
        p.reset()
        mysql("CREATE TABLE a (id INT UNSIGNED PRIMARY KEY, v INT); CREATE TABLE b (k BIGINT PRIMARY KEY);"
              "CREATE TABLE c (x INT); CREATE TABLE d (id INT PRIMARY KEY);"
              "INSERT INTO a SELECT seq * 5, seq FROM seq_1_to_20000; INSERT INTO b SELECT CAST(seq AS SIGNED) - 9000 FROM seq_1_to_9000;"
              "INSERT INTO c SELECT seq FROM seq_1_to_1200; ANALYZE TABLE a, b", db=p.db)
        out = p.run("capture", p.config, "--output", "jsonl")
        self.assertIn("on 2 connection(s)", out.stderr)
        events = [json.loads(l) for l in out.stdout.splitlines()]
        self.assertEqual(len(events), 20000 + 9000 + 1200)
        tables = [e["topic"].split(".")[-1] for e in events]
        self.assertEqual(tables, ["a"] * 20000 + ["b"] * 9000 + ["c"] * 1200)
        self.assertEqual([e["key"]["id"] for e in events[:20000]], [5 * i for i in range(1, 20001)])
        self.assertEqual([e["key"]["k"] for e in events[20000:29000]], list(range(-8999, 1)))
        marks = [e["value"]["source"]["snapshot"] for e in events]
        expected = ["true"] * len(events)
        expected[0] = "first"
        expected[19999] = "last_in_data_collection"
        expected[20000] = "first_in_data_collection"
        expected[28999] = "last_in_data_collection"
        expected[29000] = "first_in_data_collection"
        expected[-1] = "last"
        self.assertEqual([(i, m) for i, m in enumerate(marks) if m != expected[i]], [])

    def test_filters_and_snapshot_modes(self):
        import json
        p = Pipeline("e2e_filter", source_extra="  table.include.list: e2e_filter\\.(keep|nokey)\n"
                                                 "  column.exclude.list: e2e_filter\\.keep\\.secret")
        p.reset()
        mysql("CREATE TABLE keep (id INT PRIMARY KEY, name VARCHAR(10), secret VARCHAR(10));"
              "CREATE TABLE skip (id INT PRIMARY KEY); CREATE TABLE nokey (a INT, b INT);"
              "INSERT INTO keep VALUES (1, 'a', 's1'); INSERT INTO skip VALUES (1); INSERT INTO nokey VALUES (1, 2)",
              db=p.db)

        def capture():
            out = p.run("capture", p.config, "--output", "jsonl", "--exit-when-caught-up")
            return [json.loads(l) for l in out.stdout.splitlines()], out.stderr

        events, err = capture()
        topics = sorted(e["topic"] for e in events)
        self.assertEqual(topics, [f"it.{p.db}.keep", f"it.{p.db}.nokey"])
        keep = [e for e in events if e["topic"].endswith(".keep")][0]
        self.assertEqual(keep["value"]["after"], {"id": 1, "name": "a"})  # secret excluded
        nokey = [e for e in events if e["topic"].endswith(".nokey")][0]
        self.assertIsNone(nokey["key"])
        self.assertIn("has no primary key", err)
        mysql("UPDATE keep SET secret = 's2', name = 'b' WHERE id = 1; INSERT INTO skip VALUES (2);"
              "INSERT INTO nokey VALUES (3, 4)", db=p.db)
        events, _ = capture()
        self.assertEqual([(e["topic"].split(".")[-1], e["value"]["op"]) for e in events], [("keep", "u"), ("nokey", "c")])
        self.assertEqual(events[0]["value"]["after"], {"id": 1, "name": "b"})

        # no_data: schema only, then only new changes.
        q = Pipeline("e2e_nodata", snapshot_mode="no_data", database=p.db)
        out = q.run("capture", q.config, "--output", "jsonl", "--exit-when-caught-up")
        self.assertEqual(out.stdout, "")
        mysql("INSERT INTO keep VALUES (2, 'c', 'x')", db=p.db)
        out = q.run("capture", q.config, "--output", "jsonl", "--exit-when-caught-up")
        self.assertEqual([json.loads(l)["value"]["op"] for l in out.stdout.splitlines()], ["c"])

        # initial_only: the snapshot, then exit without streaming, and nothing on the next start.
        r = Pipeline("e2e_initonly", snapshot_mode="initial_only", database=p.db)
        out = r.run("capture", r.config, "--output", "jsonl")
        ops = [json.loads(l)["value"]["op"] for l in out.stdout.splitlines()]
        self.assertEqual(ops, ["r"] * 6)
        out = r.run("capture", r.config, "--output", "jsonl")
        self.assertEqual(out.stdout, "")

    def test_skipped_operations(self):
        """Debezium's skipped.operations: streamed deletes (d) and updates (u) left out — of the jsonl
        events and of ClickHouse alike (e.g. to keep deleted rows); snapshot reads never; t listed
        explicitly keeps a TRUNCATE from emptying the ClickHouse table; a bad value is a config error."""
        import json
        p = Pipeline("e2e_skipops", source_extra="  skipped.operations: d,t")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)", db=p.db)
        p.catch_up()
        mysql("DELETE FROM t WHERE id = 1; UPDATE t SET v = 20 WHERE id = 2; INSERT INTO t VALUES (4, 4)", db=p.db)
        p.catch_up()
        self.assertEqual(ch_rows(f"SELECT id, v FROM {p.ch_db}.t FINAL WHERE _is_deleted = 0 ORDER BY id"),
                         [["1", "1"], ["2", "20"], ["3", "3"], ["4", "4"]])
        mysql("TRUNCATE TABLE t; INSERT INTO t VALUES (5, 5)", db=p.db)
        p.catch_up()
        self.assertEqual(ch_rows(f"SELECT id FROM {p.ch_db}.t FINAL WHERE _is_deleted = 0 ORDER BY id"),
                         [["1"], ["2"], ["3"], ["4"], ["5"]])

        q = Pipeline("e2e_skipops_cap", source_extra="  skipped.operations: u, c", database=p.db)
        out = q.run("capture", q.config, "--output", "jsonl", "--exit-when-caught-up")
        self.assertEqual([json.loads(l)["value"]["op"] for l in out.stdout.splitlines()], ["r"])  # row 5
        mysql("INSERT INTO t VALUES (6, 6); UPDATE t SET v = 50 WHERE id = 5; DELETE FROM t WHERE id = 6", db=p.db)
        out = q.run("capture", q.config, "--output", "jsonl", "--exit-when-caught-up")
        events = [json.loads(l) for l in out.stdout.splitlines()]
        self.assertEqual([e["value"]["op"] if e["value"] else None for e in events], ["d", None])  # + tombstone
        # t not listed: Debezium's truncate event (key null, no before/after).
        mysql("TRUNCATE TABLE t", db=p.db)
        out = q.run("capture", q.config, "--output", "jsonl", "--exit-when-caught-up")
        events = [json.loads(l) for l in out.stdout.splitlines()]
        self.assertEqual([(e["key"], e["value"]["op"], e["value"]["before"], e["value"]["after"]) for e in events],
                         [(None, "t", None, None)])

        with open(q.config) as f:
            cfg = f.read()
        with open(q.config, "w") as f:
            f.write(cfg.replace("skipped.operations: u, c", "skipped.operations: x"))
        out = q.run("capture", q.config, "--output", "jsonl", "--exit-when-caught-up", check=False)
        self.assertEqual(out.returncode, 2, out.stderr[-2000:])
        self.assertIn("source.skipped.operations: 'x' is not an operation", out.stderr)

    def test_source_column_named_like_a_metadata_column(self):
        """A source column named _version (sluice adds _version and _is_deleted to every table): a
        clear error naming the column and the column.exclude.list entry that fixes it, which works."""
        p = Pipeline("e2e_metacol")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, `_version` INT, v INT); INSERT INTO t VALUES (1, 7, 1)", db=p.db)
        out = p.run("run", p.config, "--exit-when-caught-up", check=False)
        self.assertEqual(out.returncode, 2, out.stderr[-2000:])
        fix = f"source.column.exclude.list: {p.db}\\.t\\._version"
        self.assertIn(f"{p.db}.t has a column named _version", out.stderr)
        self.assertIn(fix, out.stderr)
        with open(p.config) as f:
            cfg = f.read()
        with open(p.config, "w") as f:
            f.write(cfg.replace(f"  database.include.list: {p.db}\n",
                                f"  database.include.list: {p.db}\n  column.exclude.list: {p.db}\\.t\\._version\n"))
        p.catch_up()
        self.assertEqual(ch_rows(f"SELECT id, v FROM {p.ch_db}.t FINAL WHERE _is_deleted = 0"), [["1", "1"]])

    def test_clickhouse_table_dropped_under_a_running_pipeline(self):
        """The ClickHouse table disappears under a running `sluice run` (dropped by hand; a server
        shutting down answers the same way): the sink creates it again and goes on, not exits."""
        p = Pipeline("e2e_chdrop")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)", db=p.db)
        p.start()
        try:
            end = time.time() + 30
            while time.time() < end and (ch(f"SELECT count() FROM {p.ch_db}.t", check=False) or "0").strip() == "0":
                time.sleep(0.1)
            ch(f"DROP TABLE {p.ch_db}.t")
            mysql("INSERT INTO t VALUES (2, 2)", db=p.db)
            end = time.time() + 30
            while time.time() < end and (ch(f"SELECT count() FROM {p.ch_db}.t", check=False) or "0").strip() == "0":
                time.sleep(0.1)
            self.assertIsNone(p.proc.poll(), "sluice exited when its ClickHouse table was dropped")
        finally:
            self.assertEqual(p.stop(), 0)
        self.assertEqual(ch_rows(f"SELECT id, v FROM {p.ch_db}.t FINAL WHERE _is_deleted = 0"), [["2", "2"]])
        with open(os.path.join(p.dir, "run.log")) as f:
            self.assertIn("is missing (dropped, or the server is shutting down); creating it again", f.read())

    def test_same_table_name_in_two_databases(self):
        """Two captured databases with a table of the same name: by default both would land in one
        ClickHouse table (a table keeps its name in sink.database) and overwrite each other's rows, so
        the run stops before writing with an error naming both and the fix; mapped, both arrive."""
        p = Pipeline("e2e_twodb")
        p.reset()
        other = "e2e_twodb_b"
        mysql(f"DROP DATABASE IF EXISTS {other}; CREATE DATABASE {other};"
              f"CREATE TABLE {p.db}.t (id INT PRIMARY KEY, v INT); CREATE TABLE {other}.t (id INT PRIMARY KEY, v INT);"
              f"INSERT INTO {p.db}.t VALUES (1, 10), (2, 20); INSERT INTO {other}.t VALUES (1, 100), (3, 300)")
        with open(p.config) as f:
            cfg = f.read().replace(f"database.include.list: {p.db}", f"database.include.list: {p.db},{other}")
        with open(p.config, "w") as f:
            f.write(cfg)
        out = p.run("run", p.config, "--exit-when-caught-up", check=False)
        self.assertEqual(out.returncode, 2, out.stderr[-2000:])  # a configuration error
        self.assertIn(f"would both be written to ClickHouse table {p.ch_db}.t", out.stderr)
        self.assertIn(f'sink.tables."{other}.t".table: {other}_t', out.stderr)
        with open(p.config, "w") as f:
            f.write(cfg.replace("  batch.max.delay.ms: 200\n",
                                f"  batch.max.delay.ms: 200\n  tables:\n    {other}.t:\n      table: {other}_t\n"))
        mysql(f"UPDATE {other}.t SET v = v + 1; DELETE FROM {p.db}.t WHERE id = 2")
        p.catch_up()
        compare_table(self, p.db, p.ch_db, "t", [("v", "", "int")])
        self.assertEqual(ch_rows(f"SELECT id, v FROM {p.ch_db}.{other}_t FINAL WHERE _is_deleted = 0 ORDER BY id"),
                         [["1", "101"], ["3", "301"]])

    def test_replicated_cluster_converges(self):
        from helpers import setting
        if int(setting("SLUICE_CH_REPLICAS", "1")) < 2:
            self.skipTest("needs CH_REPLICAS=2 scripts/services start")
        cluster = setting("SLUICE_CH_CLUSTER", "sluice_cluster")
        port2 = int(setting("SLUICE_CH2_HTTP_PORT", "18124"))
        p = Pipeline("e2e_cluster", sink_extra=f"  cluster: {cluster}")
        p.reset()
        ch(f"DROP DATABASE IF EXISTS {p.ch_db} ON CLUSTER {cluster}")
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", db=p.db)
        mysql("INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000", db=p.db)
        p.catch_up()
        mysql("UPDATE t SET v = 'updated' WHERE id % 3 = 0; DELETE FROM t WHERE id % 10 = 0", db=p.db)
        p.catch_up()
        engine = ch_rows(f"SELECT engine FROM system.tables WHERE database = '{p.ch_db}' AND name = 't'")
        self.assertEqual(engine, [["ReplicatedReplacingMergeTree"]])
        compare_table(self, p.db, p.ch_db, "t", [("v", "", "hex")])
        import urllib.request
        q = (f"SELECT toString(id), hex(v) FROM {p.ch_db}.t FINAL WHERE _is_deleted = 0 ORDER BY id FORMAT TSV")
        deadline = time.time() + 60
        while True:
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port2}/", data=q.encode())) as r:
                second = r.read().decode()
            first = ch(q)
            if first == second or time.time() > deadline:
                break
            time.sleep(1)
        self.assertEqual(first, second, "replica 2 did not converge to replica 1")

    def test_bad_input_errors(self):
        p = Pipeline("e2e_bad")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY)", db=p.db)
        with open(p.config) as f:
            cfg = f.read()
        # Wrong MySQL password.
        write_file(p.config, cfg.replace("database.password: sluice", "database.password: nope"))
        out = p.run("run", p.config, "--exit-when-caught-up", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("source.database.password", out.stderr)
        # ClickHouse unreachable: stops before reading the binlog.
        write_file(p.config, re.sub(r"port: \d+\n  database: ", "port: 1\n  database: ", cfg))
        out = p.run("run", p.config, "--exit-when-caught-up", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("ClickHouse", out.stderr)
        # Typo in a key: exit 2, file:line and a suggestion.
        write_file(p.config, cfg.replace("snapshot.mode:", "snapshot.mod:"))
        out = p.run("check", p.config, check=False)
        self.assertEqual(out.returncode, 2)
        self.assertRegex(out.stderr, r"pipeline.yaml:\d+: source: unknown key 'snapshot.mod'; did you mean 'snapshot.mode'\?")


class Faults(unittest.TestCase):
    """Each stops a shared service: ctest runs them serially (RUN_SERIAL)."""

    def _writer(self, db, stop, errors):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                mysql(f"INSERT INTO t VALUES ({i}, {i}) ON DUPLICATE KEY UPDATE v = v + 1;"
                      f"UPDATE t SET v = -v WHERE id = {max(1, i - 7)}; DELETE FROM t WHERE id = {max(1, i - 13)}",
                      db=db)
            except RuntimeError:
                errors.append(i)  # the server is down: this transaction did not happen
                time.sleep(0.2)

    def test_mariadb_restart_mid_stream(self):
        p = Pipeline("e2e_mdbrestart")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v INT)", db=p.db)
        p.start()
        stop, errors = threading.Event(), []
        t = threading.Thread(target=self._writer, args=(p.db, stop, errors))
        t.start()
        try:
            time.sleep(2)
            services("restart", "mariadb")
            time.sleep(3)
        finally:
            stop.set()
            t.join()
        time.sleep(1)
        self.assertIsNotNone(p.proc)
        self.assertIsNone(p.proc.poll(), "sluice exited when MariaDB restarted")
        self.assertEqual(p.stop(), 0)
        p.catch_up()
        compare_table(self, p.db, p.ch_db, "t", [("v", "", "int")])
        with open(os.path.join(p.dir, "run.log")) as f:
            log = f.read()
        self.assertIn("reconnecting", log)
        # Rows written just before a restart, nothing after it: the binlog ends with a STOP event
        # and the next file begins with no ROTATE in between. --exit-when-caught-up must still see
        # that it has read everything (it used to wait forever for a commit in the new file).
        mysql("INSERT INTO t VALUES (2000001, 1), (2000002, 2)", db=p.db)
        services("restart", "mariadb")
        p.catch_up(timeout=60)
        compare_table(self, p.db, p.ch_db, "t", [("v", "", "int")])

    def test_clickhouse_down_60s_loses_nothing(self):
        p = Pipeline("e2e_chdown")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v INT)", db=p.db)
        p.start()
        stop, errors = threading.Event(), []
        t = threading.Thread(target=self._writer, args=(p.db, stop, errors))
        t.start()
        try:
            time.sleep(2)
            services("stop", "clickhouse")
            time.sleep(60)
            services("start", "clickhouse")
            time.sleep(2)
        finally:
            stop.set()
            t.join()
        self.assertIsNone(p.proc.poll(), "sluice exited while ClickHouse was down")
        # SIGTERM while inserts are failing: a bounded, clean stop (not a wait of retry.max.ms),
        # and the next start delivers what was pending.
        services("stop", "clickhouse")
        try:
            mysql("INSERT INTO t VALUES (1000001, 1), (1000002, 2)", db=p.db)
            time.sleep(3)
            t0 = time.time()
            self.assertEqual(p.stop(), 0)
            self.assertLess(time.time() - t0, 10, "SIGTERM took too long while ClickHouse was down")
        finally:
            services("start", "clickhouse")
        p.catch_up()
        compare_table(self, p.db, p.ch_db, "t", [("v", "", "int")])

    def test_purged_binlog_errors_or_resnapshots(self):
        p = Pipeline("e2e_purge")
        p.reset()
        mysql("CREATE TABLE t (id INT PRIMARY KEY, v INT)", db=p.db)
        mysql("INSERT INTO t VALUES (1, 1), (2, 2)", db=p.db)
        p.catch_up()
        mysql("UPDATE t SET v = 10 WHERE id = 1; FLUSH BINARY LOGS; INSERT INTO t VALUES (3, 3); FLUSH BINARY LOGS;",
              db=p.db)
        current = mysql("SHOW MASTER STATUS")[0][0]
        mysql(f"PURGE BINARY LOGS TO '{current}'")
        oldest = mysql("SHOW BINARY LOGS")[0][0]  # the server may keep a file a reader still uses
        out = p.run("run", p.config, "--exit-when-caught-up", check=False)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("purged", out.stderr)
        self.assertIn(f"oldest available: {oldest}", out.stderr)
        self.assertIn("when_needed", out.stderr)
        # The same pipeline with snapshot.mode when_needed takes a new snapshot and converges.
        with open(p.config) as f:
            cfg = f.read()
        with open(p.config, "w") as f:
            f.write(cfg.replace("snapshot.mode: initial", "snapshot.mode: when_needed"))
        out = p.catch_up()
        self.assertIn("taking a new snapshot", out.stderr)
        compare_table(self, p.db, p.ch_db, "t", [("v", "", "int")])


if __name__ == "__main__":
    unittest.main()
