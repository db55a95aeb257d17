/**
 * Bench section "streams": agent swarms keep hundreds of streamed calls open at once. 500 concurrent Messages
 * streams of 10 s, one event every 50 ms, go directly, through the meter and through mitmproxy, one load after
 * the other. The client notes when each event arrives; the gap between two events of a stream, beyond what
 * the same load shows directly, is the delay the proxy adds, and its p99 is the row (a proxy that serves some
 * streams late shows there). A stream whose events stop for a second, or that ends short, is stalled. The
 * daemon's peak RSS is sampled, and the meter must write exactly one complete row per stream. Two rows say
 * where the gap comes from: the same loads' gaps once every stream has started (without the burst of new
 * connections), and a load of two fifths as many streams (where the machine, shared by client, proxy and
 * stand-in, stops being full).
 *
 * The streams are read by a lean client (`_lean_client.ts`): on two cores the client shares the machine with
 * the proxy, and Deno's `fetch` reading 500 streams takes most of a core, so the row would measure the
 * client's share as much as the proxy's delay. The same loads read through `fetch` follow, as a second row.
 *
 * @module
 */
import type { BenchResult, BenchRunOptions } from "../bench.ts";
import { percentile } from "./_measure.ts";
import { cpuMs, rssPeaks } from "./_proc.ts";
import { leanPost, type LeanResponse } from "./_lean_client.ts";
import { clientFor, type Rig, startRig, type Target } from "./_rig.ts";

const EVERY_MS = 50;
const STALL_MS = 1000;
const EVENT_END = new TextEncoder().encode("\n\n");

/** What one load of concurrent streams showed. */
interface Load {
  /** Every gap between two text events of a stream (ms), ascending. */
  gaps: number[];
  /**
   * The gaps that began once every stream had its first byte, ascending: the load without its burst of
   * hundreds of new connections, whose handshakes share the proxy's thread with the streams already running.
   */
  steadyGaps: number[];
  /** Streams with a gap of {@linkcode STALL_MS} or more. */
  stalled: number;
  /** Streams that failed or ended with fewer events than asked. */
  failed: number;
  /** Milliseconds from the first request to the last stream's end. */
  wallMs: number;
  /** Each stream's time to its first byte (ms), ascending: what hundreds of simultaneous starts cost. */
  firstBytes: number[];
  /** The client's own CPU over the load, in cores (the bench process's, as the clients run in it). */
  clientCpu: number;
}

const ownCpuMs = () => cpuMs(Deno.pid) ?? NaN;

/** Counts the event ends (`\n\n`) in a chunk, carrying a `\n` cut at the end over to the next. */
function countEvents(chunk: Uint8Array, carry: { lf: boolean }): number {
  let n = 0;
  if (carry.lf && chunk[0] === EVENT_END[1]) n++;
  for (let i = 0; i + 1 < chunk.length; i++) if (chunk[i] === 10 && chunk[i + 1] === 10) n++;
  carry.lf = chunk[chunk.length - 1] === 10;
  return n;
}

/** One stream's gaps between text events, and the time from its request to its first byte (ms). */
interface Streamed {
  gaps: number[];
  /** When each gap began (`performance.now()`), in the order of {@linkcode Streamed.gaps}. */
  starts: number[];
  firstByteMs: number;
  /** When the first byte came (`performance.now()`). */
  firstByteAt: number;
}

/** Counts a stream's events as they arrive: its gaps between text deltas, and whether it was whole. */
class EventClock {
  readonly gaps: number[] = [];
  readonly starts: number[] = [];
  #seen = 0;
  #last = 0;
  #carry = { lf: false };

  constructor(readonly events: number) {}

