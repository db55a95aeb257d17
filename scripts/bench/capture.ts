/**
 * Bench section "capture": the same requests to the fake provider directly and through edge + daemon (real
 * processes started with the command the services use), in one run. Added latency on warm keep-alive
 * connections (HTTP/1.1, and HTTP/2 from the client), throughput at 8 concurrent, added time to the first
 * streamed byte, and under that load the CPU each process spends per request and the resident memory of both.
 *
 * On a small machine the client, the fake provider, the edge and the daemon share the cores, so throughput
 * through the meter is bounded by the CPU all three processes spend per request, not by any wait: the CPU
 * figures say where it goes.
 *
 * @module
 */
import { join } from "node:path";
import { fakeWorld } from "../../tests/helpers/world.ts";
import { accepts, daemonHealthy, spawnMeter, stopAll, waitFor } from "../../tests/helpers/processes.ts";
import type { BenchResult } from "../bench.ts";
import { percentile, sampleLatencies } from "./_measure.ts";
const SAMPLES = 2000;
const WARMUP = 200;
const THROUGHPUT_MS = 3000;
const CONCURRENCY = 8;

/** CPU time (user + system, ms) a process has used so far; Linux only. */
function cpuMs(pid: number): number | undefined {
  try {
    const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    // utime and stime are in clock ticks, 100 per second on every Linux Deno runs on.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Resident memory (MB) of a process: total, anonymous, and file-backed (the mapped executable). */
function rss(pid: number): { total: number; anon: number; file: number } | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    return { total: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
  } catch {
    return undefined;
  }
}

/** Runs the section; returns its rows. */
export async function run(): Promise<BenchResult[]> {
  const world = await fakeWorld({
    prefix: "hm-bench-capture-",
    hosts: ["api.openai.com"],
    config: `[logging]\nlevel = "warn"\n`,
  });
  const { dir, fake, ports } = world;
  const daemon = spawnMeter(dir, "daemon");
  const edge = spawnMeter(dir, "edge");
  const clients: Deno.HttpClient[] = [];
  try {
    await waitFor("daemon", () => daemonHealthy(ports.api));
    await waitFor("edge", () => accepts(ports.edge));
    const ourCa = await Deno.readTextFile(join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"));
    const direct = () => {
      const client = Deno.createHttpClient({ caCerts: [fake.caPem], http2: false });
      clients.push(client);
      return { client, base: `https://127.0.0.1:${fake.port}` };
    };
    const proxied = (http2 = false) => {
      const client = Deno.createHttpClient({
        caCerts: [ourCa],
        proxy: { url: `http://127.0.0.1:${ports.edge}` },
        http2,
      });
      clients.push(client);
      return { client, base: "https://api.openai.com" };
    };
    const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    const call = async (t: { client: Deno.HttpClient; base: string }) => {
      const res = await fetch(`${t.base}/v1/chat/completions`, { method: "POST", body, client: t.client });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    };
    const latencies = (t: { client: Deno.HttpClient; base: string }) =>
      sampleLatencies(() => call(t), WARMUP, SAMPLES);
    const ttfb = async (t: { client: Deno.HttpClient; base: string }) => {
      const out: number[] = [];
      for (let i = 0; i < 300; i++) {
        const s = performance.now();
        const res = await fetch(`${t.base}/v1/messages?events=3`, { client: t.client });
        const reader = res.body!.getReader();
        await reader.read();
        if (i >= 50) out.push(performance.now() - s);
        while (!(await reader.read()).done) { /* drain */ }
      }
      return out.sort((a, b) => a - b);
    };
    type Peak = { total: number; anon: number; file: number };
    const throughput = async (make: () => { client: Deno.HttpClient; base: string }, peaks?: Peak[]) => {
      const targets = Array.from({ length: CONCURRENCY }, make);
      for (const t of targets) await call(t);
      let count = 0;
      const end = performance.now() + THROUGHPUT_MS;
      const cpuBefore = [daemon.pid, edge.pid].map(cpuMs);
      const sampler = peaks
        ? setInterval(() => {
          [daemon.pid, edge.pid].forEach((pid, i) => {
            const now = rss(pid);
            if (now && (!peaks[i] || now.total > peaks[i].total)) peaks[i] = now;
          });
        }, 100)
        : undefined;
      await Promise.all(targets.map(async (t) => {
        while (performance.now() < end) {
          await call(t);
          count++;
        }
      }));
      clearInterval(sampler);
      const cpuPer1000 = [daemon.pid, edge.pid].map(cpuMs).map((after, i) => {
        const before = cpuBefore[i];
        return after === undefined || before === undefined ? undefined : (after - before) / count * 1000;
      });
      return { perSecond: count / (THROUGHPUT_MS / 1000), cpuPer1000 };
    };

    const d = await latencies(direct());
    const p = await latencies(proxied());
    const p2 = await latencies(proxied(true));
    const td = await ttfb(direct());
    const tp = await ttfb(proxied());
    const peaks: Peak[] = [];
    const rd = (await throughput(direct)).perSecond;
    const through = await throughput(() => proxied(), Deno.build.os === "linux" ? peaks : undefined);
    const rp = through.perSecond;
    const round = (n: number) => Math.round(n * 1000) / 1000;
    const rows: BenchResult[] = [
      {
        name: "capture: added latency p50 (warm keep-alive)",
        value: round(percentile(p, 0.5) - percentile(d, 0.5)),
        unit: "ms",
        target: 0.5,
        note: `direct ${round(percentile(d, 0.5))} ms, through edge+daemon ${round(percentile(p, 0.5))} ms`,
      },
      {
        name: "capture: added latency p99 (warm keep-alive)",
        value: round(percentile(p, 0.99) - percentile(d, 0.99)),
        unit: "ms",
        target: 3,
      },
      {
        name: "capture: added latency p50, client speaking HTTP/2 to the daemon",
        value: round(percentile(p2, 0.5) - percentile(d, 0.5)),
        unit: "ms",
        note: `through edge+daemon ${round(percentile(p2, 0.5))} ms; p99 +${
          round(percentile(p2, 0.99) - percentile(d, 0.99))
        } ms (the fake provider speaks HTTP/1.1 only)`,
      },
      {
        name: "capture: throughput through edge+daemon, 8 concurrent, as % of direct",
        value: Math.round(rp / rd * 1000) / 10,
        unit: "%",
        target: 60,
        higherIsBetter: true,
        note: `${Math.round(rp)} req/s through, ${Math.round(rd)} req/s direct`,
      },
      {
        name: "capture: added time to first streamed byte p50",
        value: round(percentile(tp, 0.5) - percentile(td, 0.5)),
        unit: "ms",
        target: 1,
      },
    ];
    const [daemonCpu, edgeCpu] = through.cpuPer1000;
    if (daemonCpu !== undefined && edgeCpu !== undefined) {
      rows.push(
        {
          name: "capture: daemon CPU per 1000 requests under load",
          value: Math.round(daemonCpu),
          unit: "ms",
          note: "user + system; 1000 ms per 1000 requests would fill one core at 1000 req/s",
        },
        { name: "capture: edge CPU per 1000 requests under load", value: Math.round(edgeCpu), unit: "ms" },
      );
    }
    const mb = (r: Peak) =>
      `${Math.round(r.anon)} MB anonymous + ${Math.round(r.file)} MB mapped files (the deno executable, ` +
      "shared with every deno process)";
    for (const [i, role, target] of [[0, "daemon", 150], [1, "edge", 60]] as const) {
      const peak = peaks[i];
      if (!peak) continue;
      rows.push({
        name: `capture: ${role} RSS under load (peak)`,
        value: Math.round(peak.total),
        unit: "MB",
        target,
        note: mb(peak),
      });
    }
    return rows;
  } finally {
    for (const c of clients) c.close();
    await stopAll([edge, daemon]);
    await world.close();
  }
}

if (import.meta.main) {
  for (const row of await run()) console.log(JSON.stringify(row));
}
