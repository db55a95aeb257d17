/**
 * The read API's worker: it owns the read-only connection and answers requests posted by
 * {@linkcode ./off_thread.ts}, so a report over many rows never holds the daemon's request path. The thread
 * runs the program's entry module, which calls {@linkcode serveReadApi} when started under the read API's name.
 *
 * @module
 */
import { openStore } from "../../../store/open.ts";
import { readApiRoute } from "./routes.ts";
import type { ApiRoute } from "../server.ts";
import type { DatabaseSync } from "node:sqlite";
import type { ReadReply, ReadRequest, WorkerInit } from "./off_thread.ts";

/** What this module uses of a worker's global scope (typed here: the entry module is checked as a main thread). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerInit | ReadRequest | { type: "close" }>) => void) | null;
  postMessage(message: unknown): void;
}

/** Answers the read API's messages on this worker thread until told to close. */
export function serveReadApi(): void {
  const self = globalThis as unknown as WorkerScope;
  let db: DatabaseSync | undefined;
  let route: ApiRoute | undefined;
  self.onmessage = async (e) => {
    const msg = e.data;
    if (msg.type === "init") {
      db = openStore(msg.dbPath, { readOnly: true });
      route = readApiRoute({
        db,
        allowOrigins: msg.allowOrigins,
        timeZone: msg.timeZone,
        startedAt: new Date(msg.startedAt),
      });
      self.postMessage({ type: "ready" });
      return;
    }
    if (msg.type === "close") {
      // Closed, not just dropped: the daemon's writer, closing last, then checkpoints and removes the WAL.
      db?.close();
      self.postMessage({ type: "closed" });
      return;
    }
    let reply: ReadReply;
    try {
      const res = await route!(new Request(msg.url, { method: msg.method, headers: msg.headers }));
      reply = res
        ? { id: msg.id, status: res.status, headers: [...res.headers], body: await res.text() }
        : { id: msg.id, status: 0, headers: [], body: "" };
    } catch (err) {
      reply = { id: msg.id, status: 500, headers: [], body: "", error: (err as Error).message };
    }
    self.postMessage(reply);
  };
}
