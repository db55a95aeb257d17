import assert from "node:assert/strict";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { parseConfig } from "../../../core/config.ts";
import { Logger } from "../../../core/log.ts";
import { VERSION } from "../../../core/version.ts";
import { readApiRoute } from "../../../daemon/api/read/routes.ts";
import { startReadApiWorker } from "../../../daemon/api/read/off_thread.ts";
import { apiHandler } from "../../../daemon/api/server.ts";
import { startDaemon } from "../../../daemon/mod.ts";
import { openStore } from "../../../store/open.ts";
import type { UsageRow } from "../../../store/rows.ts";
import { RowWriter } from "../../../store/writer.ts";
import { tempHome } from "../../helpers/home.ts";
import { makeRow } from "../../helpers/rows.ts";

const NOW = new Date("2026-11-20T15:00:00.000Z");
const ORIGIN = "http://localhost:3000";

/**
 * alpha: this month a1 a2 a3 a5 a6, last month a4 a7; beta: b1 this month, b2 two months back; `empty` has no
 * calls; `org/repo` has a slash in its slug.
 */
const FIXTURE: Partial<UsageRow>[] = ([
  {
    id: "a1",
    requested_at: "2026-11-20T14:30:00.000Z",
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    mode: "thinking",
    input_tokens: 1000,
    output_tokens: 500,
    thinking_tokens: 100,
    cache_read_tokens: 3000,
    cache_write_5m_tokens: 200,
    cache_write_1h_tokens: 100,
    cost_usd_minor_units: 5000,
    latency_ms: 1234,
  },
  {
    id: "a2",
    requested_at: "2026-11-19T10:00:00.000Z",
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    input_tokens: 2000,
    output_tokens: 100,
    cost_usd_minor_units: 3000,
  },
  {
    id: "a3",
    requested_at: "2026-11-18T09:00:00.000Z",
    provider: "openai",
    model: "gpt-5",
    input_tokens: 500,
    output_tokens: 50,
    cost_usd_minor_units: 20000,
  },
  { id: "a4", requested_at: "2026-10-15T00:00:00.000Z", model: "gpt-5", cost_usd_minor_units: 7000 },
  {
    id: "a5",
    requested_at: "2026-11-20T14:59:00.000Z",
    provider: "anthropic",
    model: null,
    cost_usd_minor_units: null,
    tokens_complete: false,
    status: "error",
    latency_ms: null,
  },
  {
    id: "a6",
    requested_at: "2026-11-01T00:00:00.000Z",
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    cost_usd_minor_units: 1000,
  },
  { id: "a7", requested_at: "2026-10-31T23:59:59.999Z", model: "gpt-5-mini", cost_usd_minor_units: 500 },
] as Partial<UsageRow>[]).map((r) => ({ ...r, project: "alpha" }));

FIXTURE.push(
  {
    id: "b1",
    project: "beta",
    requested_at: "2026-11-20T08:00:00.000Z",
    provider: "google",
    model: "gemini-2.5-pro",
    input_tokens: 300,
    output_tokens: 30,
    cache_read_tokens: 100,
    cost_usd_minor_units: 400,
    // Gemini Code Assist: its API-equivalent cost is shown apart from billed spend.
    billing: "subscription",
  },
  {
    id: "b2",
    project: "beta",
    requested_at: "2026-09-30T12:00:00.000Z",
    provider: "google",
    model: "gemini-2.5-pro",
    cost_usd_minor_units: 999,
  },
  { id: "o1", project: "org/repo", requested_at: "2026-11-10T00:00:00.000Z", cost_usd_minor_units: 1 },
);

type Handler = (req: Request) => Promise<Response>;

