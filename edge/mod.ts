/**
 * The fail-open edge (docs/architecture.md): the port apps use as `HTTPS_PROXY`. It never decrypts. Per
 * `CONNECT`, a metered host goes to the daemon while the daemon is healthy, and everything else (or anything
 * the daemon fails) is tunnelled straight to the host, so a stopped or crashed daemon costs no request. Plain
 * `http://` requests are forwarded. It imports `core/` only, never daemon code, SQLite or certificate code.
 *
 * @example Run it in-process next to the daemon
 * ```ts
 * const edge = await startEdge(edgeOptions(ports, config, logger));
 * // …
 * await edge.close();
 * ```
 *
 * @module
 */
import type { Config } from "../core/config.ts";
import { MeterError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import type { Ports } from "../core/ports.ts";
import { VERSION } from "../core/version.ts";
import { ConnScope, withDeadline } from "./_conn.ts";
import { DialError, dialTunnel } from "./_dial.ts";
import { upstreamOf } from "../core/upstream.ts";
import { DaemonPulse, handOver } from "./_handover.ts";
import { checkHealth, HEALTH_TIMEOUT_MS, HealthCache, type HealthTiming } from "./_health.ts";
import {
  concat,
  errorResponse,
  headerValue,
  MAX_HEAD_BYTES,
  parseRequestHead,
  readHead,
  type RequestHead,
} from "./_head.ts";
import { meteredHosts } from "../core/hosts.ts";
import { forwardHttp } from "./_http.ts";
import { projectFromProxyAuthorization } from "../core/project_tag.ts";
import { closeQuietly, splice, writeAll } from "./_splice.ts";
import { BypassTracker, type UnmeteredCounts } from "./_bypass.ts";
import { type EdgeState, edgeStateFile, writeEdgeState } from "../core/edge_state.ts";
import { daemonReadyFile } from "../core/lifecycle.ts";
import { readPidFile } from "../core/io.ts";
import { startWatchdog } from "./_watchdog.ts";
import { SocketPasser } from "./_pass.ts";
import { openSocketPassing } from "../core/socket_pass.ts";
import { openFilesFields, raiseOwnOpenFiles } from "../core/open_files.ts";
import { parseHostPort, parseHttpTarget } from "./_target.ts";

export { meteredHosts, PROVIDER_HOSTS, SELFTEST_HOST } from "../core/hosts.ts";

/** What the edge needs to run. */
export interface EdgeOptions {
  /** Port on 127.0.0.1 to listen on; 0 picks a free one (see {@linkcode Edge.port}). */
  port: number;
  /** The daemon's intercept port, where metered `CONNECT`s are handed over. */
  interceptPort: number;
  /** The daemon's api port, asked `GET /health`. */
  apiPort: number;
  /** Metered hosts beyond the built-in providers': the keys of config `[hosts]`. */
  extraHosts?: Iterable<string>;
  /** Config `[upstream]` `proxy` and `resolve`, as judged when the config was loaded. */
  upstream?: { proxy: string; resolve: Readonly<Record<string, string>> };
  /** Where events go; silent when absent. */
  logger?: Logger;
  /** How often `edge.passthrough` counts are logged (default 60 s). */
  statsIntervalMs?: number;
  /** Health cache lifetimes (default 1000 ms / 200 ms). */
  healthTiming?: HealthTiming;
  /** Quiet time after which an unmetered tunnel to a metered host is closed once the daemon is back. */
  reclaimIdleMs?: number;
  /** Where the edge writes its pid, version and unmetered counts (`run/edge.json`); none when absent. */
  stateFile?: string;
  /** Run by `halton-meter up`, beside the daemon in one process: said in the state file. */
  inUp?: boolean;
  /**
   * The watchdog: the file naming the daemon's pid (`run/daemon.ready`) and how long a daemon that answered
   * before may fail its health check before the edge kills it. No watchdog when absent.
   */
  watchdog?: { readyFile: string; hangMs: number };
  /**
   * Whether a metered client's socket may be passed to the daemon itself rather than relayed (edge/_pass.ts),
   * where this machine can (Linux) and the daemon takes it. Default true.
   */
  passSockets?: boolean;
}

/** A running edge. */
export interface Edge {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** Stops accepting, closes every connection, logs the final counts. Safe to call twice. */
  close(): Promise<void>;
}

/** How long one of the watchdog's health checks may take. */
const WATCHDOG_CHECK_MS = 2000;

/** How long a client has to send its request head. */
export const HEAD_TIMEOUT_MS = 30_000;

/** How long, and how much, a rejected client's remaining bytes are read and discarded after the `400`. */
const REJECT_DRAIN_MS = 1_000;
const REJECT_DRAIN_BYTES = 1024 * 1024;

/** Reads and discards up to `limit` bytes until the peer ends its side. */
async function drain(conn: Deno.Conn, limit: number): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  for (let total = 0; total < limit;) {
    const n = await conn.read(buf);
    if (n === null) return;
    total += n;
  }
}

