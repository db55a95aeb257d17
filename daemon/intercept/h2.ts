/**
 * HTTP/2 for intercepted clients that ask for it in ALPN.
 *
 * Deno 2.9.6's `node:http2` server can abort the whole process inside nghttp2 when a peer sends GOAWAY
 * (denoland/deno#36788), which every HTTP/2 client does when it closes, so it is not used. `Deno.serve` (hyper)
 * speaks HTTP/2 soundly but only on connections it accepts itself, and ours arrive already decrypted from the
 * TLS front. So the decrypted bytes of an `h2` connection are relayed to a `Deno.serve` listener on 127.0.0.1
 * in this same process (cleartext HTTP/2 with prior knowledge), which hands each stream to the exchange as a
 * {@linkcode ClientSide}. The relay costs a loopback hop that only HTTP/2 clients pay; HTTP/1.1 is served
 * directly (h1.ts). The listener serves only connections this module opened: a stream on any other connection
 * is refused, so the port is no way around the CONNECT handshake.
 *
 * @module
 */
import net from "node:net";
import type tls from "node:tls";
import { Buffer } from "node:buffer";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { ClientSide } from "./exchange.ts";
import type { ConnMeta } from "./tls_front.ts";
import { BodyChannel, type BodySink } from "../upstream/flow.ts";

/** The relay and its listener. */
export interface Http2Front {
  /** The loopback listener's port, starting it (it serves only the relays made by `accept`). */
  readonly port: number;
  /** Serves HTTP/2 on `socket`, whose handshake chose `h2`; `meta` is what its CONNECT said. */
  accept(socket: tls.TLSSocket, meta: ConnMeta): void;
  /** Sends GOAWAY on every connection and resolves once their streams have ended (a drain). */
  drain(): Promise<void>;
  /** Stops the listener if it started; relays still open are ended by their TLS sockets closing. */
  close(): Promise<void>;
}

/** What {@linkcode createHttp2Front} calls. */
export interface Http2Handlers {
  /** Each request stream, with the connection's CONNECT details. */
  onRequest(meta: ConnMeta, client: ClientSide): void;
  /** A stream refused (not ours, or naming another host than its CONNECT), for the log. */
  onRefused(reason: string, meta: ConnMeta | undefined): void;
  /** Every socket opened here, so the server's close can end them. */
  track(socket: net.Socket): void;
  /**
   * A connection whose client chose `h2` in ALPN but speaks HTTP/1.1 (Codex's WebSocket client, sharing a TLS
   * configuration that offers both): served as HTTP/1.1 by the caller, so that an upgrade can take the
   * connection over, which hyper's HTTP/1.1 cannot hand out. `socket` is paused with its first bytes unread.
   */
  onHttp1(socket: tls.TLSSocket, meta: ConnMeta): void;
}

/** What every HTTP/2 client sends first (RFC 9113 §3.4). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
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

/** Bytes of response body held for a slow client before the upstream is paused. */
const HIGH_WATER = 64 * 1024;
/** How long a reset waits after the last queued bytes were taken, for hyper to send them first. */
const RESET_GRACE_MS = 20;
/** How long close() waits for hyper to finish before giving up on it. */
const SHUTDOWN_MS = 2000;

/**
 * The HTTP/2 front. Its listener starts with the first HTTP/2 connection: a daemon whose clients all speak
 * HTTP/1.1 never carries it.
 */
export function createHttp2Front(handlers: Http2Handlers): Http2Front {
  // The relay's local port is the listener's view of the peer: it names the CONNECT behind each stream.
  const relays = new Map<number, ConnMeta>();
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let shuttingDown: Promise<void> | undefined;
  const listen = () =>
    server ??= Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      onError: () => new Response(null, { status: 502 }),
    }, (req, info) => {
      const meta = relays.get(info.remoteAddr.port);
      if (!meta) {
        handlers.onRefused("stream on a connection the daemon did not relay", undefined);
        return new Response(null, { status: 421 });
      }
      const url = new URL(req.url);
      if (url.hostname.toLowerCase() !== meta.host) {
        handlers.onRefused(`stream for ${url.hostname} on a connection to ${meta.host}`, meta);
        return new Response(null, { status: 421 });
      }
      return new Promise<Response>((resolve, reject) => {
        handlers.onRequest(meta, http2Client(req, url, info.completed, resolve, reject));
      });
    });

  // A relay connection opened ahead and accepted by hyper, taken by the next HTTP/2 connection: its first bytes
  // then go to hyper at once instead of after a loopback connect and hyper's accept (about half a millisecond
  // of a fresh connection's time here). None is kept once the front drains or closes: no connection follows.
  let spare: net.Socket | undefined;
  const openRelay = () => {
    const conn = net.connect(listen().addr.port, "127.0.0.1");
    handlers.track(conn);
    conn.setNoDelay(true);
    return conn;
  };
  const prepareSpare = () => {
    if (spare || shuttingDown) return;
    const conn = spare = openRelay();
    conn.on("error", () => {});
    conn.once("close", () => {
      if (spare === conn) spare = undefined;
    });
  };
  const dropSpare = () => {
    spare?.destroy();
    spare = undefined;
  };

  // Relays the connection's bytes, `first` already read, to hyper's listener.
  const relay = (socket: tls.TLSSocket, meta: ConnMeta, first: Buffer) => {
    const taken = spare;
    spare = undefined;
    const usable = taken !== undefined && !taken.destroyed &&
      (taken.connecting || taken.readyState === "open");
    if (taken && !usable) taken.destroy();
    const conn = usable ? taken : openRelay();
    prepareSpare();
    conn.on("error", () => socket.destroy());
    socket.on("error", () => conn.destroy());
    socket.on("close", () => conn.destroy());
    let relayPort = 0;
    conn.on("close", () => {
      relays.delete(relayPort);
      socket.destroy();
    });
    const start = () => {
      relayPort = conn.localPort!;
      relays.set(relayPort, meta);
      conn.write(first);
      socket.pipe(conn);
      conn.pipe(socket);
      socket.resume();
    };
    if (conn.connecting) conn.once("connect", start);
    else start();
  };

  return {
    get port() {
      return listen().addr.port;
    },
    accept(socket, meta) {
      // The first bytes decide: hyper closes a connection that starts with garbage without a word (the log
      // should say why instead), and an HTTP/1.1 client is better served by the daemon's own HTTP/1.1.
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
        } else if (start === "h2") relay(socket, meta, first);
        else {
          handlers.onRefused("malformed HTTP/2 connection preface", meta);
          socket.destroy();
        }
      };
      socket.on("data", onData);
    },
    async drain() {
      // hyper's graceful shutdown is the drain: GOAWAY, then the streams already open run to their end.
      if (!server) return;
      dropSpare();
      await (shuttingDown ??= server.shutdown());
    },
    async close() {
      const running = server;
      if (!running) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      dropSpare();
      shuttingDown ??= running.shutdown();
      await Promise.race([shuttingDown, new Promise((r) => timer = setTimeout(r, SHUTDOWN_MS))]);
      clearTimeout(timer);
    },
  };
}

