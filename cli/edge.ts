/**
 * `halton-meter edge`: runs the fail-open edge in the foreground (what the edge service runs) until SIGINT or
 * SIGTERM, then stops accepting, logs its final counts and exits 0.
 *
 * @module
 */
import type { CommandSpec } from "./command.ts";
import { loadConfig } from "../core/config.ts";
import { ExitCode } from "../core/errors.ts";
import { processLogger, untilStopSignal } from "../core/lifecycle.ts";
import { restrictUmask, tightenHome } from "../core/private.ts";
import { effectivePorts } from "../core/ports.ts";
import { edgeOptions, startEdge } from "../edge/mod.ts";

/** The `edge` command. */
export const command: CommandSpec = {
  usage: "edge",
  description: [
    "Runs the edge in the foreground: the proxy port apps use (HTTPS_PROXY), 127.0.0.1:8081 unless",
    "effective-ports.json says otherwise. It never decrypts: CONNECTs to metered hosts go to the daemon while",
    "it is healthy; everything else, and everything while the daemon is down, is tunnelled straight through.",
    "Logs JSON lines to stderr and logs/edge.jsonl. Stops on SIGINT or SIGTERM.",
    "It starts whatever config.toml says: a value it cannot use is logged (edge.config_ignored) and its",
    "default used instead; 'halton-meter status' shows the same.",
    "The installed service runs this; you rarely need to run it yourself.",
  ].join("\n"),
  flags: [],
  async run(io) {
    restrictUmask();
    tightenHome(io.paths);
    // Lenient: a config the edge cannot use must not take port 8081 down; what it ignores is said loudly.
    const loaded = loadConfig(io.paths.config, { lenient: true });
    const ports = effectivePorts(io.paths.effectivePorts, loaded);
    const logger = processLogger("edge", io.paths, loaded.config.logging);
    for (const warning of loaded.warnings) logger.warn("edge.config_warning", { warning });
    for (const ignored of loaded.ignored) {
      logger.error("edge.config_ignored", { ignored, using: "the default in its place" });
    }
    try {
      const edge = await startEdge(edgeOptions(ports, loaded.config, logger, io.paths.run));
      const signal = await untilStopSignal();
      logger.info("edge.stopping", { signal });
      await edge.close();
      return ExitCode.Ok;
    } finally {
      logger.close();
    }
  },
};
