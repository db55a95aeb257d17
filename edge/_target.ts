/**
 * Where a request wants to go: the `host:port` of a `CONNECT`, the authority of an absolute `http://` URL,
 * and the `[upstream] resolve` overrides that point a host somewhere else. Host names are checked strictly
 * because they are written into the head the edge sends the daemon.
 *
 * @module
 */

/** A host and port to connect to. `host` is lower case, without a trailing dot; IPv6 in brackets. */
export interface HostPort {
  host: string;
  port: number;
}

const NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;

/** Normalises a host name or IP literal; undefined when it is neither. */
export function normalizeHost(raw: string): string | undefined {
  const host = raw.toLowerCase().replace(/\.$/, "");
  if (host.length === 0 || host.length > 253) return undefined;
  return NAME.test(host) || IPV6.test(host) ? host : undefined;
}

/** Parses `host:port` (`[v6]:port` for IPv6); undefined when malformed. */
export function parseHostPort(raw: string, defaultPort?: number): HostPort | undefined {
  const m = /^(\[[^\]]*\]|[^:\[\]]+)(?::([0-9]{1,5}))?$/.exec(raw);
  if (!m) return undefined;
  const host = normalizeHost(m[1]);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!host || port === undefined || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** `host:port` as written in a request line or a `Host` header. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${host}:${port}`;
}

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

/** `[upstream] resolve`: host → where to connect instead (the port kept when the override names none). */
export type ResolveMap = ReadonlyMap<string, { host: string; port?: number }>;

/**
 * Validates `[upstream] resolve` entries (`"api.openai.com" = "127.0.0.1:9443"` or `= "127.0.0.1"`).
 * Returns the map, or the first bad entry so the caller can name it.
 */
export function parseResolve(
  entries: Readonly<Record<string, string>>,
): { map: ResolveMap } | { bad: string } {
  const map = new Map<string, { host: string; port?: number }>();
  for (const [name, value] of Object.entries(entries)) {
    const key = normalizeHost(name);
    const bare = normalizeHost(value);
    const to = parseHostPort(value) ?? (bare ? { host: bare } : undefined);
    if (!key || !to) return { bad: name };
    map.set(key, to);
  }
  return { map };
}

/** Where to connect for `target`, after `[upstream] resolve`. */
export function resolveTarget(target: HostPort, resolve: ResolveMap): HostPort {
  const to = resolve.get(target.host);
  return to ? { host: to.host, port: to.port ?? target.port } : target;
}
