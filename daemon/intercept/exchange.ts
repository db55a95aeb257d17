/**
 * One request through the daemon: forwarded upstream with its bytes unchanged (only hop-by-hop headers
 * differ), the response streamed back chunk by chunk with backpressure, and a copy of the response handed to
 * the metering hook. Clients speaking HTTP/1.1 and HTTP/2 meet here through {@linkcode ClientSide}.
 *
 * @module
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import type { Logger } from "../../core/log.ts";
import type { UpstreamPool } from "../upstream/pool.ts";
import type { BodySink, BodySource } from "../upstream/flow.ts";
import {
  type ExchangeObserver,
  type ExchangeStart,
  type HeaderMap,
  MAX_REQUEST_BODY,
  type MeteringHook,
} from "./seam.ts";
import type { ConnMeta } from "./tls_front.ts";
import { setHeader } from "../http1/head.ts";

/** The client's half of an exchange, whatever HTTP version it spoke. */
export interface ClientSide {
  method: string;
  path: string;
  httpVersion: string;
  /** Lower-case names; HTTP/2 pseudo-headers already removed and `:authority` given as `host`. */
  headers: IncomingHttpHeaders;
  body: BodySource;
  /** Sends the response head; returns where the body goes. */
  respond(status: number, statusMessage: string, headers: OutgoingHttpHeaders): BodySink;
  /** Ends the response abnormally, so the client sees a reset or a truncated body, never a clean end. */
  abort(): void;
  /** Fires when the client goes away or the response is done. */
  onClose(cb: () => void): void;
  /** True once the whole response was handed to the client's connection. */
  readonly finished: boolean;
  /**
   * HTTP/1.1 only: detaches the connection from the HTTP loop for an upgraded protocol (WebSocket) and gives
   * it to the caller with the bytes already read past this request's head; nothing else will read or write it.
   */
  takeOver?(): { socket: Duplex; buffered: Buffer };
}

/** What an exchange needs from the server around it. */
export interface ExchangeContext {
  pool: UpstreamPool;
  hook: MeteringHook;
  log: Logger;
  /** True for the hosts whose exchanges go to the metering hook. */
  isMetered(host: string): boolean;
  /** Counts for the heartbeat. */
  stats: { exchanges: number; metered: number; failed: number; active: number };
}

// Connection-scoped headers (RFC 9110 §7.6.1) and proxy credentials meant for us; `expect` because we have
// already answered the client's 100-continue ourselves.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "http2-settings",
]);

/** Copies headers without the hop-by-hop ones (and those the `connection` header names). */
export function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const connection = headers.connection;
  const named = connection === undefined
    ? undefined
    : String(connection).toLowerCase().split(",").map((s) => s.trim());
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name[0] === ":" || HOP_BY_HOP.has(name) || named?.includes(name)) continue;
    setHeader(out, name, value);
  }
  return out;
}

/** Answers 502 with a JSON body saying why no provider answer could be had (when the client is still there). */
export function answerUpstreamFailure(client: ClientSide, message: string): void {
  try {
    const body = JSON.stringify({ error: { type: "halton_meter_upstream", message } });
    const bytes = Buffer.from(body);
    client.respond(502, "Bad Gateway", {
      "content-type": "application/json",
      "content-length": bytes.length,
    }).end(bytes);
  } catch { /* the client is gone as well */ }
}

