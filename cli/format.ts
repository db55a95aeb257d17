/**
 * Formatting for human output, shared by every command: money from integer millicents, counts, durations,
 * percentages, CSV fields, and plain-text tables that fit the terminal.
 *
 * @module
 */

import { changePercent } from "../core/money.ts";

export { changePercent, MILLICENTS_PER_USD, usdString } from "../core/money.ts";

/**
 * Dollars and cents for people: `$12.34`, `$1,234.50`, `$0.00`; a cost above zero that rounds to nothing
 * reads `< $0.01`, so a cheap call never looks free. `null` (an unknown cost) is `?`.
 */
export function formatUsd(millicents: number | null): string {
  if (millicents === null) return "?";
  const sign = millicents < 0 ? "-" : "";
  const abs = Math.abs(millicents);
  if (abs > 0 && abs < 1000) return sign ? "> -$0.01" : "< $0.01";
  const cents = Math.round(abs / 1000);
  const dollars = Math.floor(cents / 100);
  return `${sign}$${groupDigits(dollars)}.${String(cents % 100).padStart(2, "0")}`;
}

/** A whole number with thousands separators: `1,234,567`. */
export function formatCount(n: number): string {
  return (n < 0 ? "-" : "") + groupDigits(Math.abs(Math.round(n)));
}

const UNITS = [[1e3, "k"], [1e6, "M"], [1e9, "B"], [1e12, "T"]] as const;

/** A count in at most about five characters: `987`, `12.3k`, `4.56M`, `7.80B`. */
export function formatCompact(n: number): string {
  return Math.abs(n) < 10_000 ? formatCount(n) : withUnit(n);
}

/** `n` (a thousand or more) scaled to the largest unit that keeps it under 1000, with three significant digits. */
function withUnit(n: number): string {
  const abs = Math.abs(n);
  for (const [i, [unit, suffix]] of UNITS.entries()) {
    const scaled = abs / unit;
    // Rounding 999,960 to "1000k" would waste a character; the next unit says it as "1.00M".
    if (Math.round(scaled) >= 1000 && i < UNITS.length - 1) continue;
    const digits = scaled < 9.995
      ? scaled.toFixed(2)
      : scaled < 99.95
      ? scaled.toFixed(1)
      : Math.round(scaled);
    return `${n < 0 ? "-" : ""}${digits}${suffix}`;
  }
  return formatCount(n);
}

/** A duration for people: `850 ms`, `1.2 s`, `3 m 20 s`, `2 h 5 m`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  const [d, h, m, sec] = [
    Math.floor(total / 86400),
    Math.floor(total / 3600) % 24,
    Math.floor(total / 60) % 60,
    total % 60,
  ];
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return m ? `${h} h ${m} m` : `${h} h`;
  return sec ? `${m} m ${sec} s` : `${m} m`;
}

/**
 * The change from `before` to `now` as a signed percentage (`+12.5%`, `-3.0%`, `0%`); `new` when there was
 * nothing before and something now, `—` when both are zero.
 */
export function formatChange(before: number, now: number): string {
  const pct = changePercent(before, now);
  if (pct === null) return now === 0 ? "—" : "new";
  if (pct === 0) return "0%";
  return `${pct > 0 ? "+" : ""}${pct.toFixed(1)}%`;
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; null is empty. */
export function csvField(value: string | number | boolean | null): string {
  if (value === null) return "";
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV line, CRLF-terminated as RFC 4180 asks. */
export function csvLine(values: readonly (string | number | boolean | null)[]): string {
  return values.map(csvField).join(",") + "\r\n";
}

/** A table column: its header, and whether it is numeric (right-aligned). */
export interface Column {
  header: string;
  align?: "left" | "right";
}

/** Options for {@linkcode renderTable}. */
export interface TableOptions {
  /** The width to fit in; the first column is shortened (with `…` in its middle) to make the table fit. */
  width: number;
  /** The first column never shrinks below this many characters. */
  minFirst?: number;
  /** Spaces between columns (default 2). */
  gap?: number;
  /** Rows drawn after a rule line (totals). */
  footer?: string[][];
}

/**
 * A plain-text table: a header, a rule, the rows, and an optional footer under a second rule. The first
 * column (the label) is shortened first when the table is wider than `width`.
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly string[][],
  options: TableOptions,
): string {
  const body = rows.map((r) => r.map(printable));
  const footer = (options.footer ?? []).map((r) => r.map(printable));
  const gap = options.gap ?? 2;
  const all = [columns.map((c) => c.header), ...body, ...footer];
  const widths = columnWidths(columns, all);
  const total = widths.reduce((a, b) => a + b, 0) + gap * (columns.length - 1);
  if (total > options.width) {
    widths[0] = Math.max(Math.min(widths[0], options.minFirst ?? 8), widths[0] - (total - options.width));
  }
  const line = (cells: readonly string[]) =>
    columns.map((c, i) => {
      const cell = i === 0 ? truncateMiddle(cells[i] ?? "", widths[i]) : cells[i] ?? "";
      const pad = " ".repeat(Math.max(0, widths[i] - displayWidth(cell)));
      return c.align === "right" ? pad + cell : cell + pad;
    }).join(" ".repeat(gap)).trimEnd();
  const rule = "─".repeat(
    Math.min(options.width, widths.reduce((a, b) => a + b, 0) + gap * (columns.length - 1)),
  );
  const out = [line(all[0]), rule, ...body.map(line)];
  if (footer.length) out.push(rule, ...footer.map(line));
  return out.join("\n") + "\n";
}

/** C0 and C1 control characters (newlines, tabs, the escape that starts a terminal sequence) and DEL. */
// deno-lint-ignore no-control-regex -- finding control characters is this pattern's whole purpose
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * `text` with each control character shown as `�`. Model names, projects and processes come from providers
 * and users: a newline or an escape sequence in one must not break a table or drive the terminal.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, "\uFFFD");
}

