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
import { readPidFile, writeFileAtomic } from "./io.ts";
import { PRIVATE_FILE } from "./private.ts";
import { randomHex } from "./random.ts";

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

/**
 * Resolves with the first stop signal, its listeners removed so the process can exit. Aborting `until` removes
 * them too (the promise then never resolves): a daemon stopped by a drain request must be able to exit.
 */
export function untilStopSignal(until?: AbortSignal): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    const removeAll = () => {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
    };
    const handlers = stopSignals().map((signal) => {
      const handler = () => {
        removeAll();
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
    until?.addEventListener("abort", removeAll, { once: true });
  });
}

/** The variable that tells a new daemon the pid of the old one it replaces (it stops it once ready to bind). */
export const REPLACES_ENV = "HALTON_METER_REPLACES";

/**
 * How often both watchdogs over the daemon (the edge's and the supervisor's) ask its health once it has failed
 * a check, or before it has answered one; after an answer they wait {@linkcode WATCH_REST_MS}. A check is
 * a new connection and an HTTP exchange in both processes, which an idle machine should not pay once a second
 * (docs/speed.md, "What an idle meter costs"); a hang is then first seen up to the rest later.
 */
export const WATCH_EVERY_MS = 1000;
/** How long both watchdogs wait after the daemon answered before asking again; see {@linkcode WATCH_EVERY_MS}. */
export const WATCH_REST_MS = 5000;

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
  return readPidFile(daemonReadyFile(run));
}

/**
 * `<run>/daemon.token`: the secret a drain request must carry. Every daemon of a home and the CLI read the
 * same file, so a successor (or `stop`) can ask the running daemon to drain; nobody else can, not even a web
 * page posting to the loopback API port.
 */
export function drainTokenFile(run: string): string {
  return join(run, "daemon.token");
}

/** The drain token, created (0600) when there is none. Throws when `run` cannot be written. */
export function drainToken(run: string): string {
  const there = readDrainToken(run);
  if (there) return there;
  Deno.mkdirSync(run, { recursive: true });
  writeFileAtomic(drainTokenFile(run), randomHex(32), PRIVATE_FILE);
  // Two daemons starting at once may both write one: whichever rename came last is the token everyone reads.
  return readDrainToken(run)!;
}

function readDrainToken(run: string): string | undefined {
  try {
    const t = Deno.readTextFileSync(drainTokenFile(run)).trim();
    return t.length >= 32 ? t : undefined;
  } catch {
    return undefined;
  }
}

/** True when `authorization` is `Bearer <the token in run>`; compared in constant time. */
export function drainAuthorized(run: string, authorization: string | null): boolean {
  const token = readDrainToken(run);
  const given = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  if (!token || !given) return false;
  return sameInConstantTime(token, given);
}

/**
 * Compares two strings without stopping at the first difference. Written here rather than taken from
 * `node:crypto`: that module costs the edge, which loads this file, about 4 MB of resident memory.
 */
function sameInConstantTime(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The API path of the drain request. */
export const DRAIN_PATH = "/v1/admin/drain";

/**
 * Asks the daemon answering on `apiPort` to drain and stop: it closes its ports at once and lets the requests
 * and streams in flight finish. Works the same on every OS, where a signal does not (Windows has none a
 * process can catch from another). Resolves with the daemon's pid when it agreed, undefined when it did not
 * answer, refused, or predates the request (an older version answers 404).
 */
export async function requestDrain(
  apiPort: number,
  run: string,
  timeoutMs = 2_000,
): Promise<number | undefined> {
  const token = readDrainToken(run);
  if (!token) return undefined;
  try {
    const res = await fetch(`http://127.0.0.1:${apiPort}${DRAIN_PATH}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.json().catch(() => ({})) as { pid?: number };
    return res.status === 202 && typeof body.pid === "number" ? body.pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One of the two service-manager slots a daemon runs in. A planned restart starts the other slot beside the
 * running one (the new daemon takes the ports over while the old one drains), then makes it the current one.
 */
export type DaemonSlot = "a" | "b";

/** The slot that is not `slot`. */
export function otherSlot(slot: DaemonSlot): DaemonSlot {
  return slot === "a" ? "b" : "a";
}

/** `<run>/daemon.slot`: which slot is current. Absent means `a`, the one a machine set up before slots used. */
export function daemonSlotFile(run: string): string {
  return join(run, "daemon.slot");
}

/** Parses the text of `daemon.slot`; anything else than `b` is `a`. */
export function parseDaemonSlot(text: string | undefined): DaemonSlot {
  return text?.trim() === "b" ? "b" : "a";
}

/** `<run>/daemon-<slot>.pid`: the daemon running in `slot`, written by itself, removed at its exit. */
export function slotPidFile(run: string, slot: DaemonSlot): string {
  return join(run, `daemon-${slot}.pid`);
}
