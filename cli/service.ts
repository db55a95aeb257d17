/**
 * `start`, `stop`, `restart` and `supervise`: the running services, through the OS's service manager, or the
 * binary's own supervisor where none answers (`start --detach`). `stop` stops the daemon only: the edge keeps
 * the proxy port and passes traffic straight through (fail-open); `stop --all` stops both.
 *
 * @module
 */
import { boolFlag, type CommandSpec, type Invocation, type Io } from "./command.ts";
import { processLogger, requestDrain, untilStopSignal } from "../core/lifecycle.ts";
import { ExitCode, MeterError } from "../core/errors.ts";
import { currentOs } from "../core/paths.ts";
import { runPlan } from "../platform/plan.ts";
import { platformFor, selfCommand } from "../platform/mod.ts";
import type { ServiceName } from "../platform/types.ts";
import { type Facts, gatherFacts, inForeground } from "../setup/inspect.ts";
import {
  detectServiceManager,
  type Machine,
  machinePaths,
  machinePlatform,
  realMachine,
} from "../setup/machine.ts";
import { readState } from "../setup/state.ts";
import { supervise } from "../setup/supervisor.ts";
import { apiHealth } from "../setup/probe.ts";
import { loadConfig } from "../core/config.ts";
import { effectivePorts } from "../core/ports.ts";
import { drainServing, switchSlot } from "../setup/daemon_slots.ts";

