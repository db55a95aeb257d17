/**
 * Plain `http://` requests sent to the edge in absolute form (`GET http://host/path HTTP/1.1`): each goes to
 * its origin on a fresh connection in origin form (or, with `[upstream] proxy`, to the proxy in absolute form),
 * with hop-by-hop and `Proxy-*` headers removed and `Connection: close`, so the end of the origin's answer is
 * the end of the exchange. Bodies pass through untouched in both directions.
 *
 * @module
 */
import type { ConnScope } from "./_conn.ts";
import { withDeadline } from "./_conn.ts";
import { type DialError, dialHttp, type Upstream } from "./_dial.ts";
import {
  concat,
  errorResponse,
  type Header,
  headerValue,
  parseResponseHead,
  readHead,
  type RequestHead,
  serializeHead,
} from "./_head.ts";
import { closeQuietly, pump, writeAll } from "./_splice.ts";
import type { HttpTarget } from "./_target.ts";

/** How long the origin has to start its answer. */
export const RESPONSE_HEAD_TIMEOUT_MS = 60_000;

// Transfer-Encoding is hop-by-hop too, but the body is relayed as framed, so its framing header must stay.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);

/** Headers without hop-by-hop ones (RFC 9110 §7.6.1), those `Connection` names, and every `Proxy-*`. */
export function endToEndHeaders(headers: readonly Header[]): Header[] {
  const named = new Set(
    (headerValue(headers, "connection") ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean),
  );
  return headers.filter(([n]) => {
    const lower = n.toLowerCase();
    return !HOP_BY_HOP.has(lower) && !named.has(lower) && !lower.startsWith("proxy-");
  });
}

/** The head sent upstream for `request` to `target`. */
export function upstreamRequestHead(
  request: RequestHead,
  target: HttpTarget,
  viaProxy?: { authorization?: string },
): Uint8Array {
  const headers = endToEndHeaders(request.headers);
  if (headerValue(headers, "host") === undefined) headers.unshift(["Host", target.authority]);
  if (viaProxy?.authorization) headers.push(["Proxy-Authorization", viaProxy.authorization]);
  headers.push(["Connection", "close"]);
  const requestTarget = viaProxy ? request.target : target.path;
  return serializeHead(`${request.method} ${requestTarget} ${request.version}`, headers);
}

/**
 * Forwards one plain-http request from `client` (head already read, `rest` = bytes after it) and relays the
 * answer. Resolves "forwarded", or "failed" after sending the client a `502` when the origin could not be
 * reached or gave no valid answer. Never throws.
 */
export async function forwardHttp(
  scope: ConnScope,
  upstream: Upstream,
  client: Deno.Conn,
  request: RequestHead,
  target: HttpTarget,
  rest: Uint8Array,
): Promise<"forwarded" | "failed"> {
  let origin: Deno.Conn | undefined;
  try {
    const dialled = await dialHttp(scope, upstream, target);
    origin = dialled.conn;
    await writeAll(origin, concat(upstreamRequestHead(request, target, dialled.viaProxy), rest));
  } catch (e) {
    if (origin) closeQuietly(origin);
    const message = (e as DialError).name === "DialError"
      ? (e as Error).message
      : `the connection to ${target.authority} failed`;
    await writeAll(client, errorResponse(502, "Bad Gateway", message)).catch(() => {});
    return "failed";
  }
  const body = pump(client, origin).catch(() => {});
  try {
    const read = await withDeadline(origin, RESPONSE_HEAD_TIMEOUT_MS, readHead(origin));
    const answer = read.kind === "head" ? parseResponseHead(read.head) : undefined;
    if (read.kind !== "head" || !answer) {
      await writeAll(client, errorResponse(502, "Bad Gateway", `${target.authority} sent no valid answer`));
      return "failed";
    }
    // A 1xx is followed by the real answer on the same bytes: pass it as sent and let the client parse both.
    const head = answer.status < 200
      ? read.head
      : serializeHead(answer.statusLine, [...endToEndHeaders(answer.headers), ["Connection", "close"]]);
    await writeAll(client, concat(head, read.rest));
    await pump(origin, client);
    return "forwarded";
  } catch {
    return "failed";
  } finally {
    closeQuietly(origin);
    closeQuietly(client);
    await body;
  }
}
