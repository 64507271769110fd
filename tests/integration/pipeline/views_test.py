"""End to end with views: MariaDB -> `sluice run` with transform.sql -> ClickHouse view tables.

Every view table in ClickHouse (FINAL, _is_deleted = 0) must equal the same query run by MariaDB
on the final source tables: after the snapshot and streaming, after SIGTERM and kill -9 restarts
(state restored from the state directory), after a view is added or changed (backfilled without
touching the others), and after a TRUNCATE of a view's source table.
"""
import decimal
import os
import random
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import Pipeline, ch, ch_rows, mysql  # noqa: E402

SCHEMA = """
CREATE TABLE provinces (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE facilities (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, province_id INT NULL);
CREATE TABLE materials (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, unit VARCHAR(10));
CREATE TABLE rates (currency CHAR(3) PRIMARY KEY, rate DECIMAL(12,6) NOT NULL);
CREATE TABLE batches (
  id INT PRIMARY KEY, facility_id INT NOT NULL, material_id INT NOT NULL, qty DECIMAL(12,2) NOT NULL,
  price DECIMAL(12,2) NULL, currency CHAR(3) NOT NULL, received DATE NOT NULL, expiry DATE NULL,
  note VARCHAR(100) NULL);
"""

VIEWS = """
-- stock balance per facility and material (join + sum with updates and deletes)
CREATE MATERIALIZED VIEW stock_balance AS
SELECT b.facility_id, b.material_id, f.name AS facility, sum(b.qty) AS qty, count(*) AS batches
FROM batches b JOIN facilities f ON f.id = b.facility_id
GROUP BY b.facility_id, b.material_id, f.name;

-- batches expiring before a date (join + filter on dates)
CREATE MATERIALIZED VIEW expiring AS
SELECT b.id, b.facility_id, b.expiry, m.name AS material
FROM batches b JOIN materials m ON m.id = b.material_id
WHERE b.expiry < DATE '2027-03-01' AND b.qty > 0;

-- monthly receipts per province (date_trunc + group by; NULL province for facilities without one)
CREATE MATERIALIZED VIEW monthly AS
SELECT date_trunc('month', b.received) AS month, p.name AS province, sum(b.qty) AS qty
FROM batches b JOIN facilities f ON f.id = b.facility_id LEFT JOIN provinces p ON p.id = f.province_id
GROUP BY date_trunc('month', b.received), p.name;

-- currency-converted value (join to a rate table)
CREATE MATERIALIZED VIEW stock_value AS
SELECT b.id, b.currency, b.qty * b.price * r.rate AS value_eur
FROM batches b JOIN rates r ON r.currency = b.currency;

-- conditional routing: one source, two tables
CREATE MATERIALIZED VIEW big_batches AS SELECT id, facility_id, qty FROM batches WHERE qty >= 100;
CREATE MATERIALIZED VIEW small_batches AS SELECT id, facility_id, qty FROM batches WHERE qty < 100;

-- a view over a view
CREATE MATERIALIZED VIEW province_totals AS
SELECT province, sum(qty) AS qty, count(*) AS months FROM monthly GROUP BY province HAVING count(*) >= 1;
"""

MONTHLY_MYSQL = """SELECT DATE_FORMAT(b.received, '%Y-%m-01 00:00:00') AS month, p.name AS province, sum(b.qty) AS qty
FROM batches b JOIN facilities f ON f.id = b.facility_id LEFT JOIN provinces p ON p.id = f.province_id
GROUP BY DATE_FORMAT(b.received, '%Y-%m-01 00:00:00'), p.name"""

# view -> (columns, the same query in MariaDB's dialect)
EXPECTED = {
    "stock_balance": ("facility_id, material_id, facility, qty, batches",
                      "SELECT b.facility_id, b.material_id, f.name, sum(b.qty), count(*) FROM batches b "
                      "JOIN facilities f ON f.id = b.facility_id GROUP BY b.facility_id, b.material_id, f.name"),
    "expiring": ("id, facility_id, expiry, material",
                 "SELECT b.id, b.facility_id, b.expiry, m.name FROM batches b JOIN materials m ON m.id = b.material_id "
                 "WHERE b.expiry < DATE '2027-03-01' AND b.qty > 0"),
    "monthly": ("month, province, qty", MONTHLY_MYSQL),
    "stock_value": ("id, currency, value_eur",
                    "SELECT b.id, b.currency, b.qty * b.price * r.rate FROM batches b JOIN rates r ON r.currency = b.currency"),
    "big_batches": ("id, facility_id, qty", "SELECT id, facility_id, qty FROM batches WHERE qty >= 100"),
    "small_batches": ("id, facility_id, qty", "SELECT id, facility_id, qty FROM batches WHERE qty < 100"),
    "province_totals": ("province, qty, months",
                        f"SELECT province, sum(qty), count(*) FROM ({MONTHLY_MYSQL}) m GROUP BY province "
                        "HAVING count(*) >= 1"),
}

