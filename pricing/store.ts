/**
 * The database side of pricing: reading and writing the `pricing_rates` table, listing models seen without
 * a cost, and re-costing stored rows from their token columns.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { type TokenCounts, tokenCounts, type Usage } from "../core/usage.ts";
import type { UsageRow } from "../store/rows.ts";
import type { RateBook } from "./book.ts";
import { costOf, FREE_SOURCE, XAI_TICKS_SOURCE } from "./cost.ts";
import { decimalToNumber, parseDecimal } from "./decimal.ts";
import { normalizeModel, normalizeProvider } from "./names.ts";
import {
  FALLBACK,
  type ModelRates,
  RATE_FIELDS,
  type RateField,
  type Rates,
  type Tier,
  TIERS,
} from "./rates.ts";

/** One row of `pricing_rates`. */
export interface StoredRate {
  provider: string;
  model: string;
  tier: Tier;
  min_prompt_tokens: number;
  rates: Rates;
}

type RateRecord = Record<RateField, number | null> & {
  provider: string;
  model: string;
  tier: string;
  min_prompt_tokens: number;
  source: string;
};

/** The `pricing_rates` table, grouped per model, for {@linkcode buildRateBook}. */
export function readStoredRates(db: DatabaseSync): ModelRates[] {
  const records = db.prepare(
    `SELECT provider, model, tier, min_prompt_tokens, ${RATE_FIELDS.join(", ")}, source
       FROM pricing_rates ORDER BY provider, model, created_at DESC, id DESC`,
  ).all() as unknown as RateRecord[];
  const byModel = new Map<string, ModelRates>();
  for (const r of records) {
    const provider = normalizeProvider(r.provider);
    const model = normalizeModel(provider, r.model);
    const k = `${provider}\u0000${model}`;
    let m = byModel.get(k);
    if (!m) {
      // Rows come newest first, so a model's source is that of its latest import or override.
      m = { provider, model, source: r.source, rows: [] };
      byModel.set(k, m);
    }
    const rates: Rates = {};
    for (const f of RATE_FIELDS) {
      const v = r[f];
      if (v !== null && v !== undefined) rates[f] = parseDecimal(v);
    }
    const tier = (TIERS as readonly string[]).includes(r.tier) ? r.tier as Tier : "standard";
    m.rows.push({ tier, min_prompt_tokens: r.min_prompt_tokens, rates });
  }
  return [...byModel.values()];
}

/**
 * Writes rates to `pricing_rates` in one transaction, replacing rows of the same provider, model, tier and
 * prompt threshold. Returns how many rows were written.
 */
export function writeStoredRates(
  db: DatabaseSync,
  rates: readonly StoredRate[],
  source: string,
  now = new Date(),
): number {
  const insert = db.prepare(
    `INSERT INTO pricing_rates (provider, model, tier, min_prompt_tokens, ${RATE_FIELDS.join(", ")}, source,
                                created_at)
     VALUES (?, ?, ?, ?, ${RATE_FIELDS.map(() => "?").join(", ")}, ?, ?)
     ON CONFLICT (provider, model, tier, min_prompt_tokens) DO UPDATE SET
       ${RATE_FIELDS.map((f) => `${f} = excluded.${f}`).join(", ")},
       source = excluded.source, created_at = excluded.created_at`,
  );
  const at = now.toISOString();
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const r of rates) {
      insert.run(
        normalizeProvider(r.provider),
        normalizeModel(r.provider, r.model),
        r.tier,
        r.min_prompt_tokens,
        ...RATE_FIELDS.map((f) => r.rates[f] ? decimalToNumber(r.rates[f]!) : null),
        source,
        at,
      );
    }
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
  return rates.length;
}

/** A model seen in `requests` with no cost. */
export interface UnknownModel {
  provider: string;
  /** Null when the response named no model. */
  model: string | null;
  requests: number;
  first_seen: string;
  last_seen: string;
  /** Token totals of those rows per priced column: a column with tokens needs a rate. */
  tokens: Record<RateField, number>;
  /** Web searches of those rows: they need the provider's search fee. */
  web_searches: number;
}

