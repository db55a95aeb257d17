/**
 * The worker that checkpoints the daemon's write-ahead log: it copies committed pages from `db.sqlite-wal` back
 * into `db.sqlite` and syncs both files, on a connection of its own, so the daemon's thread (the request path
 * and the row writer) never waits for the disk (`daemon/checkpoints.ts` says when). A `PASSIVE` checkpoint
 * takes no lock the writer needs: rows committed while it runs go on into the log. The thread runs the
 * program's entry module, which calls {@linkcode serveCheckpoints} when started under `CHECKPOINT_WORKER`'s
 * name.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** What the daemon posts: open the database, checkpoint it, or close the connection. */
export type CheckpointRequest =
  | { type: "open"; file: string }
  | { type: "checkpoint" }
  | { type: "close" };

/** The answers, one per request. */
export type CheckpointReply =
  | { type: "opened" }
  | { type: "checkpointed" }
  | { type: "failed"; error: string }
  | { type: "closed" };

/** What this module uses of a worker's global scope (typed here: the entry module is checked as a main thread). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<CheckpointRequest>) => void) | null;
  postMessage(message: CheckpointReply): void;
}

/** Answers {@linkcode CheckpointRequest}s on this worker thread until told to close. */
export function serveCheckpoints(): void {
  const self = globalThis as unknown as WorkerScope;
  let db: DatabaseSync | undefined;
  self.onmessage = (e) => {
    const msg = e.data;
    try {
      if (msg.type === "open") {
        // Opening a missing file would create an empty database beside the writer's: refuse instead.
        Deno.statSync(msg.file);
        db = new DatabaseSync(msg.file);
        self.postMessage({ type: "opened" });
      } else if (msg.type === "checkpoint") {
        if (!db) throw new Error("no database is open");
        db.exec("PRAGMA wal_checkpoint(PASSIVE)");
        self.postMessage({ type: "checkpointed" });
      } else {
        // Closed, not just dropped: the daemon's writer, closing last, then checkpoints and removes the WAL.
        db?.close();
        db = undefined;
        self.postMessage({ type: "closed" });
      }
    } catch (err) {
      self.postMessage({ type: "failed", error: (err as Error).message });
    }
  };
}
