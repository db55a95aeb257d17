/**
 * The daemon (docs/architecture.md): the intercept port, the API port, and the one database writer, started
 * together and stopped together with the row queue drained.
 *
 * Upstream requests go over HTTP/1.1 even when the client spoke HTTP/2 to us: one keep-alive pool serves
 * both, every provider speaks HTTP/1.1, and the measured cost of the extra hop stays inside the budget
 * (scripts/bench/capture.ts). Concurrent HTTP/2 streams from one client become concurrent pooled upstream
 * connections.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { type Config, loadConfig, type LoadedConfig } from "../core/config.ts";
import { MeterError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { openFilesFields, raiseOwnOpenFiles } from "../core/open_files.ts";
import type { Paths } from "../core/paths.ts";
import { effectivePorts } from "../core/ports.ts";
import { VERSION } from "../core/version.ts";
import { type ApiRoute, startApiServer } from "./api/server.ts";
import { readApiOnDemand } from "./api/read/off_thread.ts";
import type { MeteringHook } from "./intercept/seam.ts";
import { startInterceptServer } from "./intercept/server.ts";
import { join } from "node:path";
import { exists } from "../core/io.ts";
import { randomHex } from "../core/random.ts";
import type { LeafSource } from "./intercept/tls_front.ts";
import { openStore } from "../store/open.ts";
import { RowWriter } from "../store/writer.ts";
import { LeafMinter, loadOrCreateCa } from "../tls/mod.ts";
import { ensureCaBundle } from "../platform/ca_bundle_file.ts";
import { UpstreamPool } from "./upstream/pool.ts";
import { meteredHosts } from "../core/hosts.ts";
import { currentOs } from "../core/paths.ts";
import { createMeteringHook, type MeteringDeps } from "./metering/metering_hook.ts";
import {
  buildRateBook,
  bundledCard,
  bundledFees,
  loadPackage,
  type RateBook,
  readStoredRates,
} from "../pricing/mod.ts";
import { Repricer } from "./repricing.ts";
import { watchIntegrity } from "./integrity.ts";
import { type Checkpoints, startCheckpoints } from "./checkpoints.ts";
import { Attributor, processLookupFor } from "./attribution/mod.ts";
import type { HostShape } from "./providers/mod.ts";

/** What {@linkcode startDaemon} needs; everything but `paths` and `log` has a default. */
export interface DaemonOptions {
  paths: Paths;
  log: Logger;
  /** Defaults to `loadConfig(paths.config)`. */
  config?: LoadedConfig;
  /** Ports to bind instead of `effective-ports.json` (0 picks a free one). */
  ports?: { intercept: number; api: number };
  /** Certificates; defaults to a `LeafMinter` over the CA of `paths` (created when missing). */
  leafs?: LeafSource;
  /** Builds the metering hook around the row writer; defaults to {@linkcode createMeteringHook}. */
  hook?: (writer: RowWriter, db: DatabaseSync) => MeteringHook;
  /** Resolves a client's project; defaults to an {@linkcode Attributor} over this OS's process table. */
  attribute?: MeteringDeps["attribute"];
  /** Extra API routes (read API, dashboard). */
  routes?: ApiRoute[];
  /** How often `daemon.heartbeat` is logged. */
  heartbeatMs?: number;
  /** How long running exchanges may take to end at close; defaults to `[daemon] drain_timeout_s`. */
  closeGraceMs?: number;
  /** How often the stored rates are looked at for changes (imports, updates). */
  repriceIntervalMs?: number;
  /**
   * Called once everything else is ready, just before the ports are bound: a daemon replacing another asks it
   * to stop here and resolves true, and binding then retries while the old one lets go of the ports (up to
   * `bindRetryMs`).
   */
  beforeBind?: (ports: { intercept: number; api: number }) => Promise<boolean>;
  /** How long binding retries a port still held after `beforeBind` asked a predecessor to stop (default 0). */
  bindRetryMs?: number;
}

/** A running daemon. */
export interface Daemon {
  ports: { intercept: number; api: number };
  /** Stops both ports, ends connections, drains the row queue into SQLite. */
  close(): Promise<void>;
}

/** How long a stopping daemon keeps trying to write rows that cannot be written yet. */
const LAST_WRITE_TRIES_MS = 2_000;

/** How long a flush waits for another writer's lock before keeping its rows for the next try. */
const WRITE_LOCK_WAIT_MS = 100;

const PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"];

