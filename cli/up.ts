/**
 * `halton-meter up`: the edge and the daemon together in one foreground process, for containers, CI and
 * trying the meter out without services. SIGINT or SIGTERM stops both, the row queue written first.
 *
 * @module
 */
import { restrictUmask, tightenHome } from "../core/private.ts";
import type { CommandSpec, Io } from "./command.ts";
import { loadConfig } from "../core/config.ts";
import { isPortFree, negotiatePorts, readEffectivePorts, writeEffectivePorts } from "../core/ports.ts";
import { processLogger, untilStopSignal } from "../core/lifecycle.ts";

/** The `up` command. */
export const command: CommandSpec = {
  usage: "up",
  description: [
    "Runs the edge and the daemon in this one process, in the foreground, on the ports of",
    "effective-ports.json. Without that file (no 'init' yet) it picks them as init does (the defaults,",
    "or the next free ones, or those pinned in config.toml) and writes the file, so 'run' and 'env' find",
    "them. Point HTTPS_PROXY at the edge and trust the CA (see 'halton-meter env'). SIGINT or SIGTERM",
    "stops both after writing every queued row.",
  ].join("\n"),
  flags: [],
  examples: ["halton-meter up", "HALTON_METER_HOME=/tmp/meter halton-meter up"],
  async run(io: Io) {
    restrictUmask();
    tightenHome(io.paths);
    const loaded = loadConfig(io.paths.config);
    let ports = readEffectivePorts(io.paths.effectivePorts);
    if (!ports) {
      ports = negotiatePorts(loaded, isPortFree);
      writeEffectivePorts(io.paths.effectivePorts, ports);
    }
    const daemonLog = processLogger("daemon", io.paths);
    const edgeLog = processLogger("edge", io.paths);
    const [{ startDaemon }, { startEdge, edgeOptions }] = await Promise.all([
      import("../daemon/mod.ts"),
      import("../edge/mod.ts"),
    ]);
    try {
      const daemon = await startDaemon({ paths: io.paths, log: daemonLog, config: loaded, ports });
      let edge;
      try {
        edge = await startEdge(edgeOptions(ports, loaded.config, edgeLog, io.paths.run));
      } catch (e) {
        await daemon.close();
        throw e;
      }
      io.stderr(
        `halton-meter up: edge (proxy) on 127.0.0.1:${edge.port}, daemon on ${daemon.ports.intercept}, ` +
          `API on ${daemon.ports.api}. Ctrl-C stops both.\n` +
          `In another shell: eval "$(halton-meter env)", or halton-meter run -- <command>.\n`,
      );
      const signal = await untilStopSignal();
      daemonLog.info("daemon.stopping", { signal });
      await edge.close();
      await daemon.close();
      return 0;
    } finally {
      daemonLog.close();
      edgeLog.close();
    }
  },
};
