/**
 * Fills a database with realistic fake calls, for trying `report` and the dashboard and for the bench:
 * `deno task seed -- --rows N [--days D] [--home DIR] [--seed S] [--append]`.
 *
 * Rows are a deterministic function of the options (a seeded PRNG), spread over the window with more calls in
 * working hours than at night or on weekends, across several projects, providers and models, with cache and
 * thinking tokens, streams cut short, errors, subscription traffic and a model without a rate (NULL cost).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { MeterError, UsageError } from "../core/errors.ts";
import { defaultPaths } from "../core/paths.ts";
import { writeAllSync } from "../core/io.ts";
import { openStore } from "../store/open.ts";
import { uuid7 } from "../store/ids.ts";
import type { UsageRow } from "../store/rows.ts";
import type { ErrorClass } from "../core/usage.ts";
import { CallInserter } from "../store/insert.ts";

/** Options of {@linkcode seedRows} and {@linkcode seedDatabase}. */
export interface SeedOptions {
  rows: number;
  /** How many days back from `end` the calls spread over (default 30). */
  days?: number;
  /** PRNG seed: the same seed and options give the same rows (default 1). */
  seed?: number;
  /** The end of the window (default now). */
  end?: Date;
}

/** The rates the seed costs calls with: illustrative USD per million tokens, not the bundled rate card. */
interface SeedModel {
  provider: string;
  model: string;
  weight: number;
  host: string;
  path: string;
  /** input, output, cache read, cache write 5m, cache write 1h; null for a model without a rate. */
  rates: readonly [number, number, number, number, number] | null;
  reasoning?: boolean;
  embedding?: boolean;
}

const ANTHROPIC = { provider: "anthropic", host: "api.anthropic.com", path: "/v1/messages" } as const;
const OPENAI = { provider: "openai", host: "api.openai.com", path: "/v1/chat/completions" } as const;
const GOOGLE = { provider: "google", host: "generativelanguage.googleapis.com" } as const;

const MODELS: readonly SeedModel[] = [
  { ...ANTHROPIC, model: "claude-sonnet-4-5", weight: 30, rates: [3, 15, 0.3, 3.75, 6], reasoning: true },
  { ...ANTHROPIC, model: "claude-opus-4-1", weight: 5, rates: [15, 75, 1.5, 18.75, 30], reasoning: true },
  { ...ANTHROPIC, model: "claude-haiku-4-5", weight: 10, rates: [1, 5, 0.1, 1.25, 2] },
  {
    ...OPENAI,
    model: "gpt-5",
    weight: 14,
    rates: [1.25, 10, 0.125, 0, 0],
    reasoning: true,
    path: "/v1/responses",
  },
  { ...OPENAI, model: "gpt-5-mini", weight: 10, rates: [0.25, 2, 0.025, 0, 0] },
  { ...OPENAI, model: "gpt-4.1", weight: 5, rates: [2, 8, 0.5, 0, 0] },
  {
    ...OPENAI,
    model: "text-embedding-3-small",
    weight: 5,
    rates: [0.02, 0, 0, 0, 0],
    embedding: true,
    path: "/v1/embeddings",
  },
  {
    ...GOOGLE,
    model: "gemini-2.5-pro",
    weight: 8,
    rates: [1.25, 10, 0.31, 0, 0],
    reasoning: true,
    path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
  },
  {
    ...GOOGLE,
    model: "gemini-2.5-flash",
    weight: 8,
    rates: [0.3, 2.5, 0.075, 0, 0],
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
  },
  {
    provider: "xai",
    host: "api.x.ai",
    path: "/v1/chat/completions",
    model: "grok-4",
    weight: 3,
    rates: [3, 15, 0.75, 0, 0],
  },
  { ...OPENAI, model: "gpt-6-preview", weight: 2, rates: null },
];

const PROJECTS = [
  ["halton-web", 30],
  ["api-gateway", 20],
  ["data-pipeline", 15],
  ["mobile-app", 10],
  ["research/notebooks", 8],
  ["docker:ci-runner", 7],
  ["infra-tools", 5],
  ["misc", 5],
] as const;

const LAYERS = ["explicit", "env", "haltonrc", "ide", "git", "git-parent", "cwd", "default"] as const;
const CLIENTS = ["node", "python3", "claude", "codex", "cursor", "curl", "deno"] as const;
const ERRORS: readonly [number, ErrorClass, string | null][] = [
  [429, "rate_limit", "rate_limit_error"],
  [429, "rate_limit", "rate_limit_exceeded"],
  [500, "server_error", "api_error"],
  [529, "server_error", "overloaded_error"],
  [400, "bad_request", "invalid_request_error"],
  [401, "auth", "authentication_error"],
  [0, "timeout", null],
  [0, "network", null],
];

const DAY_MS = 86_400_000;
/** Relative call volume per UTC hour: a working day, quieter evenings, little at night. */
const HOURLY = [1, 1, 1, 1, 1, 2, 3, 6, 10, 12, 12, 11, 9, 11, 12, 12, 11, 9, 7, 6, 5, 4, 3, 2];

