/**
 * Chaining through a corporate HTTP proxy (`[upstream] proxy`): a CONNECT tunnel to the target, over which the
 * caller then runs TLS, so the proxy sees only the host name and encrypted bytes.
 *
 * @module
 */
import { MeterError } from "../../core/errors.ts";
import { judgeProxy } from "../../core/upstream.ts";
import type { Address } from "./target.ts";

/** A parsed `[upstream] proxy`. */
export interface ProxySettings {
  host: string;
  port: number;
  /** `Basic …` when the URL carried credentials. */
  authorization?: string;
}

/**
 * `[upstream] proxy` as judged by `core/upstream.ts` (the edge's verdict too); an empty string means no proxy.
 *
 * @throws {MeterError} when the value is not a proxy address (a config load refuses it before this).
 */
export function parseProxyUrl(value: string): ProxySettings | undefined {
  const r = judgeProxy(value);
  if ("expected" in r) {
    throw new MeterError(`[upstream] proxy: "${value}" is not usable: expected ${r.expected}`, {
      hint: "Fix [upstream] proxy in config.toml.",
    });
  }
  if (!r.value) return undefined;
  return { ...r.value, host: r.value.host.replace(/^\[|\]$/g, "") };
}

const MAX_REPLY = 16 * 1024;

/** Opens a tunnel to `target` through `proxy`; rejects when the proxy refuses, fails or takes too long. */
export async function connectViaProxy(
  proxy: ProxySettings,
  target: Address,
  timeoutMs: number,
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: proxy.host, port: proxy.port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  const where = `upstream proxy ${proxy.host}:${proxy.port}`;
  try {
    const authority = target.host.includes(":")
      ? `[${target.host}]:${target.port}`
      : `${target.host}:${target.port}`;
    const request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n` +
      (proxy.authorization ? `Proxy-Authorization: ${proxy.authorization}\r\n` : "") + "\r\n";
    let out = new TextEncoder().encode(request);
    while (out.length) out = out.subarray(await conn.write(out));
    let reply = "";
    const buf = new Uint8Array(4096);
    while (!reply.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) throw new Error(`${where} closed the connection`);
      reply += new TextDecoder("latin1").decode(buf.subarray(0, n));
      if (reply.length > MAX_REPLY) throw new Error(`${where} sent a reply head that is too large`);
    }
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1];
    if (status !== "200") {
      throw new Error(
        status ? `${where} answered ${status} to CONNECT` : `${where} answered something that is not HTTP`,
      );
    }
    // The proxy must stay silent until our TLS ClientHello; bytes here mean a confused tunnel.
    if (!reply.endsWith("\r\n\r\n")) throw new Error(`${where} sent bytes before the tunnel was used`);
    return conn;
  } catch (e) {
    try {
      conn.close();
    } catch { /* closed by the timer */ }
    throw e instanceof Error && e.name !== "BadResource" ? e : new Error(`${where}: no answer in time`);
  } finally {
    clearTimeout(timer);
  }
}
