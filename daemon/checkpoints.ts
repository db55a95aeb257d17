/**
 * Checkpoints of the database's write-ahead log, off the daemon's thread. By default SQLite copies the log back
 * into the database from inside the commit that grows it past 1000 pages, on the committing thread, and syncs
 * both files: one call in a hundred or so, the daemon's thread (its row writer, and every stream it relays)
 * stopped for the length of two `fsync`s and the copy, 5 to 15 ms on this project's test machine and longer on
 * a busy or slow disk. Here a worker (`store/checkpoint_worker.ts`) checkpoints on a connection of its own,
 * right after the writer's flushes (at most every 500 ms) and within 10 s after other writes (repricing, a
 * migration): rare, and nothing waits for their checkpoint, so the daemon does not wake each second to look
 * for them (docs/speed.md, "What an idle meter costs").
 *
 * The log starts over from its beginning only when a write begins with every frame in it copied back: a
 * checkpoint started right after a flush usually ends before the next one. Under writes that never pause for as
 * long as a checkpoint takes the log would grow for as long as they last, so the writer's connection still
 * checkpoints, at ten times SQLite's length; what the worker already copied is not copied again. When the worker
 * cannot open the database or dies, the writer's connection goes back to SQLite's own length.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { CHECKPOINT_WORKER, startWorker } from "../core/entry.ts";
import type { CheckpointReply, CheckpointRequest } from "../store/checkpoint_worker.ts";

/** SQLite's own `wal_autocheckpoint`, in pages, given back when the worker stops. */
const SQLITE_AUTOCHECKPOINT = 1000;
/** The writer's `wal_autocheckpoint` while the worker runs: a bound on the log (40 MB), not a schedule. */
const BACKSTOP_AUTOCHECKPOINT = 10 * SQLITE_AUTOCHECKPOINT;
/** How long `close()` lets a checkpoint under way finish before the worker is ended regardless. */
const CLOSE_WAIT_MS = 2_000;
/**
 * The least time between two checkpoints started after flushes. One started right after a flush has the
 * writer's pause before the next one to finish in, and the log starts over only if it does; small ones finish
 * sooner.
 */
const AFTER_FLUSH_GAP_MS = 500;
/** How often the worker looks for writes no flush told of (see the module doc). */
const LOOK_EVERY_MS = 10_000;
/** How long a worker may take to open the database, and how many are started before the writer keeps checkpointing. */
const START_WAIT_MS = 5_000;
const START_TRIES = 3;

/** Options of {@linkcode startCheckpoints}. */
export interface CheckpointOptions {
  /** The database file. */
  file: string;
  /** The writer's connection: it checkpoints only as a backstop while the worker runs. */
  db: DatabaseSync;
  /** How often to look for writes no flush told of (repricing, a migration); 10 s unless given. */
  intervalMs?: number;
  /** The least time between two checkpoints started by {@linkcode Checkpoints.wrote}; 500 ms unless given. */
  flushGapMs?: number;
  /** Told why a checkpoint failed or the worker stopped, once per reason. */
  onError?: (message: string) => void;
}

/** Running checkpoints. */
export interface Checkpoints {
  /** Checkpoints the worker has finished. */
  readonly done: number;
  /** True while the worker checkpoints; false before it has opened the database and after it failed. */
  readonly offThread: boolean;
  /** Resolves true once the worker has opened the database, false when it never will. */
  readonly started: Promise<boolean>;
  /** Told by the writer after each flush: a checkpoint starts now, unless one started within `flushGapMs`. */
  wrote(): void;
  /** Ends the worker and gives checkpoints back to the writer's connection. Call before closing `db`. */
  close(): Promise<void>;
}

