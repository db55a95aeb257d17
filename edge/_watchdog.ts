/**
 * The edge's watchdog over the daemon, for every service manager: systemd, launchd and Task Scheduler restart
 * a daemon that exits, not one that hangs. A daemon that answered its health check before and has failed it
 * for `hangMs` while still holding its API port is killed, so its manager (or the supervisor) starts a new
 * one. "Still holding its port" is what makes the pid safe to kill: `run/daemon.ready` names the process that
 * bound that port, and a pid cannot be reused while its process still holds a socket.
 *
 * @module
 */

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
  /** How often it asks (default 1 s). */
  everyMs?: number;
  now?: () => number;
}

/** Starts the watchdog; `stop()` ends it. */
export function startWatchdog(options: WatchdogOptions): { stop(): void } {
  const now = options.now ?? (() => performance.now());
  let answeredPid: number | undefined;
  let failingSince: number | undefined;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const pid = options.readyPid();
      if (await options.healthy()) {
        answeredPid = pid;
        failingSince = undefined;
        return;
      }
      // Only a daemon seen answering can be hung; one that is starting, or another one, is left alone.
      if (pid === undefined || pid !== answeredPid) {
        failingSince = undefined;
        return;
      }
      failingSince ??= now();
      const ms = now() - failingSince;
      if (ms < options.hangMs || !await options.portHeld()) return;
      options.kill(pid);
      options.onKill?.(pid, Math.round(ms));
      answeredPid = undefined;
      failingSince = undefined;
    } catch {
      // A failed look is no verdict: the next tick looks again.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, options.everyMs ?? 1000);
  return { stop: () => clearInterval(timer) };
}
