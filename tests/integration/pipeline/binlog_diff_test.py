"""Differential test: `sluice capture --output jsonl` against `mariadb-binlog --verbose` on the same binlog.

mariadb-binlog (MariaDB's own client, `--verbose --base64-output=DECODE-ROWS`) decodes the row
events of a binlog into `### INSERT INTO` / `### UPDATE` / `### DELETE FROM` blocks with one
`###   @N=value` line per column. This test writes a workload to its own database `binlog_diff`
(a table of every column type of issue 3 with edge values, a table with a three-column primary
key, a table altered four times mid-stream, a 301-column table and one without a primary key)
into freshly rotated binlog files, reads the same events with sluice, and compares event by
event:

* the number and order of row events, the table and the op (`c`/`u`/`d`; an UPDATE that changes
  the primary key is sluice's delete + create, as Debezium does);
* `source.file`, `source.pos` (the `# at` offset of the rows event), `source.row` (the row's
  index inside its rows event) and `source.gtid` (the GTID event that opened the transaction);
* `before` and `after` column by column (column names and order against the table definition,
  @N being the N-th column), after normalizing both sides to one canonical form per type
  (see `canon_binlog` and `canon_sluice`; every normalization says why it is needed there);
* the record key against the row's primary-key columns.

Sluice reads the workload twice (VARIANTS): with `decimal.handling.mode: string`,
`binary.handling.mode: hex`, `bigint.unsigned.handling.mode: precise` and
`enable.time.adjuster: false`, so that no value is rounded or shifted on its side, and with
Debezium's defaults. Each starts with `snapshot.mode: no_data` before the workload (a first
`--exit-when-caught-up` run only stores the position), then reads exactly the workload from that
offset. Differences that are deliberate (Debezium's value rules) are applied by
`expected_from_binlog` with the reason and listed in docs/DEBEZIUM_COMPAT.md ("Differential
test against mariadb-binlog"); anything else fails.

Run by ctest (`binlog_diff`, label integration) after scripts/services start; alone:
    SLUICE_BIN=build/sluice python3 tests/integration/pipeline/binlog_diff_test.py -v
SLUICE_DIFF_KEEP=1 keeps the work directory (sluice's jsonl, mariadb-binlog's text) and prints it.
"""
import base64
import ipaddress
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import MYSQL_PORT, MYSQL_PW, MYSQL_ROOT_PW, MYSQL_USER, SLUICE, mysql, server_id  # noqa: E402
import e2e_test  # noqa: E402  (its TYPES/ROWS edge values are the base of the type matrix)

DB = "binlog_diff"
# Sluice's option sets, each read by its own replica (server ids from helpers.server_id(), unique
# among all tests). "exact": no value rounded or shifted on
# sluice's side; "defaults": Debezium's default representations (Decimal bytes, base64 binary,
# BIGINT UNSIGNED as a wrapping long, two-digit-year adjuster).
VARIANTS = {
    "exact": (server_id(), {"decimal.handling.mode": "string", "binary.handling.mode": "hex",
                     "bigint.unsigned.handling.mode": "precise", "enable.time.adjuster": "false"}),
    "defaults": (server_id(), {}),
}

E300 = [f"v{i}" for i in range(1, 301)]  # > 255 members: 2-byte ENUM
S64 = [f"m{i}" for i in range(1, 65)]    # 64 members: 8-byte SET


def fsp_values(n, kind):
    """Edge values of TIME(n)/DATETIME(n)/TIMESTAMP(n) for rows 1..5 (SQL literals)."""
    nines, one, some = "9" * n, "0" * (n - 1) + "1", "123456"[:n]
    if kind == "time":
        return [f"'-838:59:59.{nines}'", f"'838:59:59.{nines}'", "NULL", f"'-00:00:00.{one}'", f"'12:34:56.{some}'"]
    if kind == "datetime":
        return [f"'1000-01-01 00:00:00.{one}'", f"'9999-12-31 23:59:59.{nines}'", "NULL", "'0000-00-00 00:00:00'",
                f"'2024-02-29 12:34:56.{some}'"]
    return [f"'1970-01-01 00:00:01.{one}'", f"'2038-01-19 03:14:07.{nines}'", "NULL", "'0000-00-00 00:00:00'",
            f"'2024-02-29 12:34:56.{some}'"]


