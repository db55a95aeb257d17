/**
 * Linux: systemd user units, the NSS database browsers read (and the system store only with consent),
 * `environment.d`, and GNOME's proxy settings.
 *
 * @module
 */
import * as posix from "node:path/posix";
import { contextVars } from "../env.ts";
import { mkdir, remove, run } from "../plan.ts";
import { NOT_FOUND, type Runner } from "../runner.ts";
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
import {
  environmentDFile,
  environmentDPath,
  jobType,
  serviceUnit,
  unitName,
  unitPath,
  UNITS,
} from "./systemd.ts";
import { LINUX_ROOT_FILES } from "./roots.ts";
import { daemonTunables } from "./malloc.ts";

/** The nickname of our CA in NSS databases. */
export const NSS_NICKNAME = "Halton Meter CA";
/** Where the system store picks up extra CAs (Debian, Ubuntu and derivatives). */
export const SYSTEM_CA_FILE = "/usr/local/share/ca-certificates/halton-meter.crt";

const SYSTEMCTL_HINT =
  "'systemctl --user' needs your login session: log in directly (not through sudo or su), or set " +
  "XDG_RUNTIME_DIR=/run/user/$(id -u).";
const CERTUTIL_HINT =
  "Browsers will not trust the meter's CA until certutil is installed (Debian/Ubuntu: libnss3-tools, " +
  "Fedora: nss-tools); then run 'halton-meter init' again. Command-line tools are not affected.";

const ALL: readonly ServiceName[] = ["edge", "daemon"];

function systemctl(args: string[], why: string): RunStep {
  return run("systemctl", ["--user", ...args], why, { hint: SYSTEMCTL_HINT });
}

function units(ctx: PlatformContext, names: readonly ServiceName[]): string[] {
  return names.map((n) => unitName(n, ctx.slot));
}

/** Keeps `slot` from starting at login; the daemon's own slot check stops it there should this fail. */
function retire(slot: DaemonSlot): Step {
  return {
    ...systemctl(["disable", UNITS[slot]], `no longer start daemon slot ${slot} at login`),
    optional: true,
  };
}

function nssDb(ctx: PlatformContext): string {
  return posix.join(ctx.paths.userHome, ".pki", "nssdb");
}

/** Runs a command as root: directly when already root, else through sudo, which asks for the password. */
function asRoot(ctx: PlatformContext, cmd: string, args: string[], why: string): Step {
  return ctx.uid === 0 ? run(cmd, args, why) : run("sudo", [cmd, ...args], why, {
    hint: "Changing the system certificate store needs administrator rights.",
  });
}

/** GNOME proxy keys read and written by `--full`: schema, key. */
const GNOME_KEYS: readonly [string, string][] = [
  ["org.gnome.system.proxy", "mode"],
  ["org.gnome.system.proxy.https", "host"],
  ["org.gnome.system.proxy.https", "port"],
];

