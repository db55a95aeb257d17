/**
 * The built-in page served at `/` of the API port: spend over the last 7, 30 or 90 days (the windows of
 * `report --since 7d|30d|90d`, in the daemon's time zone unless the address names one with `?tz=`), by day,
 * project, model and provider, and a view of one project (its days, its models, its latest calls, paged). Billed
 * spend is shown apart from what calls billed to a subscription would have cost at API rates, with the calls and
 * tokens that have no known cost; a cost that leaves those out is marked as a lower bound (≥, *). Its figures
 * come from `/v1/report`, the same document `report --json` prints, so the page and the command agree.
 * One self-contained HTML string (inline CSS and script, no external resource) so it ships inside the compiled
 * binary; names coming from the data are only ever set as text, never as markup. It refreshes itself every 30
 * seconds while it is visible (`?refresh=N` for every N seconds, 5 at least).
 *
 * @module
 */

/** The page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Halton Meter</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #5f6779; --bg: #f6f7f9; --card: #fff; --line: #e3e6ec;
    --bar: #4f6bd8; --warn: #9a6200; }
  @media (prefers-color-scheme: dark) {
    :root { --fg: #e6e8ee; --muted: #a3aabb; --bg: #14161b; --card: #1c1f26; --line: #2c313b; --bar: #7d95f0; --warn: #f0b44c; }
  }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: center; gap: 8px 16px; padding: 14px 16px; flex-wrap: wrap; }
  h1 { font-size: 18px; margin: 0; }
  h2 { font-size: 15px; margin: 0 0 10px; color: var(--muted); font-weight: 600; }
  #status { color: var(--muted); flex: 1 1 220px; font-size: 13px; }
  nav { display: flex; gap: 6px; }
  nav button, button.more, button.back { border: 1px solid var(--line); background: var(--card); color: var(--fg);
    padding: 6px 12px; border-radius: 6px; cursor: pointer; font: inherit; text-decoration: none; min-height: 36px; }
  nav button[aria-pressed="true"] { background: var(--fg); color: var(--bg); }
  #window { padding: 0 16px 8px; color: var(--muted); font-size: 13px; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 360px), 1fr)); gap: 12px; padding: 0 16px 24px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px; min-width: 0; }
  .wide { grid-column: 1 / -1; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px 24px; }
  .tile b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
  .tile span { color: var(--muted); font-size: 13px; }
  .note { color: var(--warn); font-size: 13px; margin: 10px 0 0; }
  svg { width: 100%; display: block; }
  svg rect.day { fill: var(--bar); }
  svg text { fill: var(--muted); font-size: 12px; font-family: system-ui, sans-serif; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  td, th { padding: 5px 4px; text-align: right; white-space: nowrap; }
  th { color: var(--muted); font-weight: 600; font-size: 13px; }
  td.name, th.name { text-align: left; max-width: 0; width: 45%; overflow: hidden; text-overflow: ellipsis; }
  td.bar { width: 30%; }
  td.bar i { display: block; height: 10px; border-radius: 2px; background: var(--bar); min-width: 1px; }
  tr + tr td { border-top: 1px solid var(--line); }
  a { color: inherit; }
  .empty { color: var(--muted); }
  .calls td.name { width: auto; max-width: 14em; }
  .scroll { overflow-x: auto; }
  @media (max-width: 520px) { td.bar { display: none; } .calls .opt { display: none; } }
</style>
</head>
<body>
<header>
  <h1>Halton Meter</h1>
  <span id="status">connecting…</span>
  <nav aria-label="period">
    <button data-since="7d">7 days</button>
    <button data-since="30d" aria-pressed="true">30 days</button>
    <button data-since="90d">90 days</button>
  </nav>
</header>
<div id="window"></div>
<main id="overview">
  <section class="wide"><div class="tiles" id="tiles"></div><p class="note" id="notes" hidden></p></section>
  <section class="wide"><h2>Spend by day</h2><div id="by-day"></div></section>
  <section><h2>By project</h2><div id="by-project"></div></section>
  <section><h2>By model</h2><div id="by-model"></div></section>
  <section><h2>By provider</h2><div id="by-provider"></div></section>
</main>
<main id="project" hidden>
  <section class="wide"><button class="back" id="back">← All projects</button> <h2 id="project-title" style="display:inline-block;margin:0 0 0 8px"></h2>
    <div class="tiles" id="project-tiles" style="margin-top:12px"></div></section>
  <section class="wide"><h2>Spend by day</h2><div id="project-days"></div></section>
  <section><h2>By model</h2><div id="project-models"></div></section>
  <section class="wide"><h2>Latest calls</h2><div class="scroll" id="project-calls"></div></section>
</main>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const params = new URLSearchParams(location.search);
// Seconds between refreshes: 30 unless the address asks otherwise (?refresh=10), never under 5.
const REFRESH_MS = 1000 * Math.max(5, Number(params.get("refresh")) || 30);
const SHOWN = 10;
const tz = params.get("tz");
let since = "30d";
const expanded = new Set();
let callsCursor = null;
let lastDays = new Map();
let shownZone;

function usd(mc) {
  const d = mc / 100000;
  if (mc > 0 && d < 0.01) return "< $0.01";
  return "$" + d.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** A cost as the report prints it: "?" when every call's cost is unknown, "*" when some are (a lower bound). */
