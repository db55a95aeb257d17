/**
 * Bench section "versus": the meter next to mitmproxy (the original's engine) on the same stand-in in the same
 * run. Added latency of a small call on a warm keep-alive connection, added time to the first streamed byte,
 * throughput at 8 concurrent clients as a share of direct, and the CPU the proxy's processes spend per call
 * under that load (the edge and the daemon together, against mitmdump): on a laptop the meter runs all day
 * beside the user's work, so its cost per call matters more than its peak rate. The edge-alone and bare-relay
 * ceilings are in the capture section.
 *
 * @module
 */
import type { BenchResult, BenchRunOptions } from "../bench.ts";
import { percentile, sampleLatencies } from "./_measure.ts";
import { cpuDuring } from "./_proc.ts";
import { clientFor, type Rig, startRig, type Target } from "./_rig.ts";

const CONCURRENCY = 8;
const BODY = JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 64,
  messages: [{ role: "user", content: "hi" }],
});

async function call(t: Target, client: Deno.HttpClient): Promise<void> {
  const res = await fetch(`${t.base}/v1/messages?stream=0`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
    client,
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${t.name}: status ${res.status}`);
}

async function firstByte(t: Target, client: Deno.HttpClient): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${t.base}/v1/messages?events=3`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
    client,
  });
  const reader = res.body!.getReader();
  await reader.read();
  const ms = performance.now() - start;
  while (!(await reader.read()).done) { /* drain */ }
  return ms;
}

/** Calls per second with {@linkcode CONCURRENCY} clients for `ms`, and the proxy's CPU per call (µs). */
async function throughput(t: Target, ms: number): Promise<{ perSecond: number; cpuUs?: number }> {
  const clients = Array.from({ length: CONCURRENCY }, () => clientFor(t));
  try {
    for (const c of clients) await call(t, c);
    let count = 0;
    const [, cpu] = await cpuDuring(t.pids, async () => {
      const end = performance.now() + ms;
      await Promise.all(clients.map(async (c) => {
        while (performance.now() < end) {
          await call(t, c);
          count++;
        }
      }));
    });
    return { perSecond: count / (ms / 1000), cpuUs: cpu === undefined ? undefined : cpu * 1000 / count };
  } finally {
    for (const c of clients) c.close();
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
const signed = (n: number) => (n < 0 ? "" : "+") + round(n);
const sorted = (xs: number[]) => xs.sort((a, b) => a - b);

/** Runs the section; returns its rows. */
export async function run(options: BenchRunOptions = {}): Promise<BenchResult[]> {
  const samples = options.quick ? 300 : 1500;
  const loadMs = options.quick ? 1500 : 3000;
  const rounds = options.quick ? 1 : 3;
  const rig: Rig = await startRig();
  try {
    const latency = new Map<string, number[]>(rig.targets.map((t) => [t.name, []]));
    const ttfb = new Map<string, number[]>(rig.targets.map((t) => [t.name, []]));
    const clients = new Map(rig.targets.map((t) => [t.name, clientFor(t)]));
    try {
      for (const t of rig.targets) await sampleLatencies(() => call(t, clients.get(t.name)!), 100, 0);
      // Blocks alternate the targets, so a slow moment of the machine hits each alike.
      const blocks = 10;
      for (let b = 0; b < blocks; b++) {
        for (const t of rig.targets) {
          const client = clients.get(t.name)!;
          latency.get(t.name)!.push(...await sampleLatencies(() => call(t, client), 0, samples / blocks));
          for (let i = 0; i < samples / blocks / 5; i++) ttfb.get(t.name)!.push(await firstByte(t, client));
        }
      }
    } finally {
      for (const c of clients.values()) c.close();
    }
    for (const m of [latency, ttfb]) for (const xs of m.values()) sorted(xs);
    // Rounds alternate the targets, so a slow moment of the machine hits each alike; the median round counts.
    const loads = new Map<string, { perSecond: number; cpuUs?: number }[]>(
      rig.targets.map((t) => [t.name, []]),
    );
    for (const t of rig.targets.slice(1)) await throughput(t, 1000);
    for (let r = 0; r < rounds; r++) {
      for (const t of rig.targets) loads.get(t.name)!.push(await throughput(t, loadMs));
    }
    const median = (name: string, pick: (x: { perSecond: number; cpuUs?: number }) => number | undefined) => {
      const xs = loads.get(name)!.map(pick).filter((x): x is number => x !== undefined);
      return xs.length ? percentile(sorted(xs), 0.5) : undefined;
    };
    const p = (m: Map<string, number[]>, name: string, q: number) => percentile(m.get(name)!, q);
    const added = (m: Map<string, number[]>, name: string, q: number) => p(m, name, q) - p(m, "direct", q);
    const mitm = rig.mitmproxy !== undefined;
    const rows: BenchResult[] = [
      {
        name: "warm keep-alive call: added latency p50",
        value: round(added(latency, "meter", 0.5)),
        unit: "ms",
        note: [
          `direct ${round(p(latency, "direct", 0.5))} ms`,
          `meter p99 ${signed(added(latency, "meter", 0.99))} ms`,
          mitm
            ? `mitmproxy ${signed(added(latency, "mitmproxy", 0.5))} ms, p99 ${
              signed(added(latency, "mitmproxy", 0.99))
            } ms`
            : rig.mitmMissing,
        ].join("; "),
      },
      {
        name: "time to first streamed byte: added p50",
        value: round(added(ttfb, "meter", 0.5)),
        unit: "ms",
        target: 1,
        note: mitm
          ? `direct ${round(p(ttfb, "direct", 0.5))} ms; mitmproxy ${
            signed(added(ttfb, "mitmproxy", 0.5))
          } ms ` +
            "(its addon streams SSE)"
          : rig.mitmMissing,
      },
    ];
    const direct = median("direct", (x) => x.perSecond)!;
    const meter = median("meter", (x) => x.perSecond)!;
    const meterCpu = median("meter", (x) => x.cpuUs);
    const mitmRate = mitm ? median("mitmproxy", (x) => x.perSecond)! : undefined;
    const mitmCpu = mitm ? median("mitmproxy", (x) => x.cpuUs) : undefined;
    rows.push({
      name: `throughput at ${CONCURRENCY} concurrent: meter ÷ mitmproxy`,
      value: mitmRate ? round(meter / mitmRate) : NaN,
      unit: "×",
      target: mitmRate ? 1.5 : undefined,
      higherIsBetter: true,
      note: [
        `meter ${Math.round(meter)} req/s (${round(meter / direct * 100)} % of direct)`,
        mitmRate
          ? `mitmproxy ${Math.round(mitmRate)} req/s (${round(mitmRate / direct * 100)} % of direct)`
          : rig.mitmMissing,
        `direct ${Math.round(direct)} req/s; median of ${rounds} alternating rounds of ${loadMs / 1000} s`,
      ].join("; "),
    });
    if (meterCpu !== undefined) {
      rows.push({
        name: "CPU per metered call under load (edge + daemon)",
        value: Math.round(meterCpu),
        unit: "µs",
        target: mitmCpu === undefined ? undefined : Math.round(mitmCpu / 4),
        note: mitmCpu === undefined
          ? rig.mitmMissing ?? "mitmproxy's CPU could not be read"
          : `mitmproxy ${Math.round(mitmCpu)} µs per call; target ¼ of it; the meter spends ${
            round(meterCpu / mitmCpu * 100)
          } %`,
      });
    }
    return rows;
  } finally {
    await rig.close();
  }
}

if (import.meta.main) {
  for (const row of await run({ quick: Deno.args.includes("--quick") })) console.log(JSON.stringify(row));
}
