/**
 * Is the daemon there? `GET /health` on its api port, answered `{"status":"ok"}`, cached for 1000 ms while
 * the daemon is healthy and 200 ms while it is not (docs/architecture.md), with concurrent questions sharing
 * one check. Only metered `CONNECT`s ask, so unmetered traffic never waits for it, and they ask only while the
 * daemon has not been seen healthy or is marked down ({@linkcode HealthCache.worthHandingOver}).
 *
 * @module
 */
import { ConnScope, withBudget } from "./_conn.ts";
import { headerValue, parseResponseHead } from "./_head.ts";
import { closeQuietly, writeAll } from "./_splice.ts";
import { REFUSED_RETRY_MS } from "./_handover.ts";

/**
 * How long one health check may take before the daemon counts as down, counted as `Budget` says (`_conn.ts`):
 * an edge busy with a burst of new connections does not blame the daemon for its own delay.
 */
export const HEALTH_TIMEOUT_MS = 300;

const MAX_ANSWER_BYTES = 16 * 1024;

/**
 * One `GET /health` to `127.0.0.1:port`, spoken by hand rather than with `fetch` because `fetch` honours
 * `HTTP_PROXY`, which may point at this very edge. True only for a `200` whose JSON body has `status: "ok"`.
 *
 * A refused or reset connection is tried again for up to {@linkcode REFUSED_RETRY_MS}, longer than one check
 * may take, since a daemon being replaced is briefly not there; with `retry` false (the daemon was last seen
 * down, and each new connection waits on this check) it counts at once.
 */
export async function checkHealth(
  port: number,
  timeoutMs = HEALTH_TIMEOUT_MS,
  retry = true,
): Promise<boolean> {
  const scope = new ConnScope();
  const started = performance.now();
  const retryUntil = started + (retry ? Math.max(timeoutMs, REFUSED_RETRY_MS) - 20 : 0);
  try {
    while (true) {
      const { conn, attemptAt } = await openRetryingRefused(scope, port, timeoutMs, retryUntil);
      const left = Math.max(1, timeoutMs - (performance.now() - attemptAt));
      try {
        const answer = await withBudget(conn, { silentMs: left }, exchange(conn, port));
        return answer !== undefined && isOk(answer);
      } catch (e) {
        // Queued on the listener of a daemon handing over, which resets it: its successor answers next.
        if (!(e instanceof Deno.errors.ConnectionReset) || performance.now() > retryUntil) throw e;
      }
    }
  } catch {
    return false;
  } finally {
    scope.closeAll();
  }
}

