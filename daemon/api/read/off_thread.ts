/**
 * Runs the read API in a worker: SQLite queries are synchronous, and a 90-day summary over a large database
 * takes a noticeable fraction of a second, which on the daemon's own thread would stall every intercepted
 * call. The worker holds its own read-only connection; this side only passes requests and answers.
 *
 * @module
 */
import type { ApiRoute } from "../server.ts";
import { READ_API_WORKER, startWorker } from "../../../core/entry.ts";

/** First message to the worker. */
export interface WorkerInit {
  type: "init";
  dbPath: string;
  allowOrigins: readonly string[];
  /** `[report] timezone`: the zone whose days `/v1/report` counts when the caller names none; empty: the machine's. */
  timeZone: string;
  /** ISO time the daemon started, for `uptime_s`. */
  startedAt: string;
}

/** One request, as much of it as the read API looks at. */
export interface ReadRequest {
  type: "request";
  id: number;
  url: string;
  method: string;
  headers: [string, string][];
}

/**
 * The worker's answer; status 0 means the read API does not serve that path. A body of one chunk comes whole;
 * a longer one (a CSV export) comes as `body`, its first chunk, with `streamed` set, and then
 * {@linkcode BodyChunk}s, one for each {@linkcode BodyPull}, so it is produced no faster than it is read.
 */
export interface ReadReply {
  id: number;
  status: number;
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer>;
  streamed?: boolean;
  error?: string;
}

/** The next part of a streamed body; `done` ends it, `error` breaks it off. */
export interface BodyChunk {
  type: "chunk";
  id: number;
  chunk?: Uint8Array<ArrayBuffer>;
  done?: boolean;
  error?: string;
}

/** Asks the worker for the next chunk of a streamed body, or (`cancel`) to stop making it. */
export type BodyPull = { type: "pull"; id: number } | { type: "cancel"; id: number };

/** A read API running in its own thread. */
export interface ReadApiWorker {
  route: ApiRoute;
  /** Closes the worker's connection, then the worker. */
  close(): Promise<void>;
}

/** How long a closing worker may take to close its connection before it is terminated anyway. */
const CLOSE_GRACE_MS = 1000;
/** Workers started before giving up, each ended after 5 s without opening its connection (`startWorker`). */
const START_TRIES = 2;

/**
 * The read API with its worker started by the first request it is asked (most daemons never are: the worker's
 * own heap is about 10 MB). A worker that fails to start answers 503 and is tried again on the next request.
 */
export function readApiOnDemand(options: ReadApiOptions): ReadApiWorker {
  let running: Promise<ReadApiWorker> | undefined;
  return {
    async route(req) {
      running ??= startReadApiWorker(options);
      try {
        return await (await running).route(req);
      } catch (e) {
        running = undefined;
        return unavailable((e as Error).message);
      }
    },
    async close() {
      const started = await running?.catch(() => undefined);
      await started?.close();
    },
  };
}

/** What the read API's worker needs. */
export interface ReadApiOptions {
  dbPath: string;
  allowOrigins: readonly string[];
  /** `[report] timezone` (empty: the machine's zone). */
  timeZone?: string;
  onError?: (message: string) => void;
}

/**
 * Starts the worker on `dbPath` (which must exist: the daemon's writer has created and migrated it) and
 * resolves once its connection is open.
 */
export async function startReadApiWorker(options: ReadApiOptions): Promise<ReadApiWorker> {
  const init: WorkerInit = {
    type: "init",
    dbPath: options.dbPath,
    allowOrigins: options.allowOrigins,
    timeZone: options.timeZone ?? "",
    startedAt: new Date().toISOString(),
  };
  let worker: Worker;
  try {
    ({ worker } = await startWorker(READ_API_WORKER, new URL("./worker_main.ts", import.meta.url), init, {
      tries: START_TRIES,
    }));
  } catch (e) {
    options.onError?.((e as Error).message);
    throw e;
  }
  const waiting = new Map<number, (reply: ReadReply) => void>();
  const streaming = new Map<number, ReadableStreamDefaultController<Uint8Array>>();
  let next = 0;
  let failed: string | undefined;
  let closed = () => {};
  worker.onerror = (e) => {
    e.preventDefault();
    failed = e.message;
    options.onError?.(e.message);
    for (const answer of waiting.values()) {
      answer({ id: -1, status: 500, headers: [], body: new Uint8Array(0), error: failed });
    }
    waiting.clear();
    for (const body of streaming.values()) body.error(new Error(failed));
    streaming.clear();
  };
  worker.onmessage = (e: MessageEvent<ReadReply | BodyChunk | { type: "closed" }>) => {
    if ("type" in e.data) {
      if (e.data.type === "closed") return closed();
      const part = e.data;
      const body = streaming.get(part.id);
      if (part.chunk) body?.enqueue(part.chunk);
      if (part.done || part.error) {
        streaming.delete(part.id);
        if (part.error) body?.error(new Error(part.error));
        else body?.close();
      }
      return;
    }
    const answer = waiting.get(e.data.id);
    waiting.delete(e.data.id);
    answer?.(e.data);
  };
  return { route, close };

  function close(): Promise<void> {
    return new Promise((done) => {
      const timer = setTimeout(finish, CLOSE_GRACE_MS);
      function finish() {
        clearTimeout(timer);
        worker.terminate();
        done();
      }
      closed = finish;
      if (failed) finish();
      else worker.postMessage({ type: "close" });
    });
  }

  function route(req: Request): Promise<Response | undefined> {
    if (failed) return Promise.resolve(unavailable(failed));
    const id = next++;
    const msg: ReadRequest = {
      type: "request",
      id,
      url: req.url,
      method: req.method,
      headers: [...req.headers],
    };
    return new Promise((resolve) => {
      waiting.set(id, (reply) => {
        if (reply.error) resolve(unavailable(reply.error));
        else if (reply.status === 0) resolve(undefined);
        else resolve(new Response(reply.streamed ? streamedBody(id, reply.body) : reply.body, reply));
      });
      worker.postMessage(msg);
    });
  }

  /** The body whose first chunk came with the answer, the rest pulled from the worker as it is read. */
  function streamedBody(id: number, first: Uint8Array<ArrayBuffer>): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(first);
        streaming.set(id, controller);
      },
      pull() {
        if (streaming.has(id)) worker.postMessage({ type: "pull", id } satisfies BodyPull);
      },
      cancel() {
        streaming.delete(id);
        worker.postMessage({ type: "cancel", id } satisfies BodyPull);
      },
    }, { highWaterMark: 0 });
  }
}

function unavailable(message: string): Response {
  return new Response(JSON.stringify({ error: "read API unavailable", message }), {
    status: 503,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
