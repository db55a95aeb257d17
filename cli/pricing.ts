/**
 * `halton-meter pricing list|unknown|recost|import|update`: one command spec per subcommand (the command
 * table dispatches them); the pricing itself lives in `pricing/`. Only `update` with a URL goes online, and
 * only because the user asked; costing never does.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { boolFlag, type CommandSpec, type Invocation, type Io, stringFlag } from "./command.ts";
import { formatCount, renderTable } from "./format.ts";
import { loadConfig } from "../core/config.ts";
import { MeterError, UsageError } from "../core/errors.ts";
import { openStore } from "../store/open.ts";
import { parseSince as windowSince } from "../reports/window.ts";
import { machineZone } from "../reports/zone.ts";
import {
  BUNDLED_SOURCE,
  bundledFees,
  CARD_DATE,
  type Decimal,
  decimalToNumber,
  DEFAULT_UPDATE_URL,
  describeUnknown,
  FALLBACK,
  fetchText,
  formatDecimal,
  isUrl,
  loadPackage,
  machineRateBook,
  type ModelRates,
  normalizeProvider,
  PACKAGE_SOURCE,
  type PackageRates,
  parsePriceDocument,
  type PriceDocument,
  RATE_FIELDS,
  type RateBook,
  type RateField,
  recost,
  recostUnpriced,
  sourceFor,
  unknownModels,
  writeStoredRates,
} from "../pricing/mod.ts";

const COLUMN_HEADERS: Record<RateField, string> = {
  input: "INPUT",
  output: "OUTPUT",
  cache_read: "CACHE READ",
  cache_write_5m: "WRITE 5M",
  cache_write_1h: "WRITE 1H",
  input_audio: "AUDIO IN",
  input_image: "IMAGE IN",
  output_audio: "AUDIO OUT",
  output_image: "IMAGE OUT",
};

const JSON_FLAG = { name: "json", type: "boolean", description: "Print JSON instead of a table." } as const;

/** `pricing list`. */
export const list: CommandSpec = {
  usage: "pricing list [--provider P] [--json]",
  description: [
    "The rates in use, USD per million tokens, per model, tier and prompt size. [[pricing.override]] in",
    "config.toml beats imported and updated rates, which beat the dated card bundled with the binary; models",
    `none of them price are looked up by exact id in the bundled data package (${PACKAGE_SOURCE}).`,
  ].join("\n"),
  flags: [
    {
      name: "provider",
      type: "string",
      value: "P",
      description: "Only this provider (anthropic, openai, google, xai).",
    },
    JSON_FLAG,
  ],
  examples: ["halton-meter pricing list --provider anthropic"],
  run: listRun,
};

/** `pricing unknown`. */
export const unknown: CommandSpec = {
  usage: "pricing unknown [--json]",
  description:
    "Models seen in requests without a cost, with counts, first and last seen, and what they lack.",
  flags: [JSON_FLAG],
  examples: ["halton-meter pricing unknown"],
  run: unknownRun,
};

/** `pricing recost`. */
export const recostCommand: CommandSpec = {
  usage: "pricing recost [--since 30d] [--all] [--json]",
  description: "Recompute the cost of stored requests without one (or all with --all) from their tokens.",
  flags: [
    {
      name: "since",
      type: "string",
      value: "SPAN",
      description: "Requests since 30d (default), 24h, 2w or a date YYYY-MM-DD.",
    },
    { name: "all", type: "boolean", description: "Every request in range, not only those without a cost." },
    JSON_FLAG,
  ],
  examples: ["halton-meter pricing recost --since 90d"],
  run: recostRun,
};
export { recostCommand as recost };

/** `pricing import`. */
export const importCommand: CommandSpec = {
  usage: "pricing import FILE [--json]",
  description: [
    "Read rates from a file into the database: LiteLLM's model_prices_and_context_window.json or the",
    "genai-prices data file. Calls stored without a cost are then priced from them.",
  ].join("\n"),
  flags: [JSON_FLAG],
  positionals: true,
  examples: ["halton-meter pricing import ~/Downloads/model_prices_and_context_window.json"],
  run: (io, inv) => importRun(io, inv, "import"),
};
export { importCommand as import };