/** Connects within `timeoutMs`, retrying a refusal until `retryUntil`. Says when the attempt that connected began. */
async function openRetryingRefused(
  scope: ConnScope,
  port: number,
  timeoutMs: number,
  retryUntil: number,
): Promise<{ conn: Deno.Conn; attemptAt: number }> {
  while (true) {
    const attemptAt = performance.now();
    try {
      return { conn: await scope.open({ host: "127.0.0.1", port }, timeoutMs), attemptAt };
    } catch (e) {
      if (!(e instanceof Deno.errors.ConnectionRefused) || performance.now() > retryUntil) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function exchange(conn: Deno.Conn, port: number): Promise<Uint8Array | undefined> {
  const request = `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json\r\n` +
    "Connection: close\r\n\r\n";
  await writeAll(conn, new TextEncoder().encode(request));
  const buf = new Uint8Array(MAX_ANSWER_BYTES);
  let len = 0;
  while (len < buf.length) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) break;
    len += n;
  }
  closeQuietly(conn);
  return len < buf.length ? buf.subarray(0, len) : undefined;
}

function isOk(answer: Uint8Array): boolean {
  let end = -1;
  for (let i = 0; i + 3 < answer.length; i++) {
    if (answer[i] === 13 && answer[i + 1] === 10 && answer[i + 2] === 13 && answer[i + 3] === 10) {
      end = i + 4;
      break;
    }
  }
  const head = end === -1 ? undefined : parseResponseHead(answer.subarray(0, end));
  if (!head || head.status !== 200) return false;
  let body = answer.subarray(end);
  if (/chunked/i.test(headerValue(head.headers, "transfer-encoding") ?? "")) {
    const joined = dechunk(body);
    if (!joined) return false;
    body = joined;
  }
  try {
    const json = JSON.parse(new TextDecoder().decode(body));
    return typeof json === "object" && json !== null && json.status === "ok";
  } catch {
    return false;
  }
}

/** Joins a complete chunked body; undefined when it is malformed or cut short. */
function dechunk(body: Uint8Array): Uint8Array | undefined {
  const text = new TextDecoder("latin1").decode(body);
  let out = "";
  let pos = 0;
  while (true) {
    const eol = text.indexOf("\r\n", pos);
    if (eol === -1) return undefined;
    const size = parseInt(text.slice(pos, eol).split(";")[0], 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Uint8Array.from(out, (c) => c.charCodeAt(0));
    out += text.slice(eol + 2, eol + 2 + size);
    pos = eol + 2 + size + 2;
  }
}

/** The cache's timing; defaults 1000 ms healthy, 200 ms not. */
export interface HealthTiming {
  /** How long a healthy answer is trusted. */
  healthyTtlMs: number;
  /** How long an unhealthy answer is trusted before the daemon is asked again. */
  unhealthyTtlMs: number;
}

/**
 * The cache lifetimes: long enough to spare the daemon a check per CONNECT, short enough to notice it back.
 */
export const DEFAULT_HEALTH_TIMING: HealthTiming = { healthyTtlMs: 1000, unhealthyTtlMs: 200 };

/**
 * The cached view of the daemon's health. `check` asks the daemon, told whether it was last seen down (then
 * there is no swap to ride out, and new connections wait on the answer); `onChange` hears every transition
 * (and the first answer); `now` is the clock, for tests.
 */
export class HealthCache {
  readonly #check: (seenDown: boolean) => Promise<boolean>;
  readonly #onChange: (healthy: boolean) => void;
  readonly #now: () => number;
  readonly #timing: HealthTiming;
  #healthy: boolean | undefined;
  #checkedAt = -Infinity;
  #inflight: Promise<boolean> | undefined;
  // Bumped by markUnhealthy and markHealthy: a handover's outcome outvotes a check that started before it, and
  // the check's askers get that outcome.
  #generation = 0;

  constructor(options: {
    check: (seenDown: boolean) => Promise<boolean>;
    onChange?: (healthy: boolean) => void;
    now?: () => number;
    timing?: HealthTiming;
  }) {
    this.#check = options.check;
    this.#onChange = options.onChange ?? (() => {});
    this.#now = options.now ?? (() => performance.now());
    this.#timing = options.timing ?? DEFAULT_HEALTH_TIMING;
  }

  /** Whether the daemon is healthy, from the cache while it is fresh, else from one shared check. */
  isHealthy(): Promise<boolean> {
    if (this.#healthy !== undefined) {
      const ttl = this.#healthy ? this.#timing.healthyTtlMs : this.#timing.unhealthyTtlMs;
      if (this.#now() - this.#checkedAt < ttl) return Promise.resolve(this.#healthy);
    }
    if (this.#inflight) return this.#inflight;
    const generation = this.#generation;
    this.#inflight = this.#check(this.#healthy === false)
      .catch(() => false)
      .then((healthy) => {
        if (generation !== this.#generation) return this.#healthy ?? false;
        this.#inflight = undefined;
        this.#record(healthy);
        return healthy;
      });
    return this.#inflight;
  }

  /**
   * Whether to offer a metered `CONNECT` to the daemon. Once the daemon has been seen healthy, and until a
   * handover or a check says otherwise, yes at once, however old that answer: the handover is itself the
   * check (accepted, refused or left silent, it marks the cache), and a `GET /health` on the way would cost a
   * new connection a round trip to the daemon whenever calls come more than a TTL apart, as one-off CLI calls
   * do. Otherwise as {@linkcode isHealthy}.
   */
  worthHandingOver(): Promise<boolean> {
    return this.#healthy === true ? Promise.resolve(true) : this.isHealthy();
  }

  /** Records that the daemon just failed a handover: it counts as down until the unhealthy TTL passes. */
  markUnhealthy(): void {
    this.#generation++;
    this.#inflight = undefined;
    this.#record(false);
  }

  /**
   * Records that the daemon just accepted a handover: it counts as healthy for the healthy TTL without being
   * asked, and a check in flight (which a busy daemon may answer late) cannot report it down.
   */
  markHealthy(): void {
    this.#generation++;
    this.#inflight = undefined;
    this.#record(true);
  }

  #record(healthy: boolean): void {
    const changed = healthy !== this.#healthy;
    this.#healthy = healthy;
    this.#checkedAt = this.#now();
    if (changed) this.#onChange(healthy);
  }
}
