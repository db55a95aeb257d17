/**
 * The program's entry module and the roles it can be started in. Worker threads are started from the entry
 * module itself, with a name saying what they are for, rather than from a file of their own: the entry is the
 * one module every form of the program has (the source tree, a `deno compile`d binary, one bundled file), so no
 * build needs to be told to carry a separate worker file.
 *
 * @module
 */

/** The name the read API's worker thread is started with. */
export const READ_API_WORKER = "halton-meter:read-api";

/** The name the daemon's background integrity check's worker thread is started with. */
export const INTEGRITY_WORKER = "halton-meter:integrity-check";

/** The name the daemon's checkpoint worker thread is started with. */
export const CHECKPOINT_WORKER = "halton-meter:checkpoint";

let entry: string | undefined;

/** Records the URL of the entry module (`main.ts` passes its own `import.meta.url`, whatever file holds it). */
export function registerEntry(url: string): void {
  entry ??= url;
}

/** The URL of the entry module: the one registered, else `main.ts` of the source tree (tests importing parts). */
export function entryModule(): string {
  return registeredEntry() ?? new URL("../main.ts", import.meta.url).href;
}

/** The URL `main.ts` registered, or undefined when the program's parts were imported without it (tests). */
export function registeredEntry(): string | undefined {
  return entry;
}

/** The name this thread was started with: "" on the main thread, a role such as {@linkcode READ_API_WORKER} in a worker. */
export function threadName(): string {
  const name = (globalThis as { name?: unknown }).name;
  return typeof name === "string" ? name : "";
}

/** Options of {@linkcode startWorker}. */
export interface StartWorkerOptions {
  /** How long a worker may take to answer its first message before it is ended; 5000 ms unless given. */
  waitMs?: number;
  /** How many workers are started, one after another, before giving up; 1 unless given. */
  tries?: number;
}

/**
 * Starts the worker thread `name` from the entry module (or from `fallback`, the worker's own small module,
 * when the program's parts were imported without the entry), posts it `first`, and resolves with the worker and its
 * first answer. A worker that has not answered within `waitMs` is ended and, while tries are left, another is
 * started: run from source with a fresh Deno cache, a worker sometimes never finishes loading its modules
 * (Deno 2.9.6), and a second one does. Rejects when a worker fails to load or none answered.
 */
export function startWorker<A>(
  name: string,
  fallback: URL,
  first: unknown,
  options: StartWorkerOptions = {},
): Promise<{ worker: Worker; answer: A }> {
  const waitMs = options.waitMs ?? 5_000;
  const tries = options.tries ?? 1;
  const url = registeredEntry() ?? fallback.href;
  return new Promise((resolve, reject) => {
    const attempt = (left: number) => {
      const worker = new Worker(url, { type: "module", name });
      const timer = setTimeout(() => {
        worker.terminate();
        if (left > 1) attempt(left - 1);
        else reject(new Error(`the ${name} worker did not start within ${waitMs} ms, ${tries} times`));
      }, waitMs);
      worker.onmessage = (e: MessageEvent<A>) => {
        clearTimeout(timer);
        worker.onmessage = null;
        worker.onerror = null;
        resolve({ worker, answer: e.data });
      };
      worker.onerror = (e) => {
        e.preventDefault();
        clearTimeout(timer);
        worker.terminate();
        reject(new Error(e.message));
      };
      worker.postMessage(first);
    };
    attempt(tries);
  });
}
