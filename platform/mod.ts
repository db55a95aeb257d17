/**
 * The platform layer's entry point (DESIGN §6): one {@linkcode Platform} per OS, chosen once by
 * {@linkcode platformFor}. Any OS's platform can be asked for on any OS, so `init --os` renders another
 * machine's plan and every OS's files are checked on every OS.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { OsName } from "../core/paths.ts";
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
  /** URL of the program's `main.ts`. */
  mainModule: string;
}

/** This process's {@linkcode SelfInfo}. */
export function currentSelf(): SelfInfo {
  return {
    standalone: Deno.build.standalone,
    execPath: Deno.execPath(),
    mainModule: new URL("../main.ts", import.meta.url).href,
  };
}

/**
 * The absolute argv that runs this program again (DESIGN §2), for service files: the binary alone when
 * compiled; `deno run -A <abs main.ts>` when run from source (Deno finds `deno.json` beside `main.ts`).
 */
export function selfCommand(info: SelfInfo = currentSelf()): string[] {
  return info.standalone ? [info.execPath] : [info.execPath, "run", "-A", fileURLToPath(info.mainModule)];
}