/** One HTTP/2 stream as the exchange sees it; the response resolves the handler's promise. */
function http2Client(
  req: Request,
  url: URL,
  completed: Promise<void>,
  resolve: (r: Response) => void,
  reject: (e: Error) => void,
): ClientSide {
  const headers: Record<string, string> = { host: url.host };
  for (const [name, value] of req.headers) headers[name] = value;
  const body = requestBody(req.body);
  const closeListeners: (() => void)[] = [];
  const closed = () => {
    for (const cb of closeListeners.splice(0)) cb();
  };
  // Settles when the response was delivered (finished already said so) or the client reset the stream.
  completed.then(closed, closed);
  let responded = false;
  let finished = false;
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let drain: (() => void) | undefined;
  let needDrain = false;
  let resetting = false;
  // The reset discards what is still queued here and what hyper has not yet framed, so it waits until the
  // queue is empty and then a moment more: the bytes that came before an upstream reset still reach the client.
  const resetWhenSent = () => {
    const c = controller;
    if (!c || c.desiredSize !== HIGH_WATER) return;
    controller = undefined;
    setTimeout(() => {
      try {
        c.error(new Error("upstream reset"));
      } catch { /* the client cancelled meanwhile */ }
    }, RESET_GRACE_MS);
  };
  const drained = () => {
    if (!needDrain) return;
    needDrain = false;
    drain?.();
  };
  return {
    method: req.method,
    path: url.pathname + url.search,
    httpVersion: "2.0",
    headers: headers as IncomingHttpHeaders,
    body,
    respond(status, _message, outHeaders): BodySink {
      if (responded) throw new Error("response already started");
      responded = true;
      const stream = noBody(req.method, status) ? null : new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c;
        },
        pull: () => {
          if (resetting) resetWhenSent();
          else drained();
        },
        cancel: () => {
          controller = undefined;
          closed();
        },
      }, new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER }));
      resolve(new Response(stream, { status, headers: toHeaders(outHeaders) }));
      let ended = false;
      const write = (data: Buffer) => {
        // A cancelled stream is noticed through `completed`, which ends the exchange.
        if (!stream || !controller || ended || !data.length) return true;
        // A copy: the response body may take ownership of what it is given, and upstream chunks are views
        // into buffers the upstream connection still reads from.
        controller.enqueue(Uint8Array.prototype.slice.call(data));
        if ((controller.desiredSize ?? 0) > 0) return true;
        needDrain = true;
        return false;
      };
      return {
        write,
        end(last, delivered) {
          if (ended) return;
          if (last) write(last);
          ended = true;
          const ok = !stream || controller !== undefined;
          try {
            controller?.close();
          } catch { /* cancelled by the client meanwhile */ }
          finished = ok;
          delivered?.(ok);
          closed();
        },
        onDrain(cb) {
          drain = cb;
        },
      };
    },
    abort() {
      if (!responded) {
        responded = true;
        reject(new Error("upstream failed"));
        return;
      }
      resetting = true;
      resetWhenSent();
    },
    onClose(cb) {
      closeListeners.push(cb);
    },
    get finished() {
      return finished;
    },
  };
}

/** The request body of a stream, read only while the exchange wants more. */
function requestBody(stream: ReadableStream<Uint8Array> | null): BodyChannel {
  const reader = stream?.getReader();
  let paused = true;
  let reading = false;
  const channel: BodyChannel = new BodyChannel({
    pause: () => paused = true,
    resume: () => {
      paused = false;
      if (!reading && reader && !channel.done) pump();
    },
  });
  const pump = async () => {
    reading = true;
    try {
      while (!paused) {
        const { value, done } = await reader!.read();
        if (done) return channel.end();
        channel.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    } catch (e) {
      channel.abort(e instanceof Error ? e : new Error(String(e)));
    } finally {
      reading = false;
    }
  };
  if (!reader) channel.end();
  return channel;
}

function noBody(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

function toHeaders(h: OutgoingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(h)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, String(v));
  }
  return out;
}
