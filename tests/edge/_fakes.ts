/**
 * Small local servers and a raw proxy client for the edge's tests: a TCP server with a per-connection script,
 * a plain HTTP/1.1 origin that records the heads it receives, and a corporate proxy that records its
 * `CONNECT`s. Everything binds 127.0.0.1 and closes every socket on `close()`.
 *
 * @module
 */

/** A port nothing listens on; shared with every test that starts real processes. */
export { freePort } from "../../testkit/processes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A running test server. */
export interface TestServer {
  port: number;
  /** How many connections it accepted. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** Starts a TCP server on 127.0.0.1 that runs `script` for each connection and then closes it. */
export function startTcpServer(script: (conn: Deno.Conn) => Promise<void>): TestServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let accepted = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      const t = script(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* the script closed it */ }
      });
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed already */ }
      }
      await Promise.allSettled([...tasks]);
    },
  };
}

/** Reads `conn` to its end. */
export async function readAll(conn: { read(p: Uint8Array): Promise<number | null> }): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(16384);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Writes all of `data`. */
export async function writeText(
  conn: { write(p: Uint8Array): Promise<number> },
  data: string | Uint8Array,
): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Reads up to and including the first `\r\n\r\n`; returns the head as text and any bytes after it. */
export async function readHeadText(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array }> {
  let data = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  while (true) {
    for (let i = 0; i + 3 < data.length; i++) {
      if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) {
        return { head: decoder.decode(data.subarray(0, i + 4)), rest: data.slice(i + 4) };
      }
    }
    const n = await conn.read(buf);
    if (n === null) return { head: decoder.decode(data), rest: new Uint8Array() };
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buf.subarray(0, n), data.length);
    data = next;
  }
}

/** An echo server: sends back what it reads and half-closes when the client does. */
export function startEchoServer(): TestServer {
  return startTcpServer(async (conn) => {
    const buf = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      await writeText(conn, buf.slice(0, n));
    }
    await conn.closeWrite();
  });
}

/** A plain HTTP/1.1 origin that records each request head and answers `plain ok <path>`, then closes. */
export interface RecordingOrigin extends TestServer {
  heads: string[];
}

/** Starts a {@linkcode RecordingOrigin}. Its answer carries hop-by-hop headers the edge must drop. */
export function startRecordingOrigin(): RecordingOrigin {
  const heads: string[] = [];
  const server = startTcpServer(async (conn) => {
    const { head } = await readHeadText(conn);
    heads.push(head);
    const path = head.split(" ")[1] ?? "";
    const body = `plain ok ${path}`;
    await writeText(
      conn,
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n` +
        `Keep-Alive: timeout=5\r\nConnection: keep-alive\r\nX-Origin: recording\r\n\r\n${body}`,
    );
  });
  return Object.assign(server, { heads });
}

/** A corporate proxy: records `CONNECT` heads, demands `Proxy-Authorization` when given one, relays. */
export interface FakeCorporateProxy extends TestServer {
  heads: string[];
}

/** Starts a {@linkcode FakeCorporateProxy} that tunnels every accepted `CONNECT` to `tunnelTo`. */
export function startCorporateProxy(
  tunnelTo: { hostname: string; port: number },
  requiredAuthorization?: string,
): FakeCorporateProxy {
  const heads: string[] = [];
  const server = startTcpServer(async (conn) => {
    const { head, rest } = await readHeadText(conn);
    heads.push(head);
    if (requiredAuthorization && !head.includes(`Proxy-Authorization: ${requiredAuthorization}\r\n`)) {
      await writeText(conn, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (!head.startsWith("CONNECT ")) {
      await writeText(conn, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied");
      return;
    }
    const upstream = await Deno.connect(tunnelTo);
    try {
      await writeText(conn, "HTTP/1.1 200 Connection established\r\n\r\n");
      if (rest.length) await writeText(upstream, rest);
      const copy = async (a: Deno.Conn, b: Deno.Conn) => {
        const buf = new Uint8Array(16384);
        while (true) {
          const n = await a.read(buf);
          if (n === null) break;
          await writeText(b, buf.slice(0, n));
        }
        await b.closeWrite();
      };
      await Promise.all([copy(conn, upstream), copy(upstream, conn)]);
    } finally {
      upstream.close();
    }
  });
  return Object.assign(server, { heads });
}

/**
 * Opens a connection to the edge and sends `CONNECT target` with `headers`; returns the connection, the
 * edge's answer head and any bytes after it.
 */
export async function connectThrough(
  edgePort: number,
  target: string,
  headers: Record<string, string> = {},
  early?: string,
): Promise<{ conn: Deno.TcpConn; head: string; rest: Uint8Array }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: edgePort });
  const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  await writeText(conn, lines.join("\r\n") + "\r\n\r\n" + (early ?? ""));
  const { head, rest } = await readHeadText(conn);
  return { conn, head, rest };
}

/** Sends raw bytes to the edge and returns everything it answers before closing. */
export async function rawExchange(edgePort: number, bytes: string | Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: edgePort });
  try {
    await writeText(conn, bytes);
    return decoder.decode(await readAll(conn));
  } finally {
    conn.close();
  }
}

/** Text of `bytes`. */
export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
