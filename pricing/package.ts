/**
 * The second source under the card: the price data of `@pydantic/genai-prices`, a maintained npm package
 * bundled with the binary (its data is compiled in; nothing here goes online). It is consulted by exact
 * model id only, for what the card, imports and overrides lack: the package matches ids by prefix, and a
 * prefix match can price one model at another's rate. The package is a large module, so it is loaded on
 * demand ({@linkcode loadPackage}) and a daemon starts without waiting for it.
 *
 * @module
 */
import { type Decimal, parseDecimal } from "./decimal.ts";
import { normalizeModel, normalizeProvider } from "./names.ts";
import type { ModelRates, RateField, RateRow, Rates } from "./rates.ts";

/** The pinned package version (deno.json): what `rates_source` records for a cost it priced. */
export const PACKAGE_VERSION = "0.1.8";

/** The `rates_source` of every cost priced from the package. */
export const PACKAGE_SOURCE = `genai-prices-${PACKAGE_VERSION}`;

/** The package's price keys → our columns (USD per million tokens in both). */
const KEYS: Readonly<Record<string, RateField>> = {
  input_mtok: "input",
  output_mtok: "output",
  cache_read_mtok: "cache_read",
  cache_write_mtok: "cache_write_5m",
  cache_write_1h_mtok: "cache_write_1h",
  input_audio_mtok: "input_audio",
  input_image_mtok: "input_image",
  output_audio_mtok: "output_audio",
  output_image_mtok: "output_image",
};

/** Our provider names whose id in the package differs; any other name is looked up as it is. */
const PACKAGE_PROVIDER: Readonly<Record<string, string>> = { xai: "x-ai" };

type Tiered = { base: number; tiers: { start: number; price: number }[] };
type Price = number | Tiered | undefined;
/** One set of a package model's prices, keyed by the package's price names. */
export type PriceMap = Record<string, Price>;
type Match = Record<string, unknown>;
interface PackageModel {
  id: string;
  match: Match;
  prices: unknown;
  deprecated?: boolean;
}

/**
 * The ids a package model answers to exactly: its own id and every `equals` in its match rule. Prefix,
 * suffix, substring and regex rules are not followed.
 */
export function exactIds(model: { id: string; match: Match }): string[] {
  const out = new Set([model.id.toLowerCase()]);
  const walk = (m: Match) => {
    if (typeof m.equals === "string") out.add(m.equals.toLowerCase());
    if (Array.isArray(m.or)) { for (const part of m.or) walk(part as Match); }
  };
  walk(model.match);
  return [...out];
}

/**
 * The prices in force at `at`: a model's prices may be a list of dated sets (the latest start date reached
 * wins); a set bound to a time of day is not used, since a call's cost must not depend on its hour here.
 */
