/**
 * Handing a metered `CONNECT` to the daemon: the edge opens a connection to the intercept port and repeats the
 * `CONNECT` with who the client is and the project it asked for; the daemon answers `200` and from then on
 * the two sockets are spliced. Any failure before that `200` is reported as undefined so the caller can tunnel
 * the same `CONNECT` directly and the client never notices.
 *
 * @module
 */
import { type Budget, type ConnScope, withBudget } from "./_conn.ts";
import { headerValue, parseResponseHead, readHead, serializeHead } from "./_head.ts";
import { closeQuietly, writeAll } from "./_splice.ts";
import { formatHostPort, type HostPort } from "./_target.ts";

/**
 * How long the daemon may stay silent on a handover before the edge tunnels instead (docs/architecture.md):
 * silent meaning it answered no handover and sent no byte on any handed-over connection in that time.
 */
export const HANDOVER_TIMEOUT_MS = 1000;

/**
 * The longest a handover may take while the daemon keeps answering others. Hundreds of connections opened at
 * once queue behind each other in a busy daemon; each answer it gives shows it alive, so the ones still
 * waiting are given more time, up to this, rather than going unmetered. A hung daemon answers nothing and
 * still loses its connections after {@linkcode HANDOVER_TIMEOUT_MS}.
 */
export const HANDOVER_BUSY_LIMIT_MS = 5000;

/**
 * How long a refused connection is retried. A daemon being replaced lets go of its port a moment before its
 * successor binds it (milliseconds, more on a loaded machine); a `CONNECT` arriving in between waits for the
 * successor instead of going unmetered. A daemon that is really gone costs this only to the connections that
 * arrive before the health cache marks it down.
 */
export const REFUSED_RETRY_MS = 1000;

/** What the daemon is told about a handed-over connection. */
export interface HandoverRequest {
  target: HostPort;
  /** The client's `ip:port`, which the daemon maps to a process for attribution. */
  client: string;
  /** The project slug from the client's proxy credentials, if any. */
  project?: string;
  /** The token under which the edge offers to pass the client's socket itself (edge/_pass.ts). */
  pass?: string;
  /**
   * For a socket passed without a handover: the `CLOCK_MONOTONIC` millisecond after which the daemon must not
   * take it (edge/_pass.ts).
   */
  deadline?: number;
}

/**
 * An accepted handover: the daemon's socket, any bytes it sent after its `200`, and where to pass the client's
 * socket when the daemon took up the offer.
 */
export interface Handover {
  conn: Deno.Conn;
  early: Uint8Array;
  passTo?: string;
  /** The daemon takes sockets passed to `passTo` with their `CONNECT` head, without a handover first. */
  passDirect?: boolean;
  /** The daemon's receiver at `passTo` watches a bell that its senders ring after each socket. */
  passBell?: boolean;
}

/**
 * The daemon's signs of life, shared by every handover of one edge: handovers it accepted, and reads of its
 * bytes on connections handed over earlier. A burst of new connections keeps a daemon busy with their TLS
 * handshakes after it has answered every `CONNECT` it has read: its handshake bytes show it alive while a late
 * `CONNECT` waits its turn. A hung daemon sends nothing.
 */
export class DaemonPulse {
  #beats = 0;

  /** Notes an accepted handover, or bytes from the daemon. */
  beat(): void {
    this.#beats++;
  }

  /** Signs of life so far. */
  get beats(): number {
    return this.#beats;
  }
}

/** The head the edge sends the daemon for `request`. */
export function handoverHead(request: HandoverRequest): Uint8Array {
  const authority = formatHostPort(request.target);
  const headers: [string, string][] = [["Host", authority], ["x-halton-client", request.client]];
  if (request.project) headers.push(["x-halton-project", request.project]);
  if (request.pass) headers.push(["x-halton-pass", request.pass]);
  if (request.deadline !== undefined) headers.push(["x-halton-deadline", request.deadline.toFixed(3)]);
  return serializeHead(`CONNECT ${authority} HTTP/1.1`, headers);
}

/** How long a handover waits: see {@linkcode HANDOVER_TIMEOUT_MS} and {@linkcode HANDOVER_BUSY_LIMIT_MS}. */
export interface HandoverTiming {
  timeoutMs: number;
  limitMs: number;
}

const DEFAULT_TIMING: HandoverTiming = { timeoutMs: HANDOVER_TIMEOUT_MS, limitMs: HANDOVER_BUSY_LIMIT_MS };

/**
 * Offers `request` to the daemon on `127.0.0.1:interceptPort`. Undefined when the daemon refuses the
 * connection, closes it, errors, answers anything but `200`, accepts no handover at all for
 * `timing.timeoutMs`, or leaves this one unanswered for `timing.limitMs` (both counted as {@linkcode Budget}
 * says). An accepted handover is noted in `pulse`.
 *
 * A connection refused, or reset before any answer, is tried again for up to {@linkcode REFUSED_RETRY_MS}: a
 * daemon handing over to its successor closes its listener, and a connection still waiting in that listener's
 * queue is reset without having been read, so offering it again (to the successor) is safe. A daemon that read
 * the `CONNECT` and hung up meant it: that is not tried again.
 */
export async function handOver(
  scope: ConnScope,
  interceptPort: number,
  request: HandoverRequest,
  pulse: DaemonPulse,
  timing: HandoverTiming = DEFAULT_TIMING,
): Promise<Handover | undefined> {
  const started = performance.now();
  const retry = async () => {
    if (scope.closed || performance.now() - started > REFUSED_RETRY_MS) return false;
    await new Promise((r) => setTimeout(r, 20));
    return true;
  };
  while (true) {
    let conn: Deno.Conn;
    try {
      conn = await scope.open({ host: "127.0.0.1", port: interceptPort }, timing.timeoutMs);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionRefused && await retry()) continue;
      return undefined;
    }
    let unanswered = false;
    try {
      const budget: Budget = {
        silentMs: timing.timeoutMs,
        totalMs: timing.limitMs,
        progress: () => pulse.beats,
      };
      const read = await withBudget(
        conn,
        budget,
        (async () => {
          await writeAll(conn, handoverHead(request));
          return await readHead(conn);
        })(),
      );
      const answer = read.kind === "head" ? parseResponseHead(read.head) : undefined;
      if (read.kind === "head" && answer?.status === 200) {
        pulse.beat();
        return {
          conn,
          early: read.rest,
          passTo: headerValue(answer.headers, "x-halton-pass"),
          passDirect: headerValue(answer.headers, "x-halton-pass-direct") === "1",
          passBell: headerValue(answer.headers, "x-halton-pass-bell") === "1",
        };
      }
    } catch (e) {
      unanswered = e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe;
    }
    closeQuietly(conn);
    if (!unanswered || !await retry()) return undefined;
  }
}
