/**
 * `report`'s table for people: a title naming the window and its zone, one line per group, a total line and
 * notes. At 80 columns and more every token class has a column; below, a compact layout keeps the label,
 * requests, all tokens together and the cost. Each column uses one number format throughout, and labels are
 * shortened from the middle without ever printing two alike.
 *
 * @module
 */
import {
  type Column,
  formatChange,
  formatCount,
  formatUnits,
  formatUsd,
  printable,
  renderTable,
  shortenUnique,
  wrap,
} from "./format.ts";
import type { Paint } from "./color.ts";
import type { GroupBy, UsageTotals } from "../reports/queries.ts";
import type { ReportData } from "../reports/report.ts";
import { describeWindow } from "../reports/window.ts";

/** Below this many columns the table takes its compact layout. */
export const COMPACT_BELOW = 80;

/** One column of figures: its header, which layouts show it, and its cell for a line. */
export interface FigureColumn {
  header: string;
  /** Shown in the compact layout too (the label is always shown). */
  compact: boolean;
  /** A count (formatted as a column) or text already formatted (money, a change). */
  cell(t: UsageTotals, previous: UsageTotals | undefined): number | string;
}

/**
 * A cost cell of `millicents` (the cost, or a part of it): `?` when every call's cost is unknown, a trailing
 * `*` when some are (a lower bound).
 */
export function costCell(t: UsageTotals, millicents = t.cost_millicents): string {
  if (t.requests > 0 && t.unknown_cost_requests === t.requests) return "?";
  return formatUsd(millicents) + (t.unknown_cost_requests ? "*" : "");
}

/** The spend: the known cost of the calls not billed to a subscription. */
function billed(t: UsageTotals): number {
  return t.cost_millicents - t.subscription_cost_millicents;
}

/** The figure columns, in order; more can be added here without touching the layout. */
export const FIGURES: readonly FigureColumn[] = [
  { header: "REQUESTS", compact: true, cell: (t) => t.requests },
  { header: "INPUT", compact: false, cell: (t) => t.input_tokens },
  { header: "OUTPUT", compact: false, cell: (t) => t.output_tokens },
  { header: "CACHE READ", compact: false, cell: (t) => t.cache_read_tokens },
  { header: "CACHE WRITE", compact: false, cell: (t) => t.cache_write_tokens },
  { header: "THINKING", compact: false, cell: (t) => t.thinking_tokens },
  {
    header: "TOKENS",
    compact: true,
    cell: (t) => t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_write_tokens,
  },
  { header: "COST", compact: true, cell: (t) => costCell(t) },
];

/**
 * COST's place when some calls were billed to a subscription: BILLED (the spend) and SUBSCRIPTION (what those
 * calls would have cost at API rates), so that neither hides in the other.
 */
const SPLIT_COST: readonly FigureColumn[] = [
  { header: "BILLED", compact: true, cell: (t) => costCell(t, billed(t)) },
  {
    header: "SUBSCRIPTION",
    compact: true,
    cell: (t) => t.subscription_requests ? formatUsd(t.subscription_cost_millicents) : "-",
  },
];

/** PREVIOUS and CHANGE of `amount`: the cost, or billed spend when the table shows subscription traffic apart. */
function previousColumns(amount: (t: UsageTotals) => number): FigureColumn[] {
  return [
    { header: "PREVIOUS", compact: true, cell: (_t, p) => p ? costCell(p, amount(p)) : "" },
    { header: "CHANGE", compact: true, cell: (t, p) => p ? formatChange(amount(p), amount(t)) : "" },
  ];
}

/** Columns a very narrow table drops, in this order, before it cuts labels below 8 characters. */
const DROPPABLE = ["PREVIOUS", "TOKENS", "REQUESTS"];

const LABEL: Record<GroupBy, string> = {
  project: "PROJECT",
  model: "MODEL",
  provider: "PROVIDER",
  day: "DAY",
  week: "WEEK OF",
  month: "MONTH",
};

/**
 * The human report fitted to `columns`, styled with `paint`. The wide layout leaves out TOKENS (its parts are
 * there); the compact one shows it instead of the parts.
 */
