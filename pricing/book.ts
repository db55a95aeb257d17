/**
 * The rate book: the bundled card, the `pricing_rates` table and `[[pricing.override]]` from config merged
 * into one map, built once (at daemon start, after an import) so that pricing a call is a Map lookup.
 * Precedence per model: config override, then the table (imports and updates), then the card, then the
 * bundled price data package, which is asked only by exact model id.
 *
 * @module
 */
import type { PriceOverride } from "../core/config.ts";
import { type Decimal, parseDecimal } from "./decimal.ts";
import { modelCandidates, normalizeModel, normalizeProvider } from "./names.ts";
import type { PackageRates } from "./package.ts";
import { type ModelRates, type ProviderFees, RATE_FIELDS, type Rates } from "./rates.ts";

/** Model names whose lookup a book remembers. */
const MAX_RESOLVED = 4096;

/** The `rates_source` of costs priced from a config override. */
export const CONFIG_SOURCE = "config";

/** Where the rates of a book come from, lowest precedence first. */
export interface RateBookSources {
  /** The bundled card ({@linkcode bundledCard}). */
  card?: readonly ModelRates[];
  /** Rows of the `pricing_rates` table, grouped per model ({@linkcode readStoredRates}). */
  stored?: readonly ModelRates[];
  /** `[[pricing.override]]` entries of config. */
  overrides?: readonly PriceOverride[];
  /** The bundled price data package, consulted by exact id for models none of the above price. */
  package?: PackageRates;
  /** Each provider's web search fee ({@linkcode bundledFees}); a provider's searches without one are unpriced. */
  fees?: ProviderFees;
  /** Told once per model (per book) that no source priced it: the daemon then loads the package. */
  onMiss?: (provider: string, model: string) => void;
}

/** Looks up the rates of a model; cheap enough to call once per metered request. */
export class RateBook {
  readonly #byKey: Map<string, ModelRates>;
  readonly #fallback?: PackageRates;
  readonly #onMiss?: (provider: string, model: string) => void;
  // What each model name seen in calls resolved to (null: unpriced). A book never changes once built, and
  // calls name few models, so every call after the first of its model is one Map lookup.
  readonly #resolved = new Map<string, ModelRates | null>();
  readonly #fees: ProviderFees;

  /**
   * A book of `models`; `fallback` answers, by exact id, for a model none of them prices; `onMiss` hears of
   * each model nothing priced; `fees` are the providers' web search fees.
   */
  constructor(
    models: Iterable<ModelRates>,
    fallback?: PackageRates,
    onMiss?: (provider: string, model: string) => void,
    fees: ProviderFees = new Map(),
  ) {
    this.#fallback = fallback;
    this.#onMiss = onMiss;
    this.#fees = new Map([...fees].map(([p, fee]) => [normalizeProvider(p), fee]));
    this.#byKey = new Map();
    for (const m of models) this.#byKey.set(key(m.provider, m.model), m);
  }

  /**
   * The rates for `model` of `provider`: exact id first, then the id without its snapshot decoration, then
   * the package by exact id.
   */
  lookup(provider: string, model: string): ModelRates | undefined {
    const asked = `${provider}\n${model}`;
    const known = this.#resolved.get(asked);
    if (known !== undefined) return known ?? undefined;
    let found: ModelRates | null = null;
    for (const candidate of modelCandidates(provider, model)) {
      const hit = this.#byKey.get(key(provider, candidate));
      if (hit) {
        found = hit;
        break;
      }
    }
    found ??= this.#fallback?.lookup(provider, model) ?? null;
    if (!found) this.#onMiss?.(provider, model);
    // Bounded: a client inventing model names cannot grow the daemon without limit.
    if (this.#resolved.size >= MAX_RESOLVED) this.#resolved.clear();
    this.#resolved.set(asked, found);
    return found ?? undefined;
  }

  /** USD per 1,000 web searches of `provider`, when it bills them and the book knows the fee. */
  searchFee(provider: string): Decimal | undefined {
    return this.#fees.get(normalizeProvider(provider));
  }

  /** Every model priced by the card, the table or config (not the package), sorted by provider then model. */
  all(): ModelRates[] {
    return [...this.#byKey.values()].sort((a, b) =>
      a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model)
    );
  }

  /** How many models are priced. */
  get size(): number {
    return this.#byKey.size;
  }
}

/**
 * Builds a {@linkcode RateBook}. A stored model replaces the card's rows for that model whole; a config
 * override sets the standard rates it names and keeps the others of the model it overrides, and drops
 * that model's other tiers (a negotiated price is not the list price's batch discount).
 *
 * @throws {RangeError} when an override holds a price that is not a plain number ≥ 0.
 */
export function buildRateBook(sources: RateBookSources): RateBook {
  const merged = new Map<string, ModelRates>();
  for (const m of [...(sources.card ?? []), ...(sources.stored ?? [])]) {
    const provider = normalizeProvider(m.provider);
    const model = normalizeModel(provider, m.model);
    merged.set(key(provider, model), { ...m, provider, model });
  }
  for (const o of sources.overrides ?? []) {
    const provider = normalizeProvider(o.provider);
    const model = normalizeModel(provider, o.model);
    const base = merged.get(key(provider, model))?.rows.find((r) =>
      r.tier === "standard" && r.min_prompt_tokens === 0
    )?.rates;
    const rates: Rates = { ...base };
    for (const f of RATE_FIELDS) {
      const v = o[f];
      if (v !== undefined) rates[f] = parseDecimal(v);
    }
    merged.set(key(provider, model), {
      provider,
      model,
      source: CONFIG_SOURCE,
      rows: [{ tier: "standard", min_prompt_tokens: 0, rates }],
    });
  }
  return new RateBook(merged.values(), sources.package, sources.onMiss, sources.fees);
}

function key(provider: string, model: string): string {
  const p = normalizeProvider(provider);
  return `${p}\u0000${normalizeModel(p, model)}`;
}
