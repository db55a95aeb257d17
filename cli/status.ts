/**
 * `halton-meter status [--json]`: every component, its pid and port, the mode and version; exit 3 when the
 * meter is not healthy.
 *
 * @module
 */
import { boolFlag, type CommandSpec, type Invocation, type Io } from "./command.ts";
import { type Column, renderTable, tableWidth, wrap } from "./format.ts";
import { type Channel, currentChannel } from "../core/channel.ts";
import { ExitCode } from "../core/errors.ts";
import { currentOs } from "../core/paths.ts";
import { gatherFacts } from "../setup/inspect.ts";
import { type Machine, realMachine } from "../setup/machine.ts";
import { type StatusReport, statusReport } from "../setup/status.ts";

/** The human view of a status report, naming the channel the binary came from when given. */
export function renderStatus(r: StatusReport, width: number, channel?: Channel): string {
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
  // Too wide with the details beside the rest: each detail goes under its row instead, wrapped to the width.
  const table = tableWidth(columns, rows) <= width
    ? renderTable(columns, rows, { width, minFirst: 9 }).trimEnd()
    : renderTable(columns.slice(0, -1), rows.map((row) => row.slice(0, -1)), { width, minFirst: 9 })
      .trimEnd().split("\n").flatMap((line, i) =>
        i < 2 || !rows[i - 2][4]
          ? [line]
          : [line, ...wrap(rows[i - 2][4], width - 4).split("\n").map((l) => `    ${l}`)]
      ).join("\n");
  return [
    wrap(
      `halton-meter ${r.version}${channel ? ` from ${channel.name}` : ""}: ${
        r.healthy ? "healthy" : "UNHEALTHY"
      } (mode ${r.mode}, ${r.serviceManager})`,
      width,
    ),
    "",
    table,
    ...(r.notes.length ? ["", ...r.notes.map((n) => wrap(`note: ${n}`, width, "  "))] : []),
    ...(r.next ? ["", wrap(`next: ${r.next}`, width, "  ")] : []),
    "",
  ].join("\n");
}

/** `status` on `m`, for a binary from `channel`. */
export async function execute(
  io: Io,
  inv: Invocation,
  m: Machine,
  channel: Channel = currentChannel(),
): Promise<number> {
  const report = statusReport(await gatherFacts(m));
  io.stdout(
    boolFlag(inv, "json")
      ? JSON.stringify({ ...report, channel }, null, 2) + "\n"
      : renderStatus(report, io.columns, channel),
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
    "next?, channel: {name, upgrade, rollback, marker?}, versions: {binary, edge?, daemon?}, notes: [...]}.",
    "The channel is where this binary came from (install-script, fleet, homebrew, scoop, download, bundle,",
    "source) and how to upgrade or roll it back. Notes say when the running daemon or edge is another version",
    "than this binary (an upgrade not applied: run init) and how many connections to metered hosts went",
    "unmetered while the daemon was away.",
  ].join("\n"),
  flags: [{ name: "json", type: "boolean", description: "Print the status as JSON." }],
  run: (io, inv) => execute(io, inv, realMachine(io.env, currentOs(), (l) => io.stderr(l + "\n"))),
};
