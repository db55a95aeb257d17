/**
 * `config.toml`: parsed with smol-toml, every key given a default (README.md, "config.toml"), unknown keys
 * warned about, and a bad value or a syntax error reported with the file, line and key and what was expected.
 * The file is only ever read: nothing here writes it.
 *
 * @module
 */
import { parse, TomlError } from "smol-toml";
import { ConfigError } from "./errors.ts";
import { judgeProxy, judgeResolve } from "./upstream.ts";
import { RATE_FIELDS, type RateField } from "./usage.ts";

/** A price override (USD per million tokens) from `[[pricing.override]]`, per priced class. */
export interface PriceOverride extends Partial<Record<RateField, number>> {
  provider: string;
  model: string;
}

/** The whole configuration, every key filled in. */
export interface Config {
  edge: { port: number };
  daemon: {
    intercept_port: number;
    api_port: number;
    flush_interval_ms: number;
    /** How long a stopping daemon lets requests and streams in flight finish. */
    drain_timeout_s: number;
    /** How long the daemon may fail its health check before the supervisor replaces it. */
    hang_restart_s: number;
    /** How often the running daemon checks the database for corruption (`PRAGMA quick_check`, off-thread). */
    integrity_check_s: number;
  };
  cors: { allow_origins: string[] };
  tagging: { default_project: string };
  upstream: { ca_file: string; proxy: string; resolve: Record<string, string> };
  /** Extra metered hosts: host name → the API shape it speaks (`openai`, `anthropic`, `gemini`). */
  hosts: Record<string, string>;
  pricing: { override: PriceOverride[] };
  logging: { level: LogLevelName; max_bytes: number; keep: number };
  /** `timezone`: the IANA zone whose days reports count; empty means the machine's. */
  report: { timezone: string };
}

/** Log levels, least to most severe. */
export type LogLevelName = "debug" | "info" | "warn" | "error";

/** A parsed config and what the parse noticed. */
export interface LoadedConfig {
  config: Config;
  /** Unknown keys and other things worth telling the user, each naming file and line. */
  warnings: string[];
  /** Dotted keys the user set explicitly (`edge.port`): a pinned port that is taken is an error. */
  explicit: Set<string>;
  /**
   * Only in lenient loading (the edge): each value that could not be used, said as the strict load would have
   * said it; its default was used instead. Empty when the whole file was usable.
   */
  ignored: string[];
}

/** How {@linkcode parseConfig} and {@linkcode loadConfig} treat a value they cannot use. */
export interface ParseOptions {
  /**
   * Keep going with the default in its place and list it in {@linkcode LoadedConfig.ignored} (a file that is
   * not TOML at all gives every default). The edge loads this way: it must start whatever the file says.
   */
  lenient?: boolean;
}

/** API shapes an extra host in `[hosts]` may speak. */
export const HOST_SHAPES = ["openai", "anthropic", "gemini"] as const;

type Check<T> = (value: unknown) => { value: T; warning?: string } | { expected: string };

const port: Check<number> = (v) =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535
    ? { value: v as number }
    : { expected: "a port number from 1 to 65535" };

const positiveInt: Check<number> = (v) =>
  Number.isInteger(v) && (v as number) > 0 ? { value: v as number } : { expected: "a whole number above 0" };

const str: Check<string> = (v) => typeof v === "string" ? { value: v } : { expected: "a string in quotes" };

const slug: Check<string> = (v) =>
  typeof v === "string" && /^[a-z0-9][a-z0-9_:/-]*$/.test(v)
    ? { value: v }
    : { expected: "a project slug: lowercase letters, digits and - _ : /" };

const stringList: Check<string[]> = (v) =>
  Array.isArray(v) && v.every((s) => typeof s === "string")
    ? { value: v as string[] }
    : { expected: 'a list of strings, e.g. ["http://localhost:3000"]' };

const stringMap: Check<Record<string, string>> = (v) =>
  isTable(v) && Object.values(v).every((s) => typeof s === "string")
    ? { value: { ...v } as Record<string, string> }
    : { expected: 'a table of strings, e.g. { "api.openai.com" = "127.0.0.1:9443" }' };

const proxyUrl: Check<string> = (v) => {
  if (typeof v !== "string") return { expected: "a string in quotes" };
  const r = judgeProxy(v);
  return "expected" in r ? r : { value: v, warning: r.warning };
};

const resolveMap: Check<Record<string, string>> = (v) => {
  const strings = stringMap(v);
  if ("expected" in strings) return strings;
  const r = judgeResolve(strings.value);
  return "expected" in r ? r : strings;
};

