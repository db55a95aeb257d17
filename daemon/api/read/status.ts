/**
 * `GET /v1/daemon/status`: when the meter last saw a call and how many it saw in the last hour, which the
 * dashboard turns into "live" or "idle".
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { VERSION } from "../../../core/version.ts";

/** The daemon's status, as the dashboard's `BackendDaemonStatus` plus version and uptime. */
export interface DaemonStatusView {
  /** The time of the newest call; null when there is none. */
  last_seen_at: string | null;
  request_count_last_hour: number;
  version: string;
  started_at: string;
  uptime_s: number;
}

/** The status as of `now`, for a daemon that started at `startedAt`. */
export function daemonStatus(db: DatabaseSync, now: Date, startedAt: Date): DaemonStatusView {
  const { last } = db.prepare("SELECT max(requested_at) AS last FROM requests").get() as {
    last: string | null;
  };
  const { n } = db.prepare("SELECT count(*) AS n FROM requests WHERE requested_at >= ?").get(
    new Date(now.getTime() - 3_600_000).toISOString(),
  ) as { n: number };
  return {
    last_seen_at: last,
    request_count_last_hour: n,
    version: VERSION,
    started_at: startedAt.toISOString(),
    uptime_s: Math.max(0, Math.floor((now.getTime() - startedAt.getTime()) / 1000)),
  };
}
