/**
 * A SIGTERM that is really a restart, made to overlap the way `halton-meter restart` does (docs/lifecycle.md):
 * the daemon that gets it asks whoever runs it whether a new daemon will follow, and if so has that one started
 * beside itself now, serving until the new one asks it to drain, rather than leaving new connections unmetered
 * while it drains and the manager waits for its exit. Two managers can tell: systemd (the unit's job is a
 * `restart`) and the built-in supervisor (which restarts any daemon it was not told to keep down). A stop drains
 * at once, as before.
 *
 * @module
 */
import { currentOs } from "../core/paths.ts";
import type { Logger } from "../core/log.ts";
import { type DaemonSlot, otherSlot } from "../core/lifecycle.ts";
import { runPlan } from "../platform/plan.ts";
import { gatherFacts } from "./inspect.ts";
import { currentSlot, switchSlot, TAKEOVER_MS } from "./daemon_slots.ts";
import { machinePlatform, realMachine } from "./machine.ts";
import { daemonKeptDown, runningSupervisor } from "./supervisor.ts";
import { requestNewDaemon } from "./supervisor_control.ts";

/** A hand-over under way: `settled` is true once the new daemon serves, false when none did in time. */
export interface Overlap {
  settled: Promise<boolean>;
}

/**
 * When the SIGTERM this daemon got is a restart by its manager, starts the new daemon beside it and returns
 * the hand-over under way; undefined when it is a stop, or the manager does not say. On false this daemon
 * should drain as on a stop.
 */
export async function overlapRestart(
  env: Readonly<Record<string, string | undefined>>,
  run: string,
  slot: DaemonSlot | undefined,
  log: Logger,
): Promise<Overlap | undefined> {
  return slot === undefined ? supervisorRestart(run, log) : await systemdRestart(env, slot, log);
}

/** systemd restarting `slot`, the current one: the other slot takes over, as `restart` does it. */
async function systemdRestart(
  env: Readonly<Record<string, string | undefined>>,
  slot: DaemonSlot,
  log: Logger,
): Promise<Overlap | undefined> {
  const m = realMachine(env, currentOs(), () => {});
  if (currentSlot(m) !== slot || !await machinePlatform(m).probeRestarting(m.runner, slot)) return undefined;
  log.info("daemon.manager_restart", { slot, to: otherSlot(slot) });
  const { ctx } = await gatherFacts(m);
  const settled = switchSlot(m, m.daemons, {
    ctx,
    runPlan: async (plan) => void await runPlan(plan, m.runner, m.fs.planFs()),
    say: () => {},
    // The manager cannot start a slot whose last daemon is still draining: drain as on a stop instead.
    drainWaitMs: 0,
  }).then(
    ({ to }) => {
      log.info("daemon.manager_restart_done", { slot: to });
      return true;
    },
    (e) => {
      log.warn("daemon.manager_restart_failed", { error: (e as Error).message });
      return false;
    },
  );
  return { settled };
}

/**
 * The built-in supervisor would start a new daemon once this one exits, unless told to keep it down (`stop`):
 * it is asked for one now, with the flag `restart` writes, and starts it beside this one.
 */
function supervisorRestart(run: string, log: Logger): Overlap | undefined {
  const supervisor = runningSupervisor(run);
  if (supervisor === undefined || daemonKeptDown(run)) return undefined;
  log.info("daemon.supervisor_restart", { supervisor: supervisor.pid });
  const settled = requestNewDaemon(run, "the daemon on SIGTERM", TAKEOVER_MS).then((served) => {
    if (!served) {
      log.warn("daemon.manager_restart_failed", { error: `no new daemon within ${TAKEOVER_MS / 1000} s` });
    }
    return served;
  });
  return { settled };
}
