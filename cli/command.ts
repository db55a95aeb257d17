/**
 * The shape of a command and the parsing around it: flags declared once give `node:util` `parseArgs`
 * options, the `--help` text, and "did you mean" hints for typos.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Paths } from "../core/paths.ts";
import { UsageError } from "../core/errors.ts";

/** One flag of a command. */
export interface Flag {
  name: string;
  short?: string;
  /** `boolean` flags take no value; `string` flags take one (`--since 7d` or `--since=7d`). */
  type: "boolean" | "string";
  /** Placeholder in help, e.g. `D` in `--from D`. */
  value?: string;
  multiple?: boolean;
  description: string;
}

/** What a command can touch: its streams, environment and paths, all passed in so tests can run it in-process. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  paths: Paths;
  /** Terminal width for tables; 100 when not a terminal. */
  columns: number;
  /** ANSI colour allowed (a terminal and no `NO_COLOR`). */
  color: boolean;
}

/** The parsed command line handed to {@linkcode CommandSpec.run}. */
export interface Invocation {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Everything after a literal `--`. */
  rest: string[];
}

/** A command: its help and its body. The registry in `cli/mod.ts` holds its name and summary. */
export interface CommandSpec {
  /** Usage line after the program name, e.g. `report [--since 7d] [--by project|model|provider|day]`. */
  usage: string;
  /** A paragraph or two for `--help`. */
  description: string;
  flags: Flag[];
  /** Whether positional arguments are allowed (otherwise one is a usage error). */
  positionals?: boolean;
  examples?: string[];
  /** Runs the command; the number returned is the exit code. */
  run(io: Io, inv: Invocation): Promise<number> | number;
}

const HELP: Flag = { name: "help", short: "h", type: "boolean", description: "Show this help." };

/** Parses `argv` (the words after the command name) against `spec`. */
export function parseInvocation(command: string, spec: CommandSpec, argv: string[]): Invocation {
  const all = [...spec.flags, HELP];
  const dash = argv.indexOf("--");
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const rest = dash === -1 ? [] : argv.slice(dash + 1);
  const options = Object.fromEntries(
    // parseArgs rejects `short: undefined`, so absent properties must stay absent.
    all.map((
      f,
    ) => [f.name, {
      type: f.type,
      ...(f.short && { short: f.short }),
      ...(f.multiple && { multiple: true }),
    }]),
  );
  try {
    const { values, positionals } = parseArgs({ args: own, options, strict: true, allowPositionals: true });
    if (positionals.length && !spec.positionals && !values.help) {
      throw new UsageError(
        `${command}: unexpected argument '${positionals[0]}'`,
        `Run 'halton-meter ${command} --help' for usage.`,
      );
    }
    return { flags: values as Invocation["flags"], positionals, rest };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as { code?: string }).code;
    const message = (e as Error).message;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const bad = /'(-{1,2}[^']+)'/.exec(message)?.[1] ?? "";
      const names = all.map((f) => f.name);
      // One letter after one dash is an initial, not a word to spell-check: `-s` means `--since`, if any.
      const initial = /^-([a-z])$/i.exec(bad)?.[1].toLowerCase();
      const starting = initial === undefined ? [] : names.filter((n) => n.startsWith(initial));
      const near = initial === undefined
        ? closest(bad.replace(/^-+/, "").split("=")[0], names)
        : starting.length === 1
        ? starting[0]
        : undefined;
      throw new UsageError(
        `${command}: unknown flag ${bad}`,
        near
          ? `Did you mean --${near}? See 'halton-meter ${command} --help'.`
          : `See 'halton-meter ${command} --help'.`,
      );
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      // node:util's wording ("Option '-p, --project <value>' argument missing") names its own placeholder.
      const name = /--([a-z0-9-]+)/.exec(message)?.[1];
      const flag = all.find((f) => f.name === name);
      if (flag) {
        throw new UsageError(
          flag.type === "string"
            ? `${command}: --${flag.name} needs a value (--${flag.name} ${flag.value ?? "VALUE"})`
            : `${command}: --${flag.name} takes no value`,
          `See 'halton-meter ${command} --help'.`,
        );
      }
    }
    throw new UsageError(`${command}: ${message.split("\n")[0]}`, `See 'halton-meter ${command} --help'.`);
  }
}

/** Renders the `--help` text of one command. */
export function renderCommandHelp(command: string, summary: string, spec: CommandSpec): string {
  const flags = [...spec.flags, HELP];
  const left = flags.map((f) =>
    `${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.type === "string" ? ` ${f.value ?? "VALUE"}` : ""}`
  );
  const width = Math.max(...left.map((l) => l.length));
  const lines = [
    `halton-meter ${command}: ${summary}`,
    "",
    `Usage: halton-meter ${spec.usage}`,
    "",
    ...spec.description.split("\n").map((l) => l.trimEnd()),
    "",
    "Options:",
    ...flags.map((f, i) => `  ${left[i].padEnd(width)}  ${f.description}`),
  ];
  if (spec.examples?.length) lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  return lines.join("\n") + "\n";
}

/** The name in `candidates` nearest to `word` by edit distance, if it is near enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 2 ? 0.5 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** A string flag's value, or undefined. */
export function stringFlag(inv: Invocation, name: string): string | undefined {
  const v = inv.flags[name];
  return typeof v === "string" ? v : undefined;
}

/** A boolean flag's value. */
export function boolFlag(inv: Invocation, name: string): boolean {
  return inv.flags[name] === true;
}
