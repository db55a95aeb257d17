/**
 * `report --csv`: a header, then one line per group, without a total line so that the lines sum to the total.
 * With `--vs-previous` four columns more: the previous requests and cost, and the change.
 *
 * @module
 */
import { csvLine, usdString } from "./format.ts";
import { costChange, totalsJson } from "../reports/json.ts";
import { TOTALS } from "../reports/queries.ts";
import type { ReportData } from "../reports/report.ts";

const SUMS = TOTALS.map((t) => t.name);
const AFTER_COST = SUMS.indexOf("cost_millicents") + 1;

/** The columns of totals, in order: every sum of {@linkcode TOTALS}, the cost in USD and billed beside it. */
const CSV_FIELDS: readonly (keyof ReturnType<typeof totalsJson>)[] = [
  ...SUMS.slice(0, AFTER_COST),
  "cost_usd",
  "billed_cost_millicents",
  ...SUMS.slice(AFTER_COST),
  "cost_is_lower_bound",
];

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
