/**
 * The queries behind `halton-meter report`: usage and cost in a time window, grouped by project, model,
 * provider or UTC day. Each is a pure function of a (read-only) connection and its parameters; formatting
 * is the command's job.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { usdString } from "../core/money.ts";

/** What a report groups by. */
export type GroupBy = "project" | "model" | "provider" | "day";

/** Every {@linkcode GroupBy}, in the order help lists them. */
export const GROUP_BY: readonly GroupBy[] = ["project", "model", "provider", "day"];

/** A half-open time window `[from, to)`, both ISO-8601 UTC with milliseconds (the `requested_at` format). */
export interface TimeWindow {
  from: string;
  to: string;
}

/** The parameters of one report query. */
export interface ReportQuery {
  window: TimeWindow;
  by: GroupBy;
  /** Only this project's calls (its slug). */
  project?: string;
}

/**
 * Every total a report, the read API and the page show, once: its name, its sum over calls (`requests`) and
 * over the daily rollup (`daily_usage`). The SQL, the JSON fields and the CSV columns all come from here.
 */
export const TOTALS = [
  { name: "requests", calls: "count(*)", days: "sum(requests)" },
  { name: "input_tokens", calls: "sum(input_tokens)", days: "sum(input_tokens)" },
  { name: "output_tokens", calls: "sum(output_tokens)", days: "sum(output_tokens)" },
  { name: "cache_read_tokens", calls: "sum(cache_read_tokens)", days: "sum(cache_read_tokens)" },
  { name: "cache_write_tokens", calls: "sum(cache_write_tokens)", days: "sum(cache_write_tokens)" },
  { name: "thinking_tokens", calls: "sum(thinking_tokens)", days: "sum(thinking_tokens)" },
  // Sum of the known costs, integer millicents; calls with an unknown cost add nothing.
  { name: "cost_millicents", calls: "sum(cost_usd_minor_units)", days: "sum(cost_usd_minor_units)" },
  // Calls whose cost is unknown (NULL: the model had no rate), and their tokens (input, output, cache).
  {
    name: "unknown_cost_requests",
    calls: "count(*) - count(cost_usd_minor_units)",
    days: "sum(unknown_cost_requests)",
  },
  {
    name: "unknown_cost_tokens",
    calls:
      "sum(CASE WHEN cost_usd_minor_units IS NULL THEN input_tokens + output_tokens + cache_read_tokens + " +
      "cache_write_tokens ELSE 0 END)",
    days: "sum(unknown_cost_tokens)",
  },
  // Calls billed to a subscription (ChatGPT login, Code Assist, Claude OAuth) and their API-equivalent cost,
  // part of cost_millicents but not of what was billed.
  {
    name: "subscription_requests",
    calls: "sum(billing = 'subscription')",
    days: "sum(subscription_requests)",
  },
  {
    name: "subscription_cost_millicents",
    calls: "sum(CASE WHEN billing = 'subscription' THEN cost_usd_minor_units ELSE 0 END)",
    days: "sum(subscription_cost_usd_minor_units)",
  },
  // Calls whose token counts are a lower bound (`tokens_complete = 0`), and calls that ended in an error.
  { name: "incomplete_requests", calls: "sum(tokens_complete = 0)", days: "sum(incomplete_requests)" },
  { name: "error_requests", calls: "sum(status = 'error')", days: "sum(error_requests)" },
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

/** The sums over `daily_usage`, whose rows are already sums of calls. */
const ROLLUP_SUMS = TOTALS.map((t) => `${t.days} AS ${t.name}`).join(", ");

/** Adds up the sums of the parts of a split window (see {@linkcode splitWindow}). */
const MERGED_SUMS = GROUP_COLUMNS.map((c) => `sum(${c}) AS ${c}`).join(", ");

/**
 * Totals as JSON fields, for `report --json`, the read API and the page: the sums, `cost_usd` beside
 * `cost_millicents`, the billed spend apart from the subscription's API equivalent, and whether the cost is
 * only a lower bound (some calls have no known cost).
 */
export function totalsJson(t: UsageTotals): UsageTotals & TotalsExtras {
  return {
    ...t,
    cost_usd: usdString(t.cost_millicents),
    billed_cost_millicents: t.cost_millicents - t.subscription_cost_millicents,
    cost_is_lower_bound: t.unknown_cost_requests > 0,
  };
}

/** What {@linkcode totalsJson} adds to the sums. */
export interface TotalsExtras {
  /** `cost_millicents` as an exact decimal string of USD. */
  cost_usd: string;
  /** Known cost of the calls not billed to a subscription: the spend. */
  billed_cost_millicents: number;
  /** True when some calls have no known cost, so every cost figure is a lower bound. */
  cost_is_lower_bound: boolean;
}

/** The columns of a CSV of totals, in order: the sums and their derived fields. */
export const TOTALS_CSV_FIELDS: readonly (keyof ReturnType<typeof totalsJson>)[] = [
  ...GROUP_COLUMNS.slice(0, GROUP_COLUMNS.indexOf("cost_millicents") + 1),
  "cost_usd",
  "billed_cost_millicents",
  ...GROUP_COLUMNS.slice(GROUP_COLUMNS.indexOf("cost_millicents") + 1),
  "cost_is_lower_bound",
];

/** The group key of each grouping, over `requests` and over `daily_usage`. */
const KEY: Record<GroupBy, { calls: string; days: string }> = {
  project: { calls: "project_id", days: "project_id" },
  model: { calls: "model", days: "model" },
  provider: { calls: "provider", days: "provider" },
  day: { calls: "substr(requested_at, 1, 10)", days: "day" },
};

/**
 * A window cut at UTC midnights: `days` is the run of whole UTC days inside it (`[from, to)` as
 * `YYYY-MM-DD`), summed from the `daily_usage` rollup; `calls` are the partial days at either end (or the
 * whole window when it holds no whole day), summed call by call. Together they cover the window exactly
 * once, because a call's day is the first ten characters of its `requested_at`.
 */
export interface WindowSplit {
  days?: { from: string; to: string };
  calls: TimeWindow[];
}

const DAY_MS = 86_400_000;

/** `day` moved by `n` days, or undefined when `day` is not a real `YYYY-MM-DD` date in years 0000-9999. */
function shiftDay(day: string, n: number): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const ms = Date.parse(`${day}T00:00:00.000Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) return undefined;
  const out = new Date(ms + n * DAY_MS).toISOString().slice(0, 10);
  return /^\d{4}-\d{2}-\d{2}$/.test(out) ? out : undefined;
}

const midnight = (day: string) => `${day}T00:00:00.000Z`;

/** Splits `w` into whole UTC days and the partial days at its ends (see {@linkcode WindowSplit}). */
export function splitWindow(w: TimeWindow): WindowSplit {
  let first = shiftDay(w.from.slice(0, 10), 0);
  if (first !== undefined && midnight(first) < w.from) first = shiftDay(first, 1);
  let end = shiftDay(w.to.slice(0, 10), 0);
  if (end !== undefined && midnight(end) > w.to) end = shiftDay(end, -1);
  if (first === undefined || end === undefined || first >= end) return { calls: [w] };
  const calls: TimeWindow[] = [];
  if (w.from < midnight(first)) calls.push({ from: w.from, to: midnight(first) });
  if (midnight(end) < w.to) calls.push({ from: midnight(end), to: w.to });
  return { days: { from: first, to: end }, calls };
}

/** One query per part of the split window, to be joined with UNION ALL; each reads only its own table. */
interface Parts {
  sql: string[];
  params: SQLInputValue[];
}

/**
 * The parts of a windowed query: `calls(where)` over `requests` for each partial window and `days(where)`
 * over `daily_usage` for the whole days, each given its WHERE clause (time range, then the project).
 */
function parts(
  q: Pick<ReportQuery, "window" | "project">,
  calls: (where: string) => string,
  days: (where: string) => string,
): Parts {
  const project = q.project === undefined ? "" : " AND project_id = (SELECT id FROM projects WHERE slug = ?)";
  const tail: SQLInputValue[] = q.project === undefined ? [] : [q.project];
  const split = splitWindow(q.window);
  const out: Parts = { sql: [], params: [] };
  for (const w of split.calls) {
    out.sql.push(calls(`requested_at >= ? AND requested_at < ?${project}`));
    out.params.push(w.from, w.to, ...tail);
  }
  if (split.days) {
    out.sql.push(days(`day >= ? AND day < ?${project}`));
    out.params.push(split.days.from, split.days.to, ...tail);
  }
  return out;
}

/**
 * The groups of a report, most expensive first (ties: most calls, then key); days in date order. Whole
 * days come from the daily rollup and only the partial days at the window's ends from the calls, so a long
 * window costs about as much as a short one; the sums are exactly those of the calls.
 */
export function reportGroups(db: DatabaseSync, q: ReportQuery): ReportGroup[] {
  const key = KEY[q.by];
  const p = parts(
    q,
    (where) => `SELECT ${key.calls} AS key, ${SUMS} FROM requests WHERE ${where} GROUP BY 1`,
    (where) => `SELECT ${key.days} AS key, ${ROLLUP_SUMS} FROM daily_usage WHERE ${where} GROUP BY 1`,
  );
  const order = q.by === "day" ? "key" : "cost_millicents DESC, requests DESC, key";
  const merged = `SELECT key, ${MERGED_SUMS} FROM (${p.sql.join(" UNION ALL ")}) GROUP BY key`;
  // Grouping by the indexed id and joining the few groups to their slugs afterwards keeps the join off the
  // per-row path.
  const sql = q.by === "project"
    ? `SELECT p.slug AS key, ${GROUP_COLUMNS.map((c) => `g.${c}`).join(", ")}
       FROM (${merged}) g JOIN projects p ON p.id = g.key ORDER BY ${order}`
    : `${merged} ORDER BY ${order}`;
  return db.prepare(sql).all(...p.params).map((r) => ({ ...r }) as unknown as ReportGroup);
}

/** The providers and models of the calls in the window whose cost is unknown, most calls first. */
export function unknownCostModels(
  db: DatabaseSync,
  q: Pick<ReportQuery, "window" | "project">,
): UnknownCostModel[] {
  const p = parts(
    q,
    (where) =>
      `SELECT provider, model, count(*) AS requests FROM requests
       WHERE ${where} AND cost_usd_minor_units IS NULL GROUP BY provider, model`,
    (where) =>
      `SELECT provider, model, sum(unknown_cost_requests) AS requests FROM daily_usage
       WHERE ${where} AND unknown_cost_requests > 0 GROUP BY provider, model`,
  );
  return db.prepare(
    `SELECT provider, model, sum(requests) AS requests FROM (${p.sql.join(" UNION ALL ")})
     GROUP BY provider, model ORDER BY requests DESC, provider, model`,
  ).all(...p.params).map((r) => ({ ...r }) as unknown as UnknownCostModel);
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
