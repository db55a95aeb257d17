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
  /**
   * Made by the first {@linkcode ConnScope.open}: the scope of a client connection passed straight to the
   * daemon never dials, and aborting a signal builds an `AbortError` with its stack, about 0.1 ms of the edge's
   * CPU per connection.
   */
  #abort?: AbortController;
  #closed = false;

  /** True once {@linkcode ConnScope.closeAll} ran: no new socket may join. */
  get closed(): boolean {
    return this.#closed;
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

  /** Takes `conn` out of the scope without closing it: something else owns it from now on. */
  release(conn: Deno.Conn): void {
    this.#conns.delete(conn);
  }

  /**
   * Opens a TCP connection to `to` with Nagle off (the edge relays small interactive writes), giving up after
   * `timeoutMs`. Rejects on refusal, timeout or shutdown.
   */
  async open(to: HostPort, timeoutMs: number): Promise<Deno.Conn> {
    if (this.#closed) throw new Deno.errors.Interrupted("the edge is shutting down");
    this.#abort ??= new AbortController();
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
    this.#closed = true;
    this.#abort?.abort();
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

/**
 * A wait's allowance, counted in time this process ran on time: a stretch in which its timers fired late (its
 * event loop busy with hundreds of new connections, or the process starved of CPU) counts as at most
 * {@linkcode LATE_TICK_MS}, since the peer's answer may be waiting unread the whole while.
 */
export interface Budget {
  /** How long the peer may show no progress. */
  silentMs: number;
  /** The most the whole wait may take, progress or not; `silentMs` when absent. */
  totalMs?: number;
  /** A count that grows whenever the peer shows it is alive; none when absent. */
  progress?: () => number;
}

/** How often a budgeted wait looks at the clock. */
const TICK_MS = 50;
/** The most one look at the clock may count, however late it came. */
export const LATE_TICK_MS = 2 * TICK_MS;

/** What a budgeted wait has used so far. */
export interface Spent {
  silent: number;
  total: number;
  progress: number;
}

/** The wait's use after one look at the clock, `elapsedMs` after the last, with the peer's progress now. */
export function spend(spent: Spent, elapsedMs: number, progress: number): Spent {
  const counted = Math.min(Math.max(0, elapsedMs), LATE_TICK_MS);
  return {
    silent: progress !== spent.progress ? 0 : spent.silent + counted,
    total: spent.total + counted,
    progress,
  };
}

/** True once `spent` has used up `budget`. */
export function exhausted(spent: Spent, budget: Budget): boolean {
  return spent.silent >= budget.silentMs || spent.total >= (budget.totalMs ?? budget.silentMs);
}

/**
 * Runs `work` on `conn` but closes `conn` once `budget` is used up, which makes any pending read fail. Used
 * where the edge waits for the daemon, whose answer must not be lost to the edge's own delays.
 */
export async function withBudget<T>(conn: Deno.Conn, budget: Budget, work: Promise<T>): Promise<T> {
  const progress = budget.progress ?? (() => 0);
  let spent: Spent = { silent: 0, total: 0, progress: progress() };
  let last = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    const now = performance.now();
    spent = spend(spent, now - last, progress());
    last = now;
    if (exhausted(spent, budget)) closeQuietly(conn);
    else timer = setTimeout(tick, TICK_MS);
  };
  timer = setTimeout(tick, TICK_MS);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}
