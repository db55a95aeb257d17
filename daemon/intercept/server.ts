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
import { type ConnectRequest, parseConnectHead, readConnectHead, rejectionResponse } from "./connect.ts";
import { indexOfHeadEnd } from "../http1/crlf.ts";
import { type ClientSide, type ExchangeContext, forwardExchange } from "./exchange.ts";
import { serveHttp1 } from "./h1.ts";
import { createHttp2Front } from "./h2.ts";
import { endSoon } from "./closing.ts";
import { Drain, DRAIN_IDLE_MS } from "./drain.ts";
import { guardHook, type MeteringHook } from "./seam.ts";
import { SELFTEST_HOST } from "../../core/hosts.ts";
import { answerSelftest } from "./selftest.ts";
import { forwardUpgrade, wantsUpgrade } from "./upgrade.ts";
import { type ConnMeta, type LeafSource, TlsFront } from "./tls_front.ts";
import {
  openSocketPassing,
  PASS_TOKEN_CHARS,
  type ReceivedSocket,
  type SocketPassing,
  type SocketReceiver,
} from "../../core/socket_pass.ts";
import { Buffer } from "node:buffer";
import { watchBell } from "../../core/socket_bell.ts";

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
  /**
   * Where to take the client sockets the edge passes (edge/_pass.ts), where this machine can; without it, or
   * where it cannot be bound, every handed-over connection is relayed by the edge.
   */
  passPath?: string;
}

const ENCODER = new TextEncoder();
const HEAD_DECODER = new TextDecoder("latin1");
const ESTABLISHED_LINE = "HTTP/1.1 200 Connection Established\r\n";
const ESTABLISHED = ENCODER.encode(`${ESTABLISHED_LINE}\r\n`);

/** How long a handover that offered its socket waits for it (or for the edge to relay after all). */
const PASS_WAIT_MS = 10_000;
/**
 * Decrypted bytes in one read, from which a passed socket has the kernel acknowledge at once: a request body
 * is arriving. Linux delays the acknowledgement of a read the daemon answers with nothing (up to 40 ms), and a
 * client that leaves Nagle's algorithm on (Deno's `fetch`) waits for it before its next small write: through
 * the meter, one warm 1 MB upload in six or more took 40 ms longer (p90 44 to 50 ms, 12 to 13 directly; 10.5
 * to 11.9 with this; docs/speed.md). Smaller reads, a request's head and short body, are acknowledged with the
 * answer as before.
 */