# Views whose select list drops the source keys: their rows are told apart by hidden key columns
# (`_key_<input>_<column>`, `_branch` for UNION ALL) that the ClickHouse tables have and order by.
HIDDEN_KEY_VIEWS = """
-- the key (batches.id) is not selected: equal visible rows stay apart through the hidden key
CREATE MATERIALIZED VIEW batch_lines AS SELECT facility_id, material_id, qty FROM batches;
-- a view over it (its SELECT * does not see the hidden column; it keeps it as its own key)
CREATE MATERIALIZED VIEW big_lines AS SELECT * FROM batch_lines WHERE qty >= 100;
-- UNION ALL of branches keyed differently (batches.id, rates.currency); rows move between the
-- first two branches when qty crosses 100
CREATE MATERIALIZED VIEW movements AS
SELECT facility_id AS ref, qty AS amount, 'big' AS kind FROM batches WHERE qty >= 100
UNION ALL SELECT facility_id, qty, 'small' FROM batches WHERE qty < 100
UNION ALL SELECT 0, rate, currency FROM rates;
-- joins of subqueries that drop their keys (the last join is many-to-many)
CREATE MATERIALIZED VIEW province_batches AS
SELECT p.name AS province, m.name AS material, b.qty
FROM (SELECT facility_id, material_id, qty FROM batches WHERE qty > 0) b
JOIN (SELECT id AS fid, province_id FROM facilities) f ON f.fid = b.facility_id
LEFT JOIN (SELECT id, name FROM materials) m ON m.id = b.material_id
JOIN (SELECT name, id % 2 AS parity FROM provinces) p ON p.parity = f.province_id % 2;
-- GROUP BY keys not selected
CREATE MATERIALIZED VIEW facility_qty AS SELECT sum(qty) AS qty, count(*) AS n FROM batches GROUP BY facility_id;
-- one row at most (a global aggregate): keyed by a constant hidden column
CREATE MATERIALIZED VIEW batch_totals AS SELECT count(*) AS n, sum(qty) AS qty FROM batches;
"""

HIDDEN_KEY_EXPECTED = {
    "batch_lines": ("facility_id, material_id, qty", "SELECT facility_id, material_id, qty FROM batches"),
    "big_lines": ("facility_id, material_id, qty", "SELECT facility_id, material_id, qty FROM batches WHERE qty >= 100"),
    "movements": ("ref, amount, kind",
                  "SELECT facility_id, qty, 'big' FROM batches WHERE qty >= 100 "
                  "UNION ALL SELECT facility_id, qty, 'small' FROM batches WHERE qty < 100 "
                  "UNION ALL SELECT 0, rate, currency FROM rates"),
    "province_batches": ("province, material, qty",
                         "SELECT p.name, m.name, b.qty "
                         "FROM (SELECT facility_id, material_id, qty FROM batches WHERE qty > 0) b "
                         "JOIN (SELECT id AS fid, province_id FROM facilities) f ON f.fid = b.facility_id "
                         "LEFT JOIN (SELECT id, name FROM materials) m ON m.id = b.material_id "
                         "JOIN (SELECT name, id % 2 AS parity FROM provinces) p ON p.parity = f.province_id % 2"),
    "facility_qty": ("qty, n", "SELECT sum(qty), count(*) FROM batches GROUP BY facility_id"),
    "batch_totals": ("n, qty", "SELECT count(*), sum(qty) FROM batches"),
}

CURRENCIES = ["EUR", "USD", "XOF", "GBP"]  # GBP has no rate: inner join drops it


def norm(v):
    if v is None:
        return None
    try:
        return ("n", decimal.Decimal(v))
    except decimal.InvalidOperation:
        pass
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)(?: (\d\d:\d\d:\d\d)(?:\.0+)?)?", v)
    if m:
        return ("t", m.group(1) + " " + (m.group(2) or "00:00:00"))
    return ("s", v)


def sort_key(row):
    return [(0, "") if c is None else (1, str(c)) for c in row]


def compare_view(test, p, view, expected=None):
    cols, sql = (expected or EXPECTED)[view]
    want = sorted(([norm(v) for v in r] for r in mysql(sql, db=p.db)), key=sort_key)
    got = sorted(([norm(v) for v in r] for r in ch_rows(
        f"SELECT {cols} FROM {p.ch_db}.{view} FINAL WHERE _is_deleted = 0")), key=sort_key)
    if want != got:
        missing = [r for r in want if r not in got][:5]
        extra = [r for r in got if r not in want][:5]
        test.fail(f"view {view}: {len(want)} rows in MariaDB, {len(got)} in ClickHouse; "
                  f"missing {missing}; extra {extra}")


