/**
 * JSON-lines logging (README.md, "Files"): one object per line with an ISO-8601 UTC `ts`, a level, the
 * process and a dotted event name, written to stderr and to `logs/<process>.jsonl`, rotated by size. Callers
 * log counts and names only, never prompt or response content or credentials.
 *
 * @module
 */
import { join } from "node:path";
import type { LogLevelName } from "./config.ts";
import { makePrivateDir, PRIVATE_FILE } from "./private.ts";

/** Extra fields of one event: plain values only. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where and how a {@linkcode Logger} writes. */
export interface LoggerOptions {
  /** `edge`, `daemon`, `cli`: names the file and appears in each line. */
  process: string;
  /** Folder for `<process>.jsonl`; none means stderr only. */
  dir?: string;
  /** Also write each line to stderr (services send stderr to the journal). */
  stderr?: boolean;
  level?: LogLevelName;
  /** Rotate when the file passes this size. */
  maxBytes?: number;
  /** How many rotated files to keep (`<process>.1.jsonl` …). */
  keep?: number;
  /** The clock, for tests. */
  now?: () => Date;
}

const RANK: Record<LogLevelName, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A JSON-lines logger. Writing never throws: a full disk or a removed folder loses whole log lines, not
 * traffic, and never leaves half a line in the file.
 */
export class Logger {
  readonly #opts: Required<Omit<LoggerOptions, "dir">> & { dir?: string };
  readonly #encoder = new TextEncoder();
  #file?: Deno.FsFile;
  #size = 0;
  /** Set by {@linkcode Logger.close}: the file is not opened again (a late event of a child's exit, say). */
  #closed = false;

  constructor(options: LoggerOptions) {
    this.#opts = {
      stderr: false,
      level: "info",
      maxBytes: 10 * 1024 * 1024,
      keep: 5,
      now: () => new Date(),
      ...options,
    };
  }

  /** Path of the current log file, if any. */
  get file(): string | undefined {
    return this.#opts.dir ? join(this.#opts.dir, `${this.#opts.process}.jsonl`) : undefined;
  }

  debug(event: string, fields?: LogFields): void {
    this.write("debug", event, fields);
  }
  info(event: string, fields?: LogFields): void {
    this.write("info", event, fields);
  }
  warn(event: string, fields?: LogFields): void {
    this.write("warn", event, fields);
  }
  error(event: string, fields?: LogFields): void {
    this.write("error", event, fields);
  }

  /** Whether events at `level` are written: lets a caller skip building fields nobody will see. */
  enabled(level: LogLevelName): boolean {
    return RANK[level] >= RANK[this.#opts.level];
  }

  /** Writes one event at `level` if the logger's level lets it through. */
  write(level: LogLevelName, event: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const line = JSON.stringify({
      ts: this.#opts.now().toISOString(),
      level,
      process: this.#opts.process,
      event,
      ...fields,
    }) + "\n";
    const bytes = this.#encoder.encode(line);
    if (this.#opts.stderr) {
      try {
        Deno.stderr.writeSync(bytes);
      } catch { /* a closed stderr must not stop the process */ }
    }
    this.#append(bytes);
  }

  /** Closes the log file for good: later events go to stderr only, when it is on. */
  close(): void {
    this.#closed = true;
    this.#closeFile();
  }

  #closeFile(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  #append(bytes: Uint8Array): void {
    const path = this.file;
    if (!path || this.#closed) return;
    try {
      if (!this.#file) {
        makePrivateDir(this.#opts.dir!);
        this.#file = Deno.openSync(path, { append: true, create: true, mode: PRIVATE_FILE });
        this.#size = this.#file.statSync().size;
      }
      if (this.#size + bytes.length > this.#opts.maxBytes && this.#size > 0) this.#rotate(path);
      this.#writeLine(this.#file!, bytes);
      this.#size += bytes.length;
    } catch {
      // The next event opens the file again: a disk with room again gets its log back.
      this.#closeFile();
    }
  }

  /**
   * Writes one whole line or none: on a full disk a write can stop part-way, and the part written is cut off
   * again so the next reader never meets half a JSON object.
   */
  #writeLine(file: Deno.FsFile, bytes: Uint8Array): void {
    let done = 0;
    try {
      while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
    } catch (e) {
      if (done > 0) {
        try {
          file.truncateSync(this.#size);
        } catch { /* nothing more can be done about this file */ }
      }
      throw e;
    }
  }

  #rotate(path: string): void {
    this.#closeFile();
    const base = path.replace(/\.jsonl$/, "");
    try {
      Deno.removeSync(`${base}.${this.#opts.keep}.jsonl`);
    } catch { /* nothing to drop */ }
    for (let i = this.#opts.keep - 1; i >= 1; i--) {
      try {
        Deno.renameSync(`${base}.${i}.jsonl`, `${base}.${i + 1}.jsonl`);
      } catch { /* a missing generation is fine */ }
    }
    Deno.renameSync(path, `${base}.1.jsonl`);
    this.#file = Deno.openSync(path, { append: true, create: true, mode: PRIVATE_FILE });
    this.#size = 0;
  }
}
