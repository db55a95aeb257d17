/**
 * `halton-meter daemon`: runs the intercepting daemon in the foreground (what the service runs) until SIGINT
 * or SIGTERM, then stops it cleanly with the row queue written.
 *
 * @module
 */
import type { CommandSpec, Io } from "./command.ts";
import type { Logger } from "../core/log.ts";
import { MeterError } from "../core/errors.ts";
import { VERSION } from "../core/version.ts";
import {
  clearDaemonFailure,
  markDaemonReady,
  processLogger,
  recordDaemonFailure,
  REPLACES_ENV,
  untilStopSignal,
} from "../core/lifecycle.ts";
import { restrictUmask, tightenHome } from "../core/private.ts";

/** Asks the daemon this one replaces to stop: it closes its ports at once and drains its connections. */
function stopPredecessor(pid: number, log: Logger): void {
  try {
    Deno.kill(pid, Deno.build.os === "windows" ? "SIGINT" : "SIGTERM");
    log.info("daemon.replacing", { pid });
  } catch {
    // Gone already: the ports are free.
  }
}

/** The `daemon` command. */
export const command: CommandSpec = {
  usage: "daemon",
  description: [
    "Runs the daemon in the foreground: the intercept port, where the edge hands over connections to",
    "metered hosts, and the API port (/health, the read API). Ports come from effective-ports.json.",
    "SIGINT or SIGTERM stops it after writing every queued row. The service files run this command.",
  ].join("\n"),
  flags: [],
  async run(io: Io) {
    restrictUmask();
    tightenHome(io.paths);
    const run = io.paths.run;
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
    const { startDaemon } = await import("../daemon/mod.ts");
    const replaces = Number(io.env[REPLACES_ENV] ?? "");
    try {
      let daemon;
      try {
        daemon = await startDaemon({
          paths: io.paths,
          log,
          beforeBind: replaces > 0 ? () => stopPredecessor(replaces, log) : undefined,
          // The predecessor closes its ports as soon as it hears; a few seconds cover a loaded machine.
          bindRetryMs: replaces > 0 ? 10_000 : 0,
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
      const signal = await untilStopSignal();
      log.info("daemon.stopping", { signal });
      await daemon.close();
      return 0;
    } finally {
      log.close();
    }
  },
};