def compare_all(test, p, views=None):
    for v in views or EXPECTED:
        compare_view(test, p, v)


class Workload:
    def __init__(self, db, seed):
        self.db = db
        self.rng = random.Random(seed)
        self.next_batch = 1
        self.next_facility = 1

    def setup(self, batches=400):
        mysql(SCHEMA, db=self.db)
        mysql("INSERT INTO provinces VALUES (1,'North'),(2,'South'),(3,'East'),(4,'West');"
              "INSERT INTO rates VALUES ('EUR',1.000000),('USD',0.920000),('XOF',0.001524);", db=self.db)
        mysql(";".join(f"INSERT INTO materials VALUES ({i}, 'material {i}', 'box')" for i in range(1, 31)), db=self.db)
        stmts = [self.insert_facility() for _ in range(20)]
        stmts += [self.insert_batch() for _ in range(batches)]
        mysql(";".join(stmts), db=self.db)

    def insert_facility(self):
        i = self.next_facility
        self.next_facility += 1
        prov = self.rng.choice(["1", "2", "3", "5", "NULL"])  # 5: no such province
        return f"INSERT INTO facilities VALUES ({i}, 'facility {i}', {prov})"

    def insert_batch(self):
        r = self.rng
        i = self.next_batch
        self.next_batch += 1
        qty = r.choice([r.randint(1, 99), r.randint(100, 500), 0])
        price = "NULL" if r.random() < 0.1 else f"{r.randint(1, 9999) / 100:.2f}"
        expiry = "NULL" if r.random() < 0.2 else f"'2026-{r.randint(10, 12):02d}-{r.randint(1, 28):02d}'" \
            if r.random() < 0.5 else f"'2027-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}'"
        return (f"INSERT INTO batches VALUES ({i}, {r.randint(1, self.next_facility - 1)}, {r.randint(1, 32)}, "
                f"{qty}.{r.randint(0, 99):02d}, {price}, '{r.choice(CURRENCIES)}', "
                f"'2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}', {expiry}, NULL)")

    def random_statement(self):
        r = self.rng
        b = r.randint(1, self.next_batch - 1)
        f = r.randint(1, self.next_facility - 1)
        k = r.random()
        if k < 0.30:
            return self.insert_batch()
        if k < 0.45:
            return f"UPDATE batches SET qty = qty + {r.randint(-50, 150)} WHERE id = {b} AND qty < 5000"
        if k < 0.52:
            return f"UPDATE batches SET facility_id = {f} WHERE id = {b}"
        if k < 0.58:
            return f"UPDATE batches SET expiry = '2027-0{r.randint(1, 5)}-15', note = 'moved' WHERE id = {b}"
        if k < 0.70:
            return f"DELETE FROM batches WHERE id = {b}"
        if k < 0.74:
            return f"UPDATE rates SET rate = rate * 1.01 WHERE currency = '{r.choice(CURRENCIES)}'"
        if k < 0.80:
            return f"UPDATE facilities SET province_id = {r.choice(['1', '4', '5', 'NULL'])} WHERE id = {f}"
        if k < 0.84:
            return f"DELETE FROM facilities WHERE id = {f}"
        if k < 0.88:
            return (f"INSERT INTO facilities VALUES ({f}, 'facility {f} again', 2) "
                    f"ON DUPLICATE KEY UPDATE name = CONCAT(name, '+')")
        if k < 0.92:
            return f"UPDATE materials SET name = CONCAT('material ', id, ' v{r.randint(1, 9)}') WHERE id = {r.randint(1, 30)}"
        if k < 0.96:
            return f"UPDATE batches SET qty = 0 WHERE facility_id = {f}"  # many rows, one statement
        return f"INSERT INTO facilities VALUES ({self.next_facility}, 'new', 3)" if self._bump() else "SELECT 1"

    def _bump(self):
        self.next_facility += 1
        return True

    def run(self, statements, per_txn=4):
        done = 0
        while done < statements:
            n = min(per_txn, statements - done)
            body = ";".join(self.random_statement() for _ in range(n))
            mysql(f"START TRANSACTION; {body}; COMMIT;", db=self.db)
            done += n


