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
  // The only links are the page's own fragments (a project's view).
  assert.deepEqual([...html.matchAll(/href: "([^"]*)"/g)].map((m) => m[1]), ["#project="]);
  assert.doesNotMatch(html, /url\(|@import|<link|<iframe|<img|import\(/i);
  const urls = html.match(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>)]*/gi) ?? [];
  assert.deepEqual([...new Set(urls)], [SVG_NS], "the only absolute URL is the SVG namespace name");
  const calls = [...html.matchAll(/getJson\("([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(calls.sort(), ["/v1/daemon/status", "/v1/projects/", "/v1/report?"]);
  assert.equal([...html.matchAll(/fetch\(/g)].length, 1, "every request goes through getJson");
  // The windows of report --since 7d, 30d and 90d.
  for (const since of ["7d", "30d", "90d"]) assert.match(html, new RegExp(`data-since="${since}"`));
  // Names from the data reach the page only as text.
  assert.doesNotMatch(html, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});

Deno.test("every field the dashboard page reads is in the API's answers", async () => {
  await using home = await tempHome();
  const writerDb = openStore(home.paths.db);
  const writer = new RowWriter(writerDb);
  writer.enqueue(
    makeRow({ requested_at: new Date().toISOString(), cost_usd_minor_units: 1234, project: "alpha" }),
  );
  writer.close();
  writerDb.close();
  const db = openStore(home.paths.db, { readOnly: true });
  try {
    const handle = apiHandler([readApiRoute({ db, allowOrigins: [] })]);
    const get = async (path: string) => await (await handle(new Request(`http://127.0.0.1${path}`))).json();
    const doc = await get("/v1/report?since=7d&by=day");
    const models = await get("/v1/report?since=7d&by=model");
    const daemon = await get("/v1/daemon/status");
    const page = await get("/v1/projects/alpha/requests?limit=20");
    const html = DASHBOARD_HTML;
    const read = (prefix: string) =>
      new Set([...html.matchAll(new RegExp(`\\b${prefix}\\.([a-z_]+)\\b(?!\\()`, "g"))].map((m) => m[1]));
    const has = (what: string, keys: Set<string>, ...objects: object[]) => {
      for (const key of keys) assert.ok(objects.some((o) => key in o), `${what}.${key}`);
    };
    has("doc", read("doc"), doc);
    has("window", read("w"), doc.window);
    has("total", read("total"), doc.total);
    has("group", new Set([...read("r"), ...read("d")]), doc.groups[0], models.groups[0]);
    has("daemon", read("daemon"), daemon);
    has("page", read("page"), page);
    has("call", read("c"), page.items[0]);
    has("unknown model", read("m"), { model: null, requests: 0 });
    assert.ok(read("total").size >= 5 && read("c").size >= 8, "the checks look at the fields actually read");
  } finally {
    db.close();
  }
});