# Columns added to e2e_test.TYPES: (name, SQL type, values of rows 1..5 as SQL literals).
EXTRA = [
    ("boo", "BOOLEAN", ["TRUE", "FALSE", "NULL", "2", "-1"]),
    ("f73", "FLOAT(7,3)", ["-9999.999", "0.001", "NULL", "1.5", "1234.5"]),
    ("d0", "DECIMAL(5,0) UNSIGNED", ["99999", "0", "NULL", "1", "10"]),
    ("d4", "DECIMAL(18,9)", ["-123456789.123456789", "999999999.999999999", "NULL", "0.000000001", "-0.5"]),
    ("d5", "DECIMAL(20,10)", ["1234567890.0123456789", "-9999999999.9999999999", "NULL", "0", "0.1"]),
    ("d6", "DECIMAL(10,10)", ["0.9999999999", "-0.0000000001", "NULL", "0", "0.5"]),
    ("d7", "DECIMAL(65,0)", ["9" * 65, "-" + "9" * 65, "NULL", "0", "1" + "0" * 64]),
    ("b8", "BIT(8)", ["b'10000000'", "b'11111111'", "NULL", "b'0'", "b'1'"]),
    ("b32", "BIT(32)", ["2147483649", "4294967295", "NULL", "0", "1"]),
    ("b63", "BIT(63)", ["9223372036854775807", "4611686018427387904", "NULL", "0", "1"]),
    *[(f"tm{n}", f"TIME({n})", fsp_values(n, "time")) for n in range(1, 6)],
    *[(f"dtm{n}", f"DATETIME({n})", fsp_values(n, "datetime")) for n in (1, 2, 4, 5)],
    *[(f"ts{n}", f"TIMESTAMP({n}) NULL", fsp_values(n, "timestamp")) for n in range(1, 6)],
    ("dnn", "DATE NOT NULL", ["'2000-02-29'", "'9999-12-31'", "'0000-00-00'", "'0000-00-00'", "'1000-01-01'"]),
    ("c3", "CHAR(10) CHARACTER SET utf8mb3", ["'ünï'", "'ÀÿÆ €'", "NULL", "''", "'  lead'"]),
    ("vc3", "VARCHAR(40) CHARACTER SET utf8mb3", ["'ßäö 中文'", "REPEAT('é', 40)", "NULL", "''", "'tab\\there'"]),
    ("cl", "CHAR(5) CHARACTER SET latin1", ["'café'", "'Ø'", "NULL", "''", "'€'"]),
    # CHAR of more than 255 bytes: the table map packs its real type and length differently.
    ("c100", "CHAR(100)", ["REPEAT('ü', 100)", "'🚀'", "NULL", "''", "'x  '"]),
    ("cl255", "CHAR(255) CHARACTER SET latin1", ["REPEAT('é', 255)", "'a'", "NULL", "''", "'ÿ'"]),
    ("cb255", "CHAR(255) CHARACTER SET binary", ["X'01'", "UNHEX(REPEAT('AB', 255))", "NULL", "X''", "X'0000FF'"]),
    ("vcb", "VARCHAR(20) CHARACTER SET binary", ["X'00FF'", "X''", "NULL", "X'20'", "X'0020'"]),
    ("cb", "CHAR(6) CHARACTER SET binary", ["X'01'", "X'000000000000'", "NULL", "X'20202020'", "X'FFFFFFFFFFFF'"]),
    ("tt", "TINYTEXT", ["REPEAT('ü', 127)", "''", "NULL", "'x'", "'\\\\0'"]),
    ("ltxt", "LONGTEXT", ["REPEAT('long ', 40000)", "''", "NULL", "'🚀'", "'a'"]),
    ("tb", "TINYBLOB", ["X'00'", "X''", "NULL", "UNHEX(REPEAT('FF', 255))", "X'0A'"]),
    ("mb", "MEDIUMBLOB", ["UNHEX(REPEAT('00FF10', 30000))", "X''", "NULL", "X'0A0D'", "X'5C27'"]),
    ("lb", "LONGBLOB", ["UNHEX(REPEAT('01', 70000))", "X''", "NULL", "X'1F20'", "X'7F80'"]),
    ("e300", "ENUM(" + ",".join(f"'{v}'" for v in E300) + ")", ["'v300'", "'v1'", "NULL", "'v256'", "''"]),
    ("s64", "SET(" + ",".join(f"'{v}'" for v in S64) + ")",
     ["'m1,m64'", "''", "NULL", "'" + ",".join(S64) + "'", "'m2,m3'"]),
    ("inv", "INT INVISIBLE", ["1", "2", "NULL", "4", "5"]),  # logged; not in SELECT *
    ("pt", "POINT", ["ST_GeomFromText('POINT(-1.5 1e10)')", "ST_PointFromText('POINT(0 0)', 4326)", "NULL",
                     "ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('POINT(3.25 -7)')"]),
]
# Generated columns (not inserted): a VIRTUAL one and a STORED one.
GENERATED = [("gv", "BIGINT AS (`i` + 1) VIRTUAL"), ("gs", "VARCHAR(120) AS (CONCAT(IFNULL(`vc`, '-'), '!')) STORED")]

# Rows 4 and 5 for the e2e_test.TYPES columns (row 4 mostly zero/minimal values, zero dates,
# YEAR 0000 and a two-digit year; row 5 other edges: NUL bytes, literal backslashes, zero-in-date).
ROW4 = {
    "ti": "0", "tiu": "1", "si": "0", "siu": "1", "mi": "0", "miu": "1", "i": "0", "iu": "1", "bi": "0", "biu": "1",
    "d1": "0.10", "d2": "0.000000000000000000000000000001", "d3": "0", "f": "1e11", "dbl": "0.30000000000000004",
    "b1": "b'0'", "b64": "b'10000000'", "b13": "b'1'", "dt": "'0000-00-00'", "tm": "'00:00:01.5'",
    "tm6": "'-00:00:00.5'", "dtm": "'0050-03-01 10:00:00'", "dtm3": "'0000-00-00 00:00:00'",
    "dtm6": "'2024-01-02 03:04:05.500000'", "ts": "'0000-00-00 00:00:00'", "ts6": "'2024-01-02 03:04:05.120000'",
    "yr": "0", "c": "'  pad  '", "vc": "'𝄞'", "vcl": "'Ø'", "txt": "'t'", "mtxt": "''", "bin": "X'01'",
    "vbin": "X'0000'", "blb": "X'00'", "e": "'b'", "st": "'x,y,z'", "j": "'{}'",
    "g": "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4326)",
    "uu": "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "ip4": "'255.255.255.255'", "ip6": "'::'",
}
ROW5 = {
    "ti": "-1", "tiu": "128", "si": "-1", "siu": "32768", "mi": "-1", "miu": "8388608", "i": "-1",
    "iu": "2147483648", "bi": "-1", "biu": "9223372036854775807", "d1": "-0.01",
    "d2": "-0.000000000000000000000000000001",
    "d3": "1", "f": "3.14159", "dbl": "1e-300", "b1": "b'1'",
    "b64": "b'1000000000000000000000000000000000000000000000000000000000000000'", "b13": "b'1111111111111'",
    "dt": "'2024-00-15'", "tm": "'-00:00:00'", "tm6": "'-838:59:59.999999'", "dtm": "'9999-12-31 23:59:59'",
    "dtm3": "'1000-01-01 00:00:00.000'", "dtm6": "'0001-01-01 00:00:00.000001'", "ts": "'2024-06-30 12:00:00'",
    "ts6": "'2001-09-09 01:46:40.5'", "yr": "69", "c": "'x'", "vc": "CONCAT('a', CHAR(0), 'b')", "vcl": "'ÿ'",
    "txt": "'\\\\ back \\' quote'", "mtxt": "'\\\\x0a is not a newline'", "bin": "X'FFFFFFFF'", "vbin": "X'FF'",
    "blb": "X'5C'", "e": "''", "st": "'z'", "j": "'\"s\"'",
    "g": "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))')",
    # a version-4 UUID (stored unswapped), values whose last bytes are 0x00 (not logged)
    "uu": "'f47ac10b-58cc-4372-a567-0e02b2c3d400'", "ip4": "'10.0.0.0'", "ip6": "'fe80::1:2:3:0'",
}

