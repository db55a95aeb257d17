/**
 * Bench section "metering": a realistic metered call — an Anthropic Messages stream of 50 SSE events with
 * usage to parse, price and store — sent to the fake provider directly and through edge + daemon (real
 * processes) in one run. Added latency to the whole stream at p50 and p99 on warm connections, how many rows
 * per second the daemon writes under 8 concurrent clients, and a check that every call wrote exactly one row.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { fakeWorld } from "../../testkit/world.ts";
import { accepts, daemonHealthy, spawnMeter, stop, stopAll, waitFor } from "../../testkit/processes.ts";
import type { BenchResult } from "../bench.ts";
import { percentile, sampleLatencies } from "./_measure.ts";

/** anthropic_stream.sse has 16 events; 34 more text deltas make the 50 of a short real answer. */
const STREAM = "/v1/messages?fixture=anthropic_stream.sse&model=claude-opus-4-5-20251101&deltas=34";
const BODY = JSON.stringify({
  model: "claude-opus-4-5",
  max_tokens: 1024,
  stream: true,
  messages: [{ role: "user", content: "What is 27 × 453?" }],
});
const WARMUP = 100;
const SAMPLES = 1000;
const LOAD_CALLS = 2000;
const CONCURRENCY = 8;

interface Target {
  client: Deno.HttpClient;
  base: string;
}

/** One streamed call, read to its last byte. */
async function call(t: Target): Promise<void> {
  const res = await fetch(`${t.base}${STREAM}`, { method: "POST", body: BODY, client: t.client });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`status ${res.status}`);
}

function latencies(t: Target): Promise<number[]> {
  return sampleLatencies(() => call(t), WARMUP, SAMPLES);
}

/** Runs the section; returns its figures. */
export async function run(): Promise<BenchResult[]> {
  const world = await fakeWorld({
    prefix: "hm-bench-metering-",
    hosts: ["api.anthropic.com"],
    config: `[logging]\nlevel = "warn"\n`,
  });
  const { dir, fake, ports } = world;
  const daemon = spawnMeter(dir, "daemon");
  const edge = spawnMeter(dir, "edge");
  const clients: Deno.HttpClient[] = [];
  const rowCount = () => {
    const db = new DatabaseSync(join(dir, "db.sqlite"), { readOnly: true });
    try {
      return Number((db.prepare("SELECT COUNT(*) AS n FROM requests").get() as { n: number }).n);
    } finally {
      db.close();
    }
  };
  try {
    await waitFor("daemon", () => daemonHealthy(ports.api));
    await waitFor("edge", () => accepts(ports.edge));
    const ourCa = await Deno.readTextFile(join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"));
    const direct = (): Target => {
      const client = Deno.createHttpClient({ caCerts: [fake.caPem], http2: false });
      clients.push(client);
      return { client, base: `https://127.0.0.1:${fake.port}` };
    };
    const proxied = (): Target => {
      const client = Deno.createHttpClient({
        caCerts: [ourCa],
        proxy: { url: `http://127.0.0.1:${ports.edge}` },
        http2: false,
      });
      clients.push(client);
      return { client, base: "https://api.anthropic.com" };
    };

    const d = await latencies(direct());
    const p = await latencies(proxied());

    const targets = Array.from({ length: CONCURRENCY }, proxied);
    const before = rowCount();
    let next = 0;
    const started = performance.now();
    await Promise.all(targets.map(async (t) => {
      while (next++ < LOAD_CALLS) await call(t);
    }));
    const served = performance.now();
    // Rows land a flush interval after their call ends: the rate counts until the last one is readable.
    while (rowCount() < before + LOAD_CALLS && performance.now() - served < 10_000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const written = performance.now();

    for (const c of clients.splice(0)) c.close();
    await stop(daemon);
    const calls = WARMUP + SAMPLES + LOAD_CALLS;
    const rows = rowCount();
    if (rows !== calls) throw new Error(`metering bench: ${calls} metered calls but ${rows} rows`);

    const round = (n: number) => Math.round(n * 1000) / 1000;
    return [
      { name: "metering: 50-event Anthropic SSE, direct p50", value: round(percentile(d, 0.5)), unit: "ms" },
      {
        name: "metering: 50-event Anthropic SSE, through edge+daemon p50",
        value: round(percentile(p, 0.5)),
        unit: "ms",
      },
      {
        name: "metering: added latency to the whole stream p50",
        value: round(percentile(p, 0.5) - percentile(d, 0.5)),
        unit: "ms",
        note: `${SAMPLES} sequential calls each, warm keep-alive`,
      },
      {
        name: "metering: added latency to the whole stream p99",
        value: round(percentile(p, 0.99) - percentile(d, 0.99)),
        unit: "ms",
        note: `${SAMPLES} sequential calls each, warm keep-alive`,
      },
      {
        name: `metering: rows written per second, ${CONCURRENCY} concurrent clients`,
        value: Math.round(LOAD_CALLS / ((written - started) / 1000)),
        unit: "rows/s",
        note: `${LOAD_CALLS} calls served in ${((served - started) / 1000).toFixed(2)} s, last row +${
          (written - served).toFixed(0)
        } ms`,
      },
      {
        name: "metering: rows in the database after SIGTERM",
        value: rows,
        unit: "rows",
        note: `= ${calls} metered calls, none lost or doubled`,
      },
    ];
  } finally {
    for (const c of clients) c.close();
    await stopAll([edge, daemon]);
    await world.close();
  }
}

if (import.meta.main) console.table(await run());
