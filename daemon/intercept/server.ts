/**
 * The intercept port: accepts the edge's handover CONNECTs (and direct ones from clients using the port as
 * their proxy), answers `200 Connection Established`, terminates TLS with a certificate from the local CA, and
 * serves HTTP/1.1 (h1.ts) or HTTP/2 (h2.ts) on top, as the client's ALPN chose, forwarding each request upstream.
 * Nothing a peer does can crash it: every socket error is handled and ends only that connection.
 *
 * @module
 */
import net from "node:net";
import type tls from "node:tls";
import type { Logger } from "../../core/log.ts";
import type { UpstreamPool } from "../upstream/pool.ts";
import { readConnectHead, rejectionResponse } from "./connect.ts";
import { type ClientSide, type ExchangeContext, forwardExchange } from "./exchange.ts";
import { serveHttp1 } from "./h1.ts";
import { createHttp2Front } from "./h2.ts";
import { Drain, DRAIN_IDLE_MS } from "./drain.ts";
import { guardHook, type MeteringHook } from "./seam.ts";
import { SELFTEST_HOST } from "../../core/hosts.ts";
import { answerSelftest } from "./selftest.ts";
import { forwardUpgrade, wantsUpgrade } from "./upgrade.ts";
import { type ConnMeta, type LeafSource, TlsFront } from "./tls_front.ts";

/** What {@linkcode startInterceptServer} needs. */
export interface InterceptOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  leafs: LeafSource;
  pool: UpstreamPool;
  hook: MeteringHook;
  log: Logger;
  /** True for the hosts whose exchanges go to the metering hook. */
  isMetered(host: string): boolean;
  /** How long a new connection may take to send its CONNECT head. */
  headTimeoutMs?: number;
  /** How long a CONNECTed client may take to complete its TLS handshake. */
  handshakeTimeoutMs?: number;
}

/** Counts for the heartbeat. */
export interface InterceptStats {
  connections: number;
  exchanges: number;
  metered: number;
  failed: number;
  active: number;
  refused: number;
}

/** A running intercept server. */
export interface InterceptServer {
  port: number;
  stats: Readonly<InterceptStats>;
  /**
   * Stops accepting at once, then drains: open connections finish what they started (HTTP/1.1 answers
   * `connection: close`, HTTP/2 gets GOAWAY) for up to `graceMs`, after which every connection is closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts the intercept server on 127.0.0.1. */
export async function startInterceptServer(options: InterceptOptions): Promise<InterceptServer> {
  const { log } = options;
  const stats: InterceptStats = {
    connections: 0,
    exchanges: 0,
    metered: 0,
    failed: 0,
    active: 0,
    refused: 0,
  };
  const sockets = new Set<net.Socket | tls.TLSSocket>();
  const drain = new Drain();
  // Connections accepted but not yet serving HTTP (CONNECT head, TLS handshake): the drain waits for them,
  // since HTTP/2 could not be served once its listener is shut.
  const opening = new Set<net.Socket>();
  const rawOf = new WeakMap<ConnMeta, net.Socket>();
  const track = (s: net.Socket | tls.TLSSocket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  };
  const ctx: ExchangeContext = {
    pool: options.pool,
    log,
    isMetered: options.isMetered,
    stats,
    hook: guardHook(
      options.hook,
      (stage, e) => log.error("intercept.hook_failed", { stage, error: (e as Error)?.message ?? String(e) }),
    ),
  };

  const serve = (meta: ConnMeta, client: ClientSide) => {
    if (meta.host === SELFTEST_HOST) answerSelftest(client);
    else if (wantsUpgrade(client)) {
      forwardUpgrade(ctx, meta, client).catch((e) =>
        log.error("intercept.upgrade_failed", { error: String(e) })
      );
    } else forwardExchange(ctx, meta, client);
  };

  const http1 = (s: tls.TLSSocket, meta: ConnMeta) =>
    serveHttp1(s, (client) => serve(meta, client), (reason) => {
      stats.refused++;
      log.warn("intercept.bad_request", { host: meta.host, reason });
    }, drain);

  const h2 = createHttp2Front({
    onRequest: serve,
    onHttp1: (s, meta) => {
      http1(s, meta);
      s.resume();
    },
    onRefused: (reason, meta) => {
      stats.refused++;
      log.warn("intercept.bad_request", { host: meta?.host, reason });
    },
    track,
  });

  const front = new TlsFront(
    options.leafs,
    (s, meta) => {
      opening.delete(rawOf.get(meta)!);
      track(s);
      s.on("error", () => {});
      if (s.alpnProtocol === "h2") return h2.accept(s, meta);
      http1(s, meta);
    },
    (reason, meta) => {
      stats.refused++;
      log.warn("intercept.tls_refused", { host: meta?.host, reason });
    },
    { handshakeTimeoutMs: options.handshakeTimeoutMs },
  );

  const listener = net.createServer(async (socket) => {
    stats.connections++;
    track(socket);
    opening.add(socket);
    socket.once("close", () => opening.delete(socket));
    socket.on("error", () => {});
    socket.setNoDelay(true);
    const head = await readConnectHead(socket, options.headTimeoutMs ?? 10_000);
    if (!head.ok) {
      if ("rejection" in head) {
        stats.refused++;
        log.warn("intercept.bad_connect", { status: head.rejection.status, reason: head.rejection.reason });
        socket.end(rejectionResponse(head.rejection));
        const linger = setTimeout(() => socket.destroy(), 1000);
        socket.once("close", () => clearTimeout(linger));
      } else socket.destroy();
      return;
    }
    const { request, rest } = head;
    const meta: ConnMeta = {
      host: request.host,
      port: request.port,
      client: request.client ?? `${socket.remoteAddress}:${socket.remotePort}`,
      project: request.project,
    };
    rawOf.set(meta, socket);
    // Who the client is can only be looked up while its process lives: start now, not at the response.
    if (options.isMetered(meta.host)) ctx.hook.connect?.(meta.client, meta.project);
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (rest.length) socket.unshift(rest);
    front.accept(socket, meta);
  });
  listener.on("error", (e) => log.error("intercept.listener_error", { error: e.message }));
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port, "127.0.0.1", () => {
      listener.off("error", reject);
      resolve();
    });
  });

  return {
    port: (listener.address() as net.AddressInfo).port,
    stats,
    async close(graceMs = 2000) {
      // close()'s callback waits for every connection to end: awaited first, an idle keep-alive client would
      // hold the stop until its own idle timeout (90 s for Deno's fetch).
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      const handshakes = Date.now() + 10_000;
      while (opening.size > 0 && Date.now() < handshakes) await new Promise((r) => setTimeout(r, 10));
      drain.start();
      // GOAWAY goes out a moment later: a connection opened just before the stop has its first request in
      // flight, which hyper would drop unanswered on a connection that has not yet shown it a stream.
      const goaway = setTimeout(() => h2.drain().catch(() => {}), DRAIN_IDLE_MS);
      const deadline = Date.now() + graceMs;
      // Connections end on their own as their last exchange finishes; streams may take minutes.
      while ((stats.active > 0 || sockets.size > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      clearTimeout(goaway);
      log.info("intercept.drained", { left: sockets.size, active: stats.active });
      for (const s of sockets) s.destroy();
      // Destroyed connections end their exchanges in later events; wait so their rows reach the writer.
      const settle = Date.now() + 1000;
      while ((stats.active > 0 || sockets.size > 0) && Date.now() < settle) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await closed;
      await h2.close();
    },
  };
}
