/**
 * The query parameters of the read API, checked: a malformed one is the caller's mistake and becomes a
 * `400` naming the parameter, never a query that silently means something else.
 *
 * @module
 */

/** A request parameter the caller got wrong; the route answers `400` with its message. */
export class ParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ParamError";
  }
}

const DAY_MS = 86_400_000;
/** Days of history `since` may reach back: enough for years of data, bounded so `by_day` stays small. */
export const MAX_SINCE_DAYS = 3660;
/** Rows per page when `limit` is absent. */
export const DEFAULT_LIMIT = 50;
/** The largest page; a bigger `limit` is lowered to it. */
export const MAX_LIMIT = 500;

/** `YYYY-MM-DD` of `date` in UTC. */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The UTC day `days` after `day` (negative: before). */
export function addDays(day: string, days: number): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00.000Z`) + days * DAY_MS));
}

/**
 * The first UTC day of a stats window: `since` (`YYYY-MM-DD`), or 29 days before `today` so that the window
 * holds 30 days when it is absent.
 *
 * @throws {ParamError} when `since` is not a real date, is after `today`, or reaches back too far.
 */
export function parseSince(since: string | null, today: string): string {
  if (since === null || since === "") return addDays(today, -29);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(since);
  // Date.parse rolls 2026-02-30 over to March; a round trip catches it.
  if (!m || addDays(since, 0) !== since) {
    throw new ParamError(`since must be a date as YYYY-MM-DD, not '${since}'`);
  }
  if (since > today) throw new ParamError(`since (${since}) is after today (${today}, UTC)`);
  if (since < addDays(today, -MAX_SINCE_DAYS)) {
    throw new ParamError(`since (${since}) reaches back more than ${MAX_SINCE_DAYS} days`);
  }
  return since;
}

/**
 * A page size: {@linkcode DEFAULT_LIMIT} when absent, at most {@linkcode MAX_LIMIT}.
 *
 * @throws {ParamError} when `limit` is not a positive whole number.
 */
export function parseLimit(limit: string | null): number {
  if (limit === null || limit === "") return DEFAULT_LIMIT;
  if (!/^\d+$/.test(limit) || Number(limit) < 1) {
    throw new ParamError(`limit must be a whole number of at least 1, not '${limit}'`);
  }
  return Math.min(Number(limit), MAX_LIMIT);
}

/** Where a page of requests continues: after the call with this time and id (newest first). */
export interface Cursor {
  requested_at: string;
  id: string;
}

/** The opaque string that carries a {@linkcode Cursor} to the client and back. */
export function encodeCursor(cursor: Cursor): string {
  const bytes = new TextEncoder().encode(JSON.stringify([cursor.requested_at, cursor.id]));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * The {@linkcode Cursor} in a `cursor` parameter, or undefined for the first page.
 *
 * @throws {ParamError} when the string was not made by {@linkcode encodeCursor}.
 */
export function parseCursor(cursor: string | null): Cursor | undefined {
  if (cursor === null || cursor === "") return undefined;
  try {
    const binary = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const value = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    if (
      Array.isArray(value) && value.length === 2 && typeof value[0] === "string" &&
      typeof value[1] === "string"
    ) {
      return { requested_at: value[0], id: value[1] };
    }
  } catch {
    // Falls through to the one message below: the client only needs to know the cursor is not ours.
  }
  throw new ParamError("cursor is not one this API returned; start again without it");
}
