/**
 * Windows Task Scheduler definitions (docs/platform.md): one task per service, started at the user's logon,
 * with no time limit, restarted on failure, hidden, registered with `schtasks /Create /XML`.
 *
 * The XML declares UTF-16 because `schtasks` reads task files as UTF-16; the string rendered here must be
 * written as UTF-16 LE with a byte-order mark (`RenderedFile.encoding` says so and `writeRendered()` does
 * it).
 *
 * The binary is a console program (the same file is the CLI people type into a terminal), so Task Scheduler
 * would open a console window for it at every logon. It is started through `conhost.exe --headless`, which
 * hosts the console without a window; `--no-terminal` at compile time would hide the window too but would
 * also cut the CLI off from the terminal it is typed into.
 *
 * @module
 */
import * as win32 from "node:path/win32";
import { xmlEscape } from "../xml.ts";
import type { DaemonSlot, PlatformContext, RenderedFile, ServiceName } from "../types.ts";

/**
 * The task name of the edge and of each daemon slot, at the root of the Task Scheduler library (sub-folders
 * need admin rights). Slot `a` keeps the name the daemon's task had before slots.
 */
export const TASK_NAMES = {
  edge: "HaltonMeter-Edge",
  a: "HaltonMeter-Daemon",
  b: "HaltonMeter-Daemon-B",
} as const;

/** The task of `service`; the daemon's is that of `slot`. */
export function taskName(service: ServiceName, slot: DaemonSlot = "a"): string {
  return service === "edge" ? TASK_NAMES.edge : TASK_NAMES[slot];
}

/** The console host that runs the binary without a window. */
export const CONHOST = "%SystemRoot%\\System32\\conhost.exe";

/**
 * Where the task definitions are kept, for re-registration and diffing: `<home>\tasks\<service>.xml`, and
 * `daemon-b.xml` for the daemon's slot b.
 */
export function taskXmlPath(ctx: PlatformContext, service: ServiceName, slot: DaemonSlot = "a"): string {
  const name = service === "daemon" && slot === "b" ? "daemon-b" : service;
  return win32.join(ctx.paths.home, "tasks", `${name}.xml`);
}

/**
 * One argument quoted for a Windows command line, as `CommandLineToArgvW` and the C runtime split it:
 * quotes only when needed; backslashes doubled only where they precede a quote.
 */
export function windowsArg(arg: string): string {
  if (arg !== "" && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let slashes = 0;
  for (const ch of arg) {
    if (ch === "\\") {
      slashes++;
      continue;
    }
    out += ch === '"' ? "\\".repeat(slashes * 2 + 1) + '"' : "\\".repeat(slashes) + ch;
    slashes = 0;
  }
  return `${out}${"\\".repeat(slashes * 2)}"`;
}

const DESCRIPTIONS: Record<ServiceName, string> = {
  daemon: "Halton Meter daemon: meters LLM API calls.",
  edge: "Halton Meter edge: the local HTTPS proxy port, fail-open.",
};

/**
 * The task definition of the edge, or of the daemon in `slot`. Both slots are enabled as written; which one
 * starts at logon is switched with `schtasks /Change`, so the file does not change with the current slot.
 */
export function taskXml(ctx: PlatformContext, service: ServiceName, slot: DaemonSlot = "a"): RenderedFile {
  const user = xmlEscape(ctx.user);
  const own = service === "daemon" ? [service, "--slot", slot] : [service];
  const args = ["--headless", ...ctx.command, ...own].map(windowsArg).join(" ");
  const content = [
    '<?xml version="1.0" encoding="UTF-16"?>',
    '<Task version="1.4" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">',
    "  <RegistrationInfo>",
    "    <Author>Halton Meter</Author>",
    `    <Description>${xmlEscape(DESCRIPTIONS[service])}${
      service === "daemon" ? ` Slot ${slot}.` : ""
    }</Description>`,
    `    <URI>\\${taskName(service, slot)}</URI>`,
    "  </RegistrationInfo>",
    "  <Triggers>",
    "    <LogonTrigger>",
    "      <Enabled>true</Enabled>",
    `      <UserId>${user}</UserId>`,
    "    </LogonTrigger>",
    "  </Triggers>",
    "  <Principals>",
    '    <Principal id="Author">',
    `      <UserId>${user}</UserId>`,
    "      <LogonType>InteractiveToken</LogonType>",
    "      <RunLevel>LeastPrivilege</RunLevel>",
    "    </Principal>",
    "  </Principals>",
    "  <Settings>",
    "    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>",
    "    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>",
    "    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>",
    "    <AllowHardTerminate>true</AllowHardTerminate>",
    "    <StartWhenAvailable>true</StartWhenAvailable>",
    "    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>",
    "    <IdleSettings>",
    "      <StopOnIdleEnd>false</StopOnIdleEnd>",
    "      <RestartOnIdle>false</RestartOnIdle>",
    "    </IdleSettings>",
    "    <AllowStartOnDemand>true</AllowStartOnDemand>",
    "    <Enabled>true</Enabled>",
    "    <Hidden>true</Hidden>",
    "    <RunOnlyIfIdle>false</RunOnlyIfIdle>",
    "    <WakeToRun>false</WakeToRun>",
    "    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>",
    // 5 is normal priority; the default, 7, is below normal and would slow every metered request.
    "    <Priority>5</Priority>",
    // A daemon replaced by the other slot exits 0 and must stay down: only a failure is restarted.
    "    <RestartOnFailure>",
    "      <Interval>PT1M</Interval>",
    "      <Count>999</Count>",
    "    </RestartOnFailure>",
    "  </Settings>",
    '  <Actions Context="Author">',
    "    <Exec>",
    `      <Command>${xmlEscape(CONHOST)}</Command>`,
    `      <Arguments>${xmlEscape(args)}</Arguments>`,
    `      <WorkingDirectory>${xmlEscape(ctx.paths.userHome)}</WorkingDirectory>`,
    "    </Exec>",
    "  </Actions>",
    "</Task>",
    "",
  ].join("\r\n");
  return {
    path: taskXmlPath(ctx, service, slot),
    content,
    encoding: "utf-16le",
    purpose: service === "daemon"
      ? `Task Scheduler task running the daemon at logon (slot ${slot})`
      : `Task Scheduler task running the ${service} at logon`,
    service,
  };
}
