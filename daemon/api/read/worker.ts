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
import type { BodyChunk, BodyPull, ReadReply, ReadRequest, WorkerInit } from "./off_thread.ts";

/** What this module uses of a worker's global scope (typed here: the entry module is checked as a main thread). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerInit | ReadRequest | BodyPull | { type: "close" }>) => void) | null;
  postMessage(message: unknown): void;
}

/** Answers the read API's messages on this worker thread until told to close. */
export function serveReadApi(): void {
  const self = globalThis as unknown as WorkerScope;
  let db: DatabaseSync | undefined;
  let route: ApiRoute | undefined;
  // Bodies longer than a chunk, read on as the other side pulls: between two chunks other requests are served.
  // `held`: a chunk already read (to learn the body was longer than one), sent at the first pull.
  const bodies = new Map<number, { reader: ReadableStreamDefaultReader<Uint8Array>; held?: Uint8Array }>();
  self.onmessage = async (e) => {
    const msg = e.data;
    if (msg.type === "pull" || msg.type === "cancel") {
      const body = bodies.get(msg.id);
      if (!body) return;
      if (msg.type === "cancel") {
        bodies.delete(msg.id);
        await body.reader.cancel().catch(() => {});
        return;
      }
      let part: BodyChunk;
      try {
        const { value, done } = body.held ? { value: body.held, done: false } : await body.reader.read();
        body.held = undefined;
        part = done
          ? { type: "chunk", id: msg.id, done: true }
          : { type: "chunk", id: msg.id, chunk: value as Uint8Array<ArrayBuffer> };
      } catch (err) {
        part = { type: "chunk", id: msg.id, error: (err as Error).message };
      }
      if (part.done || part.error) bodies.delete(msg.id);
      self.postMessage(part);
      return;
    }
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
        ? await firstPart(msg.id, res)
        : { id: msg.id, status: 0, headers: [], body: new Uint8Array(0) };
    } catch (err) {
      reply = {
        id: msg.id,
        status: 500,
        headers: [],
        body: new Uint8Array(0),
        error: (err as Error).message,
      };
    }
    self.postMessage(reply);
  };

  /** The answer with its body's first chunk: the whole body when that is all, else the rest is pulled. */
  async function firstPart(id: number, res: Response): Promise<ReadReply> {
    const head = { id, status: res.status, headers: [...res.headers] };
    if (!res.body) return { ...head, body: new Uint8Array(0) };
    const reader = res.body.getReader();
    const first = await reader.read();
    if (first.done) return { ...head, body: new Uint8Array(0) };
    const second = await reader.read();
    const body = first.value as Uint8Array<ArrayBuffer>;
    if (second.done) return { ...head, body };
    bodies.set(id, { reader, held: second.value });
    return { ...head, body, streamed: true };
  }
}
