/**
 * `halton-meter init`: sets this machine up (README.md, "Modes of `init`") with numbered progress on stderr,
 * or prints the plan (`--dry-run`, `--os` for another OS). The steps themselves live in `setup/init.ts`.
 *
 * @module
 */
import { tightenHome } from "../core/private.ts";
import { boolFlag, type CommandSpec, type Invocation, type Io, stringFlag } from "./command.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { currentOs, type OsName } from "../core/paths.ts";
import type { InstallMode } from "../platform/types.ts";
import { type InitResult, runInit } from "../setup/init.ts";
import { type Machine, machinePaths, realMachine } from "../setup/machine.ts";
import { askTerminal } from "../setup/prompt.ts";

/** The install mode the flags ask for; undefined keeps the last one. */
export function modeFlag(inv: Invocation): InstallMode | undefined {
  const apps = boolFlag(inv, "apps");
  const full = boolFlag(inv, "full");
  if (apps && full) {
    throw new UsageError(
      "init: --apps and --full cannot be combined",
      "--full includes everything --apps does.",
    );
  }
  return full ? "full" : apps ? "apps" : undefined;
}

/** The `--os` value, checked. */
export function osFlag(inv: Invocation): OsName {
  const os = stringFlag(inv, "os") ?? currentOs();
  if (os !== "darwin" && os !== "linux" && os !== "windows") {
    throw new UsageError(`init: unknown OS '${os}'`, "Use --os darwin, --os linux or --os windows.");
  }
  return os;
}

/** The human lines of a plan printed by `--dry-run` without `--json`. */
export function renderPlan(r: InitResult): string {
  const lines = [
    `Plan for ${r.os} (mode ${r.mode}, services by ${r.serviceManager}); nothing has been changed.`,
  ];
  r.steps.forEach((s, i) => {
    lines.push(`[${i + 1}/${r.steps.length}] ${s.name}: ${s.summary}`);
    for (const f of s.files) {
      if (f.change !== "unchanged") {
        lines.push(
          `    ${f.change === "created" ? "would write" : `would ${f.change.replace(/d$/, "")}`} ${f.path}`,
        );
      }
    }
    for (const n of s.notes) lines.push(`    note: ${n}`);
    for (const c of s.commands) lines.push(`    $ ${c.line}`);
  });
  lines.push("Add --json to see every file's full contents.");
  return lines.join("\n") + "\n";
}

/** The closing line of a real run. */
export function renderOutcome(r: InitResult): string {
  if (r.selfTest && !r.selfTest.ok) {
    return `Self-test FAILED: ${r.selfTest.detail}.${
      r.rolledBack ? " Everything init changed was rolled back." : ""
    }\n`;
  }
  const did = [
    r.started.length ? `started ${r.started.join(" and ")}` : "",
    r.restarted.length ? `restarted ${r.restarted.join(" and ")}` : "",
  ].filter(Boolean);
  if (!r.changed) return "Done: nothing changed; nothing restarted.\n";
  return `Done: ${did.length ? did.join("; ") : "nothing restarted"}${
    r.upgradedFrom ? `; the services now run this binary (was ${r.upgradedFrom.join(" ")})` : ""
  }. Mode ${r.mode}; edge on 127.0.0.1:${r.ports.edge}.\n`;
}

/** Runs `init` on `machine` as the flags say; returns the exit code. */
export async function execute(io: Io, inv: Invocation, machine: Machine): Promise<number> {
  const result = await runInit(machine, {
    mode: modeFlag(inv),
    nonInteractive: boolFlag(inv, "non-interactive"),
    shellRc: !boolFlag(inv, "no-shell-rc"),
    clean: boolFlag(inv, "clean"),
    dryRun: boolFlag(inv, "dry-run"),
    systemTrust: boolFlag(inv, "system-trust"),
  });
  if (!result.dryRun) {
    const paths = machinePaths(machine);
    tightenHome({ home: machine.fs.local(paths.home), caCert: machine.fs.local(paths.caCert) });
  }
  if (boolFlag(inv, "json")) io.stdout(JSON.stringify(result, null, 2) + "\n");
  else if (result.dryRun) io.stdout(renderPlan(result));
  else io.stdout(renderOutcome(result));
  if (result.selfTest && !result.selfTest.ok) {
    io.stderr(
      "hint: run 'halton-meter doctor' to see which layer fails; traffic is unaffected (the edge fails open).\n",
    );
    return ExitCode.SelfTestFailed;
  }
  return ExitCode.Ok;
}

