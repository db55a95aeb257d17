/**
 * The bundled rate card (`card.json`, compiled into the binary): read once into {@linkcode ModelRates}.
 * Batch, flex and priority tiers are written in the card either as explicit rates or as one multiplier of
 * the standard rates (long-context rows included), the way the providers publish them. Each provider names
 * the token classes it bills (`bills`); a model that does not bill one of them says so (`not_billed`), so a
 * test can tell a missing rate from a class the model has none of. `aliases` are other ids of the same model
 * (`claude-opus-4-0` for `claude-opus-4`); `via` names where the figures were read when not from the page.
 * A provider's `fees` are what it bills per use of a server tool, whatever the model: its web search.
 *
 * @module
 */
import card from "./card.json" with { type: "json" };
import { type Decimal, mulDecimal, parseDecimal } from "./decimal.ts";
import { RATE_FIELDS, type RateField, type RateRow, type Rates, type Tier } from "./rates.ts";
import type { ModelRates, ProviderFees } from "./rates.ts";

/** The day the card's prices were read from the providers' pages. */
export const CARD_DATE: string = card.date;

/** The `rates_source` of every cost priced from the card. */
export const BUNDLED_SOURCE = `bundled-${card.date}`;

type RawRates = Partial<Record<(typeof RATE_FIELDS)[number], string>>;

interface RawModel extends RawRates {
  model: string;
  aliases?: string[];
  source?: string;
  via?: string;
  not_billed?: string[];
  long?: RawRates & { above: number };
  batch?: string | RawRates;
  flex?: string | RawRates;
  priority?: string | RawRates;
}

let parsed: ModelRates[] | undefined;

/** Every model of the bundled card (an alias is a model of its own). Parsed on first use; the result is shared, so callers must not mutate it. */
export function bundledCard(): readonly ModelRates[] {
  parsed ??= Object.entries(card.providers).flatMap(([provider, body]) =>
    (body.models as RawModel[]).flatMap((m) => {
      const rates = parseModel(provider, body.source, m);
      return [rates, ...(m.aliases ?? []).map((model) => ({ ...rates, model }))];
    })
  );
  return parsed;
}

let fees: ProviderFees | undefined;

/** The web search fee of each provider that bills one, from the card. Parsed on first use. */
export function bundledFees(): ProviderFees {
  fees ??= new Map(
    Object.entries(card.providers).flatMap(([provider, body]) => {
      const fee = (body as { fees?: { web_search?: string } }).fees?.web_search;
      return fee === undefined ? [] : [[provider, parseDecimal(fee)]];
    }),
  );
  return fees;
}

/** What the card says a model must have a rate for. */
export interface CardCoverage {
  provider: string;
  model: string;
  /** The classes the provider bills, less those this model declares it does not. */
  billed: RateField[];
  /** Where the figures were read when not from the provider's page. */
  via?: string;
}

/** The token classes each carded model is billed for, for the card's completeness test. */
export function cardCoverage(): CardCoverage[] {
  return Object.entries(card.providers).flatMap(([provider, body]) =>
    (body.models as RawModel[]).map((m) => ({
      provider,
      model: m.model,
      billed: (body.bills as RateField[]).filter((f) => !m.not_billed?.includes(f)),
      ...(m.via && { via: m.via }),
    }))
  );
}

function parseModel(provider: string, providerUrl: string, m: RawModel): ModelRates {
  const standard: RateRow[] = [{ tier: "standard", min_prompt_tokens: 0, rates: parseRates(m) }];
  if (m.long) {
    // Providers publish these tiers as "above N tokens"; a row applies from N + 1 on.
    standard.push({ tier: "standard", min_prompt_tokens: m.long.above + 1, rates: parseRates(m.long) });
  }
  const rows = [...standard];
  for (const tier of ["batch", "flex", "priority"] as const) {
    const spec = m[tier];
    if (spec === undefined) continue;
    if (typeof spec === "string") {
      const factor = parseDecimal(spec);
      for (const row of standard) rows.push({ ...row, tier, rates: scale(row.rates, factor) });
    } else {
      rows.push({ tier: tier as Tier, min_prompt_tokens: 0, rates: parseRates(spec) });
    }
  }
  return { provider, model: m.model, source: BUNDLED_SOURCE, url: m.source ?? providerUrl, rows };
}

function parseRates(raw: RawRates): Rates {
  const out: Rates = {};
  for (const f of RATE_FIELDS) {
    const v = raw[f];
    if (v !== undefined) out[f] = parseDecimal(v);
  }
  return out;
}

function scale(rates: Rates, factor: Decimal): Rates {
  const out: Rates = {};
  for (const f of RATE_FIELDS) {
    const v = rates[f];
    if (v) out[f] = mulDecimal(v, factor);
  }
  return out;
}
