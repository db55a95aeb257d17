/**
 * Read-only questions about the running meter, asked over loopback: is a port taken, does the daemon's API
 * answer `/health`, and does a request through the edge reach the daemon (the self-test that ends `init`).
 *
 * @module
 */

/** True when something accepts TCP connections on `127.0.0.1:port`. */
export async function listening(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** What the API port said to `GET /health`. */
export interface ApiHealth {
  ok: boolean;
  version?: string;
  /** Why not, when not ok. */
  detail?: string;
  /** The daemon's row writer, when it said: not writing, why, and the next step. */
  store?: { writing: boolean; reason?: string; next?: string; queued?: number; dropped?: number };
}

/** `GET http://127.0.0.1:<port>/health`, within `timeoutMs`. */
export async function apiHealth(port: number, timeoutMs = 2_000): Promise<ApiHealth> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) return { ok: false, detail: `HTTP ${res.status}` };
    const body = JSON.parse(text) as { status?: string; version?: string; store?: ApiHealth["store"] };
    const store = typeof body.store?.writing === "boolean" ? body.store : undefined;
    return body.status === "ok"
      ? { ok: true, version: body.version, store }
      : { ok: false, detail: `status ${JSON.stringify(body.status)}` };
  } catch (e) {
    return { ok: false, detail: (e as Error).message.split("\n")[0] };
  }
}

/** The host the daemon answers itself, never forwarded. */
export const SELFTEST_URL = "https://selftest.halton-meter.invalid/v1/selftest";

/** How one self-test ended. */
export interface SelfTestResult {
  ok: boolean;
  /** The daemon's version on success; what went wrong otherwise. */
  detail: string;
  attempts: number;
}

/**
 * One request through the edge (`CONNECT selftest.halton-meter.invalid:443`) to the daemon, TLS verified
 * against our CA alone, retried until it succeeds or `timeoutMs` pass (services take a moment to start).
 */
export async function selfTest(edgePort: number, caPem: string, timeoutMs = 30_000): Promise<SelfTestResult> {
  const end = Date.now() + timeoutMs;
  let detail = "not tried";
  let attempts = 0;
  while (true) {
    attempts++;
    const client = Deno.createHttpClient({
      proxy: { url: `http://127.0.0.1:${edgePort}` },
      caCerts: [caPem],
    });
    try {
      const left = Math.max(500, Math.min(5_000, end - Date.now()));
      const res = await fetch(SELFTEST_URL, { client, signal: AbortSignal.timeout(left) });
      const text = await res.text();
      const body = (() => {
        try {
          return JSON.parse(text) as { ok?: boolean; version?: string };
        } catch {
          return {};
        }
      })();
      if (res.status === 200 && body.ok === true) {
        return { ok: true, detail: `daemon ${body.version}`, attempts };
      }
      detail = `HTTP ${res.status} from the self-test host`;
    } catch (e) {
      detail = (e as Error).message.split("\n")[0];
    } finally {
      client.close();
    }
    if (Date.now() + 250 >= end) return { ok: false, detail, attempts };
    await new Promise((r) => setTimeout(r, 250));
  }
}
