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
 * The project slug in a `Proxy-Authorization` value, or undefined when there is none or it is not a valid
 * slug (the daemon's resolver chain then decides). The user-id ends at the first colon, as in RFC 7617;
 * whatever follows (a password) is ignored, and a percent-encoded user-id is decoded.
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
  const colon = decoded.indexOf(":");
  if (colon === -1) return undefined;
  // `run` percent-encodes slugs holding `:` or `/` in the proxy URL; clients that pass userinfo on raw
  // send it still encoded.
  let slug = decoded.slice(0, colon);
  try {
    slug = decodeURIComponent(slug);
  } catch { /* not percent-encoded after all */ }
  return isSlug(slug) ? slug : undefined;
}
