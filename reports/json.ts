/**
 * The JSON form of a report, printed by `report --json` and served by the read API's `/v1/report`: one
 * shape, so that a script gets the same figures from either (its fields are listed in `report --help`).
 *
 * @module
 */
import { changePercent, usdString } from "../core/money.ts";
import { TOTALS, type UsageTotals } from "./queries.ts";
import type { ReportData } from "./report.ts";

/**
 * Totals as JSON fields, for `report --json`, the read API's `/v1/report` and the page: every sum of
 * {@linkcode TOTALS}, `cost_usd` beside `cost_millicents`, the billed spend apart from the subscription's API
 * equivalent, and whether the cost is only a lower bound (some calls have no known cost or incomplete counts).
 */
export function totalsJson(t: UsageTotals): UsageTotals & TotalsExtras {
  const sums = Object.fromEntries(TOTALS.map(({ name }) => [name, t[name]])) as UsageTotals;
  return {
    ...sums,
    cost_usd: usdString(t.cost_millicents),
    billed_cost_millicents: t.cost_millicents - t.subscription_cost_millicents,
    cost_is_lower_bound: t.unknown_cost_requests > 0 || t.incomplete_requests > 0,
  };
}

/** What {@linkcode totalsJson} adds to the sums. */
export interface TotalsExtras {
  /** `cost_millicents` as an exact decimal string of USD. */
  cost_usd: string;
  /** Known cost of the calls not billed to a subscription: the spend. */
  billed_cost_millicents: number;
  /**
   * True when some calls have no known cost, or incomplete token counts (a stream cut short, a stream whose
   * usage never came): every cost figure is then a lower bound.
   */
  cost_is_lower_bound: boolean;
}

/** The change in cost in percent, one decimal; null when there was no cost before. */
export function costChange(before: UsageTotals, now: UsageTotals): number | null {
  const p = changePercent(before.cost_millicents, now.cost_millicents);
  return p === null ? null : Math.round(p * 10) / 10;
}

/** The report as a JSON value. */
export function reportDocument(data: ReportData) {
  const { options } = data;
  const w = options.window;
  return {
    window: { from: w.from, to: w.to, label: w.label, zone: w.zone },
    by: options.by,
    project: options.project ?? null,
    groups: data.lines.map((l) => ({
      key: l.key,
      ...totalsJson(l),
      ...(l.previous && {
        ...(l.previousKey !== undefined && { previous_key: l.previousKey }),
        previous: totalsJson(l.previous),
        cost_change_pct: costChange(l.previous, l),
      }),
    })),
    total: totalsJson(data.total),
    ...(data.previous && {
      previous: {
        window: { from: data.previous.window.from, to: data.previous.window.to },
        total: totalsJson(data.previous.total),
        cost_change_pct: costChange(data.previous.total, data.total),
      },
    }),
    unknown_cost_models: data.unknownModels,
  };
}

/** The `--json` text. */
export function reportJson(data: ReportData): string {
  return JSON.stringify(reportDocument(data), null, 2) + "\n";
}