BASE_NAMES = [c for c, _, _ in e2e_test.TYPES]
TYPES_COLUMNS = [("id", "INT")] + [(c, t) for c, t, _ in e2e_test.TYPES] + [(c, t) for c, t, _ in EXTRA] + GENERATED
INSERT_COLUMNS = ["id"] + BASE_NAMES + [c for c, _, _ in EXTRA]


def types_rows():
    """Rows 1..5 of `types` as lists of SQL literals in INSERT_COLUMNS order."""
    base = [r[1:] for r in e2e_test.ROWS] + [[ROW4[c] for c in BASE_NAMES], [ROW5[c] for c in BASE_NAMES]]
    assert len(base) == 5 and all(len(r) == len(BASE_NAMES) for r in base), "e2e_test.ROWS changed shape"
    return [[str(n + 1)] + base[n] + [vals[n] for _, _, vals in EXTRA] for n in range(5)]


MPK_COLUMNS = [("a", "INT"), ("b", "VARCHAR(10)"), ("c", "DATETIME(3)"), ("v", "DECIMAL(65,30)"),
               ("w", "BIGINT UNSIGNED"), ("x", "TEXT")]
# Table `ddl` changes shape mid-stream; DDL_VERSIONS[n] are its columns after the n-th ALTER.
# mariadb-binlog knows no column names (@N is the N-th column of the table map), so each row is
# compared with the definition in force when it was logged.
DDL_CREATE = "CREATE TABLE ddl (id INT PRIMARY KEY, a INT, b VARCHAR(10) CHARACTER SET latin1, c DECIMAL(5,2))"
DDL_VERSIONS = [
    [("id", "INT"), ("a", "INT"), ("b", "VARCHAR(10) CHARACTER SET latin1"), ("c", "DECIMAL(5,2)")],
    [("id", "INT"), ("n0", "DATETIME(3)"), ("a", "INT"), ("b", "VARCHAR(10) CHARACTER SET latin1"),
     ("c", "DECIMAL(5,2)")],
    [("id", "INT"), ("n0", "DATETIME(3)"), ("a", "BIGINT UNSIGNED"), ("b", "VARCHAR(300)"), ("c", "DECIMAL(5,2)")],
    [("e", "ENUM('p','q')"), ("id", "INT"), ("n0", "DATETIME(3)"), ("a", "BIGINT UNSIGNED"), ("b", "VARCHAR(300)")],
    [("e", "ENUM('p','q')"), ("id", "INT"), ("n0", "DATETIME(3)"), ("a2", "BIGINT UNSIGNED"), ("b2", "TEXT")],
]
DDL_ALTER = "ALTER TABLE binlog_diff.ddl"  # how the test finds the ALTERs in mariadb-binlog's output
DDL_WORKLOAD = [
    "INSERT INTO ddl VALUES (1, -5, 'é', 1.25), (2, NULL, '', -999.99)",
    f"{DDL_ALTER} ADD COLUMN n0 DATETIME(3) DEFAULT '2020-01-01 00:00:00.5' AFTER id",
    "INSERT INTO ddl VALUES (3, '2024-05-06 07:08:09.123', 7, 'ÿ', 0.5); UPDATE ddl SET a = 6 WHERE id = 1",
    # INT -> BIGINT UNSIGNED; latin1 VARCHAR(10) (1-byte length) -> utf8mb4 VARCHAR(300) (2-byte length)
    f"{DDL_ALTER} MODIFY a BIGINT UNSIGNED, MODIFY b VARCHAR(300) CHARACTER SET utf8mb4",
    "INSERT INTO ddl VALUES (4, NULL, 18446744073709551615, REPEAT('ü', 300), 1); UPDATE ddl SET b = CONCAT(b, '🚀') "
    "WHERE id = 1",
    f"{DDL_ALTER} DROP COLUMN c, ADD COLUMN e ENUM('p','q') DEFAULT 'q' FIRST",
    "INSERT INTO ddl VALUES ('p', 5, NULL, 5, 'five'); UPDATE ddl SET e = 'p', id = 20 WHERE id = 2; "
    "DELETE FROM ddl WHERE id = 3",
    f"{DDL_ALTER} CHANGE b b2 TEXT, RENAME COLUMN a TO a2",
    "INSERT INTO ddl VALUES ('q', 6, '2000-01-01', 6, 'six'); UPDATE ddl SET a2 = a2 - 1 WHERE id IN (1, 4, 5); "
    "DELETE FROM ddl WHERE id = 6",
]

# A table of 301 columns (the table map's column count and NULL bitmaps take more bytes) and a
# table without a primary key (key null; an UPDATE is always "u").
WIDE_COLUMNS = [("id", "INT")] + [(f"c{i}", "TINYINT") for i in range(1, 301)]
NOPK_COLUMNS = [("a", "INT"), ("b", "VARCHAR(10)"), ("c", "DOUBLE")]


def wide_row(n):
    return f"({n}, " + ", ".join("NULL" if (i + n) % 7 == 0 else str((i * n) % 256 - 128) for i in range(1, 301)) + ")"


