/**
 * Runs the read API in a worker: SQLite queries are synchronous, and a 90-day summary over a large database
 * takes a noticeable fraction of a second, which on the daemon's own thread would stall every intercepted
 * call. The worker holds its own read-only connection; this side only passes requests and answers.
 *
 * @module
 */
import type { ApiRoute } from "../server.ts";
import { READ_API_WORKER, registeredEntry } from "../../../core/entry.ts";

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

/** The worker's answer; status 0 means the read API does not serve that path. */
export interface ReadReply {
  id: number;
  status: number;
  headers: [string, string][];
  body: string;
  error?: string;
}

/** A read API running in its own thread. */
export interface ReadApiWorker {
  route: ApiRoute;
  /** Closes the worker's connection, then the worker. */
  close(): Promise<void>;
}

/** How long a closing worker may take to close its connection before it is terminated anyway. */
const CLOSE_GRACE_MS = 1000;
/**
 * How long a worker may take to open its connection before it is ended, and how many are tried for one
 * request. Run from source with a fresh Deno cache, a worker sometimes never finishes loading its modules
 * (Deno 2.9.6), and every request would wait for it; a second one loads.
 */
const READY_WAIT_MS = 5_000;
const START_TRIES = 2;

/**
 * The read API with its worker started by the first request it is asked (most daemons never are: the worker's
 * own heap is about 10 MB). A worker that fails to start is tried once more for the same request, which then
 * answers 503 if that one fails too; the next request tries again.
 */
export function readApiOnDemand(options: ReadApiOptions): ReadApiWorker {
  let running: Promise<ReadApiWorker> | undefined;
  return {
    async route(req) {
      let failure = "";
      for (let tries = 0; tries < START_TRIES; tries++) {
        running ??= startReadApiWorker(options);
        try {
          return await (await running).route(req);
        } catch (e) {
          running = undefined;
          failure = (e as Error).message;
        }
      }
      return unavailable(failure);
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
export function startReadApiWorker(options: ReadApiOptions): Promise<ReadApiWorker> {
  // The entry module, not a file of its own, so that every form of the program carries it (core/entry.ts);
  // the daemon's parts imported without the entry (the tests) start the worker's own small entry instead.
  const entry = registeredEntry() ?? new URL("./worker_main.ts", import.meta.url).href;
  const worker = new Worker(entry, { type: "module", name: READ_API_WORKER });
  const waiting = new Map<number, (reply: ReadReply) => void>();
  let next = 0;
  let failed: string | undefined;
  let closed = () => {};
  return new Promise((resolve, reject) => {
    const notReady = setTimeout(() => {
      failed = `the read API's worker did not start in ${READY_WAIT_MS / 1000} s`;
      worker.terminate();
      reject(new Error(failed));
    }, READY_WAIT_MS);
    worker.onerror = (e) => {
      clearTimeout(notReady);
      e.preventDefault();
      failed = e.message;
      options.onError?.(e.message);
      for (const answer of waiting.values()) {
        answer({ id: -1, status: 500, headers: [], body: "", error: failed });
      }
      waiting.clear();
      reject(new Error(failed));
    };
    worker.onmessage = (e: MessageEvent<ReadReply | { type: "ready" | "closed" }>) => {
      if ("type" in e.data) {
        if (e.data.type === "ready") {
          clearTimeout(notReady);
          resolve({ route, close });
        } else closed();
        return;
      }
      const answer = waiting.get(e.data.id);
      waiting.delete(e.data.id);
      answer?.(e.data);
    };
    const init: WorkerInit = {
      type: "init",
      dbPath: options.dbPath,
      allowOrigins: options.allowOrigins,
      timeZone: options.timeZone ?? "",
      startedAt: new Date().toISOString(),
    };
    worker.postMessage(init);
  });

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
        else {resolve(
            reply.status === 0
              ? undefined
              : new Response(reply.body, { status: reply.status, headers: reply.headers }),
          );}
      });
      worker.postMessage(msg);
    });
  }
}

function unavailable(message: string): Response {
  return new Response(JSON.stringify({ error: "read API unavailable", message }), {
    status: 503,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
