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
 * V8 settings for every process of the meter: a 1 MiB young generation takes the daemon's anonymous memory
 * under load from about 156 to 105 MB and the edge's from 29 to about 20 MB at no measured cost in throughput
 * (scripts/bench/capture.ts); collecting it on the main thread alone spares the frequent small scavenges the
 * wake-ups of helper threads, about a tenth of the daemon's CPU per request on a 2-core machine. V8 flags
 * cannot be changed once running, so they go where the process starts: baked into compiled binaries by
 * `deno task build`, and on the command line from source.
 */
export const V8_FLAGS = "--v8-flags=--max-semi-space-size=1,--single-threaded-gc";

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