/** A small, fast, seedable PRNG (mulberry32): deterministic rows without `Math.random`. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weighted<T>(items: readonly T[], weight: (t: T) => number): (r: number) => T {
  const total = items.reduce((s, t) => s + weight(t), 0);
  let acc = 0;
  const cumulative = items.map((t) => (acc += weight(t) / total));
  return (r) => items[cumulative.findIndex((c) => r < c)] ?? items[items.length - 1];
}

/**
 * Timestamps for `rows` calls over `[start, start + days)`, in order, denser in working hours and on
 * weekdays: each row's place along the window goes through the inverse of the hourly volume curve.
 */
function* timestamps(rows: number, start: number, days: number, rand: () => number): Generator<number> {
  const hours = days * 24;
  const weights = Array.from({ length: hours }, (_, h) => {
    const at = new Date(start + h * 3_600_000);
    const weekend = at.getUTCDay() === 0 || at.getUTCDay() === 6;
    return HOURLY[at.getUTCHours()] * (weekend ? 0.3 : 1);
  });
  const total = weights.reduce((a, b) => a + b, 0);
  let bucket = 0;
  let before = 0;
  for (let i = 0; i < rows; i++) {
    const p = ((i + rand()) / rows) * total;
    while (bucket < hours - 1 && before + weights[bucket] <= p) before += weights[bucket++];
    const within = Math.min(1, (p - before) / weights[bucket]);
    yield start + (bucket + within) * 3_600_000;
  }
}

/** {@linkcode uuid7} with random bits from `rand`, so a seed gives the same ids every time. */
function seededUuid7(ms: number, rand: () => number): string {
  return uuid7(ms, Uint8Array.from({ length: 10 }, () => Math.floor(rand() * 256)));
}

/** Cost in integer millicents of the token columns at USD-per-million `rates`. */
function costOf(
  rates: NonNullable<SeedModel["rates"]>,
  r: Pick<
    UsageRow,
    "input_tokens" | "output_tokens" | "cache_read_tokens" | "cache_write_5m_tokens" | "cache_write_1h_tokens"
  >,
): number {
  const usd = r.input_tokens * rates[0] + r.output_tokens * rates[1] + r.cache_read_tokens * rates[2] +
    r.cache_write_5m_tokens * rates[3] + r.cache_write_1h_tokens * rates[4];
  // tokens × USD per million × 100,000 millicents per USD / 1,000,000 = tokens × rate / 10.
  return Math.round(usd / 10);
}

/** The rows of a seed, oldest first: a pure function of `options`. */
export function* seedRows(options: SeedOptions): Generator<UsageRow> {
  const days = options.days ?? 30;
  const rand = prng(options.seed ?? 1);
  const end = (options.end ?? new Date()).getTime();
  const pickModel = weighted(MODELS, (m) => m.weight);
  const pickProject = weighted(PROJECTS, (p) => p[1]);
  for (const ms of timestamps(options.rows, end - days * DAY_MS, days, rand)) {
    const m = pickModel(rand());
    const project = pickProject(rand())[0];
    const streamed = !m.embedding && rand() < 0.6;
    const failed = rand() < 0.02 ? ERRORS[Math.floor(rand() * ERRORS.length)] : undefined;
    const cut = !failed && streamed && rand() < 0.03;
    const size = rand() ** 3;
    const input = failed ? 0 : Math.floor(50 + size * 30_000);
    let cacheRead = 0, cw5 = 0, cw1 = 0, output = 0, thinking = 0;
    if (!failed && !m.embedding) {
      if (rand() < 0.45) cacheRead = Math.floor(rand() * 60_000);
      if (m.provider === "anthropic" && rand() < 0.2) cw5 = Math.floor(rand() * 8_000);
      if (m.provider === "anthropic" && rand() < 0.05) cw1 = Math.floor(rand() * 20_000);
      output = Math.floor(20 + rand() ** 2 * 4_000);
      if (m.reasoning && rand() < 0.5) {
        thinking = Math.floor(rand() * 6_000);
        output += thinking;
      }
      if (cut) {
        output = Math.floor(output * rand());
        thinking = Math.min(thinking, output);
      }
    }
    const counts = {
      input_tokens: input,
      output_tokens: output,
      cache_read_tokens: cacheRead,
      cache_write_5m_tokens: cw5,
      cache_write_1h_tokens: cw1,
      input_audio_tokens: 0,
      input_image_tokens: 0,
      output_audio_tokens: 0,
      output_image_tokens: 0,
      web_search_requests: 0,
    };
    const latency = failed ? Math.floor(50 + rand() * 2_000) : Math.floor(300 + output * (5 + rand() * 20));
    yield {
      id: seededUuid7(ms, rand),
      requested_at: new Date(ms).toISOString(),
      project,
      provider: m.provider,
      model: m.model,
      mode: thinking ? "thinking" : "standard",
      ...counts,
      thinking_tokens: thinking,
      cost_usd_minor_units: m.rates ? costOf(m.rates, counts) : null,
      rates_source: m.rates ? "seed" : null,
      latency_ms: latency,
      ttft_ms: streamed && !failed ? Math.floor(150 + rand() * 1_500) : null,
      tokens_complete: !cut,
      status: failed ? "error" : "success",
      billing: m.provider !== "google" && rand() < 0.08 ? "subscription" : "api",
      attribution_layer: LAYERS[Math.floor(rand() * LAYERS.length)],
      client_process: CLIENTS[Math.floor(rand() * CLIENTS.length)],
      host: m.host,
      path: m.path,
      http_status: failed ? (failed[0] || null) : 200,
      error_class: failed ? failed[1] : null,
      provider_error_code: failed ? failed[2] : null,
      request_bytes: Math.floor(input * 3.8 + 200),
      response_bytes: failed ? 180 : Math.floor(output * 4.2 + 400),
      streamed,
    };
  }
}

