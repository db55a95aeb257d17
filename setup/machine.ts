/**
 * The machine `init`, `uninstall`, `status` and `doctor` act on, as one injected value: its OS and
 * environment, its file system (possibly under a root folder), the runner for other programs, the network
 * probes and the supervisor. `realMachine()` is this computer; tests build their own.
 *
 * @module
 */
import { type OsName, type Paths, resolvePaths } from "../core/paths.ts";
import { isPortFree, type Ports } from "../core/ports.ts";
import { platformFor, selfCommand } from "../platform/mod.ts";
import { systemRunner } from "../platform/runner.ts";
import type { Runner } from "../platform/runner.ts";
import type { InstallMode, Platform, PlatformContext } from "../platform/types.ts";
import { findPythons } from "./certifi.ts";
import { type ApiHealth, apiHealth, listening, selfTest, type SelfTestResult } from "./probe.ts";
import type { ServiceManagerKind } from "./state.ts";
import { runningSupervisor, type SupervisorInfo } from "./supervisor.ts";
import {
  type Drain,
  handOver,
  letDaemonRun,
  restartDaemon,
  startSupervisor,
  stopAll,
  stopDaemon,
} from "./supervisor_control.ts";
import { TargetFs } from "./target_fs.ts";
import { type DaemonOps, realDaemonOps } from "./daemons.ts";
import { loadConfig } from "../core/config.ts";
import { effectivePorts } from "../core/ports.ts";
import { daemonSlotFile, parseDaemonSlot } from "../core/lifecycle.ts";

/** The supervisor's controls (see `supervisor_control.ts`), bound to one `run` folder. */
export interface SupervisorOps {
  running(): SupervisorInfo | undefined;
  start(command: readonly string[]): Promise<void>;
  restartDaemon(): Promise<void>;
  stopDaemon(): Promise<boolean>;
  letDaemonRun(): void;
  handOver(): Promise<void>;
  stopAll(): Promise<void>;
}

/** Everything the setup code touches. */
export interface Machine {
  readonly os: OsName;
  /** The environment the user's services and tools will see (HOME, HALTON_METER_HOME, PATH, SHELL, USER). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fs: TargetFs;
  readonly runner: Runner;
  /** The binary's own command (`selfCommand()`), written into every service file. */
  readonly command: readonly string[];
  readonly uid: number;
  readonly user: string;
  /** True when this is not the computer we run on (`--os` for another OS): nothing may run or change. */
  readonly foreign: boolean;
  isPortFree(port: number): boolean;
  listening(port: number): Promise<boolean>;
  apiHealth(port: number): Promise<ApiHealth>;
  selfTest(edgePort: number, caPem: string, timeoutMs: number): Promise<SelfTestResult>;
  /** The Python interpreters whose certifi bundle gets our CA. */
  pythons(): string[];
  readonly supervisor: SupervisorOps;
  /** The running daemons, as a restart or a stop under a service manager asks them. */
  readonly daemons: DaemonOps;
  /** Asks a yes/no question; undefined when nobody can answer (not a terminal). */
  ask?(question: string): Promise<boolean | undefined>;
  /** One progress line, for stderr. */
  progress(line: string): void;
  now(): Date;
}

/** The machine's paths, in its OS's own form. */
export function machinePaths(m: Pick<Machine, "env" | "os">): Paths {
  return resolvePaths(m.env, m.os);
}

/** The platform context for `mode` and `ports`. */
export function platformContext(m: Machine, mode: InstallMode, ports: Ports): PlatformContext {
  return {
    command: m.command,
    paths: machinePaths(m),
    ports,
    mode,
    uid: m.uid,
    user: m.user,
    meterHome: m.env.HALTON_METER_HOME,
    slot: parseDaemonSlot(m.fs.readText(daemonSlotFile(machinePaths(m).run))),
  };
}

/** The platform of the machine. */
export function machinePlatform(m: Machine): Platform {
  return platformFor(m.os);
}

/**
 * Who can run services here. macOS always has launchd and Windows Task Scheduler; on Linux the systemd user
 * manager answers `systemctl --user show-environment` only inside a login session with systemd (not in most
 * containers, WSL without systemd, or CI), and otherwise the built-in supervisor does the job.
 */
export async function detectServiceManager(m: Machine): Promise<ServiceManagerKind> {
  if (m.os === "darwin") return "launchd";
  if (m.os === "windows") return "task-scheduler";
  if (m.foreign) return "systemd";
  const r = await m.runner("systemctl", ["--user", "show-environment"]);
  return r.code === 0 ? "systemd" : "supervisor";
}

/** The supervisor controls for `run`. */
export function supervisorOps(run: string, drain?: Drain): SupervisorOps {
  return {
    running: () => runningSupervisor(run),
    start: async (command) => void await startSupervisor(run, command),
    restartDaemon: async () => void await restartDaemon(run),
    stopDaemon: () => stopDaemon(run, drain),
    letDaemonRun: () => letDaemonRun(run),
    handOver: () => handOver(run),
    stopAll: () => stopAll(run, drain),
  };
}

/** A runner for another OS's plan: nothing runs, every probe reads as "nothing there". */
const nothingRuns: Runner = () => Promise.resolve({ code: 0, stdout: "", stderr: "" });

/**
 * This computer, with `env` as the user's environment; for `os` other than this one, a machine on which
 * nothing runs or is probed (its plan can only be printed).
 */
export function realMachine(
  env: Readonly<Record<string, string | undefined>>,
  os: OsName,
  progress: (line: string) => void,
  options: { foreign?: boolean; ask?: Machine["ask"] } = {},
): Machine {
  const foreign = options.foreign ?? false;
  const paths = resolvePaths(env, os);
  const daemons = realDaemonOps(
    paths.run,
    () => effectivePorts(paths.effectivePorts, loadConfig(paths.config, { lenient: true })).api,
    apiHealth,
  );
  const user = os === "windows"
    ? [env.USERDOMAIN, env.USERNAME].filter(Boolean).join("\\")
    : env.USER ?? env.LOGNAME ?? "";
  return {
    os,
    env,
    fs: new TargetFs(),
    runner: foreign ? nothingRuns : systemRunner,
    command: selfCommand(),
    uid: Deno.uid() ?? 0,
    user,
    foreign,
    isPortFree: (port) => foreign || isPortFree(port),
    listening: (port) => foreign ? Promise.resolve(false) : listening(port),
    apiHealth: (port) => foreign ? Promise.resolve({ ok: false, detail: "not probed" }) : apiHealth(port),
    selfTest,
    pythons: () =>
      foreign ? [] : findPythons(env.PATH, os, (p) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      }, (p) => {
        try {
          return Deno.realPathSync(p);
        } catch {
          return p;
        }
      }),
    supervisor: supervisorOps(paths.run, () => daemons.drain()),
    daemons,
    ask: options.ask,
    progress,
    now: () => new Date(),
  };
}
