/**
 * Giving a metered client's socket itself to the daemon (Linux), instead of relaying its bytes: the daemon
 * then reads and writes the client's connection directly, and the edge moves none of its bytes.
 *
 * The edge cannot simply close its own copy once the daemon has one: Deno shuts a TCP connection's sending
 * side when it closes it, which would end the client's connection under the daemon. So the edge holds its
 * copy untouched (out of its event loop, so that the client's packets to the daemon do not wake it), and a
 * sweep once a second closes it once the daemon has ended the connection's sending side (then that shutdown
 * changes nothing). A daemon that goes (stopped, crashed) ends its connection to the edge: the edge closes
 * that daemon's copies at once, ending its clients' connections as a relay would.
 *
 * @module
 */
import type { SocketPassing, SocketSender } from "../core/socket_pass.ts";
import { MAX_PAYLOAD_BYTES, PASS_TOKEN_CHARS as TOKEN_CHARS } from "../core/socket_pass.ts";
import { randomHex } from "../core/random.ts";
import { closeQuietly } from "./_splice.ts";

/** How often held copies are looked at. */
const SWEEP_MS = 1000;

/** A client connection that can be passed: its descriptor, and the token naming it to the daemon. */
export interface PassOffer {
  fd: number;
  token: string;
}

/** A copy held: the edge's connection, the daemon's receiver, and what puts it back in the event loop. */
interface Held {
  conn: Deno.Conn;
  path: string;
  rewatch?: () => void;
}

/** The client connections passed to a daemon and still held, with the sweep that lets them go. */
export class SocketPasser {
  readonly #open: () => SocketPassing | undefined;
  /** Opened at the first offer; null once it could not be. */
  #passing: SocketPassing | null | undefined;
  /** By descriptor: never the one an offer looks for. */
  readonly #held = new Map<number, Held>();
  readonly #senders = new Map<string, SocketSender>();
  readonly #sweepMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `open` gives the means to pass sockets, asked at the first offer (opening costs memory). */
  constructor(open: () => SocketPassing | undefined, sweepMs = SWEEP_MS) {
    this.#open = open;
    this.#sweepMs = sweepMs;
  }

  /** Copies held: passed connections the daemon has not finished yet. */
  get held(): number {
    return this.#held.size;
  }

  /** The offer for `conn`, an IPv4 TCP connection accepted by this process; undefined when it has none. */
  offer(conn: Deno.Conn): PassOffer | undefined {
    const local = conn.localAddr as Deno.NetAddr;
    const remote = conn.remoteAddr as Deno.NetAddr;
    if (local.transport !== "tcp") return undefined;
    if (this.#passing === undefined) this.#passing = this.#open() ?? null;
    const fd = this.#passing?.descriptorOf(
      { ip: local.hostname, port: local.port },
      { ip: remote.hostname, port: remote.port },
      this.#held,
    );
    if (fd === undefined) return undefined;
    return { fd, token: randomHex(TOKEN_CHARS / 2) };
  }

  /**
   * Passes `conn` to the receiver at `path` with `offer`'s token and `rest` (bytes the client sent after its
   * `CONNECT`), and holds the edge's copy. False when it could not be passed: then nothing was sent and the
   * caller relays as before.
   */
  pass(path: string, conn: Deno.Conn, offer: PassOffer, rest: Uint8Array): boolean {
    if (!this.#passing || TOKEN_CHARS + rest.length > MAX_PAYLOAD_BYTES) return false;
    const payload = new Uint8Array(TOKEN_CHARS + rest.length);
    payload.set(new TextEncoder().encode(offer.token));
    payload.set(rest, TOKEN_CHARS);
    const sender = this.#senderTo(path);
    if (!sender?.send(offer.fd, payload)) return false;
    this.#held.set(offer.fd, { conn, path });
    this.#timer ??= setInterval(() => this.sweep(), this.#sweepMs);
    return true;
  }

  /**
   * Stops the copy passed with `offer` from waking the edge at each packet the client sends the daemon. Called
   * once the edge has written its last to it: a write can wait on the event loop.
   */
  quiet(offer: PassOffer): void {
    const held = this.#held.get(offer.fd);
    if (held && !held.rewatch) held.rewatch = this.#passing?.unwatch(offer.fd);
  }

  /** The connection to the daemon at `path`, opened at the first pass and kept until it goes. */
  #senderTo(path: string): SocketSender | undefined {
    let sender = this.#senders.get(path);
    if (sender) return sender;
    sender = this.#passing?.connect(path);
    if (!sender) return undefined;
    this.#senders.set(path, sender);
    const it = sender;
    it.gone.then(() => {
      if (this.#senders.get(path) === it) this.#senders.delete(path);
      this.#release((_fd, held) => held.path === path);
    });
    return sender;
  }

  /** Closes the copies `done` picks. */
  #release(done: (fd: number, held: Held) => boolean): void {
    for (const [fd, held] of this.#held) {
      if (!done(fd, held)) continue;
      this.#held.delete(fd);
      held.rewatch?.();
      closeQuietly(held.conn);
    }
    if (this.#held.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Closes the copies whose connections the daemon has ended. */
  sweep(): void {
    this.#release((fd) => this.#passing!.sendingEnded(fd));
  }

  /**
   * Closes every copy held (ending those connections, as closing a relay would) and the connections to the
   * daemons.
   */
  async close(): Promise<void> {
    this.#release(() => true);
    const senders = [...this.#senders.values()];
    this.#senders.clear();
    await Promise.all(senders.map((s) => s.close()));
    this.#passing?.close();
    this.#passing = null;
  }
}