const ESTABLISHED = new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n");

/** The {@linkcode EdgeOptions} of this machine: its effective ports and its config. */
export function edgeOptions(ports: Ports, config: Config, logger?: Logger, run?: string): EdgeOptions {
  return {
    stateFile: run === undefined ? undefined : edgeStateFile(run),
    watchdog: run === undefined
      ? undefined
      : { readyFile: daemonReadyFile(run), hangMs: config.daemon.hang_restart_s * 1000 },
    port: ports.edge,
    interceptPort: ports.intercept,
    apiPort: ports.api,
    extraHosts: Object.keys(config.hosts),
    upstream: config.upstream,
    logger,
  };
}

/** Connection counts since the last `edge.passthrough` line. */
interface Counts {
  tunnelled: number;
  handed_over: number;
  /** Of those handed over, the ones whose socket itself went to the daemon. */
  passed: number;
  /** Of those passed, the ones passed with their `CONNECT`, without a handover first. */
  direct: number;
  fell_back: number;
  forwarded: number;
  rejected: number;
  failed: number;
}

const zeroCounts = (): Counts => ({
  tunnelled: 0,
  handed_over: 0,
  passed: 0,
  direct: 0,
  fell_back: 0,
  forwarded: 0,
  rejected: 0,
  failed: 0,
});

/**
 * Starts the edge on `127.0.0.1:options.port` and logs `edge.startup.ready`.
 *
 * @throws {MeterError} when the port is taken.
 */
