/**
 * macOS: LaunchAgents in the user's GUI domain, the login keychain, `launchctl setenv`, `networksetup`.
 *
 * @module
 */
import * as posix from "node:path/posix";
import { contextVars } from "../env.ts";
import { mkdir, remove, run } from "../plan.ts";
import type { Runner } from "../runner.ts";
import type { Plan, Platform, PlatformContext, ProxySnapshot, ServiceName, Step } from "../types.ts";
import { otherSlot } from "../../core/lifecycle.ts";
import { type AgentName, agentOf, LABELS, plistPath, servicePlist, userenvPlist } from "./launchd.ts";

const LAUNCHCTL = "launchctl";
/** `bootstrap` of an agent already loaded: 5 (I/O error) on macOS 11–15, 37 (already in progress) on others. */
const ALREADY_LOADED = [0, 5, 37];
/** `bootout` of an agent not loaded: 3 (no such process), 36, or 113 (could not find service). */
const NOT_LOADED = [0, 3, 36, 113];
const SECURITY_HINT =
  "macOS asks for your password to change the login keychain's trust settings; accept it.";

function target(ctx: PlatformContext, agent: AgentName): string {
  return `gui/${ctx.uid}/${LABELS[agent]}`;
}

function bootstrap(ctx: PlatformContext, agent: AgentName): Step {
  return run(LAUNCHCTL, ["bootstrap", `gui/${ctx.uid}`, plistPath(ctx, agent)], `load the ${agent} agent`, {
    okCodes: ALREADY_LOADED,
  });
}

function bootout(ctx: PlatformContext, agent: AgentName): Step {
  return run(LAUNCHCTL, ["bootout", target(ctx, agent)], `unload the ${agent} agent`, {
    okCodes: NOT_LOADED,
  });
}

/** Lets launchd load `agent` (at login, and now): clears a `disable` an earlier restart left on it. */
function enable(ctx: PlatformContext, agent: AgentName): Step {
  return run(LAUNCHCTL, ["enable", target(ctx, agent)], `let launchd start the ${agent} agent`);
}

/**
 * Keeps launchd from loading `agent` at the next login; a running instance is left alone. Should it fail, the
 * daemon's own slot check stops it there.
 */
function disable(ctx: PlatformContext, agent: AgentName): Step {
  return run(LAUNCHCTL, ["disable", target(ctx, agent)], `no longer start the ${agent} agent at login`, {
    optional: true,
  });
}

function agents(ctx: PlatformContext, names: readonly ServiceName[]): AgentName[] {
  return names.map((n) => agentOf(n, ctx.slot));
}

function keychain(ctx: PlatformContext): string {
  return posix.join(ctx.paths.userHome, "Library", "Keychains", "login.keychain-db");
}

/** What `networksetup -getsecurewebproxy` reports for one network service. */
export interface SecureWebProxy {
  enabled: boolean;
  server: string;
  port: number;
}

/** Parses `networksetup -listallnetworkservices`: enabled services only (disabled ones start with `*`). */
export function parseNetworkServices(stdout: string): string[] {
  return stdout.split("\n").slice(1).map((l) => l.trim()).filter((l) => l && !l.startsWith("*"));
}

/** Parses `networksetup -getsecurewebproxy <service>`. */
export function parseSecureWebProxy(stdout: string): SecureWebProxy {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(stdout)?.[1].trim() ?? "";
  return { enabled: field("Enabled") === "Yes", server: field("Server"), port: Number(field("Port")) || 0 };
}

