/**
 * The macOS LaunchAgents (docs/platform.md): the daemon, restarted when it crashes; the edge, kept alive
 * always; and a login one-shot that re-applies `launchctl setenv`, which launchd forgets at every logout.
 *
 * @module
 */
import * as posix from "node:path/posix";
import { xmlEscape } from "../xml.ts";
import { shQuote } from "../plan.ts";
import type { DaemonSlot, EnvVar, PlatformContext, RenderedFile, ServiceName } from "../types.ts";

/** The launchd label of each agent; the daemon's slot `a` keeps the label it had before slots. */
export const LABELS = {
  daemon: "com.haltonlabs.meter",
  "daemon-b": "com.haltonlabs.meter.b",
  edge: "com.haltonlabs.meter.edge",
  userenv: "com.haltonlabs.meter.userenv",
} as const;

/** One of the agents' short names. */
export type AgentName = keyof typeof LABELS;

/** The agent of `service`; the daemon's is that of `slot`. */
export function agentOf(service: ServiceName, slot: DaemonSlot = "a"): AgentName {
  return service === "edge" ? "edge" : slot === "a" ? "daemon" : "daemon-b";
}

/** The plist path of an agent: `~/Library/LaunchAgents/<label>.plist`. */
export function plistPath(ctx: PlatformContext, agent: AgentName): string {
  return posix.join(ctx.paths.userHome, "Library", "LaunchAgents", `${LABELS[agent]}.plist`);
}

type PlistValue = string | number | boolean | readonly string[] | { readonly [key: string]: PlistValue };

function value(v: PlistValue, indent: string): string {
  if (typeof v === "string") return `<string>${xmlEscape(v)}</string>`;
  if (typeof v === "number") return `<integer>${v}</integer>`;
  if (typeof v === "boolean") return v ? "<true/>" : "<false/>";
  if (Array.isArray(v)) {
    return `<array>\n${
      v.map((s) => `${indent}\t<string>${xmlEscape(s)}</string>\n`).join("")
    }${indent}</array>`;
  }
  return dict(v as { readonly [key: string]: PlistValue }, indent);
}

function dict(d: { readonly [key: string]: PlistValue }, indent: string): string {
  const inner = Object.entries(d).map(([k, v]) =>
    `${indent}\t<key>${xmlEscape(k)}</key>\n${indent}\t${value(v, `${indent}\t`)}\n`
  );
  return `<dict>\n${inner.join("")}${indent}</dict>`;
}

function plist(d: { readonly [key: string]: PlistValue }): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    dict(d, ""),
    "</plist>",
    "",
  ].join("\n");
}

function logs(ctx: PlatformContext, name: string): { StandardOutPath: string; StandardErrorPath: string } {
  return {
    StandardOutPath: posix.join(ctx.paths.logs, `${name}.stdout.log`),
    StandardErrorPath: posix.join(ctx.paths.logs, `${name}.stderr.log`),
  };
}

function environment(ctx: PlatformContext): { EnvironmentVariables?: { HALTON_METER_HOME: string } } {
  return ctx.meterHome === undefined ? {} : { EnvironmentVariables: { HALTON_METER_HOME: ctx.meterHome } };
}

/** The edge's agent, or the daemon's of `slot`. */
export function servicePlist(
  ctx: PlatformContext,
  service: ServiceName,
  slot: DaemonSlot = "a",
): RenderedFile {
  const agent = agentOf(service, slot);
  const content = plist({
    Label: LABELS[agent],
    ProgramArguments: [...ctx.command, ...(service === "daemon" ? [service, "--slot", slot] : [service])],
    RunAtLoad: true,
    // The daemon exits 0 only when asked to stop (`stop`, or replaced by the other slot), and must then stay
    // down; the edge must hold its port through everything.
    KeepAlive: service === "daemon" ? { SuccessfulExit: false } : true,
    // SIGTERM makes the daemon drain (streams in flight finish, up to 10 min) before launchd's SIGKILL.
    ...(service === "daemon" ? { ExitTimeOut: 660 } : {}),
    // launchd gives an agent 256 open files, which about 120 metered calls at once use up in the daemon (a
    // client's and a provider's socket each) and in the edge, which relays them here. 10240 (`OPEN_MAX`) is
    // what every macOS takes without a raised `kern.maxfilesperproc`.
    SoftResourceLimits: { NumberOfFiles: 10240 },
    // Both slots write the same logs: they read as one daemon's history.
    ...logs(ctx, service),
    ...environment(ctx),
  });
  return {
    path: plistPath(ctx, agent),
    content,
    encoding: "utf-8",
    mode: 0o644,
    purpose: service === "daemon"
      ? `LaunchAgent running the daemon at login (slot ${slot})`
      : `LaunchAgent running the ${service} at login`,
    service,
  };
}

/** The login one-shot that sets `vars` for the GUI session with `launchctl setenv`. */
export function userenvPlist(ctx: PlatformContext, vars: readonly EnvVar[]): RenderedFile {
  const script = vars.map((v) => `/bin/launchctl setenv ${v.name} ${shQuote(v.value)}`).join("; ");
  const content = plist({
    Label: LABELS.userenv,
    ProgramArguments: ["/bin/sh", "-c", script],
    RunAtLoad: true,
    ...logs(ctx, "userenv"),
  });
  return {
    path: plistPath(ctx, "userenv"),
    content,
    encoding: "utf-8",
    mode: 0o644,
    purpose: "LaunchAgent re-applying the proxy and CA variables for GUI apps at login",
  };
}
