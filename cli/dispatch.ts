/**
 * Finding the command a command line names in the table of `cli/mod.ts`, subcommands included
 * (`pricing list`): one walk that main and the tests share, with "did you mean" for a typo at either level.
 *
 * @module
 */
import { closest, type CommandSpec } from "./command.ts";
import type { CommandEntry } from "./mod.ts";
import { UsageError } from "../core/errors.ts";

/** What a command line resolved to. */
export type Resolved =
  | { kind: "command"; name: string; summary: string; command: CommandSpec; argv: string[] }
  /** A command with subcommands named alone or with `--help`: show its list of subcommands. */
  | { kind: "group"; name: string; entry: CommandEntry; asked: boolean };

/**
 * Resolves `argv` (the first word being a command name) against `entries`.
 *
 * @throws {UsageError} for an unknown command or subcommand.
 */
export async function resolveCommand(entries: readonly CommandEntry[], argv: string[]): Promise<Resolved> {
  const [first, ...rest] = argv;
  const entry = entries.find((c) => c.name === first);
  if (!entry) {
    const near = first.startsWith("-") ? undefined : closest(first, entries.map((c) => c.name));
    throw new UsageError(
      first.startsWith("-") ? `unknown option ${first}` : `unknown command '${first}'`,
      near ? `Did you mean '${near}'? See 'halton-meter --help'.` : "See 'halton-meter --help'.",
    );
  }
  if (!entry.subcommands) {
    const { command } = await entry.load();
    return { kind: "command", name: entry.name, summary: entry.summary, command, argv: rest };
  }
  const [sub, ...subArgv] = rest;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    return { kind: "group", name: entry.name, entry, asked: sub !== undefined };
  }
  const child = entry.subcommands.find((c) => c.name === sub);
  if (!child) {
    const names = entry.subcommands.map((c) => c.name);
    const near = sub.startsWith("-") ? undefined : closest(sub, names);
    throw new UsageError(
      `${entry.name}: unknown subcommand '${sub}'`,
      near ? `Did you mean '${entry.name} ${near}'?` : `Use one of: ${names.join(", ")}.`,
    );
  }
  const { command } = await child.load();
  return {
    kind: "command",
    name: `${entry.name} ${child.name}`,
    summary: child.summary,
    command,
    argv: subArgv,
  };
}

/** The help of a command with subcommands: one line per subcommand. */
export function renderGroupHelp(entry: CommandEntry): string {
  const subs = entry.subcommands ?? [];
  const width = Math.max(...subs.map((c) => c.name.length));
  return [
    `halton-meter ${entry.name}: ${entry.summary}`,
    "",
    `Usage: halton-meter ${entry.name} <subcommand> [options]`,
    "",
    "Subcommands:",
    ...subs.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    `Run 'halton-meter ${entry.name} <subcommand> --help' for a subcommand's options.`,
    "",
  ].join("\n");
}
