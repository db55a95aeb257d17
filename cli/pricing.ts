/**
 * `halton-meter pricing list|unknown|recost|import`: show the rates in use, the models seen without one,
 * re-cost stored calls, and import LiteLLM's price map. Nothing here touches the network.
 *
 * @module
 */
import { basename } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { boolFlag, closest, type CommandSpec, type Invocation, type Io, stringFlag } from "./command.ts";
import { formatCount, renderTable } from "./format.ts";
import { loadConfig } from "../core/config.ts";
import { MeterError, UsageError } from "../core/errors.ts";
import { openStore } from "../store/open.ts";
import { parseSince as windowSince } from "../reports/window.ts";
import { machineZone } from "../reports/zone.ts";
import {
  buildRateBook,
  BUNDLED_SOURCE,
  bundledCard,
  CARD_DATE,
  type Decimal,
  decimalToNumber,
  formatDecimal,
  type ModelRates,
  normalizeProvider,
  parseLiteLlm,
  RATE_FIELDS,
  type RateBook,
  type RateField,
  readStoredRates,
  recost,
  unknownModels,
  writeStoredRates,
} from "../pricing/mod.ts";

const SUBCOMMANDS = ["list", "unknown", "recost", "import"] as const;

/** Flags each subcommand accepts (besides --help). */
const ALLOWED: Record<(typeof SUBCOMMANDS)[number], string[]> = {
  list: ["provider", "json"],
  unknown: ["json"],
  recost: ["since", "all", "json"],
  import: ["json"],
};

const COLUMN_HEADERS: Record<RateField, string> = {
  input: "INPUT",
  output: "OUTPUT",
  cache_read: "CACHE READ",
  cache_write_5m: "WRITE 5M",
  cache_write_1h: "WRITE 1H",
};

/** The `pricing` command. */
export const command: CommandSpec = {
  usage:
    "pricing list [--provider P] [--json] | unknown [--json] | recost [--since 30d] [--all] [--json] | " +
    "import FILE [--json]",
  description: [
    "Rates are USD per million tokens. The bundled card is dated; [[pricing.override]] in config.toml and",
    "imported rates take precedence over it. Costs are computed on this machine: pricing never goes online.",
    "",
    "  list      the rates in use, per model, tier and prompt size",
    "  unknown   models seen in requests without a cost, with counts and first/last seen",
    "  recost    recompute the cost of stored requests without one (or all with --all) from their tokens",
    "  import    read LiteLLM's model_prices_and_context_window.json into the database",
  ].join("\n"),
  flags: [
    {
      name: "provider",
      type: "string",
      value: "P",
      description: "list: only this provider (anthropic, openai, google, xai).",
    },
    {
      name: "since",
      type: "string",
      value: "SPAN",
      description: "recost: requests since 30d (default), 24h, 2w or a date YYYY-MM-DD.",
    },
    {
      name: "all",
      type: "boolean",
      description: "recost: every request in range, not only those without a cost.",
    },
    { name: "json", type: "boolean", description: "Print JSON instead of a table." },
  ],
  positionals: true,
  examples: [
    "halton-meter pricing list --provider anthropic",
    "halton-meter pricing unknown",
    "halton-meter pricing import ~/Downloads/model_prices_and_context_window.json",
    "halton-meter pricing recost --since 90d",
  ],
  run(io, inv) {
    const [sub, ...args] = inv.positionals;
    if (sub === undefined) {
      throw new UsageError("pricing: missing subcommand", `Use one of: ${SUBCOMMANDS.join(", ")}.`);
    }
    if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
      const near = closest(sub, SUBCOMMANDS);
      throw new UsageError(
        `pricing: unknown subcommand '${sub}'`,
        near ? `Did you mean 'pricing ${near}'?` : `Use one of: ${SUBCOMMANDS.join(", ")}.`,
      );
    }
    const name = sub as (typeof SUBCOMMANDS)[number];
    for (const [flag, value] of Object.entries(inv.flags)) {
      if (value !== undefined && flag !== "help" && !ALLOWED[name].includes(flag)) {
        throw new UsageError(
          `pricing ${name}: --${flag} does not apply here`,
          "See 'halton-meter pricing --help'.",
        );
      }
    }
    if (name !== "import" && args.length) {
      throw new UsageError(
        `pricing ${name}: unexpected argument '${args[0]}'`,
        "See 'halton-meter pricing --help'.",
      );
    }
    switch (name) {
      case "list":
        return list(io, inv);
      case "unknown":
        return unknown(io, inv);
      case "recost":
        return recostCommand(io, inv);
      case "import":
        return importCommand(io, inv, args);
    }
  },
};