/** `pricing update`. */
export const update: CommandSpec = {
  usage: "pricing update [FILE|URL] [--json]",
  description: [
    "Fetch fresh rates and store them (the only pricing command that goes online, and only when asked):",
    `from URL (LiteLLM's price map or the genai-prices data file), by default ${DEFAULT_UPDATE_URL};`,
    "or from a FILE. Calls stored without a cost are then priced from them.",
  ].join("\n"),
  flags: [JSON_FLAG],
  positionals: true,
  examples: [
    "halton-meter pricing update",
    "halton-meter pricing update https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json",
  ],
  run: (io, inv) => importRun(io, inv, "update"),
};

async function listRun(io: Io, inv: Invocation): Promise<number> {
  const pkg = await loadPackage();
  const book = await loadBook(io, pkg);
  const wanted = stringFlag(inv, "provider");
  const provider = wanted === undefined ? undefined : normalizeProvider(wanted);
  let models = book.all().filter((m) => provider === undefined || m.provider === provider);
  // A provider of an extra host (groq, openrouter, …) is priced by the data package alone: show its rates.
  if (provider !== undefined && !models.length) models = pkg.models(provider);
  if (provider !== undefined && !models.length) {
    const known = [...new Set(book.all().map((m) => m.provider))].join(", ");
    throw new UsageError(
      `pricing list: no rates for provider '${wanted}'`,
      `Providers with rates: ${known}, and those of the data package (${PACKAGE_SOURCE}) by their ids.`,
    );
  }
  const fees = [...bundledFees()].filter(([p]) => provider === undefined || p === provider);
  if (boolFlag(inv, "json")) {
    io.stdout(
      JSON.stringify(
        {
          card_date: CARD_DATE,
          units: "USD per million tokens",
          web_search_fee_units: "USD per 1,000 searches",
          web_search_fees: Object.fromEntries(fees.map(([p, fee]) => [p, decimalToNumber(fee)])),
          models: models.map(modelJson),
        },
        null,
        2,
      ) + "\n",
    );
    return 0;
  }
  // The source column earns its width only when something other than the card set a price, and an audio or
  // image column only when a model listed has a rate of that kind (else its part is billed as text).
  const mixed = models.some((m) => m.source !== models[0]?.source);
  const fields = RATE_FIELDS.filter((f) =>
    !FALLBACK[f] || models.some((m) => m.rows.some((r) => r.rates[f]))
  );
  const rows = models.flatMap((m) =>
    m.rows.map((r) => [
      m.model,
      m.provider,
      r.tier,
      promptLabel(r.min_prompt_tokens),
      ...fields.map((f) => price(r.rates[f])),
      ...(mixed ? [m.source] : []),
    ])
  );
  const from = mixed ? "" : `; all from ${models[0]?.source ?? BUNDLED_SOURCE}`;
  io.stdout(`Rates in USD per million tokens (overrides and imports win over the card${from}).\n\n`);
  io.stdout(renderTable(
    [
      { header: "MODEL" },
      { header: "PROVIDER" },
      { header: "TIER" },
      { header: "PROMPT" },
      ...fields.map((f) => ({ header: COLUMN_HEADERS[f], align: "right" as const })),
      ...(mixed ? [{ header: "SOURCE" }] : []),
    ],
    rows,
    { width: io.columns, minFirst: 12 },
  ));
  if (fees.length) {
    const each = fees.map(([p, fee]) => `${p} ${price(fee)}`).join(", ");
    io.stdout(`\nWeb searches, billed apart from tokens, per 1,000: ${each}.\n`);
  }
  return 0;
}

