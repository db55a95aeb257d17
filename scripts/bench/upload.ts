/**
 * Bench section "upload": coding agents send the whole conversation on every call, so 100 KB–1 MB request
 * bodies are their normal. A 1 MB Messages request with a streamed answer goes directly, through the meter and
 * through mitmproxy, interleaved, on warm keep-alive connections; the row is the time from sending to the first
 * streamed byte. A second check sends the first 256 KB of a body and holds the rest until the stand-in has seen
 * some of it: a proxy that buffers uploads whole never lets it through, and the check says so.
 *
 * @module
 */
import type { BenchResult, BenchRunOptions } from "../bench.ts";
import { percentile } from "./_measure.ts";
import { clientFor, type Rig, startRig, type Target } from "./_rig.ts";

const SIZE = 1024 * 1024;
const HOLD_AFTER = 256 * 1024;
const HOLD_LIMIT_MS = 3000;
/**
 * Uploads each way sends before any is timed. The direct path itself reaches its steady speed only after some
 * 45 uploads (about 13 ms a call, then 6.5, then 1.8: the stand-in and the client, which every way shares,
 * warming up), and the daemon's first full collection comes after about 25: the row measured warming up.
 */
const WARM_CALLS = 50;
/**
 * Timed uploads each way. About one call in four, direct as through a proxy, is several milliseconds slow (the
 * client and the stand-in), so the p50 of 40 moved by up to 5 ms between runs of one tree; 120 cost about 3 s.
 */
const SAMPLES = 120;

/** A Messages request of about `size` bytes (never more): a long conversation, as an agent resends it. */
function conversation(size: number): Uint8Array<ArrayBuffer> {
  const turn = "Here is the file you asked for, with the change applied. ".repeat(40);
  const messages: { role: string; content: string }[] = [];
  const request = { model: "claude-sonnet-4-5", max_tokens: 1024, stream: true, messages };
  // Each turn adds its text and at most 64 bytes of JSON around it.
  for (
    let length = JSON.stringify(request).length;
    length + turn.length + 64 < size;
    length += turn.length + 64
  ) {
    messages.push({ role: messages.length % 2 ? "assistant" : "user", content: turn });
  }
  return new TextEncoder().encode(JSON.stringify(request));
}

/** Milliseconds from sending `body` to the first streamed byte; the rest of the answer is read too. */
async function timeToFirstByte(
  t: Target,
  client: Deno.HttpClient,
  body: Uint8Array<ArrayBuffer>,
): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${t.base}/v1/messages?events=3`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    client,
  });
  const reader = res.body!.getReader();
  await reader.read();
  const ms = performance.now() - start;
  while (!(await reader.read()).done) { /* drain */ }
  if (res.status !== 200) throw new Error(`${t.name}: status ${res.status}`);
  return ms;
}

/**
 * Sends the first {@linkcode HOLD_AFTER} bytes of an upload and waits until the stand-in has received some
 * (asked over a direct connection); returns how long that took, or undefined when nothing arrived within
 * {@linkcode HOLD_LIMIT_MS}: the upload is buffered whole.
 */
async function firstBytesForwarded(
  rig: Rig,
  t: Target,
  client: Deno.HttpClient,
  body: Uint8Array,
): Promise<number | undefined> {
  const id = `${t.name}-${crypto.randomUUID()}`;
  const direct = clientFor(rig.direct);
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(body.subarray(0, HOLD_AFTER));
      await released;
      controller.enqueue(body.subarray(HOLD_AFTER));
      controller.close();
    },
  });
  const sent = performance.now();
  const answer = fetch(`${t.base}/v1/messages?events=3`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-bench-id": id },
    body: stream,
    client,
  }).then(async (res) => {
    await res.arrayBuffer();
    return res.status;
  });
  let forwardedAfter: number | undefined;
  try {
    while (performance.now() - sent < HOLD_LIMIT_MS) {
      const res = await fetch(`${rig.direct.base}/seen?id=${id}`, { client: direct });
      const { bytes } = await res.json() as { bytes: number };
      if (bytes > 0) {
        forwardedAfter = performance.now() - sent;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    release();
    direct.close();
  }
  const status = await answer;
  if (status !== 200) throw new Error(`${t.name}: status ${status}`);
  return forwardedAfter;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Runs the section; returns its rows. */
export async function run(options: BenchRunOptions = {}): Promise<BenchResult[]> {
  const samples = options.quick ? 10 : SAMPLES;
  const body = conversation(SIZE);
  const rig = await startRig();
  const clients = new Map(rig.targets.map((t) => [t.name, clientFor(t)]));
  try {
    const ttfb = new Map<string, number[]>(rig.targets.map((t) => [t.name, []]));
    for (const t of rig.targets) {
      for (let i = 0; i < WARM_CALLS; i++) await timeToFirstByte(t, clients.get(t.name)!, body);
    }
    for (let i = 0; i < samples; i++) {
      for (const t of rig.targets) {
        ttfb.get(t.name)!.push(await timeToFirstByte(t, clients.get(t.name)!, body));
      }
    }
    const rowsBefore = rig.meterRows();
    const forwarded = new Map<string, number | undefined>();
    for (const t of rig.targets.slice(1)) {
      forwarded.set(t.name, await firstBytesForwarded(rig, t, clients.get(t.name)!, body));
    }
    // Rows wait up to the writer's flush interval in memory.
    await new Promise((r) => setTimeout(r, 500));
    const p50 = (name: string) => percentile(ttfb.get(name)!.sort((a, b) => a - b), 0.5);
    const direct = p50("direct");
    const shown = (name: string) => {
      const ms = forwarded.get(name);
      return ms === undefined ? `not within ${HOLD_LIMIT_MS} ms (buffered whole)` : `after ${round(ms)} ms`;
    };
    const rows: BenchResult[] = [
      {
        name: "1 MB request body, streamed answer: added time to first byte p50",
        value: round(p50("meter") - direct),
        unit: "ms",
        target: 2,
        note: [
          `direct ${round(direct)} ms, meter ${round(p50("meter"))} ms`,
          rig.mitmproxy
            ? `mitmproxy ${round(p50("mitmproxy"))} ms (+${round(p50("mitmproxy") - direct)} ms)`
            : rig.mitmMissing,
          `${samples} calls each, warm keep-alive, interleaved`,
        ].join("; "),
      },
      {
        name: "1 MB request body: first 256 KB forwarded before the client sends the rest",
        value: forwarded.get("meter") === undefined ? 0 : 1,
        unit: "",
        target: 1,
        higherIsBetter: true,
        note: [
          `meter: ${shown("meter")}`,
          rig.mitmproxy ? `mitmproxy: ${shown("mitmproxy")}` : rig.mitmMissing,
          `1 = streamed; the held call still made its row: ${rig.meterRows() > rowsBefore ? "yes" : "no"}`,
        ].join("; "),
      },
    ];
    return rows;
  } finally {
    for (const c of clients.values()) c.close();
    await rig.close();
  }
}

if (import.meta.main) {
  for (const row of await run({ quick: Deno.args.includes("--quick") })) console.log(JSON.stringify(row));
}