class Views(unittest.TestCase):
    def test_views_equal_mariadb_through_restarts_backfill_and_truncate(self):
        # A 64 KiB budget for view state: joins and groups are evicted to RocksDB and read back.
        p = Pipeline("views_e2e", views=VIEWS, view_memory=65536)
        p.reset()
        w = Workload(p.db, 42)
        w.setup()

        # Snapshot + streaming while running, then a graceful stop and catch-up from the stored state.
        p.start()
        w.run(200)
        time.sleep(2)
        self.assertEqual(p.stop(), 0)
        w.run(100)
        p.catch_up()
        compare_all(self, p)

        # kill -9 mid-stream: the view state and the offset come back together.
        p.start()
        w.run(200)
        p.kill9()
        w.run(60)
        out = p.catch_up()
        compare_all(self, p)
        # The budget was too small for the state: it went to the store and came back.
        m = re.search(r"view state: (\d+) bytes in memory \(budget 65536\), (\d+) loads from the store, (\d+) evictions",
                      out.stderr)
        self.assertIsNotNone(m, out.stderr[-2000:])
        self.assertGreater(int(m.group(2)), 0)
        self.assertGreater(int(m.group(3)), 0)

        # A changed view and a new view are backfilled; the others keep their tables and state.
        def created(view):
            return ch(f"SELECT metadata_modification_time FROM system.tables WHERE database = '{p.ch_db}' "
                      f"AND name = '{view}'").strip()
        stock_balance_created = created("stock_balance")
        time.sleep(1.1)  # table times have a one-second resolution
        p.write_views(VIEWS.replace("WHERE qty >= 100;", "WHERE qty >= 200;") +
                      "\nCREATE MATERIALIZED VIEW facility_batches AS SELECT facility_id, count(*) AS n, "
                      "max(qty) AS max_qty, min(expiry) AS first_expiry FROM batches GROUP BY facility_id;\n")
        EXPECTED_BACKFILL = dict(EXPECTED)
        EXPECTED_BACKFILL["big_batches"] = ("id, facility_id, qty",
                                            "SELECT id, facility_id, qty FROM batches WHERE qty >= 200")
        EXPECTED_BACKFILL["facility_batches"] = (
            "facility_id, n, max_qty, first_expiry",
            "SELECT facility_id, count(*), max(qty), min(expiry) FROM batches GROUP BY facility_id")
        w.run(40)
        out = p.catch_up()
        self.assertRegex(out.stderr, r"backfilling view\(s\) big_batches, facility_batches from")
        self.assertNotRegex(out.stderr, r"backfilling view\(s\)[^\n]*stock_balance")
        EXPECTED.update(EXPECTED_BACKFILL)
        try:
            compare_all(self, p)
            # stock_balance was not reloaded: its ClickHouse table is the same one.
            self.assertEqual(created("stock_balance"), stock_balance_created)

            # TRUNCATE of a view's source: its readers are rebuilt, nothing else.
            mysql("TRUNCATE TABLE rates; INSERT INTO rates VALUES ('EUR', 1.000000), ('USD', 0.950000);", db=p.db)
            w.run(20)
            out = p.catch_up()
            self.assertRegex(out.stderr, r"backfilling view\(s\) stock_value from")
            compare_all(self, p)
        finally:
            del EXPECTED["facility_batches"]
            EXPECTED["big_batches"] = ("id, facility_id, qty", "SELECT id, facility_id, qty FROM batches WHERE qty >= 100")

    def test_kill9_mid_snapshot_rebuilds_views(self):
        """kill -9 twice while the initial snapshot feeds the views — their state derived so far is
        not committed (written without undo records) — with writes going on: each restart resumes
        the snapshot and rebuilds every view from a consistent read; ClickHouse equals MariaDB."""
        p = Pipeline("views_snapkill", views=VIEWS, view_memory=1 << 20, source_extra="  snapshot.fetch.size: 50")
        p.reset()
        w = Workload(p.db, 7)
        w.setup()
        mysql("INSERT INTO batches SELECT 1000 + seq, 1 + seq % 20, 1 + seq % 32, (seq % 300) + 0.25, "
              "IF(seq % 10 = 0, NULL, (seq % 97) + 0.5), ELT(1 + seq % 4, 'EUR', 'USD', 'XOF', 'GBP'), "
              "'2026-01-01' + INTERVAL (seq % 360) DAY, IF(seq % 5 = 0, NULL, '2026-10-01' + INTERVAL (seq % 300) DAY), "
              "NULL FROM seq_1_to_60000", db=p.db)
        w.next_batch = 61001
        run_log = os.path.join(p.dir, "run.log")

        def wait_for(ready):
            deadline = time.time() + 60
            while time.time() < deadline and not ready():
                time.sleep(0.05)

        def has_batches():  # ClickHouse has snapshot rows of batches: the snapshot is underway
            try:
                return int(ch(f"SELECT count() FROM {p.ch_db}.batches").strip() or 0) > 0
            except Exception:  # noqa: BLE001 - the table is not there yet
                return False

        # First kill: mid-snapshot. Second: while the restart rebuilds the views (a backfill).
        p.start()
        wait_for(has_batches)
        w.run(20)
        p.kill9()
        p.start()
        wait_for(lambda: "backfilling view(s)" in open(run_log).read())
        w.run(20)
        p.kill9()
        w.run(40)
        out = p.catch_up()
        with open(run_log) as f:
            log = f.read()
        self.assertIn("the snapshot was interrupted and is resumed at a later position: the views are rebuilt", log)
        self.assertIn("backfilling view(s)", log)
        compare_all(self, p)
        self.assertRegex(out.stderr, r"keys of snapshot/backfill state ingested as table files")

    def test_views_without_visible_key_use_hidden_key_columns(self):
        p = Pipeline("views_hidden", views=HIDDEN_KEY_VIEWS, view_memory=65536)
        p.reset()
        w = Workload(p.db, 23)
        w.setup(batches=250)
        # Equal visible rows from the start (batch_lines, big_lines, movements show only qty etc.).
        mysql("INSERT INTO batches VALUES (9001, 1, 1, 150.00, NULL, 'EUR', '2026-01-01', NULL, NULL),"
              "(9002, 1, 1, 150.00, NULL, 'EUR', '2026-01-01', NULL, NULL),"
              "(9003, 1, 1, 150.00, NULL, 'EUR', '2026-01-01', NULL, 'third')", db=p.db)

        def compare():
            for v in HIDDEN_KEY_EXPECTED:
                compare_view(self, p, v, HIDDEN_KEY_EXPECTED)

        p.start()
        w.run(150)
        time.sleep(2)
        self.assertEqual(p.stop(), 0)
        compare()
        # Updates of visible columns keep the row's hidden key; one of three equal rows is deleted,
        # one moves to the other UNION ALL branch.
        mysql("UPDATE batches SET qty = 151.00 WHERE id = 9001; DELETE FROM batches WHERE id = 9002;"
              "UPDATE batches SET qty = 50.00 WHERE id = 9003; UPDATE rates SET rate = 2 WHERE currency = 'EUR'",
              db=p.db)
        w.run(60)
        p.catch_up()
        compare()
        # kill -9 mid-stream: state and offset come back together.
        p.start()
        w.run(150)
        p.kill9()
        w.run(40)
        p.catch_up()
        compare()

        # The hidden key columns are in the ClickHouse tables and in their ORDER BY.
        for view, hidden in [("batch_lines", ["_key_batches_id"]),
                             ("big_lines", ["_key_batches_id"]),
                             ("movements", ["_key_1", "_key_currency", "_branch"]),
                             ("province_batches", ["_key_batches_id", "_key_provinces_id"]),
                             ("facility_qty", ["_key_batches_facility_id"]),
                             ("batch_totals", ["_key_row"])]:
            create = ch(f"SHOW CREATE TABLE {p.ch_db}.{view}")
            order_by = create[create.index("ORDER BY"):]
            for col in hidden:
                self.assertIn(col, create, view)
                self.assertIn(col, order_by, view)
        # Hidden key values are what identify rows: no two live rows share them.
        dup = ch(f"SELECT count() FROM (SELECT _key_1, _key_currency, _branch, count() AS c "
                 f"FROM {p.ch_db}.movements FINAL WHERE _is_deleted = 0 "
                 f"GROUP BY _key_1, _key_currency, _branch HAVING c > 1)").strip()
        self.assertEqual(dup, "0")
        self.assertEqual(ch(f"SELECT count() FROM {p.ch_db}.batch_lines FINAL WHERE _is_deleted = 0 "
                            "AND _key_batches_id IN (9001, 9002, 9003)").strip(), "2")

    def test_views_over_mixed_case_and_quoted_table_names(self):
        """MySQL table names are case-sensitive: tables such as `Customers` and `Order Items` feed the
        views that name them (quoted, as PostgreSQL wants mixed case), in the snapshot and streaming."""
        p = Pipeline("views_case", views="""
CREATE MATERIALIZED VIEW "customer totals" AS
SELECT c."Name" AS name, count(*) AS n, sum(o."Amount") AS total
FROM "Customers" c JOIN "Order Items" o ON o."CustomerId" = c."Id" GROUP BY c."Name";
CREATE MATERIALIZED VIEW big_items AS SELECT "Id" AS id, "Amount" AS amount FROM "Order Items" WHERE "Amount" > 10;
-- RisingWave's sink statement names the view's ClickHouse table (its connection options are the sink section's).
CREATE SINK big_items_ch FROM big_items WITH (connector = 'clickhouse', type = 'upsert',
  clickhouse.url = 'http://elsewhere:8123', clickhouse.table = 'items_over_10', primary_key = 'id');
""")
        p.reset()
        mysql("CREATE TABLE Customers (Id INT PRIMARY KEY, Name VARCHAR(20));"
              "CREATE TABLE `Order Items` (Id INT PRIMARY KEY, CustomerId INT, Amount DECIMAL(10,2));"
              "INSERT INTO Customers VALUES (1, 'Ann'), (2, 'Bob'), (3, 'Cy');"
              "INSERT INTO `Order Items` VALUES (1, 1, 5.50), (2, 1, 20.00), (3, 2, 7.25), (4, 3, 11.00)", db=p.db)

        def compare():
            for view, cols, sql in [
                    ("`customer totals`", "name, n, total",
                     "SELECT c.Name, count(*), sum(o.Amount) FROM Customers c JOIN `Order Items` o "
                     "ON o.CustomerId = c.Id GROUP BY c.Name"),
                    ("items_over_10", "id, amount", "SELECT Id, Amount FROM `Order Items` WHERE Amount > 10")]:
                want = sorted(([norm(v) for v in r] for r in mysql(sql, db=p.db)), key=sort_key)
                got = sorted(([norm(v) for v in r] for r in ch_rows(
                    f"SELECT {cols} FROM {p.ch_db}.{view} FINAL WHERE _is_deleted = 0")), key=sort_key)
                self.assertTrue(want)
                self.assertEqual(want, got, view)

        p.catch_up()  # the snapshot
        compare()
        mysql("UPDATE `Order Items` SET Amount = Amount * 3 WHERE Id IN (1, 3); DELETE FROM `Order Items` WHERE Id = 4;"
              "UPDATE Customers SET Name = 'Bo' WHERE Id = 2; INSERT INTO `Order Items` VALUES (5, 3, 50.00)", db=p.db)
        p.catch_up()  # streamed changes
        compare()

    def test_views_over_many_column_types_equal_mariadb(self):
        """Views over ENUM, SET, JSON, BIT, YEAR, TIME, DATETIME(6), unsigned integers, DECIMAL(65,30)
        (beyond 38 digits: grouped, joined, min/max'ed by value), text and binary columns, in the
        snapshot and streaming: ClickHouse equals the same queries run by MariaDB."""
        p = Pipeline("views_types", views="""
CREATE MATERIALIZED VIEW by_kind AS
SELECT kind, count(*) AS n, min(big) AS lo, max(big) AS hi, sum(ii) AS s_ii, sum(mi) AS s_mi,
       max(dt) AS last_dt, count(DISTINCT tags) AS n_tags
FROM items GROUP BY kind;
CREATE MATERIALIZED VIEW by_big AS SELECT big, count(*) AS n FROM items GROUP BY big;
CREATE MATERIALIZED VIEW labelled AS SELECT i.id, l.label, i.big FROM items i JOIN labels l ON l.big = i.big;
CREATE MATERIALIZED VIEW details AS
SELECT id, doc->>'s' AS s, (doc->>'k')::int AS k, name || '!' AS name1, upper(name) AS uname, length(name) AS lname,
       extract(year FROM dt) AS y, yr, flags, si + 1 AS si1, money * 2 AS money2, big
FROM items WHERE kind <> 'b' AND (big IS NULL OR big > -1);
""")
        p.reset()
        mysql("""CREATE TABLE items (
  id BIGINT UNSIGNED PRIMARY KEY, kind ENUM('a','b','c') NOT NULL, tags SET('x','y','z'), doc JSON,
  flags BIT(5), yr YEAR, t TIME(3), dt DATETIME(6), big DECIMAL(65,30), money DECIMAL(12,2),
  si SMALLINT UNSIGNED, mi MEDIUMINT, ii INT UNSIGNED, name VARCHAR(50) CHARACTER SET utf8mb4, bin VARBINARY(8));
CREATE TABLE labels (big DECIMAL(65,30) PRIMARY KEY, label VARCHAR(10));
INSERT INTO labels VALUES (123456789.123456789, 'nine'), (-0.000000000000000000000000000001, 'tiny'),
  (99999999999999999999999999999999999.999999999999999999999999999999, 'max');
INSERT INTO items VALUES
 (1,'a','x,y','{"k": 1, "s": "h\u00e9"}',b'10101',2024,'12:34:56.789','2026-01-02 03:04:05.123456',
  123456789.123456789,12.34,65535,-8388608,4294967295,'naïve',x'00ff'),
 (2,'b',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL),
 (3,'c','z','[1,"two",null]',b'00001',1999,'-838:59:59','1970-01-01 00:00:00.000001',
  -99999999999999999999999999999999999.999999999999999999999999999999,-9999999999.99,0,8388607,0,'',''),
 (4,'a','x','{"k": 7}',b'11111',1901,'00:00:00','2038-01-19 03:14:07.999999',
  99999999999999999999999999999999999.999999999999999999999999999999,0.01,1,1,1,'z',x'01')""", db=p.db)

        def compare():
            for view, cols, sql in [
                    ("by_kind", "kind, n, lo, hi, s_ii, s_mi, last_dt, n_tags",
                     "SELECT kind, count(*), min(big), max(big), sum(ii), sum(mi), "
                     "DATE_FORMAT(max(dt), '%Y-%m-%d %H:%i:%s.%f'), count(DISTINCT tags) FROM items GROUP BY kind"),
                    ("by_big", "big, n", "SELECT big, count(*) FROM items GROUP BY big"),
                    ("labelled", "id, label, big", "SELECT i.id, l.label, i.big FROM items i JOIN labels l ON l.big = i.big"),
                    ("details", "id, s, k, name1, uname, lname, y, yr, flags, si1, money2, big",
                     "SELECT id, JSON_VALUE(doc, '$.s'), CAST(JSON_VALUE(doc, '$.k') AS SIGNED), concat(name, '!'), upper(name), "
                     "char_length(name), "
                     "year(dt), yr, flags + 0, si + 1, money * 2, big FROM items "
                     "WHERE kind <> 'b' AND (big IS NULL OR big > -1)")]:
                want = sorted(([norm(v) for v in r] for r in mysql(sql, db=p.db)), key=sort_key)
                got = sorted(([norm(v) for v in r] for r in ch_rows(
                    f"SELECT {cols} FROM {p.ch_db}.{view} FINAL WHERE _is_deleted = 0")), key=sort_key)
                self.assertTrue(want, view)
                self.assertEqual(want, got, view)

        p.catch_up()  # the snapshot
        compare()
        mysql("UPDATE items SET big = 123456789.123456789, tags = 'y,z', doc = '{\"s\": \"new\", \"k\": -3}' WHERE id = 4;"
              "DELETE FROM items WHERE id = 3; UPDATE labels SET label = 'nine!' WHERE label = 'nine';"
              "INSERT INTO items VALUES (5,'c','x,y,z','{}',b'0',2000,'-00:00:01.5','2000-01-01 00:00:00',"
              "-0.000000000000000000000000000001,1.00,2,-2,2,'Ω',x'')", db=p.db)
        p.catch_up()  # streamed changes
        compare()

    def test_source_column_added_and_view_state_survives(self):
        p = Pipeline("views_ddl", views="""
CREATE MATERIALIZED VIEW per_facility AS
SELECT facility_id, count(*) AS n, sum(qty) AS qty, count(DISTINCT material_id) AS materials
FROM batches GROUP BY facility_id;
""")
        p.reset()
        w = Workload(p.db, 7)
        w.setup(batches=100)
        p.catch_up()
        mysql("ALTER TABLE batches ADD COLUMN lot VARCHAR(20) NULL AFTER id", db=p.db)
        w.next_batch += 0
        mysql(";".join(f"INSERT INTO batches (id, lot, facility_id, material_id, qty, currency, received) VALUES "
                       f"({1000 + i}, 'L{i}', {1 + i % 5}, {1 + i % 7}, {i}.50, 'EUR', '2026-03-0{1 + i % 9}')"
                       for i in range(30)) + "; DELETE FROM batches WHERE id < 20; UPDATE batches SET qty = qty * 2 "
              "WHERE id % 3 = 0;", db=p.db)
        p.catch_up()
        want = sorted(mysql("SELECT facility_id, count(*), sum(qty), count(DISTINCT material_id) FROM batches "
                            "GROUP BY facility_id", db=p.db), key=sort_key)
        got = sorted(ch_rows(f"SELECT facility_id, n, qty, materials FROM {p.ch_db}.per_facility FINAL "
                             "WHERE _is_deleted = 0"), key=sort_key)
        self.assertEqual([[norm(v) for v in r] for r in want], [[norm(v) for v in r] for r in got])

    def test_sighup_reloads_views_without_restart(self):
        one = ("CREATE MATERIALIZED VIEW per_facility AS SELECT facility_id, count(*) AS n, sum(qty) AS qty "
               "FROM batches GROUP BY facility_id;\n")
        p = Pipeline("views_hup", views=one)
        p.reset()
        w = Workload(p.db, 11)
        w.setup(batches=150)
        p.start()
        log = os.path.join(p.dir, "run.log")

        def wait_log(text, timeout=60):
            deadline = time.time() + timeout
            while time.time() < deadline:
                with open(log) as f:
                    if text in f.read():
                        return
                self.assertIsNone(p.proc.poll(), "sluice exited")
                time.sleep(0.2)
            with open(log) as f:
                self.fail(f"{text!r} not in the log:\n{f.read()[-3000:]}")

        try:
            w.run(40)
            wait_log("streaming the binlog")
            # A view that does not compile: logged, nothing changes, sluice keeps running.
            p.write_views(one + "CREATE MATERIALIZED VIEW broken AS SELECT nope FROM batches;\n")
            p.proc.send_signal(signal.SIGHUP)
            wait_log("reload failed")
            w.run(20)
            # A new view: backfilled while the pipeline runs; the old one keeps its table and state.
            p.write_views(one + "CREATE MATERIALIZED VIEW by_material AS SELECT material_id, max(qty) AS max_qty, "
                          "count(*) AS n FROM batches GROUP BY material_id;\n")
            p.proc.send_signal(signal.SIGHUP)
            wait_log("reloaded")
            w.run(40)
        finally:
            self.assertEqual(p.stop(), 0)
        with open(log) as f:
            text = f.read()
        self.assertIn("backfilling view(s) by_material from", text)
        self.assertNotRegex(text, r"backfilling view\(s\)[^\n]*per_facility")
        p.catch_up()
        for view, cols, sql in [
                ("per_facility", "facility_id, n, qty",
                 "SELECT facility_id, count(*), sum(qty) FROM batches GROUP BY facility_id"),
                ("by_material", "material_id, max_qty, n",
                 "SELECT material_id, max(qty), count(*) FROM batches GROUP BY material_id")]:
            want = sorted(([norm(v) for v in r] for r in mysql(sql, db=p.db)), key=sort_key)
            got = sorted(([norm(v) for v in r] for r in ch_rows(
                f"SELECT {cols} FROM {p.ch_db}.{view} FINAL WHERE _is_deleted = 0")), key=sort_key)
            self.assertEqual(want, got, view)

    def test_bad_view_sql_is_reported_with_position(self):
        p = Pipeline("views_bad", views="SELECT 1;")
        p.reset()
        mysql(SCHEMA + "CREATE TABLE loose (a INT, b INT);", db=p.db)
        cases = [
            ("CREATE MATERIALIZED VIEW v AS\nSELECT id, FROM batches;", r"views\.sql:2:\d+: .*syntax error"),
            ("CREATE MATERIALIZED VIEW v AS SELECT id, nope FROM batches;", r"views\.sql:1:\d+: .*nope"),
            ("CREATE MATERIALIZED VIEW v AS SELECT id FROM nowhere;", r"views\.sql:1:\d+: .*nowhere"),
            ("CREATE MATERIALIZED VIEW v AS SELECT id, row_number() OVER () FROM batches;",
             r"views\.sql:1:\d+: .*unsupported"),
            ("CREATE MATERIALIZED VIEW v AS SELECT a FROM loose;",
             r"views\.sql:1:\d+: view v has no unique key[^\n]*reads views_bad\.loose without a primary key"),
        ]
        for sql, pattern in cases:
            p.write_views(sql)
            out = p.run("check", p.config, check=False)
            self.assertNotEqual(out.returncode, 0, sql)
            self.assertRegex(out.stderr, pattern, sql)
            out = p.run("run", p.config, "--exit-when-caught-up", check=False)
            self.assertNotEqual(out.returncode, 0, sql)
            self.assertRegex(out.stderr, pattern, sql)
        mysql("DROP TABLE loose", db=p.db)  # a table without a primary key needs sink order.by to be captured
        p.write_views("CREATE MATERIALIZED VIEW v AS SELECT id, qty FROM batches WHERE qty > 1;")
        out = p.run("check", p.config, check=False)
        self.assertIn("views: ok (1 view(s)", out.stdout)

        # A run-time error (bigint overflow, as PostgreSQL) stops the pipeline naming the view and the
        # change; fixing the view lets it go on, and the view is rebuilt.
        mysql("INSERT INTO batches VALUES (1, 1, 1, 5, NULL, 'EUR', '2026-01-01', NULL, NULL)", db=p.db)
        p.catch_up()
        mysql("INSERT INTO batches VALUES (2, 3, 1, 5, NULL, 'EUR', '2026-01-01', NULL, NULL)", db=p.db)
        p.write_views("CREATE MATERIALIZED VIEW v AS SELECT id, facility_id * 9223372036854775807 AS x FROM batches;")
        out = p.run("run", p.config, "--exit-when-caught-up", check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertRegex(out.stderr, r"view v \(views\.sql:1:1\) on a change of views_bad\.batches at [^\n]*: bigint out of range")
        p.write_views("CREATE MATERIALIZED VIEW v AS SELECT id, facility_id * 2 AS x FROM batches;")
        p.catch_up()
        self.assertEqual(ch_rows(f"SELECT id, x FROM {p.ch_db}.v FINAL WHERE _is_deleted = 0 ORDER BY id"),
                         [["1", "2"], ["2", "6"]])
        # A missing file names the key and the file.
        os.remove(os.path.join(p.dir, "views.sql"))
        out = p.run("check", p.config, check=False)
        self.assertRegex(out.stderr, r"transform\.sql: cannot read 'views\.sql'")


if __name__ == "__main__":
    unittest.main()