async function withApi(
  rows: Partial<UsageRow>[],
  fn: (get: (path: string, init?: RequestInit) => Promise<Response>, db: DatabaseSync) => Promise<void>,
): Promise<void> {
  await using home = await tempHome();
  const writer = openStore(home.paths.db);
  const w = new RowWriter(writer);
  w.projectId("empty");
  for (const r of rows) w.enqueue(makeRow(r));
  w.close();
  const db = openStore(home.paths.db, { readOnly: true });
  const handle: Handler = apiHandler([
    readApiRoute({
      db,
      allowOrigins: [ORIGIN],
      now: () => NOW,
      startedAt: new Date(NOW.getTime() - 90_000),
    }),
  ]);
  try {
    await fn((path, init) => handle(new Request(`http://127.0.0.1:8765${path}`, init)), db);
  } finally {
    db.close();
    writer.close();
  }
}

async function ok(res: Response): Promise<unknown> {
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return res.json();
}

async function problem(res: Response, status: number): Promise<string> {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json() as { error: string; message: string };
  assert.equal(typeof body.message, "string");
  return body.message;
}

/** The fields added for unpriced calls and subscriptions, beside the original dashboard's shape. */
const ADDED = new Set([
  "billed_cost_usd_minor_units",
  "subscription_cost_usd_minor_units",
  "subscription_requests",
  "unknown_cost_requests",
  "unknown_cost_tokens",
  "total_billed_cost_usd_minor_units",
  "total_subscription_requests",
  "total_subscription_cost_usd_minor_units",
  "total_unknown_cost_requests",
  "total_unknown_cost_tokens",
  "cost_is_lower_bound",
  "subscription_cost_this_month_minor_units",
  "billed_cost_this_month_minor_units",
  "unknown_cost_requests_this_month",
  "unknown_cost_tokens_this_month",
]);

/** `v` as the original dashboard reads it: every added field taken off, after checking none is missing. */
function original(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(original);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).filter(([k]) => !ADDED.has(k)).map(([k, x]) => [k, original(x)]),
  );
}

const EMPTY_STATS = {
  requests_this_month: 0,
  cost_usd_this_month_minor_units: 0,
  previous_month_cost_usd_minor_units: 0,
  all_time_cost_usd_minor_units: 0,
  all_time_requests: 0,
  last_active_at: null,
  primary_model: null,
  primary_provider: null,
  top_model: null,
  top_provider: null,
};

