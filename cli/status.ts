/**
 * `halton-meter status [--json]`: every component, its pid and port, the mode and version; exit 3 when the
 * meter is not healthy.
 *
 * @module
 */
import { boolFlag, type CommandSpec, type Invocation, type Io } from "./command.ts";
import { type Column, renderTable } from "./format.ts";
import { ExitCode } from "../core/errors.ts";
import { currentOs } from "../core/paths.ts";
import { gatherFacts } from "../setup/inspect.ts";
import { type Machine, realMachine } from "../setup/machine.ts";
import { type StatusReport, statusReport } from "../setup/status.ts";

/** The human view of a status report. */
export function renderStatus(r: StatusReport, width: number): string {
  const columns: Column[] = [
    { header: "component" },
    { header: "state" },
    { header: "pid", align: "right" },
    {
      header: "port",
      align: "right",
    },
    { header: "detail" },
  ];
  const rows = r.components.map((c) => [
    c.name,
    c.ok ? c.state : `${c.state} ✗`,
    c.pid === undefined ? "" : String(c.pid),
    c.port === undefined ? "" : String(c.port),
    c.detail,
  ]);
  return [
    `halton-meter ${r.version}: ${r.healthy ? "healthy" : "UNHEALTHY"} (mode ${r.mode}, ${r.serviceManager})`,
    "",
    renderTable(columns, rows, { width, minFirst: 9 }).trimEnd(),
    ...(r.notes.length ? ["", ...r.notes.map((n) => `note: ${n}`)] : []),
    ...(r.next ? ["", `next: ${r.next}`] : []),
    "",
  ].join("\n");
}

/** `status` on `m`. */
export async function execute(io: Io, inv: Invocation, m: Machine): Promise<number> {
  const report = statusReport(await gatherFacts(m));
  io.stdout(
    boolFlag(inv, "json") ? JSON.stringify(report, null, 2) + "\n" : renderStatus(report, io.columns),
  );
  return report.healthy ? ExitCode.Ok : ExitCode.Unhealthy;
}

/** The `status` command. */
export const command: CommandSpec = {
  usage: "status [--json]",
  description: [
    "Shows every component: the edge (proxy port), the daemon (intercept port), its API (/health), the",
    "services or the built-in supervisor, the CA, its trust, and the env mode, with pids and ports where known.",
    "Exit code 3 when the meter is unhealthy (the edge, the daemon, its API, the services or the CA). --json",
    "prints {healthy, version, mode, serviceManager, ports, components: [{name, ok, state, detail, pid?, port?}],",
    "versions: {binary, edge?, daemon?}, notes: [...], next?}. Notes say when the running daemon or edge is",
    "another version than this binary (an upgrade not applied: run init) and how many connections to metered",
    "hosts went unmetered while the daemon was away.",
  ].join("\n"),
  flags: [{ name: "json", type: "boolean", description: "Print the status as JSON." }],
  run: (io, inv) => execute(io, inv, realMachine(io.env, currentOs(), (l) => io.stderr(l + "\n"))),
};
