/**
 * Tunnels to metered hosts that the edge had to open straight to the provider while the daemon was away
 * (down, restarting, hung). Their traffic is not metered, and a client that keeps its connection open (an
 * editor, a coding agent) would stay unmetered for hours. So they are counted, and once the daemon is healthy
 * again each is closed at its first idle moment, the way any server closes an idle keep-alive connection: the
 * client's next request opens a new connection, which the daemon meters.
 *
 * The traffic is encrypted, so "idle" is read from who spoke last. A tunnel whose client spoke last has a
 * request waiting for its answer (a provider may think for a minute before a non-streamed answer, sending
 * nothing): it is never closed. One whose provider spoke last and has been quiet for a while is between an
 * answer and the next request. Each side answers the other's data with small frames of its own (HTTP/2
 * WINDOW_UPDATE, PING and SETTINGS acknowledgements, tens of bytes as TLS records), so a side takes a turn
 * only with {@linkcode TURN_BYTES} sent since the other side last sent anything. The provider's first two
 * turns are its part of the TLS handshake and, in TLS 1.3, the session tickets it sends once the client has
 * finished, which may follow the first request: they never count as an answer, so the first exchange on a
 * tunnel never makes it closable.
 *
 * @module
 */
import type { UnmeteredSummary } from "../core/edge_state.ts";

/** Default quiet time after which a bypass tunnel counts as idle and may be closed. */
export const RECLAIM_IDLE_MS = 750;

/**
 * Bytes a side must send, since the other last sent any, to take a turn: more than a few flow-control and
 * acknowledgement records, or a TLS 1.3 client's Finished, less than any request or answer.
 */
export const TURN_BYTES = 100;

/** The provider's turns that belong to the TLS handshake (its flight, then its tickets). */
const HANDSHAKE_TURNS = 2;

/** Which end of a tunnel bytes came from. */
export type TunnelSide = "client" | "provider";

/** How often open bypass tunnels are looked at while any exist. */
const SWEEP_MS = 100;

/** What went unmetered since the edge started: the summary `status` reads from `run/edge.json`. */
export type UnmeteredCounts = UnmeteredSummary;

/** One bypass tunnel as the tracker sees it. */
export interface BypassTunnel {
  /** Records `n` bytes sent by `from`. */
  moved(n: number, from: TunnelSide): void;
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
  /** The side whose turn it is; `provider` before anyone has spoken. */
  turn: TunnelSide;
  /** Bytes the other side has sent since `turn`'s side last sent any. */
  challenge: number;
  providerTurns: number;
  /** True from the client's first turn until the provider answers: a request may be waiting. */
  awaiting: boolean;
  close(): void;
}

/**
 * Tracks bypass tunnels and closes them at their first idle moment between an answer and the next request once
 * the daemon is healthy.
 */
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
    const entry: Entry = {
      lastByteAt: this.#now(),
      turn: "provider",
      challenge: 0,
      providerTurns: 0,
      awaiting: false,
      close,
    };
    this.#open.add(entry);
    const at = new Date().toISOString();
    this.#counts.tunnels++;
    this.#counts.first_at ??= at;
    this.#counts.last_at = at;
    this.#dirty = true;
    this.#timer ??= setInterval(() => this.#sweep(), SWEEP_MS);
    return {
      moved: (n, from) => {
        entry.lastByteAt = this.#now();
        this.#counts.bytes += n;
        this.#dirty = true;
        if (from === entry.turn) {
          entry.challenge = 0;
          return;
        }
        if ((entry.challenge += n) < TURN_BYTES) return;
        entry.turn = from;
        entry.challenge = 0;
        if (from === "client") entry.awaiting = true;
        else if (++entry.providerTurns > HANDSHAKE_TURNS) entry.awaiting = false;
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
          if (entry.awaiting || now - entry.lastByteAt < idleMs) continue;
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
