/**
 * `halton-meter edge`: runs the fail-open edge in the foreground (what the edge service runs) until SIGINT or
 * SIGTERM, then stops accepting, logs its final counts and exits 0.
 *
 * @module
 */
import type { CommandSpec } from "./command.ts";
import { loadConfig } from "../core/config.ts";
import { ExitCode } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import { effectivePorts } from "../core/ports.ts";
import { edgeOptions, startEdge } from "../edge/mod.ts";

/** The signals that stop the edge; Windows delivers only Ctrl-C and Ctrl-Break to a console process. */
function stopSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
}

/** Resolves with the first stop signal, removing its listeners so the process can exit. */
function nextStopSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    const handlers = stopSignals().map((signal) => {
      const handler = () => {
        for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
  });
}

/** The `edge` command. */
export const command: CommandSpec = {
  usage: "edge",
  description: [
    "Runs the edge in the foreground: the proxy port apps use (HTTPS_PROXY), 127.0.0.1:8081 unless",
    "effective-ports.json says otherwise. It never decrypts: CONNECTs to metered hosts go to the daemon while",
    "it is healthy; everything else, and everything while the daemon is down, is tunnelled straight through.",
    "Logs JSON lines to stderr and logs/edge.jsonl. Stops on SIGINT or SIGTERM.",
    "The installed service runs this; you rarely need to run it yourself.",
  ].join("\n"),
  flags: [],
  async run(io) {
    const loaded = loadConfig(io.paths.config);
    const ports = effectivePorts(io.paths.effectivePorts, loaded);
    const { level, max_bytes, keep } = loaded.config.logging;
    const logger = new Logger({
      process: "edge",
      dir: io.paths.logs,
      stderr: true,
      level,
      maxBytes: max_bytes,
      keep,
    });
    for (const warning of loaded.warnings) logger.warn("edge.config_warning", { warning });
    try {
      const edge = await startEdge(edgeOptions(ports, loaded.config, logger, io.paths.run));
      const signal = await nextStopSignal();
      logger.info("edge.stopping", { signal });
      await edge.close();
      return ExitCode.Ok;
    } finally {
      logger.close();
    }
  },
};