OTHER_WORKLOAD = [
    f"INSERT INTO wide VALUES {wide_row(1)}, {wide_row(2)}, {wide_row(3)}",
    "UPDATE wide SET c1 = NULL, c300 = 127, c150 = -1 WHERE id >= 2",
    "DELETE FROM wide WHERE id = 1",
    "INSERT INTO nopk VALUES (1, 'one', 1.5), (2, 'two', NULL), (2, 'two', NULL)",
    "UPDATE nopk SET a = 3, c = -2.5e-300 WHERE b = 'two'",
    "DELETE FROM nopk WHERE a = 1",
]

# Primary keys (mpk's in PRIMARY KEY order, not column order); nopk has none.
KEYS = {"types": ["id"], "mpk": ["b", "a", "c"], "ddl": ["id"], "wide": ["id"], "nopk": []}
COLUMNS = {"types": TYPES_COLUMNS, "mpk": MPK_COLUMNS, "ddl": [c for v in DDL_VERSIONS for c in v],
           "wide": WIDE_COLUMNS, "nopk": NOPK_COLUMNS}


def columns_of(r):
    """The columns of the table of binlog row r when it was logged, as Col."""
    defs = DDL_VERSIONS[r["ddl_version"]] if r["table"] == "ddl" else COLUMNS[r["table"]]
    return [Col(n, t, n in KEYS[r["table"]]) for n, t in defs]


INS = ", ".join(f"`{c}`" for c in INSERT_COLUMNS)
SEL = ", ".join(f"`{c}`" for c in INSERT_COLUMNS[1:])
WORKLOAD = [
    # one Write_rows event per statement
    *[f"INSERT INTO types ({INS}) VALUES ({', '.join(r)})" for r in types_rows()],
    # one statement, several rows (split into several rows events where they exceed 8 KiB)
    f"INSERT INTO types ({INS}) SELECT id + 100, {SEL} FROM types WHERE id <= 5",
    "UPDATE types SET vc = CONCAT(IFNULL(vc, ''), '+'), d2 = -d2, b64 = b'101', tm = '-00:00:00.5', "
    "dtm6 = '2001-02-03 04:05:06.000007', e300 = 'v2', s64 = 'm5', cl = 'ä', ltxt = NULL, lb = X'AB', "
    "ts3 = '2024-01-02 03:04:05.5', biu = 18446744073709551614, f = -0.0 WHERE id IN (1, 3, 101, 103)",
    "UPDATE types SET id = id + 1000 WHERE id IN (2, 104)",          # primary-key change, 2 rows
    "UPDATE types SET ti = NULL, f = NULL, g = NULL, j = NULL, dnn = '0000-00-00', yr = 2155 WHERE id = 5",
    "UPDATE types SET ti = ti WHERE id = 1",                          # no change: no row event
    "DELETE FROM types WHERE id IN (3, 102, 105)",
    "INSERT INTO mpk VALUES (1, 'a', '2024-01-01 00:00:00.001', 1.5, 18446744073709551615, 'one'), "
    "(1, 'b', '2024-01-01 00:00:00.002', -1.5, 0, NULL), (2, 'ä', '0000-00-00 00:00:00', 0, 9223372036854775808, ''), "
    "(3, '', '9999-12-31 23:59:59.999', 99999999999999999999999999999999999.999999999999999999999999999999, 1, 'x')",
    "UPDATE mpk SET b = 'c' WHERE a = 1 AND b = 'b'",                 # one key column changes
    "UPDATE mpk SET v = v * 2, x = CONCAT(IFNULL(x, ''), '!') WHERE a <= 2",
    "UPDATE mpk SET c = '2000-01-01 00:00:00.000', a = 30 WHERE a = 3",
    "DELETE FROM mpk WHERE a = 2",
    "START TRANSACTION; INSERT INTO types (id, vc, b13) VALUES (500, 'in txn', b'11'); "
    "UPDATE mpk SET w = w - 1 WHERE a = 1 AND b = 'a'; UPDATE types SET tiu = 7 WHERE id = 500; "
    "DELETE FROM types WHERE id = 500; COMMIT",
    *DDL_WORKLOAD,
    *OTHER_WORKLOAD,
]


# ---- canonical forms ----------------------------------------------------------------------------

