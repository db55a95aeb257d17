/**
 * `GET /v1/projects/{slug}/requests` and `requests.csv`: a project's calls, newest first, paged by a keyset
 * cursor (the last call's time and id) so a page costs the same however deep it is and calls written
 * meanwhile neither repeat nor vanish.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { type Cursor, encodeCursor } from "./params.ts";

/** One call, as the dashboard's `BackendRequest`. */
export interface RequestItem {
  id: string;
  provider: string;
  model: string | null;
  mode: string;
  input_tokens: number;
  output_tokens: number;
  thinking_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  /** Integer millicents; null when the model had no rate. */
  cost_usd_minor_units: number | null;
  latency_ms: number | null;
  /** False when the token counts are a lower bound (a stream cut short, usage not sent). */
  tokens_complete: boolean;
  requested_at: string;
  status: string;
}

/** The fields of a {@linkcode RequestItem}, in the order the CSV export writes them. */
export const REQUEST_FIELDS = [
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
] as const satisfies readonly (keyof RequestItem)[];

/** Which calls a page holds. */
export interface RequestQuery {
  /** A project's id (not its slug). */
  projectId: string;
  /** Only this provider's calls. */
  provider?: string;
  /** Continue after this call; absent for the first page. */
  after?: Cursor;
  limit: number;
}

/** A page of calls. */
export interface RequestPage {
  items: RequestItem[];
  /** Pass back as `cursor` for the next page; null on the last one. */
  next_cursor: string | null;
  /** Every call that matches, on all pages. */
  total: number;
}

function filter(q: Pick<RequestQuery, "projectId" | "provider">): { sql: string; params: SQLInputValue[] } {
  const params: SQLInputValue[] = [q.projectId];
  let sql = "project_id = ?";
  if (q.provider !== undefined) {
    sql += " AND provider = ?";
    params.push(q.provider);
  }
  return { sql, params };
}

/** Up to `limit` calls after the cursor, newest first, and whether more follow. */
export function requestRows(db: DatabaseSync, q: RequestQuery): { items: RequestItem[]; more: boolean } {
  const f = filter(q);
  if (q.after) {
    // Spelled out rather than as a row value so SQLite bounds the (project_id, requested_at) index scan.
    f.sql += " AND requested_at <= ? AND (requested_at < ? OR id < ?)";
    f.params.push(q.after.requested_at, q.after.requested_at, q.after.id);
  }
  const rows = db.prepare(
    `SELECT ${REQUEST_FIELDS.join(", ")} FROM requests WHERE ${f.sql}
     ORDER BY requested_at DESC, id DESC LIMIT ?`,
  ).all(...f.params, q.limit + 1) as Record<string, unknown>[];
  const more = rows.length > q.limit;
  const items = rows.slice(0, q.limit).map((r) => ({ ...r, tokens_complete: r.tokens_complete === 1 }));
  return { items: items as unknown as RequestItem[], more };
}

/** One page of calls with the cursor to the next and the total count. */
export function requestPage(db: DatabaseSync, q: RequestQuery): RequestPage {
  const { items, more } = requestRows(db, q);
  const last = items.at(-1);
  const f = filter(q);
  const { n } = db.prepare(`SELECT count(*) AS n FROM requests WHERE ${f.sql}`).get(...f.params) as {
    n: number;
  };
  return { items, next_cursor: more && last ? encodeCursor(last) : null, total: n };
}