Deno.test("GET /v1/projects lists every project with this month's, last month's and all-time figures", () =>
  withApi(FIXTURE, async (get) => {
    const list = await ok(await get("/v1/projects")) as Record<string, unknown>[];
    assert.deepEqual(list.map((p) => p.slug), ["alpha", "beta", "empty", "org/repo"]);
    const alpha = list[0];
    assert.deepEqual(Object.keys(alpha).sort(), ["archived_at", "created_at", "id", "name", "slug", "stats"]);
    assert.equal(alpha.name, "alpha");
    assert.equal(alpha.archived_at, null);
    assert.match(alpha.created_at as string, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(original(alpha.stats), {
      requests_this_month: 5, // a1 a2 a3 a5 a6 (a6 at the first instant of November)
      cost_usd_this_month_minor_units: 5000 + 3000 + 20000 + 1000,
      previous_month_cost_usd_minor_units: 7000 + 500, // a4, and a7 at the last instant of October
      all_time_cost_usd_minor_units: 5000 + 3000 + 20000 + 7000 + 1000 + 500,
      all_time_requests: 7,
      last_active_at: "2026-11-20T14:59:00.000Z",
      // Most calls: sonnet 3, gpt-5 2, the model-less error 1.
      primary_model: "claude-sonnet-4-5",
      primary_provider: "anthropic",
      // Most cost: gpt-5 27000 against sonnet 9000.
      top_model: "gpt-5",
      top_provider: "openai",
    });
    assert.deepEqual(original((list[1] as { stats: unknown }).stats), {
      requests_this_month: 1,
      cost_usd_this_month_minor_units: 400,
      previous_month_cost_usd_minor_units: 0,
      all_time_cost_usd_minor_units: 1399,
      all_time_requests: 2,
      last_active_at: "2026-11-20T08:00:00.000Z",
      primary_model: "gemini-2.5-pro",
      primary_provider: "google",
      top_model: "gemini-2.5-pro",
      top_provider: "google",
    });
    assert.deepEqual(original((list[2] as { stats: unknown }).stats), EMPTY_STATS);
    // Beside the original figures: a5 has no known cost; b1 was billed to a Code Assist subscription.
    const added = (p: Record<string, unknown>) => {
      const st = p.stats as Record<string, unknown>;
      return [...ADDED].filter((k) => k in st).map((k) => [k, st[k]]);
    };
    assert.deepEqual(added(alpha), [
      ["cost_is_lower_bound", true],
      ["subscription_cost_this_month_minor_units", 0],
      ["billed_cost_this_month_minor_units", 29000],
      ["unknown_cost_requests_this_month", 1],
      ["unknown_cost_tokens_this_month", 0],
    ]);
    assert.deepEqual(added(list[1]), [
      ["cost_is_lower_bound", false],
      ["subscription_cost_this_month_minor_units", 400],
      ["billed_cost_this_month_minor_units", 0],
      ["unknown_cost_requests_this_month", 0],
      ["unknown_cost_tokens_this_month", 0],
    ]);
  }));

Deno.test("GET /v1/projects/{slug} answers one project, slugs with a slash included, and 404 for an unknown one", () =>
  withApi(FIXTURE, async (get) => {
    const all = await ok(await get("/v1/projects")) as { slug: string }[];
    assert.deepEqual(await ok(await get("/v1/projects/beta")), all.find((p) => p.slug === "beta"));
    assert.deepEqual(await ok(await get("/v1/projects/empty")), all.find((p) => p.slug === "empty"));
    const org = await ok(await get("/v1/projects/org/repo")) as {
      slug: string;
      stats: { all_time_requests: number };
    };
    assert.equal(org.slug, "org/repo");
    assert.equal(org.stats.all_time_requests, 1);
    assert.equal((await ok(await get("/v1/projects/org%2Frepo")) as { slug: string }).slug, "org/repo");
    assert.match(await problem(await get("/v1/projects/nope"), 404), /nope/);
    assert.match(await problem(await get("/v1/projects/nope/stats"), 404), /nope/);
  }));

Deno.test("GET /v1/stats?since= sums the window and breaks it down by day, provider, model and project", () =>
  withApi(FIXTURE, async (get) => {
    const stats = await ok(await get("/v1/stats?since=2026-11-18")) as Record<
      string,
      Record<string, unknown>
    >;
    // Beside the original shape: b1's $0.004 is a subscription's API equivalent, not spend, and a5 has no
    // known cost, so the total is a lower bound.
    assert.deepEqual(
      [...ADDED].filter((k) => k in stats.summary).map((k) => [k, stats.summary[k]]),
      [
        ["total_billed_cost_usd_minor_units", 28000],
        ["total_subscription_requests", 1],
        ["total_subscription_cost_usd_minor_units", 400],
        ["total_unknown_cost_requests", 1],
        ["total_unknown_cost_tokens", 0],
        ["cost_is_lower_bound", true],
      ],
    );
    const google = (stats.by_provider as unknown as Record<string, unknown>[]).find((p) =>
      p.provider === "google"
    );
    assert.deepEqual(google, {
      provider: "google",
      requests: 1,
      cost_usd_minor_units: 400,
      billed_cost_usd_minor_units: 0,
      subscription_cost_usd_minor_units: 400,
      subscription_requests: 1,
      unknown_cost_requests: 0,
      unknown_cost_tokens: 0,
    });
    // In the window: a3 (18th), a2 (19th), a1 a5 b1 (20th).
    assert.deepEqual(original(stats), {
      summary: {
        total_requests: 5,
        total_input_tokens: 1000 + 2000 + 500 + 300,
        total_output_tokens: 500 + 100 + 50 + 30,
        total_thinking_tokens: 100,
        total_cache_read_tokens: 3000 + 100,
        total_cache_write_tokens: 300,
        total_cost_usd_minor_units: 5000 + 3000 + 20000 + 400,
        cache_hit_rate: 3100 / (3800 + 3100),
        active_projects: 2,
        models_in_use: 3,
        last_request_at: "2026-11-20T14:59:00.000Z",
      },
      by_day: [
        { date: "2026-11-18", requests: 1, cost_usd_minor_units: 20000 },
        { date: "2026-11-19", requests: 1, cost_usd_minor_units: 3000 },
        { date: "2026-11-20", requests: 3, cost_usd_minor_units: 5400 },
      ],
      by_day_by_provider: [
        { date: "2026-11-18", provider: "openai", requests: 1, cost_usd_minor_units: 20000 },
        { date: "2026-11-19", provider: "anthropic", requests: 1, cost_usd_minor_units: 3000 },
        { date: "2026-11-20", provider: "anthropic", requests: 2, cost_usd_minor_units: 5000 },
        { date: "2026-11-20", provider: "google", requests: 1, cost_usd_minor_units: 400 },
      ],
      by_provider: [
        { provider: "openai", requests: 1, cost_usd_minor_units: 20000 },
        { provider: "anthropic", requests: 3, cost_usd_minor_units: 8000 },
        { provider: "google", requests: 1, cost_usd_minor_units: 400 },
      ],
      by_model: [
        {
          provider: "openai",
          model: "gpt-5",
          requests: 1,
          input_tokens: 500,
          output_tokens: 50,
          cost_usd_minor_units: 20000,
        },
        {
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          requests: 2,
          input_tokens: 3000,
          output_tokens: 600,
          cost_usd_minor_units: 8000,
        },
        {
          provider: "google",
          model: "gemini-2.5-pro",
          requests: 1,
          input_tokens: 300,
          output_tokens: 30,
          cost_usd_minor_units: 400,
        },
        {
          provider: "anthropic",
          model: null,
          requests: 1,
          input_tokens: 0,
          output_tokens: 0,
          cost_usd_minor_units: 0,
        },
      ],
      by_project: [
        { project: "alpha", requests: 4, cost_usd_minor_units: 28000 },
        { project: "beta", requests: 1, cost_usd_minor_units: 400 },
      ],
    });
  }));

Deno.test("GET /v1/stats without since covers the last 30 UTC days, every day listed even without calls", () =>
  withApi(FIXTURE, async (get) => {
    const stats = await ok(await get("/v1/stats")) as {
      summary: { total_requests: number };
      by_day: { date: string; requests: number }[];
    };
    assert.equal(stats.by_day.length, 30);
    assert.equal(stats.by_day[0].date, "2026-10-22");
    assert.equal(stats.by_day.at(-1)?.date, "2026-11-20");
    // a4 (Oct 15) and b2 (Sep 30) fall before the window; a7 on Oct 31 is inside.
    assert.equal(stats.summary.total_requests, FIXTURE.length - 2);
    assert.equal(stats.by_day.find((d) => d.date === "2026-10-25")?.requests, 0);
  }));

Deno.test("GET /v1/projects/{slug}/stats counts only that project's calls", () =>
  withApi(FIXTURE, async (get) => {
    const stats = await ok(await get("/v1/projects/alpha/stats?since=2026-11-18")) as {
      summary: Record<string, unknown>;
      by_provider: unknown[];
    };
    assert.equal(stats.summary.total_requests, 4);
    assert.equal(stats.summary.total_cost_usd_minor_units, 28000);
    assert.equal(stats.summary.active_projects, 1);
    assert.equal(stats.summary.cache_hit_rate, 3000 / (3500 + 3000));
    assert.deepEqual(original(stats.by_provider), [
      { provider: "openai", requests: 1, cost_usd_minor_units: 20000 },
      { provider: "anthropic", requests: 3, cost_usd_minor_units: 8000 },
    ]);
    const none = await ok(await get("/v1/projects/empty/stats?since=2026-11-20")) as {
      summary: Record<string, unknown>;
      by_day: unknown[];
    };
    assert.deepEqual(original(none.summary), {
      total_requests: 0,
      total_input_tokens: 0,
      total_output_tokens: 0,
      total_thinking_tokens: 0,
      total_cache_read_tokens: 0,
      total_cache_write_tokens: 0,
      total_cost_usd_minor_units: 0,
      cache_hit_rate: 0,
      active_projects: 0,
      models_in_use: 0,
      last_request_at: null,
    });
    assert.deepEqual(original(none.by_day), [{ date: "2026-11-20", requests: 0, cost_usd_minor_units: 0 }]);
  }));

Deno.test("bad parameters are answered 400 with a message naming the parameter", () =>
  withApi(FIXTURE, async (get) => {
    assert.match(await problem(await get("/v1/stats?since=yesterday"), 400), /since/);
    assert.match(await problem(await get("/v1/stats?since=2026-02-30"), 400), /since/);
    assert.match(await problem(await get("/v1/stats?since=2026-11-21"), 400), /after today/);
    assert.match(await problem(await get("/v1/projects/alpha/stats?since=1990-01-01"), 400), /since/);
    assert.match(await problem(await get("/v1/projects/alpha/requests?limit=0"), 400), /limit/);
    assert.match(await problem(await get("/v1/projects/alpha/requests?limit=ten"), 400), /limit/);
    assert.match(await problem(await get("/v1/projects/alpha/requests?cursor=bm9wZQ"), 400), /cursor/);
    assert.match(await problem(await get("/v1/projects/alpha/requests?cursor=%%%"), 400), /cursor/);
    // /v1/report as `report` reads its flags: never a query that silently means something else.
    assert.match(await problem(await get("/v1/report?to=2026-11-01"), 400), /to needs from/);
    assert.match(await problem(await get("/v1/report?vs_previous=yes"), 400), /vs_previous/);
  }));

Deno.test("GET /v1/report takes a project's name as report --project does", () =>
  withApi(FIXTURE, async (get) => {
    const named = await get("/v1/report?since=30d&project=Alpha");
    assert.equal(named.status, 200);
    assert.equal((await named.json()).project, "alpha");
  }));

Deno.test("GET /v1/projects/{slug}/requests answers the dashboard's fields, newest first", () =>
  withApi(FIXTURE, async (get) => {
    const page = await ok(await get("/v1/projects/alpha/requests?limit=2")) as {
      items: Record<string, unknown>[];
      next_cursor: string | null;
      total: number;
    };
    assert.equal(page.total, 7);
    assert.equal(typeof page.next_cursor, "string");
    assert.deepEqual(page.items, [
      {
        id: "a5",
        provider: "anthropic",
        model: null,
        mode: "standard",
        input_tokens: 0,
        output_tokens: 0,
        thinking_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_usd_minor_units: null,
        latency_ms: null,
        tokens_complete: false,
        requested_at: "2026-11-20T14:59:00.000Z",
        status: "error",
      },
      {
        id: "a1",
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        mode: "thinking",
        input_tokens: 1000,
        output_tokens: 500,
        thinking_tokens: 100,
        cache_read_tokens: 3000,
        cache_write_tokens: 300,
        cost_usd_minor_units: 5000,
        latency_ms: 1234,
        tokens_complete: true,
        requested_at: "2026-11-20T14:30:00.000Z",
        status: "success",
      },
    ]);
    const openai = await ok(await get("/v1/projects/alpha/requests?provider=openai")) as {
      items: { id: string }[];
      next_cursor: string | null;
      total: number;
    };
    assert.deepEqual(openai.items.map((r) => r.id), ["a3", "a7", "a4"]);
    assert.equal(openai.total, 3);
    assert.equal(openai.next_cursor, null);
  }));

/** 23 calls, several sharing a timestamp, over two providers. */
function pagerRows(): Partial<UsageRow>[] {
  return Array.from({ length: 23 }, (_, i) => ({
    id: `p${String(i).padStart(2, "0")}`,
    project: "pager",
    provider: i % 3 === 0 ? "anthropic" : "openai",
    requested_at: `2026-11-${String(1 + Math.floor(i / 4)).padStart(2, "0")}T12:00:00.000Z`,
    cost_usd_minor_units: i,
  }));
}

async function pageThrough(
  get: (path: string) => Promise<Response>,
  query: string,
  limit: number,
): Promise<{ ids: string[]; totals: number[]; pages: number }> {
  const ids: string[] = [];
  const totals: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const path: string = `/v1/projects/pager/requests?limit=${limit}${query}` +
      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const page = await ok(await get(path)) as {
      items: { id: string }[];
      next_cursor: string | null;
      total: number;
    };
    assert.ok(page.items.length <= limit);
    ids.push(...page.items.map((r) => r.id));
    totals.push(page.total);
    cursor = page.next_cursor;
    pages++;
  } while (cursor !== null && pages < 100);
  return { ids, totals, pages };
}

