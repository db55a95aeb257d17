/**
 * Money as the meter stores it, integer millicents, written out for machines, and the change between two
 * amounts: shared by the CLI's output and the read API, which must print the same figures.
 *
 * @module
 */

/** Millicents in one US dollar. */
export const MILLICENTS_PER_USD = 100_000;

/** The exact dollar amount of `millicents` as a decimal string with five places (`"12.34567"`), for machines. */
export function usdString(millicents: number): string {
  const sign = millicents < 0 ? "-" : "";
  const abs = Math.abs(millicents);
  const whole = Math.floor(abs / MILLICENTS_PER_USD);
  return `${sign}${whole}.${String(abs % MILLICENTS_PER_USD).padStart(5, "0")}`;
}

/** `(now - before) / before` in percent, or null when `before` is zero (no ratio exists). */
export function changePercent(before: number, now: number): number | null {
  if (before === 0) return null;
  return ((now - before) / before) * 100;
}
