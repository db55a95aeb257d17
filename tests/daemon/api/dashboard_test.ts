import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { DASHBOARD_HTML } from "../../../daemon/api/dashboard.ts";
import { readApiRoute } from "../../../daemon/api/read/routes.ts";
import { apiHandler } from "../../../daemon/api/server.ts";
import { openStore } from "../../../store/open.ts";
import { RowWriter } from "../../../store/writer.ts";
import { tempHome } from "../../helpers/home.ts";
import { makeRow } from "../../helpers/rows.ts";

const SVG_NS = "http://www.w3.org/2000/svg";

Deno.test("GET / serves the dashboard page as HTML that the browser may only use to talk to this API", async () => {
  const handle = apiHandler([readApiRoute({ db: undefined as unknown as DatabaseSync, allowOrigins: [] })]);
  const res = await handle(new Request("http://127.0.0.1:8765/"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /connect-src 'self'/);
  assert.equal(await res.text(), DASHBOARD_HTML);
});

Deno.test("the dashboard page loads nothing from elsewhere and calls only the read API", () => {
  const html = DASHBOARD_HTML;
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /\b(src|href|srcset|action)\s*=/i, "no attribute loads or links a resource");
  assert.doesNotMatch(html, /url\(|@import|<link|<iframe|<img|import\(/i);
  const urls = html.match(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>)]*/gi) ?? [];
  assert.deepEqual([...new Set(urls)], [SVG_NS], "the only absolute URL is the SVG namespace name");
  const calls = [...html.matchAll(/getJson\("([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(calls.sort(), ["/v1/daemon/status", "/v1/stats?since="]);
  assert.equal([...html.matchAll(/fetch\(/g)].length, 1, "every request goes through getJson");
  for (const days of ["7", "30", "90"]) assert.match(html, new RegExp(`data-days="${days}"`));
  // Names from the data reach the page only as text.
  assert.doesNotMatch(html, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});

Deno.test("every field the dashboard page reads is in the API's answers", async () => {
  await using home = await tempHome();
  const writerDb = openStore(home.paths.db);
  const writer = new RowWriter(writerDb);
  writer.enqueue(makeRow({ requested_at: new Date().toISOString(), cost_usd_minor_units: 1234 }));
  writer.close();
  writerDb.close();
  const db = openStore(home.paths.db, { readOnly: true });
  try {
    const handle = apiHandler([readApiRoute({ db, allowOrigins: [] })]);
    const since = new Date().toISOString().slice(0, 10);
    const stats = await (await handle(new Request(`http://127.0.0.1/v1/stats?since=${since}`))).json();
    const daemon = await (await handle(new Request("http://127.0.0.1/v1/daemon/status"))).json();
    const html = DASHBOARD_HTML;
    const read = (prefix: string) =>
      new Set([...html.matchAll(new RegExp(`\\b${prefix}\\.([a-z_]+)`, "g"))].map((m) => m[1]));
    for (const key of read("stats")) assert.ok(key in stats, `stats.${key}`);
    for (const key of read("s")) assert.ok(key in stats.summary, `summary.${key}`);
    for (const key of read("daemon")) assert.ok(key in daemon, `daemon.${key}`);
    for (const key of ["provider", "model", "project", "cost_usd_minor_units", "requests", "date"]) {
      assert.match(html, new RegExp(`\\br\\.${key}\\b`));
    }
    assert.ok(stats.by_project.length === 1 && stats.by_model.length === 1);
  } finally {
    db.close();
  }
});
