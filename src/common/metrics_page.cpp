// The page served at `/` by the metrics endpoint: plain HTML + JS + SVG, no external resources.
// It polls /api/pipeline once a second and draws the pipeline graph (source tables -> views ->
// ClickHouse tables, rows/s and lag per edge), a table of the edges and the lag over time.

#include "common/metrics_server.h"

namespace sluice::metrics {

const char* const kPipelinePageHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sluice pipeline</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 18px; display: flex; gap: 22px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .k { color: #9aa4b8; margin-right: 4px; }
  main { padding: 12px 18px; }
  section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 10px 14px; margin-bottom: 14px; }
  h2 { font-size: 15px; margin: 0 0 8px 0; }
  svg text { font: 12px system-ui, sans-serif; }
  .node rect { stroke-width: 1.5; rx: 6; }
  .node.source rect { fill: #e8f0fe; stroke: #3b6fd8; }
  .node.view rect { fill: #fdf3e1; stroke: #d08a12; }
  .node.clickhouse rect { fill: #fffbe0; stroke: #b59a00; }
  .node .name { font-weight: 600; }
  .node .sub { fill: #5b6478; font-size: 11px; }
  .edge path { fill: none; }
  .edge text { fill: #1d2330; font-size: 11px; }
  .colhead { fill: #5b6478; font-size: 12px; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceff3; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  #status.err { color: #ff8a80; }
  .empty { color: #5b6478; font-style: italic; }
</style>
</head>
<body>
<header>
  <h1>sluice</h1>
  <span><span class="k">lag</span><b id="lag">&ndash;</b></span>
  <span><span class="k">binlog</span><span id="pos">&ndash;</span></span>
  <span><span class="k">acked</span><span id="acked">&ndash;</span></span>
  <span><span class="k">snapshot</span><span id="snapshot">&ndash;</span></span>
  <span><span class="k">RSS</span><span id="rss">&ndash;</span></span>
  <span id="status">connecting&hellip;</span>
</header>
<main>
<section>
  <h2>Pipeline</h2>
  <svg id="graph" width="100%" height="120" role="img" aria-label="pipeline graph"></svg>
</section>
<section>
  <h2>Lag over time</h2>
  <svg id="lagplot" width="100%" height="200" viewBox="0 0 900 200" preserveAspectRatio="none" role="img" aria-label="lag over time"></svg>
</section>
<section>
  <h2>Edges</h2>
  <table id="edges">
    <thead><tr><th>from</th><th>to</th><th class="num">rows</th><th class="num">rows/s</th><th class="num">lag (s)</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
</main>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const COLS = ["source", "view", "clickhouse"];
const TITLES = { source: "MySQL tables", view: "views", clickhouse: "ClickHouse tables" };

function el(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmtNum(x) {
  if (x === null || x === undefined) return "\u2013";
  if (x >= 1e9) return (x / 1e9).toFixed(1) + "G";
  if (x >= 1e6) return (x / 1e6).toFixed(1) + "M";
  if (x >= 1e4) return (x / 1e3).toFixed(1) + "k";
  return x >= 100 ? x.toFixed(0) : x.toFixed(x === Math.floor(x) ? 0 : 1);
}
function fmtLag(s) { return s === null || s === undefined ? "\u2013" : s < 10 ? s.toFixed(2) + " s" : s.toFixed(0) + " s"; }
function lagColor(s) { return s === null ? "#9aa4b8" : s < 5 ? "#2e9e5b" : s < 60 ? "#e08a00" : "#d93025"; }

function drawGraph(data) {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  const width = Math.max(svg.clientWidth || 900, 600);
  const used = COLS.filter(c => data.nodes.some(n => n.kind === c));
  if (used.length === 0) {
    svg.setAttribute("height", 40);
    svg.appendChild(el("text", { x: 10, y: 24, class: "empty" }, "no tables yet"));
    return;
  }
  const boxW = 230, boxH = 42, gapY = 18, top = 28;
  const colX = {};
  used.forEach((c, i) => {
    colX[c] = used.length === 1 ? 10 : 10 + i * (width - boxW - 20) / (used.length - 1);
  });
  const pos = {};
  let maxRows = 0;
  for (const c of used) {
    const nodes = data.nodes.filter(n => n.kind === c);
    svg.appendChild(el("text", { x: colX[c], y: 16, class: "colhead" }, TITLES[c]));
    nodes.forEach((n, i) => { pos[n.id] = { x: colX[c], y: top + i * (boxH + gapY), n: n }; });
    maxRows = Math.max(maxRows, nodes.length);
  }
  svg.setAttribute("height", top + maxRows * (boxH + gapY) + 10);
  const maxRate = Math.max(1, ...data.edges.map(e => e.rows_per_s || 0));
  for (const e of data.edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const x1 = a.x + boxW, y1 = a.y + boxH / 2, x2 = b.x, y2 = b.y + boxH / 2, mx = (x1 + x2) / 2;
    const g = el("g", { class: "edge", "data-from": e.from, "data-to": e.to,
                        "data-rows-per-s": e.rows_per_s, "data-lag-seconds": e.lag_seconds === null ? "" : e.lag_seconds });
    const w = 1.5 + 5 * Math.sqrt((e.rows_per_s || 0) / maxRate);
    g.appendChild(el("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
                               stroke: lagColor(e.lag_seconds), "stroke-width": w.toFixed(1) }));
    const label = el("text", { x: mx, y: (y1 + y2) / 2 - 6, "text-anchor": "middle" },
                     `${fmtNum(e.rows_per_s)} rows/s \u00b7 lag ${fmtLag(e.lag_seconds)}`);
    g.appendChild(label);
    svg.appendChild(g);
  }
  for (const id in pos) {
    const p = pos[id], n = p.n;
    const g = el("g", { class: "node " + n.kind, "data-id": id, transform: `translate(${p.x},${p.y})` });
    g.appendChild(el("rect", { width: boxW, height: boxH }));
    g.appendChild(el("text", { x: 8, y: 17, class: "name" }, n.name));
    g.appendChild(el("text", { x: 8, y: 33, class: "sub" },
                     `${fmtNum(n.rows)} rows \u00b7 ${fmtNum(n.rows_per_s)} rows/s`));
    svg.appendChild(g);
  }
}

function drawLag(history) {
  const svg = document.getElementById("lagplot");
  svg.replaceChildren();
  const W = 900, H = 200, L = 48, B = 22, T = 8, R = 8;
  const pts = history.filter(p => p[1] !== null);
  svg.appendChild(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#9aa4b8" }));
  svg.appendChild(el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#9aa4b8" }));
  if (pts.length === 0) {
    svg.appendChild(el("text", { x: L + 10, y: H / 2, class: "empty" }, "no acknowledged changes yet"));
    return;
  }
  const t0 = history[0][0], t1 = Math.max(history[history.length - 1][0], t0 + 1000);
  const maxLag = Math.max(1, ...pts.map(p => p[1])) * 1.15;
  const x = t => L + (W - L - R) * (t - t0) / (t1 - t0);
  const y = v => H - B - (H - B - T) * v / maxLag;
  for (const f of [0, 0.5, 1]) {
    const v = maxLag * f;
    svg.appendChild(el("text", { x: 4, y: y(v) + 4 }, v.toFixed(v < 10 ? 1 : 0) + "s"));
    if (f > 0) svg.appendChild(el("line", { x1: L, y1: y(v), x2: W - R, y2: y(v), stroke: "#eceff3" }));
  }
  svg.appendChild(el("text", { x: L, y: H - 5 }, `${Math.round((t1 - t0) / 1000)} s ago`));
  svg.appendChild(el("text", { x: W - R, y: H - 5, "text-anchor": "end" }, "now"));
  const d = pts.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ");
  svg.appendChild(el("path", { d: d, fill: "none", stroke: "#3b6fd8", "stroke-width": 2, id: "lagline" }));
}

function drawTable(data) {
  const body = document.querySelector("#edges tbody");
  body.replaceChildren();
  const names = {};
  for (const n of data.nodes) names[n.id] = n.name;
  if (data.edges.length === 0) {
    const tr = document.createElement("tr");
    tr.innerHTML = '<td colspan="5" class="empty">no edges yet</td>';
    body.appendChild(tr);
  }
  for (const e of data.edges) {
    const tr = document.createElement("tr");
    tr.className = "edge-row";
    const cells = [names[e.from] || e.from, names[e.to] || e.to, fmtNum(e.rows), fmtNum(e.rows_per_s), fmtLag(e.lag_seconds)];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      td.textContent = c;
      if (i >= 2) td.className = "num";
      if (i === 3) { td.classList.add("rate"); td.dataset.value = e.rows_per_s; }
      if (i === 4) { td.classList.add("lag"); td.dataset.value = e.lag_seconds === null ? "" : e.lag_seconds; }
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const r = await fetch("/api/pipeline", { cache: "no-store" });
    const data = await r.json();
    document.getElementById("lag").textContent = fmtLag(data.lag_seconds);
    document.getElementById("lag").style.color = lagColor(data.lag_seconds);
    const s = data.source;
    document.getElementById("pos").textContent = s.binlog_file_number ? `#${s.binlog_file_number}:${s.binlog_position}` : "\u2013";
    document.getElementById("acked").textContent = s.acked_file_number ? `#${s.acked_file_number}:${s.acked_position}` : "\u2013";
    const sn = data.snapshot;
    document.getElementById("snapshot").textContent = sn.running
      ? `${fmtNum(sn.rows_done)} / ~${fmtNum(sn.rows_estimated)} rows` : (sn.rows_done ? "done" : "\u2013");
    document.getElementById("rss").textContent = fmtNum(data.process.rss_bytes) + "B";
    drawGraph(data);
    drawTable(data);
    drawLag(data.lag_history);
    status.textContent = "live " + new Date(data.now_ms).toLocaleTimeString();
    status.className = "";
    document.body.dataset.loaded = "1";
  } catch (err) {
    status.textContent = "disconnected: " + err;
    status.className = "err";
  }
}
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
)HTML";

}  // namespace sluice::metrics
