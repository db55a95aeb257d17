import assert from "node:assert/strict";
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { openStore } from "../../store/open.ts";
import { bundledMigrations } from "../../store/migrate.ts";
import { RowWriter } from "../../store/writer.ts";
import { ROW_COLUMNS, type UsageRow } from "../../store/rows.ts";
import {
  GROUP_BY,
  isPeriod,
  reportGroups,
  type ReportQuery,
  splitRange,
  unknownCostModels,
} from "../../reports/queries.ts";
import type { TimeRange } from "../../reports/window.ts";
import { formatDate, localDate, mondayOf } from "../../reports/zone.ts";
import { statsView } from "../../daemon/api/read/stats.ts";
import { listProjects } from "../../daemon/api/read/projects.ts";
import { buildRateBook, recost } from "../../pricing/mod.ts";
import { prng, seedDatabase, seedRows } from "../../scripts/seed.ts";
import { tempHome } from "../helpers/home.ts";

// Calls from 2026-10-25T09:30Z to 2026-11-06T09:30Z: partial days at both ends and a month boundary inside.
const END = new Date("2026-11-06T09:30:00.000Z");
const DAYS = 12;
const DAY_MS = 86_400_000;
const SEED = { rows: 6000, days: DAYS, end: END, seed: 7 };

/** Calls the seed never makes: no model, an empty model name, and calls exactly at midnight. */
function oddRows(): UsageRow[] {
  const base = seedRows({ rows: 1, days: 1, end: END, seed: 99 }).next().value as UsageRow;
  const row = (id: string, requested_at: string, model: string | null, cost: number | null): UsageRow => ({
    ...base,
    id,
    requested_at,
    project: "odd-project",
    provider: "openai",
    model,
    cost_usd_minor_units: cost,
  });
  return [
    row("odd-1", "2026-11-01T00:00:00.000Z", null, null),
    row("odd-2", "2026-11-01T13:00:00.000Z", null, 40),
    row("odd-3", "2026-11-01T14:00:00.000Z", "", 7),
    row("odd-4", "2026-10-31T23:59:59.999Z", "", null),
    row("odd-5", "2026-11-03T00:00:00.000Z", "gpt-5", 1000),
  ];
}

function writeRows(db: DatabaseSync, rows: Iterable<UsageRow>): void {
  const writer = new RowWriter(db);
  try {
    for (const r of rows) writer.enqueue(r);
  } finally {
    writer.close();
  }
}