// deno-lint-ignore require-await -- async so that every failure is a rejection.
export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const logger = options.logger ?? new Logger({ process: "edge" });
  // Each tunnel holds two descriptors and each metered connection one (its passed socket's copy).
  const files = raiseOwnOpenFiles();
  const upstream = upstreamOf(options.upstream ?? { proxy: "", resolve: {} });
  const metered = meteredHosts(options.extraHosts);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: "127.0.0.1", port: options.port });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new MeterError(`port ${options.port} on 127.0.0.1 is in use by another program`, {
        hint: "An edge may already be running (see 'halton-meter status'); otherwise free the port or " +
          "change edge.port in config.toml and run 'halton-meter init'.",
      });
    }
    throw e;
  }
  const port = listener.addr.port;

  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    p.finally(() => pending.delete(p)).catch(() => {});
    return p;
  };
  const scopes = new Set<ConnScope>();
  let counts = zeroCounts();
  let since = performance.now();
  let closing: Promise<void> | undefined;

  const health = new HealthCache({
    check: (seenDown) => track(checkHealth(options.apiPort, HEALTH_TIMEOUT_MS, !seenDown)),
    onChange: (healthy) =>
      healthy
        ? logger.info("edge.daemon_healthy", { api_port: options.apiPort })
        : logger.warn("edge.daemon_unhealthy", { api_port: options.apiPort }),
    timing: options.healthTiming,
  });

  const pulse = new DaemonPulse();
  const passer = options.passSockets !== false ? new SocketPasser(openSocketPassing) : undefined;

  const startedAt = new Date().toISOString();
  let lastUnmetered: UnmeteredCounts = { tunnels: 0, bytes: 0, open: 0, reclaimed: 0 };
  let stateWrittenAt = -Infinity;
  let stateTimer: ReturnType<typeof setTimeout> | undefined;
  const writeNow = () => {
    clearTimeout(stateTimer);
    stateTimer = undefined;
    stateWrittenAt = performance.now();
    const state: EdgeState = {
      pid: Deno.pid,
      version: VERSION,
      port,
      started_at: startedAt,
      unmetered: bypass.counts,
      ...(options.inUp ? { up: true } : {}),
    };
    const failed = writeEdgeState(options.stateFile!, state);
    if (failed) logger.warn("edge.state_write_failed", { error: failed.message });
  };
  // The file is a summary for `status`: written at most twice a second, after the change, never on the path of
  // the connection that changed it (a burst of bypass tunnels during a restart would otherwise write each).
  const writeState = (force = false) => {
    if (!options.stateFile) return;
    if (force) return writeNow();
    if (stateTimer !== undefined) return;
    stateTimer = setTimeout(writeNow, Math.max(0, 500 - (performance.now() - stateWrittenAt)));
    Deno.unrefTimer(stateTimer);
  };
  const bypass = new BypassTracker({
    healthy: () => health.isHealthy(),
    idleMs: options.reclaimIdleMs,
    onChange: (c) => {
      if (c.reclaimed !== lastUnmetered.reclaimed) {
        logger.info("edge.unmetered_reclaimed", {
          closed: c.reclaimed - lastUnmetered.reclaimed,
          open: c.open,
          tunnels: c.tunnels,
          bytes: c.bytes,
        });
      }
      writeState();
      lastUnmetered = c;
    },
  });

  const logCounts = (final: boolean) => {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (total === 0 && !final) return;
    const seconds = Math.round((performance.now() - since) / 1000);
    const u = bypass.counts;
    logger.info("edge.passthrough", {
      ...counts,
      open: scopes.size,
      unmetered_tunnels: u.tunnels,
      unmetered_bytes: u.bytes,
      seconds,
      final,
    });
    counts = zeroCounts();
    since = performance.now();
  };
  const timer = setInterval(() => logCounts(false), options.statsIntervalMs ?? 60_000);

  const reject = async (conn: Deno.Conn, message: string) => {
    counts.rejected++;
    await writeAll(conn, errorResponse(400, "Bad Request", message));
    // Closing with the client's bytes still unread would reset the connection and could destroy the 400
    // before the client reads it: end our side, then discard what is still arriving, briefly and boundedly.
    await conn.closeWrite();
    await withDeadline(conn, REJECT_DRAIN_MS, drain(conn, REJECT_DRAIN_BYTES)).catch(() => {});
  };

  const tunnel = async (scope: ConnScope, conn: Deno.Conn, head: RequestHead, rest: Uint8Array) => {
    const target = parseHostPort(head.target);
    if (!target) return reject(conn, "CONNECT needs a host:port target");
    if (metered.has(target.host) && await health.worthHandingOver()) {
      const remote = conn.remoteAddr as Deno.NetAddr;
      const client = remote.hostname.includes(":")
        ? `[${remote.hostname}]:${remote.port}`
        : `${remote.hostname}:${remote.port}`;
      const project = projectFromProxyAuthorization(headerValue(head.headers, "proxy-authorization"));
      const offer = passer?.offer(conn);
      const request = { target, client, project };
      const direct = offer && passer!.direct
        ? await passer!.passDirect(conn, offer, request, rest)
        : "unsent";
      if (direct === "taken") {
        health.markHealthy();
        pulse.beat();
        counts.handed_over++;
        counts.passed++;
        counts.direct++;
        scope.release(conn);
        return;
      }
      // Not taken in time: the daemon answered nothing for a second, which a handover would wait for again.
      const daemon = direct === "late"
        ? undefined
        : await handOver(scope, options.interceptPort, { ...request, pass: offer?.token }, pulse);
      if (daemon) {
        health.markHealthy();
        counts.handed_over++;
        passer?.learn(daemon.passTo, daemon.passDirect === true, daemon.passBell === true);
        // The daemon waits for the socket or, failing that, for the client's bytes on its own connection.
        if (
          offer && daemon.passTo && !daemon.early.length && passer!.pass(daemon.passTo, conn, offer, rest)
        ) {
          counts.passed++;
          scope.release(conn);
          await writeAll(conn, ESTABLISHED);
          passer!.quiet(offer);
          return;
        }
        await writeAll(conn, concat(ESTABLISHED, daemon.early));
        if (rest.length) await writeAll(daemon.conn, rest);
        await splice(conn, daemon.conn, (_n, from) => from === "b" && pulse.beat());
        return;
      }
      health.markUnhealthy();
      counts.fell_back++;
    }
    let direct;
    try {
      direct = await dialTunnel(scope, upstream, target);
    } catch (e) {
      if (!(e instanceof DialError)) throw e;
      counts.failed++;
      await writeAll(conn, errorResponse(502, "Bad Gateway", e.message));
      return;
    }
    counts.tunnelled++;
    const peer = direct.conn;
    // A metered host reached without the daemon: counted, and closed when idle once the daemon is back.
    const unmetered = metered.has(target.host)
      ? bypass.add(() => {
        closeQuietly(conn);
        closeQuietly(peer);
      })
      : undefined;
    try {
      await writeAll(conn, concat(ESTABLISHED, direct.early));
      if (rest.length) await writeAll(peer, rest);
      await splice(
        conn,
        peer,
        unmetered && ((n, from) => unmetered.moved(n, from === "a" ? "client" : "provider")),
      );
    } finally {
      unmetered?.ended();
    }
  };

  const serve = async (conn: Deno.TcpConn) => {
    const scope = new ConnScope();
    scopes.add(scope);
    try {
      scope.adopt(conn);
      conn.setNoDelay(true);
      const read = await withDeadline(conn, HEAD_TIMEOUT_MS, readHead(conn, MAX_HEAD_BYTES, true));
      if (read.kind === "eof") return;
      if (read.kind === "too-large") return await reject(conn, "request head larger than 64 KiB");
      if (read.kind === "malformed") return await reject(conn, "not an HTTP/1.x request");
      const head = parseRequestHead(read.head);
      if (!head) return await reject(conn, "malformed request head");
      if (head.method === "CONNECT") return await tunnel(scope, conn, head, read.rest);
      const target = parseHttpTarget(head.target);
      if (!target) return await reject(conn, "expected CONNECT host:port or an absolute http:// URL");
      const outcome = await forwardHttp(scope, upstream, conn, head, target, read.rest);
      counts[outcome === "forwarded" ? "forwarded" : "failed"]++;
    } catch {
      // A client or upstream that resets or stalls ends its own connection, never the edge.
      counts.failed++;
    } finally {
      scope.closeAll();
      scopes.delete(scope);
    }
  };

  const accepting = (async () => {
    while (!closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (closing || e instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: pause rather than spin, then keep serving.
        logger.warn("edge.accept_failed", { error: (e as Error).name });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      track(serve(conn));
    }
  })();

  logger.info("edge.startup.ready", { port, version: VERSION, ...openFilesFields(files) });
  writeState(true);
  const watchdog = options.watchdog && startWatchdog({
    // Its own check, with a longer budget: a slow answer on a loaded machine is not a hang, and the watchdog's
    // verdicts must not move connections off a daemon that is merely slow.
    healthy: () => track(checkHealth(options.apiPort, WATCHDOG_CHECK_MS)),
    portHeld: async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: options.apiPort })).close();
        return true;
      } catch {
        return false;
      }
    },
    // `up` runs the daemon in this very process: it is never this watchdog's to kill.
    readyPid: () => {
      const pid = readPidFile(options.watchdog!.readyFile);
      return pid === Deno.pid ? undefined : pid;
    },
    hangMs: options.watchdog.hangMs,
    kill: (pid) => Deno.kill(pid, "SIGKILL"),
    onKill: (pid, ms) => logger.error("edge.daemon_hung_killed", { pid, unanswered_ms: ms }),
  });

  const close = () => {
    closing ??= (async () => {
      try {
        listener.close();
      } catch { /* already closed */ }
      clearInterval(timer);
      bypass.stop();
      watchdog?.stop();
      const passed = passer?.close();
      for (const scope of scopes) scope.closeAll();
      await passed;
      await accepting;
      while (pending.size) await Promise.allSettled([...pending]);
      logCounts(true);
      if (stateTimer !== undefined) writeNow();
      logger.info("edge.exit", { port });
    })();
    return closing;
  };
  return { port, close };
}
