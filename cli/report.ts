/**
 * `halton-meter report`: requests, tokens by class and cost over a time window, grouped by project, model,
 * provider, or local day, week or month, as a table sized to the terminal, or as JSON or CSV for scripts.
 * The window and its zone are parsed by `reports/window.ts`, the figures come from `reports/report.ts`, and
 * the three renderers only format them.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { boolFlag, closest, type CommandSpec, type Invocation, type Io, stringFlag } from "./command.ts";
import { paint } from "./color.ts";
import { reportTable } from "./report_text.ts";
import { reportCsv } from "./report_csv.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { loadConfig } from "../core/config.ts";
import { openStore } from "../store/open.ts";
import { GROUP_BY, type GroupBy } from "../reports/queries.ts";
import { buildReport, type ReportOptions } from "../reports/report.ts";
import { reportJson } from "../reports/json.ts";
import { checkZone, parseFromTo, parseSince } from "../reports/window.ts";
import { machineZone } from "../reports/zone.ts";

/** A report's options and the form to print it in. */
export interface ReportRequest extends ReportOptions {
  format: "table" | "json" | "csv";
}

/**
 * The zone a command counts days in: `--tz`, else `[report] timezone` in the config, else the machine's.
 *
 * @throws {UsageError} for an unknown zone name.
 */
export function chooseZone(flag: string | undefined, configured: string, who: string): string {
  if (flag !== undefined) return checkZone(flag, who);
  return configured ? checkZone(configured, who) : machineZone();
}

/**
 * Checks the flags of one invocation and turns them into a {@linkcode ReportRequest}.
 *
 * @throws {UsageError} for conflicting or malformed flags.
 */
export function reportOptions(inv: Invocation, now: Date, zone: string): ReportRequest {
  const since = stringFlag(inv, "since");
  const from = stringFlag(inv, "from");
  const to = stringFlag(inv, "to");
  if (since !== undefined && (from !== undefined || to !== undefined)) {
    throw new UsageError("report: use either --since or --from/--to, not both");
  }
  if (to !== undefined && from === undefined) {
    throw new UsageError("report: --to needs --from", "For example: --from 2026-11-01 --to 2026-11-07");
  }
  const window = from !== undefined
    ? parseFromTo(from, to, now, zone, "report")
    : parseSince(since ?? "7d", now, zone, "report");
  const byFlag = stringFlag(inv, "by") ?? "project";
  if (!(GROUP_BY as readonly string[]).includes(byFlag)) {
    const near = closest(byFlag, GROUP_BY);
    throw new UsageError(
      `report: --by expects one of ${GROUP_BY.join(", ")}; got '${byFlag}'`,
      near ? `Did you mean --by ${near}?` : undefined,
    );
  }
  if (boolFlag(inv, "json") && boolFlag(inv, "csv")) {
    throw new UsageError("report: choose one of --json and --csv");
  }
  return {
    window,
    by: byFlag as GroupBy,
    project: stringFlag(inv, "project"),
    vsPrevious: boolFlag(inv, "vs-previous"),
    format: boolFlag(inv, "json") ? "json" : boolFlag(inv, "csv") ? "csv" : "table",
  };
}