/** Waits until the edge listens and the daemon's API answers, or `ms` pass; true when both do. */
export async function waitHealthy(m: Machine, ms: number, needDaemon = true): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const f = await gatherFacts(m);
    if (f.edgeUp && (!needDaemon || f.api.ok)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Who runs the services here: the supervisor when asked (`--detach`) or when it already runs, else the record. */
async function managerOf(m: Machine, detach: boolean): Promise<"supervisor" | "manager"> {
  if (detach || m.supervisor.running()) return "supervisor";
  const paths = machinePaths(m);
  const recorded = readState(m.fs, paths.systemState, m.now(), { moveAside: false }).state?.serviceManager;
  const kind = recorded ?? await detectServiceManager(m);
  return kind === "supervisor" ? "supervisor" : "manager";
}

function requireInit(m: Machine): void {
  if (!m.fs.exists(machinePaths(m).effectivePorts)) {
    throw new MeterError("this machine is not set up yet", { hint: "Run 'halton-meter init' first." });
  }
}

async function managerPlan(
  m: Machine,
  verb: "start" | "stop" | "restart",
  names: ServiceName[],
): Promise<void> {
  const f = await gatherFacts(m);
  const p = machinePlatform(m);
  const plan = verb === "start"
    ? p.startServices(f.ctx, names)
    : verb === "stop"
    ? p.stopServices(f.ctx, names)
    : p.restartServices(f.ctx, names);
  await runPlan(plan, m.runner, m.fs.planFs());
}

/** Replaces the daemon under the service manager: the other slot's daemon takes over while this one drains. */
async function switchDaemon(io: Io, m: Machine): Promise<void> {
  const f = await gatherFacts(m);
  await switchSlot(m, m.daemons, {
    ctx: f.ctx,
    runPlan: async (plan) => void await runPlan(plan, m.runner, m.fs.planFs()),
    say: (line) => io.stderr(line + "\n"),
  });
}

/**
 * Refuses `verb` while `halton-meter up` runs this home's edge and daemon: they are not the services, and
 * services started beside them would only fight them for the ports. Otherwise, the facts it looked at.
 */
async function refuseWhileUp(m: Machine, verb: "start" | "stop" | "restart"): Promise<Facts> {
  const f = await gatherFacts(m);
  if (!inForeground(f)) return f;
  const pid = f.edge!.pid;
  throw new MeterError(
    `'halton-meter up' (pid ${pid}) runs this home's edge and daemon in the foreground; '${verb}' acts on the services`,
    {
      hint: verb === "stop"
        ? `Stop 'up' itself: Ctrl-C where it runs, or 'kill ${pid}'.`
        : `Stop 'up' first (Ctrl-C where it runs, or 'kill ${pid}'), then run 'halton-meter ${verb}' again.`,
    },
  );
}

/** `start` on `m`. */
export async function executeStart(io: Io, inv: Invocation, m: Machine): Promise<number> {
  await refuseWhileUp(m, "start");
  requireInit(m);
  if (await managerOf(m, boolFlag(inv, "detach")) === "supervisor") {
    const running = m.supervisor.running();
    if (running) m.supervisor.letDaemonRun();
    else await m.supervisor.start(m.command);
    io.stderr(
      running ? "The supervisor is running; letting the daemon start.\n" : "Started the supervisor.\n",
    );
  } else {
    await managerPlan(m, "start", ["edge", "daemon"]);
  }
  if (!await waitHealthy(m, 30_000)) {
    throw new MeterError("the edge or the daemon did not come up within 30 s", {
      exitCode: ExitCode.Unhealthy,
      hint: "Run 'halton-meter status' and see logs/daemon.jsonl and logs/edge.jsonl in the meter's folder.",
    });
  }
  io.stdout("Running: edge and daemon healthy.\n");
  return ExitCode.Ok;
}

/** `stop` on `m`. */
export async function executeStop(io: Io, inv: Invocation, m: Machine): Promise<number> {
  await refuseWhileUp(m, "stop");
  const all = boolFlag(inv, "all");
  if (await managerOf(m, false) === "supervisor") {
    if (all) await m.supervisor.stopAll();
    else await m.supervisor.stopDaemon();
  } else {
    // The manager's own stop is a hard kill on Windows: the daemon drains first, on request, on every OS.
    await drainServing(m.daemons, (line) => io.stderr(line + "\n"));
    await managerPlan(m, "stop", all ? ["daemon", "edge"] : ["daemon"]);
  }
  io.stdout(
    all
      ? "Stopped the daemon and the edge. Programs using the proxy variables cannot connect until 'halton-meter start'.\n"
      : "Stopped the daemon. The edge keeps the proxy port and passes traffic through unmetered.\n",
  );
  return ExitCode.Ok;
}

/** `restart` on `m`. */
export async function executeRestart(io: Io, inv: Invocation, m: Machine): Promise<number> {
  const survivors = (await refuseWhileUp(m, "restart")).pids;
  requireInit(m);
  const all = boolFlag(inv, "all");
  if (await managerOf(m, boolFlag(inv, "detach")) === "supervisor") {
    // Processes that outlived their supervisor are adopted by a new one, not restarted: restart them after.
    const running = m.supervisor.running();
    if (!running) await m.supervisor.start(m.command);
    if (all && (running || survivors.edge !== undefined || survivors.daemon !== undefined)) {
      await m.supervisor.stopAll();
      await m.supervisor.start(m.command);
    } else if (!all && (running || survivors.daemon !== undefined)) await m.supervisor.restartDaemon();
  } else {
    await switchDaemon(io, m);
    if (all) await managerPlan(m, "restart", ["edge"]);
  }
  if (!await waitHealthy(m, 30_000)) {
    throw new MeterError("the daemon did not come back within 30 s", {
      exitCode: ExitCode.Unhealthy,
      hint: "Run 'halton-meter status' and see logs/daemon.jsonl in the meter's folder.",
    });
  }
  io.stdout(`Restarted the ${all ? "edge and the daemon" : "daemon"}.\n`);
  return ExitCode.Ok;
}

function machine(io: Io): Machine {
  return realMachine(io.env, currentOs(), (line) => io.stderr(line + "\n"));
}

/** The `start` command. */
export const start: CommandSpec = {
  usage: "start [--detach]",
  description: [
    "Starts the edge and the daemon through the service manager init set up (systemd user units, launchd",
    "agents, Task Scheduler tasks), and waits until both answer (up to 30 s). Where no service manager answers,",
    "or with --detach, the binary's own supervisor runs them in the background: a detached",
    "'halton-meter supervise' process that starts both and restarts either when it dies (pid files in the",
    "meter's run/ folder). It does not survive a reboot. Run 'halton-meter init' first.",
  ].join("\n"),
  flags: [{ name: "detach", type: "boolean", description: "Use the built-in supervisor in the background." }],
  examples: ["halton-meter start", "halton-meter start --detach"],
  run: (io, inv) => executeStart(io, inv, machine(io)),
};

/** The `stop` command. */
export const stop: CommandSpec = {
  usage: "stop [--all]",
  description: [
    "Stops the daemon once the requests and streams in flight have finished (it drains first). The edge keeps",
    "the proxy port and, with the daemon gone, tunnels every connection straight to its host: nothing breaks,",
    "nothing is metered. --all stops the edge too; programs that use the proxy variables then cannot connect",
    "until 'halton-meter start'.",
  ].join("\n"),
  flags: [{ name: "all", type: "boolean", description: "Stop the edge as well." }],
  run: (io, inv) => executeStop(io, inv, machine(io)),
};

/** The `restart` command. */
export const restart: CommandSpec = {
  usage: "restart [--all] [--detach]",
  description: [
    "Restarts the daemon and waits until the new one answers. The new daemon starts beside the old one (in",
    "the service manager's other slot, or under the supervisor) and takes the ports over; the old one lets the",
    "requests and streams in flight finish. --all restarts the edge too, which drops open proxy connections.",
    "--detach uses the built-in supervisor.",
  ].join("\n"),
  flags: [
    { name: "all", type: "boolean", description: "Restart the edge as well." },
    { name: "detach", type: "boolean", description: "Use the built-in supervisor." },
  ],
  run: (io, inv) => executeRestart(io, inv, machine(io)),
};

/** What the supervisor starts each service with besides its own environment. */
function serviceEnvs(): Record<ServiceName, Record<string, string>> {
  const platform = platformFor(currentOs());
  const own = Deno.env.toObject();
  return { edge: platform.serviceEnv("edge", own), daemon: platform.serviceEnv("daemon", own) };
}

/** The `supervise` command. */
export const supervisor: CommandSpec = {
  usage: "supervise",
  description: [
    "Runs the built-in supervisor in the foreground: starts 'edge' and 'daemon', restarts either when it dies",
    "(backing off when it keeps dying), replaces a daemon that fails its health check for [daemon]",
    "hang_restart_s (15 s), and writes pid files to the meter's run/ folder. 'restart' starts the new daemon",
    "beside the old one, which drains. SIGTERM or SIGINT stops both, the daemon after its drain.",
    "'halton-meter start --detach' runs this in the background; you rarely run it yourself.",
  ].join("\n"),
  flags: [],
  async run(io) {
    const log = processLogger("supervisor", io.paths);
    // The watchdog's health checks must not go through the proxy this very meter runs.
    for (const v of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"]) {
      Deno.env.delete(v);
    }
    const loaded = loadConfig(io.paths.config);
    try {
      await supervise({
        run: io.paths.run,
        command: selfCommand(),
        env: serviceEnvs(),
        log,
        stop: untilStopSignal(),
        // Read each time: init may have moved the ports since.
        healthy: async () => (await apiHealth(effectivePorts(io.paths.effectivePorts, loaded).api, 2_000)).ok,
        hangMs: loaded.config.daemon.hang_restart_s * 1000,
        drainMs: loaded.config.daemon.drain_timeout_s * 1000,
        logs: io.paths.logs,
        drain: () => requestDrain(effectivePorts(io.paths.effectivePorts, loaded).api, io.paths.run),
      });
    } finally {
      log.close();
    }
    // A pending signal listener must not keep the process alive after a handover.
    Deno.exit(ExitCode.Ok);
  },
};
