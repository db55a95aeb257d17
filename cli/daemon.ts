/**
 * `halton-meter daemon`: runs the intercepting daemon in the foreground (what the service runs) until SIGINT
 * or SIGTERM, then stops it cleanly with the row queue written.
 *
 * @module
 */
import type { CommandSpec, Io } from "./command.ts";
import { processLogger, untilStopSignal } from "../core/lifecycle.ts";
import { restrictUmask, tightenHome } from "../core/private.ts";

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
    const log = processLogger("daemon", io.paths);
    const { startDaemon } = await import("../daemon/mod.ts");
    try {
      const daemon = await startDaemon({ paths: io.paths, log });
      const signal = await untilStopSignal();
      log.info("daemon.stopping", { signal });
      await daemon.close();
      return 0;
    } finally {
      log.close();
    }
  },
};
