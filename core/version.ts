/**
 * The program's version and the build target it runs as.
 *
 * @module
 */

/** Semantic version of this build; `scripts/build.ts` stamps release builds from the same constant. */
export const VERSION = "0.1.0";

/** The Rust-style target triple this binary was built for, e.g. `x86_64-unknown-linux-gnu`. */
export const TARGET: string = Deno.build.target;

/** `halton-meter 0.1.0 (x86_64-unknown-linux-gnu)`, then `, <channel>` when the channel is known. */
export function versionLine(channel?: string): string {
  return `halton-meter ${VERSION} (${TARGET})${channel ? `, ${channel}` : ""}`;
}