/** Forwards one exchange to `meta.host:meta.port` and streams the answer back. */
export function forwardExchange(ctx: ExchangeContext, meta: ConnMeta, client: ClientSide): void {
  const startedAt = new Date();
  const t0 = performance.now();
  const metered = ctx.isMetered(meta.host);
  const pathOnly = client.path.split("?")[0];
  ctx.stats.exchanges++;
  ctx.stats.active++;
  if (metered) ctx.stats.metered++;
  // Two events per call: their fields are built only when the level lets them through.
  const debug = ctx.log.enabled("debug");
  if (debug) ctx.log.debug("intercept.start", { host: meta.host, path: pathOnly, method: client.method });

  const bodyParts: Buffer[] = [];
  let kept = 0;
  let joined: Buffer | undefined;
  let requestBytes = 0;
  let truncated = false;

  let observer: ExchangeObserver | undefined;
  /**
   * Starts metering the response whose head came: called after its first bytes are written to the client
   * (nothing in metering changes them, and its start cost about 0.1 ms of the first streamed byte), and at
   * the latest when the exchange ends.
   */
  let startMetering: (() => void) | undefined;
  let status = 0;
  let ttft: number | null = null;
  let responseBytes = 0;
  let ended = false;
  const start = (status: number, responseHeaders: HeaderMap, headMs: number) => {
    if (!metered) return;
    const exchange: ExchangeStart = {
      host: meta.host,
      path: client.path,
      method: client.method,
      httpVersion: client.httpVersion,
      status,
      startedAt,
      headMs,
      client: meta.client,
      project: meta.project,
      requestHeaders: client.headers as HeaderMap,
      responseHeaders,
      // Joined when first read, not here: the response's first bytes wait for this, and few calls need it.
      get requestBody() {
        joined ??= bodyParts.length === 1 ? bodyParts[0] : Buffer.concat(bodyParts, kept);
        return joined;
      },
      requestBodyTruncated: truncated,
    };
    observer = ctx.hook.begin(exchange);
  };
  const finish = (complete: boolean, error?: string) => {
    if (ended) return;
    ended = true;
    startMetering?.();
    ctx.stats.active--;
    if (!complete) ctx.stats.failed++;
    const latencyMs = Math.round(performance.now() - t0);
    observer?.onEnd({
      complete,
      error,
      latencyMs,
      ttftMs: ttft,
      requestBytes,
      responseBytes,
    });
    // A line per call at info would be two synchronous writes on every request; clean ones are debug.
    if (complete && !debug) return;
    ctx.log.write(complete ? "debug" : "info", "intercept.complete", {
      host: meta.host,
      path: pathOnly,
      http_version: client.httpVersion,
      status,
      latency_ms: latencyMs,
      bytes: responseBytes,
      complete,
      error,
    });
  };

  const upstream = ctx.pool.request({
    target: { host: meta.host, port: meta.port },
    method: client.method,
    path: client.path,
    headers: endToEnd(client.headers),
  }, {
    response(res) {
      status = res.statusCode;
      const headMs = performance.now() - t0;
      startMetering = () => {
        startMetering = undefined;
        start(status, res.headers as HeaderMap, Math.round(headMs));
      };
      let out: BodySink;
      try {
        out = client.respond(status, res.statusMessage, endToEnd(res.headers));
      } catch {
        // The client left between our request and the provider's answer.
        upstream.destroy();
        finish(false, "client closed");
        return;
      }
      out.onDrain(() => res.body.resume());
      res.body.receive({
        data(chunk) {
          ttft ??= Math.round(performance.now() - t0);
          responseBytes += chunk.length;
          const more = out.write(chunk);
          startMetering?.();
          observer?.onResponseChunk(chunk);
          if (!more) res.body.pause();
        },
        end() {
          ttft ??= Math.round(headMs);
          out.end(undefined, (delivered) => finish(delivered, delivered ? undefined : "client closed"));
        },
        abort() {
          // Said first: on HTTP/2 the client's abort closes the stream, which would call it "client closed".
          finish(false, "upstream reset");
          client.abort();
        },
      });
    },
    error(e) {
      // The rest of the request body has nowhere to go: read it, so the client is not left waiting.
      client.body.resume();
      start(0, {}, Math.round(performance.now() - t0));
      answerUpstreamFailure(client, e.message);
      finish(false, e.message);
    },
  });

  client.onClose(() => {
    if (client.finished || ended) return;
    upstream.destroy();
    // Gone before the answer's head: the request may have reached the provider, which may bill it.
    if (!startMetering && !observer) start(0, {}, Math.round(performance.now() - t0));
    finish(false, "client closed");
  });

  client.body.receive({
    data(chunk) {
      requestBytes += chunk.length;
      if (!upstream.write(chunk)) client.body.pause();
      if (!metered) return;
      const room = MAX_REQUEST_BODY - kept;
      if (chunk.length > room) truncated = true;
      // Chunks are never reused by the connection that read them, and the concat below copies once.
      if (room > 0) {
        bodyParts.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        kept += Math.min(room, chunk.length);
      }
    },
    end: () => upstream.end(),
    abort: () => upstream.destroy(),
  });
  upstream.onDrain(() => client.body.resume());
}
