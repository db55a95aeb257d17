/**
 * The drain request (docs/lifecycle.md): `POST /v1/admin/drain` with the home's drain token asks this daemon
 * to stop the way SIGTERM does (ports closed at once, requests and streams in flight finished). A successor
 * daemon and `halton-meter stop` use it on every OS; on Windows it is the only way to ask for a drain.
 *
 * @module
 */
import { DRAIN_PATH, drainAuthorized } from "../../core/lifecycle.ts";
import type { ApiRoute } from "./server.ts";

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/**
 * The route answering the drain request: 202 with this process's pid, then `onDrain()` once the answer is on
 * its way (the daemon's API port closes as part of the drain). A missing or wrong token is refused with 403.
 */
export function drainRoute(run: string, onDrain: () => void): ApiRoute {
  return (req) => {
    if (new URL(req.url).pathname !== DRAIN_PATH) return undefined;
    if (req.method !== "POST") return json({ error: "method not allowed" }, 405);
    if (!drainAuthorized(run, req.headers.get("authorization"))) return json({ error: "forbidden" }, 403);
    setTimeout(onDrain, 0);
    return json({ draining: true, pid: Deno.pid }, 202);
  };
}
