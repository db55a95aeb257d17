/**
 * The edge's watchdog over the daemon, for every service manager: systemd, launchd and Task Scheduler restart
 * a daemon that exits, not one that hangs. A daemon that answered its health check before and has failed it
 * for `hangMs` while still holding its API port is killed, so its manager (or the supervisor) starts a new
 * one. "Still holding its port" is what makes the pid safe to kill: `run/daemon.ready` names the process that
 * bound that port, and a pid cannot be reused while its process still holds a socket.
 *
 * While the daemon answers, it is asked every `restMs` rather than every `everyMs` (`WATCH_REST_MS` and
 * `WATCH_EVERY_MS`, core/lifecycle.ts): each check is a new connection and an HTTP exchange in both processes,
 * about 3 ms of CPU once a second on an idle machine. A hang is then first seen up to `restMs` later; from the
 * first failed check on, it is asked every `everyMs` until it answers or is killed.
 *
 * @module
 */
import { WATCH_EVERY_MS, WATCH_REST_MS } from "../core/lifecycle.ts";

/** What the watchdog needs; side effects are passed in. */
export interface WatchdogOptions {
  /** The daemon's health, as the edge sees it. */
  healthy(): Promise<boolean>;
  /** Whether something still accepts connections on the daemon's API port. */
  portHeld(): Promise<boolean>;
  /** The pid of the daemon that last bound its ports (`run/daemon.ready`). */
  readyPid(): number | undefined;
  /** How long a daemon that answered before may fail its health check. */
  hangMs: number;
  /** Kills `pid` (SIGKILL: a hung process cannot drain). */
  kill(pid: number): void;
  /** Hears each kill. */
  onKill?(pid: number, unansweredMs: number): void;
  /** How often it asks once the daemon has failed a check, or before it has answered one (default 1 s). */
  everyMs?: number;
  /** How long it waits after an answer before asking again (default 5 s). */
  restMs?: number;
  now?: () => number;
}

/** Starts the watchdog; `stop()` ends it. */
export function startWatchdog(options: WatchdogOptions): { stop(): void } {
  const now = options.now ?? (() => performance.now());
  const everyMs = options.everyMs ?? WATCH_EVERY_MS;
  const restMs = options.restMs ?? WATCH_REST_MS;
  let answeredPid: number | undefined;
  let failingSince: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  /** One check; says whether the daemon answered. */
  const check = async (): Promise<boolean> => {
    try {
      const pid = options.readyPid();
      if (await options.healthy()) {
        answeredPid = pid;
        failingSince = undefined;
        return true;
      }
      // Only a daemon seen answering can be hung; one that is starting, or another one, is left alone.
      if (pid === undefined || pid !== answeredPid) {
        failingSince = undefined;
        return false;
      }
      failingSince ??= now();
      const ms = now() - failingSince;
      if (ms < options.hangMs || !await options.portHeld()) return false;
      options.kill(pid);
      options.onKill?.(pid, Math.round(ms));
      answeredPid = undefined;
      failingSince = undefined;
    } catch {
      // A failed look is no verdict: the next check looks again.
    }
    return false;
  };
  const schedule = (ms: number) => {
    if (!stopped) timer = setTimeout(async () => schedule(await check() ? restMs : everyMs), ms);
  };
  schedule(everyMs);
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
