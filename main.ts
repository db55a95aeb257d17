/**
 * Entry point of the `halton-meter` binary: parses argv, dispatches to a command of `cli/mod.ts`, and maps
 * errors to exit codes (README.md, "Commands"): expected failures print a message and a hint, never a stack
 * trace.
 *
 * @module
 */
import { COMMANDS } from "./cli/mod.ts";
import { type Io, parseInvocation, renderCommandHelp } from "./cli/command.ts";
import { renderGroupHelp, resolveCommand } from "./cli/dispatch.ts";
import { colorFor, paint } from "./cli/color.ts";
import { ExitCode, MeterError } from "./core/errors.ts";
import { versionLine } from "./core/version.ts";
import { currentChannel } from "./core/channel.ts";
import { assertUsableHome, defaultPaths } from "./core/paths.ts";
import { damagedDatabaseError } from "./store/failure.ts";
import { writeAllSync } from "./core/io.ts";
import { writeFailure } from "./core/writable.ts";
import {
  CHECKPOINT_WORKER,
  INTEGRITY_WORKER,
  READ_API_WORKER,
  registerEntry,
  threadName,
} from "./core/entry.ts";

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
    write(versionLine(`from ${currentChannel().name}`) + "\n");
    return ExitCode.Ok;
  }
  let dbFile = "db.sqlite";
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
    const commandIo = io();
    dbFile = commandIo.paths.db;
    assertUsableHome(commandIo.paths.home);
    return await resolved.command.run(commandIo, inv);
  } catch (caught) {
    // Whoever read the output went away (`| head`): there is no one left to tell anything.
    if (caught instanceof Deno.errors.BrokenPipe) return ExitCode.Ok;
    // A damaged database, or a file that cannot be written, can surface in any command: name it rather than
    // print a stack trace.
    const unwritable = writeFailure(caught);
    const e = damagedDatabaseError(caught, dbFile) ??
      (unwritable ? new MeterError(unwritable.message, { hint: unwritable.hint }) : caught);
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

registerEntry(import.meta.url);
if (threadName() === READ_API_WORKER) {
  (await import("./daemon/api/read/worker.ts")).serveReadApi();
} else if (threadName() === INTEGRITY_WORKER) {
  (await import("./store/integrity_worker.ts")).serveIntegrityCheck();
} else if (threadName() === CHECKPOINT_WORKER) {
  (await import("./store/checkpoint_worker.ts")).serveCheckpoints();
} else if (import.meta.main) {
  Deno.exitCode = await main(Deno.args, processIo);
}
