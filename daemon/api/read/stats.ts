/**
 * `GET /v1/stats` and `/v1/projects/{slug}/stats`: usage and spend from a UTC day to today, in total and by
 * day, provider, model and project, in the dashboard's `BackendStats` shape (money in integer millicents).
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { addDays } from "./params.ts";

/** The totals of a window. */
export interface StatsSummary {
  total_requests: number;
  total_input_tokens: number;
  total_output_tokens: number;
  total_thinking_tokens: number;
  total_cache_read_tokens: number;
  total_cache_write_tokens: number;
  total_cost_usd_minor_units: number;
  /** The part of the cost billed to API accounts: the spend. */
  total_billed_cost_usd_minor_units: number;
  /** Calls billed to a subscription, and their API-equivalent cost (inside `total_cost_usd_minor_units`). */
  total_subscription_requests: number;
  total_subscription_cost_usd_minor_units: number;
  /** Calls without a known cost, and their tokens: the costs leave them out. */
  total_unknown_cost_requests: number;
  total_unknown_cost_tokens: number;
  /** True when some calls have no known cost, so every cost above is a lower bound. */
  cost_is_lower_bound: boolean;
  /** cache reads / (input + cache reads); 0 when both are 0. */
  cache_hit_rate: number;
  /** Projects with at least one call in the window. */
  active_projects: number;
  /** Distinct models named by calls in the window. */
  models_in_use: number;
  last_request_at: string | null;
}

/** Calls and spend of one group. */
export interface Spend {
  requests: number;
  /** Known cost, subscription traffic's API equivalent included. */
  cost_usd_minor_units: number;
  /** The known cost of calls billed to API accounts. */
  billed_cost_usd_minor_units: number;
  /** The API-equivalent cost of calls billed to a subscription. */
  subscription_cost_usd_minor_units: number;
  subscription_requests: number;
  /** Calls without a known cost and their tokens: the cost is a lower bound when there are any. */
  unknown_cost_requests: number;
  unknown_cost_tokens: number;
}

/** A group with nothing in it yet. */
const NO_SPEND: Spend = {
  requests: 0,
  cost_usd_minor_units: 0,
  billed_cost_usd_minor_units: 0,
  subscription_cost_usd_minor_units: 0,
  subscription_requests: 0,
  unknown_cost_requests: 0,
  unknown_cost_tokens: 0,
};

/** One model's row of `by_model`. */
export interface ModelSpend extends Spend {
  provider: string;
  model: string | null;
  input_tokens: number;
  output_tokens: number;
}

/** The whole answer. */
export interface StatsView {
  summary: StatsSummary;
  /** Every day of the window, oldest first, days without calls included as zeros. */
  by_day: (Spend & { date: string })[];
  /** Only the days and providers that had calls, by date then provider. */
  by_day_by_provider: (Spend & { date: string; provider: string })[];
  /** Most expensive first. */
  by_provider: (Spend & { provider: string })[];
  /** Most expensive first. */
  by_model: ModelSpend[];
  /** Most expensive first; beyond the dashboard's shape, for the built-in page. */
  by_project: (Spend & { project: string })[];
}

/** The window of a stats query: whole UTC days from `since` through `today`, optionally one project. */
export interface StatsQuery {
  since: string;
  today: string;
  /** A project's id (not its slug). */
  projectId?: string;
}

interface Group {
  date: string;
  project_id: string;
  provider: string;
  model: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  thinking_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  millicents: number;
  subscription_millicents: number;
  subscription_requests: number;
  unknown_cost_requests: number;
  unknown_cost_tokens: number;
}

/** Adds `g` to the entry of `key` in `map`, creating it with `init` first. */
function add<T extends Spend>(map: Map<string, T>, key: string, init: () => T, g: Group): T {
  let entry = map.get(key);
  if (!entry) map.set(key, entry = init());
  addSpend(entry, g);
  return entry;
}

/** Adds the calls and costs of `g` to `entry`. */
function addSpend(entry: Spend, g: Group): void {
  entry.requests += g.requests;
  entry.cost_usd_minor_units += g.millicents;
  entry.billed_cost_usd_minor_units += g.millicents - g.subscription_millicents;
  entry.subscription_cost_usd_minor_units += g.subscription_millicents;
  entry.subscription_requests += g.subscription_requests;
  entry.unknown_cost_requests += g.unknown_cost_requests;
  entry.unknown_cost_tokens += g.unknown_cost_tokens;
}

const byCost = (a: Spend, b: Spend) =>
  b.cost_usd_minor_units - a.cost_usd_minor_units || b.requests - a.requests;

/**
 * The stats of a window. The window is whole UTC days, so it is read from the daily rollup (`daily_usage`:
 * one row per day, project, provider and model), never call by call; every breakdown is a sum of those rows.
 */