/** The SQL of the tokens each class prices: input and output less their audio and image parts. */
const PRICED_TOKENS: Readonly<Record<RateField, string>> = {
  input: "input_tokens - input_audio_tokens - input_image_tokens",
  output: "output_tokens - output_audio_tokens - output_image_tokens",
  cache_read: "cache_read_tokens",
  cache_write_5m: "cache_write_5m_tokens",
  cache_write_1h: "cache_write_1h_tokens",
  input_audio: "input_audio_tokens",
  input_image: "input_image_tokens",
  output_audio: "output_audio_tokens",
  output_image: "output_image_tokens",
};

/** Models of rows with a NULL cost, most frequent first. */
export function unknownModels(db: DatabaseSync): UnknownModel[] {
  const records = db.prepare(
    `SELECT provider, model, count(*) AS requests, min(requested_at) AS first_seen, max(requested_at) AS last_seen,
            ${RATE_FIELDS.map((f) => `sum(${PRICED_TOKENS[f]}) AS ${f}`).join(", ")},
            sum(web_search_requests) AS web_searches
       FROM requests WHERE cost_usd_minor_units IS NULL
      GROUP BY provider, model ORDER BY requests DESC, provider, model`,
  ).all() as unknown as (Omit<UnknownModel, "tokens"> & Record<RateField, number>)[];
  return records.map((r) => ({
    provider: r.provider,
    model: r.model,
    requests: r.requests,
    first_seen: r.first_seen,
    last_seen: r.last_seen,
    tokens: Object.fromEntries(RATE_FIELDS.map((f) => [f, r[f] ?? 0])) as Record<RateField, number>,
    web_searches: r.web_searches ?? 0,
  }));
}

/** What {@linkcode recost} did. */
export interface RecostResult {
  /** Rows looked at. */
  examined: number;
  /** Rows whose cost or rates source changed. */
  changed: number;
  /** Rows still without a cost. */
  unpriced: number;
}

/** Which rows {@linkcode recost} looks at. */
export interface RecostOptions {
  /** ISO-8601 time; only rows requested at or after it. */
  since?: string;
  /** Every row in range, not only those without a cost. */
  all?: boolean;
  /** Told the rows examined so far and the rows to examine, every {@linkcode RECOST_PROGRESS_EVERY} rows. */
  onProgress?: (examined: number, total: number) => void;
}

/** How many rows {@linkcode recost} examines between two progress calls. */
export const RECOST_PROGRESS_EVERY = 10_000;

/** The columns of a stored row that {@linkcode recost} reads. */
type RequestTokens = Pick<
  UsageRow,
  "id" | "provider" | "model" | keyof TokenCounts | "cost_usd_minor_units" | "rates_source"
>;

/**
 * Recomputes costs from the stored token columns, in one transaction. Rows the provider billed itself
 * (xAI ticks) or that were free keep their cost even with `all`: their tokens cannot reproduce it. The
 * service tier is not stored, so rows are re-costed at standard rates.
 */
