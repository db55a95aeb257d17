/**
 * The questions a restart or a stop under a service manager asks of the running daemons, and the drain request
 * it sends them: injected into the machine (`setup/machine.ts`) so that tests answer them.
 *
 * @module
 */
import { type DaemonSlot, readyDaemon, requestDrain, slotPidFile } from "../core/lifecycle.ts";
import { readPidFile } from "../core/io.ts";
import { processAlive } from "./pids.ts";

/** What the slot hand-over asks of the running daemons; `realDaemonOps()` asks this machine's. */
export interface DaemonOps {
  /** The pid of the daemon that serves now (`run/daemon.ready`, alive and answering), if any. */
  serving(): Promise<number | undefined>;
  /** Sends the serving daemon the drain request; its pid when it agreed. */
  drain(): Promise<number | undefined>;
  /** Whether `pid` still runs. */
  alive(pid: number): boolean;
  /** The pid of the daemon running in `slot` (`run/daemon-<slot>.pid`), if one still runs there. */
  inSlot(slot: DaemonSlot): number | undefined;
}

/** This machine's daemons, for the home whose `run` folder and API port are given. */
export function realDaemonOps(
  run: string,
  apiPort: () => number,
  health: (port: number) => Promise<{ ok: boolean }>,
): DaemonOps {
  const alive = (pid: number) => processAlive(pid, "daemon");
  return {
    async serving() {
      const pid = readyDaemon(run);
      return pid !== undefined && alive(pid) && (await health(apiPort())).ok ? pid : undefined;
    },
    drain: () => requestDrain(apiPort(), run),
    alive,
    inSlot(slot) {
      const pid = readPidFile(slotPidFile(run, slot));
      return pid !== undefined && alive(pid) ? pid : undefined;
    },
  };
}
