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

/**
 * Compares two `major.minor.patch` versions (a pre-release or build suffix is ignored): negative when `a` is
 * older, 0 when equal, positive when newer. A part that is not a number counts as 0.
 */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[-+]/)[0].split(".").map((p) => Number.parseInt(p, 10) || 0);
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
