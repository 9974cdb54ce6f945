/**
 * The dashboard's one page: plain HTML, a little CSS and inline JavaScript, nothing loaded from
 * anywhere but the dashboard itself (its Content-Security-Policy allows no other origin; the
 * script runs by the response's nonce). The script lists `/api/runs` (again every few seconds),
 * shows a chosen file's figure (`/api/figure`, SVG text drawn by the server), and for a
 * training log follows `/api/events` (server-sent events, one `lines` event per batch of new
 * JSONL lines, `reset` when the log was rewound), drawing the meta-loss as an SVG polyline.
 * The file chosen is in the address (`#f=FILE`), so a view can be linked or reloaded.
 */

const STYLE = `
body { font: 14px/1.4 "DejaVu Sans", system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 10px 16px; border-bottom: 1px solid #ddd; display: flex; gap: 16px; align-items: baseline; }
h1 { font-size: 18px; margin: 0; }
main { display: flex; min-height: calc(100vh - 50px); }
nav { width: 340px; border-right: 1px solid #ddd; padding: 8px; overflow-y: auto; }
nav h2 { font-size: 12px; text-transform: uppercase; color: #666; margin: 12px 4px 4px; }
nav a { display: block; padding: 6px; border-radius: 4px; color: inherit; text-decoration: none; word-break: break-all; }
nav a:hover, nav a.on { background: #eef3fb; }
nav small { display: block; color: #666; }
section { flex: 1; padding: 12px 20px; overflow-x: auto; }
#figure svg { max-width: 100%; height: auto; }
#live { width: 100%; max-width: 720px; height: 220px; border: 1px solid #ddd; background: #fcfcfc; }
#live polyline { fill: none; stroke: #4c78a8; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
#live text { font-size: 11px; fill: #666; }
.muted { color: #666; }
.error { color: #b00020; }
`;

const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let entries = [];
let stream = null;
let shown = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

const KINDS = [["training", "Training logs"], ["eval", "Evaluations"], ["run", "Runs"]];

async function loadList() {
  try {
    const r = await fetch("/api/runs", { cache: "no-store" });
    const j = await r.json();
    entries = j.entries;
    $("folder").textContent = j.folder + " (" + entries.length + " found)";
    const nav = $("list");
    nav.replaceChildren();
    for (const [kind, title] of KINDS) {
      const mine = entries.filter((e) => e.kind === kind);
      if (mine.length === 0) continue;
      nav.append(el("h2", {}, title));
      for (const e of mine) {
        const live = e.kind === "training" && Date.now() - e.modified < 60000 ? " (written in the last minute)" : "";
        const a = el("a", { href: "#f=" + encodeURIComponent(e.file), "data-file": e.file, "data-kind": e.kind }, e.file, el("small", {}, e.summary + live));
        if (e.file === shown) a.className = "on";
        nav.append(a);
      }
    }
    if (entries.length === 0) nav.append(el("p", { class: "muted" }, "No evaluation reports, training logs or run files here yet."));
    if (!$("figure")) show();
  } catch (err) {
    $("folder").textContent = "cannot reach the dashboard (" + err.message + ")";
  }
}

async function drawFigure(file) {
  const box = $("figure");
  if (!box) return;
  const r = await fetch("/api/figure?file=" + encodeURIComponent(file), { cache: "no-store" });
  const text = await r.text();
  if (file !== shown) return;
  if (r.ok) box.innerHTML = text;
  else box.replaceChildren(el("p", { class: "error" }, text));
}

function follow(file) {
  const live = { loss: [], valid: [] };
  const svg = document.createElementNS(SVG, "svg");
  svg.id = "live";
  svg.setAttribute("viewBox", "0 0 600 200");
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS(SVG, "polyline");
  svg.append(line);
  const label = document.createElementNS(SVG, "text");
  label.setAttribute("x", "4");
  label.setAttribute("y", "12");
  svg.append(label);
  const status = el("p", { id: "live-status", "data-points": "0" }, "waiting for the log...");
  $("view").append(el("h3", {}, "Live meta-loss"), svg, status);
  let redraw = null;
  const draw = () => {
    const pts = live.loss.filter((p) => Number.isFinite(p.v));
    const logy = pts.length > 0 && pts.every((p) => p.v > 0);
    const ys = pts.map((p) => (logy ? Math.log10(p.v) : p.v));
    const x0 = pts.length ? pts[0].s : 0, x1 = pts.length ? pts[pts.length - 1].s : 1;
    const y0 = Math.min(...ys), y1 = Math.max(...ys);
    const sx = (s) => (x1 > x0 ? ((s - x0) / (x1 - x0)) * 590 + 5 : 300);
    const sy = (y) => (y1 > y0 ? 195 - ((y - y0) / (y1 - y0)) * 175 : 100);
    line.setAttribute("points", pts.map((p, i) => sx(p.s).toFixed(1) + "," + sy(ys[i]).toFixed(1)).join(" "));
    label.textContent = pts.length ? "meta-loss" + (logy ? " (log scale)" : "") + ", " + pts[pts.length - 1].v.toPrecision(4) + " at meta-iteration " + x1 : "";
    const v = live.valid[live.valid.length - 1];
    status.textContent = live.loss.length + " meta-iterations" + (v ? "; epoch " + v.s + ", validation " + Number(v.v).toPrecision(5) : "");
    status.setAttribute("data-points", String(live.loss.length));
  };
  stream = new EventSource("/api/events?file=" + encodeURIComponent(file));
  stream.addEventListener("lines", (ev) => {
    let epoch = false;
    for (const text of ev.data.split("\\n")) {
      let o;
      try { o = JSON.parse(text); } catch { continue; }
      const v = typeof o.value === "string" ? Number(o.value) : o.value;
      if (o.name === "meta/loss") live.loss.push({ s: o.step, v });
      else if (o.name === "valid/score") { live.valid.push({ s: o.step, v }); epoch = true; }
    }
    draw();
    if (epoch) { clearTimeout(redraw); redraw = setTimeout(() => drawFigure(file), 1000); }
  });
  stream.addEventListener("reset", () => { live.loss = []; live.valid = []; draw(); });
  stream.addEventListener("gone", () => { status.textContent += " (the log is gone)"; stream.close(); });
}

function show() {
  const m = /^#f=(.*)$/.exec(location.hash);
  const file = m ? decodeURIComponent(m[1]) : null;
  if (stream) { stream.close(); stream = null; }
  shown = file;
  for (const a of document.querySelectorAll("nav a")) a.className = a.getAttribute("data-file") === file ? "on" : "";
  const view = $("view");
  const e = entries.find((x) => x.file === file);
  if (!e) {
    view.replaceChildren(el("p", { class: "muted" }, file ? "Not found here: " + file : "Choose an evaluation, a training log or a run."));
    return;
  }
  view.replaceChildren(el("h2", {}, e.file), el("p", { class: "muted" }, e.summary + " - " + new Date(e.modified).toLocaleString()), el("div", { id: "figure" }, "drawing..."));
  drawFigure(e.file);
  if (e.kind === "training") follow(e.file);
}

window.addEventListener("hashchange", show);
loadList();
setInterval(loadList, 5000);
`;

/** The page, its script allowed by `nonce`. */
export function dashboardPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>l2o dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1>l2o dashboard</h1><span id="folder" class="muted"></span></header>
<main><nav id="list" aria-label="runs"></nav><section id="view"></section></main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}
