/**
 * `GET /v1/projects` and `/v1/projects/{slug}`: each project with its spend this UTC calendar month, last month
 * and all time, and the models it uses most and spends most on.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";

/** A project's figures, as the dashboard's `BackendProject.stats`; money in integer millicents. */
export interface ProjectStats {
  requests_this_month: number;
  cost_usd_this_month_minor_units: number;
  previous_month_cost_usd_minor_units: number;
  all_time_cost_usd_minor_units: number;
  all_time_requests: number;
  /** Of this month's cost, what subscriptions would have cost at API rates (not billed), and the billed rest. */
  subscription_cost_this_month_minor_units: number;
  billed_cost_this_month_minor_units: number;
  /** This month's calls without a known cost and their tokens; when there are any the costs are lower bounds. */
  unknown_cost_requests_this_month: number;
  unknown_cost_tokens_this_month: number;
  cost_is_lower_bound: boolean;
  /** Null when the project has no calls; so are the four model and provider fields. */
  last_active_at: string | null;
  /** The model with the most calls, all time. */
  primary_model: string | null;
  primary_provider: string | null;
  /** The model with the highest cost, all time. */
  top_model: string | null;
  top_provider: string | null;
}

/** A project, as the dashboard's `BackendProject`. */
export interface ProjectView {
  id: string;
  name: string;
  slug: string;
  created_at: string;
  archived_at: string | null;
  stats: ProjectStats;
}

interface ModelGroup {
  project_id: string;
  provider: string;
  model: string | null;
  requests: number;
  millicents: number;
  month_requests: number;
  month_millicents: number;
  previous_month_millicents: number;
  month_subscription_millicents: number;
  month_unknown_requests: number;
  month_unknown_tokens: number;
  unknown_requests: number;
}

/** The first instant of the UTC calendar month `offset` months after the one holding `now`. */
function monthStart(now: Date, offset: number): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)).toISOString();
}

/**
 * The project's calls (or everyone's) grouped by project, provider and model; every figure is a sum or a
 * pick over these few groups. Months start at UTC midnights, so the daily rollup (`daily_usage`) holds every
 * sum and the calls themselves are not read.
 */
function modelGroups(db: DatabaseSync, now: Date, projectId?: string): ModelGroup[] {
  const day = (offset: number) => monthStart(now, offset).slice(0, 10);
  const params: SQLInputValue[] = [
    ...[day(0), day(1), day(0), day(1), day(-1), day(0)],
    ...[day(0), day(1), day(0), day(1), day(0), day(1)],
  ];
  if (projectId !== undefined) params.push(projectId);
  return db.prepare(
    `SELECT project_id, provider, model, sum(requests) AS requests, sum(cost_usd_minor_units) AS millicents,
       coalesce(sum(CASE WHEN day >= ? AND day < ? THEN requests END), 0) AS month_requests,
       coalesce(sum(CASE WHEN day >= ? AND day < ? THEN cost_usd_minor_units END), 0) AS month_millicents,
       coalesce(sum(CASE WHEN day >= ? AND day < ? THEN cost_usd_minor_units END), 0)
         AS previous_month_millicents,
       coalesce(sum(CASE WHEN day >= ? AND day < ? THEN subscription_cost_usd_minor_units END), 0)
         AS month_subscription_millicents,
       coalesce(sum(CASE WHEN day >= ? AND day < ? THEN unknown_cost_requests END), 0) AS month_unknown_requests,
       coalesce(sum(CASE WHEN day >= ? AND day < ? THEN unknown_cost_tokens END), 0) AS month_unknown_tokens,
       sum(unknown_cost_requests) AS unknown_requests
     FROM daily_usage ${projectId === undefined ? "" : "WHERE project_id = ?"}
     GROUP BY project_id, provider, model ORDER BY project_id, provider, model`,
  ).all(...params) as unknown as ModelGroup[];
}

/** The time of the project's latest call (one step down its time index), or null when it has none. */
function lastActive(db: DatabaseSync, projectId: string): string | null {
  const row = db.prepare("SELECT max(requested_at) AS last FROM requests WHERE project_id = ?").get(
    projectId,
  );
  return (row as { last: string | null }).last;
}

/** Orders groups best first by `key`; calls that named no model only win when no model was named at all. */
function best(groups: ModelGroup[], key: (g: ModelGroup) => [number, number]): ModelGroup | undefined {
  let top: ModelGroup | undefined;
  for (const g of groups) {
    if (!top) {
      top = g;
      continue;
    }
    if ((g.model === null) !== (top.model === null)) {
      if (top.model === null) top = g;
      continue;
    }
    const [a1, a2] = key(g);
    const [b1, b2] = key(top);
    const ties = `${g.provider}\0${g.model}` < `${top.provider}\0${top.model}`;
    if (a1 > b1 || (a1 === b1 && (a2 > b2 || (a2 === b2 && ties)))) top = g;
  }
  return top;
}

function statsOf(groups: ModelGroup[], last: string | null): ProjectStats {
  const primary = best(groups, (g) => [g.requests, g.millicents]);
  const top = best(groups, (g) => [g.millicents, g.requests]);
  const sum = (f: (g: ModelGroup) => number) => groups.reduce((n, g) => n + f(g), 0);
  return {
    requests_this_month: sum((g) => g.month_requests),
    cost_usd_this_month_minor_units: sum((g) => g.month_millicents),
    previous_month_cost_usd_minor_units: sum((g) => g.previous_month_millicents),
    all_time_cost_usd_minor_units: sum((g) => g.millicents),
    all_time_requests: sum((g) => g.requests),
    subscription_cost_this_month_minor_units: sum((g) => g.month_subscription_millicents),
    billed_cost_this_month_minor_units: sum((g) => g.month_millicents - g.month_subscription_millicents),
    unknown_cost_requests_this_month: sum((g) => g.month_unknown_requests),
    unknown_cost_tokens_this_month: sum((g) => g.month_unknown_tokens),
    cost_is_lower_bound: sum((g) => g.unknown_requests) > 0,
    last_active_at: last,
    primary_model: primary?.model ?? null,
    primary_provider: primary?.provider ?? null,
    top_model: top?.model ?? null,
    top_provider: top?.provider ?? null,
  };
}

type ProjectRow = Omit<ProjectView, "stats">;

const PROJECT_COLUMNS = "id, name, slug, created_at, archived_at";

/** Every project with its figures as of `now`, by name. */
export function listProjects(db: DatabaseSync, now: Date): ProjectView[] {
  const byProject = new Map<string, ModelGroup[]>();
  for (const g of modelGroups(db, now)) {
    const list = byProject.get(g.project_id);
    if (list) list.push(g);
    else byProject.set(g.project_id, [g]);
  }
  const rows = db.prepare(`SELECT ${PROJECT_COLUMNS} FROM projects ORDER BY name, slug`).all() as unknown[];
  return (rows as ProjectRow[]).map((p) => ({
    ...p,
    stats: statsOf(byProject.get(p.id) ?? [], lastActive(db, p.id)),
  }));
}

/** The project with `slug`, without its figures, or undefined when there is none. */
export function findProject(db: DatabaseSync, slug: string): ProjectRow | undefined {
  const row = db.prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE slug = ?`).get(slug);
  return row === undefined ? undefined : { ...(row as ProjectRow) };
}

/** One project with its figures as of `now`. */
export function projectView(db: DatabaseSync, project: ProjectRow, now: Date): ProjectView {
  return { ...project, stats: statsOf(modelGroups(db, now, project.id), lastActive(db, project.id)) };
}
