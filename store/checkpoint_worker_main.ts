/**
 * The checkpoint worker's own entry module, for a daemon started from its modules rather than from the
 * program's entry (the tests), as `daemon/api/read/worker_main.ts` is for the read API.
 *
 * @module
 */
import { serveCheckpoints } from "./checkpoint_worker.ts";

serveCheckpoints();
