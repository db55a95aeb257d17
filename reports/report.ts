/**
 * A report as data: the options it was asked with, its lines (one per group), the total, the previous
 * window's figures when asked for, and the models without a rate. Built from a read-only connection; the
 * renderers (text, CSV, JSON) only format it, and the read API serves the same data as `report --json`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { MeterError } from "../core/errors.ts";
import { toSlug } from "../core/slug.ts";
import {
  emptyTotals,
  type GroupBy,
  isEmpty,
  isPeriod,
  projectSlugs,
  reportGroups,
  sumGroups,
  type UnknownCostModel,
  unknownCostModels,
  type UsageTotals,
} from "./queries.ts";
import { previousWindow, type TimeWindow } from "./window.ts";

/** A report's options, parsed and checked. */
export interface ReportOptions {
  window: TimeWindow;
  by: GroupBy;
  project?: string;
  vsPrevious: boolean;
}

/** One group of the finished report, with the previous window's figures when asked for. */
export interface ReportLine extends UsageTotals {
  key: string | null;
  previous?: UsageTotals;
  /** By period: the key of the period it is compared with (the one in the same place a window earlier). */
  previousKey?: string;
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
}

/** `--project` names a project the database has never seen. Exit 1, with the nearest slug as a hint. */
export class UnknownProjectError extends MeterError {
  constructor(
    slug: string,
    known: readonly string[],
    nearest: (word: string, names: readonly string[]) => string | undefined,
  ) {
    const near = nearest(slug, known);
    super(`no project is named '${slug}'`, {
      hint: near
        ? `Did you mean '${near}'? 'halton-meter report --by project' lists the projects.`
        : "'halton-meter report --by project' lists the projects.",
    });
    this.name = "UnknownProjectError";
  }
}

/**
 * Runs the report's queries. With `vsPrevious`, each group carries its figures in the previous window:
 * by project, model or provider the same key (groups seen only then are added with zeros now); by period the
 * period in the same place (the 3rd day of this week beside the 3rd day of the last).
 *
 * @param nearest finds the slug nearest to an unknown `--project` for the error's hint.
 * @throws {UnknownProjectError} when `options.project` names no project of a non-empty database.
 */
export function buildReport(
  db: DatabaseSync | undefined,
  options: ReportOptions,
  nearest: (word: string, names: readonly string[]) => string | undefined = () => undefined,
): ReportData {
  // A project named as `run --project` names it (`Halton Web` is `halton-web`); a name that makes no slug is
  // kept as given, for the unknown-project error to name it.
  if (options.project !== undefined) {
    options = { ...options, project: toSlug(options.project) || options.project };
  }
  const data: ReportData = { options, lines: [], total: emptyTotals(), unknownModels: [], noData: true };
  if (options.vsPrevious) data.previous = { window: previousWindow(options.window), total: emptyTotals() };
  if (!db || isEmpty(db)) return data;
  data.noData = false;
  if (options.project !== undefined) {
    const slugs = projectSlugs(db);
    if (!slugs.includes(options.project)) throw new UnknownProjectError(options.project, slugs, nearest);
  }
  const q = { by: options.by, project: options.project };
  const current = reportGroups(db, { ...q, window: options.window });
  data.lines = current.map((g) => ({ ...g }));
  data.total = sumGroups(current);
  data.unknownModels = unknownCostModels(db, { ...q, window: options.window });
  if (data.previous) {
    const before = reportGroups(db, { ...q, window: data.previous.window });
    data.previous.total = sumGroups(before);
    if (isPeriod(options.by)) {
      // Windows of whole months can differ by a period (31 days against 30 are both one month); a line with
      // no counterpart compares with nothing.
      data.lines.forEach((line, i) => {
        const { key, ...totals } = before[i] ?? { key: undefined, ...emptyTotals() };
        line.previous = totals;
        if (key !== undefined && key !== null) line.previousKey = key;
      });
    } else {
      const byKey = new Map(data.lines.map((l) => [l.key, l]));
      for (const line of data.lines) line.previous = emptyTotals();
      for (const { key, ...totals } of before) {
        const line = byKey.get(key);
        if (line) line.previous = totals;
        else data.lines.push({ key, ...emptyTotals(), previous: totals });
      }
    }
  }
  return data;
}