/** Starts the checkpoint worker for `options.file`; see the module doc. */
export function startCheckpoints(options: CheckpointOptions): Checkpoints {
  const changes = options.db.prepare("SELECT total_changes() AS n");
  const flushGapMs = options.flushGapMs ?? AFTER_FLUSH_GAP_MS;
  let worker: Worker | undefined;
  let seen: number | bigint = -1;
  let done = 0;
  let running = false;
  let ended = false;
  let lastError: string | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let lastStart = -Infinity;
  let onClosed = () => {};

  const report = (message: string) => {
    if (message === lastError) return;
    lastError = message;
    options.onError?.(message);
  };
  const setAutocheckpoint = (pages: number) => {
    try {
      options.db.exec(`PRAGMA wal_autocheckpoint = ${pages}`);
    } catch { /* the connection is closed: nothing is left to checkpoint through it */ }
  };
  /** Stops the worker for good; the writer's connection checkpoints again. */
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    if (worker) setAutocheckpoint(SQLITE_AUTOCHECKPOINT);
    worker?.terminate();
    worker = undefined;
    onClosed();
  };
  /** What the writer's connection has changed so far; undefined once it is closed (and the worker ended). */
  const changed = () => {
    try {
      return (changes.get() as { n: number | bigint }).n;
    } catch (e) {
      report(`checkpoints stopped: ${(e as Error).message}`);
      end();
      return undefined;
    }
  };
  const checkpoint = (now: number | bigint) => {
    seen = now;
    running = true;
    lastStart = performance.now();
    worker!.postMessage({ type: "checkpoint" } satisfies CheckpointRequest);
  };
  const tick = () => {
    if (running || ended) return;
    const now = changed();
    if (now !== undefined && now !== seen) checkpoint(now);
  };
  const onMessage = (e: MessageEvent<CheckpointReply>) => {
    const reply = e.data;
    running = false;
    if (reply.type === "checkpointed") {
      done++;
      lastError = undefined;
    } else if (reply.type === "failed") {
      // Tried again at the next tick, written or not: what failed to be copied is still in the log.
      seen = -1;
      report(`a checkpoint failed: ${reply.error}`);
    } else {
      end();
    }
  };

  seen = changed() ?? -1;
  const started = startWorker<CheckpointReply>(
    CHECKPOINT_WORKER,
    new URL("../store/checkpoint_worker_main.ts", import.meta.url),
    { type: "open", file: options.file } satisfies CheckpointRequest,
    { waitMs: START_WAIT_MS, tries: START_TRIES },
  ).then(({ worker: w, answer }) => {
    if (ended) {
      w.terminate();
      return false;
    }
    if (answer.type !== "opened") {
      w.terminate();
      report(
        `the checkpoint worker could not open the database: ${
          answer.type === "failed" ? answer.error : answer.type
        }`,
      );
      end();
      return false;
    }
    worker = w;
    w.onmessage = onMessage;
    w.onerror = (e) => {
      e.preventDefault();
      report(`the checkpoint worker stopped: ${e.message}`);
      end();
    };
    setAutocheckpoint(BACKSTOP_AUTOCHECKPOINT);
    timer = setInterval(tick, options.intervalMs ?? LOOK_EVERY_MS);
    return true;
  }, (e) => {
    report(`the checkpoint worker did not start: ${(e as Error).message}`);
    end();
    return false;
  });

  return {
    get done() {
      return done;
    },
    get offThread() {
      return worker !== undefined;
    },
    started,
    wrote() {
      if (!worker || running || performance.now() - lastStart < flushGapMs) return;
      const now = changed();
      if (now !== undefined) checkpoint(now);
    },
    async close() {
      if (ended) return;
      // No tick may post a checkpoint after the close.
      clearInterval(timer);
      if (worker) {
        const closed = new Promise<void>((resolve) => onClosed = resolve);
        worker.postMessage({ type: "close" } satisfies CheckpointRequest);
        let wait: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([closed, new Promise((resolve) => wait = setTimeout(resolve, CLOSE_WAIT_MS))]);
        clearTimeout(wait);
      }
      end();
    },
  };
}
