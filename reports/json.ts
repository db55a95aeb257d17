/**
 * The JSON form of a report, printed by `report --json` and served by the read API's `/v1/report`: one
 * shape, so that a script gets the same figures from either (its fields are listed in `report --help`).
 *
 * @module
 */
import { changePercent, usdString } from "../core/money.ts";
import type { UsageTotals } from "./queries.ts";
import type { ReportData } from "./report.ts";

/** Totals as JSON fields, `cost_usd` next to `cost_millicents`. */
export function totalsJson(t: UsageTotals) {
  return {
    requests: t.requests,
    input_tokens: t.input_tokens,
    output_tokens: t.output_tokens,
    cache_read_tokens: t.cache_read_tokens,
    cache_write_tokens: t.cache_write_tokens,
    thinking_tokens: t.thinking_tokens,
    cost_millicents: t.cost_millicents,
    cost_usd: usdString(t.cost_millicents),
    unknown_cost_requests: t.unknown_cost_requests,
    incomplete_requests: t.incomplete_requests,
    error_requests: t.error_requests,
  };
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