/** Rows per transaction: big enough to be fast, small enough that memory stays flat. */
const BATCH = 50_000;

/**
 * Writes the seed's rows to the database at `file` (created and migrated when missing), one transaction per
 * 50,000 rows, and returns how many rows it inserted. Projects are created by slug as the daemon would.
 *
 * @throws {MeterError} when the database already holds calls and `append` is not set: fake calls must never
 * mix into real data by accident.
 */
export function seedDatabase(
  file: string,
  options: SeedOptions & { append?: boolean; onProgress?: (done: number) => void },
): number {
  const db = openStore(file);
  try {
    const existing = (db.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n;
    if (existing && !options.append) {
      throw new MeterError(
        `${file} already holds ${existing} calls; seeding would mix fake calls into them`,
        {
          hint: "Pass --home with an empty folder, or --append to add to it anyway.",
        },
      );
    }
    return insertRows(db, options);
  } finally {
    db.close();
  }
}

function insertRows(
  db: DatabaseSync,
  options: SeedOptions & { onProgress?: (done: number) => void },
): number {
  // Seeding is a bulk load: a large page cache keeps index pages in memory between batches.
  db.exec("PRAGMA cache_size = -262144");
  const calls = new CallInserter(db);
  const findProject = db.prepare("SELECT id FROM projects WHERE slug = ?");
  const addProject = db.prepare(
    "INSERT INTO projects (id, slug, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING",
  );
  const idRand = prng((options.seed ?? 1) ^ 0x5eed);
  const projectIds = new Map<string, string>();
  const projectId = (slug: string, at: string) => {
    let id = projectIds.get(slug);
    if (id) return id;
    addProject.run(seededUuid7(Date.parse(at), idRand), slug, slug, at);
    id = (findProject.get(slug) as { id: string }).id;
    projectIds.set(slug, id);
    return id;
  };
  let inserted = 0;
  let done = 0;
  db.exec("BEGIN");
  try {
    for (const row of seedRows(options)) {
      if (calls.insert(row, projectId(row.project, row.requested_at))) inserted++;
      if (++done % BATCH === 0) {
        calls.beforeCommit();
        db.exec("COMMIT");
        options.onProgress?.(done);
        db.exec("BEGIN");
      }
    }
    calls.beforeCommit();
    db.exec("COMMIT");
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw e;
  }
  return inserted;
}

function positiveInt(flag: string, value: string | undefined, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n <= 0) {
    throw new UsageError(`seed: --${flag} expects a whole number above 0${value ? `, got '${value}'` : ""}`);
  }
  return n;
}

/** The command line: parses flags, seeds, reports on stderr. Returns the exit code. */
export function seedMain(args: string[]): number {
  const err = (s: string) => writeAllSync(Deno.stderr, s);
  try {
    let values;
    try {
      values = parseArgs({
        // `deno task seed -- --rows N` hands the script the `--` itself; it separates nothing here.
        args: args[0] === "--" ? args.slice(1) : args,
        strict: true,
        options: {
          rows: { type: "string" },
          days: { type: "string" },
          seed: { type: "string" },
          home: { type: "string" },
          append: { type: "boolean" },
        },
      }).values;
    } catch (e) {
      throw new UsageError(`seed: ${(e as Error).message.split(".")[0]}`);
    }
    const rows = positiveInt("rows", values.rows);
    const days = positiveInt("days", values.days, 30);
    const seed = positiveInt("seed", values.seed, 1);
    const file = values.home ? join(values.home, "db.sqlite") : defaultPaths().db;
    const started = performance.now();
    const inserted = seedDatabase(file, {
      rows,
      days,
      seed,
      append: values.append,
      onProgress: (n) => err(`  ${n.toLocaleString("en-US")} rows…\n`),
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    err(`seeded ${inserted.toLocaleString("en-US")} calls over ${days} days into ${file} in ${seconds} s\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof MeterError)) throw e;
    err(`seed: ${e.message.replace(/^seed: /, "")}\n`);
    if (e.hint) err(`hint: ${e.hint}\n`);
    else if (e instanceof UsageError) {
      err("usage: deno task seed -- --rows N [--days D] [--home DIR] [--seed S] [--append]\n");
    }
    return e.exitCode;
  }
}

if (import.meta.main) Deno.exitCode = seedMain(Deno.args);
