/**
 * `halton-meter daemon`: runs the intercepting daemon in the foreground (what the service runs) until SIGINT,
 * SIGTERM or a drain request, then stops it cleanly with the row queue written.
 *
 * A daemon started while another of the same home serves takes over from it (docs/lifecycle.md): it gets
 * everything ready, asks the old one to drain, then binds the ports as the old one lets go. The old one is
 * named by `HALTON_METER_REPLACES` (the supervisor) or found through `run/daemon.ready` (a service manager
 * starting the other slot, which cannot pass a variable per start). A SIGTERM the service manager sends to
 * restart the daemon (systemd restarting its slot, or the supervisor that will start another) starts that
 * hand-over from the old side (`setup/manager_restart.ts`).
 *
 * @module
 */
import { type CommandSpec, type Invocation, type Io, stringFlag } from "./command.ts";
import type { Logger } from "../core/log.ts";
import { ExitCode, MeterError } from "../core/errors.ts";
import { VERSION } from "../core/version.ts";
import {
  clearDaemonFailure,
  type DaemonSlot,
  daemonSlotFile,
  drainToken,
  markDaemonReady,
  parseDaemonSlot,
  processLogger,
  readyDaemon,
  recordDaemonFailure,
  REPLACES_ENV,
  requestDrain,
  slotPidFile,
  untilStopSignal,
} from "../core/lifecycle.ts";
import { restrictUmask, tightenHome } from "../core/private.ts";
import { readPidFile, readTextIfThere, writeFileAtomic } from "../core/io.ts";
import { processAlive } from "../setup/pids.ts";
import { apiHealth } from "../setup/probe.ts";
import { drainRoute } from "../daemon/api/drain.ts";

/** The pid of another daemon of this home that serves now: named in `daemon.ready`, alive, answering. */
async function servingDaemon(run: string, apiPort: number): Promise<number | undefined> {
  const pid = readyDaemon(run);
  if (pid === undefined || pid === Deno.pid || !processAlive(pid, "daemon")) return undefined;
  return (await apiHealth(apiPort, 1_000)).ok ? pid : undefined;
}

/**
 * Asks the daemon this one replaces to drain: the drain request on every OS, SIGTERM when it does not answer
 * it (an older version). True when one was asked, so binding waits for it to let go of the ports.
 */
async function stopPredecessor(
  run: string,
  apiPort: number,
  named: number | undefined,
  log: Logger,
): Promise<boolean> {
  const pid = named ?? await servingDaemon(run, apiPort);
  if (pid === undefined) return false;
  const agreed = await requestDrain(apiPort, run);
  if (agreed !== undefined) {
    log.info("daemon.replacing", { pid: agreed, by: "drain request" });
    return true;
  }
  try {
    // On Windows this ends the process without a drain: only an older daemon, which lacks the request, gets it.
    Deno.kill(pid, "SIGTERM");
    log.info("daemon.replacing", { pid, by: "SIGTERM" });
    return true;
  } catch {
    // Gone already: the ports are free.
    return false;
  }
}

function slotOf(inv: Invocation): DaemonSlot | undefined {
  const given = stringFlag(inv, "slot");
  if (given === undefined) return undefined;
  if (given === "a" || given === "b") return given;
  throw new MeterError(`--slot must be a or b, not ${JSON.stringify(given)}`, { exitCode: ExitCode.Usage });
}

/** The `daemon` command. */
export const command: CommandSpec = {
  usage: "daemon [--slot a|b]",
  description: [
    "Runs the daemon in the foreground: the intercept port, where the edge hands over connections to",
    "metered hosts, and the API port (/health, the read API). Ports come from effective-ports.json.",
    "SIGINT, SIGTERM or a drain request stops it after the requests in flight end and every queued row is",
    "written. Started while another daemon of this home serves, it takes over from it. The service files run",
    "this command with --slot; a daemon whose slot is not the current one (run/daemon.slot) exits at once.",
  ].join("\n"),
  flags: [{ name: "slot", type: "string", description: "The service-manager slot this daemon runs in." }],
  async run(io: Io, inv: Invocation) {
    restrictUmask();
    tightenHome(io.paths);
    const run = io.paths.run;
    const slot = slotOf(inv);
    let log: Logger;
    try {
      log = processLogger("daemon", io.paths);
    } catch (e) {
      // A bad config stops the daemon before it has a log: the reason must still reach status and doctor.
      if (e instanceof MeterError) {
        recordDaemonFailure(run, { version: VERSION, message: e.message, hint: e.hint });
      }
      throw e;
    }
    const current = parseDaemonSlot(readTextIfThere(daemonSlotFile(run)));
    if (slot !== undefined && slot !== current) {
      // The idle slot started at login, or by a manager that lost the record: the current slot serves.
      log.info("daemon.idle_slot", { slot, current });
      log.close();
      return ExitCode.Ok;
    }
    const { startDaemon } = await import("../daemon/mod.ts");
    const named = Number(io.env[REPLACES_ENV] ?? "");
    const drained = Promise.withResolvers<string>();
    const signals = new AbortController();
    try {
      try {
        drainToken(run);
        if (slot !== undefined) writeFileAtomic(slotPidFile(run, slot), `${Deno.pid}\n`);
      } catch {
        // A home that takes no writes: opening the database fails next and names the folder.
      }
      let daemon;
      try {
        daemon = await startDaemon({
          paths: io.paths,
          log,
          routes: [drainRoute(run, () => drained.resolve("drain request"))],
          beforeBind: (ports) => stopPredecessor(run, ports.api, named > 0 ? named : undefined, log),
          // The predecessor closes its ports as soon as it hears; a few seconds cover a loaded machine.
          bindRetryMs: 10_000,
        });
      } catch (e) {
        const message = (e as Error).message ?? String(e);
        const hint = e instanceof MeterError ? e.hint : undefined;
        const failure = recordDaemonFailure(run, { version: VERSION, message, hint });
        log.error("daemon.startup_failed", { error: message, hint: hint ?? null, failures: failure.count });
        throw e;
      }
      clearDaemonFailure(run);
      markDaemonReady(run);
      let why: string = await Promise.race([untilStopSignal(signals.signal), drained.promise]);
      const overlap = why === "drain request"
        ? undefined
        : await import("../setup/manager_restart.ts").then((r) => r.overlapRestart(io.env, run, slot, log));
      // A restart by the service manager or the supervisor: serve on until the new daemon asks for the ports.
      if (overlap) why = await Promise.race([drained.promise, overlap.settled.then(() => why)]);
      log.info("daemon.stopping", { signal: why });
      await daemon.close();
      await overlap?.settled;
      return 0;
    } finally {
      signals.abort();
      if (slot !== undefined && readPidFile(slotPidFile(run, slot)) === Deno.pid) {
        try {
          Deno.removeSync(slotPidFile(run, slot));
        } catch { /* already gone */ }
      }
      log.close();
    }
  },
};
