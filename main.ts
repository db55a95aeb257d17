/**
 * Entry point of the `halton-meter` binary: parses argv, dispatches to a command of `cli/mod.ts`, and maps
 * errors to exit codes (SPEC §7): expected failures print a message and a hint, never a stack trace.
 *
 * @module
 */
import { COMMANDS } from "./cli/mod.ts";
import { closest, type Io, parseInvocation, renderCommandHelp } from "./cli/command.ts";
import { colorFor, paint } from "./cli/color.ts";
import { ExitCode, MeterError, UsageError } from "./core/errors.ts";
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
    const entry = COMMANDS.find((c) => c.name === first);
    if (!entry) {
      const near = first.startsWith("-") ? undefined : closest(first, COMMANDS.map((c) => c.name));
      throw new UsageError(
        first.startsWith("-") ? `unknown option ${first}` : `unknown command '${first}'`,
        near ? `Did you mean '${near}'? See 'halton-meter --help'.` : "See 'halton-meter --help'.",
      );
    }
    const { command } = await entry.load();
    const inv = parseInvocation(entry.name, command, rest);
    if (inv.flags.help) {
      write(renderCommandHelp(entry.name, entry.summary, command));
      return ExitCode.Ok;
    }
    const theIo = io();
    checkHome(theIo.paths.home);
    return await command.run(theIo, inv);
  } catch (e) {
    if (e instanceof MeterError) {
      const err = (s: string) => writeAllSync(Deno.stderr, s);
      const style = paint(colorFor(Deno.stderr, Deno.env.toObject()));
      err(`${style.error("halton-meter:")} ${e.message}\n`);
      if (e.hint) err(`${style.bold("hint:")} ${e.hint}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

/**
 * Refuses a meter home that exists but is not a folder (`HALTON_METER_HOME=/etc/passwd`), before a command
 * trips over it with a message about some file inside it.
 *
 * @throws {MeterError} naming the path and how to fix it.
 */
export function checkHome(home: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(home);
  } catch {
    // Missing is fine: the commands that need it create it.
    return;
  }
  if (!info.isDirectory) {
    throw new MeterError(`the meter's home ${home} is not a folder`, {
      hint:
        "Point HALTON_METER_HOME at a folder (it is created when missing), or unset it to use ~/.halton-meter.",
    });
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
    color: colorFor(Deno.stdout, env),
  };
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args, processIo);
}