function list(io: Io, inv: Invocation): number {
  const book = loadBook(io);
  const wanted = stringFlag(inv, "provider");
  const provider = wanted === undefined ? undefined : normalizeProvider(wanted);
  const models = book.all().filter((m) => provider === undefined || m.provider === provider);
  if (provider !== undefined && !models.length) {
    const known = [...new Set(book.all().map((m) => m.provider))].join(", ");
    throw new UsageError(
      `pricing list: no rates for provider '${wanted}'`,
      `Providers with rates: ${known}.`,
    );
  }
  if (boolFlag(inv, "json")) {
    io.stdout(
      JSON.stringify(
        { card_date: CARD_DATE, units: "USD per million tokens", models: models.map(modelJson) },
        null,
        2,
      ) + "\n",
    );
    return 0;
  }
  // The source column earns its width only when something other than the card set a price.
  const mixed = models.some((m) => m.source !== models[0]?.source);
  const rows = models.flatMap((m) =>
    m.rows.map((r) => [
      m.model,
      m.provider,
      r.tier,
      promptLabel(r.min_prompt_tokens),
      ...RATE_FIELDS.map((f) => price(r.rates[f])),
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
      ...RATE_FIELDS.map((f) => ({ header: COLUMN_HEADERS[f], align: "right" as const })),
      ...(mixed ? [{ header: "SOURCE" }] : []),
    ],
    rows,
    { width: io.columns, minFirst: 12 },
  ));
  return 0;
}

function unknown(io: Io, inv: Invocation): number {
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
    book = bookFrom(io, db);
  } finally {
    db.close();
  }
  const described = found.map((u) => {
    const rates = u.model === null ? undefined : book.lookup(u.provider, u.model);
    const base = rates?.rows.find((r) => r.tier === "standard" && r.min_prompt_tokens === 0)?.rates;
    const missing = rates ? RATE_FIELDS.filter((f) => u.tokens[f] > 0 && !base?.[f]) : [...RATE_FIELDS];
    const status = u.model === null
      ? "no model named"
      : !rates
      ? "no rate"
      : missing.length
      ? `no ${missing.join(", ")} rate`
      : "rate known now: run pricing recost";
    return { ...u, priced_now: !!rates && !missing.length, status };
  });
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
    "\nAdd a rate with [[pricing.override]] in config.toml or 'halton-meter pricing import FILE',\n" +
      "then run 'halton-meter pricing recost'.\n",
  );
  return 0;
}

function recostCommand(io: Io, inv: Invocation): number {
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
    result = recost(db, bookFrom(io, db), { since, all, onProgress });
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

function importCommand(io: Io, inv: Invocation, args: string[]): number {
  const file = args[0];
  if (file === undefined) {
    throw new UsageError(
      "pricing import: missing FILE",
      "Give the path of LiteLLM's model_prices_and_context_window.json.",
    );
  }
  if (args.length > 1) throw new UsageError(`pricing import: unexpected argument '${args[1]}'`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) {
    throw new UsageError(
      "pricing import: takes a file, not a URL: costing never touches the network",
      `Download it first, e.g. 'curl -fLo prices.json ${file}', then run 'halton-meter pricing import prices.json'.`,
    );
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    throw new MeterError(`pricing import: cannot read ${file}: ${(e as Error).message}`, {
      hint: "Check the path; download LiteLLM's model_prices_and_context_window.json first if needed.",
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new MeterError(`pricing import: ${file} is not JSON: ${(e as Error).message}`, {
      hint: "Expected LiteLLM's model_prices_and_context_window.json.",
    });
  }
  let parsed;
  try {
    parsed = parseLiteLlm(doc);
  } catch (e) {
    throw new MeterError(`pricing import: ${file}: ${(e as Error).message}`, {
      hint: "Expected LiteLLM's model_prices_and_context_window.json.",
    });
  }
  if (!parsed.models) {
    throw new MeterError(
      `pricing import: ${file} has no prices for Anthropic, OpenAI, Gemini or xAI models`,
      {
        hint: "Expected LiteLLM's model_prices_and_context_window.json.",
      },
    );
  }
  const source = `litellm:${basename(file)}`;
  const db = openStore(io.paths.db);
  let written: number;
  try {
    written = writeStoredRates(db, parsed.rates, source);
  } finally {
    db.close();
  }
  if (boolFlag(inv, "json")) {
    io.stdout(
      JSON.stringify(
        {
          source,
          models: parsed.models,
          rows: written,
          invalid: parsed.invalid,
          other_providers: parsed.otherProviders,
        },
        null,
        2,
      ) + "\n",
    );
    return 0;
  }
  io.stdout(`Imported ${written} rate rows for ${parsed.models} models as '${source}'.\n`);
  if (parsed.invalid.length) {
    io.stdout(
      `Skipped ${parsed.invalid.length} entries with unreadable prices: ${
        parsed.invalid.slice(0, 5).join(", ")
      }` +
        (parsed.invalid.length > 5 ? ", …\n" : "\n"),
    );
  }
  io.stdout(
    "Imported rates take precedence over the bundled card. The daemon uses them after 'halton-meter restart';\n" +
      "run 'halton-meter pricing recost' to price earlier requests.\n",
  );
  return 0;
}

/** The rate book of this machine: card, then stored rates (when there is a database), then config. */
function loadBook(io: Io): RateBook {
  const db = openExisting(io, true);
  try {
    return bookFrom(io, db);
  } finally {
    db?.close();
  }
}

function bookFrom(io: Io, db: DatabaseSync | undefined): RateBook {
  const { config, warnings } = loadConfig(io.paths.config);
  for (const w of warnings) io.stderr(`warning: ${w}\n`);
  try {
    return buildRateBook({
      card: bundledCard(),
      stored: db ? readStoredRates(db) : [],
      overrides: config.pricing.override,
    });
  } catch (e) {
    throw new MeterError(`a price in [[pricing.override]] cannot be used: ${(e as Error).message}`, {
      hint: `Fix ${io.paths.config}: prices are plain numbers of USD per million tokens.`,
    });
  }
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
