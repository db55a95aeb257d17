/**
 * The read API (README.md, "Read API and dashboard") as one {@linkcode ApiRoute}: `/v1/projects`,
 * `/v1/projects/{slug}` and its `stats`, `requests` and `requests.csv`, `/v1/stats`, `/v1/report`,
 * `/v1/daemon/status`, and the built-in page at `/`.
 *
 * Read only and loopback only: every answer is to GET; a request whose URL names a host other than a loopback
 * one is refused, so a web page that rebinds its own name to 127.0.0.1 cannot read the data; and only the
 * origins in `[cors] allow_origins` get `Access-Control-Allow-Origin`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { ApiRoute } from "../server.ts";
import { DASHBOARD_HTML } from "../dashboard.ts";
import { ParamError, parseCursor, parseLimit, parseSince, utcDay } from "./params.ts";
import { findProject, listProjects, projectView } from "./projects.ts";
import { statsView } from "./stats.ts";
import { requestPage } from "./requests.ts";
import { requestsCsv } from "./csv.ts";
import { daemonStatus } from "./status.ts";
import { reportView } from "./report.ts";

/** What {@linkcode readApiRoute} reads from. */
export interface ReadApiOptions {
  /** A read-only connection of its own, so queries never wait on or for the writer. */
  db: DatabaseSync;
  /** `[cors] allow_origins`: browser origins allowed to read the API from another page. */
  allowOrigins: readonly string[];
  /** The clock (tests pin it); defaults to the real one. */
  now?: () => Date;
  /** When the daemon started, for `uptime_s`; defaults to when the route was made. */
  startedAt?: Date;
  /** The zone `/v1/report` counts days in when the caller names none; empty or absent: the machine's. */
  timeZone?: string;
}

const PROJECT_TAILS = ["/requests.csv", "/requests", "/stats"] as const;
type ProjectTail = typeof PROJECT_TAILS[number] | "";

function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || h === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function problem(status: number, error: string, message: string): Response {
  return json({ error, message }, status);
}

/** The read API route. */
export function readApiRoute(options: ReadApiOptions): ApiRoute {
  const { db } = options;
  const now = options.now ?? (() => new Date());
  const startedAt = options.startedAt ?? new Date();
  const origins = new Set(options.allowOrigins);

  /** Splits `/v1/projects/<slug>[/tail]`; a slug may itself hold `/`, so a tail counts only after a real slug. */
  function resolveProject(rest: string): { slug: string; tail: ProjectTail } {
    for (const tail of PROJECT_TAILS) {
      if (rest.endsWith(tail)) {
        const slug = rest.slice(0, -tail.length);
        if (findProject(db, slug)) return { slug, tail };
      }
    }
    return { slug: rest, tail: "" };
  }

  function answer(url: URL): Response | undefined {
    const p = url.searchParams;
    const path = url.pathname;
    if (path === "/") {
      return new Response(DASHBOARD_HTML, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          // The page is self-contained: the browser enforces that it loads nothing and talks only to us.
          "content-security-policy":
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
        },
      });
    }
    if (path === "/v1/projects") return json(listProjects(db, now()));
    if (path === "/v1/stats") {
      const today = utcDay(now());
      return json(statsView(db, { since: parseSince(p.get("since"), today), today }));
    }
    if (path === "/v1/daemon/status") return json(daemonStatus(db, now(), startedAt));
    if (path === "/v1/report") return reportView(db, p, now(), options.timeZone ?? "");
    if (!path.startsWith("/v1/projects/")) return undefined;

    let rest: string;
    try {
      rest = decodeURIComponent(path.slice("/v1/projects/".length));
    } catch {
      throw new ParamError("the project slug in the path is not valid percent-encoding");
    }
    const { slug, tail } = resolveProject(rest);
    const project = findProject(db, slug);
    if (!project) return problem(404, "not found", `there is no project '${slug}'`);
    const provider = p.get("provider") || undefined;
    switch (tail) {
      case "":
        return json(projectView(db, project, now()));
      case "/stats": {
        const today = utcDay(now());
        return json(
          statsView(db, { since: parseSince(p.get("since"), today), today, projectId: project.id }),
        );
      }
      case "/requests":
        return json(requestPage(db, {
          projectId: project.id,
          provider,
          limit: parseLimit(p.get("limit")),
          after: parseCursor(p.get("cursor")),
        }));
      case "/requests.csv":
        return new Response(requestsCsv(db, { projectId: project.id, provider }), {
          headers: {
            "content-type": "text/csv; charset=utf-8",
            "cache-control": "no-store",
            "content-disposition": `attachment; filename="${
              slug.replace(/[^a-z0-9_-]+/g, "_")
            }-requests.csv"`,
          },
        });
    }
  }

  function isOurs(path: string): boolean {
    return path === "/" || path === "/v1/projects" || path === "/v1/stats" || path === "/v1/daemon/status" ||
      path === "/v1/report" ||
      (path.startsWith("/v1/projects/") && path.length > "/v1/projects/".length);
  }

  return (req) => {
    const url = new URL(req.url);
    if (!isOurs(url.pathname)) return undefined;
    let res: Response | undefined;
    if (!isLoopback(url.hostname)) {
      res = problem(403, "forbidden", `the API answers only on a loopback address, not '${url.hostname}'`);
    } else if (req.method !== "GET") {
      res = problem(405, "method not allowed", "the read API answers GET only");
      res.headers.set("allow", "GET");
    } else {
      try {
        res = answer(url);
      } catch (e) {
        if (!(e instanceof ParamError)) throw e;
        res = problem(400, "bad request", e.message);
      }
    }
    if (!res) return undefined;
    // Vary on every answer, allowed or not, so no cache hands one origin's answer to another.
    res.headers.append("vary", "Origin");
    const origin = req.headers.get("origin");
    if (origin !== null && origins.has(origin)) res.headers.set("access-control-allow-origin", origin);
    return res;
  };
}