/** Stores calls the way a daemon did before the rollup existed: plain inserts, nothing else. */
function writeBeforeRollup(db: DatabaseSync, rows: UsageRow[]): void {
  // Searches, audio and images came with migration 0008: that daemon had no such columns.
  const later: readonly string[] = [
    "web_search_requests",
    "input_audio_tokens",
    "input_image_tokens",
    "output_audio_tokens",
    "output_image_tokens",
  ];
  const rowColumns = ROW_COLUMNS.filter((c) => !later.includes(c));
  const columns = ["project_id", "cache_write_tokens", ...rowColumns];
  const insert = db.prepare(
    `INSERT INTO requests (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
  );
  const addProject = db.prepare(
    "INSERT INTO projects (id, slug, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING",
  );
  db.exec("BEGIN");
  for (const r of rows) {
    addProject.run(`id-${r.project}`, r.project, r.project, r.requested_at);
    const values = rowColumns.map((c) => typeof r[c] === "boolean" ? Number(r[c]) : r[c] as SQLInputValue);
    insert.run(`id-${r.project}`, r.cache_write_5m_tokens + r.cache_write_1h_tokens, ...values);
  }
  db.exec("COMMIT");
}

/** A seeded database with the odd calls too, every migration applied. */
async function withSeeded(fn: (db: DatabaseSync) => void | Promise<void>): Promise<void> {
  await using home = await tempHome();
  seedDatabase(home.paths.db, SEED);
  const db = openStore(home.paths.db);
  try {
    writeRows(db, oddRows());
    await fn(db);
  } finally {
    db.close();
  }
}

const plain = <T>(rows: unknown[]): T[] => rows.map((r) => ({ ...(r as object) }) as T);

/** The zones the random windows cycle through: whole-hour, negative, half-hour and 45-minute offsets, DST. */
const ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu", "Europe/London"];

/** The local period key of a call, computed from its own time with the runtime's zone data. */
function periodKey(at: string, by: "day" | "week" | "month", zone: string): string {
  const d = localDate(zone, Date.parse(at));
  return by === "day" ? formatDate(d) : by === "week" ? formatDate(mondayOf(d)) : formatDate(d).slice(0, 7);
}

/**
 * The report computed the plain way: one GROUP BY over every call in the window, by period computed call by
 * call. By period it lists only the periods with calls (the report lists every period of the window).
 */
function rawReportGroups(db: DatabaseSync, q: ReportQuery): unknown[] {
  const key = isPeriod(q.by)
    ? "r.requested_at"
    : { project: "p.slug", model: "r.model", provider: "r.provider" }[q.by];
  const params: SQLInputValue[] = [q.window.from, q.window.to];
  if (q.project !== undefined) params.push(q.project);
  const rows = plain<Record<string, number> & { key: string | null }>(
    db.prepare(
      `SELECT ${key} AS key, count(*) AS requests, coalesce(sum(input_tokens), 0) AS input_tokens,
         coalesce(sum(output_tokens), 0) AS output_tokens, coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
         coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
         coalesce(sum(thinking_tokens), 0) AS thinking_tokens,
         coalesce(sum(cost_usd_minor_units), 0) AS cost_millicents,
         count(*) - count(cost_usd_minor_units) AS unknown_cost_requests,
         coalesce(sum(iif(cost_usd_minor_units IS NULL, input_tokens + output_tokens + cache_read_tokens +
           cache_write_5m_tokens + cache_write_1h_tokens, 0)), 0) AS unknown_cost_tokens,
         coalesce(sum(billing = 'subscription'), 0) AS subscription_requests,
         coalesce(sum(iif(billing = 'subscription', cost_usd_minor_units, 0)), 0) AS subscription_cost_millicents,
         coalesce(sum(tokens_complete = 0), 0) AS incomplete_requests,
         coalesce(sum(status = 'error'), 0) AS error_requests
       FROM requests r JOIN projects p ON p.id = r.project_id
       WHERE r.requested_at >= ? AND r.requested_at < ? ${q.project === undefined ? "" : "AND p.slug = ?"}
       GROUP BY 1 ORDER BY ${isPeriod(q.by) ? "key" : "cost_millicents DESC, requests DESC, key"}`,
    ).all(...params),
  );
  if (!isPeriod(q.by)) return rows;
  const by = q.by;
  const periods = new Map<string, Record<string, number | string | null>>();
  for (const r of rows) {
    const k = periodKey(r.key!, by, q.window.zone);
    const into = periods.get(k);
    if (!into) periods.set(k, { ...r, key: k });
    else for (const [c, v] of Object.entries(r)) if (c !== "key") (into[c] as number) += v as number;
  }
  return [...periods.values()];
}

function rawUnknownCostModels(db: DatabaseSync, q: ReportQuery): unknown[] {
  const params: SQLInputValue[] = [q.window.from, q.window.to];
  if (q.project !== undefined) params.push(q.project);
  return plain(
    db.prepare(
      `SELECT provider, model, count(*) AS requests FROM requests
       WHERE requested_at >= ? AND requested_at < ? AND cost_usd_minor_units IS NULL
         ${q.project === undefined ? "" : "AND project_id = (SELECT id FROM projects WHERE slug = ?)"}
       GROUP BY provider, model ORDER BY requests DESC, provider, model`,
    ).all(...params),
  );
}

const ROLLUP_COLUMNS = `requests, input_tokens, output_tokens, thinking_tokens, cache_read_tokens,
  cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_usd_minor_units,
  unknown_cost_requests, incomplete_requests, error_requests, unknown_cost_tokens, subscription_requests,
  subscription_cost_usd_minor_units`;

/** The rollup table as it is, and as a GROUP BY over the calls says it should be. */
function rollupAndCalls(
  db: DatabaseSync,
  table = "daily_usage",
  period = "day",
  chars = 10,
): { rollup: unknown[]; calls: unknown[] } {
  return {
    rollup: plain(
      db.prepare(
        `SELECT ${period} AS day, project_id, provider, model, ${ROLLUP_COLUMNS} FROM ${table}
         ORDER BY day, project_id, provider, model`,
      ).all(),
    ),
    calls: plain(
      db.prepare(
        `SELECT substr(requested_at, 1, ${chars}) AS day, project_id, provider, model, count(*) AS requests,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(thinking_tokens) AS thinking_tokens, sum(cache_read_tokens) AS cache_read_tokens,
           sum(cache_write_tokens) AS cache_write_tokens, sum(cache_write_5m_tokens) AS cache_write_5m_tokens,
           sum(cache_write_1h_tokens) AS cache_write_1h_tokens,
           coalesce(sum(cost_usd_minor_units), 0) AS cost_usd_minor_units,
           count(*) - count(cost_usd_minor_units) AS unknown_cost_requests,
           sum(tokens_complete = 0) AS incomplete_requests, sum(status = 'error') AS error_requests,
           sum(iif(cost_usd_minor_units IS NULL, input_tokens + output_tokens + cache_read_tokens +
             cache_write_5m_tokens + cache_write_1h_tokens, 0)) AS unknown_cost_tokens,
           sum(billing = 'subscription') AS subscription_requests,
           coalesce(sum(iif(billing = 'subscription', cost_usd_minor_units, 0)), 0)
             AS subscription_cost_usd_minor_units
         FROM requests GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
      ).all(),
    ),
  };
}

