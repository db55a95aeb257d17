/**
 * A restart the service manager does on its own (`systemctl --user restart halton-meter`), made to overlap the
 * way `halton-meter restart` does (docs/lifecycle.md): the daemon that gets the manager's SIGTERM asks whether
 * this is a restart, and if so has the other slot's daemon started beside itself, serving until that daemon
 * asks it to drain. A stop drains at once, as before.
 *
 * @module
 */
import { currentOs } from "../core/paths.ts";
import type { Logger } from "../core/log.ts";
import { type DaemonSlot, otherSlot } from "../core/lifecycle.ts";
import { runPlan } from "../platform/plan.ts";
import { gatherFacts } from "./inspect.ts";
import { currentSlot, switchSlot } from "./daemon_slots.ts";
import { machinePlatform, realMachine } from "./machine.ts";

/**
 * When the manager is restarting `slot`, the current one, starts the other slot's daemon to take over from
 * this one and returns the hand-over under way: `settled` resolves true once the new daemon serves, false when
 * it did not within 30 s (this slot is current again, and this daemon should drain as on a stop). Undefined
 * when the SIGTERM is a stop, or the manager does not say.
 */
export async function overlapManagerRestart(
  env: Readonly<Record<string, string | undefined>>,
  slot: DaemonSlot,
  log: Logger,
): Promise<{ settled: Promise<boolean> } | undefined> {
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
