/**
 * The one judgement of `[upstream] proxy` and `[upstream] resolve`, shared by config loading, the edge and the
 * daemon, so that a value one of them accepts is accepted by all (and a bad one refused by all, at load).
 * Pure: parsing only, no connections.
 *
 * @module
 */

/** A host and port to connect to. `host` is lower case, without a trailing dot; IPv6 in brackets. */
export interface HostPort {
  host: string;
  port: number;
}

/** A corporate proxy to chain through. */
export interface ProxyTarget extends HostPort {
  /** `Basic …` from the user info of `[upstream] proxy`, when it has one. */
  authorization?: string;
}

/** `[upstream] resolve`: host → where to connect instead (the port kept when the override names none). */
export type ResolveMap = ReadonlyMap<string, { host: string; port?: number }>;

/** `[upstream]` judged: where tunnels and requests go. */
export interface Upstream {
  resolve: ResolveMap;
  proxy?: ProxyTarget;
}

/** A verdict on one value: the parsed value and anything worth a warning, or what was expected instead. */
export type Verdict<T> = { value: T; warning?: string } | { expected: string };

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

/**
 * Judges `[upstream] proxy`: empty for none, else `http://[user:password@]host[:port]`. A path adds nothing to
 * a proxy address, so it is ignored with a warning rather than refused.
 */
export function judgeProxy(raw: string): Verdict<ProxyTarget | undefined> {
  if (raw === "") return { value: undefined };
  const expected =
    'an http:// proxy address, e.g. "http://proxy.example.com:3128" (or "http://user:pw@host:port")';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { expected };
  }
  if (url.protocol !== "http:" || url.search || url.hash) return { expected };
  const hp = parseHostPort(url.host, 80);
  if (!hp) return { expected };
  const warning = url.pathname !== "/" && url.pathname !== ""
    ? `[upstream] proxy: the path "${url.pathname}" is ignored; a proxy is an address, not a URL`
    : undefined;
  if (!url.username) return { value: hp, warning };
  let credentials: string;
  try {
    credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  } catch {
    return { expected: `${expected}, with user and password percent-encoded` };
  }
  const bytes = new TextEncoder().encode(credentials);
  const authorization = `Basic ${btoa(String.fromCharCode(...bytes))}`;
  return { value: { ...hp, authorization }, warning };
}

/** Judges `[upstream] resolve` (`"api.openai.com" = "127.0.0.1:9443"` or `= "127.0.0.1"`). */
export function judgeResolve(entries: Readonly<Record<string, unknown>>): Verdict<ResolveMap> {
  const map = new Map<string, { host: string; port?: number }>();
  for (const [name, value] of Object.entries(entries)) {
    const key = normalizeHost(name);
    const text = typeof value === "string" ? value.trim() : "";
    const bare = normalizeHost(text);
    const to = parseHostPort(text) ?? (bare ? { host: bare } : undefined);
    if (!key || !to) {
      return {
        expected:
          `"${name}" to map a host name to "ip" or "ip:port", e.g. "api.openai.com" = "127.0.0.1:9443"`,
      };
    }
    map.set(key, to);
  }
  return { value: map };
}

/**
 * The judged `[upstream]` of a config whose values already passed {@linkcode judgeProxy} and
 * {@linkcode judgeResolve} at load (`core/config.ts`); a value that did not pass is treated as absent.
 */
export function upstreamOf(upstream: { proxy: string; resolve: Readonly<Record<string, string>> }): Upstream {
  const proxy = judgeProxy(upstream.proxy);
  const resolve = judgeResolve(upstream.resolve);
  return {
    proxy: "value" in proxy ? proxy.value : undefined,
    resolve: "value" in resolve ? resolve.value : new Map(),
  };
}

/** Where to connect for `target`, after `[upstream] resolve`. */
export function resolveTarget(target: HostPort, resolve: ResolveMap): HostPort {
  const to = resolve.get(target.host);
  return to ? { host: to.host, port: to.port ?? target.port } : target;
}
