/**
 * A machine for the setup tests: the target OS's paths carried into a temp root, a recording runner, and
 * network probes answered from a switchboard the test flips (as if the service manager had started things).
 *
 * @module
 */
import { join } from "node:path";
import type { OsName } from "../../core/paths.ts";
import { RecordingRunner, type ScriptedAnswer } from "../../platform/runner.ts";
import type { Machine, SupervisorOps } from "../../setup/machine.ts";
import type { DaemonOps } from "../../setup/daemons.ts";
import type { DaemonSlot } from "../../core/lifecycle.ts";
import { TargetFs } from "../../setup/target_fs.ts";

/** A self-signed certificate's PEM is not needed: the bundle code only looks for PEM blocks. */
export const ROOTS_PEM = "-----BEGIN CERTIFICATE-----\nUk9PVFM=\n-----END CERTIFICATE-----\n";

/** The user's home and environment on each OS. */
export const HOMES: Record<
  OsName,
  { home: string; env: Record<string, string>; python: string; certifi: string }
> = {
  linux: {
    home: "/home/ada",
    env: { HOME: "/home/ada", USER: "ada", SHELL: "/bin/bash", PATH: "/usr/bin" },
    python: "/usr/bin/python3",
    certifi: "/usr/lib/python3/dist-packages/certifi/cacert.pem",
  },
  darwin: {
    home: "/Users/ada",
    env: { HOME: "/Users/ada", USER: "ada", SHELL: "/bin/zsh", PATH: "/usr/local/bin" },
    python: "/usr/local/bin/python3",
    certifi: "/Users/ada/Library/Python/3.12/lib/python/site-packages/certifi/cacert.pem",
  },
  windows: {
    home: "C:\\Users\\ada",
    env: { USERPROFILE: "C:\\Users\\ada", USERNAME: "ada", USERDOMAIN: "ADA-PC", PATH: "C:\\Python312" },
    python: "C:\\Python312\\python.exe",
    certifi: "C:\\Python312\\Lib\\site-packages\\certifi\\cacert.pem",
  },
};

/** What the fake network says is running; the test flips it. */
export interface Switchboard {
  edge: boolean;
  daemon: boolean;
  selfTestOk: boolean;
  selfTests: number;
}

/** Answers every OS's read-only probes the way a fresh machine would. */
export function probeScript(os: OsName): ScriptedAnswer[] {
  const h = HOMES[os];
  return [
    { when: /-c import certifi/, stdout: `${h.certifi}\n` },
    { when: /Get-ChildItem Cert:/, stdout: ROOTS_PEM },
    { when: "security find-certificate", stdout: ROOTS_PEM },
    {
      when: "networksetup -listallnetworkservices",
      stdout: "An asterisk (*) denotes a disabled service.\nWi-Fi\n",
    },
    {
      when: "networksetup -getsecurewebproxy",
      stdout: "Enabled: No\nServer: \nPort: 0\nAuthenticated Proxy Enabled: 0\n",
    },
    { when: "gsettings get org.gnome.system.proxy mode", stdout: "'none'\n" },
    { when: "gsettings get org.gnome.system.proxy.https host", stdout: "''\n" },
    { when: "gsettings get org.gnome.system.proxy.https port", stdout: "0\n" },
    {
      when: "reg.exe query",
      code: 1,
      stderr: "ERROR: The system was unable to find the specified registry key or value.",
    },
  ];
}

/** A fake supervisor that records what it was asked. */
export class FakeSupervisor implements SupervisorOps {
  readonly asked: string[] = [];
  info?: { pid: number; command: string[]; startedAt: string };
  running() {
    return this.info;
  }
  start(command: readonly string[]) {
    this.asked.push("start");
    this.info = { pid: 1, command: [...command], startedAt: "" };
    return Promise.resolve();
  }
  restartDaemon() {
    this.asked.push("restartDaemon");
    return Promise.resolve();
  }
  stopDaemon() {
    this.asked.push("stopDaemon");
    return Promise.resolve(true);
  }
  letDaemonRun() {
    this.asked.push("letDaemonRun");
  }
  handOver() {
    this.asked.push("handOver");
    this.info = undefined;
    return Promise.resolve();
  }
  stopAll() {
    this.asked.push("stopAll");
    this.info = undefined;
    return Promise.resolve();
  }
}

/** How a service manager's start of a daemon slot reads in the recorded commands. */
const SLOT_START =
  /^(systemctl --user start halton-meter(-b)?\.service|launchctl kickstart gui\/\d+\/com\.haltonlabs\.meter(\.b)?|schtasks\.exe \/Run \/TN HaltonMeter-Daemon(-B)?)$/;

/**
 * Fake daemons behind the switchboard: while `board.daemon` is on one serves, with pid 100 plus the number of
 * daemon slot starts the runner has recorded (a start brings a new daemon, as a real manager's would unless
 * `takesOver` is off). The drain request stops it.
 */
export class FakeDaemons implements DaemonOps {
  readonly asked: string[] = [];
  takesOver = true;
  /** A daemon still running in a slot (draining), by slot. */
  readonly slots: Partial<Record<DaemonSlot, number>> = {};
  constructor(readonly board: Switchboard, readonly runner: () => RecordingRunner) {}
  serving() {
    const starts = this.takesOver ? this.runner().lines().filter((l) => SLOT_START.test(l)).length : 0;
    return Promise.resolve(this.board.daemon ? 100 + starts : undefined);
  }
  async drain() {
    const pid = await this.serving();
    this.asked.push(`drain ${pid}`);
    this.board.daemon = false;
    return pid;
  }
  alive(pid: number) {
    return Object.values(this.slots).includes(pid);
  }
  inSlot(slot: DaemonSlot) {
    return this.slots[slot];
  }
}

/** A machine of `os` in `root`. */
export function fakeMachine(
  os: OsName,
  root: string,
  opts: {
    command: string[];
    runner: RecordingRunner;
    board: Switchboard;
    supervisor?: FakeSupervisor;
    daemons?: FakeDaemons;
    env?: Record<string, string>;
    progress?: string[];
  },
): Machine {
  const h = HOMES[os];
  const fs = new TargetFs(root);
  return {
    os,
    env: { ...h.env, ...opts.env },
    fs,
    runner: opts.runner.run,
    command: opts.command,
    uid: 501,
    user: os === "windows" ? "ADA-PC\\ada" : "ada",
    foreign: false,
    isPortFree: () => true,
    listening: (port) =>
      Promise.resolve((opts.board.edge && port === 8081) || (opts.board.daemon && port === 8090)),
    apiHealth: () =>
      Promise.resolve(opts.board.daemon ? { ok: true, version: "0.1.0" } : { ok: false, detail: "refused" }),
    selfTest: () => {
      opts.board.selfTests++;
      return Promise.resolve({
        ok: opts.board.selfTestOk,
        detail: opts.board.selfTestOk ? "daemon 0.1.0" : "refused",
        attempts: 1,
      });
    },
    pythons: () => [h.python],
    supervisor: opts.supervisor ?? new FakeSupervisor(),
    daemons: opts.daemons ?? new FakeDaemons(opts.board, () => opts.runner),
    progress: (line) => opts.progress?.push(line),
    now: () => new Date("2026-01-02T03:04:05Z"),
  };
}

/** Every file under `dir`, as paths relative to it, sorted. */
export function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...listFiles(join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}
