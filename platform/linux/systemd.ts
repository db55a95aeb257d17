/**
 * The Linux files (docs/platform.md): systemd user units for the daemon and the edge, and the `environment.d`
 * file that gives `--apps` variables to every program of the next graphical or systemd session.
 *
 * @module
 */
import * as posix from "node:path/posix";
import { MeterError } from "../../core/errors.ts";
import type { DaemonSlot, EnvVar, PlatformContext, RenderedFile, ServiceName } from "../types.ts";
import { daemonTunables } from "./malloc.ts";

/** The unit file name of the edge and of each daemon slot; slot `a` keeps the name units had before slots. */
export const UNITS = {
  edge: "halton-meter-edge.service",
  a: "halton-meter.service",
  b: "halton-meter-b.service",
} as const;

/** The unit of `service`; the daemon's is that of `slot` (default: the context's current slot). */
export function unitName(service: ServiceName, slot: DaemonSlot = "a"): string {
  return service === "edge" ? UNITS.edge : UNITS[slot];
}

/**
 * The type of the job systemd runs on `unit` (`start`, `stop`, `restart`, …) in `systemctl list-jobs
 * --no-legend` output, whose columns are job id, unit, type and state. A restart keeps the type `restart`
 * while it stops the unit, which is how the daemon tells a restart from a stop on SIGTERM.
 */
export function jobType(listJobs: string, unit: string): string | undefined {
  for (const line of listJobs.split("\n")) {
    const [, name, type] = line.trim().split(/\s+/);
    if (name === unit && type !== undefined) return type;
  }
  return undefined;
}

/** Restarts allowed within the interval before systemd gives up on a crashing service. */
export const START_LIMIT = { intervalSec: 60, burst: 5 } as const;

/** `~/.config/systemd/user/<unit>`. */
export function unitPath(ctx: PlatformContext, service: ServiceName, slot: DaemonSlot = "a"): string {
  return posix.join(ctx.paths.userHome, ".config", "systemd", "user", unitName(service, slot));
}

/** `~/.config/environment.d/90-halton-meter.conf`. */
export function environmentDPath(ctx: PlatformContext): string {
  return posix.join(ctx.paths.userHome, ".config", "environment.d", "90-halton-meter.conf");
}

function refuseNewlines(s: string): void {
  if (/[\n\r\0]/.test(s)) {
    throw new MeterError(`cannot write ${JSON.stringify(s)} into a systemd file: it holds a line break`, {
      hint: "Use a folder and binary path without line breaks.",
    });
  }
}

/**
 * One `ExecStart=` word: bare when plainly safe, else double-quoted with C escapes. `%` starts a specifier in
 * every word, so it is doubled; `$` starts a variable in the arguments but not in the executable's path (the
 * first word), so it is doubled in the arguments only.
 */
export function systemdExecWord(word: string, first = false): string {
  refuseNewlines(word);
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(word)) return word;
  const escaped = word.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("%", "%%");
  return `"${first ? escaped : escaped.replaceAll("$", () => "$$")}"`;
}

/** One `Environment=` assignment, quoted whole; `$` means nothing there, but `%` is still a specifier. */
export function systemdEnvironment(name: string, value: string): string {
  refuseNewlines(value);
  const escaped = value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("%", "%%");
  return `Environment="${name}=${escaped}"`;
}

const DESCRIPTIONS: Record<ServiceName, string> = {
  daemon: "Halton Meter daemon (meters LLM API calls)",
  edge: "Halton Meter edge (the local HTTPS proxy port, fail-open)",
};

/** The unit of the edge, or of the daemon in `slot`. */
export function serviceUnit(
  ctx: PlatformContext,
  service: ServiceName,
  slot: DaemonSlot = "a",
): RenderedFile {
  const args = service === "daemon" ? [service, "--slot", slot] : [service];
  const lines = [
    "# Written by 'halton-meter init', which overwrites edits; 'halton-meter uninstall' removes it.",
    "[Unit]",
    `Description=${DESCRIPTIONS[service]}${service === "daemon" ? `, slot ${slot}` : ""}`,
    `StartLimitIntervalSec=${START_LIMIT.intervalSec}`,
    `StartLimitBurst=${START_LIMIT.burst}`,
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${[...ctx.command, ...args].map((w, i) => systemdExecWord(w, i === 0)).join(" ")}`,
    ...(ctx.meterHome === undefined ? [] : [systemdEnvironment("HALTON_METER_HOME", ctx.meterHome)]),
    // Replaces, not merges with, a value the user manager may hold (environment.d): the daemon needs only this.
    ...(service === "daemon" ? [systemdEnvironment("GLIBC_TUNABLES", daemonTunables())] : []),
    // A daemon that drained and exited 0 (replaced by the other slot, or stopped) must stay down.
    "Restart=on-failure",
    "RestartSec=1",
    // SIGTERM makes the daemon drain: its ports close and the requests and streams in flight finish ([daemon]
    // drain_timeout_s, 10 min), after up to 30 s serving on while the other slot takes over when the SIGTERM
    // is a restart. Only the main process is signalled, and killed after the allowance.
    ...(service === "daemon" ? ["KillMode=mixed", "TimeoutStopSec=660"] : ["TimeoutStopSec=15"]),
    "StandardOutput=journal",
    "StandardError=journal",
    // Both slots log as one program: the journal reads as one daemon's history.
    `SyslogIdentifier=${unitName(service).replace(/\.service$/, "")}`,
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ];
  return {
    path: unitPath(ctx, service, slot),
    content: lines.join("\n"),
    encoding: "utf-8",
    mode: 0o644,
    purpose: service === "daemon"
      ? `systemd user unit running the daemon (slot ${slot})`
      : `systemd user unit running the ${service}`,
    service,
  };
}

/**
 * An `environment.d` value: double-quoted with `\` and `"` escaped. `$` would be expanded as a variable after
 * unquoting and cannot be written literally, so a value holding one is refused.
 */
export function environmentDValue(value: string): string {
  refuseNewlines(value);
  if (value.includes("$")) {
    throw new MeterError(`cannot write ${JSON.stringify(value)} into environment.d: it holds a '$'`, {
      hint: "Use a HALTON_METER_HOME without '$' in its path.",
    });
  }
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** The `environment.d` file setting `vars`. */
export function environmentDFile(ctx: PlatformContext, vars: readonly EnvVar[]): RenderedFile {
  const content = [
    "# Written by 'halton-meter init --apps'; 'halton-meter uninstall' removes it. Read at the next login.",
    ...vars.map((v) => `${v.name}=${environmentDValue(v.value)}`),
    "",
  ].join("\n");
  return {
    path: environmentDPath(ctx),
    content,
    encoding: "utf-8",
    mode: 0o644,
    purpose: "proxy and CA variables for every program of the next session",
  };
}
