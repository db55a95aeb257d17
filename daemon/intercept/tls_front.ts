/**
 * The TLS server side of intercepted connections: a certificate for the handshake's server name (or, with no
 * SNI, for the CONNECT host), minted by the local CA and cached as a secure context, and ALPN `h2` or
 * `http/1.1`. A server name that differs from the CONNECT host is refused: the connection would otherwise be
 * forwarded to a host the client did not name.
 *
 * @module
 */
import tls from "node:tls";
import type { Socket } from "node:net";
import type { Buffer } from "node:buffer";
import { parentOf } from "./client_reads.ts";

/** Mints key + certificate for a host name (the daemon's `LeafMinter`). */
export interface LeafSource {
  leafFor(servername: string): Promise<{ keyPem: string; certPem: string }>;
}

/** What the CONNECT head said about a connection, carried to every request on it. */
export interface ConnMeta {
  host: string;
  port: number;
  client: string;
  project?: string;
}

/** Called with each established TLS connection. */
export type SecureHandler = (socket: tls.TLSSocket, meta: ConnMeta) => void;

/** Told about refused handshakes, for the log. */
export type TlsErrorHandler = (reason: string, meta: ConnMeta | undefined) => void;

/** How long a CONNECTed client has to finish its TLS handshake before the connection is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

const MAX_CONTEXTS = 1024;
const MAX_SERVERS = 256;

/** Terminates TLS on CONNECTed sockets. */
export class TlsFront {
  readonly #leafs: LeafSource;
  readonly #onSecure: SecureHandler;
  readonly #onError: TlsErrorHandler;
  readonly #contexts = new Map<string, Promise<tls.SecureContext>>();
  readonly #servers = new Map<string, tls.Server>();
  readonly #meta = new WeakMap<object, ConnMeta>();
  readonly #handshakeMs: number;
  /** Raw sockets dropped for want of a handshake: already reported, their TLS error is not news. */
  readonly #timedOut = new WeakSet<object>();
  /** Per raw socket: stops its handshake timer. */
  readonly #handshaken = new WeakMap<object, () => void>();

  constructor(
    leafs: LeafSource,
    onSecure: SecureHandler,
    onError: TlsErrorHandler,
    options: { handshakeTimeoutMs?: number } = {},
  ) {
    this.#leafs = leafs;
    this.#onSecure = onSecure;
    this.#onError = onError;
    this.#handshakeMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  }

  /**
   * Starts the handshake on `socket`, which has just been answered `200 Connection Established`. A client
   * that does not complete it within the handshake timeout is dropped: a CONNECT that then sends nothing
   * would otherwise hold a socket and a TLS state for as long as the client likes.
   */
  accept(socket: Socket, meta: ConnMeta): void {
    this.#meta.set(socket, meta);
    const timer = setTimeout(() => {
      this.#timedOut.add(socket);
      this.#onError("no TLS handshake in time", meta);
      socket.destroy();
    }, this.#handshakeMs);
    const done = () => clearTimeout(timer);
    socket.once("close", done);
    this.#handshaken.set(socket, done);
    // The TLS state (an OpenSSL session and its buffers) is made only once the client's first bytes arrive:
    // a client that CONNECTs and then sends nothing costs a bare socket until the timer drops it.
    if (socket.readableLength > 0) {
      this.#serverFor(meta.host).emit("connection", socket);
      return;
    }
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      this.#serverFor(meta.host).emit("connection", socket);
    });
    socket.resume();
  }

  /** The secure context for `name`, minted once and shared. */
  contextFor(name: string): Promise<tls.SecureContext> {
    let ctx = this.#contexts.get(name);
    if (!ctx) {
      ctx = this.#leafs.leafFor(name).then((leaf) =>
        tls.createSecureContext({ key: leaf.keyPem, cert: leaf.certPem })
      );
      ctx.catch(() => this.#contexts.delete(name));
      if (this.#contexts.size >= MAX_CONTEXTS) this.#contexts.delete(this.#contexts.keys().next().value!);
      this.#contexts.set(name, ctx);
    }
    return ctx;
  }

  // One server per CONNECT host, because the SNI callback is the only place to pick a certificate and it is
  // not told which connection it serves: without SNI it must still know the host.
  #serverFor(host: string): tls.Server {
    let server = this.#servers.get(host);
    if (server) return server;
    server = tls.createServer({
      ALPNProtocols: ["h2", "http/1.1"],
      SNICallback: (servername, cb) => {
        const name = (servername || host).toLowerCase().replace(/\.$/, "");
        if (name !== host) {
          cb(new Error(`server name ${name} differs from the CONNECT host`), undefined);
          return;
        }
        this.contextFor(name).then((ctx) => cb(null, ctx), (e) => cb(e as Error, undefined));
      },
    });
    server.on("secureConnection", (s: tls.TLSSocket) => {
      this.#handshaken.get(parentOf(s) ?? s)?.();
      const meta = this.#meta.get(parentOf(s) ?? s);
      if (!meta) {
        s.destroy();
        return;
      }
      this.#onSecure(s, meta);
    });
    server.on("tlsClientError", (e: Error, s: tls.TLSSocket) => {
      const raw = parentOf(s);
      if (!raw || !this.#timedOut.has(raw)) this.#onError(e.message, raw ? this.#meta.get(raw) : undefined);
      s.destroy();
      raw?.destroy();
    });
    if (this.#servers.size >= MAX_SERVERS) this.#servers.delete(this.#servers.keys().next().value!);
    this.#servers.set(host, server);
    return server;
  }
}