/** The `init` command. */
export const command: CommandSpec = {
  usage:
    "init [--apps|--full] [--non-interactive] [--no-shell-rc] [--system-trust] [--clean] [--dry-run] [--json] [--os darwin|linux|windows]",
  description: [
    "Sets this machine up, in eight numbered steps printed on stderr:",
    "  1 ports     choose the edge, intercept and API ports (a port our running edge holds is kept)",
    "  2 CA        create the local CA, or reuse ~/.mitmproxy/mitmproxy-ca.pem; write ca-bundle.pem",
    "  3 trust     macOS login keychain, Windows user Root store, Linux NSS database (browsers); the Linux",
    "              system store only with consent (asked, or --system-trust; never asked with --non-interactive)",
    "  4 certifi   append the CA, between markers, to the certifi bundle of each Python on PATH",
    "  5 env       the mode's variables (see below) and the install-mode file",
    "  6 files     service definitions, written only when their content changed",
    "  7 services  start what is not running; restart the daemon only if something it uses changed;",
    "              a running edge is never restarted",
    "  8 self-test a request through the edge to the daemon, TLS checked against the CA (up to 30 s)",
    "",
    "Modes: default env-only (meter with 'halton-meter run' or eval \"$(halton-meter env)\"); --apps sets the",
    "proxy and CA variables for terminals and GUI apps (shell rc block; launchctl setenv on macOS; HKCU\\Environment",
    "on Windows; ~/.config/environment.d on Linux); --full also points the system proxy at the edge. Without a",
    "mode flag the last mode is kept.",
    "",
    "Running init again is always safe: it changes nothing and restarts nothing when all is in place. After",
    "replacing the binary, run init to point the services at it (the daemon restarts once; the edge keeps its",
    "port). Where no service manager answers (containers, WSL without systemd, CI) the edge and the daemon run",
    "under the binary's own supervisor instead. Everything changed is recorded in system_state.json, with what",
    "was there before, for 'halton-meter uninstall'.",
    "",
    "If the self-test fails, init restarts the daemon once and tries again; --clean then rolls back everything",
    "it changed. --clean also re-creates the services from scratch first (stopped, their files and the service",
    "manager's state removed, then written and started anew), the way out of a restart loop; the database,",
    "config, CA and trust are left as they are. Exit codes: 0 ok, 1 failed, 2 usage, 4 self-test failed.",
  ].join("\n"),
  flags: [
    {
      name: "apps",
      type: "boolean",
      description: "Also set the proxy and CA variables for terminals and GUI apps.",
    },
    {
      name: "full",
      type: "boolean",
      description: "Everything --apps does, and point the system proxy at the edge.",
    },
    {
      name: "non-interactive",
      type: "boolean",
      description: "Ask nothing; the Linux system store is left alone.",
    },
    { name: "no-shell-rc", type: "boolean", description: "Do not write the env block into shell rc files." },
    {
      name: "system-trust",
      type: "boolean",
      description: "Linux: also trust the CA in the system store (sudo).",
    },
    {
      name: "clean",
      type: "boolean",
      description:
        "Re-create the services from scratch (a restart loop); roll back everything if the self-test fails.",
    },
    { name: "dry-run", type: "boolean", description: "Print the plan and change nothing." },
    {
      name: "json",
      type: "boolean",
      description: "Print the result (or, with --dry-run, the plan with file contents) as JSON.",
    },
    {
      name: "os",
      type: "string",
      value: "OS",
      description:
        "Plan for darwin, linux or windows: another OS than this one implies --dry-run; this one's own runs for real.",
    },
  ],
  examples: [
    "halton-meter init",
    "halton-meter init --apps",
    "halton-meter init --dry-run --json --os windows",
  ],
  run(io, inv) {
    const os = osFlag(inv);
    const foreign = os !== currentOs();
    const interactive = !boolFlag(inv, "non-interactive");
    const machine = realMachine(io.env, os, (line) => io.stderr(line + "\n"), {
      foreign,
      ask: interactive ? askTerminal : undefined,
    });
    return execute(io, inv, machine);
  },
};
