/**
 * Connecting to where a request goes: straight to the host, to the address `[upstream] resolve` names for it,
 * or through the corporate proxy of `[upstream] proxy` with a `CONNECT` of its own.
 *
 * @module
 */
import type { ConnScope } from "./_conn.ts";
import { withDeadline } from "./_conn.ts";
import { parseResponseHead, readHead, serializeHead } from "./_head.ts";
import { formatHostPort, type HostPort, resolveTarget, type Upstream } from "../core/upstream.ts";
import { closeQuietly, writeAll } from "./_splice.ts";

export type { ProxyTarget, Upstream } from "../core/upstream.ts";

/** How long a connect, or a proxy's answer to our `CONNECT`, may take. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Could not reach the destination; the message is safe to show the client in a `502`. */
export class DialError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DialError";
  }
}

/** A tunnel ready for the client's bytes; `early` holds bytes the proxy sent after its `200`. */
export interface Tunnel {
  conn: Deno.Conn;
  early: Uint8Array;
}

/**
 * Opens a byte tunnel to `target`: a direct connection (to the `resolve` override when there is one) or a
 * `CONNECT` through the corporate proxy.
 *
 * @throws {DialError} when the destination or the proxy cannot be reached or the proxy refuses.
 */
export async function dialTunnel(scope: ConnScope, upstream: Upstream, target: HostPort): Promise<Tunnel> {
  const direct = upstream.resolve.has(target.host) || !upstream.proxy;
  if (direct) {
    return {
      conn: await openOrFail(scope, resolveTarget(target, upstream.resolve)),
      early: new Uint8Array(),
    };
  }
  const proxy = upstream.proxy!;
  const conn = await openOrFail(scope, proxy);
  const authority = formatHostPort(target);
  const headers: [string, string][] = [["Host", authority]];
  if (proxy.authorization) headers.push(["Proxy-Authorization", proxy.authorization]);
  try {
    await writeAll(conn, serializeHead(`CONNECT ${authority} HTTP/1.1`, headers));
    const read = await withDeadline(conn, CONNECT_TIMEOUT_MS, readHead(conn));
    const answer = read.kind === "head" ? parseResponseHead(read.head) : undefined;
    if (read.kind !== "head" || !answer || answer.status < 200 || answer.status > 299) {
      const why = answer ? `answered ${answer.status}` : "gave no valid answer";
      throw new DialError(`the upstream proxy ${formatHostPort(proxy)} ${why} to CONNECT ${authority}`);
    }
    return { conn, early: read.rest };
  } catch (e) {
    closeQuietly(conn);
    if (e instanceof DialError) throw e;
    throw new DialError(`the upstream proxy ${formatHostPort(proxy)} failed during CONNECT ${authority}`, {
      cause: e,
    });
  }
}

/** A connection for one plain-http request: to the origin, or to the corporate proxy (absolute form). */
export interface HttpUpstream {
  conn: Deno.Conn;
  /** Set when the request must go to a proxy in absolute form, with this `Proxy-Authorization` if any. */
  viaProxy?: { authorization?: string };
}

/**
 * Connects for a plain-http request to `target`.
 *
 * @throws {DialError} when neither the origin nor the proxy can be reached.
 */
export async function dialHttp(
  scope: ConnScope,
  upstream: Upstream,
  target: HostPort,
): Promise<HttpUpstream> {
  if (upstream.resolve.has(target.host) || !upstream.proxy) {
    return { conn: await openOrFail(scope, resolveTarget(target, upstream.resolve)) };
  }
  const conn = await openOrFail(scope, upstream.proxy);
  return { conn, viaProxy: { authorization: upstream.proxy.authorization } };
}

async function openOrFail(scope: ConnScope, to: HostPort): Promise<Deno.Conn> {
  try {
    return await scope.open(to, CONNECT_TIMEOUT_MS);
  } catch (e) {
    throw new DialError(`cannot connect to ${formatHostPort(to)}`, { cause: e });
  }
}
