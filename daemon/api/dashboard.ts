/**
 * The built-in dashboard page served at `/` of the API port (SPEC §9): spend by day, project, model and
 * provider over 7, 30 or 90 days, drawn as hand-made SVG from `/v1/stats`. One self-contained HTML string
 * (inline CSS and script, no external resource) so it ships inside the compiled binary; names coming from the
 * data are only ever set as text, never as markup.
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
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #6b7385; --bg: #f6f7f9; --card: #fff; --line: #e3e6ec; }
  @media (prefers-color-scheme: dark) {
    :root { --fg: #e6e8ee; --muted: #9aa1b2; --bg: #14161b; --card: #1c1f26; --line: #2c313b; }
  }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: center; gap: 16px; padding: 16px 24px; flex-wrap: wrap; }
  h1 { font-size: 18px; margin: 0; }
  h2 { font-size: 14px; margin: 0 0 12px; color: var(--muted); font-weight: 600; }
  #status { color: var(--muted); flex: 1; }
  nav button { border: 1px solid var(--line); background: var(--card); color: var(--fg); padding: 4px 12px;
    border-radius: 6px; cursor: pointer; font: inherit; }
  nav button[aria-pressed="true"] { background: var(--fg); color: var(--bg); }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 16px; padding: 0 24px 24px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px; }
  .wide { grid-column: 1 / -1; }
  .tiles { display: flex; gap: 32px; flex-wrap: wrap; }
  .tile b { display: block; font-size: 22px; }
  .tile span { color: var(--muted); }
  svg { width: 100%; display: block; }
  svg text { fill: var(--fg); font-size: 11px; }
  svg .muted { fill: var(--muted); }
  .empty { color: var(--muted); }
  .legend { display: flex; gap: 12px; flex-wrap: wrap; margin-top: 8px; color: var(--muted); }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
</style>
</head>
<body>
<header>
  <h1>Halton Meter</h1>
  <span id="status">connecting…</span>
  <nav aria-label="period">
    <button data-days="7">7 days</button>
    <button data-days="30" aria-pressed="true">30 days</button>
    <button data-days="90">90 days</button>
  </nav>
</header>
<main>
  <section class="wide"><div class="tiles" id="tiles"></div></section>
  <section class="wide"><h2>Spend by day</h2><div id="by-day"></div><div class="legend" id="legend"></div></section>
  <section><h2>By project</h2><div id="by-project"></div></section>
  <section><h2>By model</h2><div id="by-model"></div></section>
  <section><h2>By provider</h2><div id="by-provider"></div></section>
</main>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#d97757", "#10a37f", "#4285f4", "#8e5cd9", "#e0a100", "#e8467c", "#3bb8c9", "#7a8599"];
const providerColor = new Map();

function colorOf(provider) {
  if (!providerColor.has(provider)) providerColor.set(provider, COLORS[providerColor.size % COLORS.length]);
  return providerColor.get(provider);
}

function usd(millicents) {
  const d = millicents / 100000;
  return "$" + d.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: d < 1 ? 4 : 2 });
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const k in attrs) node.setAttribute(k, String(attrs[k]));
  if (text !== undefined) node.textContent = text;
  return node;
}

function empty(box) {
  const p = document.createElement("p");
  p.className = "empty";
  p.textContent = "No calls in this period.";
  box.replaceChildren(p);
}

function drawDays(stats) {
  const box = document.getElementById("by-day");
  const days = stats.by_day;
  if (!stats.summary.total_requests) { empty(box); document.getElementById("legend").replaceChildren(); return; }
  const perDay = new Map();
  for (const r of stats.by_day_by_provider) {
    if (!perDay.has(r.date)) perDay.set(r.date, []);
    perDay.get(r.date).push(r);
  }
  const W = 900, H = 220, left = 64, bottom = 20, top = 8;
  const max = Math.max(1, ...days.map((d) => d.cost_usd_minor_units));
  const step = (W - left) / days.length;
  const svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "spend by day" });
  for (let i = 0; i <= 4; i++) {
    const y = top + (H - top - bottom) * (1 - i / 4);
    svg.append(el("line", { x1: left, x2: W, y1: y, y2: y, stroke: "currentColor", "stroke-opacity": 0.1 }));
    svg.append(el("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "muted" }, usd(max * i / 4)));
  }
  days.forEach((d, i) => {
    let y = H - bottom;
    for (const r of perDay.get(d.date) || []) {
      const h = (H - top - bottom) * r.cost_usd_minor_units / max;
      y -= h;
      const bar = el("rect", { x: left + i * step + 1, y, width: Math.max(1, step - 2), height: h, fill: colorOf(r.provider) });
      bar.append(el("title", {}, d.date + " " + r.provider + ": " + usd(r.cost_usd_minor_units) + ", " + r.requests + " calls"));
      svg.append(bar);
    }
    if (i % Math.ceil(days.length / 10) === 0) {
      svg.append(el("text", { x: left + i * step + step / 2, y: H - 4, "text-anchor": "middle", class: "muted" }, d.date.slice(5)));
    }
  });
  box.replaceChildren(svg);
  const legend = document.getElementById("legend");
  legend.replaceChildren(...stats.by_provider.map((p) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = colorOf(p.provider);
    span.append(swatch, p.provider);
    return span;
  }));
}

function drawBars(id, rows, label, color) {
  const box = document.getElementById(id);
  if (!rows.length) { empty(box); return; }
  const shown = rows.slice(0, 10);
  const W = 420, row = 26, labelW = 150, valueW = 90;
  const max = Math.max(1, ...shown.map((r) => r.cost_usd_minor_units));
  const svg = el("svg", { viewBox: "0 0 " + W + " " + shown.length * row, role: "img", "aria-label": id });
  shown.forEach((r, i) => {
    const y = i * row;
    const name = label(r);
    svg.append(el("text", { x: 0, y: y + 16 }, name.length > 24 ? name.slice(0, 23) + "…" : name));
    const w = (W - labelW - valueW) * r.cost_usd_minor_units / max;
    const bar = el("rect", { x: labelW, y: y + 5, width: Math.max(1, w), height: 14, rx: 2, fill: color(r) });
    bar.append(el("title", {}, name + ": " + r.requests + " calls" + (r.unknown_cost_requests
      ? ", " + r.unknown_cost_requests + " without a known cost (* a lower bound)"
      : "") + (r.subscription_requests ? ", " + usd(r.subscription_cost_usd_minor_units) + " of it on a subscription" : "")));
    svg.append(bar);
    const cost = r.unknown_cost_requests === r.requests ? "?" : usd(r.cost_usd_minor_units) + (r.unknown_cost_requests ? "*" : "");
    svg.append(el("text", { x: W, y: y + 16, "text-anchor": "end" }, cost));
  });
  box.replaceChildren(svg);
}

function drawTiles(s) {
  // Billed spend apart from what subscription calls would have cost at API rates; a total missing the calls
  // without a known cost is marked as a lower bound, never shown as if complete.
  const atLeast = s.cost_is_lower_bound ? "≥ " : "";
  const tiles = [
    [atLeast + usd(s.total_billed_cost_usd_minor_units), "billed"],
    ...(s.total_subscription_requests
      ? [[atLeast + usd(s.total_subscription_cost_usd_minor_units), "subscription (API-equivalent)"]]
      : []),
    ...(s.total_unknown_cost_requests
      ? [[s.total_unknown_cost_requests.toLocaleString("en-US") + " calls · " +
        s.total_unknown_cost_tokens.toLocaleString("en-US") + " tokens", "without a known cost"]]
      : []),
    [s.total_requests.toLocaleString("en-US"), "calls"],
    [(s.total_input_tokens + s.total_output_tokens).toLocaleString("en-US"), "input + output tokens"],
    [Math.round(s.cache_hit_rate * 100) + "%", "cache hit rate"],
    [String(s.active_projects), "projects"],
    [String(s.models_in_use), "models"],
  ];
  document.getElementById("tiles").replaceChildren(...tiles.map(([value, name]) => {
    const div = document.createElement("div");
    div.className = "tile";
    const b = document.createElement("b");
    b.textContent = value;
    const span = document.createElement("span");
    span.textContent = name;
    div.append(b, span);
    return div;
  }));
}

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store" });
  if (!res.ok) throw new Error(path + " answered " + res.status);
  return res.json();
}

async function load(days) {
  const since = new Date(Date.now() - (days - 1) * 86400000).toISOString().slice(0, 10);
  const status = document.getElementById("status");
  try {
    const [stats, daemon] = await Promise.all([getJson("/v1/stats?since=" + since), getJson("/v1/daemon/status")]);
    for (const p of stats.by_provider) colorOf(p.provider);
    drawTiles(stats.summary);
    drawDays(stats);
    drawBars("by-project", stats.by_project, (r) => r.project, () => COLORS[7]);
    drawBars("by-model", stats.by_model, (r) => r.model || "(no model)", (r) => colorOf(r.provider));
    drawBars("by-provider", stats.by_provider, (r) => r.provider, (r) => colorOf(r.provider));
    status.textContent = "v" + daemon.version + " · " + daemon.request_count_last_hour + " calls in the last hour" +
      (daemon.last_seen_at ? " · last at " + new Date(daemon.last_seen_at).toLocaleString() : "");
  } catch (e) {
    status.textContent = "The meter's API did not answer (" + e.message + ").";
  }
}

for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => {
    for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-pressed", String(b === button));
    load(Number(button.dataset.days));
  });
}
load(30);
</script>
</body>
</html>
`;
