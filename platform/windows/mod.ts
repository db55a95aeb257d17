/**
 * Windows: Task Scheduler tasks, the user's Root certificate store, `HKCU\Environment` and WinINet's proxy
 * settings. All per user: nothing here needs administrator rights.
 *
 * @module
 */
import { caseInsensitiveUnique } from "../env.ts";
import { remove, run } from "../plan.ts";
import type { Runner } from "../runner.ts";
import type {
  DaemonSlot,
  Platform,
  PlatformContext,
  ProxySnapshot,
  RunStep,
  ServiceName,
  Step,
} from "../types.ts";
import { otherSlot } from "../../core/lifecycle.ts";
import { TASK_NAMES, taskName, taskXml, taskXmlPath } from "./task_xml.ts";

/** WinINet's per-user proxy settings, read by browsers and most GUI apps. */
export const INTERNET_SETTINGS = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings";
const PROXY_VALUES = ["ProxyEnable", "ProxyServer"] as const;

const ALL: readonly ServiceName[] = ["edge", "daemon"];

/** `value` as a PowerShell single-quoted string literal. */
export function psQuote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Sets (or, for `null`, removes) user variables. `SetEnvironmentVariable(…, 'User')` writes `HKCU\Environment`
 * and broadcasts WM_SETTINGCHANGE, so Explorer hands the new values to programs started after it.
 */
function setUserEnv(pairs: readonly (readonly [string, string | null])[], why: string): Step {
  const script = pairs.map(([name, value]) =>
    `[Environment]::SetEnvironmentVariable(${psQuote(name)}, ${
      value === null ? "$null" : psQuote(value)
    }, 'User')`
  ).join("; ");
  return run("powershell.exe", ["-NoProfile", "-NonInteractive", "-Command", script], why);
}

function schtasks(args: string[], why: string, extra: Pick<RunStep, "okCodes" | "optional"> = {}): Step {
  return run("schtasks.exe", args, why, extra);
}

/** Parses `reg query <key> /v <name>`: the value's type and data, or undefined when it is not there. */
export function parseRegQuery(stdout: string, name: string): { type: string; data: string } | undefined {
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^\s+(.+?)\s{4}(REG_[A-Z_]+)\s{4}(.*)$/.exec(line) ?? /^\s+(.+?)\s{4}(REG_[A-Z_]+)$/.exec(line);
    if (m && m[1].toLowerCase() === name.toLowerCase()) return { type: m[2], data: m[3] ?? "" };
  }
  return undefined;
}

/** A task: the edge's, or the daemon's of one slot. */
interface Task {
  service: ServiceName;
  slot: DaemonSlot;
}

function taskOf(ctx: PlatformContext, service: ServiceName): Task {
  return { service, slot: ctx.slot ?? "a" };
}

function label(t: Task): string {
  return t.service === "daemon" ? `daemon (slot ${t.slot})` : t.service;
}

function end(t: Task): Step {
  // /End of a task that is not running exits 1 with a warning: the wanted state either way.
  return schtasks(["/End", "/TN", taskName(t.service, t.slot)], `stop the ${label(t)}`, { okCodes: [0, 1] });
}

function register(ctx: PlatformContext, t: Task): Step {
  return schtasks(
    ["/Create", "/XML", taskXmlPath(ctx, t.service, t.slot), "/TN", taskName(t.service, t.slot), "/F"],
    `register the ${label(t)} task`,
  );
}

function start(t: Task): Step {
  return schtasks(["/Run", "/TN", taskName(t.service, t.slot)], `start the ${label(t)}`);
}

/** Lets the slot's task run again (a task registered from its file is enabled; a retired one is not). */
function enableSlot(slot: DaemonSlot): Step {
  return schtasks(["/Change", "/TN", TASK_NAMES[slot], "/ENABLE"], `let daemon slot ${slot} start at logon`);
}

/**
 * Keeps the slot's task from starting at logon; a running instance is left alone. Should it fail, the daemon's
 * own slot check stops it there.
 */
function disableSlot(slot: DaemonSlot): Step {
  return schtasks(
    ["/Change", "/TN", TASK_NAMES[slot], "/DISABLE"],
    `no longer start daemon slot ${slot} at logon`,
    {
      optional: true,
    },
  );
}

/** Registers the idle slot's task from its file too, and keeps it from starting at logon. */
function idleSlot(ctx: PlatformContext): Step[] {
  const idle: Task = { service: "daemon", slot: otherSlot(ctx.slot ?? "a") };
  return [register(ctx, idle), disableSlot(idle.slot)];
}

