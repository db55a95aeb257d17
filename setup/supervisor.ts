/**
 * The binary's own small supervisor, for machines where no service manager answers (a container, WSL without
 * systemd, CI): `halton-meter supervise` runs detached, starts `edge` and `daemon`, and starts either again
 * when it dies (backing off when it keeps dying). It is steered through files under `paths.run`, which works
 * the same on every OS: `daemon.down` keeps the daemon stopped (`stop`), `daemon.restart` asks for a new
 * daemon, `supervisor.handover` asks it to exit and leave the edge and the daemon running for a new supervisor
 * to adopt (an upgrade).
 *
 * A restart overlaps the two daemons: the new one is started with `HALTON_METER_REPLACES=<old pid>` and, once
 * it is ready to bind, asks the old one to drain (the drain request); the old one closes its ports at once and
 * drains (its open connections finish their requests and streams) while the new one already serves new
 * connections. The supervisor keeps reaping the old one and kills it only after the drain allowance. A daemon
 * SIGTERMed by someone else asks for its successor the same way (`daemon.restart`) before it drains. A daemon
 * that does not answer its health check for `hangMs` is hung: it is killed and replaced (the watchdog).
 *
 * @module
 */
import { join } from "node:path";
import { exists, writeFileAtomic } from "../core/io.ts";
import { makePrivateDir } from "../core/private.ts";
import type { Logger } from "../core/log.ts";
import { readyDaemon, REPLACES_ENV, WATCH_EVERY_MS, WATCH_REST_MS } from "../core/lifecycle.ts";
import { keepStderr } from "./stderr_log.ts";
import { livePid, processAlive, removePid, signal, waitUntilGone, writePid } from "./pids.ts";

/** The two processes the supervisor keeps running. */
type Role = "edge" | "daemon";

/** `run/daemon.down`: present while the daemon is meant to be stopped. */
export function downFlag(run: string): string {
  return join(run, "daemon.down");
}

/** Whether `stop` has told the supervisor to keep the daemon down (`run/daemon.down`). */
export function daemonKeptDown(run: string): boolean {
  return exists(downFlag(run));
}

