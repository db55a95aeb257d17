/**
 * A tiny stand-in for the daemon, for the edge's tests: an intercept port that answers the edge's `CONNECT`
 * handover, records the `x-halton-client` and `x-halton-project` it was given and then relays the bytes to a
 * fixed address (the local fake provider), and an api port answering `GET /health`. How it answers can be
 * changed while it runs, to play a daemon that crashes, hangs or refuses.
 *
 * @module
 */

/** One handover the fake received. */
export interface SeenHandover {
  /** The `CONNECT` target, `host:port`. */
  target: string;
  client?: string;
  project?: string;
}

/** How the intercept port answers a handover. */
export type HandoverBehaviour =
  /** `200`, then relay to `forwardTo`. */
  | "accept"
  /** Read the `CONNECT`, then close without a word (a daemon crashing mid-handover). */
  | "hang-up"
  /** Read the `CONNECT` and never answer. */
  | "silent"
  /** Answer `503 Service Unavailable`. */
  | "refuse";

/** A running fake daemon. */
export interface FakeDaemon {
  readonly interceptPort: number;
  readonly apiPort: number;
  /** Every handover, in order of arrival. */
  readonly handovers: SeenHandover[];
  /** How many `GET /health` it answered. */
  readonly healthChecks: number;
  /** How many connections reached the intercept port. */
  readonly interceptConnections: number;
  behaviour: HandoverBehaviour;
  /** What `/health` says: `{"status":"ok"}` when true, a `503` `{"status":"starting"}` otherwise. */
  healthy: boolean;
  /** Closes both ports (as a dead daemon would) and lets relays already running finish. */
  stop(): Promise<void>;
  /** {@linkcode FakeDaemon.stop}, then closes every relay too. */
  close(): Promise<void>;
}

/** Where the fake listens and where accepted handovers go. */
export interface FakeDaemonOptions {
  /** Address accepted handovers are relayed to. */
  forwardTo: { hostname: string; port: number };
  /** Fixed ports (to come back on the same ones after a stop); 0 or absent picks free ones. */
  interceptPort?: number;
  apiPort?: number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

async function readUntilBlankLine(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array } | undefined> {
  let data = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  while (data.length < 65536) {
    const n = await conn.read(buf);
    if (n === null) return undefined;
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buf.subarray(0, n), data.length);
    data = next;
    for (let i = 0; i + 3 < data.length; i++) {
      if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) {
        return { head: decoder.decode(data.subarray(0, i)), rest: data.slice(i + 4) };
      }
    }
  }
  return undefined;
}

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16384);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
    await to.closeWrite();
  } catch {
    try {
      from.close();
    } catch { /* closed already */ }
    try {
      to.close();
    } catch { /* closed already */ }
  }
}

/** Starts the fake on 127.0.0.1. */
export function startFakeDaemon(options: FakeDaemonOptions): FakeDaemon {
  const intercept = Deno.listen({ hostname: "127.0.0.1", port: options.interceptPort ?? 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let healthChecks = 0;
  let interceptConnections = 0;

  const api = Deno.serve({
    hostname: "127.0.0.1",
    port: options.apiPort ?? 0,
    onListen: () => {},
  }, (req) => {
    if (new URL(req.url).pathname !== "/health") return new Response("not found", { status: 404 });
    healthChecks++;
    return fake.healthy
      ? Response.json({ status: "ok", version: "fake" })
      : Response.json({ status: "starting" }, { status: 503 });
  });

  const closeConn = (c: Deno.Conn) => {
    try {
      c.close();
    } catch { /* closed already */ }
    conns.delete(c);
  };

  const handle = async (conn: Deno.Conn) => {
    conns.add(conn);
    let upstream: Deno.Conn | undefined;
    try {
      const got = await readUntilBlankLine(conn);
      if (!got) return;
      const lines = got.head.split("\r\n");
      const header = (name: string) =>
        lines.slice(1).find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
      fake.handovers.push({
        target: lines[0].split(" ")[1],
        client: header("x-halton-client"),
        project: header("x-halton-project"),
      });
      switch (fake.behaviour) {
        case "hang-up":
          return;
        case "silent":
          await conn.read(new Uint8Array(1));
          return;
        case "refuse":
          await conn.write(encoder.encode("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"));
          return;
        case "accept": {
          upstream = await Deno.connect(options.forwardTo);
          conns.add(upstream);
          await conn.write(encoder.encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
          if (got.rest.length) await upstream.write(got.rest);
          await Promise.all([copy(conn, upstream), copy(upstream, conn)]);
        }
      }
    } catch {
      /* the edge or the provider went away: nothing to record */
    } finally {
      closeConn(conn);
      if (upstream) closeConn(upstream);
    }
  };

  const accepting = (async () => {
    for await (const conn of intercept) {
      interceptConnections++;
      const t = handle(conn);
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })().catch(() => {});

  let stopped: Promise<void> | undefined;
  const fake: FakeDaemon = {
    interceptPort: intercept.addr.port,
    apiPort: api.addr.port,
    handovers: [],
    get healthChecks() {
      return healthChecks;
    },
    get interceptConnections() {
      return interceptConnections;
    },
    behaviour: "accept",
    healthy: true,
    stop() {
      stopped ??= (async () => {
        intercept.close();
        await accepting;
        await api.shutdown();
      })();
      return stopped;
    },
    async close() {
      await fake.stop();
      for (const c of [...conns]) closeConn(c);
      await Promise.allSettled([...tasks]);
    },
  };
  return fake;
}