/** The Windows platform. */
export const windows: Platform = {
  os: "windows",

  serviceFiles: (ctx) => [taskXml(ctx, "edge"), taskXml(ctx, "daemon", "a"), taskXml(ctx, "daemon", "b")],

  // The variables live in the registry, set by applyUserEnv: there is no file.
  envFiles: () => [],

  serviceEnv: () => ({}),

  installServices(ctx, names = ALL) {
    const steps: Step[] = [];
    if (ctx.meterHome !== undefined) {
      // A task has no environment of its own; it gets the user's, read from HKCU\Environment at each start.
      steps.push(setUserEnv([["HALTON_METER_HOME", ctx.meterHome]], "set HALTON_METER_HOME for the tasks"));
    }
    for (const n of names) {
      const t = taskOf(ctx, n);
      steps.push(
        register(ctx, t),
        // /Create /F replaces the definition but leaves a running instance on the old one.
        end(t),
        start(t),
      );
    }
    if (names.includes("daemon")) steps.push(...idleSlot(ctx));
    return steps;
  },

  // /Create /F replaces the definition and leaves a running instance alone.
  registerServices: (ctx, names) => [
    ...names.map((n) => register(ctx, taskOf(ctx, n))),
    ...(names.includes("daemon") ? idleSlot(ctx) : []),
  ],

  startServices: (ctx, names) => names.map((n) => start(taskOf(ctx, n))),

  stopServices: (ctx, names) => names.map((n) => end(taskOf(ctx, n))),

  restartServices: (ctx, names) => names.flatMap((n) => [end(taskOf(ctx, n)), start(taskOf(ctx, n))]),

  uninstallServices: (ctx) => {
    const all: Task[] = [
      { service: "edge", slot: "a" },
      { service: "daemon", slot: "a" },
      { service: "daemon", slot: "b" },
    ];
    return [
      ...all.map(end),
      ...all.map((t) =>
        schtasks(["/Delete", "/TN", taskName(t.service, t.slot), "/F"], `delete the ${label(t)} task`, {
          optional: true,
        })
      ),
      ...all.map((t) => remove(taskXmlPath(ctx, t.service, t.slot), `remove the ${label(t)} task file`)),
    ];
  },

  startDaemonSlot: (_ctx, slot) => [
    enableSlot(slot),
    // The other slot's daemon keeps running: this one takes its ports over once ready, and asks it to drain.
    start({ service: "daemon", slot }),
  ],

  retireDaemonSlot: (_ctx, slot) => [disableSlot(slot)],

  trustCa: (_ctx, opts) => [
    run("certutil.exe", ["-user", "-addstore", "Root", opts.caCert], "trust the CA for your user", {
      hint:
        "Windows asks whether to install the certificate: answer Yes, then run 'halton-meter init' again.",
    }),
  ],

  untrustCa: (_ctx, opts) => [
    run(
      "certutil.exe",
      ["-user", "-delstore", "Root", opts.sha1],
      "remove the CA from your user's Root store",
      {
        optional: true,
      },
    ),
  ],

  applyUserEnv: (_ctx, vars) => [
    setUserEnv(
      caseInsensitiveUnique(vars).map((v) => [v.name, v.value]),
      "set the proxy and CA variables for your user",
    ),
  ],

  restoreUserEnv: (_ctx, previous) => {
    const pairs = Object.entries(previous).map(([name, value]) => [name, value ?? null] as const);
    return pairs.length ? [setUserEnv(pairs, "put back your user's variables")] : [];
  },

  async probeUserEnv(runner: Runner, names) {
    const out: Record<string, string | undefined> = {};
    for (const name of caseInsensitiveUnique(names.map((n) => ({ name: n, value: "" }))).map((v) => v.name)) {
      const r = await runner("reg.exe", ["query", "HKCU\\Environment", "/v", name]);
      out[name] = r.code === 0 ? parseRegQuery(r.stdout, name)?.data : undefined;
    }
    return out;
  },

  // Task Scheduler ends a task without a signal; a restart is never announced.
  probeRestarting: () => Promise.resolve(false),

  async probeSystemProxy(runner: Runner): Promise<ProxySnapshot> {
    const entries: Record<string, string> = {};
    for (const name of PROXY_VALUES) {
      const r = await runner("reg.exe", ["query", INTERNET_SETTINGS, "/v", name]);
      const v = r.code === 0 ? parseRegQuery(r.stdout, name) : undefined;
      if (v) entries[name] = `${v.type} ${v.data}`;
    }
    return { os: "windows", entries };
  },

  enableSystemProxy: (ctx: PlatformContext) => [
    run("reg.exe", [
      "add",
      INTERNET_SETTINGS,
      "/v",
      "ProxyServer",
      "/t",
      "REG_SZ",
      "/d",
      `https=127.0.0.1:${ctx.ports.edge}`,
      "/f",
    ], "point the system HTTPS proxy at the edge"),
    run(
      "reg.exe",
      ["add", INTERNET_SETTINGS, "/v", "ProxyEnable", "/t", "REG_DWORD", "/d", "1", "/f"],
      "turn the system proxy on",
    ),
  ],

  restoreSystemProxy: (previous) =>
    PROXY_VALUES.map((name) => {
      const before = previous.entries[name];
      if (before === undefined) {
        return run("reg.exe", ["delete", INTERNET_SETTINGS, "/v", name, "/f"], `remove ${name}`, {
          okCodes: [0, 1],
        });
      }
      const [type, ...data] = before.split(" ");
      return run(
        "reg.exe",
        ["add", INTERNET_SETTINGS, "/v", name, "/t", type, "/d", data.join(" "), "/f"],
        `put back ${name}`,
      );
    }),

  shellRcFiles: () => [],

  systemRoots: () => ({
    kind: "command",
    cmd: "powershell.exe",
    args: [
      "-NoProfile",
      "-NonInteractive",
      "-Command",
      "Get-ChildItem Cert:\\LocalMachine\\Root | ForEach-Object { '-----BEGIN CERTIFICATE-----'; " +
      "[Convert]::ToBase64String($_.RawData, 'InsertLineBreaks'); '-----END CERTIFICATE-----' }",
    ],
  }),
};
