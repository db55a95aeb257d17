/**
 * Steering a running supervisor from another process (`start --detach`, `stop`, `restart`, `init`,
 * `uninstall`): start it detached, keep the daemon down or let it up again, ask it to hand over, stop it.
 *
 * @module
 */
import { MeterError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/io.ts";
import { livePid, signal, waitUntilGone } from "./pids.ts";
import { readyDaemon } from "../core/lifecycle.ts";
import { downFlag, handoverFlag, restartFlag, runningSupervisor } from "./supervisor.ts";

/**
 * How long a stopping daemon is waited for before it is killed: it drains first, letting the requests and
 * streams in flight finish (`[daemon] drain_timeout_s`, 10 min by default), and usually ends within a second.
 */
export const DAEMON_STOP_MS = 11 * 60_000;

function removeFile(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* not there */ }
}

/**
 * Starts `<command> supervise` detached from this process and its terminal, and waits until it has written
 * its pid. Returns the pid.
 *
 * @throws {MeterError} when it cannot be started or does not come up within `timeoutMs`.
 */
export async function startSupervisor(
  run: string,
  command: readonly string[],
  timeoutMs = 15_000,
): Promise<number> {
  Deno.mkdirSync(run, { recursive: true });
  removeFile(downFlag(run));
  removeFile(handoverFlag(run));
  const [cmd, ...args] = command;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args: [...args, "supervise"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
  } catch (e) {
    throw new MeterError(`cannot start the supervisor (${cmd}): ${(e as Error).message}`, {
      hint:
        "Check that the halton-meter binary is still where it was installed, then run 'halton-meter init'.",
    });
  }
  child.unref();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (runningSupervisor(run)?.pid === child.pid) return child.pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new MeterError("the supervisor did not start", {
    hint: "See logs/supervisor.jsonl in the meter's folder, or run 'halton-meter supervise' in a terminal.",
  });
}

/**
 * Stops the daemon and keeps it stopped until {@linkcode letDaemonRun}; true when one was running. It drains
 * first (asked with `drain`, else by SIGTERM), so this may take as long as the longest stream in flight.
 */
export async function stopDaemon(run: string, drain?: Drain): Promise<boolean> {
  Deno.mkdirSync(run, { recursive: true });
  writeFileAtomic(downFlag(run), "stopped by 'halton-meter stop'\n");
  const drained = await drainFirst(run, drain);
  return await terminate(run, "daemon", DAEMON_STOP_MS) || drained;
}

/** Sends the serving daemon the drain request; resolves with its pid when it agreed. */
export type Drain = () => Promise<number | undefined>;

/**
 * Asks the daemon to drain and waits for it to exit, before anything sends it a signal: on Windows a signal
 * ends a process without a drain. True when it agreed. Under the down flag the supervisor does not start it
 * again.
 */
async function drainFirst(run: string, drain?: Drain): Promise<boolean> {
  const pid = await drain?.();
  if (pid === undefined) return false;
  await waitUntilGone(() => livePid(run, "daemon") === pid, DAEMON_STOP_MS);
  return true;
}

/** Lets the supervisor start the daemon again. */
export function letDaemonRun(run: string): void {
  removeFile(downFlag(run));
}

/**
 * Replaces the daemon: the supervisor starts a new one, which takes the ports over while the old one drains.
 * Resolves once the new one runs (true), or false when no supervisor answered within `timeoutMs`.
 */
export async function restartDaemon(run: string, timeoutMs = 30_000): Promise<boolean> {
  letDaemonRun(run);
  if (!runningSupervisor(run)) return await terminate(run, "daemon", DAEMON_STOP_MS);
  return await requestNewDaemon(run, "'halton-meter restart'", timeoutMs);
}

/**
 * Asks the running supervisor for a new daemon beside the serving one (`by` is written into the flag, for
 * whoever looks). Resolves true once the new one serves, false when none did within `timeoutMs`.
 */
export async function requestNewDaemon(run: string, by: string, timeoutMs: number): Promise<boolean> {
  const old = livePid(run, "daemon");
  writeFileAtomic(restartFlag(run), `requested by ${by}\n`);
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    // Done once a new daemon serves: until it has bound the ports, the old one still answers.
    const now = livePid(run, "daemon");
    if (now !== undefined && now !== old && readyDaemon(run) === now) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * Asks the supervisor to exit leaving the edge running (an upgrade: a new supervisor adopts the edge).
 * Resolves when it is gone.
 */
export async function handOver(run: string): Promise<void> {
  const sup = runningSupervisor(run);
  if (!sup) return;
  writeFileAtomic(handoverFlag(run), "requested by 'halton-meter init'\n");
  await waitUntilGone(() => livePid(run, "supervisor") !== undefined, 20_000);
  removeFile(handoverFlag(run));
}

/** Stops the supervisor, the daemon (drained first, as {@linkcode stopDaemon} does) and the edge. */
export async function stopAll(run: string, drain?: Drain): Promise<void> {
  Deno.mkdirSync(run, { recursive: true });
  writeFileAtomic(downFlag(run), "stopped by 'halton-meter stop --all'\n");
  await drainFirst(run, drain);
  await terminate(run, "supervisor", DAEMON_STOP_MS);
  // Children of a supervisor that died on its own, or an edge a handover left behind.
  await terminate(run, "daemon", DAEMON_STOP_MS);
  await terminate(run, "edge");
  removeFile(downFlag(run));
}

async function terminate(run: string, name: "supervisor" | "edge" | "daemon", ms = 15_000): Promise<boolean> {
  const pid = livePid(run, name);
  if (pid === undefined) return false;
  signal(pid, "SIGTERM");
  if (!await waitUntilGone(() => livePid(run, name) === pid, ms)) {
    signal(pid, "SIGKILL");
    await waitUntilGone(() => livePid(run, name) === pid, 2_000);
  }
  return true;
}