Deno.test("paging through requests visits every call once, in order, across equal timestamps", () =>
  withApi(pagerRows(), async (get) => {
    const rows = pagerRows();
    const expected = rows.map((r) => r.id!).sort((a, b) => {
      const ra = rows.find((r) => r.id === a)!.requested_at!;
      const rb = rows.find((r) => r.id === b)!.requested_at!;
      return rb.localeCompare(ra) || b.localeCompare(a);
    });
    const all = await pageThrough(get, "", 5);
    assert.deepEqual(all.ids, expected);
    assert.equal(all.pages, 5);
    assert.deepEqual(new Set(all.totals), new Set([23]));
    const exact = await pageThrough(get, "", 23);
    assert.equal(exact.pages, 1);
    const anthropic = await pageThrough(get, "&provider=anthropic", 3);
    assert.deepEqual(anthropic.ids, expected.filter((id) => Number(id.slice(1)) % 3 === 0));
    assert.deepEqual(new Set(anthropic.totals), new Set([8]));
    const big = await ok(await get("/v1/projects/pager/requests?limit=100000")) as { items: unknown[] };
    assert.equal(big.items.length, 23);
  }));

Deno.test("paging stays complete when calls arrive between pages", async () => {
  await using home = await tempHome();
  const writerDb = openStore(home.paths.db);
  const writer = new RowWriter(writerDb);
  for (const r of pagerRows()) writer.enqueue(makeRow(r));
  writer.flush();
  const db = openStore(home.paths.db, { readOnly: true });
  const handle = apiHandler([readApiRoute({ db, allowOrigins: [], now: () => NOW })]);
  try {
    const first = await ok(
      await handle(new Request("http://127.0.0.1/v1/projects/pager/requests?limit=10")),
    ) as {
      items: { id: string }[];
      next_cursor: string;
    };
    writer.enqueue(makeRow({ id: "new", project: "pager", requested_at: "2026-11-20T00:00:00.000Z" }));
    writer.flush();
    const second = await ok(
      await handle(
        new Request(`http://127.0.0.1/v1/projects/pager/requests?limit=100&cursor=${first.next_cursor}`),
      ),
    ) as { items: { id: string }[]; total: number };
    const seen = [...first.items, ...second.items].map((r) => r.id);
    assert.equal(second.total, 24);
    assert.equal(new Set(seen).size, 23);
    assert.ok(!seen.includes("new"));
  } finally {
    db.close();
    writer.close();
    writerDb.close();
  }
});

