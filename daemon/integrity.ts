/**
 * The running daemon's watch over its database: at start the daemon refuses a damaged file (`openStore`), and
 * this finds damage done while it runs (a disk error, another program writing into the file) before a write
 * happens to touch the damaged page. Every `intervalMs` it runs `PRAGMA quick_check` in a worker
 * (`store/integrity_worker.ts`), at a moment with no exchange running when there is one within the next
 * interval. Damage found is reported once and the watch ends: the file stays as it is until the user moves it.
 *
 * @module
 */
import { INTEGRITY_WORKER, registeredEntry } from "../core/entry.ts";
import type { IntegrityReply, IntegrityRequest } from "../store/integrity_worker.ts";

/** How often a due check looks again for a quiet moment. */
const QUIET_POLL_MS = 5_000;

/** Options of {@linkcode watchIntegrity}. */
export interface IntegrityWatchOptions {
  /** The database. */
  file: string;
  /** Time between checks (`[daemon] integrity_check_s`). */
  intervalMs: number;
  /** True while no exchange is running. */
  quiet: () => boolean;
  /** Told what is wrong, once. */
  onDamaged: (problem: string) => void;
  /** Told when a check could not run (the worker failed); the next interval tries again. */
  onError?: (message: string) => void;
}

/** A running watch. */
export interface IntegrityWatch {
  /** Stops the watch, ending a check under way. */
  close(): void;
}

/** Starts checking `file` every `intervalMs`; see the module doc. */
export function watchIntegrity(options: IntegrityWatchOptions): IntegrityWatch {
  let due = Date.now() + options.intervalMs;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: { cancel(): void } | undefined;
  const schedule = () => {
    timer = setTimeout(tick, Math.min(options.intervalMs, QUIET_POLL_MS));
  };
  const tick = async () => {
    const late = Date.now() - due;
    if (late >= 0 && (options.quiet() || late >= options.intervalMs)) {
      const started = checkInWorker(options.file);
      running = started;
      let problem: string | undefined;
      try {
        problem = await started.result;
      } catch (e) {
        options.onError?.((e as Error).message);
      }
      running = undefined;
      if (closed) return;
      if (problem !== undefined) {
        options.onDamaged(problem);
        return;
      }
      due = Date.now() + options.intervalMs;
    }
    schedule();
  };
  schedule();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      running?.cancel();
    },
  };
}

/** One `quick_check` in a worker thread of its own, ended once it answers. */
function checkInWorker(file: string): { result: Promise<string | undefined>; cancel(): void } {
  // The entry module carries the worker in every form of the program (core/entry.ts); the daemon's parts
  // imported without it (the tests) start the worker's own small entry.
  const entry = registeredEntry() ?? new URL("../store/integrity_worker_main.ts", import.meta.url).href;
  const worker = new Worker(entry, { type: "module", name: INTEGRITY_WORKER });
  let settle: (problem: string | undefined) => void = () => {};
  const result = new Promise<string | undefined>((resolve, reject) => {
    settle = resolve;
    worker.onmessage = (e: MessageEvent<IntegrityReply>) => {
      worker.terminate();
      resolve(e.data.problem);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      reject(new Error(e.message));
    };
  });
  const request: IntegrityRequest = { file };
  worker.postMessage(request);
  return {
    result,
    cancel() {
      worker.terminate();
      settle(undefined);
    },
  };
}
