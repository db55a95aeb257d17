/**
 * The shape of a price: per model, rows of rates in USD per million tokens, each row for one service tier
 * and a prompt size from which it applies (long-context tiers).
 *
 * @module
 */
import type { Decimal } from "./decimal.ts";
import type { RateField } from "../core/usage.ts";

export { RATE_FIELDS, type RateField } from "../core/usage.ts";

/** The class whose rate a modality's part falls back to when the model has none of its own. */
export const FALLBACK: Readonly<Partial<Record<RateField, RateField>>> = {
  input_audio: "input",
  input_image: "input",
  output_audio: "output",
  output_image: "output",
};

/** USD per million tokens per column; a missing column has no published rate. */
export type Rates = Partial<Record<RateField, Decimal>>;

/** USD per 1,000 web searches, by provider: billed per search, whatever the model. */
export type ProviderFees = ReadonlyMap<string, Decimal>;

/** The service tiers a provider may bill a call under. */
export const TIERS = ["standard", "batch", "priority", "flex"] as const;

/** One service tier. */
export type Tier = typeof TIERS[number];

/** The rates of one tier from one prompt size up. */
export interface RateRow {
  tier: Tier;
  /** The row applies when the whole prompt has at least this many tokens. */
  min_prompt_tokens: number;
  rates: Rates;
}

/** Everything known about one model's price. */
export interface ModelRates {
  /** `anthropic`, `openai`, `google`, `xai`, or a configured host's provider name. */
  provider: string;
  model: string;
  /** What `rates_source` records for a cost priced from these rates: `bundled-2026-11-25`, `config`, … */
  source: string;
  /** The public page the rates were read from, when known. */
  url?: string;
  rows: RateRow[];
}

/** The `Tier` a provider's `service_tier` value bills at; anything unnamed is standard. */
export function tierOf(serviceTier: string | undefined): Tier {
  const t = serviceTier?.toLowerCase();
  return t === "batch" || t === "priority" || t === "flex" ? t : "standard";
}
