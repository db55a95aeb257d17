/**
 * The single writer: rows are queued in memory by the request path (which never waits for SQLite) and
 * flushed in one transaction every few tens of milliseconds. A failed flush (full disk, locked file) keeps
 * the rows queued and retries; the queue is bounded so memory cannot grow without limit.
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
  /** Told about failed flushes and dropped rows. */
  onError?: (error: Error, queued: number) => void;
  /**
   * How long a flush may wait for another writer's lock (`pricing recost`, a second daemon) before it gives up
   * and retries later; set on the connection. Flushes run on the thread that forwards every request, so the
   * daemon keeps this short: a locked database delays rows, never traffic. Default: the connection's own.
   */
  busyTimeoutMs?: number;
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

  constructor(db: DatabaseSync, options: RowWriterOptions = {}) {
    this.#db = db;
    this.#opts = { intervalMs: 25, maxQueued: 100_000, onError: () => {}, busyTimeoutMs: -1, ...options };
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

  /** Queues a row; the flush happens later, off the caller's path. */
  enqueue(row: UsageRow): void {
    this.#queue.push(row);
    if (this.#queue.length > this.#opts.maxQueued) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#opts.intervalMs);
  }

  /** Writes every queued row in one transaction; returns how many were written. */
  flush(): number {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (!this.#queue.length) return 0;
    const batch = this.#queue;
    this.#queue = [];
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const row of batch) this.#calls.insert(row, this.projectId(row.project));
      this.#calls.beforeCommit();
      this.#db.exec("COMMIT");
    } catch (e) {
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* the transaction may not have started */ }
      this.#projectIds.clear();
      this.#calls.afterRollback();
      this.#queue = batch.concat(this.#queue);
      this.#opts.onError(e as Error, this.#queue.length);
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, Math.max(this.#opts.intervalMs, 1000));
      return 0;
    }
    this.#written += batch.length;
    return batch.length;
  }

  /** Flushes what is queued and stops the timer (SIGTERM drains the queue through this). */
  close(): void {
    this.flush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
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