async function unknownRun(io: Io, inv: Invocation): Promise<number> {
  const json = boolFlag(inv, "json");
  const db = openExisting(io, true);
  if (!db) {
    io.stdout(json ? "[]\n" : "No requests recorded yet.\n");
    return 0;
  }
  let found;
  let book: RateBook;
  try {
    found = unknownModels(db);
    book = bookFrom(io, db, await loadPackage());
  } finally {
    db.close();
  }
  const described = describeUnknown(found, book);
  if (json) {
    io.stdout(JSON.stringify(described, null, 2) + "\n");
    return 0;
  }
  if (!described.length) {
    io.stdout("Every recorded request has a cost.\n");
    return 0;
  }
  io.stdout(renderTable(
    [
      { header: "MODEL" },
      { header: "PROVIDER" },
      { header: "REQUESTS", align: "right" },
      { header: "FIRST SEEN" },
      { header: "LAST SEEN" },
      { header: "STATUS" },
    ],
    described.map((u) => [
      u.model ?? "(none)",
      u.provider,
      String(u.requests),
      u.first_seen.slice(0, 16).replace("T", " "),
      u.last_seen.slice(0, 16).replace("T", " "),
      u.status,
    ]),
    { width: io.columns, minFirst: 12 },
  ));
  io.stdout(
    "\nAdd a rate with [[pricing.override]] in config.toml, 'halton-meter pricing update' or\n" +
      "'halton-meter pricing import FILE'; calls are priced from new rates as they appear.\n",
  );
  return 0;
}

async function recostRun(io: Io, inv: Invocation): Promise<number> {
  const json = boolFlag(inv, "json");
  const all = boolFlag(inv, "all");
  const span = stringFlag(inv, "since") ?? "30d";
  const since = parseSince(span, new Date());
  const db = openExisting(io, false);
  if (!db) {
    io.stdout(
      json
        ? JSON.stringify({ since, all, examined: 0, changed: 0, unpriced: 0 }) + "\n"
        : "No requests recorded yet.\n",
    );
    return 0;
  }
  let result;
  try {
    // Progress on stderr once the work has taken a second, then at most once a second.
    const started = performance.now();
    let shown = started;
    const onProgress = (done: number, total: number) => {
      const t = performance.now();
      if (t - shown < 1000) return;
      shown = t;
      io.stderr(`  ${formatCount(done)} of ${formatCount(total)} requests examined…\n`);
    };
    result = recost(db, bookFrom(io, db, await loadPackage()), { since, all, onProgress });
  } finally {
    db.close();
  }
  if (json) {
    io.stdout(JSON.stringify({ since, all, ...result }, null, 2) + "\n");
    return 0;
  }
  const scope = all ? "requests" : "requests without a cost";
  io.stdout(
    `Re-costed ${scope} since ${since.slice(0, 10)}: ${result.examined} examined, ${result.changed} changed` +
      (result.unpriced ? `, ${result.unpriced} still without a rate.\n` : ".\n"),
  );
  if (result.unpriced) io.stdout("See 'halton-meter pricing unknown' for the models that need one.\n");
  return 0;
}

async function importRun(io: Io, inv: Invocation, verb: "import" | "update"): Promise<number> {
  const [given, extra] = inv.positionals;
  if (extra !== undefined) throw new UsageError(`pricing ${verb}: unexpected argument '${extra}'`);
  if (verb === "import" && given === undefined) {
    throw new UsageError(
      "pricing import: missing FILE",
      "Give the path of LiteLLM's model_prices_and_context_window.json or the genai-prices data file.",
    );
  }
  const location = given ?? DEFAULT_UPDATE_URL;
  if (verb === "import" && isUrl(location)) {
    throw new UsageError(
      "pricing import: takes a file, not a URL: costing never touches the network",
      `Run 'halton-meter pricing update ${location}' to fetch it, or download it first (e.g. 'curl -fLo prices.json ${location}').`,
    );
  }
  const json = boolFlag(inv, "json");
  if (isUrl(location) && !json) io.stderr(`Fetching ${location} …\n`);
  const parsed = parseDocument(verb, location, await readLocation(verb, location));
  const source = sourceFor(parsed.format, location);
  const db = openStore(io.paths.db);
  let written: number;
  let priced;
  try {
    written = writeStoredRates(db, parsed.rates, source);
    const { config } = loadConfig(io.paths.config);
    priced = await recostUnpriced(
      db,
      machineRateBook(db, config.pricing.override, io.paths.config, await loadPackage()),
    );
  } finally {
    db.close();
  }
  if (json) {
    io.stdout(
      JSON.stringify(
        {
          source,
          format: parsed.format,
          models: parsed.models,
          rows: written,
          invalid: parsed.invalid,
          newly_priced: priced.changed,
          still_unpriced: priced.unpriced,
        },
        null,
        2,
      ) + "\n",
    );
    return 0;
  }
  const verbed = verb === "import" ? "Imported" : "Updated";
  io.stdout(`${verbed} ${written} rate rows for ${parsed.models} models as '${source}'.\n`);
  if (parsed.invalid.length) {
    io.stdout(
      `Skipped ${parsed.invalid.length} entries with unreadable prices: ${
        parsed.invalid.slice(0, 5).join(", ")
      }` +
        (parsed.invalid.length > 5 ? ", …\n" : "\n"),
    );
  }
  io.stdout(
    `Priced ${priced.changed} stored calls that had no cost; ${priced.unpriced} still have none` +
      (priced.unpriced ? " (see 'halton-meter pricing unknown').\n" : ".\n"),
  );
  io.stdout(
    "These rates take precedence over the bundled card; a running daemon picks them up within a minute.\n",
  );
  return 0;
}

