/**
 * The queries behind `halton-meter report` and the read API's `/v1/report`: usage and cost in a time window,
 * grouped by project, model, provider, or local day, week or month. Each is a pure function of a (read-only) connection and its parameters; formatting
 * is the command's job.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { type Period, PERIOD_UNITS, periodsOf, type PeriodUnit, type TimeRange } from "./window.ts";

/** What a report groups by: a column of the calls, or a calendar period of the window's zone. */
export type GroupBy = "project" | "model" | "provider" | PeriodUnit;

/** Every {@linkcode GroupBy}, in the order help lists them. */
export const GROUP_BY: readonly GroupBy[] = ["project", "model", "provider", ...PERIOD_UNITS];

/** True for the groupings by calendar period. */
export function isPeriod(by: GroupBy): by is PeriodUnit {
  return (PERIOD_UNITS as readonly string[]).includes(by);
}

/** The parameters of one report query. */
export interface ReportQuery {
  /** The window, with the zone whose days, weeks and months a grouping by period counts. */
  window: TimeRange & { zone: string };
  by: GroupBy;
  /** Only this project's calls (its slug). */
  project?: string;
}

/**
 * Every total a report, the read API and the page show, once: its name, its sum over calls (`requests`) and
 * its column in the rollups (`daily_usage` and `hourly_usage`, whose rows are sums of calls). The SQL, the
 * JSON fields and the CSV columns all come from here.
 */
export const TOTALS = [
  { name: "requests", calls: "count(*)", rollup: "requests" },
  { name: "input_tokens", calls: "sum(input_tokens)", rollup: "input_tokens" },
  { name: "output_tokens", calls: "sum(output_tokens)", rollup: "output_tokens" },
  { name: "cache_read_tokens", calls: "sum(cache_read_tokens)", rollup: "cache_read_tokens" },
  { name: "cache_write_tokens", calls: "sum(cache_write_tokens)", rollup: "cache_write_tokens" },
  { name: "thinking_tokens", calls: "sum(thinking_tokens)", rollup: "thinking_tokens" },
  // Sum of the known costs, integer millicents; calls with an unknown cost add nothing.
  { name: "cost_millicents", calls: "sum(cost_usd_minor_units)", rollup: "cost_usd_minor_units" },
  // Calls whose cost is unknown (NULL: the model had no rate), and their tokens (input, output, cache).
  {
    name: "unknown_cost_requests",
    calls: "count(*) - count(cost_usd_minor_units)",
    rollup: "unknown_cost_requests",
  },
  {
    name: "unknown_cost_tokens",
    calls:
      "sum(CASE WHEN cost_usd_minor_units IS NULL THEN input_tokens + output_tokens + cache_read_tokens + " +
      "cache_write_tokens ELSE 0 END)",
    rollup: "unknown_cost_tokens",
  },
  // Calls billed to a subscription (ChatGPT login, Code Assist, Claude OAuth) and their API-equivalent cost,
  // part of cost_millicents but not of what was billed.
  {
    name: "subscription_requests",
    calls: "sum(billing = 'subscription')",
    rollup: "subscription_requests",
  },
  {
    name: "subscription_cost_millicents",
    calls: "sum(CASE WHEN billing = 'subscription' THEN cost_usd_minor_units ELSE 0 END)",
    rollup: "subscription_cost_usd_minor_units",
  },
  // Calls whose token counts are a lower bound (`tokens_complete = 0`), and calls that ended in an error.
  { name: "incomplete_requests", calls: "sum(tokens_complete = 0)", rollup: "incomplete_requests" },
  { name: "error_requests", calls: "sum(status = 'error')", rollup: "error_requests" },
] as const;

/** The name of one of {@linkcode TOTALS}. */
export type TotalName = (typeof TOTALS)[number]["name"];

/** The sums of one group (or of everything), one number per {@linkcode TOTALS} entry. */
export type UsageTotals = Record<TotalName, number>;

