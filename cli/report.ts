/**
 * `halton-meter report` (SPEC §7): requests, tokens by class and cost over a time window, grouped by project,
 * model, provider or day, as a table sized to the terminal, or as stable JSON or CSV for scripts.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { boolFlag, closest, type CommandSpec, type Invocation, type Io, stringFlag } from "./command.ts";
import {
  changePercent,
  type Column,
  csvLine,
  formatChange,
  formatCompact,
  formatCount,
  formatUsd,
  renderTable,
  tableWidth,
  usdString,
  wrap,
} from "./format.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { openStore } from "../store/open.ts";
import {
  emptyTotals,
  GROUP_BY,
  type GroupBy,
  isEmpty,
  projectSlugs,
  reportGroups,
  sumGroups,
  type TimeWindow,
  TOTALS_CSV_FIELDS,
  totalsJson,
  type UnknownCostModel,
  unknownCostModels,
  type UsageTotals,
} from "../reports/queries.ts";

/** The window a report covers and how to name it. */
export interface ReportWindow extends TimeWindow {
  /** `last 7 days`, `since 2026-11-01`, `2026-11-01 to 2026-11-07`. */
  label: string;
}

/** A report's options, parsed and checked. */
export interface ReportOptions {
  window: ReportWindow;
  by: GroupBy;
  project?: string;
  vsPrevious: boolean;
  format: "table" | "json" | "csv";
}

/** One group of the finished report, with the previous window's figures when asked for. */
export interface ReportLine extends UsageTotals {
  key: string | null;
  previous?: UsageTotals;
}

/** Everything a report shows, before formatting. */
export interface ReportData {
  options: ReportOptions;
  lines: ReportLine[];
  total: UsageTotals;
  previous?: { window: TimeWindow; total: UsageTotals };
  unknownModels: UnknownCostModel[];
  /** No database, or one without a single call. */
  noData: boolean;
  /** `--project` names a project the database has never seen; the nearest slug when there is one. */
  unknownProject?: { near?: string };
}

const DAY_MS = 86_400_000;
const UNIT_MS = { h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS } as const;
const UNIT_NAME = { h: "hour", d: "day", w: "week" } as const;

/**
 * Parses `--since`: `7d`, `24h`, `2w` (back from `now`) or a date `YYYY-MM-DD` (from its UTC midnight).
 *
 * @throws {UsageError} for anything else.
 */
export function parseSince(value: string, now: Date): ReportWindow {
  const rel = /^(\d+)([hdw])$/.exec(value);
  if (rel && Number(rel[1]) > 0) {
    const n = Number(rel[1]);
    const unit = rel[2] as keyof typeof UNIT_MS;
    return {
      from: new Date(now.getTime() - n * UNIT_MS[unit]).toISOString(),
      to: now.toISOString(),
      label: n === 1 ? `last ${UNIT_NAME[unit]}` : `last ${n} ${UNIT_NAME[unit]}s`,
    };
  }
  const day = parseDay(value);
  if (day === undefined) {
    throw new UsageError(
      `report: --since expects a span like 7d, 24h or 2w, or a date YYYY-MM-DD; got '${value}'`,
      "For example: halton-meter report --since 30d",
    );
  }
  return { from: day.toISOString(), to: now.toISOString(), label: `since ${value}` };
}

/**
 * The window of `--from D [--to D]`: whole UTC days, both ends included; without `--to`, up to `now`.
 *
 * @throws {UsageError} for a malformed date or a `--to` before `--from`.
 */
export function parseFromTo(from: string, to: string | undefined, now: Date): ReportWindow {
  const start = parseDay(from);
  if (start === undefined) throw badDate("--from", from);
  if (to === undefined) return { from: start.toISOString(), to: now.toISOString(), label: `since ${from}` };
  const end = parseDay(to);
  if (end === undefined) throw badDate("--to", to);
  if (end < start) {
    throw new UsageError(`report: --to ${to} is before --from ${from}`, "Swap the two dates.");
  }
  return {
    from: start.toISOString(),
    to: new Date(end.getTime() + DAY_MS).toISOString(),
    label: from === to ? from : `${from} to ${to}`,
  };
}

