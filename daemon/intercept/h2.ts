/**
 * HTTP/2 for intercepted clients that ask for it in ALPN: the front that tells, from a connection's first
 * bytes, the HTTP/2 preface from an HTTP/1.1 request line (some clients choose `h2` and speak HTTP/1.1), serves
 * each HTTP/2 connection with the daemon's own server (h2_conn.ts), checks that each stream names the host its
 * `CONNECT` did, and drains them all on a stop.
 *
 * The daemon speaks HTTP/2 itself because neither server at hand fits: Deno 2.9.6's `node:http2` server can
 * abort the whole process inside nghttp2 when a peer sends GOAWAY (denoland/deno#36788), which every HTTP/2
 * client does when it closes, and `Deno.serve` (hyper) serves only connections it accepts itself, where ours
 * arrive decrypted from the TLS front; relaying them to it over loopback cost 1–2 ms a fresh call.
 *
 * @module
 */
import type tls from "node:tls";
import { Buffer } from "node:buffer";
import type { ClientSide } from "./exchange.ts";
import { PREFACE } from "./h2_frames.ts";
import { type Http2Connection, serveHttp2 } from "./h2_conn.ts";
import type { ConnMeta } from "./tls_front.ts";
import { parseAuthority } from "./connect.ts";
import { DISCARD } from "../upstream/flow.ts";

/** The HTTP/2 connections being served. */
export interface Http2Front {
  /** Serves HTTP/2 on `socket`, whose handshake chose `h2`; `meta` is what its CONNECT said. */
  accept(socket: tls.TLSSocket, meta: ConnMeta): void;
  /** Sends GOAWAY on every connection, and to every one that comes after; resolves once those open ended. */
  drain(): Promise<void>;
  /** Ends every connection. */
  close(): Promise<void>;
}

/** What {@linkcode createHttp2Front} calls. */
export interface Http2Handlers {
  /** Each request stream, with the connection's CONNECT details. */
  onRequest(meta: ConnMeta, client: ClientSide): void;
  /** A stream or connection refused (malformed, or naming another host than its CONNECT), for the log. */
  onRefused(reason: string, meta: ConnMeta | undefined): void;
  /**
   * A connection whose client chose `h2` in ALPN but speaks HTTP/1.1 (Codex's WebSocket client, sharing a TLS
   * configuration that offers both): served as HTTP/1.1 by the caller. `socket` is paused with its first bytes
   * unread.
   */
  onHttp1(socket: tls.TLSSocket, meta: ConnMeta): void;
}

/** A request line's start: some clients choose `h2` and then speak HTTP/1.1 all the same. */
const HTTP1_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32} /;

/**
 * What `first` (the first bytes a client sent after choosing `h2`) starts: the HTTP/2 preface (`"h2"`), an
 * HTTP/1.1 request line (`"http/1.1"`), or neither (false). Undefined while too few bytes tell.
 */
export function connectionStart(first: Buffer): "h2" | "http/1.1" | false | undefined {
  const n = Math.min(first.length, PREFACE.length);
  if (first.subarray(0, n).equals(PREFACE.subarray(0, n))) return n === PREFACE.length ? "h2" : undefined;
  const head = first.subarray(0, 34).toString("latin1");
  if (HTTP1_START.test(head)) return "http/1.1";
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/.test(head) && head.length < 33 ? undefined : false;
}

/** The HTTP/2 front. */
export function createHttp2Front(handlers: Http2Handlers): Http2Front {
  const connections = new Set<Http2Connection>();
  let draining = false;

  const serve = (socket: tls.TLSSocket, meta: ConnMeta, first: Buffer) => {
    const conn = serveHttp2(socket, first, {
      onRequest: (client) => {
        if (hostOf(String(client.headers.host)) !== meta.host) {
          handlers.onRefused(`stream for ${client.headers.host} on a connection to ${meta.host}`, meta);
          return misdirected(client);
        }
        handlers.onRequest(meta, client);
      },
      onRefused: (reason) => handlers.onRefused(reason, meta),
    });
    connections.add(conn);
    conn.closed.then(() => connections.delete(conn));
    if (draining) conn.goAway();
  };

  return {
    accept(socket, meta) {
      // The first bytes decide: a connection that starts with garbage is logged and closed, and an HTTP/1.1
      // client is served by the daemon's HTTP/1.1.
      let first: Buffer = Buffer.alloc(0);
      const onData = (data: Buffer) => {
        first = first.length ? Buffer.concat([first, data]) : data;
        const start = connectionStart(first);
        if (start === undefined) return;
        socket.off("data", onData);
        socket.pause();
        if (start === "http/1.1") {
          socket.unshift(first);
          handlers.onHttp1(socket, meta);
        } else if (start === "h2") serve(socket, meta, first);
        else {
          handlers.onRefused("malformed HTTP/2 connection preface", meta);
          socket.destroy();
        }
      };
      socket.on("data", onData);
    },
    async drain() {
      draining = true;
      const open = [...connections];
      for (const conn of open) conn.goAway();
      await Promise.all(open.map((c) => c.closed));
    },
    async close() {
      const open = [...connections];
      for (const conn of open) conn.destroy();
      await Promise.all(open.map((c) => c.closed));
    },
  };
}

/**
 * The host of an `:authority` (or `host`) as a CONNECT's is kept (`parseAuthority`: lower-case, without its
 * port, IPv6 brackets or a final dot); one that is no host and port (user info, a path) is given back as it
 * came, lower-case, and so fails the comparison with the CONNECT's host.
 */
export function hostOf(authority: string): string {
  const lower = authority.toLowerCase();
  return parseAuthority(/:\d+$/.test(lower) ? lower : `${lower}:443`)?.host ?? lower;
}

/** Answers 421: the stream is for another host than the connection's CONNECT named. */
function misdirected(client: ClientSide): void {
  client.body.receive(DISCARD);
  client.respond(421, "Misdirected Request", { "content-length": 0 }).end();
}