const level: Check<LogLevelName> = (v) =>
  v === "debug" || v === "info" || v === "warn" || v === "error"
    ? { value: v }
    : { expected: 'one of "debug", "info", "warn", "error"' };

const zoneName: Check<string> = (v) => {
  if (typeof v !== "string") return { expected: 'a time zone name in quotes, e.g. "Europe/Paris"' };
  if (v === "") return { value: v };
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: v });
    return { value: v };
  } catch {
    return { expected: 'an IANA time zone name such as "UTC", "Europe/Paris" or "Asia/Kolkata"' };
  }
};

const overrides: Check<PriceOverride[]> = (v) => {
  const expected =
    "an array of tables [[pricing.override]] with provider, model and prices in USD per million tokens";
  if (!Array.isArray(v)) return { expected };
  const out: PriceOverride[] = [];
  for (const item of v) {
    if (!isTable(item) || typeof item.provider !== "string" || typeof item.model !== "string") {
      return { expected };
    }
    const o: PriceOverride = { provider: item.provider, model: item.model };
    for (const f of RATE_FIELDS) {
      const n = item[f];
      if (n === undefined) continue;
      if (typeof n !== "number" || !(n >= 0)) {
        return { expected: `${f} as a number of USD per million tokens, ≥ 0` };
      }
      o[f] = n;
    }
    out.push(o);
  }
  return { value: out };
};

const hostShapes: Check<Record<string, string>> = (v) =>
  isTable(v) && Object.values(v).every((s) => (HOST_SHAPES as readonly unknown[]).includes(s))
    ? { value: { ...v } as Record<string, string> }
    : { expected: `a table of host = shape, shape one of ${HOST_SHAPES.map((s) => `"${s}"`).join(", ")}` };

/** Every known key: its check and default. Sections whose keys are free (`hosts`) are whole-table checks. */
const SCHEMA = {
  edge: { port: [port, 8081] },
  daemon: {
    intercept_port: [port, 8090],
    api_port: [port, 8765],
    flush_interval_ms: [positiveInt, 25],
    drain_timeout_s: [positiveInt, 600],
    hang_restart_s: [positiveInt, 15],
    integrity_check_s: [positiveInt, 3600],
  },
  cors: { allow_origins: [stringList, []] },
  tagging: { default_project: [slug, "misc"] },
  upstream: { ca_file: [str, ""], proxy: [proxyUrl, ""], resolve: [resolveMap, {}] },
  pricing: { override: [overrides, []] },
  logging: { level: [level, "info"], max_bytes: [positiveInt, 10 * 1024 * 1024], keep: [positiveInt, 5] },
  report: { timezone: [zoneName, ""] },
} as const;

/** The configuration used when there is no file. */
export function defaultConfig(): Config {
  return {
    edge: { port: 8081 },
    daemon: {
      intercept_port: 8090,
      api_port: 8765,
      flush_interval_ms: 25,
      drain_timeout_s: 600,
      hang_restart_s: 15,
      integrity_check_s: 3600,
    },
    cors: { allow_origins: [] },
    tagging: { default_project: "misc" },
    upstream: { ca_file: "", proxy: "", resolve: {} },
    hosts: {},
    pricing: { override: [] },
    logging: { level: "info", max_bytes: 10 * 1024 * 1024, keep: 5 },
    report: { timezone: "" },
  };
}

/**
 * The original Halton Meter's names for the ports, read so that its config keeps working: `[daemon]` key →
 * this project's section and key. `api_port` has the same name in both.
 */
const ORIGINAL_PORT_KEYS: Record<string, readonly [string, string]> = {
  edge_port: ["edge", "port"],
  internal_port: ["daemon", "intercept_port"],
};

/**
 * Parses the text of a config file. `file` is only used in messages.
 *
 * @throws {ConfigError} on a syntax error or a bad value, naming file, line and key (unless `lenient`).
 */