/** The same-length window just before `w`. */
export function previousWindow(w: TimeWindow): TimeWindow {
  const from = Date.parse(w.from);
  const span = Date.parse(w.to) - from;
  return { from: new Date(from - span).toISOString(), to: w.from };
}

function parseDay(value: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const d = new Date(`${value}T00:00:00.000Z`);
  // Date accepts 2026-02-30 and rolls it over; a date that does not print back as itself is not a date.
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value ? undefined : d;
}

function badDate(flag: string, value: string): UsageError {
  return new UsageError(
    `report: ${flag} expects a date YYYY-MM-DD (UTC); got '${value}'`,
    "For example: halton-meter report --from 2026-11-01 --to 2026-11-07",
  );
}

/**
 * Checks the flags of one invocation and turns them into {@linkcode ReportOptions}.
 *
 * @throws {UsageError} for conflicting or malformed flags.
 */
export function reportOptions(inv: Invocation, now: Date): ReportOptions {
  const since = stringFlag(inv, "since");
  const from = stringFlag(inv, "from");
  const to = stringFlag(inv, "to");
  if (since !== undefined && (from !== undefined || to !== undefined)) {
    throw new UsageError("report: use either --since or --from/--to, not both");
  }
  if (to !== undefined && from === undefined) {
    throw new UsageError("report: --to needs --from", "For example: --from 2026-11-01 --to 2026-11-07");
  }
  const window = from !== undefined ? parseFromTo(from, to, now) : parseSince(since ?? "7d", now);
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

/**
 * Runs the report's queries on a read-only connection. With `vsPrevious`, each group carries its figures in
 * the previous window (groups seen only then are added with zeros now), except by day: days of two windows
 * are different keys, so only the totals are compared.
 */
export function buildReport(db: DatabaseSync | undefined, options: ReportOptions): ReportData {
  const data: ReportData = { options, lines: [], total: emptyTotals(), unknownModels: [], noData: true };
  if (options.vsPrevious) data.previous = { window: previousWindow(options.window), total: emptyTotals() };
  if (!db || isEmpty(db)) return data;
  data.noData = false;
  const q = { by: options.by, project: options.project };
  const current = reportGroups(db, { ...q, window: options.window });
  data.lines = current.map((g) => ({ ...g }));
  data.total = sumGroups(current);
  data.unknownModels = unknownCostModels(db, { ...q, window: options.window });
  if (data.previous) {
    const before = reportGroups(db, { ...q, window: data.previous.window });
    data.previous.total = sumGroups(before);
    if (options.by !== "day") {
      const byKey = new Map(data.lines.map((l) => [l.key, l]));
      for (const line of data.lines) line.previous = emptyTotals();
      for (const { key, ...totals } of before) {
        const line = byKey.get(key);
        if (line) line.previous = totals;
        else data.lines.push({ key, ...emptyTotals(), previous: totals });
      }
    }
  }
  if (options.project !== undefined) {
    const slugs = projectSlugs(db);
    if (!slugs.includes(options.project)) data.unknownProject = { near: closest(options.project, slugs) };
  }
  return data;
}

/** The `--json` document (its shape is documented in the command's help). */
export function reportJson(data: ReportData): string {
  const { options } = data;
  const doc = {
    window: { from: options.window.from, to: options.window.to, label: options.window.label },
    by: options.by,
    project: options.project ?? null,
    groups: data.lines.map((l) => ({
      key: l.key,
      ...totalsJson(l),
      ...(l.previous && {
        previous: totalsJson(l.previous),
        cost_change_pct: costChange(l.previous, l),
      }),
    })),
    total: totalsJson(data.total),
    ...(data.previous && {
      previous: {
        window: data.previous.window,
        total: totalsJson(data.previous.total),
        cost_change_pct: costChange(data.previous.total, data.total),
      },
    }),
    unknown_cost_models: data.unknownModels,
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

/** The change in cost in percent, one decimal; null when there was no cost before. */
function costChange(before: UsageTotals, now: UsageTotals): number | null {
  const p = changePercent(before.cost_millicents, now.cost_millicents);
  return p === null ? null : Math.round(p * 10) / 10;
}

/**
 * The `--csv` text: a header, then one line per group, without a total line so that the lines sum to the
 * total. With `--vs-previous` (not by day) four columns more: the previous requests and cost, and the change.
 */
export function reportCsv(data: ReportData): string {
  const prev = data.previous !== undefined && data.options.by !== "day";
  let out = csvLine([
    data.options.by,
    ...TOTALS_CSV_FIELDS,
    ...(prev
      ? ["previous_requests", "previous_cost_millicents", "previous_cost_usd", "cost_change_pct"]
      : []),
  ]);
  for (const l of data.lines) {
    const t = totalsJson(l);
    out += csvLine([
      l.key,
      ...TOTALS_CSV_FIELDS.map((f) => t[f]),
      ...(prev && l.previous
        ? [
          l.previous.requests,
          l.previous.cost_millicents,
          usdString(l.previous.cost_millicents),
          costChange(l.previous, l),
        ]
        : []),
    ]);
  }
  return out;
}

const LABEL: Record<GroupBy, string> = {
  project: "PROJECT",
  model: "MODEL",
  provider: "PROVIDER",
  day: "DAY",
};

const NUMBERS = ["REQUESTS", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "THINKING"];

/** A cost cell: `?` when every call's cost is unknown, a trailing `*` when some are (a lower bound). */
function costCell(t: UsageTotals, millicents = t.cost_millicents): string {
  if (t.requests > 0 && t.unknown_cost_requests === t.requests) return "?";
  return formatUsd(millicents) + (t.unknown_cost_requests ? "*" : "");
}

/**
 * The spend columns: COST alone, or, when some calls were billed to a subscription, BILLED (the spend) and
 * SUBSCRIPTION (what those calls would have cost at API rates), so that neither hides in the other.
 */
function spendColumns(
  data: ReportData,
): { headers: string[]; cells: (t: UsageTotals) => string[]; amount: (t: UsageTotals) => number } {
  if (!data.total.subscription_requests && !data.previous?.total.subscription_requests) {
    return { headers: ["COST"], cells: (t) => [costCell(t)], amount: (t) => t.cost_millicents };
  }
  return {
    headers: ["BILLED", "SUBSCRIPTION"],
    // PREVIOUS and CHANGE then compare billed spend with billed spend.
    amount: (t) => t.cost_millicents - t.subscription_cost_millicents,
    cells: (t) => [
      costCell(t, t.cost_millicents - t.subscription_cost_millicents),
      t.subscription_requests ? formatUsd(t.subscription_cost_millicents) : "-",
    ],
  };
}

/**
 * The human report: a title, a table fitted to `columns`, a total row and notes. To fit, the table first
 * switches to compact counts (12.3k), then narrows the gaps, and only then shortens the labels.
 */
export function reportTable(data: ReportData, columns: number): string {
  const { options } = data;
  const scope = options.project !== undefined ? ` for project ${options.project}` : "";
  const head = [
    wrap(
      `Spend by ${options.by}${scope}, ${options.window.label} (${describeWindow(options.window)})`,
      columns,
    ),
  ];
  if (data.noData) return [...head, wrap(NO_DATA, columns), ""].join("\n");
  if (data.previous) head.push(`Compared with ${describeWindow(data.previous.window)}.`);
  if (!data.lines.length) {
    return [...head, "No metered calls in this window.", unknownProjectNote(data)].join("\n");
  }
  const withPrevious = data.previous !== undefined;
  const spend = spendColumns(data);
  const cols: Column[] = [
    { header: LABEL[options.by] },
    ...[...NUMBERS, ...spend.headers, ...(withPrevious ? ["PREVIOUS", "CHANGE"] : [])].map((header) => ({
      header,
      align: "right" as const,
    })),
  ];
  const cells = (
    key: string,
    t: UsageTotals,
    prev: UsageTotals | undefined,
    count: (n: number) => string,
  ) => [
    key,
    ...[
      t.requests,
      t.input_tokens,
      t.output_tokens,
      t.cache_read_tokens,
      t.cache_write_tokens,
      t.thinking_tokens,
    ]
      .map(count),
    ...spend.cells(t),
    ...(prev
      ? [costCell(prev, spend.amount(prev)), formatChange(spend.amount(prev), spend.amount(t))]
      : withPrevious
      ? ["", ""]
      : []),
  ];
  const layouts = [[formatCount, 2], [formatCompact, 2], [formatCompact, 1]] as const;
  let table = "";
  for (const [count, gap] of layouts) {
    const rows = data.lines.map((l) => cells(l.key ?? "(no model)", l, l.previous, count));
    const footer = [cells("TOTAL", data.total, data.previous?.total, count)];
    table = renderTable(cols, rows, { width: columns, gap, footer, minFirst: 8 });
    if (tableWidth(cols, [...rows, ...footer], gap) <= columns) break;
  }
  const notes = reportNotes(data).map((n) => wrap(n, columns, "  "));
  return [...head, "", table.trimEnd(), ...(notes.length ? ["", ...notes] : []), unknownProjectNote(data)]
    .join("\n");
}

const NO_DATA = "No metered calls yet. Meter one command with 'halton-meter run -- CMD', or set up the " +
  "machine with 'halton-meter init'.";

function reportNotes(data: ReportData): string[] {
  const notes: string[] = [];
  const t = data.total;
  if (t.unknown_cost_requests) {
    const models = data.unknownModels.slice(0, 5).map((m) =>
      `${m.model ?? "(no model)"} (${formatCount(m.requests)})`
    );
    const more = data.unknownModels.length > 5 ? ", …" : "";
    notes.push(
      `* ${plural(t.unknown_cost_requests, "call has", "calls have")} no known cost ` +
        `(${plural(t.unknown_cost_tokens, "token", "tokens")}), for want of a rate for ${
          models.join(", ")
        }${more}: ` +
        "costs marked * leave them out and are lower bounds. 'halton-meter pricing unknown' lists them.",
    );
  }
  if (t.subscription_requests) {
    notes.push(
      `${
        plural(t.subscription_requests, "call was", "calls were")
      } billed to a subscription (ChatGPT sign-in, ` +
        `Code Assist, Claude OAuth): SUBSCRIPTION is what ${
          t.subscription_requests === 1 ? "it" : "they"
        } would have cost at API rates (${formatUsd(t.subscription_cost_millicents)}), not spend.`,
    );
  }
  if (t.incomplete_requests) {
    notes.push(
      `${
        plural(t.incomplete_requests, "call has", "calls have")
      } incomplete token counts (a stream cut short, ` +
        "or streamed without usage): their tokens and cost are a lower bound.",
    );
  }
  if (t.error_requests) notes.push(`${plural(t.error_requests, "call", "calls")} ended in an error.`);
  return notes;
}

/** A line naming the nearest project when `--project` matched none; empty otherwise. */
function unknownProjectNote(data: ReportData): string {
  if (!data.unknownProject) return "";
  const near = data.unknownProject.near;
  return `No project is named '${data.options.project}'.${near ? ` Did you mean '${near}'?` : ""}\n`;
}

function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** `2026-11-18 10:42 → 2026-11-25 10:42 UTC`, or whole days `2026-11-01 → 2026-11-07 UTC` (both included). */
export function describeWindow(w: TimeWindow): string {
  const midnight = (iso: string) => iso.endsWith("T00:00:00.000Z");
  if (midnight(w.from) && midnight(w.to)) {
    const last = new Date(Date.parse(w.to) - DAY_MS).toISOString().slice(0, 10);
    const first = w.from.slice(0, 10);
    return first === last ? `${first} UTC` : `${first} → ${last} UTC`;
  }
  const minute = (iso: string) => iso.slice(0, 16).replace("T", " ");
  return `${minute(w.from)} → ${minute(w.to)} UTC`;
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

/** The `report` command with its clock injected, so tests can fix "now". */
export function createReportCommand(clock: () => Date = () => new Date()): CommandSpec {
  return {
    usage: "report [--since 7d | --from D [--to D]] [--by project|model|provider|day] [--project P] " +
      "[--vs-previous] [--json | --csv]",
    description: [
      "Requests, tokens (input, output, cache read, cache write, thinking) and cost of the metered calls in a",
      "time window, one line per group, with a total. Costs are summed from integer millicents; calls whose",
      "model has no rate count as unknown and are listed under the table. Times are UTC.",
      "",
      "--json prints one object:",
      '  window       {from, to, label}: ISO-8601 UTC, "from" included, "to" excluded',
      "  by, project  the grouping and the --project filter (null when none)",
      "  groups[]     {key, <totals>, previous?: <totals>, cost_change_pct?}; key is the slug, model,",
      "               provider or YYYY-MM-DD (null for calls that named no model)",
      "  total        <totals> of every group",
      "  previous     with --vs-previous: {window, total, cost_change_pct}",
      "  unknown_cost_models[]  {provider, model, requests} of calls without a known cost",
      "  <totals>     requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,",
      "               thinking_tokens, cost_millicents (1 USD = 100,000), cost_usd (exact decimal string),",
      "               unknown_cost_requests, incomplete_requests, error_requests",
      "cost_change_pct is null when the previous cost was zero. --csv prints the same fields, one line per",
      "group, without a total line. With no database yet, --json and --csv print an empty report.",
    ].join("\n"),
    flags: [
      {
        name: "since",
        type: "string",
        value: "SPAN",
        description: "Window back from now: 7d, 24h, 2w, or a date YYYY-MM-DD (default 7d).",
      },
      { name: "from", type: "string", value: "D", description: "First day of the window, YYYY-MM-DD (UTC)." },
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
        description: "Group by project, model, provider or day (default project).",
      },
      { name: "project", type: "string", value: "P", description: "Only the calls of project P." },
      {
        name: "vs-previous",
        type: "boolean",
        description: "Compare with the same-length window just before.",
      },
      { name: "json", type: "boolean", description: "Print JSON (fields above)." },
      { name: "csv", type: "boolean", description: "Print CSV." },
    ],
    examples: [
      "halton-meter report",
      "halton-meter report --since 30d --by model",
      "halton-meter report --from 2026-11-01 --to 2026-11-30 --by day --project my-app",
      "halton-meter report --vs-previous --json",
    ],
    run(io: Io, inv: Invocation): number {
      const options = reportOptions(inv, clock());
      const missing = noDatabase(io.paths.db);
      let db: DatabaseSync | undefined;
      try {
        if (!missing) db = openStore(io.paths.db, { readOnly: true });
        const data = buildReport(db, options);
        if (options.format === "table") {
          io.stdout(reportTable(data, io.columns));
          return ExitCode.Ok;
        }
        io.stdout(options.format === "json" ? reportJson(data) : reportCsv(data));
        if (data.noData) io.stderr("No metered calls yet.\n");
        else if (data.unknownProject) io.stderr(unknownProjectNote(data));
        return ExitCode.Ok;
      } finally {
        db?.close();
      }
    },
  };
}

/** `halton-meter report`. */
export const command: CommandSpec = createReportCommand();