function cost(t) {
  if (t.requests > 0 && t.unknown_cost_requests === t.requests) return "?";
  return usd(t.cost_millicents) + (t.unknown_cost_requests ? "*" : "");
}

/** What a bar's or a row's cost leaves out or holds apart, for its tooltip. */
function costDetail(t) {
  return (t.unknown_cost_requests ? ", " + count(t.unknown_cost_requests) + " without a known cost (* a lower bound)" : "") +
    (t.subscription_requests ? ", " + usd(t.subscription_cost_millicents) + " of it on a subscription" : "");
}

function count(n) { return n.toLocaleString("en-US"); }

function node(tag, attrs, text) {
  const n = document.createElement(tag);
  for (const k in attrs || {}) n.setAttribute(k, String(attrs[k]));
  if (text !== undefined) n.textContent = text;
  return n;
}

function svgNode(tag, attrs, text) {
  const n = document.createElementNS(SVG, tag);
  for (const k in attrs) n.setAttribute(k, String(attrs[k]));
  if (text !== undefined) n.textContent = text;
  return n;
}

function emptyNote(box, text) {
  box.replaceChildren(node("p", { class: "empty" }, text || "No calls in this period."));
}

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store" });
  if (!res.ok) {
    let message = "";
    try { message = (await res.json()).message || ""; } catch { /* not JSON */ }
    throw Object.assign(new Error(path.split("?")[0] + " answered " + res.status + (message ? ": " + message : "")), {
      status: res.status,
    });
  }
  return res.json();
}

function report(by, project) {
  const q = new URLSearchParams({ since, by });
  if (tz) q.set("tz", tz);
  if (project) q.set("project", project);
  return getJson("/v1/report?" + q);
}

