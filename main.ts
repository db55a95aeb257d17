/**
 * Entry point of the `halton-meter` binary: parses argv, dispatches to a command of `cli/mod.ts`, and maps
 * errors to exit codes (SPEC §7): expected failures print a message and a hint, never a stack trace.
 *
 * @module
 */
import { COMMANDS } from "./cli/mod.ts";
import { type Io, parseInvocation, renderCommandHelp } from "./cli/command.ts";
import { renderGroupHelp, resolveCommand } from "./cli/dispatch.ts";
import { ExitCode, MeterError } from "./core/errors.ts";
import { versionLine } from "./core/version.ts";
import { defaultPaths } from "./core/paths.ts";
import { writeAllSync } from "./core/io.ts";

/** The program's `--help` text. */
export function programHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "halton-meter: meter every LLM API call on this machine, by project, to the millicent.",
    "",
    "Usage: halton-meter <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Options:",
    "  -h, --help     Show this help, or a command's help with 'halton-meter <command> --help'.",
    "  -V, --version  Show the version and build target.",
    "",
    "Exit codes: 0 ok, 1 failed, 2 usage, 3 unhealthy, 4 self-test failed.",
    "",
  ].join("\n");
}

/** Runs one command line with the given I/O and returns the exit code. */
export async function main(argv: string[], io: () => Io): Promise<number> {
  const [first, ...rest] = argv;
  const write = (s: string) => writeAllSync(Deno.stdout, s);
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    if (first === "help" && rest[0]) return main([rest[0], "--help"], io);
    write(programHelp());
    return first === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    write(versionLine() + "\n");
    return ExitCode.Ok;
  }
  try {
    const resolved = await resolveCommand(COMMANDS, argv);
    if (resolved.kind === "group") {
      write(renderGroupHelp(resolved.entry));
      return resolved.asked ? ExitCode.Ok : ExitCode.Usage;
    }
    const inv = parseInvocation(resolved.name, resolved.command, resolved.argv);
    if (inv.flags.help) {
      write(renderCommandHelp(resolved.name, resolved.summary, resolved.command));
      return ExitCode.Ok;
    }
    return await resolved.command.run(io(), inv);
  } catch (e) {
    if (e instanceof MeterError) {
      const err = (s: string) => writeAllSync(Deno.stderr, s);
      err(`halton-meter: ${e.message}\n`);
      if (e.hint) err(`hint: ${e.hint}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

/** The I/O of this process. */
export function processIo(): Io {
  const env = Deno.env.toObject();
  const tty = Deno.stdout.isTerminal();
  let columns = 100;
  if (tty) {
    try {
      columns = Deno.consoleSize().columns;
    } catch { /* not a console after all */ }
  }
  return {
    stdout: (s) => writeAllSync(Deno.stdout, s),
    stderr: (s) => writeAllSync(Deno.stderr, s),
    env,
    paths: defaultPaths(),
    columns,
    color: tty && !env.NO_COLOR,
  };
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args, processIo);
}