class Col:
    """What the comparison needs to know of one column, from its SQL type."""

    def __init__(self, name, sqltype, in_key=False):
        self.name = name
        t = sqltype.upper()
        self.unsigned = "UNSIGNED" in t
        self.nullable = "NOT NULL" not in t and not in_key  # primary-key columns are NOT NULL
        m = re.match(r"\s*(\w+)\s*(?:\(([^)]*)\))?", t)
        base, arg = m.group(1), m.group(2)
        self.n = int(arg.split(",")[0]) if arg and arg.split(",")[0].strip().isdigit() else 0
        self.scale = int(arg.split(",")[1]) if base == "DECIMAL" and arg and "," in arg else 0
        self.charset = "latin1" if "LATIN1" in t else "binary" if "CHARACTER SET BINARY" in t else "utf8"
        self.members = re.findall(r"'([^']*)'", sqltype) if base in ("ENUM", "SET") else []
        if base in ("TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "BOOLEAN"):
            self.kind = "int"
        elif base == "DECIMAL":
            self.kind = "decimal"
        elif base in ("FLOAT", "DOUBLE"):
            self.kind = base.lower()
        elif base in ("BIT", "DATE", "TIME", "DATETIME", "TIMESTAMP", "YEAR", "JSON", "ENUM", "SET"):
            self.kind = base.lower()
        elif base in ("CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"):
            self.kind = "binary" if self.charset == "binary" else "string"
        elif base in ("BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB"):
            self.kind = "binary"
        elif base in ("GEOMETRY", "POINT", "LINESTRING", "POLYGON"):
            self.kind = "geometry"
        elif base in ("UUID", "INET4", "INET6"):
            self.kind = base.lower()
        else:
            raise ValueError(f"no comparison for {name} {sqltype}")
        # BINARY(n) (also CHAR(n) CHARACTER SET binary): fixed length, padded with 0x00.
        self.fixed_binary = self.kind == "binary" and base in ("BINARY", "CHAR")


def escape(data):
    """mariadb-binlog's my_b_write_quoted(): bytes above 0x1F verbatim (also ' and \\ and
    non-ASCII), others as \\xNN. Applied to sluice's bytes, so that a literal backslash-x in the
    data cannot be confused with an escape (unescaping the binlog text would be ambiguous)."""
    return b"".join(bytes([c]) if c > 0x1F else b"\\x%02x" % c for c in data)


def days_from_civil(y, m, d):
    """Days since 1970-01-01 in the proleptic Gregorian calendar, also for year 0."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def time_us(h, mi, s, frac):
    return ((h * 60 + mi) * 60 + s) * 1000000 + int((frac or "").ljust(6, "0")[:6] or 0)


ZERO = "zero date"  # canonical marker of a zero date (or a date with a zero month or day)


def canon_binlog(col, raw):
    """Canonical value of one `@N=` text of mariadb-binlog (bytes, after the '=')."""
    if raw == b"NULL":
        return None
    text = raw.decode("latin1")  # only used for the non-string kinds (ASCII)
    if col.kind == "int":
        # Integers print as the signed reading of the stored bytes, followed by " (unsigned)"
        # when that is negative (mariadb-binlog has no signedness without table-map metadata):
        # an unsigned column takes the value in parentheses.
        m = re.fullmatch(r"(-?\d+)(?: \((\d+)\))?", text)
        return int(m.group(2)) if col.unsigned and m.group(2) else int(m.group(1))
    if col.kind == "year":
        # mariadb-binlog prints 1900 + the stored byte, also for byte 0, which is YEAR 0000.
        y = int(text)
        return 0 if y == 1900 else y
    if col.kind == "decimal":
        return text  # decimal2string(): plain digits with the column's scale
    if col.kind == "float":
        # printf("%-20g"): only 6 significant digits, so FLOAT is compared to 6 digits here
        # (debezium_diff and the e2e tests compare it exactly).
        return "%g" % float(text)
    if col.kind == "double":
        return "%.20g" % float(text)  # printf("%.20g"), exact
    if col.kind == "bit":
        return int(re.fullmatch(r"b'([01]+)'", text).group(1), 2)
    if col.kind == "set":
        # The member bitmap, printed as bits byte by byte in storage order, which is little-endian:
        # SET of 64 members with m1 and m64 prints b'00000001 ... 10000000' (without the spaces).
        bits = re.fullmatch(r"b'([01]+)'", text).group(1)
        return int.from_bytes(int(bits, 2).to_bytes(len(bits) // 8, "big"), "little")
    if col.kind == "enum":
        return int(text)  # the member's 1-based index, 0 for the '' error value
    if col.kind == "date":
        y, m, d = map(int, re.fullmatch(r"'(\d{4}):(\d\d):(\d\d)'", text).groups())  # 'YYYY:MM:DD'
        return ZERO if 0 in (m, d) else days_from_civil(y, m, d)
    if col.kind == "time":
        neg, h, mi, s, frac = re.fullmatch(r"'(-?)(\d+):(\d\d):(\d\d)(?:\.(\d+))?'", text).groups()
        us = time_us(int(h), int(mi), int(s), frac)
        return -us if neg else us
    if col.kind == "datetime":
        y, mo, d, h, mi, s, frac = re.fullmatch(r"'(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?'",
                                                text).groups()
        if int(mo) == 0 or int(d) == 0:
            return ZERO
        return days_from_civil(int(y), int(mo), int(d)) * 86400000000 + time_us(int(h), int(mi), int(s), frac)
    if col.kind == "timestamp":
        sec, frac = re.fullmatch(r"(\d+)(?:\.(\d+))?", text).groups()  # seconds since the epoch
        us = int(sec) * 1000000 + int((frac or "").ljust(6, "0"))
        return ZERO if us == 0 else us
    # Strings, JSON, binary, geometry: the quoted bytes as printed (see escape()). CHAR(n) and
    # BINARY(n) arrive without their trailing pad (spaces, 0x00), as the server logs them.
    assert raw[:1] == b"'" and raw[-1:] == b"'", raw[:80]
    return raw[1:-1]


def canon_sluice(col, v, props, problems, where):
    """Canonical value of one of sluice's JSON values written with the options props. Format
    errors are added to problems."""
    if v is None:
        return None
    k = col.kind
    if k == "int" and isinstance(v, str):  # BIGINT UNSIGNED, precise: base64 two's-complement Decimal(20,0)
        return int.from_bytes(base64.b64decode(v), "big", signed=True)
    if k == "int" and col.unsigned and v < 0:  # BIGINT UNSIGNED, long: the 64 bits as a Java long
        return v + (1 << 64)
    if k in ("int", "year", "date", "time"):
        return v  # plain numbers; DATE in days, TIME in microseconds (MicroTime)
    if k == "decimal":
        if props.get("decimal.handling.mode") == "string":
            return v  # toPlainString(): the column's scale, like decimal2string()
        # precise: base64 of the unscaled value's two's-complement bytes; scale = the column's
        u = int.from_bytes(base64.b64decode(v), "big", signed=True)
        digits = str(abs(u)).rjust(col.scale + 1, "0")
        text = digits[:len(digits) - col.scale] + ("." + digits[len(digits) - col.scale:] if col.scale else "")
        return ("-" if u < 0 else "") + text
    if k == "float":
        # Float.toString (FLOAT) or Double.toString of the widened float (FLOAT(M,D)): the
        # float32 value, printed like mariadb-binlog does.
        return "%g" % struct.unpack("<f", struct.pack("<f", float(v)))[0]
    if k == "double":
        return "%.20g" % float(v)
    if k == "bit":
        if isinstance(v, bool):  # BIT(1)
            return int(v)
        b = base64.b64decode(v)  # io.debezium.data.Bits: little-endian, ceil(n/8) bytes
        if len(b) != (col.n + 7) // 8:
            problems.append(f"{where}: BIT({col.n}) as {len(b)} bytes")
        return int.from_bytes(b, "little")
    if k == "enum":
        return 0 if v == "" else col.members.index(v) + 1
    if k == "set":
        return sum(1 << col.members.index(m) for m in v.split(",")) if v else 0
    if k == "datetime":
        return v * 1000 if col.n <= 3 else v  # Timestamp (ms) for fsp 0-3, MicroTimestamp (us) for 4-6
    if k == "timestamp":
        m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z", v)
        if not m or len(m.group(7) or "") != col.n:
            problems.append(f"{where}: ZonedTimestamp {v!r} without exactly {col.n} fraction digits")
        y, mo, d, h, mi, s = map(int, m.groups()[:6])
        return days_from_civil(y, mo, d) * 86400000000 + time_us(h, mi, s, m.group(7))
    if k == "string" or k == "json":
        return escape(v.encode("cp1252" if col.charset == "latin1" else "utf-8"))
    if k == "binary":
        b = bytes.fromhex(v) if props.get("binary.handling.mode") == "hex" else base64.b64decode(v)
        if col.fixed_binary:
            # Debezium pads BINARY(n) to n bytes (DBZ-254, as SELECT returns it); the binlog
            # row image has the value without trailing 0x00.
            if len(b) != col.n:
                problems.append(f"{where}: BINARY({col.n}) as {len(b)} bytes")
            b = b.rstrip(b"\0")
        return escape(b)
    if k in ("uuid", "inet4", "inet6"):
        # MariaDB's text (compared with CAST(col AS CHAR) by e2e_test); mariadb-binlog shows the
        # logged bytes: the value in network / natural UUID order without its trailing 0x00.
        if k == "uuid":
            if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", v):
                problems.append(f"{where}: {v!r} is not a lowercase 8-4-4-4-12 UUID")
                return None
            b = bytes.fromhex(v.replace("-", ""))
        else:
            b = (ipaddress.IPv4Address if k == "inet4" else ipaddress.IPv6Address)(v).packed
        return escape(b.rstrip(b"\0"))
    if k == "geometry":
        # {"wkb": base64 WKB, "srid": null for 0} (POINT also x, y); the server's value is the
        # 4-byte little-endian SRID followed by the WKB.
        wkb = base64.b64decode(v["wkb"])
        if "x" in v:
            x, y = struct.unpack("<dd" if wkb[0] == 1 else ">dd", wkb[5:21])
            if (x, y) != (v["x"], v["y"]):
                problems.append(f"{where}: POINT x/y {v['x']}, {v['y']} but the WKB says {x}, {y}")
        return escape(struct.pack("<I", v["srid"] or 0) + wkb)
    raise AssertionError(k)


def expected_from_binlog(col, raw, props):
    """The canonical value sluice must write for a mariadb-binlog value: the binlog's own, except
    for the deliberate rules of docs/DEBEZIUM_COMPAT.md ("Zero dates", "Two-digit years")."""
    c = canon_binlog(col, raw)
    if c is ZERO:
        # Debezium's zero-date rule: null when the column is nullable, else the epoch (DATE,
        # DATETIME: 0; TIMESTAMP: "1970-01-01T00:00:00Z"). A date with a zero month or day too.
        return None if col.nullable else 0
    if col.kind in ("date", "datetime") and c is not None and props.get("enable.time.adjuster", "true") == "true":
        # Debezium's default time adjuster: DATE/DATETIME years 0000-0069 -> 2000-2069, 0070-0099 -> 1970-1999.
        y, m, d = (int(x) for x in re.match(rb"'(\d{4})[-:](\d\d)[-:](\d\d)", raw).groups())
        if y < 100:
            shift = days_from_civil(y + (2000 if y < 70 else 1900), m, d) - days_from_civil(y, m, d)
            c += shift * (1 if col.kind == "date" else 86400000000)
    return c


# ---- the two readers ----------------------------------------------------------------------------

ROWS_HEADER = re.compile(rb"^#\d{6} +\d+:\d\d:\d\d server id \d+ +end_log_pos \d+ .*\t(Write|Update|Delete)_rows"
                         rb"(?:_v1)?: table id \d+")
GTID_HEADER = re.compile(rb"^#\d{6} +\d+:\d\d:\d\d server id \d+ .*\tGTID (\d+-\d+-\d+)")
ROW_START = re.compile(rb"^### (INSERT INTO|UPDATE|DELETE FROM) (.*)$")
TABLE_NAME = re.compile(rb"`([^`]*)`\.`([^`]*)`")  # other databases' odd names just do not match
VALUE_LINE = re.compile(rb"^###   @(\d+)=(.*)$", re.S)


def parse_binlog(text, file):
    """Row changes of DB in mariadb-binlog -v output: dicts with table, op (INSERT/UPDATE/DELETE),
    before/after ({column index: raw bytes}), file, gtid, and where they were logged.

    A statement's rows may be split into several rows events (about 8 KiB each; only the last has
    STMT_END_F). mariadb-binlog prints the `# at` offsets and headers of all of them first and
    then all their rows, so a row's own event is not printed: each row gets `events` (the offsets
    of its statement's rows events, in order) and `index` (its index among the statement's rows);
    the test checks that sluice's (pos, row) walk through those events in order."""
    rows, ats, headers, gtid, cur, image, group, index, ddl_version = [], [], 0, None, None, None, (), 0, 0
    for line in text.split(b"\n"):
        if line.startswith(b"# at "):
            if headers:
                ats, headers = [], 0
            ats.append(int(line[5:]))
            continue
        if ROWS_HEADER.match(line):
            headers += 1
            continue
        if headers:  # the first line after a statement's rows event headers
            group, index = tuple(ats[-headers:]), 0
            ats, headers = [], 0
        else:
            ats = []
        m = GTID_HEADER.match(line)
        if m:
            gtid = m.group(1).decode()
            continue
        if line.startswith(DDL_ALTER.encode()):
            ddl_version += 1
            continue
        m = ROW_START.match(line)
        if m:
            op = m.group(1).decode().split()[0]
            name = TABLE_NAME.fullmatch(m.group(2))
            db, table = (name.group(1).decode(), name.group(2).decode()) if name else (None, None)
            cur = {"table": table, "db": db, "op": op, "before": None, "after": None,
                   "file": file, "events": group, "index": index, "gtid": gtid, "ddl_version": ddl_version}
            index += 1
            rows.append(cur)
            image = None
            continue
        if line in (b"### SET", b"### WHERE"):
            image = "after" if line == b"### SET" else "before"
            cur[image] = {}
            continue
        m = VALUE_LINE.match(line)
        if m:
            # Numbers are printed with printf("%-20g") etc.: drop the padding (not inside quotes).
            cur[image][int(m.group(1)) - 1] = m.group(2) if m.group(2)[:1] == b"'" else m.group(2).rstrip(b" ")
            continue
        if line.startswith(b"###") and cur is not None and cur["db"] == DB:
            raise AssertionError(f"unexpected mariadb-binlog line: {line[:200]!r}")
    return [r for r in rows if r["db"] == DB]


