/**
 * Pooled upstream connections: keep-alive HTTP/1.1 connections per provider, whatever the client spoke to us
 * (see `daemon/mod.ts` for why). Each connection honours `[upstream] resolve`, `[upstream] proxy`
 * and `[upstream] ca_file`, and verifies the provider's certificate against the system roots plus that file.
 *
 * @module
 */
import type { OutgoingHttpHeaders } from "node:http";
import tls from "node:tls";
import { MeterError } from "../../core/errors.ts";
import { connectViaProxy, parseProxyUrl, type ProxySettings } from "./proxy.ts";
import { type Address, parseResolveMap, resolveTarget } from "./target.ts";
import { type Lease, UpstreamCall, type UpstreamHandlers } from "./h1_client.ts";
import { UpstreamConn } from "./conn.ts";

/** The `[upstream]` settings, as in config. */
export interface UpstreamSettings {
  /** Extra CA certificates (PEM file) trusted next to the system roots; empty for none. */
  ca_file: string;
  /** `http://host:port` of a proxy to tunnel through; empty for none. */
  proxy: string;
  /** Host → "ip" or "ip:port". */
  resolve: Readonly<Record<string, string>>;
}

/** One request to send upstream. */
export interface UpstreamRequest {
  target: Address;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
}

/** A connection outside the pool (see {@linkcode UpstreamPool.open}); close it with `close()`, not `conn`. */
export interface Tunnel {
  readonly conn: Deno.TlsConn;
  close(): void;
}

/** How long to wait for a TCP + TLS connection to a provider (or the proxy's tunnel), unless told otherwise. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long an idle connection is kept for reuse (less when the provider's `Keep-Alive` says so). */
const IDLE_MS = 30_000;
/** Idle connections kept per provider. */
const MAX_IDLE = 64;

/** Sends requests to providers over pooled keep-alive connections. */
export class UpstreamPool {
  readonly #resolve: ReadonlyMap<string, Partial<Address>>;
  readonly #proxy?: ProxySettings;
  readonly #ca: string[];
  readonly #idle = new Map<string, Set<UpstreamConn>>();
  readonly #live = new Set<UpstreamConn>();
  readonly #tunnels = new Set<Tunnel>();
  // When each idle connection expires, swept by one timer for the whole pool: a timer set and cleared around
  // every request cost more than the rest of the pool's work.
  readonly #expiry = new Map<UpstreamConn, { at: number; drop: () => void }>();
  #sweep?: ReturnType<typeof setTimeout>;
  #sweepAt = Infinity;
  #opened = 0;
  readonly #connectTimeoutMs: number;

  /**
   * `connectTimeoutMs` bounds TCP and TLS together (10 s unless given).
   *
   * @throws {MeterError} when `ca_file` cannot be read or holds no certificate, or `proxy`/`resolve` are
   * malformed.
   */
  constructor(settings: UpstreamSettings, options: { connectTimeoutMs?: number } = {}) {
    this.#connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.#resolve = parseResolveMap(settings.resolve);
    this.#proxy = parseProxyUrl(settings.proxy);
    this.#ca = trustedRoots(settings.ca_file || undefined);
  }

  /** Upstream connections opened so far (pool misses), for the heartbeat and tests. */
  get opened(): number {
    return this.#opened;
  }

  /** Starts a request; the caller writes the body and ends it, and `handlers` hear how it went. */
  request(r: UpstreamRequest, handlers: UpstreamHandlers): UpstreamCall {
    const key = `${r.target.host}:${r.target.port}`;
    const headers = r.headers.host === undefined
      ? { host: r.target.port === 443 ? r.target.host : key, ...r.headers }
      : r.headers;
    return new UpstreamCall({ method: r.method, path: r.path, headers }, {
      acquire: (fresh) => this.#acquire(key, r.target, fresh),
      release: (socket, idleMs) => this.#release(key, socket, idleMs),
    }, handlers);
  }