/** Both rollups (daily and hourly) hold exactly the sums of the calls. */
function assertRollupExact(db: DatabaseSync): void {
  for (const [table, period, chars] of [["daily_usage", "day", 10], ["hourly_usage", "hour", 13]] as const) {
    const { rollup, calls } = rollupAndCalls(db, table, period, chars);
    assert.ok(calls.length > 0);
    assert.deepEqual(rollup, calls, table);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Windows over (and a little past) the seeded range: random instants, some snapped to midnight, some
 * inside one day, some empty or reversed, plus the edge cases by hand.
 */
function windows(count: number): (TimeRange & { zone: string })[] {
  const rand = prng(11);
  const start = END.getTime() - (DAYS + 1) * DAY_MS;
  const span = (DAYS + 2) * DAY_MS;
  const snap = (ms: number) => (rand() < 0.3 ? Math.floor(ms / DAY_MS) * DAY_MS : Math.floor(ms));
  const out: TimeRange[] = [
    { from: "2026-10-01T00:00:00.000Z", to: "2026-12-01T00:00:00.000Z" },
    { from: "2026-11-01T00:00:00.000Z", to: "2026-11-02T00:00:00.000Z" },
    { from: "2026-10-31T23:00:00.000Z", to: "2026-11-01T01:00:00.000Z" },
    { from: "2026-11-01T00:00:00.000Z", to: "2026-11-01T00:00:00.000Z" },
    { from: "2026-10-31T23:59:59.999Z", to: "2026-11-03T00:00:00.001Z" },
    { from: "2026-11-02T00:00:00.000Z", to: "2026-11-01T00:00:00.000Z" },
  ];
  while (out.length < count) {
    const from = snap(start + rand() * span);
    const to = rand() < 0.1 ? from - Math.floor(rand() * DAY_MS) : snap(from + rand() ** 2 * span);
    out.push({ from: iso(from), to: iso(to) });
  }
  return out.map((w, i) => ({ ...w, zone: ZONES[i % ZONES.length] }));
}

Deno.test("splitRange() covers every call of a range exactly once: whole days, whole hours, then the odd minutes", () => {
  const stamps = [...seedRows(SEED)].map((r) => r.requested_at).concat(oddRows().map((r) => r.requested_at));
  const chars = { daily_usage: 10, hourly_usage: 13, requests: 24 } as const;
  for (const w of windows(60)) {
    const pieces = splitRange(w);
    for (const p of pieces) {
      assert.ok(p.from < p.to, `empty piece ${JSON.stringify(p)} of ${JSON.stringify(w)}`);
    }
    for (const at of stamps) {
      const hits = pieces.filter((p) => {
        const k = at.slice(0, chars[p.table]);
        return k >= p.from && k < p.to;
      }).reduce((sum, p) => sum + p.sign, 0);
      assert.equal(hits, at >= w.from && at < w.to ? 1 : 0, `${at} in ${JSON.stringify(w)}`);
    }
  }
  // Kolkata's day: 18:30 to 18:30 UTC. Half an hour call by call at each end; the 5 hours before midnight
  // by the hour; the 18 after it as the whole UTC day less its last 6 hours.
  assert.deepEqual(splitRange({ from: "2026-11-01T18:30:00.000Z", to: "2026-11-02T18:30:00.000Z" }), [
    { table: "requests", from: "2026-11-01T18:30:00.000Z", to: "2026-11-01T19:00:00.000Z", sign: 1 },
    { table: "hourly_usage", from: "2026-11-01T19", to: "2026-11-02T00", sign: 1 },
    { table: "daily_usage", from: "2026-11-02", to: "2026-11-03", sign: 1 },
    { table: "hourly_usage", from: "2026-11-02T18", to: "2026-11-03T00", sign: -1 },
    { table: "requests", from: "2026-11-02T18:00:00.000Z", to: "2026-11-02T18:30:00.000Z", sign: 1 },
  ]);
  assert.deepEqual(splitRange({ from: "2026-11-01T06:00:00.000Z", to: "2026-11-04T00:00:00.000Z" }), [
    { table: "daily_usage", from: "2026-11-01", to: "2026-11-02", sign: 1 },
    { table: "hourly_usage", from: "2026-11-01T00", to: "2026-11-01T06", sign: -1 },
    { table: "daily_usage", from: "2026-11-02", to: "2026-11-04", sign: 1 },
  ]);
});

Deno.test("reportGroups() and unknownCostModels() give exactly the raw GROUP BY for random windows, every grouping and project filter", () =>
  withSeeded((db) => {
    let nonEmpty = 0;
    for (const window of windows(40)) {
      for (const project of [undefined, "halton-web", "odd-project", "no-such-project"]) {
        for (const by of GROUP_BY) {
          const q = { window, by, project };
          const raw = rawReportGroups(db, q);
          if (raw.length) nonEmpty++;
          const groups = reportGroups(db, q);
          assert.deepEqual(
            isPeriod(by) ? groups.filter((g) => g.requests > 0) : groups,
            raw,
            JSON.stringify(q),
          );
        }
        const q = { window, by: "model" as const, project };
        assert.deepEqual(unknownCostModels(db, q), rawUnknownCostModels(db, q), JSON.stringify(q));
      }
    }
    assert.ok(nonEmpty > 300, `only ${nonEmpty} non-empty comparisons`);
  }));

Deno.test("reportGroups() by model keeps calls without a model apart from calls with an empty model name", () =>
  withSeeded((db) => {
    const groups = reportGroups(db, {
      window: { from: "2026-10-30T00:00:00.000Z", to: "2026-11-02T00:00:00.000Z", zone: "UTC" },
      by: "model",
      project: "odd-project",
    });
    assert.deepEqual(groups.map((g) => [g.key, g.requests, g.cost_millicents, g.unknown_cost_requests]), [
      [null, 2, 40, 1],
      ["", 2, 7, 1],
    ]);
  }));

Deno.test("daily_usage follows inserts, and an ignored duplicate call adds nothing", () =>
  withSeeded((db) => {
    assertRollupExact(db);
    const before = reportGroups(db, {
      window: { from: "2026-11-01", to: "2026-11-02", zone: "UTC" },
      by: "project",
    });
    writeRows(db, oddRows());
    assertRollupExact(db);
    assert.deepEqual(
      reportGroups(db, { window: { from: "2026-11-01", to: "2026-11-02", zone: "UTC" }, by: "project" }),
      before,
    );
  }));

Deno.test("daily_usage follows pricing recost: unknown costs priced, and known costs rewritten", () =>
  withSeeded((db) => {
    const window = { from: "2026-10-20T00:00:00.000Z", to: "2026-11-10T00:00:00.000Z", zone: "UTC" };
    const unknownBefore = unknownCostModels(db, { window });
    assert.ok(unknownBefore.some((u) => u.model === "gpt-6-preview"));
    const book = buildRateBook({
      overrides: [
        { provider: "openai", model: "gpt-6-preview", input: 2, output: 8, cache_read: 0.5 },
        { provider: "openai", model: "gpt-5", input: 5, output: 50, cache_read: 1 },
      ],
    });
    const result = recost(db, book, { all: true });
    assert.ok(result.changed > 100, `recost changed only ${result.changed} calls`);
    assertRollupExact(db);
    const after = reportGroups(db, { window, by: "model" });
    assert.deepEqual(after, rawReportGroups(db, { window, by: "model" }));
    assert.equal(after.find((g) => g.key === "gpt-6-preview")?.unknown_cost_requests, 0);
    assert.ok(!unknownCostModels(db, { window }).some((u) => u.model === "gpt-6-preview"));
  }));

Deno.test("daily_usage follows updates that move a call to another day or model, dropping emptied groups", () =>
  withSeeded((db) => {
    db.prepare(
      "UPDATE requests SET model = NULL, requested_at = '2026-11-03T08:00:00.000Z' WHERE id = 'odd-3'",
    )
      .run();
    db.prepare(
      "UPDATE requests SET status = 'error', tokens_complete = 0, input_tokens = 5 WHERE id = 'odd-5'",
    )
      .run();
    // A call moved to a subscription in place, priced or not: the subscription and unpriced sums follow.
    db.prepare("UPDATE requests SET billing = 'subscription' WHERE id IN ('odd-2', 'odd-4')").run();
    assertRollupExact(db);
    db.prepare("UPDATE requests SET billing = 'api', cost_usd_minor_units = 9 WHERE id = 'odd-4'").run();
    assertRollupExact(db);
    const emptied = db.prepare(
      "SELECT count(*) AS n FROM daily_usage WHERE day = '2026-11-01' AND model = ''",
    ).get() as { n: number };
    assert.equal(emptied.n, 0);
  }));

Deno.test("daily_usage follows deletes and holds no group whose calls are all gone", () =>
  withSeeded((db) => {
    db.prepare("DELETE FROM requests WHERE requested_at >= '2026-11-02' AND requested_at < '2026-11-03'")
      .run();
    db.prepare("DELETE FROM requests WHERE model IS NULL").run();
    assertRollupExact(db);
    const left = db.prepare("SELECT count(*) AS n FROM daily_usage WHERE day = '2026-11-02' OR model IS NULL")
      .get() as { n: number };
    assert.equal(left.n, 0);
    db.prepare("DELETE FROM requests").run();
    assert.equal((db.prepare("SELECT count(*) AS n FROM daily_usage").get() as { n: number }).n, 0);
  }));

Deno.test("migration 0003 backfills a database written before it: reports are the same after the upgrade", async () => {
  await using home = await tempHome();
  const old = openStore(home.paths.db, { migrations: bundledMigrations().filter((m) => m.version < 3) });
  const queries = windows(12).flatMap((window) => GROUP_BY.map((by) => ({ window, by })));
  let before: unknown[][];
  try {
    writeBeforeRollup(old, [...seedRows(SEED), ...oddRows()]);
    before = queries.map((q) => rawReportGroups(old, q));
  } finally {
    old.close();
  }
  const db = openStore(home.paths.db);
  try {
    assertRollupExact(db);
    assert.deepEqual(
      queries.map((q) => reportGroups(db, q)).map((g, i) =>
        isPeriod(queries[i].by) ? g.filter((x) => x.requests > 0) : g
      ),
      before,
    );
  } finally {
    db.close();
  }
});

Deno.test("statsView() read from the rollup has the raw sums of its window, by day, model and project", () =>
  withSeeded((db) => {
    const since = "2026-10-28";
    const today = "2026-11-04";
    const view = statsView(db, { since, today });
    const w = { from: `${since}T00:00:00.000Z`, to: "2026-11-05T00:00:00.000Z", zone: "UTC" };
    const raw = (by: ReportQuery["by"]) =>
      rawReportGroups(db, { window: w, by }) as {
        key: string | null;
        requests: number;
        cost_millicents: number;
      }[];
    const total = raw("provider").reduce(
      (t, g) => ({ requests: t.requests + g.requests, cost: t.cost + g.cost_millicents }),
      { requests: 0, cost: 0 },
    );
    assert.equal(view.summary.total_requests, total.requests);
    assert.equal(view.summary.total_cost_usd_minor_units, total.cost);
    const last = db.prepare("SELECT max(requested_at) AS m FROM requests WHERE requested_at < ?").get(
      w.to,
    ) as {
      m: string;
    };
    assert.equal(view.summary.last_request_at, last.m);
    const days = new Map(raw("day").map((g) => [g.key, [g.requests, g.cost_millicents]]));
    for (const d of view.by_day) {
      assert.deepEqual([d.requests, d.cost_usd_minor_units], days.get(d.date) ?? [0, 0]);
    }
    assert.equal(view.by_day.length, 8);
    const projects = raw("project").map((g) => [g.key, g.requests, g.cost_millicents]).sort();
    assert.deepEqual(
      view.by_project.map((p) => [p.project, p.requests, p.cost_usd_minor_units]).sort(),
      projects,
    );
    const models = raw("model").map((g) => [g.key, g.requests, g.cost_millicents]).sort();
    assert.deepEqual(view.by_model.map((m) => [m.model, m.requests, m.cost_usd_minor_units]).sort(), models);
  }));

Deno.test("listProjects() read from the rollup has each project's raw month, previous month and all-time sums", () =>
  withSeeded((db) => {
    const now = new Date("2026-11-06T12:00:00.000Z");
    const sums = (from: string, to: string) =>
      new Map(
        (rawReportGroups(db, { window: { from, to, zone: "UTC" }, by: "project" }) as {
          key: string;
          requests: number;
          cost_millicents: number;
        }[]).map((g) => [g.key, g]),
      );
    const month = sums("2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z");
    const previous = sums("2026-10-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z");
    const all = sums("0000", "9999");
    const projects = listProjects(db, now);
    assert.equal(projects.length, all.size);
    for (const p of projects) {
      assert.deepEqual(
        [
          p.stats.requests_this_month,
          p.stats.cost_usd_this_month_minor_units,
          p.stats.previous_month_cost_usd_minor_units,
          p.stats.all_time_requests,
          p.stats.all_time_cost_usd_minor_units,
        ],
        [
          month.get(p.slug)?.requests ?? 0,
          month.get(p.slug)?.cost_millicents ?? 0,
          previous.get(p.slug)?.cost_millicents ?? 0,
          all.get(p.slug)?.requests,
          all.get(p.slug)?.cost_millicents,
        ],
        p.slug,
      );
      const last = db.prepare("SELECT max(requested_at) AS m FROM requests WHERE project_id = ?").get(
        p.id,
      ) as {
        m: string;
      };
      assert.equal(p.stats.last_active_at, last.m);
    }
  }));