/**
 * Starts the daemon.
 *
 * @throws {MeterError} when a port is taken, the database or CA cannot be used, or `[upstream]` is malformed.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { paths, log } = options;
  // The daemon's own connections must never loop back through the edge it serves.
  for (const name of PROXY_VARS) Deno.env.delete(name);
  const files = raiseOwnOpenFiles();
  const loaded = options.config ?? loadConfig(paths.config);
  for (const w of loaded.warnings) log.warn("config.warning", { warning: w });
  const { config } = loaded;
  const ports = options.ports ?? effectivePorts(paths.effectivePorts, loaded);
  const hosts = meteredHosts(Object.keys(config.hosts));
  const isMetered = (h: string) => hosts.has(h.toLowerCase());

  const pool = new UpstreamPool(config.upstream);
  const leafs = options.leafs ?? new LeafMinter((await loadOrCreateCa(paths)).ca);
  // The variables `env` prints name this file; after `up` or `start` without `init` nothing else writes it.
  if (!ensureCaBundle(paths)) log.info("daemon.no_ca_bundle", { path: paths.caBundle });
  const db = openStore(paths.db, { checkIntegrity: true });
  // Started below, once the cleanup that closes it exists; flushes before that have nothing to tell.
  let checkpoints: Checkpoints | undefined = undefined;
  const writer = new RowWriter(db, {
    file: paths.db,
    onFlushed: () => checkpoints?.wrote(),
    intervalMs: config.daemon.flush_interval_ms,
    busyTimeoutMs: WRITE_LOCK_WAIT_MS,
    // A failing disk is retried every half second: say so when the reason changes, not at every try.
    onError: (e, queued) => {
      const failure = writer.failure;
      if (failure?.kind === loggedFailure) return;
      loggedFailure = failure?.kind;
      log.error("store.flush_failed", {
        reason: failure?.reason,
        error: e.message,
        queued,
        next: failure?.next,
      });
    },
  });
  let loggedFailure: string | undefined;
  const repricer = new Repricer({
    db,
    build: (pkg, onMiss) =>
      buildRateBook({
        card: bundledCard(),
        fees: bundledFees(),
        stored: readStoredRates(db),
        overrides: config.pricing.override,
        package: pkg,
        onMiss,
      }),
    loadPackage,
    log,
    intervalMs: options.repriceIntervalMs,
  });
  const hook = options.hook?.(writer, db) ?? meteringHook(
    options,
    config,
    writer,
    () => repricer.book,
    [effectivePorts(paths.effectivePorts, loaded).edge, ports.intercept].filter((p) => p > 0),
  );

  const cleanup: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const step of cleanup.reverse()) await step();
  };
  // Run in reverse: the intercept port closes, ended exchanges finish metering, then the last flush.
  cleanup.push(
    () => db.close(),
    async () => {
      // A lock another program holds may be let go in a moment: give queued rows a short last chance.
      const until = Date.now() + LAST_WRITE_TRIES_MS;
      while (writer.failure && writer.failure.kind !== "corrupt" && writer.queued && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        writer.flush();
      }
      const lost = writer.close();
      if (lost) log.error("store.rows_lost_at_stop", { rows: lost, reason: writer.failure?.reason });
    },
    () => repricer.close(),
    () => pool.close(),
    () => hook.drain?.(),
  );
  checkpoints = startCheckpoints({
    file: paths.db,
    db,
    onError: (error) => log.warn("store.checkpoint_failed", { error }),
  });
  checkpoints.started.then((ok) => ok && log.info("store.checkpoints_off_thread"));
  // Closed before the writer's last flush and the database, which the cleanup runs after it.
  cleanup.push(() => checkpoints?.close());
  repricer.start();
  try {
    // The read API queries in a worker with its own read-only connection: they never hold the request path.
    const readApi = readApiOnDemand({
      dbPath: paths.db,
      allowOrigins: config.cors.allow_origins,
      timeZone: config.report.timezone,
      onError: (error) => log.error("api.read_worker_failed", { error }),
    });
    cleanup.push(() => readApi.close());
    const replacing = await options.beforeBind?.(ports) ?? false;
    const retryUntil = Date.now() + (replacing ? options.bindRetryMs ?? 0 : 0);
    const intercept = await bind(
      "intercept",
      ports.intercept,
      retryUntil,
      () =>
        startInterceptServer({
          port: ports.intercept,
          leafs,
          pool,
          hook,
          log,
          isMetered,
          passPath: passSocketPath(paths.run),
        }),
    );
    // Both ports let go at once (a successor may be waiting to bind them); then the drain runs.
    let apiClosed: Promise<void> = Promise.resolve();
    cleanup.push(async () => {
      await intercept.close(options.closeGraceMs ?? config.daemon.drain_timeout_s * 1000);
      await apiClosed;
    });
    const api = await bind("api", ports.api, retryUntil, () =>
      startApiServer({
        port: ports.api,
        routes: [
          ...(options.routes ?? []),
          readApi.route,
        ],
        onError: (e) => log.error("api.route_failed", { error: (e as Error)?.message ?? String(e) }),
        health: () => ({ store: storeHealth(writer) }),
      }));
    cleanup.push(() => {
      apiClosed = api.close();
    });

    const heartbeat = setInterval(() => {
      const s = intercept.stats;
      log.info("daemon.heartbeat", {
        connections: s.connections,
        exchanges: s.exchanges,
        metered: s.metered,
        failed: s.failed,
        active: s.active,
        refused: s.refused,
        upstream_connections: pool.opened,
        rows_written: writer.written,
        rows_queued: writer.queued,
        rows_dropped: writer.dropped,
        rows_failing: writer.failure?.reason,
        wal_checkpoints: checkpoints?.done,
      });
      if (loggedFailure && !writer.failure) {
        log.info("store.flush_recovered", { rows_written: writer.written });
        loggedFailure = undefined;
      }
    }, options.heartbeatMs ?? 60_000);
    cleanup.push(() => clearInterval(heartbeat));

    const integrity = watchIntegrity({
      file: paths.db,
      intervalMs: config.daemon.integrity_check_s * 1000,
      quiet: () => intercept.stats.active === 0,
      onDamaged: (problem) => writer.damaged(problem),
      onError: (error) => log.warn("store.integrity_check_failed", { error }),
    });
    cleanup.push(() => integrity.close());

    const bound = { intercept: intercept.port, api: api.port };
    log.info("daemon.startup.ready", {
      intercept_port: bound.intercept,
      api_port: bound.api,
      version: VERSION,
      ...openFilesFields(files),
    });
    let closing: Promise<void> | undefined;
    return {
      ports: bound,
      close() {
        closing ??= (async () => {
          await closeAll();
          log.info("daemon.exit", { rows_written: writer.written, rows_dropped: writer.dropped });
        })();
        return closing;
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** What `/health` says of the row writer, for `status` and `doctor`. */
export interface StoreHealth {
  /** False while flushes fail. */
  writing: boolean;
  /** Why not, e.g. "the disk is full". */
  reason?: string;
  /** What to do about it. */
  next?: string;
  since?: string;
  written: number;
  queued: number;
  /** Rows lost because the bounded queue overflowed while writes failed. */
  dropped: number;
}

