/**
 * Tunnels to metered hosts that the edge had to open straight to the provider while the daemon was away
 * (down, restarting, hung). Their traffic is not metered, and a client that keeps its connection open (an
 * editor, a coding agent) would stay unmetered for hours. So they are counted, and once the daemon is healthy
 * again each is closed at its first idle moment (no bytes either way for a while), the way any server closes
 * an idle keep-alive connection: the client's next request opens a new connection, which the daemon meters.
 *
 * @module
 */
import type { UnmeteredSummary } from "../core/edge_state.ts";

/** Default quiet time after which a bypass tunnel counts as idle and may be closed. */
export const RECLAIM_IDLE_MS = 750;

/** How often open bypass tunnels are looked at while any exist. */
const SWEEP_MS = 100;

/** What went unmetered since the edge started: the summary `status` reads from `run/edge.json`. */
export type UnmeteredCounts = UnmeteredSummary;

/** One bypass tunnel as the tracker sees it. */
export interface BypassTunnel {
  /** Records `n` bytes moved (either way). */
  moved(n: number): void;
  /** Forgets the tunnel once it has ended on its own. */
  ended(): void;
}

/** Options of {@linkcode BypassTracker}. */
export interface BypassOptions {
  /** Asks whether the daemon is healthy (the edge's health cache). */
  healthy(): Promise<boolean>;
  /** Quiet time that makes a tunnel idle (default {@linkcode RECLAIM_IDLE_MS}). */
  idleMs?: number;
  /** Hears each change of the counts, at most once per sweep. */
  onChange?(counts: Readonly<UnmeteredCounts>): void;
  now?: () => number;
}

interface Entry {
  lastByteAt: number;
  close(): void;
}

/** Tracks bypass tunnels and closes them at their first idle moment once the daemon is healthy. */
export class BypassTracker {
  readonly #open = new Set<Entry>();
  readonly #options: BypassOptions;
  readonly #now: () => number;
  readonly #counts: UnmeteredCounts = { tunnels: 0, bytes: 0, open: 0, reclaimed: 0 };
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;
  #dirty = false;

  constructor(options: BypassOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The counts so far. */
  get counts(): Readonly<UnmeteredCounts> {
    return { ...this.#counts, open: this.#open.size };
  }

  /** Starts tracking a tunnel; `close` ends both of its sockets. */
  add(close: () => void): BypassTunnel {
    const entry: Entry = { lastByteAt: this.#now(), close };
    this.#open.add(entry);
    const at = new Date().toISOString();
    this.#counts.tunnels++;
    this.#counts.first_at ??= at;
    this.#counts.last_at = at;
    this.#dirty = true;
    this.#timer ??= setInterval(() => this.#sweep(), SWEEP_MS);
    return {
      moved: (n) => {
        entry.lastByteAt = this.#now();
        this.#counts.bytes += n;
        this.#dirty = true;
      },
      ended: () => this.#forget(entry),
    };
  }

  /** Stops sweeping; the tunnels themselves are closed by their owners. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #forget(entry: Entry): void {
    if (this.#open.delete(entry)) this.#dirty = true;
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      // Asked on every sweep: clients on kept tunnels send no new CONNECT, so nothing else would notice.
      if (this.#open.size && await this.#options.healthy()) {
        const idleMs = this.#options.idleMs ?? RECLAIM_IDLE_MS;
        const now = this.#now();
        for (const entry of [...this.#open]) {
          if (now - entry.lastByteAt < idleMs) continue;
          this.#counts.reclaimed++;
          this.#forget(entry);
          entry.close();
        }
      }
    } finally {
      this.#sweeping = false;
    }
    if (this.#dirty) {
      this.#dirty = false;
      this.#options.onChange?.(this.counts);
    } else if (this.#open.size === 0) this.stop();
  }
}
