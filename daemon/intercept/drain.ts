/**
 * The daemon's drain on a planned stop (restart, upgrade, a service manager's SIGTERM): the listeners close at
 * once, so a successor can bind the ports, while the connections already open finish what they started.
 * HTTP/1.1 connections answer `connection: close` on their next response and idle ones are closed; HTTP/2
 * connections get GOAWAY. The servers consult one {@linkcode Drain}, so they stay ignorant of why.
 *
 * @module
 */

/** How long an HTTP/1.1 connection must have been idle during a drain before it is closed. */
export const DRAIN_IDLE_MS = 1000;

/** Whether the daemon is draining, and a way to hear when it starts. */
export class Drain {
  #draining = false;
  readonly #listeners = new Set<() => void>();

  /** True once {@linkcode Drain.start} ran. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Calls `cb` when the drain starts (at once when it has); returns a function that forgets `cb`. */
  onStart(cb: () => void): () => void {
    if (this.#draining) {
      cb();
      return () => {};
    }
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** Starts the drain; safe to call twice. */
  start(): void {
    if (this.#draining) return;
    this.#draining = true;
    for (const cb of [...this.#listeners]) cb();
    this.#listeners.clear();
  }
}