async function readLocation(verb: string, location: string): Promise<string> {
  try {
    return isUrl(location) ? await fetchText(location) : await Deno.readTextFile(location);
  } catch (e) {
    throw new MeterError(`pricing ${verb}: cannot read ${location}: ${(e as Error).message}`, {
      hint: isUrl(location)
        ? "Check the URL and the network (HTTPS_PROXY is honoured); or download the file and give its path."
        : "Check the path.",
    });
  }
}

function parseDocument(verb: string, location: string, text: string): PriceDocument {
  const hint = "Expected LiteLLM's model_prices_and_context_window.json or the genai-prices data file.";
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new MeterError(`pricing ${verb}: ${location} is not JSON: ${(e as Error).message}`, { hint });
  }
  let parsed: PriceDocument;
  try {
    parsed = parsePriceDocument(doc);
  } catch (e) {
    throw new MeterError(`pricing ${verb}: ${location}: ${(e as Error).message}`, { hint });
  }
  if (!parsed.models) throw new MeterError(`pricing ${verb}: ${location} holds no usable prices`, { hint });
  return parsed;
}

/** The rate book of this machine: card, then stored rates (when there is a database), then config. */
function loadBook(io: Io, pkg: PackageRates): RateBook {
  const db = openExisting(io, true);
  try {
    return bookFrom(io, db, pkg);
  } finally {
    db?.close();
  }
}

function bookFrom(io: Io, db: DatabaseSync | undefined, pkg: PackageRates): RateBook {
  const { config, warnings } = loadConfig(io.paths.config);
  for (const w of warnings) io.stderr(`warning: ${w}\n`);
  return machineRateBook(db, config.pricing.override, io.paths.config, pkg);
}

/** The database when it exists (never created just to read it), else undefined. */
function openExisting(io: Io, readOnly: boolean): DatabaseSync | undefined {
  try {
    Deno.statSync(io.paths.db);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  return openStore(io.paths.db, { readOnly });
}

/**
 * `--since`: a span or a date, read as `report` reads it (`reports/window.ts`: `30d` is today and the 29 days
 * before it, from midnight in `zone`), as the ISO-8601 time `requested_at` is compared with.
 *
 * @throws {UsageError} for anything else, such as 2026-02-30.
 */
export function parseSince(value: string, now: Date, zone: string = machineZone()): string {
  return windowSince(value, now, zone, "pricing recost").from;
}

function modelJson(m: ModelRates) {
  return {
    provider: m.provider,
    model: m.model,
    source: m.source,
    url: m.url ?? null,
    rows: m.rows.map((r) => ({
      tier: r.tier,
      min_prompt_tokens: r.min_prompt_tokens,
      ...Object.fromEntries(RATE_FIELDS.map((f) => [f, r.rates[f] ? decimalToNumber(r.rates[f]!) : null])),
    })),
  };
}

function price(rate: Decimal | undefined): string {
  if (!rate) return "-";
  const [whole, fraction = ""] = formatDecimal(rate).split(".");
  return `$${whole}.${fraction.padEnd(2, "0")}`;
}

function promptLabel(min: number): string {
  if (!min) return "any";
  // Thresholds are stored as "at least N + 1"; providers publish them as "above N".
  return min % 1000 === 1 ? `>${(min - 1) / 1000}k` : `≥${min}`;
}