/** The width {@linkcode renderTable} would draw `rows` at before shortening anything. */
export function tableWidth(columns: readonly Column[], rows: readonly string[][], gap = 2): number {
  const widths = columnWidths(columns, [columns.map((c) => c.header), ...rows]);
  return widths.reduce((a, b) => a + b, 0) + gap * (columns.length - 1);
}

function columnWidths(columns: readonly Column[], rows: readonly string[][]): number[] {
  return columns.map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i] ?? ""))));
}

/**
 * `text` cut to `width` characters by replacing its middle with `…`: labels that share a prefix
 * (`claude-sonnet-4-5`, `claude-opus-4-1`) stay tellable apart by their ends.
 */
export function truncateMiddle(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 1) return chars.slice(0, width).join("");
  const head = Math.ceil((width - 1) / 2);
  const tail = width - 1 - head;
  return chars.slice(0, head).join("") + "…" + (tail ? chars.slice(-tail).join("") : "");
}

/** Word-wraps `text` to lines of at most `width` characters (a longer word gets a line to itself). */
export function wrap(text: string, width: number, indent = ""): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/ +/)) {
    if (line && displayWidth(line) + 1 + displayWidth(word) > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join("\n");
}

function displayWidth(s: string): number {
  return [...s].length;
}

function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A count with a unit suffix from a thousand up (`987`, `1.23k`, `45.6k`, `789k`, `1.02M`): three significant
 * digits and no thousands separators, so that a column of them reads one way.
 */
export function formatUnits(n: number): string {
  return Math.abs(n) < 1000 ? formatCount(n) : withUnit(n);
}

/**
 * Labels shortened to at most `width` characters by cutting their middle, so that no two different labels
 * print the same: where the plain cut makes two alike, another cut point is tried, and then a wider column.
 * Returns the shortened labels in order.
 */
export function shortenUnique(labels: readonly string[], width: number): string[] {
  const longest = Math.max(0, ...labels.map(displayWidth));
  for (let w = Math.max(1, width); w < longest; w++) {
    const out = labels.map((l) => truncateMiddle(l, w));
    if (distinctFor(labels, out)) return out;
    const fixed = retryClashes(labels, out, w);
    if (fixed) return fixed;
  }
  return [...labels];
}

function distinctFor(labels: readonly string[], out: readonly string[]): boolean {
  const seen = new Map<string, string>();
  for (let i = 0; i < out.length; i++) {
    const before = seen.get(out[i]);
    if (before !== undefined && before !== labels[i]) return false;
    seen.set(out[i], labels[i]);
  }
  return true;
}

/** Tries every cut point for the labels that clash at width `w`; the first that sets them all apart wins. */
function retryClashes(labels: readonly string[], out: string[], w: number): string[] | undefined {
  const clashing = new Set<number>();
  for (let i = 0; i < out.length; i++) {
    for (let j = i + 1; j < out.length; j++) {
      if (out[i] === out[j] && labels[i] !== labels[j]) clashing.add(i).add(j);
    }
  }
  for (let head = w - 1; head >= 0; head--) {
    const tryOut = [...out];
    for (const i of clashing) tryOut[i] = cutAt(labels[i], w, head);
    if (distinctFor(labels, tryOut)) return tryOut;
  }
  return undefined;
}

/** `text` as its first `head` and last `width - 1 - head` characters around `…`, when longer than `width`. */
function cutAt(text: string, width: number, head: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  const tail = width - 1 - head;
  return chars.slice(0, head).join("") + "…" + (tail > 0 ? chars.slice(-tail).join("") : "");
}
