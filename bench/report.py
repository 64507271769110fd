#!/usr/bin/env python3
"""Turns a bench/results/*.json written by bench/harness.py into docs/BENCHMARKS.md (and an SVG
chart of the sluice/peer ratios next to the JSON). Standard library only.

    python3 bench/report.py bench/results/2026-01-01-host.json [docs/BENCHMARKS.md]

The fmt_* functions are shared with the harness, so the document shows the numbers exactly as the
harness printed them.
"""
import html
import json
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fmt_s(x):
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.0f}k"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def fmt_mb(x):
    if x is None:
        return "-"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def fmt_mib(kb):
    if not kb:
        return "-"
    return f"{kb / 1024:.1f}" if kb < 10 * 1024 else f"{kb / 1024:.0f}"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def rng(stat, f):
    return f"{f(stat['median'])} [{f(stat['min'])}..{f(stat['max'])}]"


def ratio(res, a, b):
    ma, mb = res["measurements"].get(a), res["measurements"].get(b)
    if not ma or not mb or not ma.get("summary") or not mb.get("summary") or ma.get("error") or mb.get("error"):
        return None
    return ma["summary"]["rate"]["median"] / mb["summary"]["rate"]["median"]


CH_CONNECT_WHY = ("ClickHouse's Kafka Connect sink is not on Maven Central (it ships as a ZIP on GitHub "
                  "releases and Confluent Hub, which this machine cannot download from) and needs ClickHouse "
                  "> 23.3 (this machine's is Debian's 18.16)")

NOT_BUILT = [
    ("capture -> Kafka", "Debezium 3.6 MySQL connector in Kafka Connect, same tables and binlog, same broker",
     "not in this run (`bench/run --stages kafka`, see Kafka below)"),
    ("views: filter/project, 2-way join, group-by with updates/deletes",
     "recomputing the query in ClickHouse / MariaDB after each batch", "not built yet (no SQL views)"),
    ("Kafka -> ClickHouse", "ClickHouse Kafka Connect sink", "not measured"),
    ("end to end: maximum sustained load before lag grows", "-",
     "not measured (only the lag trend at one sysbench load, see latency)"),
    ("memory: join whose state exceeds its budget", "-", "not built yet (no views)"),
]


def goal_text(c, unit):
    if c.get("goal") is not None:
        return f">= {c['goal']}x"
    if c.get("goal_rate") is not None:
        return f">= {fmt_rate(c['goal_rate'])} {unit}/s"
    return "-"


def goal_met(res, c, r):
    if c.get("goal") is not None:
        return "-" if r is None else ("yes" if r >= c["goal"] else "no")
    if c.get("goal_rate") is not None:
        ms = res["measurements"][c["sluice"]]
        if ms.get("error") or not ms.get("summary"):
            return "-"
        return "yes" if ms["summary"]["rate"]["median"] >= c["goal_rate"] else "no"
    return "-"


def summary_rows(res):
    rows = []
    for c in res["comparisons"]:
        r = ratio(res, c["sluice"], c["peer"])
        ms, mp = res["measurements"][c["sluice"]], res["measurements"][c["peer"]]
        met = goal_met(res, c, r)

        def cell(m):
            if m.get("error"):
                return "failed"
            s = m.get("summary")
            if not s:
                return "-"
            return f"{fmt_rate(s['rate']['median'])} {m['unit']}/s"
        rows.append((c["stage"], c["workload"], ms["tool"], cell(ms), mp["tool"], cell(mp), fmt_ratio(r),
                     goal_text(c, ms["unit"]), met))
    return rows


def render_sustained(res, a):
    sl = res.get("sustained_load")
    if not sl:
        return
    m = res.get("measurements", {}).get("binlog.sbtest1.sluice_run") or {}
    catch_up = (m.get("summary") or {}).get("rate", {}).get("median")
    a("### Maximum sustained load")
    a("")
    a(f"One `sluice run` per step captures sysbench `oltp_write_only --threads=2` at `--rate` N "
      f"transactions/s (0 = unthrottled) plus the latency probe ({sl['probe_rows_per_s']} rows/s), "
      f"{sl['seconds']} s per run, `batch.max.delay.ms` 100. Row changes/s are sluice's own "
      "`sluice_sink_rows_total` for the sysbench table (rows acknowledged by ClickHouse, from `/metrics`) "
      "over the probe's window. A step is sustained when every probe row became visible and the lag did "
      "not grow: the last quarter's median latency is at most twice the first quarter's + 100 ms.")
    a("")
    a("| offered tps | sysbench tps reached | row changes/s delivered | probe p50 ms | p99 ms | "
      "first / last quarter p50 ms | sustained |")
    a("|---|---|---|---|---|---|---|")
    for r in sl["steps"]:
        a(f"| {r['offered_tps'] or 'unthrottled'} | {r['sysbench_tps'] or '-'} | "
          f"{fmt_rate(r['sysbench_rows_per_s']) if r.get('sysbench_rows_per_s') else '-'} | {r['p50_ms']} | "
          f"{r['p99_ms']} | {r['first_quarter_p50_ms']} / {r['last_quarter_p50_ms']} | "
          f"{'yes' if r['keeps_up'] else 'no, lag grows'} |")
    a("")
    if sl.get("max_sustained_rows_per_s"):
        a(f"Highest sustained load in this run: **{fmt_rate(sl['max_sustained_rows_per_s'])} row changes/s** "
          f"({sl['max_sustained_tps']} sysbench tps)"
          + (". Even the unthrottled load was sustained: that is as fast as this machine's MariaDB took "
             "writes while sluice and ClickHouse shared its two cores, so sluice's own ceiling is higher" +
             (f"; the binlog stage's `sluice run` catch-up rate on the same kind of changes (a backlog read "
              f"and written to ClickHouse as fast as it goes) is {fmt_rate(catch_up)} row changes/s, "
              f"{catch_up / sl['max_sustained_rows_per_s']:.0f}x the highest load MariaDB generated here."
              if catch_up else ".") if sl.get("unthrottled_sustained") else "."))
    else:
        a("No step was sustained in this run.")
    a("")


