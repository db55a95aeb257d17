/**
 * IPv4 addresses written as text.
 *
 * @module
 */

/** The four octets of a dotted-decimal IPv4 address; undefined when `s` is not one. */
export function ipv4Octets(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}
