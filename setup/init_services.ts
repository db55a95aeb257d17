/**
 * The service steps of `init`: write the service definitions (only when their bytes changed), then start
 * what is not running and restart the daemon only when something it depends on changed. A running edge is
 * never restarted: its rewritten definition is registered and used at its next start.
 *
 * @module
 */
import type { Plan, PlatformContext, ServiceName } from "../platform/types.ts";
import type { Journal } from "./journal.ts";
import { type Machine, machinePlatform } from "./machine.ts";
import type { StepOut } from "./steps.ts";
import { recordBefore, type ServiceManagerKind, type SystemState } from "./state.ts";
import { switchSlot } from "./daemon_slots.ts";
import { otherSlot } from "../core/lifecycle.ts";

/** Writes the service files; the value names the services whose file changed. */
export function serviceFilesStep(
  m: Machine,
  j: Journal,
  ctx: PlatformContext,
  state: SystemState,
  manager: ServiceManagerKind,
  previousCommand: readonly string[] | undefined,
): StepOut<{ changedServices: ServiceName[] }> {
  if (manager === "supervisor") {
    return {
      summary: "none needed: the built-in supervisor runs the edge and the daemon",
      status: "skipped",
      value: { changedServices: [] },
    };
  }
  const upgraded = previousCommand !== undefined && previousCommand.join("\0") !== ctx.command.join("\0");
  const changedServices: ServiceName[] = [];
  for (const file of machinePlatform(m).serviceFiles(ctx)) {
    recordBefore(state, m.fs, file.path, "service", file.purpose);
    const change = j.write(file);
    if (change === "unchanged") continue;
    if (file.service && !changedServices.includes(file.service)) changedServices.push(file.service);
    if (change === "changed") {
      j.note(
        upgraded
          ? `${file.path}: rewritten for the new binary path`
          : `${file.path} was edited by hand or written by another version: rewritten`,
      );
    }
  }
  if (upgraded) {
    j.note(`upgrade: services now run ${ctx.command.join(" ")} (was ${previousCommand!.join(" ")})`);
  }
  const summary = changedServices.length
    ? `${changedServices.join(" and ")} definition${changedServices.length > 1 ? "s" : ""} written`
    : "unchanged";
  return { summary, value: { changedServices } };
}

/** What the services step needs to know from the earlier steps. */
export interface ServiceFacts {
  /** Our edge holds its port now. */
  edgeRunning: boolean;
  /** Our daemon answers on its ports now. */
  daemonRunning: boolean;
  /** The daemon's file, ports or CA changed: a running daemon must restart to see it. */
  daemonDependsChanged: boolean;
  changedServices: readonly ServiceName[];
}

/** What the services step did. */
export interface ServiceActions {
  started: ServiceName[];
  restarted: ServiceName[];
}

/** Drops a command identical to one earlier in the plan (two plans composed may both reload the manager). */
export function uniqueSteps(plan: Plan): Plan {
  const seen = new Set<string>();
  return plan.filter((s) => {
    if (s.kind !== "run") return true;
    const key = JSON.stringify([s.cmd, ...s.args]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Starts and restarts what the facts call for, through the service manager or the supervisor. */
export async function servicesStep(
  m: Machine,
  j: Journal,
  ctx: PlatformContext,
  state: SystemState,
  manager: ServiceManagerKind,
  facts: ServiceFacts,
): Promise<StepOut<ServiceActions>> {
  const started: ServiceName[] = [];
  const restarted: ServiceName[] = [];
  const daemonWanted = !facts.daemonRunning || facts.daemonDependsChanged;
  const daemonVerb = () => (facts.daemonRunning ? restarted : started).push("daemon");
  if (!facts.edgeRunning) started.push("edge");

  if (manager === "supervisor") {
    const running = m.supervisor.running();
    if (!running) {
      j.record(
        `${ctx.command.join(" ")} supervise &`,
        "start the supervisor, which starts the edge and the daemon",
      );
      if (!j.dryRun) await m.supervisor.start(ctx.command);
      if (facts.daemonRunning && facts.daemonDependsChanged) {
        j.record("halton-meter restart", "restart the adopted daemon");
        if (!j.dryRun) await m.supervisor.restartDaemon();
      }
      if (daemonWanted) daemonVerb();
    } else if (running.command.join("\0") !== ctx.command.join("\0")) {
      j.record(
        "halton-meter supervise (handover)",
        "replace the supervisor with the new binary; the edge keeps running",
      );
      if (!j.dryRun) {
        await m.supervisor.handOver();
        await m.supervisor.start(ctx.command);
        // The new supervisor adopted the old daemon; a new one takes over its ports while it drains.
        await m.supervisor.restartDaemon();
      }
      daemonVerb();
    } else if (daemonWanted) {
      j.record("halton-meter restart", "(re)start the daemon under the supervisor");
      if (!j.dryRun) await m.supervisor.restartDaemon();
      daemonVerb();
    }
  } else {
    const platform = machinePlatform(m);
    const install: ServiceName[] = [...started];
    if (!facts.daemonRunning) install.push("daemon");
    const register = facts.changedServices.filter((n) => !install.includes(n));
    await j.run(uniqueSteps([
      ...(install.length ? platform.installServices(ctx, install) : []),
      ...(register.length ? platform.registerServices(ctx, register) : []),
    ]));
    if (daemonWanted && facts.daemonRunning) {
      // The running daemon is replaced by the other slot's, which takes its ports over while it drains.
      if (j.dryRun) {
        const to = otherSlot(ctx.slot ?? "a");
        await j.run([
          ...platform.startDaemonSlot({ ...ctx, slot: to }, to),
          ...platform.retireDaemonSlot({ ...ctx, slot: to }, ctx.slot ?? "a"),
        ]);
      } else {
        const { to } = await switchSlot(m, m.daemons, {
          ctx,
          runPlan: async (plan) => void await j.run(plan),
          say: (line) => m.progress(line),
        });
        j.note(`the daemon now runs in slot ${to}; the one it replaced finishes its requests in flight`);
      }
    }
    if (daemonWanted) daemonVerb();
    if (register.includes("edge")) {
      j.note("the running edge keeps its port; its new definition applies at its next start");
    }
  }
  state.serviceManager = manager;
  const parts = [
    started.length ? `${j.dryRun ? "would start" : "started"} ${started.join(" and ")}` : "",
    restarted.length ? `${j.dryRun ? "would restart" : "restarted"} ${restarted.join(" and ")}` : "",
  ].filter(Boolean);
  return {
    summary: parts.length
      ? parts.join("; ")
      : `all running; nothing ${j.dryRun ? "to restart" : "restarted"}`,
    value: { started, restarted },
  };
}
