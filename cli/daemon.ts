/**
 * `halton-meter daemon`: runs the intercepting daemon in the foreground (what the service runs) until SIGINT
 * or SIGTERM, then stops it cleanly with the row queue written.
 *
 * @module
 */
import type { CommandSpec, Io } from "./command.ts";
import { loadConfig } from "../core/config.ts";
import { Logger } from "../core/log.ts";
import { restrictUmask, tightenHome } from "../core/private.ts";
import type { Paths } from "../core/paths.ts";

/** The process's logger for `process`, configured from `[logging]`. */
export function processLogger(process: string, paths: Paths): Logger {
  const { logging } = loadConfig(paths.config).config;
  return new Logger({
    process,
    dir: paths.logs,
    stderr: true,
    level: logging.level,
    maxBytes: logging.max_bytes,
    keep: logging.keep,
  });
}

/** Resolves on the first SIGINT or SIGTERM (SIGTERM where the OS has it), removing its listeners. */
export function untilStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = Deno.build.os === "windows"
      ? ["SIGINT", "SIGBREAK"]
      : ["SIGINT", "SIGTERM"];
    const handlers = signals.map((sig) => {
      const h = () => {
        signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
        resolve(sig);
      };
      Deno.addSignalListener(sig, h);
      return h;
    });
  });
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