/** True when the file is missing or empty: there is nothing to report, and nothing should be created. */
function noDatabase(file: string): boolean {
  try {
    return Deno.statSync(file).size === 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
}

/** The windows, in the words of `--help` and the README. */
const WINDOW_HELP = [
  "Windows: --since 24h is the last 24 hours back from now; 7d, 2w and 1m are the last 7 days, 2 weeks",
  "(Monday first) or 1 month in whole periods, the current one included, from midnight to now (7d = today",
  "so far and the 6 days before); a date YYYY-MM-DD runs from that day's midnight to now; --from D --to D",
  "is whole days, both included. Days are those of --tz, else [report] timezone in config.toml, else the",
  "machine's zone. --by day, week or month lists every period of the window, those without calls too.",
];

/** The `report` command with its clock injected, so tests can fix "now". */
export function createReportCommand(clock: () => Date = () => new Date()): CommandSpec {
  return {
    usage:
      "report [--since 7d | --from D [--to D]] [--by project|model|provider|day|week|month] [--project P] " +
      "[--vs-previous] [--tz ZONE] [--json | --csv]",
    description: [
      "Requests, tokens (input, output, cache read, cache write, thinking) and cost of the metered calls in a",
      "time window, one line per group, with a total. Costs are summed from integer millicents; calls whose",
      "model has no rate count as unknown and are listed under the table (costs marked * are lower bounds).",
      "When some calls were billed to a subscription, COST splits into BILLED (the spend) and SUBSCRIPTION",
      "(what those calls would have cost at API rates).",
      "",
      ...WINDOW_HELP,
      "",
      "--vs-previous compares with the window just before, as long in its own unit: each project, model or",
      "provider with itself, each day, week or month with the one in the same place before.",
      "",
      "--json prints one object (the read API's /v1/report serves the same):",
      '  window       {from, to, label, zone}: ISO-8601 UTC, "from" included, "to" excluded',
      "  by, project  the grouping and the --project filter (null when none)",
      "  groups[]     {key, <totals>, previous?: <totals>, previous_key?, cost_change_pct?}; key is the slug,",
      "               model, provider, YYYY-MM-DD (a day, or a week's Monday) or YYYY-MM (null for calls",
      "               that named no model)",
      "  total        <totals> of every group",
      "  previous     with --vs-previous: {window, total, cost_change_pct}",
      "  unknown_cost_models[]  {provider, model, requests} of calls without a known cost",
      "  <totals>     requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,",
      "               thinking_tokens, cost_millicents (1 USD = 100,000), cost_usd (exact decimal string),",
      "               billed_cost_millicents (cost less subscription_cost_millicents), unknown_cost_requests,",
      "               unknown_cost_tokens, subscription_requests, subscription_cost_millicents (what calls",
      "               billed to a subscription would have cost at API rates), incomplete_requests,",
      "               error_requests, cost_is_lower_bound (true when some calls have no known cost or",
      "               incomplete token counts)",
      "cost_change_pct is null when the previous cost was zero. --csv prints the same fields, one line per",
      "group, without a total line. With no database yet, --json and --csv print an empty report. A --project",
      "that names no project is an error (exit 1) with the nearest name as a hint.",
    ].join("\n"),
    flags: [
      {
        name: "since",
        type: "string",
        value: "SPAN",
        description: "24h, 7d, 2w, 1m, or a date YYYY-MM-DD (default 7d; see Windows above).",
      },
      { name: "from", type: "string", value: "D", description: "First day of the window, YYYY-MM-DD." },
      {
        name: "to",
        type: "string",
        value: "D",
        description: "Last day of the window, included (default: today).",
      },
      {
        name: "by",
        type: "string",
        value: "G",
        description: "Group by project, model, provider, day, week or month (default project).",
      },
      { name: "project", type: "string", value: "P", description: "Only the calls of project P." },
      {
        name: "vs-previous",
        type: "boolean",
        description: "Compare with the window just before (see above).",
      },
      {
        name: "tz",
        type: "string",
        value: "ZONE",
        description: "Count days in this IANA zone (UTC, Europe/Paris, Asia/Kolkata); default the machine's.",
      },
      { name: "json", type: "boolean", description: "Print JSON (fields above)." },
      { name: "csv", type: "boolean", description: "Print CSV." },
    ],
    examples: [
      "halton-meter report",
      "halton-meter report --since 30d --by model",
      "halton-meter report --since 1m --by week --vs-previous",
      "halton-meter report --from 2026-11-01 --to 2026-11-30 --by day --project my-app --tz UTC",
      "halton-meter report --vs-previous --json",
    ],
    run(io: Io, inv: Invocation): number {
      const zone = chooseZone(
        stringFlag(inv, "tz"),
        loadConfig(io.paths.config).config.report.timezone,
        "report",
      );
      const options = reportOptions(inv, clock(), zone);
      const missing = noDatabase(io.paths.db);
      let db: DatabaseSync | undefined;
      try {
        if (!missing) db = openStore(io.paths.db, { readOnly: true });
        const data = buildReport(db, options, closest);
        if (options.format === "table") {
          io.stdout(reportTable(data, io.columns, paint(io.color)));
          return ExitCode.Ok;
        }
        io.stdout(options.format === "json" ? reportJson(data) : reportCsv(data));
        if (data.noData) io.stderr("No metered calls yet.\n");
        return ExitCode.Ok;
      } finally {
        db?.close();
      }
    },
  };
}

/** `halton-meter report`. */
export const command: CommandSpec = createReportCommand();
