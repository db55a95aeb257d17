/**
 * Bench section `edge`: what the edge's passthrough costs. A real `halton-meter edge` process (from source, in
 * a temp home) tunnels small HTTP/1.1 requests over warm keep-alive connections to a local fake server; the
 * same requests also go straight to the server in the same run, interleaved, and the difference is the
 * edge's added latency. Then many connections load the edge at once while its resident memory is sampled.
 *
 * @module
 */
import { accepts, pinPorts, spawnMeter, stop, waitFor } from "../../testkit/processes.ts";
import type { BenchResult } from "../bench.ts";
import { percentile } from "./_measure.ts";

const RESPONSE = new TextEncoder().encode(
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}',
);
const REQUEST = new TextEncoder().encode("GET /v1/models HTTP/1.1\r\nHost: bench.local\r\n\r\n");

/** A keep-alive HTTP/1.1 server answering every {@linkcode REQUEST} with {@linkcode RESPONSE}. */
function startFakeServer(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      conn.setNoDelay(true);
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(16384);
        let received = 0;
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            // Every request the bench sends is REQUEST exactly, so counting bytes finds their ends.
            received += n;
            for (; received >= REQUEST.length; received -= REQUEST.length) await conn.write(RESPONSE);
          }
        } catch { /* the client went away */ }
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed already */ }
      })();
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await loop;
      for (const c of conns) c.close();
    },
  };
}

async function readResponse(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let got = 0;
  while (got < RESPONSE.length) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("the connection closed mid-response");
    got += n;
  }
}

/** A warm connection to the server, straight or through the edge's tunnel. */
async function open(serverPort: number, edgePort?: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: edgePort ?? serverPort });
  conn.setNoDelay(true);
  if (edgePort !== undefined) {
    await conn.write(new TextEncoder().encode(`CONNECT 127.0.0.1:${serverPort} HTTP/1.1\r\n\r\n`));
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    if (!head.startsWith("HTTP/1.1 200 ")) throw new Error(`the edge refused the tunnel: ${head}`);
  }
  return conn;
}

/** Round-trip times (ms) of `count` sequential requests on `conn`. */
async function roundTrips(conn: Deno.Conn, count: number): Promise<number[]> {
  const buf = new Uint8Array(4096);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await conn.write(REQUEST);
    await readResponse(conn, buf);
    times.push(performance.now() - t);
  }
  return times;
}

/** The anonymous part of a Linux process's RSS (MB): what the edge itself holds, without the mapped executable. */
function anonMb(pid: number): number | undefined {
  try {
    const kb = Number(/RssAnon:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1]);
    return kb ? kb / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function rssMb(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    if (kb) return kb / 1024;
  } catch { /* not Linux: ask ps */ }
  try {
    const out = new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)], stdout: "piped" })
      .outputSync();
    const kb = Number(new TextDecoder().decode(out.stdout).trim());
    return kb ? kb / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `halton-meter edge` in a temp home and waits until its port answers. */
async function spawnEdge(home: string): Promise<{ port: number; child: Deno.ChildProcess }> {
  const { edge: port } = await pinPorts(home);
  const child = spawnMeter(home, "edge");
  try {
    await waitFor("the edge", () => accepts(port), 10_000);
  } catch (e) {
    await stop(child, "SIGKILL");
    throw e;
  }
  return { port, child };
}

/** Runs the section and returns its rows. */
export async function run(): Promise<BenchResult[]> {
  const home = await Deno.makeTempDir({ prefix: "halton-meter-bench-edge-" });
  const server = startFakeServer();
  const edge = await spawnEdge(home);
  const startRss = rssMb(edge.child.pid);
  try {
    const direct = await open(server.port);
    const tunnelled = await open(server.port, edge.port);
    await roundTrips(direct, 500);
    await roundTrips(tunnelled, 500);
    const straight: number[] = [];
    const through: number[] = [];
    // Interleaved blocks, so a slow moment of the machine hits both sides alike.
    for (let block = 0; block < 10; block++) {
      straight.push(...await roundTrips(direct, 500));
      through.push(...await roundTrips(tunnelled, 500));
    }
    direct.close();
    tunnelled.close();
    straight.sort((a, b) => a - b);
    through.sort((a, b) => a - b);
    const p50 = percentile(through, 0.5) - percentile(straight, 0.5);
    const p99 = percentile(through, 0.99) - percentile(straight, 0.99);

    const idleRss = rssMb(edge.child.pid);
    let peakRss = idleRss ?? 0;
    let peakAnon = anonMb(edge.child.pid) ?? 0;
    const sampling = setInterval(() => {
      peakRss = Math.max(peakRss, rssMb(edge.child.pid) ?? 0);
      peakAnon = Math.max(peakAnon, anonMb(edge.child.pid) ?? 0);
    }, 50);
    const loadConnections = 32;
    const perConnection = 1500;
    const started = performance.now();
    await Promise.all(Array.from({ length: loadConnections }, async () => {
      const conn = await open(server.port, edge.port);
      await roundTrips(conn, perConnection);
      conn.close();
    }));
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampling);
    peakRss = Math.max(peakRss, rssMb(edge.child.pid) ?? 0);

    const round = (n: number) => Math.round(n * 1000) / 1000;
    const rows: BenchResult[] = [
      {
        name: "edge passthrough added latency p50 (small request, warm keep-alive)",
        value: round(p50),
        unit: "ms",
        target: 0.2,
        note: `direct p50 ${round(percentile(straight, 0.5))} ms, through edge ${
          round(percentile(through, 0.5))
        } ms; 5000 requests each`,
      },
      {
        name: "edge passthrough added latency p99 (small request, warm keep-alive)",
        value: round(p99),
        unit: "ms",
        note: `direct p99 ${round(percentile(straight, 0.99))} ms, through edge ${
          round(percentile(through, 0.99))
        } ms`,
      },
      {
        name: "edge throughput under load (small requests)",
        value: Math.round(loadConnections * perConnection / seconds),
        unit: "req/s",
        note: `${loadConnections} tunnels at once, one request in flight on each`,
      },
    ];
    if (peakRss > 0) {
      rows.push({
        name: "edge RSS under load",
        value: Math.round(peakRss * 10) / 10,
        unit: "MB",
        target: 60,
        note: `peak while ${loadConnections} tunnels carried ${loadConnections * perConnection} requests; ` +
          `${startRss?.toFixed(1)} MB at start, ${
            idleRss?.toFixed(1)
          } MB idle after the latency runs; run from ` +
          "source (deno run), which also holds Deno's module loader; " +
          (peakAnon ? `${peakAnon.toFixed(1)} MB of it anonymous, the rest the mapped deno executable` : ""),
      });
    }
    return rows;
  } finally {
    await stop(edge.child);
    await server.close();
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) {
  for (const row of await run()) console.log(JSON.stringify(row));
}
