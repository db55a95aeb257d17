/**
 * A planned restart of the daemon under a service manager (docs/lifecycle.md): the manager starts the daemon
 * of the other slot beside the running one; the new daemon gets ready, asks the old one to drain and takes its
 * ports over; then the new slot is the one started at login and the old one is retired. `restart` and `init`
 * (after an upgrade) do this; `stop` asks the daemon to drain before the manager stops it.
 *
 * @module
 */
import { ExitCode, MeterError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/io.ts";
import { type DaemonSlot, daemonSlotFile, otherSlot, parseDaemonSlot } from "../core/lifecycle.ts";
import type { Plan, PlatformContext } from "../platform/types.ts";
import type { DaemonOps } from "./daemons.ts";
import { type Machine, machinePaths, machinePlatform } from "./machine.ts";

/** The current slot of `m`'s daemon (`run/daemon.slot`; `a` on a machine set up before slots). */
export function currentSlot(m: Machine): DaemonSlot {
  return parseDaemonSlot(m.fs.readText(daemonSlotFile(machinePaths(m).run)));
}

/** Records `slot` as current. */
export function recordSlot(m: Machine, slot: DaemonSlot): void {
  const run = m.fs.local(machinePaths(m).run);
  Deno.mkdirSync(run, { recursive: true });
  writeFileAtomic(daemonSlotFile(run), `${slot}\n`);
}

async function until(check: () => boolean | Promise<boolean>, ms: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + ms;
  while (!await check()) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

/** How long a restart waits for the new daemon to serve. */
export const TAKEOVER_MS = 30_000;
/** How long a daemon may drain (`[daemon] drain_timeout_s`, 10 min by default), with a margin. */
export const DRAIN_WAIT_MS = 11 * 60_000;

/** What {@linkcode switchSlot} needs besides the machine. */
export interface SwitchOptions {
  ctx: PlatformContext;
  /** Carries a plan out (init records it in its journal). */
  runPlan: (plan: Plan) => Promise<void>;
  /** One line for the user while something takes long. */
  say: (line: string) => void;
  takeoverMs?: number;
  drainWaitMs?: number;
}

/**
 * Replaces the serving daemon by one started in the other slot, and makes that slot current. Resolves with
 * the two slots once the new daemon serves; the old one drains on its own.
 *
 * @throws {MeterError} when the new daemon does not serve in time: the old slot is current again.
 */
export async function switchSlot(
  m: Machine,
  ops: DaemonOps,
  opts: SwitchOptions,
): Promise<{ from: DaemonSlot; to: DaemonSlot }> {
  const platform = machinePlatform(m);
  const from = currentSlot(m);
  const to = otherSlot(from);
  const draining = ops.inSlot(to);
  if (draining !== undefined) {
    // The manager runs one instance per slot: the last restart's daemon must finish its streams first.
    opts.say(
      `The daemon replaced last time (pid ${draining}) is still finishing its requests; waiting for it.`,
    );
    if (!await until(() => !ops.alive(draining), opts.drainWaitMs ?? DRAIN_WAIT_MS, 250)) {
      throw new MeterError(`the daemon replaced last time (pid ${draining}) is still draining`, {
        exitCode: ExitCode.Unhealthy,
        hint: "Run 'halton-meter restart' again once it has ended, or end it with 'halton-meter stop'.",
      });
    }
  }
  const old = await ops.serving();
  recordSlot(m, to);
  const ctx = { ...opts.ctx, slot: to };
  await opts.runPlan(platform.startDaemonSlot(ctx, to));
  const served = await until(async () => {
    const now = await ops.serving();
    return now !== undefined && now !== old;
  }, opts.takeoverMs ?? TAKEOVER_MS);
  if (!served) {
    recordSlot(m, from);
    await opts.runPlan([
      ...platform.retireDaemonSlot({ ...opts.ctx, slot: from }, to),
      ...platform.stopServices(ctx, ["daemon"]),
    ]);
    throw new MeterError(
      `the daemon started in slot ${to} did not take over within ${
        (opts.takeoverMs ?? TAKEOVER_MS) / 1000
      } s`,
      {
        exitCode: ExitCode.Unhealthy,
        hint: old === undefined
          ? "Run 'halton-meter status' and see logs/daemon.jsonl in the meter's folder."
          : "The running daemon keeps serving. See logs/daemon.jsonl in the meter's folder for why the new one did not start.",
      },
    );
  }
  await opts.runPlan(platform.retireDaemonSlot(ctx, from));
  return { from, to };
}

/**
 * Asks the serving daemon to drain and waits until it has exited (its streams finished), so the service
 * manager's stop that follows ends nothing in flight. On Windows, where the manager's stop is a hard kill, this
 * is the only drain. False when no daemon answered the request.
 */
export async function drainServing(
  ops: DaemonOps,
  say: (line: string) => void,
  waitMs = DRAIN_WAIT_MS,
): Promise<boolean> {
  const pid = await ops.drain();
  if (pid === undefined) return false;
  if (!await until(() => !ops.alive(pid), 1_000)) {
    say("The daemon is finishing the requests in flight (streams may take minutes)…");
    await until(() => !ops.alive(pid), waitMs, 250);
  }
  return true;
}
