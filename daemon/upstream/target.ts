/**
 * Where an upstream connection really goes: `[upstream] resolve` maps a host to "ip" or "ip:port" (tests and
 * unusual networks point provider hosts elsewhere); the TLS server name stays the original host.
 *
 * @module
 */
import { MeterError } from "../../core/errors.ts";

/** A host and port to open a TCP connection to. */
export interface Address {
  host: string;
  port: number;
}

/** Checks `[upstream] resolve` once at start, so a typo fails loudly instead of on the first request. */
export function parseResolveMap(resolve: Readonly<Record<string, string>>): Map<string, Partial<Address>> {
  const out = new Map<string, Partial<Address>>();
  for (const [host, value] of Object.entries(resolve)) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(value.trim());
    const port = m?.[2] === undefined ? undefined : Number(m[2]);
    if (!m || (port !== undefined && (port < 1 || port > 65535))) {
      throw new MeterError(`[upstream] resolve: "${host}" = "${value}" is not an address`, {
        hint: 'Write an IP, or IP and port, e.g. "api.openai.com" = "127.0.0.1:9443".',
      });
    }
    out.set(host.toLowerCase(), { host: m[1].replace(/^\[|\]$/g, ""), port });
  }
  return out;
}

/** The address to connect to for `target`, after the resolve overrides. */
export function resolveTarget(target: Address, overrides: ReadonlyMap<string, Partial<Address>>): Address {
  const o = overrides.get(target.host.toLowerCase());
  return o ? { host: o.host ?? target.host, port: o.port ?? target.port } : target;
}