def render_view_memory(res, a):
    vm = res.get("view_memory")
    if not vm:
        return
    a("### Memory: a join whose state exceeds its budget")
    a("")
    a("`tests/unit/sql/view_state_rss_test` run as a benchmark (its own process, so the peak RSS is the "
      "join's alone): a 2-way join of 50k dimension rows and 500k facts loaded in large transactions, then "
      "200k changes (30% fact updates, 10% deletes, dimension renames); it checks the view against the join "
      "of the final tables (its own bookkeeping for that is a few compact arrays, ~5 MB; the process starts at "
      "~15 MiB). One run per mode.")
    a("")
    a("| state | input rows | rows/s | view rows | memory budget MiB | cache in use MiB | RocksDB files MiB | "
      "evictions | peak RSS MiB |")
    a("|---|---|---|---|---|---|---|---|---|")
    for r in vm:
        a(f"| {'RocksDB (budget)' if r['mode'] == 'rocksdb' else 'in memory (no budget)'} | {r['input_rows']} | "
          f"{fmt_rate(r['rows_per_s'])} | {r['view_rows']} | {r['budget_mib'] if r['mode'] == 'rocksdb' else '-'} | "
          f"{r['cache_mib']} | {r['store_mib']} | {r['evictions']} | {r['peak_rss_mib']} |")
    a("")


def summary_text(res):
    lines = ["stage     workload  sluice                                   peer                                     ratio  goal"]
    for st, wl, ts, cs, tp, cp, r, g, met in summary_rows(res):
        lines.append(f"{st:<9} {wl:<9} {cs:<18} {ts[:21]:<22} {cp:<18} {tp[:21]:<22} {r:>6} {g} {met}")
    for e in res.get("latency", []):
        s = e.get("summary")
        if s:
            lines.append(f"latency   {e['phase']:<16} p50 {s['p50_ms']['median']} ms  p99 {s['p99_ms']['median']} ms")
    sl = res.get("sustained_load")
    if sl:
        lines.append(f"load      max sustained {sl.get('max_sustained_rows_per_s')} row changes/s "
                     f"({sl.get('max_sustained_tps')} tps)")
    for r in res.get("view_memory", []):
        lines.append(f"memory    join {r['mode']}: peak RSS {r['peak_rss_mib']} MiB at {r['rows_per_s']} rows/s")
    for e in res.get("errors", []):
        lines.append(f"ERROR {e['id']}: {e['error'][:200]}")
    return "\n".join(lines)


def measure_table(res, ids):
    out = ["| tool | role | runs | wall s, median [min..max] | rate/s, median [min..max] | MB/s, median [min..max] "
           "| CPU s of the tool (median) | peak RSS MiB |",
           "|---|---|---|---|---|---|---|---|"]
    for i in ids:
        m = res["measurements"].get(i)
        if not m:
            continue
        s = m.get("summary")
        if m.get("error") and not s:
            out.append(f"| {m['tool']} | {m['role']} | 0 | failed: {html.escape(m['error'][:300]).replace('|', '/')}"
                       " | | | | |")
            continue
        if not s:
            continue
        out.append(f"| {m['tool']} | {m['role']} | {s['n']} | {rng(s['wall_s'], fmt_s)} | "
                   f"{rng(s['rate'], fmt_rate)} {m['unit']} | "
                   f"{rng(s['mb_per_s'], fmt_mb) if s.get('mb_per_s') else '-'} | {fmt_s(s['cpu_s']['median'])} | "
                   f"{fmt_mib(s.get('maxrss_kb_max'))}{' (client)' if 'client' in m['tool'] else ''} |")
        if m.get("error"):
            out.append(f"| ... | | | also failed once: {html.escape(m['error'][:200]).replace('|', '/')} | | | | |")
    return "\n".join(out)


