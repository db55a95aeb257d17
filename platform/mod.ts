/**
 * The platform layer's entry point (docs/platform.md): one {@linkcode Platform} per OS, chosen once by
 * {@linkcode platformFor}. Any OS's platform can be asked for on any OS, so `init --os` renders another
 * machine's plan and every OS's files are checked on every OS.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { OsName } from "../core/paths.ts";
import { entryModule } from "../core/entry.ts";
import { darwin } from "./darwin/mod.ts";
import { linux } from "./linux/mod.ts";
import { windows } from "./windows/mod.ts";
import type { Platform } from "./types.ts";

export type * from "./types.ts";

const PLATFORMS: Record<OsName, Platform> = { darwin, linux, windows };

/** The platform of `os`. */
export function platformFor(os: OsName): Platform {
  return PLATFORMS[os];
}

/** How this process was started, as {@linkcode selfCommand} needs it. */
export interface SelfInfo {
  /** True inside a `deno compile`d binary. */
  standalone: boolean;
  /** `Deno.execPath()`: the binary itself when compiled, else the `deno` running the source. */
  execPath: string;
  /** URL of the program's entry module: `main.ts`, or the one file a bundle is. */
  mainModule: string;
}

/** This process's {@linkcode SelfInfo}. */
export function currentSelf(): SelfInfo {
  return {
    standalone: Deno.build.standalone,
    execPath: Deno.execPath(),
    mainModule: entryModule(),
  };
}

/**
 * V8 settings for every process of the meter. The young generation is held at 2 MiB: V8's default lets it grow
 * far larger, which took the daemon's anonymous memory under load to about 156 MB (105 with 1 MiB) and the
 * edge's to 29 MB (about 20). At 1 MiB a scavenge came every 25 ms or so under 500 streams, and a stream's
 * read waiting 50 ms for its next event lived through two of them, so its objects were promoted, 1.2 KB an
 * event, and the old generation filled and was collected about once a second, each full collection a pause of
 * every stream on the thread. At 2 MiB the scavenges are half as frequent and the wait outlives one: 0.3 KB an
 * event promoted, and the 500-stream gap's added p99 read +2.8 to +19.7 ms against +14.8 to +36.6 at 1 MiB in
 * six alternated pairs, each pair won, and the daemon spent about a seventh less CPU under the streams; the
 * edge's resident memory under load is about 2 MB higher (docs/speed.md). Collecting it on the main thread
 * alone spares the scavenges the wake-ups of helper threads, about a tenth of the daemon's CPU per request on
 * a 2-core machine.
 *
 * The last three give memory back soon after a burst. After 2,000 idle CONNECTs closed, the daemon's live
 * heap is back to its resting 13 MB at the next full collection, but V8's own timers held the emptied pages
 * (about 60 MB resident) for 15 to 20 s: the memory reducer waits 30 s after the heap grew and re-checks
 * every 8 s before it collects an idle heap, and freed pages stay pooled for 8 s more. With 2 s, 2 s and 1 s
 * the daemon is back near rest about 4 s after the sockets close (docs/safety.md). The reducer collects only
 * when allocation has gone quiet, so a busy daemon does not pay for it.
 *
 * An old generation capped at 1 GiB keeps garbage from piling up under many open streams: V8 lets the old
 * generation grow to up to four times its live size before a full collection when the cap is 2 GiB or more,
 * and about 1.6 times at 1 GiB. 500 open streams keep about 30 MB live, yet their events' short-lived objects
 * (promoted because a stream's pending reads outlive a scavenge) took the heap to 150 MB between collections
 * and the daemon to about 310 MB; with the cap it peaks near 80 MB of heap and 220 MB resident, at no measured
 * cost in CPU per call (scripts/bench/streams.ts, versus.ts). The daemon's live heap rests at 13 MB and bodies
 * are kept outside it, so the cap is never near.
 *
 * Turbofan, V8's top-tier compiler, is off; Maglev, the tier below it, still optimizes hot code. The meter's
 * JavaScript is glue around native I/O, TLS and SQLite, and most of it runs once per connection: Turbofan's
 * compiles and deoptimizations cost more than its code saved. Alternated runs with and without it: CPU per
 * metered call under load 13.6 to 14.9 % of mitmproxy's against 16.5 to 19.1 %, capture throughput 51 and
 * 59 % of direct against 45 and 50 %, the edge's RSS under load about 56 MB against 59.5 (the compiler's code
 * is never paged in), streams and fresh connections unchanged through the noise (docs/speed.md).
 *
 * A 24 MB initial old space keeps large uploads from starting a full collection every few calls. V8 starts
 * one when the heap plus the memory of the ArrayBuffers outside it (what sockets read into) passes a global
 * limit, which it otherwise sets about 2 MB above the heap the last collection left. The buffers a 1 MB
 * request body is read into crossed that every few uploads, and each collection marked the daemon's 17 MB
 * heap for about 20 ms. With the flag the limit starts near 50 MB: over 400 uploads of 1 MB, 13 to 19 full
 * collections instead of 61 to 69, and the daemon's CPU per upload 3.7 to 4.7 ms instead of 7.9 to 10.2;
 * resident memory at rest, the peak under 500 streams and the edge's were unchanged through the noise
 * (docs/speed.md).
 *
 * V8 flags cannot be changed once running, so they go where the process starts: baked into compiled binaries
 * by `deno task build`, and on the command line from source (`deno task start` repeats them).
 */
export const V8_FLAGS = "--v8-flags=--min-semi-space-size=2,--max-semi-space-size=2,--single-threaded-gc," +
  "--gc-memory-reducer-start-delay-ms=2000,--memory-reducer-delay-ms=2000,--memory-pool-timeout=1," +
  "--max-old-space-size=1024,--initial-old-space-size=24,--no-turbofan";

/**
 * The absolute argv that runs this program again, for service files: the binary alone when
 * compiled; `deno run -A <v8 flags> <abs main.ts>` when run from source (Deno finds `deno.json` beside
 * `main.ts`).
 */
export function selfCommand(info: SelfInfo = currentSelf()): string[] {
  return info.standalone
    ? [info.execPath]
    : [info.execPath, "run", "-A", V8_FLAGS, fileURLToPath(info.mainModule)];
}
