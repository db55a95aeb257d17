/**
 * Outgoing connections of the edge, owned by a scope: one scope per client connection (and one per health
 * check), so that shutting the edge down closes every socket it opened, including connects still pending.
 *
 * @module
 */
import type { HostPort } from "./_target.ts";
import { closeQuietly } from "./_splice.ts";

/** A set of sockets closed together. */
export class ConnScope {
  readonly #conns = new Set<Deno.Conn>();
  readonly #abort = new AbortController();

  /** True once {@linkcode ConnScope.closeAll} ran: no new socket may join. */
  get closed(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Adds a socket the scope did not open itself (the client's). Closes it at once if the scope is closed. */
  adopt(conn: Deno.Conn): Deno.Conn {
    if (this.closed) {
      closeQuietly(conn);
      throw new Deno.errors.Interrupted("the edge is shutting down");
    }
    this.#conns.add(conn);
    return conn;
  }

  /**
   * Opens a TCP connection to `to` with Nagle off (the edge relays small interactive writes), giving up after
   * `timeoutMs`. Rejects on refusal, timeout or shutdown.
   */
  async open(to: HostPort, timeoutMs: number): Promise<Deno.Conn> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    try {
      const conn = await Deno.connect({
        hostname: to.host,
        port: to.port,
        signal: AbortSignal.any([this.#abort.signal, timeout.signal]),
      });
      conn.setNoDelay(true);
      return this.adopt(conn);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes every socket of the scope and aborts pending connects. */
  closeAll(): void {
    this.#abort.abort();
    for (const c of this.#conns) closeQuietly(c);
    this.#conns.clear();
  }
}

/**
 * Runs `work` on `conn` but closes `conn` if it has not finished after `ms`, which makes any pending read on it
 * fail. Used wherever the edge waits for a peer's answer.
 */
export async function withDeadline<T>(conn: Deno.Conn, ms: number, work: Promise<T>): Promise<T> {
  const timer = setTimeout(() => closeQuietly(conn), ms);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}
