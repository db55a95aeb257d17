/**
 * Fresh rates on the user's request: a price document (LiteLLM's `model_prices_and_context_window.json`, or
 * the `@pydantic/genai-prices` data format) read from a file or fetched from a URL, turned into rows for
 * `pricing_rates`. Only `pricing update` and `pricing import` call this; costing itself never goes online.
 *
 * @module
 */
import { basename } from "node:path";
import { parseLiteLlm } from "./litellm.ts";
import { normalizeModel } from "./names.ts";
import { exactIds, pricesAt, rowsOf } from "./package.ts";
import type { StoredRate } from "./store.ts";

/** Where `pricing update` fetches from when given nothing: the data package's published data file. */
export const DEFAULT_UPDATE_URL =
  "https://raw.githubusercontent.com/pydantic/genai-prices/main/prices/new_data/v2/data.json";

/** The two formats a price document may be in. */
export type PriceFormat = "litellm" | "genai-prices";

/** What a price document held. */
export interface PriceDocument {
  format: PriceFormat;
  rates: StoredRate[];
  /** Distinct models with at least one rate. */
  models: number;
  /** Entries that could not be read (a price that is not a number ≥ 0). */
  invalid: string[];
}

/** Package provider ids that differ from ours. */
const OUR_PROVIDER: Readonly<Record<string, string>> = { "x-ai": "xai" };

/**
 * Reads a parsed price document in either format: a JSON array of providers (or `{providers: [...]}`) is
 * the data package's; an object of model name → prices is LiteLLM's.
 *
 * @throws {TypeError} when it is neither.
 */
export function parsePriceDocument(doc: unknown, at = new Date()): PriceDocument {
  const providers = Array.isArray(doc)
    ? doc
    : isObject(doc) && Array.isArray(doc.providers)
    ? doc.providers
    : undefined;
  if (providers) return parseGenaiPrices(providers, at);
  if (!isObject(doc)) throw new TypeError("expected LiteLLM's price map or the genai-prices data file");
  const lite = parseLiteLlm(doc);
  return { format: "litellm", rates: lite.rates, models: lite.models, invalid: lite.invalid };
}

function parseGenaiPrices(providers: unknown[], at: Date): PriceDocument {
  const out: PriceDocument = { format: "genai-prices", rates: [], models: 0, invalid: [] };
  for (const p of providers) {
    if (!isObject(p) || typeof p.id !== "string" || !Array.isArray(p.models)) {
      throw new TypeError("a provider entry has no id or no models");
    }
    const provider = OUR_PROVIDER[p.id] ?? p.id;
    for (const m of p.models) {
      if (!isObject(m) || typeof m.id !== "string") continue;
      try {
        const prices = pricesAt(m.prices, at);
        const rows = prices && rowsOf(prices);
        if (!rows) continue;
        const ids = exactIds({ id: m.id, match: isObject(m.match) ? m.match : {} });
        for (const id of ids) {
          out.rates.push(...rows.map((r) => ({ provider, model: normalizeModel(provider, id), ...r })));
        }
        out.models += ids.length;
      } catch {
        out.invalid.push(`${p.id}/${m.id}`);
      }
    }
  }
  return out;
}

/** True when `location` is a URL rather than a path. */
export function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** The `rates_source` recorded for rates read from `location`: `update:<host>/<file>` or `import:<file>`. */
export function sourceFor(format: PriceFormat, location: string): string {
  const name = isUrl(location)
    ? `${new URL(location).host}/${basename(new URL(location).pathname)}`
    : basename(
      location,
    );
  return `${format}:${name}`;
}

/** Fetches `url` with the runtime's `fetch`, failing on a non-2xx answer. */
export async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status} ${res.statusText}`);
  }
  return await res.text();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
