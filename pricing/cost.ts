/**
 * Cost of one call in integer millicents (1 USD = 100,000), computed exactly: rates are decimals, the sum Σ
 * tokens × rate (plus web searches × the provider's fee) is an integer at a common scale, and it is rounded
 * once, half up, at the end. Pure: no I/O, never a network call.
 *
 * @module
 */
import type { Usage } from "../core/usage.ts";
import type { RateBook } from "./book.ts";
import type { RateField, RateRow } from "./rates.ts";
import { type Decimal, shiftDecimal } from "./decimal.ts";
import { FALLBACK, tierOf } from "./rates.ts";

/** The cost of a call and the rates that priced it; both null when the model has no (complete) rate. */
export interface CostResult {
  millicents: number | null;
  rates_source: string | null;
}

/** `rates_source` of a call the provider does not bill (Gemini `countTokens`). */
export const FREE_SOURCE = "free";

/** `rates_source` of an xAI call priced by the cost the provider reported (`cost_in_usd_ticks`). */
export const XAI_TICKS_SOURCE = "xai:cost_in_usd_ticks";

/** Millicents per USD and tokens per priced unit (rates are per million tokens). */
const MILLICENTS_PER_USD = 100_000n;
const TOKENS_PER_UNIT = 1_000_000n;
/** xAI: 10^10 ticks = 1 USD, so 10^5 ticks = 1 millicent. */
const TICKS_PER_MILLICENT = 100_000n;

/** The token columns priced as they are; input and output are priced less their audio and image parts. */
const COLUMNS: readonly [keyof Usage & `${string}_tokens`, RateField][] = [
  ["cache_read_tokens", "cache_read"],
  ["cache_write_5m_tokens", "cache_write_5m"],
  ["cache_write_1h_tokens", "cache_write_1h"],
  ["input_audio_tokens", "input_audio"],
  ["input_image_tokens", "input_image"],
  ["output_audio_tokens", "output_audio"],
  ["output_image_tokens", "output_image"],
];

// 10^k as BigInt for the scales rates have: computed once, not per call.
const POW10: readonly bigint[] = Array.from({ length: 40 }, (_, k) => 10n ** BigInt(k));
const pow10 = (k: number): bigint => POW10[k] ?? 10n ** BigInt(k);
/** 10^0 … 10^15: the powers a double holds exactly. */
const SAFE_POW10: readonly number[] = Array.from({ length: 16 }, (_, k) => 10 ** k);
const MAX_SAFE_UNITS = BigInt(Number.MAX_SAFE_INTEGER);

const UNPRICED: CostResult = { millicents: null, rates_source: null };

/**
 * The cost of one call. A free call costs 0; an xAI call that reported `cost_in_usd_ticks` costs that; else
 * Σ column × its rate, at the tier `service_tier` names (standard when the model has no such tier) and the
 * long-context row `prompt_tokens` reaches (the audio and image parts of input and output at their own rates, or
 * the plain ones where the model has none), plus the provider's fee for each web search. Null when the model is
 * unknown, or when a column with tokens has no published rate, or searches no fee (a partial price would be a
 * wrong one).
 */
