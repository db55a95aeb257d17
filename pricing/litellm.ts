/**
 * Reading LiteLLM's public price map (`model_prices_and_context_window.json`): USD per token per model,
 * turned into rows for `pricing_rates` (USD per million tokens, exactly). Only the providers Halton Meter
 * meters are kept. Pure: the caller reads the file; nothing here touches the network.
 *
 * @module
 */
import { parseDecimal, shiftDecimal } from "./decimal.ts";
import type { RateField, Rates, Tier } from "./rates.ts";
import type { StoredRate } from "./store.ts";

/** LiteLLM's provider names → ours. */
const PROVIDERS: Record<string, string> = {
  anthropic: "anthropic",
  openai: "openai",
  "text-completion-openai": "openai",
  gemini: "google",
  xai: "xai",
};

/** LiteLLM field stems → our rate columns. */
const FIELDS: readonly [string, RateField][] = [
  ["input_cost_per_token", "input"],
  ["output_cost_per_token", "output"],
  ["cache_read_input_token_cost", "cache_read"],
  ["cache_creation_input_token_cost", "cache_write_5m"],
  ["input_cost_per_audio_token", "input_audio"],
  ["input_cost_per_image_token", "input_image"],
  ["output_cost_per_audio_token", "output_audio"],
  ["output_cost_per_image_token", "output_image"],
];

/** LiteLLM suffixes → our tiers. */
const TIER_SUFFIXES: readonly [string, Tier][] = [
  ["", "standard"],
  ["_batches", "batch"],
  ["_priority", "priority"],
  ["_flex", "flex"],
];

/** What {@linkcode parseLiteLlm} found. */
export interface LiteLlmImport {
  rates: StoredRate[];
  /** Distinct models with at least one rate. */
  models: number;
  /** Entries of a metered provider that could not be read (a price that is not a number ≥ 0). */
  invalid: string[];
  /** Entries of providers Halton Meter does not meter. */
  otherProviders: number;
}

/**
 * Turns a parsed LiteLLM price map into rate rows.
 *
 * @throws {TypeError} when `doc` is not a JSON object.
 */
export function parseLiteLlm(doc: unknown): LiteLlmImport {
  if (!isObject(doc)) throw new TypeError("expected a JSON object of model name → prices");
  const out: LiteLlmImport = { rates: [], models: 0, invalid: [], otherProviders: 0 };
  for (const [name, entry] of Object.entries(doc)) {
    if (!isObject(entry)) continue;
    const provider = PROVIDERS[String(entry.litellm_provider)];
    if (!provider) {
      if (name !== "sample_spec") out.otherProviders++;
      continue;
    }
    const prefix = `${entry.litellm_provider}/`;
    const model = name.startsWith(prefix) ? name.slice(prefix.length) : name;
    try {
      const rows = entryRates(entry);
      if (!rows.length) continue;
      out.rates.push(...rows.map((r) => ({ provider, model, ...r })));
      out.models++;
    } catch {
      out.invalid.push(name);
    }
  }
  return out;
}

function entryRates(entry: Record<string, unknown>): Omit<StoredRate, "provider" | "model">[] {
  const rows = new Map<string, { tier: Tier; min_prompt_tokens: number; rates: Rates }>();
  const put = (tier: Tier, min: number, field: RateField, value: unknown) => {
    if (value === undefined || value === null) return;
    if (typeof value !== "number" && typeof value !== "string") throw new TypeError("price is not a number");
    const k = `${tier}:${min}`;
    const row = rows.get(k) ?? { tier, min_prompt_tokens: min, rates: {} };
    // LiteLLM prices are USD per token; ours are per million tokens.
    row.rates[field] = shiftDecimal(parseDecimal(value), 6);
    rows.set(k, row);
  };
  for (const [stem, field] of FIELDS) {
    for (const [suffix, tier] of TIER_SUFFIXES) put(tier, 0, field, entry[stem + suffix]);
  }
  put("standard", 0, "cache_write_1h", entry.cache_creation_input_token_cost_above_1hr);
  for (const [k, v] of Object.entries(entry)) {
    const m = /^(.+)_above_(\d+)k_tokens$/.exec(k);
    const field = m && FIELDS.find(([stem]) => stem === m[1])?.[1];
    // "above 200k" means more than 200,000 prompt tokens: the row applies from 200,001.
    if (field) put("standard", Number(m[2]) * 1000 + 1, field, v);
  }
  return [...rows.values()].filter((r) => r.rates.input || r.rates.output);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