export function recost(db: DatabaseSync, book: RateBook, options: RecostOptions = {}): RecostResult {
  const where = [
    options.all ? "" : "cost_usd_minor_units IS NULL",
    options.since ? "requested_at >= ?" : "",
    options.all
      ? `(rates_source IS NULL OR rates_source NOT IN ('${FREE_SOURCE}', '${XAI_TICKS_SOURCE}'))`
      : "",
  ].filter(Boolean);
  const select = db.prepare(
    `SELECT id, provider, model, input_tokens, output_tokens, thinking_tokens, cache_read_tokens,
            cache_write_5m_tokens, cache_write_1h_tokens, input_audio_tokens, input_image_tokens, output_audio_tokens,
            output_image_tokens, web_search_requests, cost_usd_minor_units, rates_source
       FROM requests ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`,
  );
  const update = db.prepare("UPDATE requests SET cost_usd_minor_units = ?, rates_source = ? WHERE id = ?");
  const result: RecostResult = { examined: 0, changed: 0, unpriced: 0 };
  db.exec("BEGIN IMMEDIATE");
  try {
    const rows = (options.since ? select.all(options.since) : select.all()) as unknown as RequestTokens[];
    for (const r of rows) {
      result.examined++;
      if (result.examined % RECOST_PROGRESS_EVERY === 0) options.onProgress?.(result.examined, rows.length);
      const cost = costOf(r.provider, usageOf(r), book);
      if (cost.millicents === null) {
        // A row that had a cost keeps it when no rate can price it any more.
        if (r.cost_usd_minor_units === null) result.unpriced++;
        continue;
      }
      if (cost.millicents === r.cost_usd_minor_units && cost.rates_source === r.rates_source) {
        continue;
      }
      update.run(cost.millicents, cost.rates_source, r.id);
      result.changed++;
    }
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
  return result;
}

/** Options of {@linkcode recostUnpriced}. */
export interface RecostUnpricedOptions {
  /** Rows per transaction: small, so a daemon writing calls on the same file never waits long. */
  batch?: number;
  /** Called between batches; the daemon yields to its event loop there. */
  between?: () => Promise<void>;
}

/**
 * Prices every stored call that has no cost yet and now has a rate, a batch at a time in id order (one pass
 * over the table, however many batches). Rows still without a rate are counted, not touched.
 */
export async function recostUnpriced(
  db: DatabaseSync,
  book: RateBook,
  options: RecostUnpricedOptions = {},
): Promise<RecostResult> {
  const batch = options.batch ?? 500;
  const select = db.prepare(
    `SELECT id, provider, model, input_tokens, output_tokens, thinking_tokens, cache_read_tokens,
            cache_write_5m_tokens, cache_write_1h_tokens, input_audio_tokens, input_image_tokens, output_audio_tokens,
            output_image_tokens, web_search_requests, cost_usd_minor_units, rates_source
       FROM requests WHERE cost_usd_minor_units IS NULL AND id > ? ORDER BY id LIMIT ?`,
  );
  const update = db.prepare(
    "UPDATE requests SET cost_usd_minor_units = ?, rates_source = ? WHERE id = ? AND cost_usd_minor_units IS NULL",
  );
  const total: RecostResult = { examined: 0, changed: 0, unpriced: 0 };
  let after = "";
  for (;;) {
    const rows = select.all(after, batch) as unknown as RequestTokens[];
    if (!rows.length) return total;
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const r of rows) {
        total.examined++;
        const cost = costOf(r.provider, usageOf(r), book);
        if (cost.millicents === null) {
          total.unpriced++;
          continue;
        }
        update.run(cost.millicents, cost.rates_source, r.id);
        total.changed++;
      }
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
    after = rows[rows.length - 1].id;
    if (rows.length < batch) return total;
    await options.between?.();
  }
}

/** A stored row's token columns as the usage {@linkcode costOf} prices. */
function usageOf(r: RequestTokens): Usage {
  return {
    model: r.model,
    tokens_complete: true,
    ...tokenCounts(r),
    prompt_tokens: r.input_tokens + r.cache_read_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens,
  };
}

/** An unpriced model with what it still lacks. */
export interface UnknownModelStatus extends UnknownModel {
  /** True when the rates in use now would price all of its rows (a recost is due). */
  priced_now: boolean;
  /**
   * `no rate`, `no cache_read rate`, `no web search fee`, `rate known now: run pricing recost`, `no model
   * named`.
   */
  status: string;
}

/** What each unpriced model lacks under `book`. */
export function describeUnknown(found: readonly UnknownModel[], book: RateBook): UnknownModelStatus[] {
  return found.map((u) => {
    const rates = u.model === null ? undefined : book.lookup(u.provider, u.model);
    const base = rates?.rows.find((r) => r.tier === "standard" && r.min_prompt_tokens === 0)?.rates;
    const missing = rates
      ? RATE_FIELDS.filter((f) => u.tokens[f] > 0 && !base?.[f] && !base?.[FALLBACK[f] ?? f])
      : [...RATE_FIELDS];
    const noFee = u.web_searches > 0 && !book.searchFee(u.provider);
    const status = u.model === null
      ? "no model named"
      : !rates
      ? "no rate"
      : missing.length
      ? `no ${missing.join(", ")} rate`
      : noFee
      ? "no web search fee"
      : "rate known now: run pricing recost";
    return { ...u, priced_now: !!rates && !missing.length && !noFee, status };
  });
}
