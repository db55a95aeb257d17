/**
 * `GET /v1/report`: the same report as `halton-meter report --json`, from the same window parser, queries and
 * JSON shape, so the page, scripts and the command agree to the millicent. Parameters: `since` (24h, 7d, 2w,
 * 1m or YYYY-MM-DD; default 7d) or `from` [`to`], `by` (project, model, provider, day, week, month; default
 * project), `project`, `tz` (default the daemon's zone) and `vs_previous=1`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { MeterError } from "../../../core/errors.ts";
import { GROUP_BY, type GroupBy } from "../../../reports/queries.ts";
import { buildReport, UnknownProjectError } from "../../../reports/report.ts";
import { reportDocument } from "../../../reports/json.ts";
import { checkZone, parseFromTo, parseSince } from "../../../reports/window.ts";
import { machineZone } from "../../../reports/zone.ts";
import { ParamError } from "./params.ts";

/**
 * The report for the query parameters `p`, as a JSON response: `404` for an unknown project.
 *
 * @throws {ParamError} for a malformed parameter (the route answers `400` with the message).
 */
export function reportView(db: DatabaseSync, p: URLSearchParams, now: Date, defaultZone: string): Response {
  let data;
  try {
    const tz = p.get("tz");
    const zone = tz ? checkZone(tz, "tz") : defaultZone ? checkZone(defaultZone, "tz") : machineZone();
    const since = p.get("since");
    const from = p.get("from");
    const to = p.get("to") || undefined;
    if (since && from) throw new ParamError("use either since or from/to, not both");
    if (to && !from) throw new ParamError("to needs from (from=YYYY-MM-DD&to=YYYY-MM-DD)");
    const window = from
      ? parseFromTo(from, to, now, zone, "report")
      : parseSince(since || "7d", now, zone, "report");
    const by = p.get("by") || "project";
    if (!(GROUP_BY as readonly string[]).includes(by)) {
      throw new ParamError(`by must be one of ${GROUP_BY.join(", ")}, not '${by}'`);
    }
    const vs = p.get("vs_previous");
    if (vs !== null && !["", "0", "1", "false", "true"].includes(vs)) {
      throw new ParamError(`vs_previous must be true or false (or 1 or 0), not '${vs}'`);
    }
    data = buildReport(db, {
      window,
      by: by as GroupBy,
      project: p.get("project") || undefined,
      vsPrevious: vs === "1" || vs === "true",
    });
  } catch (e) {
    if (e instanceof UnknownProjectError) {
      return Response.json({ error: "not found", message: e.message }, {
        status: 404,
        headers: { "cache-control": "no-store" },
      });
    }
    // The window parser speaks in flags (`--since`); the API's callers know them as parameters.
    if (e instanceof MeterError) {
      throw new ParamError(e.message.replace(/^(report|tz): /, "").replace(/--(since|from|to)\b/g, "$1"));
    }
    throw e;
  }
  return Response.json(reportDocument(data), { headers: { "cache-control": "no-store" } });
}
