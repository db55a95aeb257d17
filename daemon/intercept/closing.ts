/**
 * How the daemon's client connections close, whichever HTTP version they speak: after a stretch without a
 * request, and with their last bytes given a moment to leave.
 *
 * @module
 */
import type { Duplex } from "node:stream";

/** How long a kept-alive connection may sit idle between requests. */
const IDLE_MS = 120_000;
/** How long an ending connection waits for its peer to close before it is destroyed. */
const LINGER_MS = 1000;

/**
 * How much of a request body still coming after its response ended is read and dropped, and for how long,
 * before the stream (HTTP/2) or the connection (HTTP/1.1) is ended. A provider may refuse a large prompt
 * before it has all arrived; clients that send their whole body before they read the answer (Python's
 * `http.client`), or that drop an answer whose stream is reset at once (curl 7.88 over HTTP/2), would
 * otherwise lose that answer.
 */
export const DISCARD_BYTES = 16 * 1024 * 1024;
export const DISCARD_MS = 10_000;

/**
 * Ends (`expire`) a connection that waited for its next request for the whole idle time. One timer per
 * connection that re-arms itself, rather than a new timer for every request: when it fires it acts only if `waiting()` has
 * held since {@linkcode IdleTimer.waitingSinceNow} was last called.
 */
export class IdleTimer {
  readonly #waiting: () => boolean;
  readonly #expire: () => void;
  #since = Date.now();
  #timer: ReturnType<typeof setTimeout>;

  /** When the connection started waiting for its next request. */
  get since(): number {
    return this.#since;
  }

  constructor(waiting: () => boolean, expire: () => void) {
    this.#waiting = waiting;
    this.#expire = expire;
    this.#timer = setTimeout(this.#check, IDLE_MS);
  }

  /** The connection starts waiting for its next request now. */
  waitingSinceNow(): void {
    this.#since = Date.now();
  }

  /** The connection closed or was taken over. */
  stop(): void {
    clearTimeout(this.#timer);
  }

  #check = () => {
    const left = this.#waiting() ? IDLE_MS - (Date.now() - this.#since) : IDLE_MS;
    if (left <= 0) this.#expire();
    else this.#timer = setTimeout(this.#check, left);
  };
}

/**
 * Ends `socket`, with `last` as its last bytes, and destroys it if its peer has not closed within a second: the
 * bytes get time to leave, and a peer that never closes does not hold the connection.
 */
export function endSoon(socket: Duplex, last?: string | Uint8Array): void {
  if (last === undefined) socket.end();
  else socket.end(last);
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once("close", () => clearTimeout(linger));
}
