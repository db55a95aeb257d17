/**
 * Typed errors that carry the process exit code (README.md, "Commands") and a hint telling the user what to
 * do next. `main.ts` prints `message` and `hint` for these and never a stack trace.
 *
 * @module
 */

/** The exit codes every command uses. */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Unhealthy: 3,
  SelfTestFailed: 4,
} as const;

/** One of {@linkcode ExitCode}'s values. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/** An expected failure: a message for the user, a hint, and the exit code the process ends with. */
export class MeterError extends Error {
  readonly exitCode: ExitCode;
  readonly hint?: string;

  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "MeterError";
    this.exitCode = options.exitCode ?? ExitCode.Failed;
    this.hint = options.hint;
  }
}

/** The command line was wrong: an unknown command or flag, a missing or malformed value. Exit 2. */
export class UsageError extends MeterError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.Usage, hint });
    this.name = "UsageError";
  }
}

/** `config.toml` could not be read or holds a bad value; names the file, line and key. Exit 1. */
export class ConfigError extends MeterError {
  readonly file: string;
  readonly line?: number;
  readonly key?: string;

  constructor(
    file: string,
    detail: string,
    where: { line?: number; key?: string; hint?: string } = {},
  ) {
    const at = [where.line ? `line ${where.line}` : "", where.key ? `key ${where.key}` : ""].filter(Boolean)
      .join(", ");
    super(`${file}${at ? ` (${at})` : ""}: ${detail}`, {
      hint: where.hint ?? "Fix the file by hand; Halton Meter never rewrites your config.",
    });
    this.name = "ConfigError";
    this.file = file;
    this.line = where.line;
    this.key = where.key;
  }
}

/** The database cannot be used as it is (not SQLite, written by a newer version, unreadable). Exit 1. */
export class StoreError extends MeterError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { hint, cause });
    this.name = "StoreError";
  }
}
