/**
 * The single writer: rows are queued in memory by the request path (which never waits for SQLite) and
 * flushed in transactions of at most `batchSize` rows every few tens of milliseconds. A failed flush (full
 * disk, read-only file, a lock held by another program) keeps the rows queued, says why in
 * {@linkcode RowWriter.failure}, and retries often with batches of one row growing back as they succeed: a
 * retry of the whole queue in one transaction would need as much free space as the whole queue, so a disk
 * with a little space freed would never take any of it. The queue is bounded; what it drops is counted, and
 * a store that takes writes is written at once rather than dropped from.
 * A corrupted database is the exception: once a write meets one, or the daemon's background check finds one
 * ({@linkcode RowWriter.damaged}), nothing more is written into it and rows only wait and are counted.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { UsageRow } from "./rows.ts";
import { CallInserter } from "./insert.ts";

/** Options for {@linkcode RowWriter}. */
export interface RowWriterOptions {
  /** How long rows may wait before a flush. */
  intervalMs?: number;
  /** Rows kept while flushes fail; beyond it the oldest are dropped and counted. */
  maxQueued?: number;
  /** The most rows written in one transaction. */
  batchSize?: number;
  /** How long after a failed flush the next try is. */
  retryMs?: number;
  /** Told about failed flushes and dropped rows. */
  onError?: (error: Error, queued: number) => void;
  /**
   * How long a flush may wait for another writer's lock (`pricing recost`, a second daemon) before it gives up
   * and retries later; set on the connection. Flushes run on the thread that forwards every request, so the
   * daemon keeps this short: a locked database delays rows, never traffic. Default: the connection's own.
   */
  busyTimeoutMs?: number;
  /** The database's path, as the next steps of a {@linkcode WriteFailure} name it. Default: `db.sqlite`. */
  file?: string;
  /** Told after a flush that wrote rows (the daemon starts a checkpoint then). */
  onFlushed?: () => void;
}

/** Why rows are not being written, in words for `status`, and what to do about it. */
export interface WriteFailure {
  /** `disk-full`, `read-only`, `locked`, `corrupt` or `other`. */
  kind: "disk-full" | "read-only" | "locked" | "corrupt" | "other";
  /** E.g. "the disk is full". */
  reason: string;
  /** The next step for the user. */
  next: string;
  /** SQLite's own message. */
  error: string;
  /** When flushes began to fail (ISO-8601). */
  since: string;
}

/** SQLite's primary result codes for the failures a user can do something about. */
const SQLITE_CODES: Record<number, WriteFailure["kind"]> = {
  5: "locked", // SQLITE_BUSY
  6: "locked", // SQLITE_LOCKED
  8: "read-only", // SQLITE_READONLY
  11: "corrupt", // SQLITE_CORRUPT
  13: "disk-full", // SQLITE_FULL
  26: "corrupt", // SQLITE_NOTADB
};

/** Names what a failed write means for the user, from SQLite's result code, else its message. */
export function classifyWriteError(error: Error, file = "db.sqlite"): Omit<WriteFailure, "since"> {
  const code = (error as { errcode?: number }).errcode;
  const byCode = code === undefined ? undefined : SQLITE_CODES[code & 0xff];
  const m = error.message.toLowerCase();
  const e = error.message;
  const is = (kind: WriteFailure["kind"], pattern: RegExp) => byCode ? byCode === kind : pattern.test(m);
  if (is("disk-full", /full|no space/)) {
    return {
      kind: "disk-full",
      reason: "the disk is full",
      next:
        `Free space on the disk that holds ${file}; rows queued meanwhile are written as soon as it has room.`,
      error: e,
    };
  }
  if (is("read-only", /readonly|read-only|read only|permission denied/)) {
    return {
      kind: "read-only",
      reason: "the database cannot be written (read-only file or folder)",
      next: `Make ${file} and its folder writable by this user again.`,
      error: e,
    };
  }
  if (is("locked", /locked|busy/)) {
    return {
      kind: "locked",
      reason: "the database is locked by another program",
      next:
        `Close the program that holds ${file} open for writing (a database browser, a long 'sqlite3' session).`,
      error: e,
    };
  }
  if (is("corrupt", /malformed|corrupt|not a database/)) return corruption(e, file);
  return {
    kind: "other",
    reason: `SQLite refused the write (${e})`,
    next: "Run 'halton-meter doctor'.",
    error: e,
  };
}

function corruption(error: string, file: string): Omit<WriteFailure, "since"> {
  return {
    kind: "corrupt",
    reason: "the database is corrupted",
    next: `Stop the meter, move ${file} aside (nothing is deleted) and start it again to begin a new one.`,
    error,
  };
}