  /** Takes a body chunk read at `now`. */
  read(chunk: Uint8Array, now: number): void {
    const n = countEvents(chunk, this.#carry);
    // message_start and content_block_start come first, then the text deltas: gaps are taken between deltas,
    // from the second delta on.
    for (let i = 0; i < n; i++) {
      this.#seen++;
      if (this.#seen <= 3 || this.#seen > this.events + 2) continue;
      this.gaps.push(i === 0 ? now - this.#last : 0);
      this.starts.push(i === 0 ? this.#last : now);
    }
    if (n > 0) this.#last = now;
  }

  get whole(): boolean {
    return this.#seen >= this.events + 2;
  }
}

const REQUEST = JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 1024, stream: true, messages: [] });
const path = (events: number) => `/v1/messages?events=${events}&every=${EVERY_MS}`;

/** Times a stream's events as its body arrives, each chunk with the time it was read; undefined when short. */
async function timeEvents(
  body: AsyncIterable<{ bytes: Uint8Array; at: number }>,
  sent: number,
  events: number,
): Promise<Streamed | undefined> {
  const clock = new EventClock(events);
  let firstByteAt = NaN;
  for await (const { bytes, at } of body) {
    if (Number.isNaN(firstByteAt)) firstByteAt = at;
    clock.read(bytes, at);
  }
  return clock.whole
    ? { gaps: clock.gaps, starts: clock.starts, firstByteMs: firstByteAt - sent, firstByteAt }
    : undefined;
}

/** One stream of `events` text deltas read by the lean client; undefined when it broke. */
async function leanStream(t: Target, events: number): Promise<Streamed | undefined> {
  const sent = performance.now();
  let res: LeanResponse | undefined;
  try {
    res = await leanPost(t, path(events), REQUEST);
    return res.status === 200 ? await timeEvents(res.body, sent, events) : undefined;
  } catch {
    return undefined;
  } finally {
    res?.close();
  }
}

/** `fetch`'s body chunks, each with the time it was read. */
async function* stamped(body: ReadableStream<Uint8Array>): AsyncGenerator<{ bytes: Uint8Array; at: number }> {
  for await (const bytes of body) yield { bytes, at: performance.now() };
}

/** The same stream read through Deno's `fetch`, whose own CPU takes most of a core at 500 streams. */
async function fetchStream(
  t: Target,
  client: Deno.HttpClient,
  events: number,
): Promise<Streamed | undefined> {
  const sent = performance.now();
  try {
    const res = await fetch(`${t.base}${path(events)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: REQUEST,
      client,
    });
    return res.status === 200 ? await timeEvents(stamped(res.body!), sent, events) : undefined;
  } catch {
    return undefined;
  }
}

/** Which client reads the streams. */
type Via = "lean" | "fetch";

async function load(t: Target, count: number, events: number, via: Via): Promise<Load> {
  const client = via === "fetch" ? clientFor(t) : undefined;
  const cpuBefore = ownCpuMs();
  try {
    const start = performance.now();
    // Started over one interval, as real clients never start in the same millisecond.
    const results = await Promise.all(Array.from({ length: count }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * EVERY_MS) / count));
      return client ? fetchStream(t, client, events) : leanStream(t, events);
    }));
    const wallMs = performance.now() - start;
    const gaps: number[] = [];
    const steadyGaps: number[] = [];
    const firstBytes: number[] = [];
    let stalled = 0;
    let failed = 0;
    const allStarted = Math.max(...results.map((r) => r?.firstByteAt ?? -Infinity));
    for (const r of results) {
      if (!r) failed++;
      else if (r.gaps.some((g) => g >= STALL_MS)) stalled++;
      if (!r) continue;
      r.gaps.forEach((g, i) => {
        gaps.push(g);
        if (r.starts[i] >= allStarted) steadyGaps.push(g);
      });
      firstBytes.push(r.firstByteMs);
    }
    const ascending = (xs: number[]) => xs.sort((a, b) => a - b);
    const clientCpu = (ownCpuMs() - cpuBefore) / wallMs;
    return {
      gaps: ascending(gaps),
      steadyGaps: ascending(steadyGaps),
      stalled,
      failed,
      wallMs,
      firstBytes: ascending(firstBytes),
      clientCpu,
    };
  } finally {
    client?.close();
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Runs the section; returns its rows. */
export async function run(options: BenchRunOptions = {}): Promise<BenchResult[]> {
  const count = options.quick ? 100 : 500;
  const seconds = options.quick ? 3 : 10;
  const events = seconds * 1000 / EVERY_MS;
  const rig: Rig = await startRig();
  try {
    // Warm each path: leaf minted, code compiled.
    for (const t of rig.targets) await load(t, 8, 5, "lean");
    const before = rig.meterRows();
    const loads = new Map<string, Load>();
    let daemonPeak;
    let edgePeak;
    for (const t of rig.targets) {
      const sampler = t.name === "meter" ? rssPeaks([rig.daemonPid, rig.edgePid], 200) : undefined;
      loads.set(t.name, await load(t, count, events, "lean"));
      if (sampler) [daemonPeak, edgePeak] = sampler.stop();
    }
    // Rows wait up to the writer's flush interval in memory.
    const deadline = performance.now() + 5000;
    while (rig.meterRows() < before + count && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const stored = rig.meterRowsDetail().slice(before);
    const complete = stored.filter((r) => r.tokens_complete === 1 && r.output_tokens === events).length;
    // Fewer streams on the same machine: a load under which this machine is not full.
    const fewer = count * 2 / 5;
    const fewerLoads = new Map<string, Load>();
    for (const t of [rig.direct, rig.meter]) fewerLoads.set(t.name, await load(t, fewer, events, "lean"));
    const fetched = new Map<string, Load>();
    for (const t of rig.targets) await load(t, 8, 5, "fetch");
    for (const t of rig.targets) fetched.set(t.name, await load(t, count, events, "fetch"));
    const p = (of: Map<string, Load>, name: string, q: number) => percentile(of.get(name)!.gaps, q);
    const steady = (name: string) => percentile(loads.get(name)!.steadyGaps, 0.99);
    const describe = (of: Map<string, Load>, name: string) => {
      const l = of.get(name)!;
      return `${name}: p50 ${round(p(of, name, 0.5))} ms, p99 ${round(p(of, name, 0.99))} ms, max ${
        round(l.gaps.at(-1) ?? NaN)
      } ms, ${l.stalled} stalled, ${l.failed} failed, first byte p50 ${
        round(percentile(l.firstBytes, 0.5))
      } ms max ${round(l.firstBytes.at(-1) ?? NaN)} ms, all done in ${round(l.wallMs / 1000)} s, client ${
        Math.round(l.clientCpu * 100)
      } % of a core`;
    };
    const describeAll = (of: Map<string, Load>) =>
      [
        "gap between events",
        describe(of, "direct"),
        describe(of, "meter"),
        rig.mitmproxy ? describe(of, "mitmproxy") : rig.mitmMissing,
      ].join("; ");
    const rows: BenchResult[] = [
      {
        name:
          `${count} concurrent streams of ${seconds} s, event every ${EVERY_MS} ms: added inter-event p99`,
        value: round(p(loads, "meter", 0.99) - p(loads, "direct", 0.99)),
        unit: "ms",
        target: 5,
        note: describeAll(loads),
      },
      {
        name: `the same ${count} streams once all had started: added inter-event p99`,
        value: round(steady("meter") - steady("direct")),
        unit: "ms",
        note:
          `no target: the gaps that began after every stream's first byte (meter ${
            loads.get("meter")!.steadyGaps.length
          } of ${loads.get("meter")!.gaps.length}); direct p99 ${round(steady("direct"))} ms, meter ${
            round(steady("meter"))
          } ms; the rest came while the proxy was also taking ${count} new connections (the meter's slowest first ` +
          `byte took ${round(loads.get("meter")!.firstBytes.at(-1) ?? NaN)} ms, direct ${
            round(loads.get("direct")!.firstBytes.at(-1) ?? NaN)
          } ms)`,
      },
      {
        name: `${fewer} concurrent streams (lean client): added inter-event p99`,
        value: round(p(fewerLoads, "meter", 0.99) - p(fewerLoads, "direct", 0.99)),
        unit: "ms",
        note: `no target: the same load with fewer streams, for where this machine fills up; ${
          describe(fewerLoads, "direct")
        }; ${describe(fewerLoads, "meter")}`,
      },
      {
        name: `the same ${count} streams read through Deno's fetch: added inter-event p99`,
        value: round(p(fetched, "meter", 0.99) - p(fetched, "direct", 0.99)),
        unit: "ms",
        note: `no target: the client's own CPU crowds the proxy on two cores; ${describeAll(fetched)}`,
      },
      {
        name:
          `${count} concurrent streams: stalled or failed through the meter (a gap ≥ ${STALL_MS} ms, an error)`,
        value: loads.get("meter")!.stalled + loads.get("meter")!.failed,
        unit: "streams",
        target: 0,
        ratio: loads.get("meter")!.stalled + loads.get("meter")!.failed === 0 ? 0 : Infinity,
        note: `${loads.get("meter")!.stalled} stalled, ${loads.get("meter")!.failed} failed; direct: ${
          loads.get("direct")!.stalled
        } stalled, ${loads.get("direct")!.failed} failed (a direct stall is the machine, not a proxy)`,
      },
      {
        name: `${count} concurrent streams: rows stored, complete, one per stream`,
        value: complete,
        unit: "rows",
        target: count,
        higherIsBetter: true,
        ratio: complete === count && stored.length === count ? 1 : Infinity,
        note: `${stored.length} rows in all for ${count} streams; a stream without a row went through the ` +
          "edge's fail-open tunnel (its hand-over to the daemon took over 1 s) or failed",
      },
    ];
    if (daemonPeak) {
      rows.push({
        name: `${count} concurrent streams: daemon RSS (peak)`,
        value: Math.round(daemonPeak.total),
        unit: "MB",
        target: 250,
        note: `${Math.round(daemonPeak.anon)} MB anonymous; edge peak ${
          Math.round(edgePeak?.total ?? NaN)
        } MB`,
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
