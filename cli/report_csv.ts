/**
 * `report --csv`: a header, then one line per group, without a total line so that the lines sum to the total.
 * With `--vs-previous` four columns more: the previous requests and cost, and the change.
 *
 * @module
 */
import { csvLine, usdString } from "./format.ts";
import { costChange, totalsJson } from "../reports/json.ts";
import type { ReportData } from "../reports/report.ts";

const CSV_FIELDS = [
  "requests",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "thinking_tokens",
  "cost_millicents",
  "cost_usd",
  "unknown_cost_requests",
  "incomplete_requests",
  "error_requests",
] as const;

/** The `--csv` text. */
export function reportCsv(data: ReportData): string {
  const prev = data.previous !== undefined;
  let out = csvLine([
    data.options.by,
    ...CSV_FIELDS,
    ...(prev
      ? ["previous_requests", "previous_cost_millicents", "previous_cost_usd", "cost_change_pct"]
      : []),
  ]);
  for (const l of data.lines) {
    const t = totalsJson(l);
    out += csvLine([
      l.key,
      ...CSV_FIELDS.map((f) => t[f]),
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