/** Splits CSV text (RFC 4180) into records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[++i];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      record.push(field);
      records.push(record);
      field = "";
      record = [];
      i++;
    } else field += c;
  }
  assert.equal(field + record.join(""), "", "the CSV ends with a line break");
  return records;
}

Deno.test("GET /v1/projects/{slug}/requests.csv downloads every call with the same fields, quoted where needed", () =>
  withApi(
    [
      ...Array.from({ length: 2345 }, (_, i) => ({
        id: `c${String(i).padStart(5, "0")}`,
        project: "bulk",
        requested_at: new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString(),
        cost_usd_minor_units: i,
      })),
      { id: "odd", project: "bulk", requested_at: "2026-11-19T00:00:00.000Z", model: 'weird "m",x\nline' },
    ],
    async (get) => {
      const res = await get("/v1/projects/bulk/requests.csv");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/csv/);
      assert.match(
        res.headers.get("content-disposition") ?? "",
        /^attachment; filename="bulk-requests\.csv"$/,
      );
      const [header, ...records] = parseCsv(await res.text());
      assert.deepEqual(header, [
        "id",
        "provider",
        "model",
        "mode",
        "input_tokens",
        "output_tokens",
        "thinking_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd_minor_units",
        "latency_ms",
        "tokens_complete",
        "requested_at",
        "status",
      ]);
      assert.equal(records.length, 2346);
      assert.equal(new Set(records.map((r) => r[0])).size, 2346);
      assert.deepEqual(records[0], [
        "odd",
        "openai",
        'weird "m",x\nline',
        "standard",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "100",
        "true",
        "2026-11-19T00:00:00.000Z",
        "success",
      ]);
      assert.equal(records[1][0], "c02344");
      assert.equal(records.at(-1)![0], "c00000");
      const times = records.map((r) => r[12]);
      assert.deepEqual(times, [...times].sort().reverse());
    },
  ));

Deno.test("CORS: only origins in [cors] allow_origins may read the API from another page", () =>
  withApi(FIXTURE, async (get) => {
    const allowed = await get("/v1/projects", { headers: { origin: ORIGIN } });
    assert.equal(allowed.headers.get("access-control-allow-origin"), ORIGIN);
    assert.match(allowed.headers.get("vary") ?? "", /Origin/);
    await allowed.body?.cancel();
    const denied = await get("/v1/stats", { headers: { origin: "https://evil.example" } });
    assert.equal(denied.status, 200);
    assert.equal(denied.headers.get("access-control-allow-origin"), null);
    await denied.body?.cancel();
    const plain = await get("/v1/daemon/status");
    assert.equal(plain.headers.get("access-control-allow-origin"), null);
    await plain.body?.cancel();
    const notFound = await get("/v1/projects/nope", { headers: { origin: ORIGIN } });
    assert.equal(notFound.headers.get("access-control-allow-origin"), ORIGIN);
    await notFound.body?.cancel();
  }));

Deno.test("only GET is answered (405), only on a loopback host name (403), unknown paths fall through to 404", () =>
  withApi(FIXTURE, async (get) => {
    for (const path of ["/v1/projects", "/v1/projects/alpha/requests", "/v1/stats", "/"]) {
      const res = await get(path, { method: "POST", body: "{}" });
      assert.match(await problem(res, 405), /GET/);
      assert.equal(res.headers.get("allow"), "GET");
    }
    const options = await get("/v1/stats", { method: "OPTIONS" });
    assert.equal(options.status, 405);
    await options.body?.cancel();
    assert.equal((await get("/v1/nothing")).status, 404);
    const handle = apiHandler([readApiRoute({ db: undefined as unknown as DatabaseSync, allowOrigins: [] })]);
    for (const host of ["localhost:8765", "127.0.0.1", "app.localhost", "[::1]:8765"]) {
      const res = await handle(new Request(`http://${host}/v1/projects`, { method: "PUT" }));
      assert.equal(res.status, 405, host);
      await res.body?.cancel();
    }
    for (const host of ["evil.example", "192.168.1.10:8765", "localhost.evil.example"]) {
      const res = await handle(new Request(`http://${host}/v1/projects`));
      assert.match(await problem(res, 403), /loopback/, host);
    }
  }));

Deno.test("GET /v1/daemon/status tells when the last call was seen and how many came in the last hour", () =>
  withApi(FIXTURE, async (get) => {
    assert.deepEqual(await ok(await get("/v1/daemon/status")), {
      last_seen_at: "2026-11-20T14:59:00.000Z",
      request_count_last_hour: 2, // a1 at 14:30 and a5 at 14:59
      version: VERSION,
      started_at: "2026-11-20T14:58:30.000Z",
      uptime_s: 90,
    });
  }));

Deno.test("a started daemon serves the read API on its API port from the database its writer fills", async () => {
  await using home = await tempHome();
  const seedDb = openStore(home.paths.db);
  const seed = new RowWriter(seedDb);
  seed.enqueue(
    makeRow({ project: "alpha", requested_at: new Date().toISOString(), cost_usd_minor_units: 42 }),
  );
  seed.close();
  seedDb.close();
  const daemon = await startDaemon({
    paths: home.paths,
    log: new Logger({ process: "daemon", level: "error" }),
    config: parseConfig(`[cors]\nallow_origins = ["${ORIGIN}"]\n`, join(home.home, "config.toml")),
    ports: { intercept: 0, api: 0 },
    heartbeatMs: 60_000,
  });
  // Workers are threads of this process; on Linux /proc names them, so the lazy start can be seen. A thread
  // may end between the listing and the read of its name (the runtime's own come and go): it is no worker.
  const threadName = (tid: string) => {
    try {
      return Deno.readTextFileSync(`/proc/self/task/${tid}/comm`);
    } catch {
      return "";
    }
  };
  const workers = () =>
    Deno.build.os === "linux"
      ? [...Deno.readDirSync("/proc/self/task")].filter((t) => threadName(t.name).startsWith("worker")).length
      : undefined;
  try {
    const before = workers();
    const health = await fetch(`http://127.0.0.1:${daemon.ports.api}/health`);
    await health.body?.cancel();
    assert.equal(workers(), before, "the read API's worker waits for the first read");
    const res = await fetch(`http://127.0.0.1:${daemon.ports.api}/v1/projects`, {
      headers: { origin: ORIGIN },
    });
    if (before !== undefined) assert.equal(workers(), before + 1, "and starts with it");
    assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
    const [alpha] = await res.json() as { slug: string; stats: { all_time_cost_usd_minor_units: number } }[];
    assert.equal(alpha.slug, "alpha");
    assert.equal(alpha.stats.all_time_cost_usd_minor_units, 42);
    const page = await fetch(`http://127.0.0.1:${daemon.ports.api}/`);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    await page.body?.cancel();
  } finally {
    await daemon.close();
  }
});

Deno.test("the read API's worker sends a long CSV export page by page, as it is read, and answers others meanwhile", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const writer = new RowWriter(db);
  const start = Date.parse("2026-11-01T00:00:00Z");
  for (let i = 0; i < 3500; i++) {
    writer.enqueue(makeRow({ project: "bulk", requested_at: new Date(start + i * 1000).toISOString() }));
  }
  writer.close();
  db.close();
  const api = await startReadApiWorker({ dbPath: home.paths.db, allowOrigins: [] });
  try {
    const csv = (await api.route(new Request("http://127.0.0.1:8765/v1/projects/bulk/requests.csv")))!;
    assert.equal(csv.status, 200);
    const reader = csv.body!.getReader();
    const lines = (chunk: Uint8Array) => new TextDecoder().decode(chunk).split("\r\n").length - 1;
    const first = await reader.read();
    assert.equal(
      lines(first.value!),
      1001,
      "the header and the first page of 1,000 calls, not the whole export",
    );
    // With the export still open, the worker answers another request.
    const status = (await api.route(new Request("http://127.0.0.1:8765/v1/daemon/status")))!;
    assert.equal(status.status, 200);
    await status.body?.cancel();
    let total = lines(first.value!);
    for (let part = await reader.read(); !part.done; part = await reader.read()) total += lines(part.value);
    assert.equal(total, 3501, "and then every call, once");
  } finally {
    await api.close();
  }
});
