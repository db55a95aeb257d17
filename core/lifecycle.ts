/**
 * What the processes of one home tell each other across restarts: which daemon a new one replaces, and why
 * the last daemon could not start (`run/daemon-error.json`, read by `status`, `doctor` and `init`, since a
 * service manager or the supervisor keeps the daemon's own stderr out of sight).
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "./io.ts";

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
