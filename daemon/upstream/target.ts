/**
 * Where an upstream connection really goes: `[upstream] resolve` maps a host to "ip" or "ip:port" (tests and
 * unusual networks point provider hosts elsewhere); the TLS server name stays the original host.
 *
 * @module
 */
import { MeterError } from "../../core/errors.ts";
import { judgeResolve } from "../../core/upstream.ts";

/** A host and port to open a TCP connection to. */
export interface Address {
  host: string;
  port: number;
}

/**
 * `[upstream] resolve` as judged by `core/upstream.ts` (the edge's verdict too).
 *
 * @throws {MeterError} when an entry is not an address (a config load refuses it before this).
 */
export function parseResolveMap(resolve: Readonly<Record<string, string>>): Map<string, Partial<Address>> {
  const r = judgeResolve(resolve);
  if ("expected" in r) {
    throw new MeterError(`[upstream] resolve: expected ${r.expected}`, {
      hint: "Fix [upstream] resolve in config.toml.",
    });
  }
  const out = new Map<string, Partial<Address>>();
  for (const [host, to] of r.value) out.set(host, { host: to.host.replace(/^\[|\]$/g, ""), port: to.port });
  return out;
}

/** The address to connect to for `target`, after the resolve overrides. */
export function resolveTarget(target: Address, overrides: ReadonlyMap<string, Partial<Address>>): Address {
  const o = overrides.get(target.host.toLowerCase());
  return o ? { host: o.host ?? target.host, port: o.port ?? target.port } : target;
}
