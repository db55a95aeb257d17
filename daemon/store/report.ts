/**
 * The queries behind `halton-meter report`: usage and cost in a time window, grouped by project, model,
 * provider or UTC day. Each is a pure function of a (read-only) connection and its parameters; formatting
 * is the command's job.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";

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

/** The sums of one group (or of everything). */
export interface UsageTotals {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  thinking_tokens: number;
  /** Sum of the known costs, integer millicents; calls with an unknown cost add nothing. */
  cost_millicents: number;
  /** Calls whose cost is unknown (NULL: the model had no rate). */
  unknown_cost_requests: number;
  /** Calls whose token counts are a lower bound (`tokens_complete = 0`). */
  incomplete_requests: number;
  error_requests: number;
}

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

const SUMS = `
  count(*) AS requests,
  coalesce(sum(input_tokens), 0) AS input_tokens,
  coalesce(sum(output_tokens), 0) AS output_tokens,
  coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
  coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
  coalesce(sum(thinking_tokens), 0) AS thinking_tokens,
  coalesce(sum(cost_usd_minor_units), 0) AS cost_millicents,
  count(*) - count(cost_usd_minor_units) AS unknown_cost_requests,
  coalesce(sum(tokens_complete = 0), 0) AS incomplete_requests,
  coalesce(sum(status = 'error'), 0) AS error_requests`;

const KEY: Record<Exclude<GroupBy, "project">, string> = {
  model: "model",
  provider: "provider",
  day: "substr(requested_at, 1, 10)",
};

function where(q: Pick<ReportQuery, "window" | "project">): { sql: string; params: SQLInputValue[] } {
  const params: SQLInputValue[] = [q.window.from, q.window.to];
  let sql = "requested_at >= ? AND requested_at < ?";
  if (q.project !== undefined) {
    sql += " AND project_id = (SELECT id FROM projects WHERE slug = ?)";
    params.push(q.project);
  }
  return { sql, params };
}

/**
 * The groups of a report, most expensive first (ties: most calls, then key); days in date order.
 */
export function reportGroups(db: DatabaseSync, q: ReportQuery): ReportGroup[] {
  const w = where(q);
  const order = q.by === "day" ? "key" : "cost_millicents DESC, requests DESC, key";
  // Grouping by the indexed id and joining the few groups to their slugs afterwards keeps the join off the
  // per-row path.
  const sql = q.by === "project"
    ? `SELECT p.slug AS key, g.* FROM (SELECT project_id, ${SUMS} FROM requests WHERE ${w.sql}
         GROUP BY project_id) g JOIN projects p ON p.id = g.project_id ORDER BY ${order}`
    : `SELECT ${KEY[q.by]} AS key, ${SUMS} FROM requests WHERE ${w.sql} GROUP BY 1 ORDER BY ${order}`;
  return db.prepare(sql).all(...w.params).map((r) => {
    const { project_id: _, ...rest } = r as Record<string, unknown>;
    return rest as unknown as ReportGroup;
  });
}

/** The providers and models of the calls in the window whose cost is unknown, most calls first. */
export function unknownCostModels(
  db: DatabaseSync,
  q: Pick<ReportQuery, "window" | "project">,
): UnknownCostModel[] {
  const w = where(q);
  return db.prepare(
    `SELECT provider, model, count(*) AS requests FROM requests
     WHERE ${w.sql} AND cost_usd_minor_units IS NULL
     GROUP BY provider, model ORDER BY requests DESC, provider, model`,
  ).all(...w.params) as unknown as UnknownCostModel[];
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
  return {
    requests: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    thinking_tokens: 0,
    cost_millicents: 0,
    unknown_cost_requests: 0,
    incomplete_requests: 0,
    error_requests: 0,
  };
}
