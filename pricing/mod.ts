/**
 * Pricing: the bundled rate card, the rate book that merges it with stored rates and config overrides,
 * and the exact cost of a call. Costing never makes a network call.
 *
 * ```ts
 * import { buildRateBook, bundledCard, bundledFees, costOf } from "./pricing/mod.ts";
 * const book = buildRateBook({
 *   card: bundledCard(),
 *   fees: bundledFees(),
 *   stored: readStoredRates(db),
 *   overrides: config.pricing.override,
 * });
 * const { millicents, rates_source } = costOf("anthropic", usage, book);
 * ```
 *
 * @module
 */
export { buildRateBook, CONFIG_SOURCE, RateBook, type RateBookSources } from "./book.ts";
export {
  BUNDLED_SOURCE,
  bundledCard,
  bundledFees,
  CARD_DATE,
  type CardCoverage,
  cardCoverage,
} from "./card.ts";
export { machineRateBook } from "./load.ts";
export {
  DEFAULT_UPDATE_URL,
  fetchText,
  isUrl,
  parsePriceDocument,
  type PriceDocument,
  type PriceFormat,
  sourceFor,
} from "./update.ts";
export { loadPackage, PACKAGE_SOURCE, PACKAGE_VERSION, PackageRates } from "./package.ts";
export { costOf, type CostResult, FREE_SOURCE, pickRow, XAI_TICKS_SOURCE } from "./cost.ts";
export { type Decimal, decimalToNumber, formatDecimal, parseDecimal } from "./decimal.ts";
export { type LiteLlmImport, parseLiteLlm } from "./litellm.ts";
export { modelCandidates, normalizeModel, normalizeProvider } from "./names.ts";
export {
  FALLBACK,
  type ModelRates,
  type ProviderFees,
  RATE_FIELDS,
  type RateField,
  type RateRow,
  type Rates,
  type Tier,
  tierOf,
} from "./rates.ts";
export {
  describeUnknown,
  readStoredRates,
  recost,
  type RecostOptions,
  type RecostResult,
  recostUnpriced,
  type RecostUnpricedOptions,
  type StoredRate,
  type UnknownModel,
  unknownModels,
  type UnknownModelStatus,
  writeStoredRates,
} from "./store.ts";