/** A round step for about \`n\` ticks up to \`max\`: 1, 2, 2.5 or 5 times a power of ten. */
function niceStep(max, n) {
  const raw = max / n;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function tickLabel(dollars, step) {
  let digits = 0;
  while (digits < 5 && Math.abs(step * 10 ** digits - Math.round(step * 10 ** digits)) > 1e-9) digits++;
  return "$" + dollars.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Bars of spend per period, drawn at the box's own pixel width so the text stays at its CSS size. */
function drawDays(box, doc) {
  lastDays.set(box.id, doc);
  const days = doc.groups;
  if (!doc.total.requests) { emptyNote(box); return; }
  const W = Math.max(280, Math.floor(box.clientWidth || 600));
  const H = W < 500 ? 180 : 220;
  const top = 10, bottom = 22;
  const maxMc = Math.max(1, ...days.map((d) => d.cost_millicents));
  const step = niceStep(maxMc / 100000, 4);
  const ticks = Math.max(1, Math.ceil(maxMc / 100000 / step));
  const scaleMax = ticks * step * 100000;
  const labels = Array.from({ length: ticks + 1 }, (_, i) => tickLabel(i * step, step));
  const left = 10 + 7 * Math.max(...labels.map((l) => l.length));
  const plotH = H - top - bottom;
  const slot = (W - left) / days.length;
  const svg = svgNode("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": "spend by day" });
  for (let i = 0; i <= ticks; i++) {
    const y = top + plotH * (1 - i / ticks);
    svg.append(svgNode("line", { x1: left, x2: W, y1: y, y2: y, stroke: "currentColor", "stroke-opacity": 0.12 }));
    svg.append(svgNode("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, labels[i]));
  }
  const every = Math.max(1, Math.ceil(44 / slot));
  days.forEach((d, i) => {
    const h = plotH * d.cost_millicents / scaleMax;
    const bar = svgNode("rect", { x: left + i * slot + 1, y: top + plotH - h, width: Math.max(1, slot - 2), height: h,
      class: "day", "data-key": d.key, "data-millicents": d.cost_millicents });
    bar.append(svgNode("title", {}, d.key + ": " + cost(d) + ", " + count(d.requests) + " calls" + costDetail(d)));
    svg.append(bar);
    if (i % every === 0) {
      svg.append(svgNode("text", { x: left + i * slot + slot / 2, y: H - 6, "text-anchor": "middle" }, d.key.slice(5)));
    }
  });
  box.replaceChildren(svg);
}

/** Every group as a row (name, bar, cost, calls): the first ten, and the rest behind "Show all". */
function drawList(box, doc, label, link) {
  const rows = doc.groups;
  if (!rows.length) { emptyNote(box); return; }
  const open = expanded.has(box.id);
  const shown = open ? rows : rows.slice(0, SHOWN);
  const max = Math.max(1, ...rows.map((r) => r.cost_millicents));
  const table = node("table");
  const head = node("tr");
  head.append(node("th", { class: "name" }, label), node("th", { class: "bar" }), node("th", {}, "cost"), node("th", {}, "calls"));
  table.append(head);
  for (const r of shown) {
    const tr = node("tr", { "data-key": r.key === null ? "" : r.key, "data-millicents": r.cost_millicents });
    const name = node("td", { class: "name", title: r.key === null ? "(no model)" : r.key });
    if (link && r.key !== null) name.append(node("a", { href: "#project=" + encodeURIComponent(r.key) }, r.key));
    else name.textContent = r.key === null ? "(no model)" : r.key;
    const bar = node("td", { class: "bar" });
    const fill = node("i");
    fill.style.width = (100 * r.cost_millicents / max).toFixed(1) + "%";
    bar.append(fill);
    tr.append(name, bar, node("td", { title: count(r.requests) + " calls" + costDetail(r) }, cost(r)),
      node("td", {}, count(r.requests)));
    table.append(tr);
  }
  box.replaceChildren(table);
  if (rows.length > SHOWN) {
    const more = node("button", { class: "more" }, open ? "Show the top " + SHOWN : "Show all " + rows.length);
    more.addEventListener("click", () => {
      if (open) expanded.delete(box.id); else expanded.add(box.id);
      drawList(box, doc, label, link);
    });
    box.append(more);
  }
}

/**
 * The tiles: billed spend apart from what calls billed to a subscription would have cost at API rates, the
 * calls and tokens without a known cost, then the counts. A cost that leaves out calls without a known cost is
 * marked as a lower bound (≥), never shown as if complete.
 */
function drawTiles(box, total, extra) {
  const atLeast = total.cost_is_lower_bound ? "≥ " : "";
  // Nothing of it could be priced: a cost nothing could price is "?", never $0.
  const money = (millicents) =>
    total.requests > 0 && total.unknown_cost_requests === total.requests ? "?" : atLeast + usd(millicents);
  const tiles = [
    [money(total.billed_cost_millicents), "billed", "billed", total.billed_cost_millicents],
    ...(total.subscription_requests
      ? [[money(total.subscription_cost_millicents), "subscription (API-equivalent)", "subscription",
        total.subscription_cost_millicents]]
      : []),
    ...(total.unknown_cost_requests
      ? [[count(total.unknown_cost_requests) + " calls · " + count(total.unknown_cost_tokens) + " tokens",
        "without a known cost", "unpriced"]]
      : []),
    [count(total.requests), "calls", "calls"],
    [count(total.input_tokens + total.output_tokens + total.cache_read_tokens + total.cache_write_tokens), "tokens", "tokens"],
    ...extra,
  ];
  box.replaceChildren(...tiles.map(([value, name, id, millicents]) => {
    const div = node("div", { class: "tile", "data-tile": id });
    if (millicents !== undefined) div.dataset.millicents = millicents;
    div.append(node("b", {}, value), node("span", {}, name));
    return div;
  }));
}

function notesFor(total, unknown) {
  const notes = [];
  if (total.unknown_cost_requests) {
    const models = unknown.slice(0, 5).map((m) => (m.model || "(no model)") + " (" + count(m.requests) + ")").join(", ");
    notes.push("* " + count(total.unknown_cost_requests) + " calls have no known cost (" + count(total.unknown_cost_tokens) +
      " tokens), for want of a rate for " + models + (unknown.length > 5 ? ", …" : "") +
      ": amounts marked * or ≥ leave them out and are lower bounds.");
  }
  if (total.subscription_requests) {
    notes.push(count(total.subscription_requests) + " calls were billed to a subscription (ChatGPT sign-in, Code Assist, " +
      "Claude OAuth): subscription is what they would have cost at API rates, not spend.");
  }
  if (total.incomplete_requests) {
    notes.push(count(total.incomplete_requests) + " calls have incomplete token counts: their figures are a lower bound.");
  }
  return notes.join(" ");
}

function describe(w) {
  const fmt = (iso) => new Date(iso).toLocaleString("en-CA", { timeZone: w.zone, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).replace(",", "");
  return w.label + ": " + fmt(w.from) + " → " + fmt(w.to) + " · days in " + w.zone;
}

async function showOverview() {
  const [days, projects, models, providers] = await Promise.all([
    report("day"), report("project"), report("model"), report("provider"),
  ]);
  shownZone = days.window.zone;
  document.getElementById("window").textContent = describe(days.window);
  drawTiles(document.getElementById("tiles"), projects.total, [
    [String(projects.groups.length), "projects", "projects"],
    [String(models.groups.length), "models", "models"],
  ]);
  const notes = document.getElementById("notes");
  notes.textContent = notesFor(projects.total, projects.unknown_cost_models);
  notes.hidden = !notes.textContent;
  drawDays(document.getElementById("by-day"), days);
  drawList(document.getElementById("by-project"), projects, "project", true);
  drawList(document.getElementById("by-model"), models, "model", false);
  drawList(document.getElementById("by-provider"), providers, "provider", false);
}

async function showProject(slug, reset) {
  const [days, models] = await Promise.all([report("day", slug), report("model", slug)]);
  shownZone = days.window.zone;
  document.getElementById("window").textContent = describe(days.window);
  document.getElementById("project-title").textContent = slug;
  drawTiles(document.getElementById("project-tiles"), days.total, [
    [String(models.groups.length), "models", "models"],
  ]);
  drawDays(document.getElementById("project-days"), days);
  drawList(document.getElementById("project-models"), models, "model", false);
  if (reset) await loadCalls(slug, true);
}

async function loadCalls(slug, reset) {
  const box = document.getElementById("project-calls");
  if (reset) callsCursor = null;
  const q = new URLSearchParams({ limit: "20" });
  if (callsCursor) q.set("cursor", callsCursor);
  const page = await getJson("/v1/projects/" + encodeURIComponent(slug) + "/requests?" + q);
  let table = reset ? null : box.querySelector("table");
  if (!table) {
    table = node("table", { class: "calls" });
    const head = node("tr");
    for (const [h, cls] of [["time", "name"], ["model", "name"], ["tokens", ""], ["cost", ""], ["status", "opt"], ["latency", "opt"]]) {
      head.append(node("th", { class: cls }, h));
    }
    table.append(head);
    box.replaceChildren(table);
  }
  if (!page.items.length && reset) { emptyNote(box, "No calls yet."); return; }
  for (const c of page.items) {
    const tr = node("tr", { "data-id": c.id });
    // In the zone the page's days are in, so a call's time and its day agree.
    const when = new Date(c.requested_at).toLocaleString("en-CA", { timeZone: shownZone, month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).replace(",", "");
    const tokens = c.input_tokens + c.output_tokens + c.cache_read_tokens + c.cache_write_tokens;
    tr.append(
      node("td", { class: "name" }, when),
      node("td", { class: "name", title: c.model || "(no model)" }, c.model || "(no model)"),
      node("td", {}, count(tokens) + (c.tokens_complete ? "" : "+")),
      node("td", {}, c.cost_usd_minor_units === null ? "?" : usd(c.cost_usd_minor_units)),
      node("td", { class: "opt" }, c.status),
      node("td", { class: "opt" }, c.latency_ms === null ? "" : count(c.latency_ms) + " ms"),
    );
    table.append(tr);
  }
  box.querySelector("button.more")?.remove();
  callsCursor = page.next_cursor;
  if (callsCursor) {
    const more = node("button", { class: "more" }, "Older calls");
    more.addEventListener("click", () => loadCalls(slug, false).catch(fail));
    box.append(more);
  }
}

function currentProject() {
  const m = /^#project=(.+)$/.exec(location.hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

function fail(e) {
  document.getElementById("status").textContent = "The meter's API did not answer (" + e.message + ").";
}

async function refresh(reset) {
  const slug = currentProject();
  document.getElementById("overview").hidden = slug !== null;
  document.getElementById("project").hidden = slug === null;
  try {
    const daemon = await getJson("/v1/daemon/status");
    if (slug === null) await showOverview(); else await showProject(slug, reset);
    document.getElementById("status").textContent = "v" + daemon.version + " · " + count(daemon.request_count_last_hour) +
      " calls in the last hour · updated " + new Date().toLocaleTimeString("en-GB", { timeZone: shownZone });
    document.body.dataset.loaded = String(Date.now());
  } catch (e) {
    if (slug !== null && e.status === 404) {
      // An address naming no project: say so, rather than leave the last project's figures under its name.
      document.getElementById("project-title").textContent = slug;
      for (const id of ["project-tiles", "project-days", "project-models", "project-calls"]) {
        document.getElementById(id).replaceChildren();
      }
      document.getElementById("status").textContent = "No project is named “" + slug + "” in this meter.";
    } else fail(e);
  }
}

for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => {
    for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-pressed", String(b === button));
    since = button.dataset.since;
    refresh(true);
  });
}
document.getElementById("back").addEventListener("click", () => { location.hash = ""; });
window.addEventListener("hashchange", () => { expanded.clear(); refresh(true); });
let resizeTimer;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { for (const [id, doc] of lastDays) drawDays(document.getElementById(id), doc); }, 150);
});
setInterval(() => { if (!document.hidden) refresh(false); }, REFRESH_MS);
document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(false); });
refresh(true);
</script>
</body>
</html>
`;