export function pricesAt(prices: unknown, at: Date): PriceMap | undefined {
  if (isObject(prices)) return prices as PriceMap;
  if (!Array.isArray(prices)) return undefined;
  let best: { from: string; prices: PriceMap } | undefined;
  for (const p of prices) {
    if (!isObject(p) || !isObject(p.prices)) continue;
    const c = isObject(p.constraint) ? p.constraint : undefined;
    if (c && c.type !== "start_date") continue;
    const from = typeof c?.start_date === "string" ? c.start_date : "";
    if (from && new Date(`${from.slice(0, 10)}T00:00:00Z`) > at) continue;
    if (!best || from >= best.from) best = { from, prices: p.prices as PriceMap };
  }
  return best?.prices;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A package price set as our rows: the base rates, and one row per tier threshold (the package applies a
 * tier when the prompt has more than `start` tokens, so the row applies from `start + 1`). A column without
 * a tier of its own keeps its base rate in every row. Undefined when it prices no token column.
 */
export function rowsOf(prices: PriceMap): RateRow[] | undefined {
  for (const key of Object.keys(KEYS)) {
    const p = prices[key];
    if (p !== undefined && !isPrice(p)) throw new TypeError(`${key} is not a price`);
  }
  const base: Rates = {};
  const starts = new Set<number>();
  for (const [key, field] of Object.entries(KEYS)) {
    const p = prices[key];
    if (p === undefined) continue;
    base[field] = toDecimal(typeof p === "number" ? p : p.base);
    if (typeof p === "object") { for (const t of p.tiers) starts.add(t.start); }
  }
  if (!base.input && !base.output) return undefined;
  const rows: RateRow[] = [{ tier: "standard", min_prompt_tokens: 0, rates: base }];
  for (const start of [...starts].sort((a, b) => a - b)) {
    const rates: Rates = {};
    for (const [key, field] of Object.entries(KEYS)) {
      const p = prices[key];
      if (p === undefined) continue;
      if (typeof p === "number") {
        rates[field] = toDecimal(p);
        continue;
      }
      let price = p.base;
      for (const t of p.tiers) if (start >= t.start) price = t.price;
      rates[field] = toDecimal(price);
    }
    rows.push({ tier: "standard", min_prompt_tokens: start + 1, rates });
  }
  return rows;
}

function isPrice(p: unknown): p is Price {
  if (typeof p === "number") return Number.isFinite(p) && p >= 0;
  return isObject(p) && typeof p.base === "number" && Array.isArray(p.tiers) &&
    p.tiers.every((t) => isObject(t) && typeof t.start === "number" && typeof t.price === "number");
}

/** The package's price as an exact decimal: its JSON numbers are short decimals, so their shortest form is. */
function toDecimal(n: number): Decimal {
  return parseDecimal(String(n));
}

/** The package's provider finder, the one entry point used. */
type FindProvider = (options: { providerId: string }) => {
  id: string;
  models: unknown[];
  pricing_urls?: string[];
} | undefined;

/**
 * Every model of `provider` (our name) the package prices, one entry per exact id, as in force at `at`.
 * Empty when the package does not know the provider.
 */
function modelsOf(find: FindProvider, provider: string, at: Date): ModelRates[] {
  const ours = normalizeProvider(provider);
  const id = PACKAGE_PROVIDER[ours] ?? ours;
  let found;
  try {
    found = find({ providerId: id });
  } catch {
    return [];
  }
  // findProvider also matches providers loosely; only the one of exactly this id is wanted.
  if (!found || found.id !== id) return [];
  const out: ModelRates[] = [];
  for (const m of found.models as PackageModel[]) {
    const prices = pricesAt(m.prices, at);
    let rows;
    try {
      rows = prices && rowsOf(prices);
    } catch {
      continue;
    }
    if (!rows) continue;
    for (const model of exactIds(m)) {
      out.push({
        provider: ours,
        model: normalizeModel(ours, model),
        source: PACKAGE_SOURCE,
        url: found.pricing_urls?.[0],
        rows,
      });
    }
  }
  return out;
}

/** Exact-id lookups into the package, one provider read on first use and kept. */
export class PackageRates {
  readonly #find: FindProvider;
  readonly #at: Date;
  readonly #byProvider = new Map<string, Map<string, ModelRates>>();

  /** Rates as in force at `at` (the book's build time); see {@linkcode loadPackage}. */
  constructor(find: FindProvider, at = new Date()) {
    this.#find = find;
    this.#at = at;
  }

  /** Every model of `provider` the package prices by exact id. */
  models(provider: string): ModelRates[] {
    return [...this.#provider(provider).values()];
  }

  /** The package's rates for exactly `model` of `provider`, or undefined. */
  lookup(provider: string, model: string): ModelRates | undefined {
    return this.#provider(provider).get(normalizeModel(provider, model));
  }

  #provider(provider: string): Map<string, ModelRates> {
    const p = normalizeProvider(provider);
    let models = this.#byProvider.get(p);
    if (!models) {
      models = new Map(modelsOf(this.#find, p, this.#at).map((m) => [m.model, m]));
      this.#byProvider.set(p, models);
    }
    return models;
  }
}

/** Loads the bundled package and gives its rates as in force at `at`. */
export async function loadPackage(at = new Date()): Promise<PackageRates> {
  const { findProvider } = await import("@pydantic/genai-prices");
  return new PackageRates(findProvider as FindProvider, at);
}
