/**
 * `deno task bench [-- --only <section>] [--quick]`: runs the bench sections, each a module under `scripts/bench/`, and
 * prints their results as one table. A new section is one line in {@linkcode SECTIONS}.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { writeAllSync } from "../core/io.ts";
import { type Column, renderTable } from "../cli/format.ts";

/** One measured figure. */
export interface BenchResult {
  /** What was measured, e.g. `report query, 7d by project (median of 5)`. */
  name: string;
  value: number;
  /** `ms`, `MB`, `req/s`, `rows`, … */
  unit: string;
  /** The figure the issue asks for, in the same unit (a maximum unless `higherIsBetter`). */
  target?: number;
  /** `value / target`, or `target / value` when higher is better: below 1 meets the target. */
  ratio?: number;
  higherIsBetter?: boolean;
  /** A remark shown after the figure (how it was measured, what it depends on). */
  note?: string;
}

/** What `deno task bench` passes every section. */
export interface BenchRunOptions {
  /** `--quick`: fewer samples and shorter loads, for a look rather than a figure to quote. */
  quick?: boolean;
}

/** A bench section module. */
export interface BenchSection {
  run(options?: BenchRunOptions): Promise<BenchResult[]>;
}

/** Every section, in the order they run. */
export const SECTIONS: Record<string, () => Promise<BenchSection>> = {
  report: () => import("./bench/report.ts"),
  edge: () => import("./bench/edge.ts"),
  capture: () => import("./bench/capture.ts"),
  metering: () => import("./bench/metering.ts"),
  tls: () => import("./bench/tls.ts"),
  fresh: () => import("./bench/fresh.ts"),
  upload: () => import("./bench/upload.ts"),
  streams: () => import("./bench/streams.ts"),
  versus: () => import("./bench/versus.ts"),
};

/** A result with its ratio filled in from its target. */
export function withRatio(r: BenchResult): BenchResult {
  if (r.target === undefined || r.ratio !== undefined) return r;
  return { ...r, ratio: r.higherIsBetter ? r.target / r.value : r.value / r.target };
}

/** The results of every section as one table. */
export function renderResults(results: readonly (BenchResult & { section: string })[], width = 160): string {
  const columns: Column[] = [
    { header: "SECTION" },
    { header: "MEASURE" },
    { header: "VALUE", align: "right" },
    { header: "TARGET", align: "right" },
    { header: "RATIO", align: "right" },
    { header: "" },
    { header: "NOTE" },
  ];
  const num = (n: number) => n >= 100 ? String(Math.round(n)) : n.toFixed(n >= 10 ? 1 : 2);
  const rows = results.map((r) => [
    r.section,
    r.name,
    `${num(r.value)} ${r.unit}`,
    r.target === undefined ? "" : `${r.higherIsBetter ? "≥" : "<"} ${num(r.target)} ${r.unit}`,
    r.ratio === undefined ? "" : r.ratio.toFixed(2),
    r.ratio === undefined ? "" : r.ratio <= 1 ? "ok" : "SLOW",
    r.note ?? "",
  ]);
  return renderTable(columns, rows, { width, minFirst: 20 });
}

const USAGE = [
  "Usage: deno task bench [--only <section>]... [--quick]",
  "Measures the meter against the same work done directly and through mitmproxy (Debian's mitmproxy package),",
  "and prints one table: figure, target, ratio. --quick runs fewer samples and shorter loads.",
  `Sections, in order: ${Object.keys(SECTIONS).join(", ")}.`,
  "",
].join("\n");

/** Runs the sections named by `--only` (all when absent) and prints the table; returns the exit code. */
export async function benchMain(args: string[]): Promise<number> {
  const err = (s: string) => writeAllSync(Deno.stderr, s);
  let values: { only?: string[]; quick?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        only: { type: "string", multiple: true },
        quick: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    err(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    writeAllSync(Deno.stdout, USAGE);
    return 0;
  }
  const names = values.only ?? Object.keys(SECTIONS);
  const unknown = names.filter((n) => !(n in SECTIONS));
  if (unknown.length) {
    err(`bench: no section named ${unknown.join(", ")}; sections: ${Object.keys(SECTIONS).join(", ")}\n`);
    return 2;
  }
  const results: (BenchResult & { section: string })[] = [];
  for (const name of names) {
    err(`bench: ${name}…\n`);
    const section = await SECTIONS[name]();
    for (const r of await section.run({ quick: values.quick })) {
      results.push({ section: name, ...withRatio(r) });
    }
  }
  writeAllSync(Deno.stdout, renderResults(results));
  return 0;
}

if (import.meta.main) Deno.exitCode = await benchMain(Deno.args);