class BinlogDiff(unittest.TestCase):
    """Runs the workload and both readers once (setUpClass); the tests compare their outputs."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="sluice-binlogdiff-")
        for variant, (server_id, props) in VARIANTS.items():
            with open(os.path.join(cls.work, variant + ".yaml"), "w") as f:
                f.write("source:\n" + "".join(f"  {k}: {v}\n" for k, v in {
                    "database.hostname": "127.0.0.1", "database.port": MYSQL_PORT, "database.user": MYSQL_USER,
                    "database.password": MYSQL_PW, "database.server.id": server_id, "topic.prefix": "bd",
                    "database.include.list": DB, "snapshot.mode": "no_data", "tombstones.on.delete": "false",
                    **props}.items()))
                f.write(f"state:\n  dir: {os.path.join(cls.work, variant + '-state')}\n")
        mysql(f"DROP DATABASE IF EXISTS `{DB}`; CREATE DATABASE `{DB}`;")
        cols = ", ".join(f"`{c}` {t}" for c, t in TYPES_COLUMNS[1:])
        mysql(f"SET SESSION sql_mode = ''; CREATE TABLE types (id INT PRIMARY KEY, {cols}) DEFAULT CHARSET=utf8mb4;"
              f"CREATE TABLE mpk ({', '.join(f'`{c}` {t}' for c, t in MPK_COLUMNS)}, PRIMARY KEY (b, a, c)) "
              f"DEFAULT CHARSET=utf8mb4; {DDL_CREATE} DEFAULT CHARSET=utf8mb4;"
              f"CREATE TABLE wide ({', '.join(f'`{c}` {t}' for c, t in WIDE_COLUMNS)}, PRIMARY KEY (id));"
              f"CREATE TABLE nopk ({', '.join(f'`{c}` {t}' for c, t in NOPK_COLUMNS)}) DEFAULT CHARSET=utf8mb4",
              db=DB)
        for variant in VARIANTS:
            first = cls.capture(variant)  # no_data: stores the current position, no events
            if first:
                raise AssertionError(f"{variant}: the no_data run wrote {len(first)} events")
        mysql("FLUSH BINARY LOGS")
        cls.start_file = mysql("SHOW MASTER STATUS")[0][0]
        for sql in WORKLOAD:
            mysql("SET NAMES utf8mb4; SET SESSION sql_mode = ''; " + sql, db=DB)
        cls.events = {variant: cls.capture(variant) for variant in VARIANTS}
        cls.binlog = []
        files = [r[0] for r in mysql("SHOW BINARY LOGS") if r[0] >= cls.start_file]
        for name in files:
            out = subprocess.run(
                ["mariadb-binlog", "--read-from-remote-server", "--protocol=tcp", "-h127.0.0.1", f"-P{MYSQL_PORT}",
                 "-uroot", f"-p{MYSQL_ROOT_PW}", "--verbose", "--base64-output=DECODE-ROWS", name],
                capture_output=True, check=True)
            if os.environ.get("SLUICE_DIFF_KEEP") == "1":
                with open(os.path.join(cls.work, name + ".txt"), "wb") as f:
                    f.write(out.stdout)
            cls.binlog += parse_binlog(out.stdout, name)
        if os.environ.get("SLUICE_DIFF_KEEP") == "1":
            print(f"\nkept {cls.work}", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "work", None) and os.environ.get("SLUICE_DIFF_KEEP") != "1":
            shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def capture(cls, variant):
        config = os.path.join(cls.work, variant + ".yaml")
        out = subprocess.run([SLUICE, "capture", config, "--output", "jsonl", "--exit-when-caught-up"],
                             capture_output=True, text=True, timeout=300)
        if os.environ.get("SLUICE_DIFF_KEEP") == "1":
            with open(os.path.join(cls.work, variant + ".jsonl"), "a") as f:
                f.write(out.stdout)
        if out.returncode != 0:
            raise RuntimeError(f"sluice capture ({variant}) exited {out.returncode}:\n{out.stderr[-4000:]}")
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    # ---- expected events ------------------------------------------------------------------------

    def expected(self):
        """The binlog's row changes as sluice's events: (table, op, before, after, binlog row)."""
        out = []
        for r in self.binlog:
            cols = columns_of(r)
            if r["op"] == "INSERT":
                out.append((r["table"], "c", None, r["after"], r))
            elif r["op"] == "DELETE":
                out.append((r["table"], "d", r["before"], None, r))
            else:
                key = [i for i, c in enumerate(cols) if c.name in KEYS[r["table"]]]
                if key and any(r["before"][i] != r["after"][i] for i in key):
                    # A primary-key change is Debezium's delete (old key) + create (new key).
                    out.append((r["table"], "d", r["before"], None, r))
                    out.append((r["table"], "c", None, r["after"], r))
                else:
                    out.append((r["table"], "u", r["before"], r["after"], r))
        return out

    def compare_image(self, r, binlog_img, sluice_img, props, where, problems, seen=None):
        table, cols = r["table"], columns_of(r)
        if (binlog_img is None) != (sluice_img is None):
            problems.append(f"{where}: mariadb-binlog {'no' if binlog_img is None else 'an'} image, sluice "
                            f"{json.dumps(sluice_img)[:200]}")
            return
        if binlog_img is None:
            return
        if list(sluice_img) != [c.name for c in cols]:
            problems.append(f"{where}: sluice's columns {list(sluice_img)} are not the table's "
                            f"{[c.name for c in cols]}")
        if sorted(binlog_img) != list(range(len(cols))):
            problems.append(f"{where}: mariadb-binlog has columns @{[i + 1 for i in sorted(binlog_img)]}")
        for i, col in enumerate(cols):
            if i not in binlog_img or col.name not in sluice_img:
                continue
            want = expected_from_binlog(col, binlog_img[i], props)
            got = canon_sluice(col, sluice_img[col.name], props, problems, f"{where}.{col.name}")
            if seen is not None and want is not None and got is not None:
                seen.add((table, col.name))
            if want != got:
                shown = json.dumps(sluice_img[col.name], ensure_ascii=False)[:300]
                problems.append(f"{where}.{col.name}: mariadb-binlog {binlog_img[i][:300]!r} (canonical "
                                f"{short(want)}) vs sluice {shown} (canonical {short(got)})")

    # ---- tests ----------------------------------------------------------------------------------

    def test_events_match_in_number_order_and_op(self):
        exp = self.expected()
        want = [f"{t} {op}" for t, op, *_ in exp]
        self.assertGreater(len(want), 50, "the workload's row events were not found in mariadb-binlog's output")
        for variant, events in self.events.items():
            with self.subTest(variant=variant):
                self.assertEqual(want, [f"{e['topic'].rsplit('.', 1)[1]} {e['value']['op']}" for e in events])

    def test_source_position_of_each_event(self):
        """source db, table, file, gtid as the binlog's; pos the offset of the rows event holding
        the row and row its index there: in a statement split into several rows events, sluice's
        (pos, row) must start at (first event, 0) and either count up or move to the next event
        at row 0, ending in the last event."""
        for variant, events in self.events.items():
            with self.subTest(variant=variant):
                problems = self.position_problems(events)
                self.assertFalse(problems, "source positions differ:\n" + "\n".join(problems))

    def position_problems(self, events):
        problems, last = [], {}
        for n, ((table, op, _, _, r), e) in enumerate(zip(self.expected(), events)):
            s = e["value"]["source"]
            where = f"#{n} {table} {op} (row {r['index']} of the statement logged at {r['file']}:{r['events']})"
            b = {"db": DB, "table": table, "file": r["file"], "gtid": r["gtid"]}
            got = {k: s[k] for k in b}
            if got != b:
                problems.append(f"{where}: mariadb-binlog {b} vs sluice {got}")
            group, pos_row = (r["file"], r["events"]), (s["pos"], s["row"])
            prev = last.get(group)
            if prev is None:
                ok = pos_row == (r["events"][0], 0) and r["index"] == 0
            elif prev[0] == r["index"]:  # the create of a primary-key change: same row as its delete
                ok = pos_row == prev[1]
            else:
                (p, row), evs = prev[1], r["events"]
                nxt = evs[evs.index(p) + 1] if p in evs and evs.index(p) + 1 < len(evs) else None
                ok = r["index"] == prev[0] + 1 and pos_row in ((p, row + 1), (nxt, 0))
            if not ok:
                problems.append(f"{where}: sluice pos {s['pos']} row {s['row']} after {prev}")
            last[group] = (r["index"], pos_row)
        for (file, evs), (_, (p, _)) in last.items():
            if p != evs[-1]:
                problems.append(f"statement logged at {file}:{evs}: sluice's last row is in the event at {p}")
        return problems

    def test_row_values(self):
        exp = self.expected()
        for variant, events in self.events.items():
            with self.subTest(variant=variant):
                self.assertEqual(len(exp), len(events), "event counts differ (see the other test)")
                props = VARIANTS[variant][1]
                problems, seen = [], set()
                for n, ((table, op, before, after, r), e) in enumerate(zip(exp, events)):
                    where = f"#{n} {table} {op} (row {r['index']} of the statement at {r['file']}:{r['events'][0]})"
                    v = e["value"]
                    if v["op"] != op:
                        problems.append(f"{where}: op {v['op']}")
                        continue
                    self.compare_image(r, before, v["before"], props, where + " before", problems, seen)
                    self.compare_image(r, after, v["after"], props, where + " after", problems, seen)
                    row = v["after"] if v["after"] is not None else v["before"]
                    key = {k: row[k] for k in KEYS[table]} if KEYS[table] else None
                    if e["key"] != key:
                        problems.append(f"{where}: key {e['key']} vs the row's {key}")
                self.assertFalse(problems, f"{len(problems)} values differ:\n" + "\n".join(problems))
                # Every column was compared with a non-NULL value on both sides at least once.
                unseen = sorted({f"{t}.{c}" for t, cols in COLUMNS.items() for c, _ in cols if (t, c) not in seen})
                self.assertFalse(unseen, "columns never compared with a value")


def short(v):
    if isinstance(v, bytes) and len(v) > 120:
        return repr(v[:120]) + f"... ({len(v)} bytes)"
    return repr(v)


if __name__ == "__main__":
    unittest.main()
