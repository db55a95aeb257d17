/**
 * Bench section "capture": the same requests to the fake provider directly and through edge + daemon (real
 * processes), in one run. Added latency on warm keep-alive connections, throughput at 8 concurrent, added
 * time to the first streamed byte, and the daemon's RSS under that load.
 *
 * @module
 */
import { join } from "node:path";
import { startFakeProvider } from "../../tests/helpers/fake_provider.ts";

/** One bench figure. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target?: string;
  ratio?: number;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const SAMPLES = 2000;
const WARMUP = 200;
const THROUGHPUT_MS = 3000;
const CONCURRENCY = 8;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not start`);
}

/** Runs the section; returns its rows. */
export async function run(): Promise<BenchRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "hm-bench-capture-" });
  const fake = await startFakeProvider(dir);
  const ports = { edge: freePort(), intercept: freePort(), api: freePort() };
  await Deno.writeTextFile(join(dir, "effective-ports.json"), JSON.stringify(ports));
  await Deno.writeTextFile(
    join(dir, "config.toml"),
    `[upstream]\nca_file = ${
      JSON.stringify(fake.caFile)
    }\nresolve = { "api.openai.com" = "127.0.0.1:${fake.port}" }\n` +
      `[logging]\nlevel = "warn"\n`,
  );
  const env = { HALTON_METER_HOME: dir, HOME: dir };
  const spawn = (command: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, command],
      env,
      stdout: "null",
      stderr: "null",
    })
      .spawn();
  const daemon = spawn("daemon");
  const edge = spawn("edge");
  const clients: Deno.HttpClient[] = [];
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.api}/health`)).ok, "daemon");
    await waitFor(async () => {
      (await Deno.connect({ hostname: "127.0.0.1", port: ports.edge })).close();
      return true;
    }, "edge");
    const ourCa = await Deno.readTextFile(join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"));
    const direct = () => {
      const client = Deno.createHttpClient({ caCerts: [fake.caPem], http2: false });
      clients.push(client);
      return { client, base: `https://127.0.0.1:${fake.port}` };
    };
    const proxied = () => {
      const client = Deno.createHttpClient({
        caCerts: [ourCa],
        proxy: { url: `http://127.0.0.1:${ports.edge}` },
        http2: false,
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
    const latencies = async (t: { client: Deno.HttpClient; base: string }) => {
      for (let i = 0; i < WARMUP; i++) await call(t);
      const out: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const s = performance.now();
        await call(t);
        out.push(performance.now() - s);
      }
      return out.sort((a, b) => a - b);
    };
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
    const throughput = async (make: () => { client: Deno.HttpClient; base: string }, rss?: number[]) => {
      const targets = Array.from({ length: CONCURRENCY }, make);
      for (const t of targets) await call(t);
      let count = 0;
      const end = performance.now() + THROUGHPUT_MS;
      const sampler = rss
        ? setInterval(() => {
          const kb = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${daemon.pid}/status`))?.[1];
          if (kb) rss.push(Number(kb) / 1024);
        }, 100)
        : undefined;
      await Promise.all(targets.map(async (t) => {
        while (performance.now() < end) {
          await call(t);
          count++;
        }
      }));
      clearInterval(sampler);
      return count / (THROUGHPUT_MS / 1000);
    };

    const d = await latencies(direct());
    const p = await latencies(proxied());
    const td = await ttfb(direct());
    const tp = await ttfb(proxied());
    const rss: number[] = [];
    const rd = await throughput(direct);
    const rp = await throughput(proxied, Deno.build.os === "linux" ? rss : undefined);
    const round = (n: number) => Math.round(n * 1000) / 1000;
    const rows: BenchRow[] = [
      { name: "capture: direct p50", value: round(percentile(d, 0.5)), unit: "ms" },
      { name: "capture: through edge+daemon p50", value: round(percentile(p, 0.5)), unit: "ms" },
      {
        name: "capture: added latency p50 (warm keep-alive)",
        value: round(percentile(p, 0.5) - percentile(d, 0.5)),
        unit: "ms",
        target: "≤ 0.5 ms",
      },
      {
        name: "capture: added latency p99 (warm keep-alive)",
        value: round(percentile(p, 0.99) - percentile(d, 0.99)),
        unit: "ms",
        target: "≤ 3 ms",
      },
      { name: "capture: throughput direct, 8 concurrent", value: Math.round(rd), unit: "req/s" },
      {
        name: "capture: throughput through edge+daemon, 8 concurrent",
        value: Math.round(rp),
        unit: "req/s",
        target: "≥ 60 % of direct",
        ratio: round(rp / rd),
      },
      {
        name: "capture: added time to first streamed byte p50",
        value: round(percentile(tp, 0.5) - percentile(td, 0.5)),
        unit: "ms",
        target: "≤ 1 ms",
      },
    ];
    if (rss.length) {
      rows.push({
        name: "capture: daemon RSS under load (max)",
        value: Math.round(Math.max(...rss)),
        unit: "MB",
        target: "≤ 150 MB",
      });
    }
    return rows;
  } finally {
    for (const c of clients) c.close();
    for (const child of [edge, daemon]) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    }
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) console.table(await run());
