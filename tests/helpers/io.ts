/**
 * An in-memory {@linkcode Io} for running a command in-process and reading what it printed.
 *
 * @module
 */
import type { Io } from "../../cli/command.ts";
import type { Paths } from "../../core/paths.ts";

/** An {@linkcode Io} whose output is kept. */
export interface CapturedIo {
  io: Io;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
}

/** An {@linkcode Io} over `paths`, `columns` wide (default 100), no colour. */
export function captureIo(
  paths: Paths,
  options: { columns?: number; env?: Record<string, string> } = {},
): CapturedIo {
  let out = "";
  let err = "";
  return {
    io: {
      stdout: (s) => void (out += s),
      stderr: (s) => void (err += s),
      env: options.env ?? {},
      paths,
      columns: options.columns ?? 100,
      color: false,
    },
    stdout: () => out,
    stderr: () => err,
  };
}