/** The Linux platform. */
export const linux: Platform = {
  os: "linux",

  serviceFiles: (ctx) => [
    serviceUnit(ctx, "edge"),
    serviceUnit(ctx, "daemon", "a"),
    serviceUnit(ctx, "daemon", "b"),
  ],

  envFiles: (ctx) => ctx.mode === "env" ? [] : [environmentDFile(ctx, contextVars(ctx))],

  serviceEnv: (service, inherited): Record<string, string> =>
    service === "daemon" ? { GLIBC_TUNABLES: daemonTunables(inherited.GLIBC_TUNABLES) } : {},

  installServices: (ctx, names = ALL) => [
    systemctl(["daemon-reload"], "reload the systemd user units"),
    systemctl(["enable", ...units(ctx, names)], "start the services at login"),
    ...(names.includes("daemon") ? [retire(otherSlot(ctx.slot ?? "a"))] : []),
    // A unit that crashed too often is "failed" (start-limit-hit) and refuses to start until this clears it.
    {
      ...systemctl(["reset-failed", ...units(ctx, names)], "clear a failed state (start-limit-hit)"),
      optional: true,
    },
    // restart, not start: a unit whose file changed must pick the change up now.
    systemctl(["restart", ...units(ctx, names)], "(re)start the services"),
    run("loginctl", ["enable-linger", ctx.user], "keep the services running when you are logged out", {
      optional: true,
      hint: "Without lingering the meter stops at logout and starts again at login; that is all.",
    }),
  ],

  registerServices: () => [systemctl(["daemon-reload"], "reload the systemd user units")],

  startServices: (ctx, names) => [
    systemctl(["start", ...units(ctx, names)], `start the ${names.join(" and ")}`),
  ],

  stopServices: (ctx, names) => [
    systemctl(["stop", ...units(ctx, names)], `stop the ${names.join(" and ")}`),
  ],

  restartServices: (ctx, names) => [
    systemctl(["restart", ...units(ctx, names)], `restart the ${names.join(" and ")}`),
  ],

  uninstallServices: (ctx) => [
    {
      ...systemctl(
        ["disable", "--now", UNITS.edge, UNITS.a, UNITS.b],
        "stop the services and drop them from login",
      ),
      optional: true,
    },
    remove(unitPath(ctx, "edge"), "remove the edge unit"),
    remove(unitPath(ctx, "daemon", "a"), "remove the daemon unit (slot a)"),
    remove(unitPath(ctx, "daemon", "b"), "remove the daemon unit (slot b)"),
    { ...systemctl(["daemon-reload"], "reload the systemd user units"), optional: true },
  ],

  // init reloads the units whenever it rewrites them: the slot's unit is current already.
  startDaemonSlot: (_ctx, slot) => [
    // Enabled first: systemd refuses to reset a unit it has not loaded ("not loaded"), and an idle slot's
    // unit is loaded once enabling links it.
    systemctl(["enable", UNITS[slot]], `start daemon slot ${slot} at login`),
    {
      ...systemctl(["reset-failed", UNITS[slot]], "clear a failed state (start-limit-hit)"),
      optional: true,
    },
    systemctl(["start", UNITS[slot]], `start the daemon in slot ${slot}, beside the running one`),
  ],

  retireDaemonSlot: (_ctx, slot) => [retire(slot)],

  trustCa(ctx, opts) {
    const db = nssDb(ctx);
    const steps: Step[] = [
      mkdir(db, "create the NSS database folder"),
      run("certutil", ["-N", "-d", `sql:${db}`, "--empty-password"], "create the NSS database", {
        when: { missing: posix.join(db, "cert9.db") },
        optional: true,
        hint: CERTUTIL_HINT,
      }),
      run(
        "certutil",
        ["-d", `sql:${db}`, "-A", "-t", "C,,", "-n", NSS_NICKNAME, "-i", opts.caCert],
        "trust the CA in browsers (NSS)",
        {
          optional: true,
          hint: CERTUTIL_HINT,
        },
      ),
    ];
    if (opts.system) {
      steps.push(
        asRoot(ctx, "install", ["-m", "0644", opts.caCert, SYSTEM_CA_FILE], "add the CA to the system store"),
        asRoot(ctx, "update-ca-certificates", [], "rebuild the system certificate bundle"),
      );
    }
    return steps;
  },

  untrustCa(ctx, opts) {
    const db = nssDb(ctx);
    const steps: Step[] = [
      run("certutil", ["-d", `sql:${db}`, "-D", "-n", NSS_NICKNAME], "remove the CA from the NSS database", {
        when: { exists: posix.join(db, "cert9.db") },
        optional: true,
        hint: CERTUTIL_HINT,
      }),
    ];
    if (opts.system) {
      steps.push(
        asRoot(ctx, "rm", ["-f", SYSTEM_CA_FILE], "remove the CA from the system store"),
        asRoot(ctx, "update-ca-certificates", ["--fresh"], "rebuild the system certificate bundle"),
      );
    }
    return steps;
  },

  // The environment.d file does the work, read by the next login session; no command applies it sooner.
  applyUserEnv: () => [],

  restoreUserEnv: (ctx) => [remove(environmentDPath(ctx), "remove the environment.d file")],

  // Our own environment.d file overrides earlier ones without changing them: nothing to record.
  probeUserEnv: (_runner, names) => Promise.resolve(Object.fromEntries(names.map((n) => [n, undefined]))),

  async probeRestarting(runner: Runner, slot: DaemonSlot): Promise<boolean> {
    const r = await runner("systemctl", ["--user", "list-jobs", "--no-legend", UNITS[slot]]);
    return r.code === 0 && jobType(r.stdout, UNITS[slot]) === "restart";
  },

  async probeSystemProxy(runner: Runner): Promise<ProxySnapshot> {
    const entries: Record<string, string> = {};
    for (const [schema, key] of GNOME_KEYS) {
      const r = await runner("gsettings", ["get", schema, key]);
      if (r.code === NOT_FOUND) break;
      if (r.code === 0) entries[`${schema} ${key}`] = r.stdout.trim();
    }
    return { os: "linux", entries };
  },

  enableSystemProxy: (ctx, current) =>
    Object.keys(current.entries).length === 0 ? [] : [
      run(
        "gsettings",
        ["set", "org.gnome.system.proxy.https", "host", "'127.0.0.1'"],
        "point GNOME's HTTPS proxy at the edge",
      ),
      run(
        "gsettings",
        ["set", "org.gnome.system.proxy.https", "port", String(ctx.ports.edge)],
        "set GNOME's HTTPS proxy port",
      ),
      run("gsettings", ["set", "org.gnome.system.proxy", "mode", "'manual'"], "turn GNOME's manual proxy on"),
    ],

  restoreSystemProxy: (previous) =>
    Object.entries(previous.entries).map(([schemaKey, value]) => {
      const [schema, key] = schemaKey.split(" ");
      return run("gsettings", ["set", schema, key, value], `put back GNOME's ${schema} ${key}`);
    }),

  shellRcFiles: (ctx) => [
    { shell: "bash", path: posix.join(ctx.paths.userHome, ".bashrc") },
    { shell: "zsh", path: posix.join(ctx.paths.userHome, ".zshrc") },
    { shell: "fish", path: posix.join(ctx.paths.userHome, ".config", "fish", "config.fish") },
  ],

  systemRoots: () => ({ kind: "file", candidates: LINUX_ROOT_FILES }),
};