export function costOf(provider: string, usage: Usage, rates: RateBook): CostResult {
  if (usage.free) return { millicents: 0, rates_source: FREE_SOURCE };
  if (
    usage.cost_in_usd_ticks !== undefined && Number.isFinite(usage.cost_in_usd_ticks) &&
    usage.cost_in_usd_ticks >= 0
  ) {
    const ticks = BigInt(Math.trunc(usage.cost_in_usd_ticks));
    return {
      millicents: Number(roundHalfUp(ticks, TICKS_PER_MILLICENT)),
      rates_source: XAI_TICKS_SOURCE,
    };
  }
  if (!usage.model) return UNPRICED;
  const model = rates.lookup(provider, usage.model);
  if (!model) return UNPRICED;
  const row = pickRow(model.rows, tierOf(usage.service_tier), usage.prompt_tokens);
  if (!row) return UNPRICED;
  const terms: Term[] = [];
  const add = (count: number, field: RateField): boolean => {
    if (count <= 0) return true;
    const fallback = FALLBACK[field];
    const rate = row.rates[field] ?? (fallback && row.rates[fallback]);
    if (!rate) return false;
    terms.push([count, rate]);
    return true;
  };
  const text = {
    input: usage.input_tokens - usage.input_audio_tokens - usage.input_image_tokens,
    output: usage.output_tokens - usage.output_audio_tokens - usage.output_image_tokens,
  };
  if (!add(text.input, "input") || !add(text.output, "output")) return UNPRICED;
  for (const [column, field] of COLUMNS) if (!add(usage[column], field)) return UNPRICED;
  if (usage.web_search_requests) {
    const fee = rates.searchFee(provider);
    if (!fee) return UNPRICED;
    // Per 1,000 searches to per million, the unit the token rates are in.
    terms.push([usage.web_search_requests, shiftDecimal(fee, 3)]);
  }
  let scale = 0;
  for (const [, rate] of terms) if (rate.scale > scale) scale = rate.scale;
  const cost = safeTotal(terms, scale) ?? exactTotal(terms, scale);
  return { millicents: cost, rates_source: model.source };
}

/** A count (tokens, searches) and its rate in USD per million. */
type Term = [count: number, rate: Decimal];

/**
 * Σ count × rate at `scale`, rounded to millicents, in doubles: exact while every product and sum stays an
 * integer below 2^53, which is every ordinary call. Undefined when it would not be; then BigInt does it.
 */
function safeTotal(terms: readonly Term[], scale: number): number | undefined {
  let total = 0;
  for (const [count, rate] of terms) {
    if (rate.units > MAX_SAFE_UNITS || scale - rate.scale >= SAFE_POW10.length) return undefined;
    total += count * Number(rate.units) * SAFE_POW10[scale - rate.scale];
    if (!Number.isSafeInteger(total)) return undefined;
  }
  // total / 10^scale USD per million → × 100,000 / 1,000,000 millicents, rounded half up.
  if (scale + 1 >= SAFE_POW10.length) return undefined;
  const divisor = SAFE_POW10[scale + 1];
  const twice = 2 * total + divisor;
  if (!Number.isSafeInteger(twice)) return undefined;
  // The remainder of two doubles is exact, so this divides an exact multiple: no rounding in the quotient.
  const m = 2 * divisor;
  return (twice - twice % m) / m;
}

/** Σ count × rate at `scale`, rounded to millicents, in BigInt: any size. */
function exactTotal(terms: readonly Term[], scale: number): number {
  let total = 0n;
  for (const [count, rate] of terms) total += BigInt(count) * rate.units * pow10(scale - rate.scale);
  const divisor = pow10(scale) * TOKENS_PER_UNIT / MILLICENTS_PER_USD;
  return Number(roundHalfUp(total, divisor));
}

/**
 * The row that bills a call: of the requested tier (standard when the model has none), the one with the
 * highest `min_prompt_tokens` the prompt reaches.
 */
export function pickRow(
  rows: readonly RateRow[],
  tier: RateRow["tier"],
  promptTokens: number,
): RateRow | undefined {
  let wanted = tier;
  if (tier !== "standard" && !rows.some((r) => r.tier === tier)) wanted = "standard";
  let best: RateRow | undefined;
  for (const r of rows) {
    if (r.tier !== wanted || r.min_prompt_tokens > promptTokens) continue;
    if (!best || r.min_prompt_tokens > best.min_prompt_tokens) best = r;
  }
  return best;
}

/** `n / d` rounded half up, for n ≥ 0 and d > 0. */
function roundHalfUp(n: bigint, d: bigint): bigint {
  return (2n * n + d) / (2n * d);
}
