/**
 * Project slugs: lowercase `a-z0-9-_:/`, at most {@linkcode MAX_SLUG_LENGTH} long, one rule for the edge, the
 * daemon and `run`. Names found on disk or in processes are normalised where the intent is plain (case,
 * spaces, dots); anything else is not a slug, and its layer falls through.
 *
 * @module
 */

const SLUG = /^[a-z0-9][a-z0-9_:/-]*$/;

/** Longest slug accepted: a path-sized name is almost certainly not a project. */
export const MAX_SLUG_LENGTH = 100;

/** True when `s` is a slug as it stands (a tag a client sent is taken as is, never normalised). */
export function isSlug(s: string): boolean {
  return s.length <= MAX_SLUG_LENGTH && SLUG.test(s);
}

/**
 * The slug for `raw`, or undefined when it cannot be one.
 *
 * Upper case becomes lower case, runs of whitespace become `-` (a folder "My App" → `my-app`), and dots become
 * `-` because folder names (`next.js`), host names and macOS bundle ids carry them and the slug alphabet has no
 * dot. Other characters are not guessed at: `café` or `a+b` is rejected.
 */
export function toSlug(raw: string | undefined | null): string | undefined {
  if (typeof raw !== "string") return undefined;
  const s = raw.trim().toLowerCase().replace(/\s+/g, "-").replaceAll(".", "-");
  return isSlug(s) ? s : undefined;
}