export function statsView(db: DatabaseSync, q: StatsQuery): StatsView {
  const end = addDays(q.today, 1);
  const params: SQLInputValue[] = [q.since, end];
  if (q.projectId !== undefined) params.push(q.projectId);
  const project = q.projectId === undefined ? "" : "AND project_id = ?";
  const groups = db.prepare(
    `SELECT day AS date, project_id, provider, model, requests, input_tokens, output_tokens, thinking_tokens,
       cache_read_tokens, cache_write_tokens, cost_usd_minor_units AS millicents,
       subscription_cost_usd_minor_units AS subscription_millicents, subscription_requests, unknown_cost_requests,
       unknown_cost_tokens
     FROM daily_usage WHERE day >= ? AND day < ? ${project}
     ORDER BY day, project_id, provider, model`,
  ).all(...params) as unknown as Group[];
  // The latest call is one step down the time index (or the project's), not a pass over the window.
  const last = db.prepare(
    `SELECT max(requested_at) AS last FROM requests WHERE requested_at >= ? AND requested_at < ? ${project}`,
  ).get(`${q.since}T00:00:00.000Z`, `${end}T00:00:00.000Z`, ...params.slice(2)) as { last: string | null };
  const slugs = new Map(
    (db.prepare("SELECT id, slug FROM projects").all() as { id: string; slug: string }[]).map((p) => [
      p.id,
      p.slug,
    ]),
  );

  const days = new Map<string, Spend & { date: string }>();
  for (let d = q.since; d <= q.today; d = addDays(d, 1)) {
    days.set(d, { date: d, ...NO_SPEND });
  }
  const dayProviders = new Map<string, Spend & { date: string; provider: string }>();
  const providers = new Map<string, Spend & { provider: string }>();
  const models = new Map<string, ModelSpend>();
  const projects = new Map<string, Spend & { project: string }>();
  const s = {
    input: 0,
    output: 0,
    thinking: 0,
    cacheRead: 0,
    cacheWrite: 0,
    ...NO_SPEND,
  };
  for (const g of groups) {
    add(days, g.date, () => ({ date: g.date, ...NO_SPEND }), g);
    add(dayProviders, `${g.date}\0${g.provider}`, () => ({
      date: g.date,
      provider: g.provider,
      ...NO_SPEND,
    }), g);
    add(providers, g.provider, () => ({ provider: g.provider, ...NO_SPEND }), g);
    const m = add(models, `${g.provider}\0${g.model}`, () => ({
      provider: g.provider,
      model: g.model,
      ...NO_SPEND,
      input_tokens: 0,
      output_tokens: 0,
    }), g);
    m.input_tokens += g.input_tokens;
    m.output_tokens += g.output_tokens;
    const slug = slugs.get(g.project_id) ?? g.project_id;
    add(projects, slug, () => ({ project: slug, ...NO_SPEND }), g);
    s.input += g.input_tokens;
    s.output += g.output_tokens;
    s.thinking += g.thinking_tokens;
    s.cacheRead += g.cache_read_tokens;
    s.cacheWrite += g.cache_write_tokens;
    addSpend(s, g);
  }
  const named = new Set(groups.filter((g) => g.model !== null).map((g) => g.model));
  return {
    summary: {
      total_requests: s.requests,
      total_input_tokens: s.input,
      total_output_tokens: s.output,
      total_thinking_tokens: s.thinking,
      total_cache_read_tokens: s.cacheRead,
      total_cache_write_tokens: s.cacheWrite,
      total_cost_usd_minor_units: s.cost_usd_minor_units,
      total_billed_cost_usd_minor_units: s.billed_cost_usd_minor_units,
      total_subscription_requests: s.subscription_requests,
      total_subscription_cost_usd_minor_units: s.subscription_cost_usd_minor_units,
      total_unknown_cost_requests: s.unknown_cost_requests,
      total_unknown_cost_tokens: s.unknown_cost_tokens,
      cost_is_lower_bound: s.unknown_cost_requests > 0,
      cache_hit_rate: s.input + s.cacheRead === 0 ? 0 : s.cacheRead / (s.input + s.cacheRead),
      active_projects: projects.size,
      models_in_use: named.size,
      last_request_at: last.last,
    },
    by_day: [...days.values()],
    by_day_by_provider: [...dayProviders.values()].sort((a, b) =>
      a.date.localeCompare(b.date) || a.provider.localeCompare(b.provider)
    ),
    by_provider: [...providers.values()].sort((a, b) => byCost(a, b) || a.provider.localeCompare(b.provider)),
    by_model: [...models.values()].sort((a, b) =>
      byCost(a, b) || a.provider.localeCompare(b.provider) || (a.model ?? "").localeCompare(b.model ?? "")
    ),
    by_project: [...projects.values()].sort((a, b) => byCost(a, b) || a.project.localeCompare(b.project)),
  };
}