/** One row of a report: the group's key (slug, model, provider or `YYYY-MM-DD`) and its sums. */
export interface ReportGroup extends UsageTotals {
  /** Null for calls that named no model. */
  key: string | null;
}

/** Calls without a known cost, by provider and model. */
export interface UnknownCostModel {
  provider: string;
  model: string | null;
  requests: number;
}

/** The names of {@linkcode TOTALS}, in the order the queries select them. */
const GROUP_COLUMNS: readonly TotalName[] = TOTALS.map((t) => t.name);

/** The sums over `requests`. */
const SUMS = TOTALS.map((t) => `coalesce(${t.calls}, 0) AS ${t.name}`).join(", ");

/** The sums over a rollup (`daily_usage`, `hourly_usage`), whose rows are sums of calls, signed by the piece. */
const ROLLUP_SUMS = TOTALS.map((t) => `sum(t.${t.rollup} * pc.sign) AS ${t.name}`).join(", ");

/** The column each non-time grouping keys on, in `requests` and in both rollups alike. */
const KEY_COLUMN = { project: "project_id", model: "model", provider: "provider" } as const;

/** Which table sums one piece of a range, the piece's bounds in that table's key, and whether it is added. */
export interface RangePiece {
  table: "daily_usage" | "hourly_usage" | "requests";
  /** `YYYY-MM-DD` for daily_usage, `YYYY-MM-DDTHH` for hourly_usage, an ISO instant for requests. */
  from: string;
  to: string;
  /** 1: added; -1: taken away (hours of a day read whole from the daily rollup that the range leaves out). */
  sign: 1 | -1;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * Cuts `[from, to)` into pieces whose signed sum covers it exactly once: whole UTC days (`daily_usage`), whole
 * UTC hours (`hourly_usage`) and the minutes left at the ends (`requests`, call by call). Where a range holds
 * most of a UTC day, that day is read whole and the hours it leaves out taken away, so a local day of a
 * zone at UTC-8 reads one day and 8 hours rather than 24 hours. A call's day and hour are the first 10 and
 * 13 characters of its `requested_at`, which is what makes the pieces meet exactly.
 */
export function splitRange(range: TimeRange): RangePiece[] {
  const lo = Date.parse(range.from);
  const hi = Date.parse(range.to);
  if (!(lo < hi)) return [];
  const iso = (ms: number) => new Date(ms).toISOString();
  const ceilHour = Math.ceil(lo / HOUR_MS) * HOUR_MS;
  const floorHour = Math.floor(hi / HOUR_MS) * HOUR_MS;
  if (ceilHour >= floorHour) return [{ table: "requests", from: range.from, to: range.to, sign: 1 }];
  const out: RangePiece[] = [];
  const hours = (a: number, b: number, sign: 1 | -1) => {
    if (a < b) out.push({ table: "hourly_usage", from: iso(a).slice(0, 13), to: iso(b).slice(0, 13), sign });
  };
  const days = (a: number, b: number) =>
    out.push({ table: "daily_usage", from: iso(a).slice(0, 10), to: iso(b).slice(0, 10), sign: 1 });
  if (lo < ceilHour) out.push({ table: "requests", from: range.from, to: iso(ceilHour), sign: 1 });
  // Whole hours [ceilHour, floorHour), one UTC day at a time; runs of whole days become one piece.
  let runStart: number | undefined;
  for (let at = ceilHour; at < floorHour;) {
    const dayStart = Math.floor(at / DAY_MS) * DAY_MS;
    const end = Math.min(dayStart + DAY_MS, floorHour);
    if (at === dayStart && end === dayStart + DAY_MS) {
      runStart ??= dayStart;
    } else {
      if (runStart !== undefined) days(runStart, dayStart);
      runStart = undefined;
      if (end - at > DAY_MS / 2) {
        days(dayStart, dayStart + DAY_MS);
        hours(dayStart, at, -1);
        hours(end, dayStart + DAY_MS, -1);
      } else {
        hours(at, end, 1);
      }
    }
    at = end;
  }
  if (runStart !== undefined) days(runStart, floorHour);
  if (floorHour < hi) out.push({ table: "requests", from: iso(floorHour), to: range.to, sign: 1 });
  return out;
}

/** The period column of each table. */
const PERIOD_COLUMN = { daily_usage: "day", hourly_usage: "hour", requests: "requested_at" } as const;

/**
 * Runs `select(table, alias)` once per table over every piece of every period, the pieces passed as one JSON
 * parameter (`[period key, from, to, sign]`), unpacked once into a table `pc (period, lo, hi, sign)` and
 * joined to the table's time index; `pc.period` is the period, and rollup sums are multiplied by `pc.sign`.
 */
function overPieces<T>(
  db: DatabaseSync,
  periods: readonly Period[],
  projectId: string | undefined,
  select: (table: RangePiece["table"]) => string,
): T[] {
  const byTable = new Map<RangePiece["table"], (string | number)[][]>();
  for (const p of periods) {
    for (const piece of splitRange(p)) {
      let list = byTable.get(piece.table);
      if (!list) byTable.set(piece.table, list = []);
      list.push([p.key, piece.from, piece.to, piece.sign]);
    }
  }
  const out: T[] = [];
  for (const [table, pieces] of byTable) {
    const col = `t.${PERIOD_COLUMN[table]}`;
    const project = projectId === undefined ? "" : " AND t.project_id = ?";
    // CROSS JOIN keeps the few pieces outside, so each is one range scan of the table's time index.
    // Materialised, so the JSON is parsed once per piece rather than once per row joined to it.
    const sql = `WITH pc AS MATERIALIZED (SELECT value->>0 AS period, value->>1 AS lo, value->>2 AS hi,
      value->>3 AS sign FROM json_each(?)) ${select(table)}`.replace(
      "{FROM}",
      `FROM pc CROSS JOIN ${table} t ON ${col} >= pc.lo AND ${col} < pc.hi${project}`,
    );
    const params: SQLInputValue[] = [JSON.stringify(pieces)];
    if (projectId !== undefined) params.push(projectId);
    for (const r of db.prepare(sql).all(...params)) out.push({ ...r } as T);
  }
  return out;
}

/** The id of the project with `slug`, or undefined when there is none. */
function projectId(db: DatabaseSync, slug: string): string | undefined {
  return (db.prepare("SELECT id FROM projects WHERE slug = ?").get(slug) as { id: string } | undefined)?.id;
}

/** Sums per period and key, over every table a piece reads. */
function sumPeriods(
  db: DatabaseSync,
  periods: readonly Period[],
  key: string | null,
  project: string | undefined,
): Map<string, ReportGroup & { period: string }> {
  const merged = new Map<string, ReportGroup & { period: string }>();
  const id = project === undefined ? undefined : projectId(db, project);
  if (project !== undefined && id === undefined) return merged;
  const keyExpr = key === null ? "NULL" : `t.${key}`;
  const rows = overPieces<ReportGroup & { period: string }>(
    db,
    periods,
    id,
    (table) =>
      `SELECT pc.period AS period, ${keyExpr} AS key, ${table === "requests" ? SUMS : ROLLUP_SUMS}
     {FROM} GROUP BY 1, 2`,
  );
  for (const r of rows) {
    const k = `${r.period}\u0000${r.key === null ? "-" : `+${r.key}`}`;
    const into = merged.get(k);
    if (!into) merged.set(k, r);
    else for (const c of GROUP_COLUMNS) into[c] += r[c];
  }
  return merged;
}

/** SQLite's order for keys: NULL first, then by code unit. */
function compareKeys(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/**
 * The groups of a report. By project, model or provider: most expensive first (ties: most calls, then key),
 * only groups with calls. By day, week or month: every period of the window in date order, those without
 * calls as zeros, keyed `YYYY-MM-DD` (a week by its Monday) or `YYYY-MM`. Whole UTC days and hours come from
 * the rollups and only the odd minutes from the calls, so a long window costs about as much as a short one;
 * the sums are exactly those of the calls.
 */
export function reportGroups(db: DatabaseSync, q: ReportQuery): ReportGroup[] {
  if (isPeriod(q.by)) {
    const periods = periodsOf(q.window, q.by);
    const sums = sumPeriods(db, periods, null, q.project);
    return periods.map((p) => {
      const s = sums.get(`${p.key}\u0000-`);
      const totals = s ? pickTotals(s) : emptyTotals();
      return { key: p.key, ...totals };
    });
  }
  const whole: Period = { key: "", from: q.window.from, to: q.window.to };
  // A group whose hours were all taken away again from a whole day had no call in the window.
  const sums = [...sumPeriods(db, [whole], KEY_COLUMN[q.by], q.project).values()].filter((s) =>
    s.requests !== 0
  );
  const slugs = q.by === "project" ? projectSlugsById(db) : undefined;
  const groups = sums.map((s) => ({
    key: slugs && s.key !== null ? slugs.get(s.key) ?? s.key : s.key,
    ...pickTotals(s),
  }));
  return groups.sort((a, b) =>
    b.cost_millicents - a.cost_millicents || b.requests - a.requests || compareKeys(a.key, b.key)
  );
}

function pickTotals(s: UsageTotals): UsageTotals {
  const t = emptyTotals();
  for (const c of GROUP_COLUMNS) t[c] = s[c];
  return t;
}

function projectSlugsById(db: DatabaseSync): Map<string, string> {
  return new Map(
    (db.prepare("SELECT id, slug FROM projects").all() as { id: string; slug: string }[]).map((p) => [
      p.id,
      p.slug,
    ]),
  );
}

/** The providers and models of the calls in the window whose cost is unknown, most calls first. */
export function unknownCostModels(
  db: DatabaseSync,
  q: Pick<ReportQuery, "window" | "project">,
): UnknownCostModel[] {
  const id = q.project === undefined ? undefined : projectId(db, q.project);
  if (q.project !== undefined && id === undefined) return [];
  const whole: Period = { key: "", from: q.window.from, to: q.window.to };
  const rows = overPieces<UnknownCostModel>(
    db,
    [whole],
    id,
    (table) =>
      table === "requests"
        ? `SELECT t.provider AS provider, t.model AS model, count(*) AS requests {FROM}
         WHERE t.cost_usd_minor_units IS NULL GROUP BY 1, 2`
        : `SELECT t.provider AS provider, t.model AS model, sum(t.unknown_cost_requests * pc.sign) AS requests {FROM}
         WHERE t.unknown_cost_requests > 0 GROUP BY 1, 2`,
  );
  const merged = new Map<string, UnknownCostModel>();
  for (const r of rows) {
    const k = `${r.provider}\u0000${r.model === null ? "-" : `+${r.model}`}`;
    const into = merged.get(k);
    if (into) into.requests += r.requests;
    else merged.set(k, r);
  }
  return [...merged.values()].filter((m) => m.requests !== 0).sort((a, b) =>
    b.requests - a.requests || compareKeys(a.provider, b.provider) || compareKeys(a.model, b.model)
  );
}

/** The slugs of every project, for "did you mean" when `--project` names none of them. */
export function projectSlugs(db: DatabaseSync): string[] {
  return (db.prepare("SELECT slug FROM projects ORDER BY slug").all() as { slug: string }[]).map((r) =>
    r.slug
  );
}

/** True when the database holds no calls at all. */
export function isEmpty(db: DatabaseSync): boolean {
  return db.prepare("SELECT 1 FROM requests LIMIT 1").get() === undefined;
}

/** The sums of `groups` together (the report's total row). */
export function sumGroups(groups: readonly UsageTotals[]): UsageTotals {
  const total = emptyTotals();
  for (const g of groups) {
    for (const k of Object.keys(total) as (keyof UsageTotals)[]) total[k] += g[k];
  }
  return total;
}

/** Totals of nothing: every field zero. */
export function emptyTotals(): UsageTotals {
  return Object.fromEntries(GROUP_COLUMNS.map((c) => [c, 0])) as UsageTotals;
}