/** The macOS platform. */
export const darwin: Platform = {
  os: "darwin",

  serviceFiles: (ctx) => [
    servicePlist(ctx, "edge"),
    servicePlist(ctx, "daemon", "a"),
    servicePlist(ctx, "daemon", "b"),
  ],

  envFiles: (ctx) => ctx.mode === "env" ? [] : [userenvPlist(ctx, contextVars(ctx))],

  serviceEnv: () => ({}),

  installServices(ctx, names: readonly ServiceName[] = ["edge", "daemon"]) {
    // launchd opens the log files itself and fails the job when their folder is missing.
    const steps: Step[] = [mkdir(ctx.paths.logs, "create the log folder")];
    for (const a of agents(ctx, names)) steps.push(bootout(ctx, a), enable(ctx, a), bootstrap(ctx, a));
    if (names.includes("daemon")) steps.push(disable(ctx, agentOf("daemon", otherSlot(ctx.slot ?? "a"))));
    return steps;
  },

  // launchd reads a plist only when the agent is loaded, and reloading one stops it: the new file is used at
  // the next login, and the running agent is left alone.
  registerServices: () => [],

  startServices: (ctx, names) =>
    agents(ctx, names).flatMap((a) => [
      bootstrap(ctx, a),
      run(LAUNCHCTL, ["kickstart", target(ctx, a)], `start the ${a}`),
    ]),

  stopServices: (ctx, names) => agents(ctx, names).map((a) => bootout(ctx, a)),

  restartServices: (ctx, names) =>
    agents(ctx, names).flatMap((a) => [
      bootstrap(ctx, a),
      run(LAUNCHCTL, ["kickstart", "-k", target(ctx, a)], `restart the ${a}`),
    ]),

  uninstallServices(ctx) {
    const all: AgentName[] = ["daemon", "daemon-b", "edge"];
    return [
      ...all.map((a) => bootout(ctx, a)),
      ...all.map((a) => remove(plistPath(ctx, a), `remove the ${a} agent`)),
    ];
  },

  startDaemonSlot(ctx, slot) {
    const a = agentOf("daemon", slot);
    return [
      mkdir(ctx.paths.logs, "create the log folder"),
      // launchd keeps the plist it loaded: unloading the idle slot's agent makes it read the current file.
      bootout(ctx, a),
      enable(ctx, a),
      // Loading an agent with RunAtLoad starts it; kickstart starts one that was still loaded after all.
      bootstrap(ctx, a),
      run(
        LAUNCHCTL,
        ["kickstart", target(ctx, a)],
        `start the daemon in slot ${slot}, beside the running one`,
      ),
    ];
  },

  retireDaemonSlot: (ctx, slot) => [disable(ctx, agentOf("daemon", slot))],

  trustCa: (ctx, opts) => [
    run(
      "security",
      ["add-trusted-cert", "-r", "trustRoot", "-k", keychain(ctx), opts.caCert],
      "trust the CA",
      {
        hint: SECURITY_HINT,
      },
    ),
  ],

  untrustCa: (ctx, opts) => [
    run("security", ["remove-trusted-cert", opts.caCert], "remove the CA's trust settings", {
      optional: true,
    }),
    // 44: the keychain does not hold it (already removed).
    run(
      "security",
      ["delete-certificate", "-Z", opts.sha1, keychain(ctx)],
      "remove the CA from the keychain",
      {
        okCodes: [0, 44],
      },
    ),
  ],

  applyUserEnv(ctx, vars) {
    return [
      ...vars.map((v) => run(LAUNCHCTL, ["setenv", v.name, v.value], `set ${v.name} for GUI apps`)),
      bootout(ctx, "userenv"),
      bootstrap(ctx, "userenv"),
    ];
  },

  restoreUserEnv(ctx, previous) {
    return [
      bootout(ctx, "userenv"),
      remove(plistPath(ctx, "userenv"), "remove the login env agent"),
      ...Object.entries(previous).map(([name, value]) =>
        value === undefined
          ? run(LAUNCHCTL, ["unsetenv", name], `unset ${name} for GUI apps`)
          : run(LAUNCHCTL, ["setenv", name, value], `put back ${name} for GUI apps`)
      ),
    ];
  },

  async probeUserEnv(runner: Runner, names) {
    const out: Record<string, string | undefined> = {};
    for (const name of names) {
      const r = await runner(LAUNCHCTL, ["getenv", name]);
      const value = r.stdout.replace(/\n$/, "");
      out[name] = r.code === 0 && value !== "" ? value : undefined;
    }
    return out;
  },

  // launchd's `kickstart -k` and its stop both send SIGTERM and say nothing of what follows.
  probeRestarting: () => Promise.resolve(false),

  async probeSystemProxy(runner: Runner): Promise<ProxySnapshot> {
    const list = await runner("networksetup", ["-listallnetworkservices"]);
    const entries: Record<string, string> = {};
    for (const service of list.code === 0 ? parseNetworkServices(list.stdout) : []) {
      const r = await runner("networksetup", ["-getsecurewebproxy", service]);
      if (r.code === 0) entries[service] = JSON.stringify(parseSecureWebProxy(r.stdout));
    }
    return { os: "darwin", entries };
  },

  enableSystemProxy: (ctx, current) =>
    Object.keys(current.entries).map((service) =>
      run(
        "networksetup",
        ["-setsecurewebproxy", service, "127.0.0.1", String(ctx.ports.edge)],
        `point ${service}'s HTTPS proxy at the edge`,
      )
    ),

  restoreSystemProxy(previous) {
    const steps: Plan = Object.entries(previous.entries).flatMap(([service, json]) => {
      const before = JSON.parse(json) as SecureWebProxy;
      return before.enabled
        ? [
          run(
            "networksetup",
            ["-setsecurewebproxy", service, before.server, String(before.port)],
            `put back ${service}'s HTTPS proxy`,
          ),
        ]
        : [
          run(
            "networksetup",
            ["-setsecurewebproxystate", service, "off"],
            `turn off ${service}'s HTTPS proxy`,
          ),
        ];
    });
    return steps;
  },

  shellRcFiles: (ctx) => [
    { shell: "zsh", path: posix.join(ctx.paths.userHome, ".zshrc") },
    // Terminal.app starts login shells, which read .bash_profile and not .bashrc.
    { shell: "bash", path: posix.join(ctx.paths.userHome, ".bash_profile") },
    { shell: "fish", path: posix.join(ctx.paths.userHome, ".config", "fish", "config.fish") },
  ],

  systemRoots: () => ({
    kind: "command",
    cmd: "security",
    args: ["find-certificate", "-a", "-p", "/System/Library/Keychains/SystemRootCertificates.keychain"],
  }),
};