/** Batches {@linkcode UsageRow}s into SQLite. */
export class RowWriter {
  readonly #db: DatabaseSync;
  readonly #calls: CallInserter;
  readonly #findProject: StatementSync;
  readonly #addProject: StatementSync;
  readonly #projectIds = new Map<string, string>();
  readonly #opts: Required<RowWriterOptions>;
  #queue: UsageRow[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #written = 0;
  #dropped = 0;
  #failure?: WriteFailure;
  /** Rows per transaction now: `batchSize` while writes succeed, from 1 upwards after a failure. */
  #batch: number;

  constructor(db: DatabaseSync, options: RowWriterOptions = {}) {
    this.#db = db;
    this.#opts = {
      intervalMs: 25,
      maxQueued: 20_000,
      batchSize: 500,
      retryMs: 500,
      onError: () => {},
      onFlushed: () => {},
      busyTimeoutMs: -1,
      file: "db.sqlite",
      ...options,
    };
    this.#batch = this.#opts.batchSize;
    if (this.#opts.busyTimeoutMs >= 0) {
      db.exec(`PRAGMA busy_timeout = ${Math.floor(this.#opts.busyTimeoutMs)}`);
    }
    this.#calls = new CallInserter(db);
    this.#findProject = db.prepare("SELECT id FROM projects WHERE slug = ?");
    this.#addProject = db.prepare(
      "INSERT INTO projects (id, slug, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING",
    );
  }

  /** Rows written so far. */
  get written(): number {
    return this.#written;
  }

  /** Rows dropped because the queue overflowed while flushes failed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Rows waiting. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Why the last flush failed, until one succeeds again; a corrupted database stays named until the end. */
  get failure(): WriteFailure | undefined {
    return this.#failure;
  }

  /**
   * Stops writing into a database found to be corrupted (`problem` says how), as a write that meets a damaged
   * page does: writing more rows into a damaged b-tree can only spread the damage.
   */
  damaged(problem: string): void {
    if (this.#failure?.kind === "corrupt") return;
    this.#failure = { ...corruption(problem, this.#opts.file), since: new Date().toISOString() };
    this.#opts.onError(new Error(problem), this.#queue.length);
  }

  /** Queues a row; the flush happens later, off the caller's path, unless the queue is full. */
  enqueue(row: UsageRow): void {
    this.#queue.push(row);
    // A batch's results queue up to 100,000 rows at once, sooner than any timer flushes: the bound is for rows
    // a failing store cannot take, not for rows that only arrived together.
    if (this.#queue.length > this.#opts.maxQueued && !this.#failure) this.flush();
    if (this.#queue.length > this.#opts.maxQueued) {
      this.#queue.shift();
      this.#dropped++;
    }
    if (this.#failure?.kind === "corrupt") return;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#opts.intervalMs);
  }

  /**
   * Writes the queued rows, at most `batchSize` per transaction, until the queue is empty or a write fails;
   * returns how many were written. A failure keeps the rows and schedules a retry.
   */
  flush(): number {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    let done = 0;
    if (this.#failure?.kind === "corrupt") return done;
    while (this.#queue.length) {
      const batch = this.#queue.slice(0, this.#batch);
      try {
        this.#db.exec("BEGIN IMMEDIATE");
        for (const row of batch) this.#calls.insert(row, this.projectId(row.project));
        this.#calls.beforeCommit();
        this.#db.exec("COMMIT");
      } catch (e) {
        this.#failed(e as Error);
        return done;
      }
      this.#queue.splice(0, batch.length);
      this.#written += batch.length;
      done += batch.length;
      this.#failure = undefined;
      this.#batch = Math.min(this.#opts.batchSize, this.#batch * 2);
    }
    if (done) this.#opts.onFlushed();
    return done;
  }

  #failed(error: Error): void {
    try {
      this.#db.exec("ROLLBACK");
    } catch { /* the transaction may not have started */ }
    this.#projectIds.clear();
    this.#calls.afterRollback();
    this.#batch = 1;
    this.#failure = {
      ...classifyWriteError(error, this.#opts.file),
      since: this.#failure?.since ?? new Date().toISOString(),
    };
    this.#opts.onError(error, this.#queue.length);
    if (this.#failure.kind === "corrupt") return;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, Math.max(this.#opts.intervalMs, this.#opts.retryMs));
  }

  /**
   * Flushes what is queued and stops the timer (SIGTERM drains the queue through this). Rows that still cannot
   * be written are counted as dropped and their number returned: they are gone with the process.
   */
  close(): number {
    this.flush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const lost = this.#queue.length;
    this.#dropped += lost;
    this.#queue = [];
    return lost;
  }

  /** The id of the project with `slug`, creating the project on first use. */
  projectId(slug: string): string {
    let id = this.#projectIds.get(slug);
    if (id) return id;
    id = (this.#findProject.get(slug) as { id: string } | undefined)?.id;
    if (!id) {
      this.#addProject.run(crypto.randomUUID(), slug, slug, new Date().toISOString());
      id = (this.#findProject.get(slug) as { id: string }).id;
    }
    this.#projectIds.set(slug, id);
    return id;
  }
}
