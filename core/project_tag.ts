/**
 * The explicit project tag (attribution layer 0, README.md "Attribution"):
 * `HTTPS_PROXY=http://<project>:x@127.0.0.1:8081` makes clients send `Proxy-Authorization: Basic
 * base64("<project>:x")`; the older form with an empty password (`<project>:@`) still works. Read by the edge,
 * which passes the slug on to the daemon, and by the daemon itself for a client that uses the intercept port as
 * its proxy directly.
 *
 * @module
 */
import { isSlug } from "./slug.ts";

/**
 * The password in a proxy URL that names a project (`acme:x@`). Its value means nothing (the edge reads only
 * the user name), but it must not be empty: Claude Code's runtime fails every connection through a proxy URL
 * with an empty password (`acme:@`), and Deno ignores one with a user and no password at all.
 */
export const PROJECT_PROXY_PASSWORD = "x";

/**
 * The project slug in a `Proxy-Authorization` value, or undefined when there is none or it is not a valid
 * slug (the daemon's resolver chain then decides). The user-id ends at the first colon, as in RFC 7617, or
 * before the password `run` writes ({@linkcode PROJECT_PROXY_PASSWORD}): a slug may hold a colon, which the
 * proxy URL carries percent-encoded and clients decode before they send it (`team:app:x`). Whatever follows
 * (a password) is ignored, and a user-id still percent-encoded is decoded.
 */
export function projectFromProxyAuthorization(value: string | undefined): string | undefined {
  const m = value && /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
  if (!m) return undefined;
  let decoded: string;
  try {
    decoded = atob(m[1]);
  } catch {
    return undefined;
  }
  const ours = `:${PROJECT_PROXY_PASSWORD}`;
  const colon = decoded.endsWith(ours) ? decoded.length - ours.length : decoded.indexOf(":");
  if (colon === -1) return undefined;
  // `run` percent-encodes slugs holding `:` or `/` in the proxy URL; clients that pass userinfo on raw
  // send it still encoded.
  let slug = decoded.slice(0, colon);
  try {
    slug = decodeURIComponent(slug);
  } catch { /* not percent-encoded after all */ }
  return isSlug(slug) ? slug : undefined;
}
