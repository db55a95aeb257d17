/**
 * The read API worker's own entry module, for a daemon started from its modules rather than from the program's
 * entry (the tests): a worker started from `main.ts` there would load, and under `deno test` type-check, the
 * whole program first. The program itself starts its worker from its entry module (core/entry.ts).
 *
 * @module
 */
import { serveReadApi } from "./worker.ts";

serveReadApi();
