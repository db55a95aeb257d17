/**
 * What every long-running process of ours (edge, daemon, `up`, the built-in supervisor) does the same way
 * around its work: a logger configured from `[logging]`, and waiting for the signal that stops it.
 *
 * Also what the processes of one home tell each other across restarts: which daemon a new one replaces, and why
 * the last daemon could not start (`run/daemon-error.json`, read by `status`, `doctor` and `init`, since a
 * service manager or the supervisor keeps the daemon's own stderr out of sight).
 *
 * @module
 */
import { type Config, loadConfig } from "./config.ts";
import { Logger } from "./log.ts";
import type { Paths } from "./paths.ts";
import { join } from "node:path";
import { writeFileAtomic } from "./io.ts";

/**
 * The logger of `process` (JSON lines to stderr and `logs/<process>.jsonl`), configured from `[logging]`:
 * `logging` when the caller has loaded the config already, else read from it now.
 */
export function processLogger(
  process: string,
  paths: Paths,
  logging: Config["logging"] = loadConfig(paths.config).config.logging,
): Logger {
  return new Logger({
    process,
    dir: paths.logs,
    stderr: true,
    level: logging.level,
    maxBytes: logging.max_bytes,
    keep: logging.keep,
  });
}

/** The signals that stop a process; Windows delivers only Ctrl-C and Ctrl-Break to a console process. */
function stopSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
}

/** Resolves with the first stop signal, its listeners removed so the process can exit. */
export function untilStopSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    const handlers = stopSignals().map((signal) => {
      const handler = () => {
        for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
  });
}

/** The variable that tells a new daemon the pid of the old one it replaces (it stops it once ready to bind). */
export const REPLACES_ENV = "HALTON_METER_REPLACES";

/** Why a daemon could not start. */
export interface DaemonFailure {
  /** ISO time of the failure. */
  at: string;
  version: string;
  pid: number;
  message: string;
  /** The one next step that fixes it. */
  hint?: string;
  /** Failures in a row (reset by a daemon that starts). */
  count: number;
}

/** `<run>/daemon-error.json`. */
export function daemonFailureFile(run: string): string {
  return join(run, "daemon-error.json");
}

/** The last start failure, or undefined when the last daemon started (or none ever failed). */
export function readDaemonFailure(run: string): DaemonFailure | undefined {
  try {
    const f = JSON.parse(Deno.readTextFileSync(daemonFailureFile(run)));
    return typeof f?.message === "string" && typeof f?.at === "string" ? f as DaemonFailure : undefined;
  } catch {
    return undefined;
  }
}

/** Records a start failure, counting it after the ones before. Never throws: the daemon is failing already. */
export function recordDaemonFailure(
  run: string,
  failure: Omit<DaemonFailure, "count" | "at" | "pid">,
): DaemonFailure {
  const f: DaemonFailure = {
    ...failure,
    at: new Date().toISOString(),
    pid: Deno.pid,
    count: (readDaemonFailure(run)?.count ?? 0) + 1,
  };
  try {
    Deno.mkdirSync(run, { recursive: true });
    writeFileAtomic(daemonFailureFile(run), JSON.stringify(f) + "\n");
  } catch { /* a read-only home: the log line is all there is */ }
  return f;
}

/** Forgets the last failure: a daemon started. */
export function clearDaemonFailure(run: string): void {
  try {
    Deno.removeSync(daemonFailureFile(run));
  } catch { /* none recorded */ }
}

/** `<run>/daemon.ready`: the pid of the daemon that last bound its ports and serves. */
export function daemonReadyFile(run: string): string {
  return join(run, "daemon.ready");
}

/** Records that this process now serves (written once its ports are bound). Never throws. */
export function markDaemonReady(run: string): void {
  try {
    Deno.mkdirSync(run, { recursive: true });
    writeFileAtomic(daemonReadyFile(run), `${Deno.pid}\n`);
  } catch { /* a read-only home: restart then waits for its timeout instead */ }
}

/** The pid in `<run>/daemon.ready`, if any. */
export function readyDaemon(run: string): number | undefined {
  return readyDaemonIn(daemonReadyFile(run));
}

/** The pid in a `daemon.ready` file, if any. */
export function readyDaemonIn(file: string): number | undefined {
  try {
    const n = Number(Deno.readTextFileSync(file).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
