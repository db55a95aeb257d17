/**
 * The binary's own small supervisor, for machines where no service manager answers (a container, WSL without
 * systemd, CI): `halton-meter supervise` runs detached, starts `edge` and `daemon`, and starts either again
 * when it dies (backing off when it keeps dying). It is steered through files under `paths.run`, which works
 * the same on every OS: `daemon.down` keeps the daemon stopped (`stop`), `supervisor.handover` asks it to
 * exit and leave the edge running for a new supervisor to adopt (an upgrade).
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../core/io.ts";
import { makePrivateDir } from "../core/private.ts";
import type { Logger } from "../core/log.ts";
import { livePid, processAlive, removePid, signal, waitUntilGone, writePid } from "./pids.ts";

/** The two processes the supervisor keeps running. */
type Role = "edge" | "daemon";

/** `run/daemon.down`: present while the daemon is meant to be stopped. */
export function downFlag(run: string): string {
  return join(run, "daemon.down");
}

/** `run/supervisor.handover`: present while a supervisor is asked to exit leaving the edge running. */
export function handoverFlag(run: string): string {
  return join(run, "supervisor.handover");
}

/** `run/supervisor.json`: the running supervisor's pid and the command it starts children with. */
export function supervisorInfoFile(run: string): string {
  return join(run, "supervisor.json");
}

/** What `run/supervisor.json` says. */
export interface SupervisorInfo {
  pid: number;
  command: string[];
  startedAt: string;
}

/** The running supervisor's info, or undefined when none runs. */
export function runningSupervisor(run: string): SupervisorInfo | undefined {
  const pid = livePid(run, "supervisor");
  if (pid === undefined) return undefined;
  try {
    const info = JSON.parse(Deno.readTextFileSync(supervisorInfoFile(run))) as SupervisorInfo;
    return info.pid === pid ? info : { pid, command: [], startedAt: "" };
  } catch {
    return { pid, command: [], startedAt: "" };
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@linkcode supervise}. */
export interface SuperviseOptions {
  run: string;
  /** The binary's own argv; `edge` or `daemon` is appended. */
  command: readonly string[];
  log: Logger;
  /** How often the supervisor looks at its children and flags. */
  tickMs?: number;
  /** Resolves when the supervisor should stop everything (SIGTERM). */
  stop: Promise<unknown>;
}

interface Watched {
  pid?: number;
  /** Set when we spawned it: lets us reap it and know at once when it ends. */
  child?: Deno.ChildProcess;
  ended?: boolean;
  startedAt: number;
  failures: number;
  notBefore: number;
}

/** A child that lived at least this long before dying is restarted at once. */
const STABLE_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * Runs the supervisor until `stop` resolves (then stops the daemon and the edge) or a handover is asked for
 * (then stops the daemon only and leaves the edge running). A live edge or daemon from an earlier supervisor
 * is adopted, not started twice.
 */
export async function supervise(opts: SuperviseOptions): Promise<"stopped" | "handed-over"> {
  const { run, log } = opts;
  makePrivateDir(run);
  writePid(run, "supervisor", Deno.pid);
  const info: SupervisorInfo = {
    pid: Deno.pid,
    command: [...opts.command],
    startedAt: new Date().toISOString(),
  };
  writeFileAtomic(supervisorInfoFile(run), JSON.stringify(info) + "\n");
  log.info("supervisor.start", { command: opts.command.join(" ") });

  const watched: Record<Role, Watched> = {
    edge: { startedAt: 0, failures: 0, notBefore: 0 },
    daemon: { startedAt: 0, failures: 0, notBefore: 0 },
  };
  for (const role of ["edge", "daemon"] as const) {
    const pid = livePid(run, role);
    if (pid !== undefined) {
      watched[role].pid = pid;
      watched[role].startedAt = Date.now();
      log.info("supervisor.adopt", { role, pid });
    }
  }
  let stopping = false;
  opts.stop.then(() => stopping = true);

  const alive = (w: Watched, role: Role) =>
    w.pid !== undefined && (w.child ? !w.ended : processAlive(w.pid, role));

  const spawn = (role: Role) => {
    const w = watched[role];
    const [cmd, ...args] = opts.command;
    try {
      const child = new Deno.Command(cmd, {
        args: [...args, role],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      w.child = child;
      w.pid = child.pid;
      w.ended = false;
      w.startedAt = Date.now();
      writePid(run, role, child.pid);
      log.info("supervisor.spawn", { role, pid: child.pid });
      child.status.then((s) => {
        w.ended = true;
        log.warn("supervisor.exit", { role, pid: child.pid, code: s.code, signal: s.signal ?? null });
      });
    } catch (e) {
      log.error("supervisor.spawn_failed", { role, error: (e as Error).message });
      w.failures++;
      w.notBefore = Date.now() + Math.min(MAX_BACKOFF_MS, 500 * 2 ** w.failures);
    }
  };

  const ended = (role: Role) => {
    const w = watched[role];
    removePid(run, role, w.pid);
    w.failures = Date.now() - w.startedAt >= STABLE_MS ? 0 : w.failures + 1;
    w.notBefore = Date.now() + (w.failures ? Math.min(MAX_BACKOFF_MS, 250 * 2 ** w.failures) : 0);
    w.pid = undefined;
    w.child = undefined;
  };

  let outcome: "stopped" | "handed-over" = "stopped";
  while (!stopping) {
    if (exists(handoverFlag(run))) {
      outcome = "handed-over";
      break;
    }
    for (const role of ["edge", "daemon"] as const) {
      const w = watched[role];
      if (w.pid !== undefined && !alive(w, role)) ended(role);
      const wanted = role === "edge" || !exists(downFlag(run));
      if (wanted && w.pid === undefined && Date.now() >= w.notBefore) spawn(role);
    }
    await new Promise((r) => setTimeout(r, opts.tickMs ?? 200));
  }

  const halt = async (role: Role) => {
    const w = watched[role];
    if (w.pid === undefined) return;
    const pid = w.pid;
    signal(pid, "SIGTERM");
    if (!await waitUntilGone(() => alive(w, role), 15_000)) signal(pid, "SIGKILL");
    await w.child?.status;
    removePid(run, role, pid);
  };
  await halt("daemon");
  if (outcome === "stopped") await halt("edge");
  // A handed-over edge keeps running on its own; this process must not wait for it to end.
  else watched.edge.child?.unref();
  try {
    Deno.removeSync(handoverFlag(run));
  } catch { /* only there for a handover */ }
  try {
    Deno.removeSync(supervisorInfoFile(run));
  } catch { /* already gone */ }
  removePid(run, "supervisor", Deno.pid);
  log.info(outcome === "stopped" ? "supervisor.stop" : "supervisor.handover", {});
  return outcome;
}