def svg_chart(res, path):
    """Horizontal bars: sluice/peer ratio per comparison, with the goal as a tick."""
    items = []
    for c in res["comparisons"]:
        r = ratio(res, c["sluice"], c["peer"])
        if r is not None and c["goal"] is not None:
            peer = res["measurements"][c["peer"]]["tool"].split(" ")[0]
            items.append((f"{c['stage']} {c['workload']}: vs {peer}", r, c["goal"]))
    if not items:
        return False
    w, left, bar_h, gap = 760, 300, 18, 8
    h = 40 + len(items) * (bar_h + gap)
    vmax = max(max(r for _, r, _ in items), max(g for _, _, g in items), 1.0) * 1.1
    scale = (w - left - 60) / vmax
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
             f'font-size="12">', f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="10" y="18" font-weight="bold">sluice / peer throughput ratio (median; tick = goal; '
             f'line = 1x)</text>']
    x1 = left + scale
    parts.append(f'<line x1="{x1:.1f}" y1="28" x2="{x1:.1f}" y2="{h - 4}" stroke="#888" stroke-dasharray="3,3"/>')
    for k, (label, r, g) in enumerate(items):
        y = 30 + k * (bar_h + gap)
        color = "#2a7ab0" if r >= g else "#d0782a"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(1.0, r * scale):.1f}" height="{bar_h}" fill="{color}"/>')
        parts.append(f'<text x="{left + r * scale + 4:.1f}" y="{y + 13}">{fmt_ratio(r)}</text>')
        gx = left + g * scale
        parts.append(f'<line x1="{gx:.1f}" y1="{y - 2}" x2="{gx:.1f}" y2="{y + bar_h + 2}" stroke="black" '
                     f'stroke-width="2"/>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
    return True


def decode_only(res, workload):
    """The BM_DecodeRows micro-benchmark entry of binlog workload `workload` (untagged: sbtest1)."""
    for e in res.get("micro", []):
        if e.get("benchmark") == "BM_DecodeRows" and e.get("items_per_second", {}).get("median", 0) > 0 \
                and e.get("workload", "sbtest1") == workload:
            return e
    return None


def render(res, json_rel, svg_rel):
    m, v = res["machine"], res["versions"]
    p = res["parameters"]
    L = []
    a = L.append
    a("# Benchmarks")
    a("")
    a(f"Generated by `bench/run` (`make bench`) from [`{json_rel}`](../{json_rel}) — do not edit by hand; "
      "rerun `make bench` (or `python3 bench/report.py RESULTS.json` to re-render). The numbers below are "
      "the ones the harness printed. Issue 8 is the spec; the goals are the ones it sets.")
    a("")
    a("**Read these numbers as noisy.** They come from one run on a shared 2-core virtual machine on which "
      "other engineers build and test at the same time (MariaDB, ClickHouse, Kafka and compilers compete "
      f"for the two cores). Load average at start: {' / '.join(res.get('loadavg_start', []))}, at end: "
      f"{' / '.join(res.get('loadavg_end', []))} (1/5/15 min). Each run records the 1-min load average in the "
      "JSON. Sluice and its peer run interleaved (one repetition of each tool, then the next), so slow "
      "periods hit both; ratios are steadier than absolute figures. CPU seconds of the tool process "
      "(user+sys from wait4) are given as a less load-dependent figure; they exclude the servers' work.")
    a("")
    a("## Machine and versions")
    a("")
    a(f"- started {res['started']}, took {res['duration_s']} s; parameters: {p['reps']} repetitions, "
      f"sysbench table {p['rows']} rows, wide table {p['wide_rows']} rows, binlog workload "
      f"{p['binlog_seconds']} s, latency runs {p['latency_seconds']} s at {p['latency_rate']} rows/s"
      + (f", kafka binlog workload {p['kafka_binlog_seconds']} s" if "kafka" in p.get("stages", "") else "")
      + f"; stages {p.get('stages', '?')}"
      + (" (`--quick`)" if p.get("quick") else ""))
    if res.get("stage_seconds"):
        a("- wall time per stage: " + ", ".join(f"{k} {v:.0f} s" for k, v in res["stage_seconds"].items())
          + (f"; `make bench` in total (installs, build, services, this run): {res['make_bench_s']:.0f} s"
             if res.get("make_bench_s") else ""))
    a(f"- host `{m['host']}`: {m['cores']} cores, {m['cpu_model']}, {m['ram_gib']} GiB RAM, {m['os']}, "
      f"kernel {m['kernel']}")
    for k, val in v.items():
        a(f"- {k}: `{val}`")
    a("")
    a("## Workloads")
    a("")
    a("| table | rows | columns | bytes/row as text | InnoDB avg row length | generated by |")
    a("|---|---|---|---|---|---|")
    for name, w in res.get("workloads", {}).items():
        a(f"| `{w['db']}.{w['table']}` | {w['rows']} | {w['columns']} | {w['avg_row_bytes']} | "
          f"{w['innodb_avg_row_length']} | {w['generator']} |")
    sw = res.get("smile_workload")
    if sw:
        a(f"| `{sw['db']}` (SMILE-style, `make demo`'s schema) | {sw['rows']} in 6 tables ("
          + ", ".join(f"{t} {n}" for t, n in sw["tables"].items()) + ") | | "
          f"{sw['data_bytes'] / sw['rows']:.1f} | | {sw['generator']}; views: `demo/views.sql` ("
          + ", ".join(sw["views"]) + ") |")
    for name, b in res.get("binlog_workloads", {}).items():
        sc, bc = b.get("sluice_counts", {}), b.get("mariadb_binlog_counts", {})
        a(f"| binlog `{name}` | {bc.get('row_events', '?')} row events ({bc.get('row_events_in_db', '?')} in the "
          f"bench table, the rest from concurrent tests) | | {b['bytes'] / 1e6:.1f} MB of binlog "
          f"({', '.join(b['files'])} from pos {b['start_pos']}) | | {b['generator']}"
          + (f"; {b['tps']} tps" if b.get("tps") else "") + " |")
    a("")
    a("MB/s of a snapshot is the table's bytes as text (sum of `LENGTH()` of every value) per second, "
      "the same basis for every tool; MB/s of the sink peer is the TSV file's size; MB/s of binlog "
      "decoding is binlog bytes per second. Events are row changes (an UPDATE is one event).")
    a("")
    a("## Summary: sluice vs peer")
    a("")
    if svg_rel:
        a(f"![sluice/peer ratios](../{svg_rel})")
        a("")
    a("Ratio = sluice's median rate / the peer's median rate on the same data in the same run "
      "(> 1: sluice is faster).")
    a("")
    a("| stage | workload | sluice | rate | peer | rate | sluice/peer | goal | met |")
    a("|---|---|---|---|---|---|---|---|---|")
    for row in summary_rows(res):
        a("| " + " | ".join(str(x) for x in row) + " |")
    have_views = any(mm["stage"] == "views" for mm in res["measurements"].values())
    kw = res.get("kafka_workload")
    for st, peer, why in NOT_BUILT:
        if have_views and st.startswith("views"):
            continue
        if st == "capture -> Kafka" and kw is not None:
            continue
        if st == "Kafka -> ClickHouse":
            why = ("cannot run here: " + CH_CONNECT_WHY + "; the kafka stage compares `sluice sink` with "
                   "Kafka's consumer perf tool and kcat instead" if kw is not None else
                   "not measured (run `bench/run --stages kafka`: `sluice sink` vs Kafka's consumer perf "
                   "tool and kcat)")
        if st.startswith("end to end: maximum") and res.get("sustained_load"):
            continue
        if st.startswith("memory: join") and res.get("view_memory"):
            continue
        if have_views and st.startswith("memory: join"):
            why = ("throughput measured (views, RocksDB state with a 16 MiB cache budget); peak RSS not measured "
                   "in this run")
        a(f"| {st} | | | | {peer} | | | | {why} |")
    a("")
    lat = [e for e in res.get("latency", []) if e.get("summary")]
    if lat:
        a("| end-to-end latency (commit -> visible in ClickHouse) | p50 ms, median [min..max] | p99 ms, median "
          "[min..max] | concurrent sysbench tps | goal |")
        a("|---|---|---|---|---|")
        for e in lat:
            s = e["summary"]
            tps = [r["sysbench_tps"] for r in e["runs"] if r.get("sysbench_tps")]
            a(f"| {e['phase']}: {e['description']} | {rng(s['p50_ms'], lambda x: f'{x:.0f}')} | "
              f"{rng(s['p99_ms'], lambda x: f'{x:.0f}')} | "
              f"{f'{statistics.median(tps):.0f}' if tps else '-'} | "
              f"{'p99 < 1000 ms at full sysbench load' if 'sysbench' in e['phase'] else '-'} |")
        a("")
        a("The sysbench load is whatever `oltp_write_only --threads=2` reaches on this machine while "
          "sluice, ClickHouse and everyone else's work share the two cores (issue 8's anchor, ~3k tps, "
          "was measured on an idle machine).")
        a("")
    render_sustained(res, a)
    render_view_memory(res, a)
    if sw:
        a("## SMILE-style schema with its views")
        a("")
        a("`make demo`'s logistics schema (`demo/schema.sql`: provinces, facilities, materials, "
          "exchange_rates, batches, stock_movements with DECIMAL, ENUM, BIT, JSON, DATETIME(6), "
          "TIMESTAMP(3), TEXT and NULLs) scaled up, and its four views (`demo/views.sql`: stock balance = "
          "join + sum/count; expiring batches = join + date filter; monthly consumption = 3-way join + "
          "date_trunc + group by; movement value in USD = 4-way join with decimal arithmetic). `sluice run "
          "--exit-when-caught-up` (`snapshot.mode: initial_only`, default `transform.memory.max.bytes`) "
          "loads the six tables and, in the first variant, maintains the four views over the snapshot rows "
          "and writes them as their own ClickHouse tables; the run checks `stock_balance` and "
          "`movement_value_usd` in ClickHouse (FINAL) against MariaDB's row counts. Peers: the batch way on "
          "the same machine — MariaDB computes the four views from scratch with `CREATE TABLE ... AS "
          "SELECT` and ClickHouse pulls the six tables and four results with `mysql()` (lossy for NULLs "
          "and sub-second times) — and the pull of the six tables alone. Rate = source rows / wall time.")
        a("")
        a(measure_table(res, [i for i in res["measurements"] if i.startswith("snapshot.smile.")]))
        a("")
    a("## Snapshot")
    a("")
    a("`snapshot.mode: initial_only`, a fresh state directory per run. `sluice capture` encodes every "
      "row as a Debezium JSON line (to /dev/null); `sluice run` writes them into a fresh ClickHouse "
      "`ReplacingMergeTree` table and exits once ClickHouse acknowledged them (the row count is checked "
      "after each run). Peers: `mydumper -t 2` writing its SQL dump to tmpfs, and ClickHouse pulling the "
      "table itself with the `mysql()` table function into a table of the same structure (works on "
      "18.16; lossy for NULLs and microseconds per issue 4, which sluice is not). All wall times include "
      "process start, connection and the snapshot's lock/consistent-read set-up.")
    a("")
    for name in res.get("workloads", {}):
        a(f"### `{name}`")
        a("")
        a(measure_table(res, [f"snapshot.{name}.sluice_capture", f"snapshot.{name}.sluice_run",
                              f"snapshot.{name}.mydumper", f"snapshot.{name}.ch_mysql_pull"]))
        a("")
    a("## Sink")
    a("")
    a("The rows `sluice run` wrote (with `_version`, `_is_deleted`) exported as a TSV file, then "
      "`clickhouse-client --query \"INSERT INTO <same structure> FORMAT TSV\" < file`, against `sluice run`'s "
      "snapshot above. Sluice's figure includes reading MariaDB, so the ratio understates the sink alone "
      + ("(`sluice sink` reading Kafka alone is in the Kafka section below)." if kw is not None else
         "(`sluice sink` reading Kafka alone is measured by `bench/run --stages kafka`)."))
    a("")
    for name in res.get("workloads", {}):
        a(f"### `{name}`")
        a("")
        a(measure_table(res, [f"snapshot.{name}.sluice_run", f"sink.{name}.clickhouse_client_tsv"]))
        a("")
    a("## Binlog streaming decode")
    a("")
    a("`FLUSH BINARY LOGS`, a `snapshot.mode: no_data` run stores the offset, the workload runs, "
      "`FLUSH BINARY LOGS` again: the workload's binlog is its own file(s). Each repetition copies the "
      "stored state and streams from there to the end of the binlog (`--exit-when-caught-up`). "
      "`sluice capture` decodes into typed rows and encodes Debezium JSON (`--output jsonl` > /dev/null: "
      "the JSON encoding is part of its figure; tombstones after deletes are on, the default); "
      "`sluice run` decodes and inserts into ClickHouse. `mariadb-binlog --verbose` decodes the same "
      "range (from the same start position) into base64 + `###` pseudo-SQL; `--raw` only transfers the "
      "bytes. Events/s for every tool = the row events in the range (counted with mariadb-binlog, "
      "including other databases' rows from concurrent tests, which every reader also has to go through) "
      "/ wall time.")
    a("")
    for name, b in res.get("binlog_workloads", {}).items():
        a(f"### `{name}`: {b['generator']}")
        a("")
        sc, bc = b.get("sluice_counts", {}), b.get("mariadb_binlog_counts", {})
        a(f"Range: {b['bytes'] / 1e6:.1f} MB, {bc.get('row_events')} row events ({bc.get('row_events_in_db')} in "
          f"the bench database); sluice emitted {sc.get('events_in_db')} change events for it "
          f"(ops {sc.get('ops')}) and {sc.get('tombstones')} tombstones.")
        a("")
        ids = [f"binlog.{name}.sluice_capture", f"binlog.{name}.sluice_run", f"binlog.{name}.stream_decode",
               f"binlog.{name}.mariadb_binlog_local", f"binlog.{name}.mariadb_binlog_remote",
               f"binlog.{name}.mariadb_binlog_raw"]
        a(measure_table(res, [i for i in ids if i in res["measurements"]]))
        a("")
        sd = ratio(res, f"binlog.{name}.stream_decode", f"binlog.{name}.mariadb_binlog_local")
        sj = ratio(res, f"binlog.{name}.sluice_capture", f"binlog.{name}.stream_decode")
        sr = ratio(res, f"binlog.{name}.stream_decode", f"binlog.{name}.mariadb_binlog_raw")
        if sd is not None and sj is not None and sr is not None:
            a(f"Streaming decode alone (the capture's code from the server into typed column chunks, the JSON "
              f"left out: `BM_StreamDecode`, a process per run): **{fmt_ratio(sd)}** `mariadb-binlog --verbose` "
              f"(local files) — the issue's decode goal is 3x — and {fmt_ratio(sr)} the raw transfer; "
              f"`sluice capture --output jsonl` runs at **{fmt_ratio(sj)}** of it — the issue's JSON emission "
              f"goal is 0.5x.")
            a("")
        dec = decode_only(res, name)
        r = ratio(res, f"binlog.{name}.decode_alone", f"binlog.{name}.mariadb_binlog_local")
        if dec and r is not None:
            j = ratio(res, f"binlog.{name}.sluice_capture", f"binlog.{name}.decode_alone")
            json_part = ""
            if j is not None:
                json_part = (f"; the streamed capture with JSON runs at {fmt_ratio(j)} of that (it shares the "
                             f"2 cores with the server that sends the binlog)")
            a(f"Decode alone (`BM_DecodeRows` in the micro-benchmarks below: this workload's first binlog file's "
              f"rows events into typed column chunks, one core, no server, no network, no JSON): "
              f"{fmt_rate(dec['items_per_second']['median'])} row changes/s = **{fmt_ratio(r)}** "
              f"`mariadb-binlog --verbose` (local files){json_part}.")
            a("")
    a("## End-to-end latency")
    a("")
    a("`sluice run` (snapshot.mode `no_data`) runs; a writer sends `INSERT INTO lat (t_us, pad) VALUES "
      "(<NOW(6) in microseconds>, <100 bytes>)` through one `mariadb` client at a fixed rate, one row per "
      "transaction (autocommit); a poller asks ClickHouse over HTTP for rows with a higher id every "
      "poll interval and takes the midpoint of that request as the moment the row became visible. "
      "Latency = visible − `NOW(6)` at the insert (same machine clock). The first second of each run "
      "is dropped. Polling adds up to one poll interval. 'First/last quarter p50' compares the start "
      "and the end of a run: a growing value means lag grows (the load is not sustained). Each run "
      "ends with SIGTERM; RSS is sluice's peak.")
    a("")
    for e in res.get("latency", []):
        a(f"### `{e['phase']}`: {e['description']}")
        a("")
        a(f"{e['rate_rows_per_s']} rows/s for {e['seconds']} s, poll every {e['poll_ms']} ms.")
        a("")
        if e.get("error"):
            a(f"Failed: {e['error']}")
            a("")
        if e.get("runs"):
            a("| run | p50 ms | p90 ms | p99 ms | max ms | first / last quarter p50 ms | rows seen / written "
              "| sysbench tps | sluice CPU s | peak RSS MiB |")
            a("|---|---|---|---|---|---|---|---|---|---|")
            for k, r in enumerate(e["runs"]):
                a(f"| {k + 1} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['max_ms']} | "
                  f"{r['first_quarter_p50_ms']} / {r['last_quarter_p50_ms']} | {r['rows_seen']} / "
                  f"{r['rows_written']} | {r['sysbench_tps'] or '-'} | {r['cpu_s']} | {fmt_mib(r['maxrss_kb'])} |")
            a("")
    vw = res.get("views_workload")
    if vw or have_views:
        a("## Views")
        a("")
        a("Issue 5's views benchmark: SQL views compiled by `CompileViews` and maintained incrementally by "
          "`ViewPipeline` (`bench/micro/view_bench.cpp`, Google Benchmark, wall time), against the same "
          "changelog applied to MariaDB and to ClickHouse with the view's query recomputed from scratch "
          "(result fetched by the client, sent to /dev/null) after every transaction, i.e. views as fresh as "
          "sluice's, which flushes its views at every source transaction.")
        a("")
        if vw:
            a(f"- Changelog (generated by `view_bench --views_dump`, the same rows for every tool): tables "
              f"`orders(id PK, customer_id, amount DECIMAL(12,2), status VARCHAR, created DATE)` and "
              f"`customers(id PK, name, region)`; a preload of {vw['preload_orders']} orders and "
              f"{vw['preload_customers']} customers (not timed), then {vw['changes']} changes in "
              f"{vw['txns']} transactions of {vw['txn_changes']} changes, 90% of orders and 10% of customers, "
              "per table 60% inserts, 30% updates, 10% deletes; new orders pick customers with a skew; half of "
              "the updates hit the ~2000 newest orders (status moves, 30% change the amount, 5% the customer: "
              "join and group keys move); customers are renamed or change region. A change is one row "
              "change (an update is one change).")
            a(f"- Sluice: each iteration builds the pipeline, pushes the preload (not timed), then every "
              f"transaction's chunks (one chunk per run of same-table changes, as the capture builds them; only "
              f"the tables the view reads) and a `Flush` per transaction; the output changes are counted. "
              f"Rate = changes / wall time; an iteration stops after {p.get('views_time_cap', 20):g} s (then its "
              f"label below says STOPPED and the rate is over a prefix of the changelog). The RocksDB variants keep join and aggregate "
              f"state in a `ViewStateManager` on disk (a fresh directory under /tmp, not tmpfs) with a "
              f"{vw['budget_mib']} MiB cache budget, smaller than the state (see the evictions), or with "
              "the default `transform.memory.max.bytes` (256 MiB, the working set fits: the cost of "
              "persisting alone), and `Commit` every {vw['commit_every_txns']} transactions (`sluice run` checkpoints at sink flushes, "
              "less often at these rates). The filter view has no state, so no RocksDB variant. Not included: "
              "`ViewStage`'s consolidation of a transaction's view changes into one upsert chunk, and the sink.")
            a(f"- Peers: the tables as of transaction {vw['windows_from_txn']} (the middle of the changelog, so "
              f"the tables have their average size) are loaded untimed; then each repetition of each view takes "
              f"the next {vw['window_txns']} transactions of the changelog and, per transaction, applies it "
              "(MariaDB: `START TRANSACTION`, one INSERT/UPDATE/DELETE per change, `COMMIT`; ClickHouse: one "
              "INSERT per table of the rows with `_version`/`_is_deleted`, as sluice's sink writes them into a "
              "`ReplacingMergeTree`) and reruns the view's query (ClickHouse: over `FINAL`, deleted rows "
              "dropped). One client process per window (`mariadb` / `clickhouse-client --multiquery`); "
              "rate = the window's changes / its wall time. MariaDB has an index on `orders.customer_id`.")
            a("- The goal column is issue 5's absolute goal for sluice (1M changes/s filter/project, 200k "
              "join or group-by) on this 2-core machine; the ratio is to the peer.")
            a("")
            a("| view | SQL |")
            a("|---|---|")
            for name, sql in vw["views"].items():
                a(f"| `{name}` | `{sql}` |")
            a("")
        for name in (vw["views"] if vw else []):
            a(f"### `{name}`")
            a("")
            a(measure_table(res, [f"views.{name}.sluice", f"views.{name}.sluice_rocksdb_256",
                                  f"views.{name}.sluice_rocksdb", f"views.{name}.mariadb_recompute",
                                  f"views.{name}.clickhouse_recompute"]))
            a("")
            for mid in (f"views.{name}.sluice", f"views.{name}.sluice_rocksdb_256", f"views.{name}.sluice_rocksdb"):
                mm = res["measurements"].get(mid)
                if mm and mm.get("summary") and mm["summary"]["cpu_s"]["median"]:
                    per_cpu = statistics.median(r["count"] / (r["cpu_user_s"] + r["cpu_sys_s"]) for r in mm["runs"]
                                                if r["cpu_user_s"] + r["cpu_sys_s"] > 0)
                    a(f"- {mm['tool'].split(':')[0]}: {fmt_rate(per_cpu)} changes per CPU second of the benchmark "
                      "thread (median; less load-dependent than the wall-time rate on a shared machine)")
            for e in res.get("micro", []):
                if e.get("program") == "view_bench" and e.get("benchmark", "").split("/")[1:2] == [name] \
                        and e.get("label"):
                    a(f"- `{e['benchmark']}`: {e['label']}")
            a("")
        a("CPU s of sluice is the benchmark thread's CPU time (Google Benchmark); of the peers, the client's "
          "(the servers' work is not counted).")
        a("")
    a("## Peak RSS of sluice")
    a("")
    a("| run | peak RSS MiB (max over runs) |")
    a("|---|---|")
    for mid, mm in res["measurements"].items():
        s = mm.get("summary")
        if mm["role"] == "sluice" and s and s.get("maxrss_kb_max"):
            a(f"| {mid}: {mm['tool']} | {fmt_mib(s['maxrss_kb_max'])} |")
    for e in res.get("latency", []):
        if e.get("summary"):
            a(f"| latency.{e['phase']}: sluice run, {e['seconds']} s | {fmt_mib(e['summary']['maxrss_kb_max'])} |")
    a("")
    a("## Micro-benchmarks (Google Benchmark)")
    a("")
    a("`bench/micro/*.cpp`, compiled by the harness with `g++ -O2` against `build/`'s static libraries "
      "(they are also CMake targets with `-DSLUICE_BUILD_BENCH=ON`). One core; "
      f"{p['reps']} repetitions; median [min..max]. Debian's libbenchmark reports itself as a debug "
      "build: that affects the framework's own overhead, not the code measured.")
    a("")
    micro = res.get("micro", [])
    if not micro:
        a("Not run.")
    else:
        if res.get("micro_binlog"):
            a(f"`binlog_pipeline_bench` reads `{os.path.basename(res['micro_binlog'])}`, the sysbench "
              "workload's binlog of the binlog stage above.")
            a("")
        if res.get("micro_binlog_wide"):
            a(f"Rows marked *wide* read `{os.path.basename(res['micro_binlog_wide'])}`, the wide table's binlog.")
            a("")
        a("| program | benchmark | item | items/s (CPU time), median [min..max] | MB/s | CPU ms per iteration |")
        a("|---|---|---|---|---|---|")
        for e in micro:
            if e.get("error"):
                a(f"| {e['program']} | `{e.get('benchmark', '-')}` | | {html.escape(e['error'][:300]).replace('|', '/')} | | |")
                continue
            a(f"| {e['program']} | `{e['benchmark']}`{' (*wide*)' if e.get('workload') == 'wide' else ''} | "
              f"{e.get('label', '')} | "
              f"{rng(e['items_per_second'], fmt_rate) if 'items_per_second' in e else '-'} | "
              f"{rng({k: x / 1e6 for k, x in e['bytes_per_second'].items()}, fmt_mb) if 'bytes_per_second' in e else '-'} | "
              f"{rng({k: x / 1e6 for k, x in e['cpu_ns_per_iter'].items()}, lambda x: f'{x:.3f}')} |")
    a("")
    if kw is not None:
        render_kafka(res, a)
    a("## Not measured yet")
    a("")
    if kw is None:
        a("- **capture → Kafka vs Debezium** (the issue's headline comparison) and **Kafka → ClickHouse**: "
          "not in this run (the `kafka` stage: `bench/run --stages kafka --no-docs --out FILE`).")
    a("- The **ClickHouse Kafka Connect sink** as the peer of `sluice sink`: " + CH_CONNECT_WHY + ". The kafka "
      "stage uses Kafka's consumer perf tool and kcat, which only read, as the peers of `sluice sink`.")
    if not have_views:
        a("- **views** (filter/project, join, group-by with updates and deletes; a join over its memory "
          "budget): not run.")
    elif not res.get("smile_workload"):
        a("- **views** through `sluice run` end to end (binlog -> views -> ClickHouse): the views stage "
          "measures the view operators on an in-memory changelog"
          + ("." if res.get("view_memory") else "; the peak RSS of a view whose state exceeds its budget "
             "was not measured in this run."))
    else:
        a("- **views** through `sluice run` end to end over the binlog (updates and deletes streamed into "
          "views, then ClickHouse): the views stage measures the view operators on a changelog in "
          "process, and the SMILE stage measures views end to end over snapshot rows only.")
    if not res.get("sustained_load"):
        a("- **maximum sustained load** before lag grows: not run (the latency stage measures it).")
    if not res.get("smile_workload"):
        a("- The SMILE-style schema workload: not in this run (the `smile` stage).")
    missing_micro = (
        ([] if all(any(e.get("benchmark", "").startswith(b) and not e.get("error") for e in res.get("micro", []))
                   for b in ("BM_JoinProbe", "BM_AggregateUpdate")) else
         ["join probe and aggregate update are measured through whole views (views stage), not in isolation "
          "(`operator_bench`'s `BM_JoinProbe`/`BM_AggregateUpdate` did not run)"]) +
        ([] if any(e.get("benchmark", "").startswith("BM_DecodeRecords") for e in res.get("micro", [])) else
         ["JSON parsing (reading Debezium topics, `BM_DecodeRecords`) was not run"]))
    if missing_micro:
        a("- Micro-benchmarks: " + "; ".join(missing_micro) + ".")
    if res.get("errors"):
        a("")
        a("## Errors in this run")
        a("")
        for e in res["errors"]:
            a(f"- `{e['id']}`: {html.escape(e['error'][:500])}")
    if res.get("notes"):
        a("")
        a("## Notes")
        a("")
        for n in res["notes"]:
            a(f"- {n}")
    a("")
    return "\n".join(L)


def _tool_rate(res, mid, prefix="tool_"):
    """The median of the rate a Java tool printed itself (excludes JVM start), or '-'."""
    m = res["measurements"].get(mid)
    if not m or not m.get("runs") or any(f"{prefix}records_per_s" not in r for r in m["runs"]):
        return "-"
    return (f"{fmt_rate(statistics.median(r[f'{prefix}records_per_s'] for r in m['runs']))} records/s, "
            f"{fmt_mb(statistics.median(r[f'{prefix}mb_per_s'] for r in m['runs']))} MB/s")


def _after_first_rate(res, mid):
    """Debezium: records / (wall - time of the first record seen), median; or '-'."""
    m = res["measurements"].get(mid)
    if not m or not m.get("runs"):
        return "-"
    xs = [r["count"] / (r["wall_s"] - r["first_record_s"]) for r in m["runs"]
          if r.get("first_record_s") is not None and r["wall_s"] > r["first_record_s"]]
    if not xs:
        return "-"
    firsts = [r["first_record_s"] for r in m["runs"] if r.get("first_record_s") is not None]
    return (f"{fmt_rate(statistics.median(xs))} records/s after the first record "
            f"(first record seen at {fmt_s(statistics.median(firsts))} s)")


def render_kafka(res, a):
    kw = res["kafka_workload"]
    v = res["versions"]
    a("## Kafka")
    a("")
    a(f"Issue 6's performance part and issue 8's headline comparison, on the broker of `scripts/services` "
      f"(`{kw['bootstrap']}`, Apache Kafka {v.get('kafka (broker jars, perf tools)', '?')}, KRaft). The table "
      f"is the sysbench table above (`bench_sb.sbtest1`, {kw['rows']} rows); every topic has one partition "
      "(the broker's `num.partitions`, as both captures create them) and is new for the run.")
    a("")
    a("- **Sluice**: `sluice capture` with `bus.type: kafka` and `--exit-when-caught-up` (its producer: "
      "librdkafka, acks=all, idempotent, lz4, linger.ms 20, batch.size 1000000). Wall time until the process "
      "exited, i.e. after every record was acknowledged by the broker.")
    a(f"- **Debezium** {v.get('debezium connector', '?')} (MySQL connector; the MariaDB connector is not served "
      f"by the registry reachable here) **in Kafka Connect {v.get('kafka connect (standalone)', '?')} standalone "
      "mode**, one JVM as `bin/connect-standalone.sh` runs it (`-Xms256M -Xmx2G`, kafka-run-class's G1 "
      "options), the connector loaded from `plugin.path`, JsonConverter with `schemas.enable=false` for keys "
      "and values, offsets in a file, schema history in a Kafka topic, `include.schema.changes=false`, "
      "snapshot.mode `initial`, `schema.history.internal.skip.unparseable.ddl=true` (the MariaDB server "
      "is shared with other tests, whose MariaDB-only DDL — a `UUID` column — stops the MySQL connector's "
      "parser otherwise), everything else Debezium's and Connect's defaults except the worker's "
      "producer, given sluice's settings (`producer.compression.type=lz4`, `linger.ms=20`, "
      "`batch.size=1000000`; Java's defaults are no compression, 5 ms, 16384) so both batch and compress "
      "alike. Connect 4.3 because Debezium 3.6.1 is built against it (in a 4.4 worker its task dies on a "
      "class 4.4 removed); a 4.3 client talks to the 4.4 broker. One work-around: a JDBC query interceptor "
      "(`bench/peers/connect/src`) answers MariaDB for the `SHOW BINARY LOG STATUS` the connector sends to "
      "any server above version 8.4. Wall time from the JVM's start until the topic's end offsets (polled "
      "every 0.2 s with kcat) reached the expected count — the moment the last record was acknowledged, "
      "to within one poll; then CPU time and peak RSS (VmHWM) of the JVM are read from /proc and the "
      "worker is stopped with SIGTERM (not timed). JVM and Connect start-up are part of that time, as "
      "they are of a restart; the rate after the first record is given beside it.")
    a("- **Records** are Kafka records: one per row change plus a tombstone after each delete (both sides, "
      "Debezium's `tombstones.on.delete` default). **MB/s** = bytes of the records' keys + values (the "
      "JSON, as read back with kcat) per second; sluice also sends a `sluice.schema` header per record, "
      "not counted.")
    a("")
    snap_s, snap_d = kw.get("snapshot_topic_sluice") or {}, kw.get("snapshot_topic_debezium") or {}
    bl_s, bl_d = kw.get("binlog_sluice") or {}, kw.get("binlog_debezium") or {}
    a("| what | records | tombstones | key + value bytes, sluice | key + value bytes, Debezium |")
    a("|---|---|---|---|---|")
    if snap_s:
        a(f"| snapshot of `sbtest1` | {snap_s.get('records')} | {snap_s.get('tombstones')} | "
          f"{snap_s.get('bytes', 0) / 1e6:.1f} MB ({snap_s.get('bytes', 0) / max(1, snap_s.get('records', 1)):.0f} "
          f"per record) | " + (f"{snap_d['bytes'] / 1e6:.1f} MB ({snap_d['bytes'] / max(1, snap_d['records']):.0f} "
                               f"per record)" if snap_d else "-") + " |")
    if bl_s:
        a(f"| binlog workload: {kw.get('generator', '')}; {kw.get('transactions', '?')} transactions, "
          f"{kw.get('tps', '?')} tps | {bl_s.get('records')} | {bl_s.get('tombstones')} | "
          f"{bl_s.get('bytes', 0) / 1e6:.1f} MB | "
          + (f"{bl_d['bytes'] / 1e6:.1f} MB ({bl_d['records']} records, {bl_d['tombstones']} tombstones)"
             if bl_d else "-") + " |")
    a("")
    a("### capture → Kafka: snapshot")
    a("")
    a("Each repetition into a new topic prefix (a fresh state directory / offsets file and schema-history "
      "topic). The first repetition's states are where the binlog runs below start from.")
    a("")
    a(measure_table(res, ["kafka.capture_snapshot.sluice", "kafka.capture_snapshot.debezium_connect",
                          "kafka.produce_snapshot.producer_perf"]))
    a("")
    a(f"- Debezium: {_after_first_rate(res, 'kafka.capture_snapshot.debezium_connect')}.")
    a(f"- kafka-producer-perf-test's own figure (from its first send, without the JVM's start): "
      f"{_tool_rate(res, 'kafka.produce_snapshot.producer_perf')}.")
    a("")
    a("### capture → Kafka: binlog")
    a("")
    a("After the first snapshot of both, the workload ran while neither capture did; each repetition then "
      "starts from a copy of the stored state (sluice: its state directory; Debezium: Connect's offsets "
      "file and the same schema-history topic) and streams the workload's binlog into Kafka. Sluice's "
      "later repetitions use new topic prefixes; Debezium's offsets are bound to its prefix, so its "
      "repetitions append to the same topic and are counted by the difference of end offsets. The first "
      "Debezium repetition runs 3 s longer (untimed) to check it writes no more records than sluice did. "
      "The MariaDB server is shared: the binlog range also holds other tests' changes (other databases), "
      "which both captures read past; records/s counts the workload's records only. Sluice's log tail of "
      "each run is kept in the JSON (`log_tail`) to explain a slow one.")
    a("")
    a(measure_table(res, ["kafka.capture_binlog.sluice", "kafka.capture_binlog.debezium_connect",
                          "kafka.produce_binlog.producer_perf"]))
    a("")
    a(f"- Debezium: {_after_first_rate(res, 'kafka.capture_binlog.debezium_connect')}.")
    a(f"- kafka-producer-perf-test's own figure: {_tool_rate(res, 'kafka.produce_binlog.producer_perf')}.")
    a("")
    a("`kafka-producer-perf-test` (`org.apache.kafka.tools.ProducerPerformance` from the broker's jars) "
      "produces as many records as the capture did, without keys, with values taken from sluice's own "
      "records (up to 20000 non-null values spread over the range, `--payload-file`; tombstones cannot be "
      "sent by it, so its average record is a little larger), `--throughput -1`, with sluice's producer "
      "settings (acks=all, idempotent, lz4, linger.ms 20, batch.size 1000000), into a new topic. It only "
      "produces: no database is read and nothing is encoded, so it bounds what producing the records "
      "costs on this broker; its MB/s counts the values only. Its topic is created before it starts "
      "(untimed); sluice's capture creates its new topics within its own time.")
    a("")
    st = kw.get("sink_topic") or {}
    a("### Kafka → ClickHouse")
    a("")
    a(f"Input: sluice's topic `{st.get('topic', '?')}` — the first snapshot plus the first binlog "
      f"repetition, {st.get('records', '?')} records, {st.get('bytes', 0) / 1e6:.1f} MB of keys + values. "
      "`sluice sink --exit-when-caught-up` with a new consumer group into a new ClickHouse "
      "`ReplacingMergeTree` table each repetition; after each, the live rows (`FINAL`, `_is_deleted = 0`) "
      "are checked against MariaDB's row count. Peers (they **only read**: nothing is decoded into rows or "
      "written anywhere, so they bound what reading the topic costs, not what a sink does): "
      "`kafka-consumer-perf-test` (`org.apache.kafka.tools.ConsumerPerformance` 4.4, a new group, "
      "`--num-records` = the topic's records) and `kcat -C -e -q -o beginning -t TOPIC > /dev/null` "
      "(librdkafka, as sluice; prints each value).")
    a("")
    a(measure_table(res, ["kafka.sink.sluice_sink", "kafka.sink.consumer_perf", "kafka.sink.kcat"]))
    a("")
    a(f"- kafka-consumer-perf-test's own figures: {_tool_rate(res, 'kafka.sink.consumer_perf')} from its "
      f"start (without the JVM's), {_tool_rate(res, 'kafka.sink.consumer_perf', 'tool_fetch_')} while fetching "
      "(without the consumer group join either).")
    ms = res["measurements"].get("kafka.sink.sluice_sink")
    if ms and ms.get("runs") and all(r.get("inserts") for r in ms["runs"]):
        r0 = ms["runs"][0]
        a(f"- `sluice sink` (first run): {r0['sink_records']} records read, {r0['ch_rows']} rows in "
          f"{r0['inserts']} ClickHouse inserts ({r0['rowbinary_bytes'] / 1e6:.1f} MB of RowBinary); its CPU s "
          "above is its own process's only (ClickHouse's server work is not counted, as for the peers).")
    a("")
    a("The Java tools' rows include the JVM's start (about a second on this machine, more under load): "
      "that is what running them costs, but for a short run it weighs heavily; their own figures above "
      "leave it out. Debezium's RSS is the Connect worker JVM's peak (heap up to 2 GiB allowed).")
    a("")
    if res["measurements"].get("kafka.transform.p1"):
        a("### Kafka → views → Kafka (`sluice transform`)")
        a("")
        a(f"Input: the same topic. `sluice transform --exit-when-caught-up` maintains one view, "
          "`SELECT k, count(*), sum(id), max(c) FROM sbtest1 GROUP BY k`, in a new consumer group and state "
          "directory each repetition, and produces its changes to the view's topic in Kafka transactions "
          "(records/s = input records per second; the log's `records in` is checked against the topic). "
          "`transform.parallelism 1` runs the view as one task; `2` as two shards (two tasks on two threads, "
          "each reading every input record and keeping the groups whose key hashes to it), what two "
          "processes on two machines would each do. There is no peer in this run (in the stack sluice "
          "replaces, RisingWave maintains the views; this harness does not install it). On these 2 cores the broker, the ClickHouse and MariaDB servers share the CPU with "
          "both shards, and each shard decodes every record, so the second shard adds less than a core.")
        a("")
        keys = ["kafka.transform.p1", "kafka.transform.p2"]
        if res["measurements"].get("kafka.transform.chain.p2"):
            keys.append("kafka.transform.chain.p2")
            a("`kafka.transform.chain.p2` is the same GROUP BY written over a view of the rows "
              "(`k_rows AS SELECT id, k, c FROM sbtest1`, then `GROUP BY k` over `k_rows`): each view is two "
              "shards, and the GROUP BY's shards read `k_rows`' topic — every input record is encoded once "
              "more and decoded by both of the second view's shards, the price of a repartition through Kafka.")
            a("")
        a(measure_table(res, keys))
        a("")


def write(json_path, doc_path):
    res = json.load(open(json_path))
    json_rel = os.path.relpath(os.path.abspath(json_path), ROOT)
    svg_path = os.path.splitext(os.path.abspath(json_path))[0] + ".svg"
    svg_rel = os.path.relpath(svg_path, ROOT) if svg_chart(res, svg_path) else None
    with open(doc_path, "w") as f:
        f.write(render(res, json_rel, svg_rel))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    write(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "BENCHMARKS.md"))