export function reportTable(data: ReportData, columns: number, paint: Paint): string {
  const { options } = data;
  const scope = options.project !== undefined ? ` for project ${options.project}` : "";
  const head = [
    paint.bold(wrap(`Spend by ${options.by}${scope}, ${options.window.label}`, columns)),
    wrap(describeWindow(options.window), columns),
  ];
  if (data.noData) return [...head, wrap(NO_DATA, columns), ""].join("\n");
  if (data.previous) head.push(wrap(`Compared with ${describeWindow(data.previous.window)}.`, columns));
  if (!data.lines.length) return [...head, "No metered calls in this window.", ""].join("\n");

  const lines = data.lines.map((l) => ({ label: l.key ?? "(no model)", t: l as UsageTotals, p: l.previous }));
  const total = { label: "TOTAL", t: data.total, p: data.previous?.total };
  const longest = Math.max(...[...lines, total].map((l) => [...l.label].length));
  // Counts in full where they fit, else every count column in units (one format per column), else the compact
  // columns; labels are shortened only in the last layout tried.
  const layouts = columns < COMPACT_BELOW
    ? [{ compact: true, units: true }]
    : [{ compact: false, units: false }, { compact: false, units: true }, { compact: true, units: true }];
  const split = Boolean(data.total.subscription_requests || data.previous?.total.subscription_requests);
  let table = "";
  for (const [n, layout] of layouts.entries()) {
    let figures = [
      ...FIGURES.filter((f) => layout.compact ? f.compact : f.header !== "TOKENS")
        .flatMap((f) => split && f.header === "COST" ? SPLIT_COST : [f]),
      ...(data.previous ? previousColumns(split ? billed : (t) => t.cost_millicents) : []),
    ];
    const cellsOf = (list: readonly FigureColumn[]) =>
      list.map((f) =>
        [...lines, total].map((r) => {
          const c = f.cell(r.t, r.p);
          return typeof c === "number" ? (layout.units ? formatUnits(c) : formatCount(c)) : c;
        })
      );
    const widthOf = (list: readonly FigureColumn[], body: string[][]) =>
      body.reduce(
        (sum, col, i) => sum + 2 + Math.max(list[i].header.length, ...col.map((c) => [...c].length)),
        0,
      );
    let body = cellsOf(figures);
    let figureWidth = widthOf(figures, body);
    // The narrowest terminals lose the columns they can best do without, least needed first.
    for (const drop of layout.compact ? DROPPABLE : []) {
      if (figureWidth + Math.min(longest, 8) <= columns) break;
      figures = figures.filter((f) => f.header !== drop);
      body = cellsOf(figures);
      figureWidth = widthOf(figures, body);
    }
    const room = columns - figureWidth;
    if (room < Math.min(longest, 20) && n < layouts.length - 1) continue;
    const labels = shortenUnique([...lines.map((l) => l.label), total.label], Math.max(8, room));
    const rows = labels.map((label, i) => [label, ...body.map((col) => col[i])]);
    const footer = rows.pop()!;
    const cols: Column[] = [
      { header: LABEL[options.by] },
      ...figures.map((f) => ({ header: f.header, align: "right" as const })),
    ];
    // The labels are already as short as they can be without two alike; the table must not cut them again.
    table = renderTable(cols, rows, { width: columns, footer: [footer], minFirst: Number.MAX_SAFE_INTEGER });
    break;
  }
  const drawn = table.trimEnd().split("\n");
  const styled = drawn.map((line, i) => i === 0 || i === drawn.length - 1 ? paint.bold(line) : line);
  const notes = reportNotes(data, paint).map((n) => wrap(n, columns, "  "));
  return [...head, "", ...styled, ...(notes.length ? ["", ...notes] : []), ""].join("\n");
}

const NO_DATA = "No metered calls yet. Meter one command with 'halton-meter run -- CMD', or set up the " +
  "machine with 'halton-meter init'.";

function reportNotes(data: ReportData, paint: Paint): string[] {
  const notes: string[] = [];
  const t = data.total;
  if (t.unknown_cost_requests) {
    const models = data.unknownModels.slice(0, 5).map((m) =>
      `${m.model === null ? "(no model)" : printable(m.model)} (${formatCount(m.requests)})`
    );
    const more = data.unknownModels.length > 5 ? ", …" : "";
    notes.push(paint.warn(
      `* ${plural(t.unknown_cost_requests, "call has", "calls have")} no known cost ` +
        `(${plural(t.unknown_cost_tokens, "token", "tokens")}), for want of a rate for ${
          models.join(", ")
        }${more}: ` +
        "costs marked * leave them out and are lower bounds. 'halton-meter pricing unknown' lists them.",
    ));
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
    notes.push(paint.warn(
      `${
        plural(t.incomplete_requests, "call has", "calls have")
      } incomplete token counts (a stream cut short, ` +
        "or streamed without usage): their tokens and cost are a lower bound.",
    ));
  }
  if (t.error_requests) {
    notes.push(paint.error(`${plural(t.error_requests, "call", "calls")} ended in an error.`));
  }
  return notes;
}

function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}
