/**
 * The worker of the daemon's background integrity check: `PRAGMA quick_check` reads the whole database, so it
 * runs here, on a read-only connection of its own, and the daemon's thread (the request path and the row
 * writer) never waits for it. In WAL mode the reading does not hold up the writer. The thread runs the
 * program's entry module, which calls {@linkcode serveIntegrityCheck} when started under
 * `INTEGRITY_WORKER`'s name; one check per worker.
 *
 * @module
 */
import { databaseProblem } from "./open.ts";

/** What the daemon asks: the database to check. */
export interface IntegrityRequest {
  file: string;
}

/** The answer: what is wrong with the database, naming it and SQLite's finding; absent when it is intact. */
export interface IntegrityReply {
  problem?: string;
}

/** What this module uses of a worker's global scope (typed here: the entry module is checked as a main thread). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<IntegrityRequest>) => void) | null;
  postMessage(message: IntegrityReply): void;
}

/** Answers one {@linkcode IntegrityRequest} on this worker thread. */
export function serveIntegrityCheck(): void {
  const self = globalThis as unknown as WorkerScope;
  self.onmessage = (e) => {
    self.postMessage({ problem: databaseProblem(e.data.file)?.message });
  };
}
