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
 * Once a daemon has said it can (`x-halton-pass-direct` on a handover's answer), the edge passes its next
 * sockets with their `CONNECT` head, without a handover first: one message instead of a connection to the
 * daemon and a round trip on it. The daemon takes such a socket by answering the client's `CONNECT` itself,
 * only before a deadline the edge sets on the machine's monotonic clock, and then replies its token so that
 * the edge need not wait. A socket neither replied to nor written to by then (the daemon hung, or too busy to
 * read its queue) is the edge's again: a daemon reading it later sees the deadline passed and gives it back
 * untouched. The edge writes nothing to it before then, so anything written is the daemon's answer.
 *
 * @module
 */
import type { SocketPassing, SocketSender } from "../core/socket_pass.ts";
import { MAX_PAYLOAD_BYTES, PASS_TOKEN_CHARS as TOKEN_CHARS } from "../core/socket_pass.ts";
import { randomHex } from "../core/random.ts";
import { closeQuietly } from "./_splice.ts";
import { concat } from "./_head.ts";
import { HANDOVER_TIMEOUT_MS, handoverHead, type HandoverRequest } from "./_handover.ts";

/** How often held copies are looked at. */
const SWEEP_MS = 1000;

/**
 * How long after a direct pass's deadline the edge waits for the daemon's reply, or its answer to the client,
 * before serving the client itself. The daemon checks the deadline and answers in one synchronous run: this
 * margin only has to outlast a pause between those two calls.
 */
export const DIRECT_MARGIN_MS = 250;

/**
 * What became of a socket passed without a handover: taken by the daemon; not sent (no daemon to send it to,
 * one that takes no more, or one that went before replying), so a handover may still be tried; or not taken in
 * time, so the edge serves the client itself.
 */
export type DirectOutcome = "taken" | "unsent" | "late";

/** A client connection that can be passed: its descriptor, and the token naming it to the daemon. */
export interface PassOffer {
  fd: number;
  token: string;
}

const TOKEN_DECODER = new TextDecoder();

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
  readonly #directWaitMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The receiver that takes sockets without a handover, as the last handover's answer named it. */
  #direct: string | undefined;
  /** The receivers that watch a bell (`x-halton-pass-bell`), rung after each socket sent to them. */
  readonly #ringing = new Set<string>();
  /** Direct passes waiting for the daemon's reply, by token: the socket, its receiver, and what settles them. */
  readonly #unanswered = new Map<
    string,
    { fd: number; path: string; settle: (outcome: DirectOutcome) => void }
  >();

  /**
   * `open` gives the means to pass sockets, asked at the first offer (opening costs memory). A direct pass's
   * deadline is `directWaitMs` after it is sent.
   */
  constructor(open: () => SocketPassing | undefined, sweepMs = SWEEP_MS, directWaitMs = HANDOVER_TIMEOUT_MS) {
    this.#open = open;
    this.#sweepMs = sweepMs;
    this.#directWaitMs = directWaitMs;
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
    this.#hold(offer.fd, conn, path);
    return true;
  }

  #hold(fd: number, conn: Deno.Conn, path: string): void {
    this.#held.set(fd, { conn, path });
    this.#timer ??= setInterval(() => this.sweep(), this.#sweepMs);
  }

  /** A daemon's reply: the token of a socket it took. */
  #replied(payload: Uint8Array): void {
    this.#unanswered.get(TOKEN_DECODER.decode(payload))?.settle("taken");
  }

  /**
   * Notes what a handover's answer said about the daemon's receiver: `path` takes sockets without a handover
   * when `direct` (otherwise the next sockets are handed over first), and watches a bell when `bell`.
   */
  learn(path: string | undefined, direct: boolean, bell = false): void {
    this.#direct = direct ? path : undefined;
    if (path !== undefined && bell) this.#ringing.add(path);
  }

  /** Whether a socket may be passed without a handover: a daemon has said it takes them. */
  get direct(): boolean {
    return this.#direct !== undefined && !!this.#passing;
  }

  /**
   * Passes `conn` with `request`'s `CONNECT` head (a deadline and `offer`'s token added) and `rest` to the
   * receiver {@linkcode SocketPasser.learn} named, and waits for the daemon's reply. Taken, the edge's copy is
   * held and quiet; otherwise the connection is untouched and the caller's.
   */
  async passDirect(
    conn: Deno.Conn,
    offer: PassOffer,
    request: HandoverRequest,
    rest: Uint8Array,
  ): Promise<DirectOutcome> {
    const path = this.#direct;
    // Only where the kernel can say whether the daemon has answered on it: nothing written to it yet.
    if (path === undefined || !this.#passing || this.#passing.written(offer.fd) !== false) return "unsent";
    const deadline = this.#passing.now() + this.#directWaitMs;
    const payload = concat(handoverHead({ ...request, pass: offer.token, deadline }), rest);
    if (payload.length > MAX_PAYLOAD_BYTES) return "unsent";
    const sender = this.#senderTo(path);
    const answered = Promise.withResolvers<DirectOutcome>();
    this.#unanswered.set(offer.token, { fd: offer.fd, path, settle: answered.resolve });
    if (!sender?.send(offer.fd, payload)) {
      // That daemon takes no more (it is stopping) or is gone: the next handover finds who has the port now.
      this.#unanswered.delete(offer.token);
      if (this.#direct === path) this.#direct = undefined;
      return "unsent";
    }
    const timer = setTimeout(() => {
      sender.takeReplies();
      // A reply the daemon could not send (the edge's queue full) leaves its answer to the client to show.
      answered.resolve(this.#passing?.written(offer.fd) ? "taken" : "late");
    }, this.#directWaitMs + DIRECT_MARGIN_MS);
    const outcome = await answered.promise;
    clearTimeout(timer);
    this.#unanswered.delete(offer.token);
    if (outcome !== "taken") return outcome;
    // Taken by a daemon that has gone since: its client's connection ends, as that daemon's others did.
    if (this.#senders.get(path) !== sender) closeQuietly(conn);
    else {
      this.#hold(offer.fd, conn, path);
      this.quiet(offer);
    }
    return outcome;
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
    sender = this.#passing?.connect(path, (reply) => this.#replied(reply), this.#ringing.has(path));
    if (!sender) return undefined;
    this.#senders.set(path, sender);
    const it = sender;
    it.gone.then(() => {
      if (this.#senders.get(path) === it) this.#senders.delete(path);
      this.#ringing.delete(path);
      if (this.#direct === path) this.#direct = undefined;
      // A socket still unanswered was taken only if the daemon answered its client before it went.
      for (const pass of this.#unanswered.values()) {
        if (pass.path === path) pass.settle(this.#passing?.written(pass.fd) ? "taken" : "unsent");
      }
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
    for (const pass of this.#unanswered.values()) pass.settle("unsent");
    this.#release(() => true);
    const senders = [...this.#senders.values()];
    this.#senders.clear();
    await Promise.all(senders.map((s) => s.close()));
    this.#passing?.close();
    this.#passing = null;
  }
}
