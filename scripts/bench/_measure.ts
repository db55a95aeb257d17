/**
 * Measuring helpers shared by the bench sections.
 *
 * @module
 */

/** The value at fraction `p` (0.5 = median) of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Runs `call` `warmup` times unmeasured, then `samples` times; returns each duration (ms), ascending. */
export async function sampleLatencies(
  call: () => Promise<void>,
  warmup: number,
  samples: number,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await call();
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const s = performance.now();
    await call();
    out.push(performance.now() - s);
  }
  return out.sort((a, b) => a - b);
}