const ACK_AFTER = 8 * 1024;

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
  /**
   * Each connection's plain socket, and for a socket the edge passed, what has the kernel acknowledge what it
   * received now ({@linkcode ACK_AFTER}).
   */
  const rawOf = new WeakMap<ConnMeta, { socket: net.Socket; ackNow?: () => void }>();
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
  });

  const front = new TlsFront(
    options.leafs,
    (s, meta) => {
      const raw = rawOf.get(meta)!;
      opening.delete(raw.socket);
      track(s);
      s.on("error", () => {});
      const ackNow = raw.ackNow;
      if (ackNow) s.on("data", (d: Buffer) => d.length >= ACK_AFTER && ackNow());
      if (s.alpnProtocol === "h2") return h2.accept(s, meta);
      http1(s, meta);
    },
    (reason, meta) => {
      stats.refused++;
      log.warn("intercept.tls_refused", { host: meta?.host, reason });
    },
    { handshakeTimeoutMs: options.handshakeTimeoutMs },
  );

  // Passed sockets by token, awaited by the edge's connection that offered them.
  const awaited = new Map<string, { take(fd: number, early: Uint8Array): void; drop(): void }>();
  let passing: SocketPassing | undefined;
  let receiver: SocketReceiver | undefined;

  const serveClient = (socket: net.Socket, meta: ConnMeta, early: Uint8Array, ackNow?: () => void) => {
    rawOf.set(meta, { socket, ackNow });
    if (early.length) socket.unshift(Buffer.from(early));
    front.accept(socket, meta);
  };

  /**
   * The details of a connection whose `CONNECT` was just answered, and the start of its client's lookup: who
   * the client is can only be looked up while its process lives, so now rather than at the response, but after
   * the answer, which need not wait for the lookup's synchronous start.
   */
  const answered = (request: ConnectRequest, client: string): ConnMeta => {
    const meta: ConnMeta = { host: request.host, port: request.port, client, project: request.project };
    if (options.isMetered(meta.host)) ctx.hook.connect?.(meta.client, meta.project);
    return meta;
  };

  /** Serves a client socket received from the edge, or ends it when it cannot be wrapped. */
  const servePassed = (fd: number, meta: ConnMeta, early: Uint8Array) => {
    let client: net.Socket;
    try {
      client = new net.Socket({ fd, readable: true, writable: true });
    } catch (e) {
      log.warn("intercept.pass_refused", { error: (e as Error).message });
      return passing!.refuse(fd);
    }
    // The edge keeps its copy of the socket until the connection's sending side has ended, so a destroy,
    // which only closes the daemon's descriptor, would leave the client waiting on a connection no one
    // serves (an upstream reset mid-answer, a refused handshake, an idle connection let go). Shut first.
    const destroy = client._destroy;
    client._destroy = function (error, done) {
      passing!.shut(fd);
      destroy.call(this, error, done);
    };
    track(client);
    opening.add(client);
    client.once("close", () => opening.delete(client));
    client.on("error", () => {});
    serveClient(client, meta, early, () => passing!.ackNow(fd));
  };

  /**
   * A socket the edge passed with its `CONNECT` head and no handover (edge/_pass.ts): taken only before its
   * deadline, by answering the client's `CONNECT` in the same synchronous run (the edge looks for that answer
   * at the deadline), then replying its token so that the edge need not wait. Past the deadline the edge
   * serves it itself, so it is given back untouched.
   */
  const takeDirect = ({ fd, payload, reply }: ReceivedSocket) => {
    const end = indexOfHeadEnd(payload);
    const request = end === -1 ? undefined : parseConnectHead(HEAD_DECODER.decode(payload.subarray(0, end)));
    if (
      !request || "status" in request || !request.pass || !request.client || request.deadline === undefined
    ) {
      log.warn("intercept.pass_refused", { error: "a passed socket without a valid CONNECT head" });
      return passing!.giveBack(fd);
    }
    if (passing!.now() > request.deadline) {
      log.warn("intercept.pass_late", { host: request.host });
      return passing!.giveBack(fd);
    }
    const written = passing!.writeNow(fd, ESTABLISHED);
    // Told even when the client has gone, so that the edge lets go of its copy rather than serve it.
    reply(ENCODER.encode(request.pass));
    if (!written) return passing!.refuse(fd);
    stats.connections++;
    servePassed(fd, answered(request, request.client), payload.subarray(end + 4));
  };

  // The edge's connection waits for the client's socket, or for the client's bytes should the edge relay after
  // all (it could not pass the socket): whichever comes first.
  const awaitPass = (edge: net.Socket, meta: ConnMeta, token: string, rest: Buffer) => {
    const settle = () => {
      clearTimeout(timer);
      awaited.delete(token);
      edge.off("data", relayed);
    };
    const drop = () => {
      settle();
      edge.destroy();
    };
    const relayed = (chunk: Buffer) => {
      settle();
      edge.pause();
      serveClient(edge, meta, Buffer.concat([rest, chunk]));
    };
    const timer = setTimeout(drop, PASS_WAIT_MS);
    awaited.set(token, {
      drop,
      take: (fd, early) => {
        drop();
        servePassed(fd, meta, Buffer.concat([rest, early]));
      },
    });
    edge.on("data", relayed);
    edge.resume();
  };

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
        endSoon(socket, rejectionResponse(head.rejection));
      } else socket.destroy();
      return;
    }
    const { request, rest } = head;
    // `x-halton-pass-direct`: the edge may pass its next sockets here without a handover; `x-halton-pass-bell`:
    // this receiver watches the bell the edge may ring after each socket (core/socket_pass.ts).
    socket.write(
      request.pass && receiver
        ? `${ESTABLISHED_LINE}x-halton-pass: ${receiver.path}\r\nx-halton-pass-direct: 1\r\n` +
          "x-halton-pass-bell: 1\r\n\r\n"
        : ESTABLISHED,
    );
    const meta = answered(request, request.client ?? `${socket.remoteAddress}:${socket.remotePort}`);
    if (request.pass && receiver) return awaitPass(socket, meta, request.pass, rest);
    serveClient(socket, meta, rest);
  });
  listener.on("error", (e) => log.error("intercept.listener_error", { error: e.message }));
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port, "127.0.0.1", () => {
      listener.off("error", reject);
      resolve();
    });
  });
  if (options.passPath !== undefined) passing = openSocketPassing();
  if (passing) {
    const taker = passing;
    receiver = passing.listen(options.passPath!, (socket) => {
      const { fd, payload } = socket;
      // A socket passed without a handover comes with its `CONNECT` head; one a handover took up, with a token.
      const start = HEAD_DECODER.decode(payload.subarray(0, PASS_TOKEN_CHARS));
      if (start.startsWith("CONNECT ")) return takeDirect(socket);
      const pass = awaited.get(start);
      if (pass) pass.take(fd, payload.subarray(PASS_TOKEN_CHARS));
      else taker.refuse(fd);
    }, watchBell);
    if (!receiver) passing.close();
  }

  return {
    port: (listener.address() as net.AddressInfo).port,
    stats,
    async close(graceMs = 2000) {
      // close()'s callback waits for every connection to end: awaited first, an idle keep-alive client would
      // hold the stop until its own idle timeout (90 s for Deno's fetch).
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      // The edge's next sockets go to the intercept port again, and so to this daemon's successor.
      receiver?.stopTaking();
      const handshakes = Date.now() + 10_000;
      while (opening.size > 0 && Date.now() < handshakes) await new Promise((r) => setTimeout(r, 10));
      drain.start();
      // GOAWAY goes out a moment later, as idle HTTP/1.1 connections close: a client that has just connected
      // sends its first requests before it learns of the stop (those in flight as GOAWAY goes out are covered by
      // its PING's round trip, h2_conn.ts).
      const goaway = setTimeout(() => h2.drain().catch(() => {}), DRAIN_IDLE_MS);
      const deadline = Date.now() + graceMs;
      // Connections end on their own as their last exchange finishes; streams may take minutes.
      while ((stats.active > 0 || sockets.size > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      clearTimeout(goaway);
      log.info("intercept.drained", { left: sockets.size, active: stats.active });
      // A socket the edge passes from now on finds no one waiting for it and is refused.
      for (const pass of [...awaited.values()]) pass.drop();
      for (const s of sockets) s.destroy();
      // Destroyed connections end their exchanges in later events; wait so their rows reach the writer.
      const settle = Date.now() + 1000;
      while ((stats.active > 0 || sockets.size > 0) && Date.now() < settle) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await closed;
      await h2.close();
      if (receiver) {
        await receiver.close();
        passing!.close();
      }
    },
  };
}