function storeHealth(writer: RowWriter): StoreHealth {
  const f = writer.failure;
  return {
    writing: !f,
    reason: f?.reason,
    next: f?.next,
    since: f?.since,
    written: writer.written,
    queued: writer.queued,
    dropped: writer.dropped,
  };
}

/** The metering hook of a real daemon: rates from the card, the database and config; attribution by process. */
function meteringHook(
  options: DaemonOptions,
  config: Config,
  writer: RowWriter,
  rates: () => RateBook,
  peerPorts: readonly number[],
): MeteringHook {
  let attribute = options.attribute;
  if (!attribute) {
    const attributor = new Attributor({
      // A client's socket is connected to the edge, or straight to the intercept port.
      lookup: processLookupFor(currentOs(), undefined, peerPorts),
      defaultProject: config.tagging.default_project,
      userHome: options.paths.userHome,
      logger: options.log,
    });
    attribute = (client) => attributor.resolve(client);
  }
  return createMeteringHook({
    sink: writer,
    rates,
    attribute,
    // core/config.ts has already checked every value against HOST_SHAPES.
    extraHosts: config.hosts as Record<string, HostShape>,
    log: options.log,
  });
}

async function bind<T>(role: string, port: number, retryUntil: number, start: () => Promise<T>): Promise<T> {
  while (true) {
    try {
      return await start();
    } catch (e) {
      const held = e instanceof Deno.errors.AddrInUse || (e as { code?: string }).code === "EADDRINUSE";
      if (!held) throw e;
      if (Date.now() >= retryUntil) {
        throw new MeterError(`the daemon's ${role} port ${port} is in use by another program`, {
          hint: "Stop that program, or run 'halton-meter init' to pick free ports.",
          cause: e,
        });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * A new path in `run` for the socket the edge passes client sockets to: one per daemon, since a daemon and its
 * successor take them side by side during a swap, named by pid so that those of daemons gone are removed.
 */
function passSocketPath(run: string): string | undefined {
  if (currentOs() !== "linux") return undefined;
  try {
    Deno.mkdirSync(run, { recursive: true, mode: 0o700 });
    for (const entry of Deno.readDirSync(run)) {
      const pid = /^pass-(\d+)-[0-9a-f]+\.sock$/.exec(entry.name)?.[1];
      if (pid && pid !== String(Deno.pid) && !exists(`/proc/${pid}`)) {
        Deno.removeSync(join(run, entry.name));
      }
    }
  } catch {
    return undefined;
  }
  return join(run, `pass-${Deno.pid}-${randomHex(4)}.sock`);
}
