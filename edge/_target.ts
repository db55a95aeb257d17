/**
 * Where a request wants to go: the `host:port` of a `CONNECT` and the authority of an absolute `http://` URL.
 * Host names are checked strictly because they are written into the head the edge sends the daemon; the
 * `[upstream] resolve` overrides are judged with the config, in `core/upstream.ts`.
 *
 * @module
 */

import { type HostPort, parseHostPort } from "../core/upstream.ts";

export {
  formatHostPort,
  type HostPort,
  normalizeHost,
  parseHostPort,
  type ResolveMap,
  resolveTarget,
} from "../core/upstream.ts";

/** An absolute-form `http://` request-target split into where to connect and the origin-form path. */
export interface HttpTarget extends HostPort {
  /** `host[:port]` as the URL gave it, for a `Host` header when the client sent none. */
  authority: string;
  /** Path and query, at least `/`; the fragment is dropped. */
  path: string;
}

/**
 * Splits an absolute-form `http://` target. The path is kept byte for byte (a URL parser would re-encode it).
 * Undefined for any other scheme, user info, or a malformed authority.
 */
export function parseHttpTarget(target: string): HttpTarget | undefined {
  if (!/^http:\/\//i.test(target)) return undefined;
  const afterScheme = target.slice("http://".length);
  const cut = afterScheme.search(/[/?#]/);
  const authority = cut === -1 ? afterScheme : afterScheme.slice(0, cut);
  let path = cut === -1 ? "/" : afterScheme.slice(cut);
  path = path.replace(/#.*$/, "");
  if (!path.startsWith("/")) path = `/${path}`;
  if (authority.includes("@")) return undefined;
  const hp = parseHostPort(authority, 80);
  return hp && { ...hp, authority, path };
}
