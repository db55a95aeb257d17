/**
 * The API port (README.md, "Read API and dashboard"), loopback only: `GET /health` for the edge and `status`;
 * other routes (the read API, the dashboard page) plug in as a handler that answers what it knows.
 *
 * @module
 */
import { VERSION } from "../../core/version.ts";

/** Answers a request, or returns undefined to let the next route (finally a 404) answer. */
export type ApiRoute = (req: Request) => Response | undefined | Promise<Response | undefined>;

/** What {@linkcode startApiServer} needs. */
export interface ApiOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Extra routes, tried in order after `/health`. */
  routes?: ApiRoute[];
  /** Told about a route that threw (answered 500). */
  onError?: (error: unknown) => void;
  /** More fields for the `/health` body (the row writer's state); `status` stays "ok" while the ports serve. */
  health?: () => Record<string, unknown>;
}

/** A running API server. */
export interface ApiServer {
  port: number;
  close(): Promise<void>;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** The handler behind the API port, exported for in-process tests. */
export function apiHandler(
  routes: ApiRoute[] = [],
  onError: (e: unknown) => void = () => {},
  health: () => Record<string, unknown> = () => ({}),
) {
  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname === "/health") {
      return req.method === "GET" || req.method === "HEAD"
        ? json({ ...health(), status: "ok", version: VERSION })
        : json({ error: "method not allowed" }, 405);
    }
    for (const route of routes) {
      try {
        const res = await route(req);
        if (res) return res;
      } catch (e) {
        onError(e);
        return json({ error: "internal error" }, 500);
      }
    }
    return json({ error: "not found" }, 404);
  };
}

/** Starts the API server on 127.0.0.1. */
export function startApiServer(options: ApiOptions): Promise<ApiServer> {
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: options.port,
        onListen: (addr) => resolve({ port: addr.port, close: () => server.shutdown() }),
      }, apiHandler(options.routes, options.onError, options.health));
    } catch (e) {
      reject(e);
    }
  });
}