  /** Closes every connection, idle or busy. */
  close(): void {
    clearTimeout(this.#sweep);
    this.#sweep = undefined;
    this.#sweepAt = Infinity;
    this.#expiry.clear();
    for (const s of [...this.#live]) s.close();
    this.#live.clear();
    for (const t of [...this.#tunnels]) t.close();
    this.#tunnels.clear();
    this.#idle.clear();
  }

  // An idle connection is handed over at once, so a request on a warm pool goes out in the same turn.
  #acquire(key: string, target: Address, fresh: boolean): Lease | Promise<Lease> {
    const idle = this.#idle.get(key);
    if (!fresh && idle) {
      for (const socket of idle) {
        idle.delete(socket);
        this.#expiry.delete(socket);
        if (!socket.closed) return { socket, reused: true };
      }
    }
    return this.#connect(target).then((socket) => ({ socket, reused: false }));
  }

  #release(key: string, socket: UpstreamConn, idleMs = IDLE_MS): void {
    let idle = this.#idle.get(key);
    if (!idle) this.#idle.set(key, idle = new Set());
    if (idle.size >= MAX_IDLE || socket.closed) {
      socket.close();
      return;
    }
    // While idle, any byte or end from the server means the connection is no longer usable.
    const drop = () => {
      idle.delete(socket);
      this.#expiry.delete(socket);
      socket.close();
    };
    const at = Date.now() + Math.min(idleMs, IDLE_MS);
    this.#expiry.set(socket, { at, drop });
    socket.own({ onData: drop, onEnd: drop });
    idle.add(socket);
    if (at < this.#sweepAt) this.#armSweep(at);
  }

  #armSweep(at: number): void {
    clearTimeout(this.#sweep);
    this.#sweepAt = at;
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      this.#sweepAt = Infinity;
      const now = Date.now();
      let next = Infinity;
      for (const { at, drop } of [...this.#expiry.values()]) {
        if (at <= now) drop();
        else next = Math.min(next, at);
      }
      if (next !== Infinity) this.#armSweep(next);
    }, Math.max(0, at - Date.now()));
  }

  /**
   * A connection of its own to `target`, outside the pool, for a request that upgrades to another protocol
   * (WebSocket): the caller reads and writes it raw and closes it. {@linkcode UpstreamPool.close} closes it too.
   */
  async open(target: Address): Promise<Tunnel> {
    const conn = await this.#dial(target);
    const tunnel: Tunnel = {
      conn,
      close: () => {
        if (!this.#tunnels.delete(tunnel)) return;
        try {
          conn.close();
        } catch { /* lost already */ }
      },
    };
    this.#tunnels.add(tunnel);
    return tunnel;
  }

  async #connect(target: Address): Promise<UpstreamConn> {
    const conn = await this.#dial(target);
    const socket: UpstreamConn = new UpstreamConn(conn, () => this.#live.delete(socket));
    this.#live.add(socket);
    return socket;
  }

  async #dial(target: Address): Promise<Deno.TlsConn> {
    this.#opened++;
    const address = resolveTarget(target, this.#resolve);
    const where = `connecting to ${target.host}:${target.port} failed`;
    // One deadline for the whole of TCP and TLS. What it closes changes hands: `startTls` takes the TCP
    // connection's resource over, and closing that afterwards would throw in the timer, where no one catches.
    let open: { close(): void } | undefined;
    let late = false;
    const tooLate = new Error(`${where}: no answer within ${this.#connectTimeoutMs / 1000} s`);
    let expire!: (e: Error) => void;
    const deadline = new Promise<never>((_, reject) => expire = reject);
    // Raced below, but it may also fire while nothing awaits it (inside `startTls`).
    deadline.catch(() => {});
    const timer = setTimeout(() => {
      late = true;
      expire(tooLate);
      try {
        open?.close();
      } catch { /* already closed */ }
    }, this.#connectTimeoutMs);
    try {
      const connecting = this.#proxy
        ? connectViaProxy(this.#proxy, address, this.#connectTimeoutMs)
        : Deno.connect({ hostname: address.host, port: address.port });
      // A connection that comes after the deadline is closed at once, not left open.
      connecting.then((tcp) => late && tcp.close(), () => {});
      const tcp = await Promise.race([connecting, deadline]);
      open = tcp;
      tcp.setNoDelay(true);
      const conn = await Deno.startTls(tcp, {
        hostname: target.host,
        caCerts: this.#ca,
        alpnProtocols: ["http/1.1"],
      });
      open = conn;
      await Promise.race([conn.handshake(), deadline]);
      return conn;
    } catch (e) {
      try {
        open?.close();
      } catch { /* closed by the deadline */ }
      throw late ? tooLate : new Error(`${where}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * What each provider connection is given to trust on top of Deno's default roots: the system's roots that
 * are not among them (a company's own CA) and the certificates of `file`. Every connection parses what it is
 * given and keeps its own copy: all 140-odd system roots cost about 1.2 ms and 80 KB per connection, which a
 * burst of 500 streams pays 500 times, for roots the default store already holds.
 */
function trustedRoots(file?: string): string[] {
  const node = tls as unknown as {
    getCACertificates?: (kind: string) => string[];
    rootCertificates?: string[];
  };
  const system = rootsBeyond(node.getCACertificates?.("system") ?? [], node.rootCertificates ?? []);
  if (!file) return system;
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    throw new MeterError(`[upstream] ca_file ${file} cannot be read: ${(e as Error).message}`, {
      hint: "Point ca_file at a PEM file of CA certificates, or remove the key.",
    });
  }
  const extra = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!extra.length) {
    throw new MeterError(`[upstream] ca_file ${file} holds no PEM certificate`, {
      hint: "The file must contain -----BEGIN CERTIFICATE----- blocks.",
    });
  }
  return [...new Set([...system, ...extra])];
}

/** The certificates of `roots` (PEM) that `bundled` does not hold, compared by their bytes, not their layout. */
export function rootsBeyond(roots: readonly string[], bundled: readonly string[]): string[] {
  const body = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, "");
  const known = new Set(bundled.map(body));
  return roots.filter((pem) => !known.has(body(pem)));
}
