/**
 * `halton-meter up`: the edge and the daemon together in one foreground process, for containers, CI and
 * trying the meter out without services. SIGINT or SIGTERM stops both, the row queue written first.
 *
 * The edge loads the config leniently, as its own command does: a config it cannot use never takes the proxy
 * port down. The daemon loads it strictly; when it cannot start, the edge runs alone (every call passes
 * through unmetered) and the daemon is tried again each time `config.toml` changes.
 *
 * @module
 */
import { restrictUmask, tightenHome } from "../core/private.ts";
import type { CommandSpec, Io } from "./command.ts";
import { loadConfig } from "../core/config.ts";
import { MeterError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { VERSION } from "../core/version.ts";
import { readTextIfThere } from "../core/io.ts";
import { folderUnwritable } from "../core/writable.ts";
import { isPortFree, negotiatePorts, readEffectivePorts, writeEffectivePorts } from "../core/ports.ts";
import {
  clearDaemonFailure,
  processLogger,
  recordDaemonFailure,
  untilStopSignal,
} from "../core/lifecycle.ts";

/** How often `config.toml` is looked at while the daemon cannot start. */
const CONFIG_POLL_MS = 1000;

/** The `up` command. */
export const command: CommandSpec = {
  usage: "up",
  description: [
    "Runs the edge and the daemon in this one process, in the foreground, on the ports of",
    "effective-ports.json. Without that file (no 'init' yet) it picks them as init does (the defaults,",
    "or the next free ones, or those pinned in config.toml) and writes the file, so 'run' and 'env' find",
    "them. Point HTTPS_PROXY at the edge and trust the CA (see 'halton-meter env'). SIGINT or SIGTERM",
    "stops both after writing every queued row.",
    "Like the edge service, it keeps the proxy port with a config.toml it cannot use: the values it",
    "ignores are listed, the daemon does not start (calls pass through unmetered), and the daemon is tried",
    "again as soon as config.toml changes.",
  ].join("\n"),
  flags: [],
  examples: ["halton-meter up", "HALTON_METER_HOME=/tmp/meter halton-meter up"],
  async run(io: Io) {
    restrictUmask();
    tightenHome(io.paths);
    const loaded = loadConfig(io.paths.config, { lenient: true });
    let ports = readEffectivePorts(io.paths.effectivePorts);
    if (!ports) {
      ports = negotiatePorts(loaded, isPortFree);
      writeEffectivePorts(io.paths.effectivePorts, ports);
    }
    const daemonLog = processLogger("daemon", io.paths, loaded.config.logging);
    const edgeLog = processLogger("edge", io.paths, loaded.config.logging);
    const [{ startDaemon }, { startEdge, edgeOptions }] = await Promise.all([
      import("../daemon/mod.ts"),
      import("../edge/mod.ts"),
    ]);
    try {
      for (const warning of loaded.warnings) edgeLog.warn("edge.config_warning", { warning });
      for (const ignored of loaded.ignored) {
        edgeLog.error("edge.config_ignored", { ignored, using: "the default in its place" });
        io.stderr(`halton-meter up: the edge ignores ${ignored}; it uses the default in its place.\n`);
      }
      const edge = await startEdge({
        ...edgeOptions(ports, loaded.config, edgeLog, io.paths.run),
        inUp: true,
      });
      const daemonPorts = { intercept: ports.intercept, api: ports.api };
      const start = () =>
        startDaemon({
          paths: io.paths,
          log: daemonLog,
          config: loadConfig(io.paths.config),
          ports: daemonPorts,
        });
      const stopped = untilStopSignal();
      let daemon;
      try {
        daemon = await startOrWait(start, io, daemonLog, stopped, edge.port);
      } catch (e) {
        await edge.close();
        throw e;
      }
      if (daemon) {
        io.stderr(
          `halton-meter up: edge (proxy) on 127.0.0.1:${edge.port}, daemon on ${daemon.ports.intercept}, ` +
            `API on ${daemon.ports.api}. Ctrl-C stops both.\n` +
            `In another shell: eval "$(halton-meter env)", or halton-meter run -- <command>.\n`,
        );
      }
      const signal = await stopped;
      daemonLog.info("daemon.stopping", { signal });
      await edge.close();
      await daemon?.close();
      return 0;
    } finally {
      daemonLog.close();
      edgeLog.close();
    }
  },
};

/**
 * Starts the daemon; when it cannot start, says why and tries again each time `config.toml` changes, or once
 * the meter's folder takes writes again if it did not, until it starts (resolves with it) or a stop signal
 * comes (resolves undefined). The reason goes where the daemon service's would (`run/daemon-error.json`), so
 * `status` and `doctor` name it.
 */
async function startOrWait<D>(
  start: () => Promise<D>,
  io: Io,
  log: Logger,
  stopped: Promise<unknown>,
  edgePort: number,
): Promise<D | undefined> {
  let stop = false;
  stopped.then(() => stop = true);
  let lastMessage: string | undefined;
  let lastConfig = readTextIfThere(io.paths.config);
  let blocked = false;
  while (!stop) {
    try {
      const daemon = await start();
      clearDaemonFailure(io.paths.run);
      return daemon;
    } catch (e) {
      if (!(e instanceof MeterError)) throw e;
      const failure = recordDaemonFailure(io.paths.run, {
        version: VERSION,
        message: e.message,
        hint: e.hint,
      });
      log.error("daemon.startup_failed", { error: e.message, hint: e.hint ?? null, failures: failure.count });
      blocked = folderUnwritable(io.paths.home) !== undefined;
      if (e.message !== lastMessage) {
        io.stderr(
          `halton-meter up: the daemon cannot start: ${e.message}\n` +
            (e.hint ? `hint: ${e.hint}\n` : "") +
            `The edge keeps 127.0.0.1:${edgePort} and passes every call through unmetered; the daemon is ` +
            `tried again ${blocked ? `once ${io.paths.home} takes writes` : "when config.toml changes"}. ` +
            "Ctrl-C stops the edge.\n",
        );
        lastMessage = e.message;
      }
    }
    while (
      !stop && readTextIfThere(io.paths.config) === lastConfig &&
      !(blocked && folderUnwritable(io.paths.home) === undefined)
    ) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([stopped, new Promise((r) => timer = setTimeout(r, CONFIG_POLL_MS))]);
      clearTimeout(timer);
    }
    lastConfig = readTextIfThere(io.paths.config);
  }
  return undefined;
}