export function parseConfig(text: string, file: string, options: ParseOptions = {}): LoadedConfig {
  const ignored: string[] = [];
  const refuse = (error: ConfigError) => {
    if (!options.lenient) throw error;
    ignored.push(error.message);
  };
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
      refuse(new ConfigError(file, `not valid TOML: ${first}`, { line: e.line }));
      return { config: defaultConfig(), warnings: [], explicit: new Set(), ignored };
    }
    throw e;
  }
  const config = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  const warnings: string[] = [];
  const explicit = new Set<string>();
  const original: { key: string; value: number; line?: number }[] = [];
  for (const [section, body] of Object.entries(doc)) {
    if (section === "hosts") {
      const r = hostShapes(body);
      if ("expected" in r) {
        refuse(
          new ConfigError(file, `expected ${r.expected}`, {
            line: findLine(text, section),
            key: section,
          }),
        );
        continue;
      }
      config.hosts = r.value;
      explicit.add(section);
      continue;
    }
    const keys = (SCHEMA as Record<string, Record<string, readonly [Check<unknown>, unknown]>>)[section];
    if (!keys) {
      const what = isTable(body) ? `section [${section}]` : `key ${section}`;
      warnings.push(`${file}:${findLine(text, section) ?? "?"}: unknown ${what} is ignored`);
      continue;
    }
    if (!isTable(body)) {
      refuse(
        new ConfigError(file, `expected [${section}] to be a table`, {
          line: findLine(text, section),
          key: section,
        }),
      );
      continue;
    }
    for (const [key, value] of Object.entries(body)) {
      const spec = keys[key];
      const dotted = `${section}.${key}`;
      if (section === "daemon" && ORIGINAL_PORT_KEYS[key]) {
        const r = port(value);
        const line = findLine(text, section, key);
        if ("expected" in r) {
          warnings.push(`${file}:${line ?? "?"}: ${dotted} is ignored: expected ${r.expected}`);
        } else original.push({ key, value: r.value, line });
        continue;
      }
      if (!spec) {
        warnings.push(`${file}:${findLine(text, section, key) ?? "?"}: unknown key ${dotted} is ignored`);
        continue;
      }
      const r = spec[0](value);
      if ("expected" in r) {
        refuse(
          new ConfigError(file, `expected ${r.expected}, found ${describe(value)}`, {
            line: findLine(text, section, key),
            key: dotted,
          }),
        );
        continue;
      }
      if (r.warning) warnings.push(`${file}:${findLine(text, section, key) ?? "?"}: ${r.warning}`);
      config[section][key] = r.value;
      explicit.add(dotted);
    }
  }
  for (const o of original) {
    const [section, key] = ORIGINAL_PORT_KEYS[o.key];
    const ours = `${section}.${key}`;
    const where = `${file}:${o.line ?? "?"}`;
    if (explicit.has(ours)) {
      warnings.push(
        `${where}: daemon.${o.key} (the original Halton Meter's name) is ignored: ${ours} = ` +
          `${config[section][key]} is set too and wins`,
      );
      continue;
    }
    config[section][key] = o.value;
    explicit.add(ours);
    warnings.push(
      `${where}: daemon.${o.key} (the original Halton Meter's name) is used as ${ours} = ${o.value}`,
    );
  }
  return { config: config as unknown as Config, warnings, explicit, ignored };
}

/**
 * Reads and parses the config file; a missing file gives the defaults.
 *
 * @throws {ConfigError} when the file exists but cannot be read or parsed (unless `lenient`).
 */
export function loadConfig(file: string, options: ParseOptions = {}): LoadedConfig {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    const empty = (): LoadedConfig => ({
      config: defaultConfig(),
      warnings: [],
      explicit: new Set(),
      ignored: [],
    });
    if (e instanceof Deno.errors.NotFound) return empty();
    const error = new ConfigError(file, `cannot be read: ${(e as Error).message}`);
    if (!options.lenient) throw error;
    return { ...empty(), ignored: [error.message] };
  }
  return parseConfig(text, file, options);
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function describe(v: unknown): string {
  if (typeof v === "string") return `"${v.length > 40 ? v.slice(0, 40) + "…" : v}"`;
  if (Array.isArray(v)) return "a list";
  if (isTable(v)) return "a table";
  return String(v);
}

/**
 * The 1-based line where `[section]` or, inside it, `key = …` stands; keys in dotted or inline form are
 * found by their table's header line.
 */
export function findLine(text: string, section: string, key?: string): number | undefined {
  const lines = text.split("\n");
  let current = "";
  let headerLine: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?/.exec(line);
    if (header) {
      current = header[1].replace(/["']/g, "");
      if (current === section || current.startsWith(`${section}.`)) headerLine ??= i + 1;
      if (!key && current === section) return i + 1;
      continue;
    }
    const k = /^["']?([A-Za-z0-9_.-]+)["']?\s*=/.exec(line)?.[1];
    if (!k) continue;
    const full = current ? `${current}.${k}` : k;
    if (key ? full === `${section}.${key}` : full === section || full.startsWith(`${section}.`)) return i + 1;
  }
  return headerLine;
}