/** `run/daemon.restart`: asks the supervisor for a new daemon, the old one draining beside it. */
export function restartFlag(run: string): string {
  return join(run, "daemon.restart");
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

/** Options of {@linkcode supervise}. */
export interface SuperviseOptions {
  run: string;
  /** The binary's own argv; `edge` or `daemon` is appended. */
  command: readonly string[];
  /** Variables each child is started with besides this process's own (`Platform.serviceEnv`). */
  env?: Readonly<Record<Role, Record<string, string>>>;
  log: Logger;
  /**
   * How often the supervisor looks when nothing wakes it sooner and only looking finds what it waits for (an
   * adopted process's exit, a drain's end, a flag where `run` cannot be watched); default 1 s. A child it
   * started ending, or a change in `run` (a flag), wakes it at once; otherwise it looks every 5 s.
   */
  tickMs?: number;
  /** Resolves when the supervisor should stop everything (SIGTERM). */
  stop: Promise<unknown>;
  /** Asks the daemon's health; true when it answered in time. Without it there is no watchdog. */
  healthy?: () => Promise<boolean>;
  /** How long the daemon may fail its health check before it is killed and replaced (default 15 s). */
  hangMs?: number;
  /** How long a replaced daemon may drain before it is killed (default 10 min, plus a margin). */
  drainMs?: number;
  /** The logs folder: each child's stderr is kept in `<role>.stderr.log` there. Discarded when absent. */
  logs?: string;
  /**
   * Sends the serving daemon the drain request; its pid when it agreed. Stopping asks the daemon with it
   * before any signal: Windows has no gentle signal, and a supervised daemon takes a SIGTERM it was not asked
   * for as a restart (it asks this supervisor for its successor first).
   */
  drain?: () => Promise<number | undefined>;
}

interface Watched {
  pid?: number;
  /** Set when we spawned it: lets us reap it and know at once when it ends. */
  child?: Deno.ChildProcess;
  ended?: boolean;
  startedAt: number;
  failures: number;
  notBefore: number;
  /** Since when the daemon has failed its health check, if it has. */
  unhealthySince?: number;
  /** Whether it has answered its health check once: until then it is starting, not hung. */
  answered?: boolean;
}

/** A replaced daemon still finishing its connections. */
interface Draining {
  pid: number;
  child?: Deno.ChildProcess;
  ended?: boolean;
  killAt: number;
}

/** A child that lived at least this long before dying is restarted at once. */
const STABLE_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
/** How long a new daemon may take to answer its first health check before the watchdog counts it hung. */
const STARTUP_MS = 30_000;
/** How long the loop sleeps when nothing wakes it and only looking finds what it waits for. */
const TICK_MS = 1000;
/** How long it sleeps when everything it waits for wakes it: against a change the watch of `run/` missed. */
const REST_TICK_MS = 5000;

/**
 * Calls `onChange` at each change in folder `dir` until closed: the flags that `stop`, `restart` and an
 * upgrade write are seen at once, not at the next tick. Where the folder cannot be watched, nothing: the loop's
 * tick still finds them.
 */
function watchFolder(
  dir: string,
  onChange: () => void,
): { readonly watching: boolean; close(): Promise<void> } {
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(dir, { recursive: false });
  } catch {
    return { watching: false, close: () => Promise.resolve() };
  }
  let watching = true;
  const reading = (async () => {
    try {
      for await (const _ of watcher) onChange();
    } catch {
      // The watch failed (the folder removed): the tick goes on without it.
    }
    watching = false;
  })();
  return {
    get watching() {
      return watching;
    },
    close() {
      try {
        watcher.close();
      } catch { /* already ended */ }
      return reading;
    },
  };
}

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
  // A wake-up while the loop runs (not asleep) ends its next sleep at once instead.
  let woken = false;
  let endSleep: (() => void) | undefined;
  /** Ends the loop's current sleep early, or its next one. */
  const wake = () => {
    woken = true;
    endSleep?.();
  };
  const sleep = async (ms: number) => {
    if (!woken) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        endSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    endSleep = undefined;
    woken = false;
  };
  opts.stop.then(() => {
    stopping = true;
    wake();
  });
  const flags = watchFolder(run, wake);

  const alive = (w: Watched, role: Role) =>
    w.pid !== undefined && (w.child ? !w.ended : processAlive(w.pid, role));

  const spawn = (role: Role, replaces?: number) => {
    const w = watched[role];
    const [cmd, ...args] = opts.command;
    try {
      const child = new Deno.Command(cmd, {
        args: [...args, role],
        stdin: "null",
        stdout: "null",
        stderr: opts.logs ? "piped" : "null",
        env: { ...opts.env?.[role], ...(replaces === undefined ? {} : { [REPLACES_ENV]: String(replaces) }) },
      }).spawn();
      // Read until the child ends or this supervisor hands over; after that its stderr writes fail harmlessly.
      if (opts.logs) keepStderr(child.stderr, opts.logs, role).catch(() => {});
      w.child = child;
      w.pid = child.pid;
      w.ended = false;
      w.startedAt = Date.now();
      w.answered = false;
      w.unhealthySince = undefined;
      writePid(run, role, child.pid);
      log.info("supervisor.spawn", { role, pid: child.pid });
      child.status.then((s) => {
        // Only if it is still the one watched: a replaced daemon ends while its successor runs.
        if (w.child === child) w.ended = true;
        log.warn("supervisor.exit", { role, pid: child.pid, code: s.code, signal: s.signal ?? null });
        wake();
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

  const draining: Draining[] = [];
  const drainMs = (opts.drainMs ?? 600_000) + 30_000;
  // Hands the current daemon over to `draining` and starts its successor, which tells it to stop.
  const replace = (why: string) => {
    const w = watched.daemon;
    if (w.pid === undefined) return spawn("daemon");
    const old = { pid: w.pid, child: w.child, ended: w.ended, killAt: Date.now() + drainMs };
    if (old.child) old.child.status.then(() => old.ended = true);
    draining.push(old);
    log.info("supervisor.replace", { pid: old.pid, why });
    w.pid = undefined;
    w.child = undefined;
    spawn("daemon", old.pid);
  };
  // A successor that died before it served (it could not start): the one it was to replace still serves, so
  // it is watched again rather than left to its drain timeout. One that died after it served had already sent
  // its predecessor draining, ports closed: taken back, that one would leave the meter unmetered until its
  // streams end (up to the drain allowance), where a new daemon serves within a second.
  const takeBackPredecessor = () => {
    const last = draining.at(-1);
    if (!last || last.ended || !processAlive(last.pid, "daemon") || readyDaemon(run) !== last.pid) return;
    draining.pop();
    const w = watched.daemon;
    Object.assign(w, {
      pid: last.pid,
      child: last.child,
      ended: false,
      startedAt: Date.now(),
      answered: true,
    });
    w.unhealthySince = undefined;
    writePid(run, "daemon", last.pid);
    log.warn("supervisor.replace_failed", { kept: last.pid });
  };
  const reap = () => {
    for (const d of [...draining]) {
      const gone = d.child ? d.ended : !processAlive(d.pid, "daemon");
      if (gone) draining.splice(draining.indexOf(d), 1);
      else if (Date.now() > d.killAt) {
        log.warn("supervisor.drain_timeout", { pid: d.pid });
        signal(d.pid, "SIGKILL");
        d.killAt = Infinity;
      }
    }
  };

  let watching = false;
  let nextWatch = 0;
  // The watchdog: one health check at a time, never blocking the loop; every 5 s after an answer, every second
  // otherwise.
  const watch = () => {
    const w = watched.daemon;
    if (!opts.healthy || watching || w.pid === undefined || Date.now() < nextWatch) return;
    watching = true;
    nextWatch = Date.now() + WATCH_EVERY_MS;
    const pid = w.pid;
    opts.healthy().catch(() => false).then((ok) => {
      watching = false;
      // The loop's sleep was set while this check was under way: it sets it again from this check's result.
      wake();
      if (w.pid !== pid) return;
      if (ok) {
        w.answered = true;
        w.unhealthySince = undefined;
        nextWatch = Date.now() + WATCH_REST_MS;
        return;
      }
      w.unhealthySince ??= Date.now();
      const limit = w.answered ? opts.hangMs ?? 15_000 : Math.max(STARTUP_MS, opts.hangMs ?? 15_000);
      const since = w.answered ? w.unhealthySince : w.startedAt;
      if (Date.now() - since < limit) return;
      log.error("supervisor.daemon_hung", { pid, seconds: Math.round((Date.now() - since) / 1000) });
      // A hung process cannot drain: it is killed, and its successor started at once.
      signal(pid, "SIGKILL");
      replace("hung");
    });
  };

  /**
   * How long the loop may sleep: until the watchdog's next check or the end of a back-off if sooner than the
   * tick. A back-off already past is no reason to wake (a daemon kept down keeps its old one); a check due
   * now is. The tick is short only while something can end or appear without waking the loop.
   */
  const sleepMs = () => {
    const now = Date.now();
    const adopted = (["edge", "daemon"] as const).some((r) =>
      watched[r].pid !== undefined && !watched[r].child
    );
    const polling = !flags.watching || adopted || draining.length > 0;
    const tick = polling ? opts.tickMs ?? TICK_MS : Math.max(opts.tickMs ?? TICK_MS, REST_TICK_MS);
    const checking = opts.healthy && !watching && watched.daemon.pid !== undefined;
    const due = [watched.edge.notBefore, watched.daemon.notBefore].filter((t) => t > now);
    if (checking) due.push(Math.max(nextWatch, now));
    return Math.min(tick, ...due.map((t) => t - now));
  };

  let outcome: "stopped" | "handed-over" = "stopped";
  while (!stopping) {
    if (exists(handoverFlag(run))) {
      outcome = "handed-over";
      break;
    }
    if (exists(restartFlag(run))) {
      try {
        Deno.removeSync(restartFlag(run));
      } catch { /* another reader took it */ }
      const w = watched.daemon;
      if (w.pid !== undefined && !alive(w, "daemon")) ended("daemon");
      if (!daemonKeptDown(run)) replace("restart");
    }
    reap();
    watch();
    for (const role of ["edge", "daemon"] as const) {
      const w = watched[role];
      if (w.pid !== undefined && !alive(w, role)) {
        ended(role);
        if (role === "daemon") takeBackPredecessor();
      }
      const wanted = role === "edge" || !daemonKeptDown(run);
      if (wanted && w.pid === undefined && Date.now() >= w.notBefore) spawn(role);
    }
    await sleep(sleepMs());
  }
  await flags.close();

  const halt = async (role: Role) => {
    const w = watched[role];
    if (w.pid === undefined) return;
    const pid = w.pid;
    if (role === "edge" || await opts.drain?.().catch(() => undefined) !== pid) signal(pid, "SIGTERM");
    if (!await waitUntilGone(() => alive(w, role), role === "daemon" ? drainMs : 15_000)) {
      signal(pid, "SIGKILL");
    }
    await w.child?.status;
    removePid(run, role, pid);
  };
  if (outcome === "stopped") {
    await halt("daemon");
    for (const d of draining) {
      if (d.ended) continue;
      signal(d.pid, "SIGTERM");
      if (!await waitUntilGone(() => !d.ended && processAlive(d.pid, "daemon"), drainMs)) {
        signal(d.pid, "SIGKILL");
      }
      await d.child?.status;
    }
    await halt("edge");
  } else {
    // The edge and the daemon keep running for the next supervisor, which adopts them (and replaces the
    // daemon when it runs another binary); this process must not wait for them to end.
    for (const child of [watched.edge.child, watched.daemon.child, ...draining.map((d) => d.child)]) {
      try {
        child?.unref();
      } catch {
        // Already reaped: its status settled before the callback that marks it ended ran.
      }
    }
  }
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
