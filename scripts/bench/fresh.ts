/**
 * Bench section "fresh": one call per connection, as curl, scripts and short-lived CLIs make them. Each call
 * is a new `curl` process (so a new TCP connection and a full TLS handshake), sent directly, through the meter
 * and through mitmproxy in turn, interleaved so a slow moment of the machine hits all three alike. Times are
 * curl's own (`time_total`, process start-up left out). The cost of one TLS handshake is measured in the same
 * run (direct `time_appconnect - time_connect`): the meter may add at most that plus 1 ms, since a proxied
 * call pays one CONNECT round trip and one TLS handshake with the meter while the meter's own connection to
 * the provider is already open.
 *
 * A second run sends the calls of one curl process over fresh connections (`Connection: close`), where curl
 * resumes its TLS session on each: what clients that keep a session cache pay. A third sends one call through
 * each path every {@linkcode PAUSE_MS}, as a CLI run by hand or a script's occasional call meets a meter that
 * sat idle: nothing the meter keeps warm for a second or so may have lasted.
 *
 * @module
 */
import type { BenchResult, BenchRunOptions } from "../bench.ts";
import { percentile } from "./_measure.ts";
import { cpuDuring } from "./_proc.ts";
import { HOST, type Rig, startRig, type Target } from "./_rig.ts";

const CALL = `https://${HOST}/v1/messages?stream=0`;
const BODY = JSON.stringify({
  model: "claude-sonnet-4-5",
  max_tokens: 64,
  messages: [{ role: "user", content: "hi" }],
});
/** The time between two rounds of the paced run: longer than anything the meter caches for about a second. */
const PAUSE_MS = 1500;
const FORMAT = "%{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total} %{num_connects}\\n";

/** curl's timings of one transfer, in ms. */
interface Timing {
  connect: number;
  appconnect: number;
  total: number;
  connects: number;
}

/**
 * Runs one curl process making `calls` transfers, each on a fresh connection: HTTP/1.1 with
 * `Connection: close` when `http1`, else whatever ALPN picks (`h2` with the meter, HTTP/1.1 elsewhere, since
 * the stand-in speaks HTTP/1.1 only).
 */
async function curl(t: Target, calls: number, http1: boolean): Promise<Timing[]> {
  const options = ["-s", "-o", "/dev/null", "-w", FORMAT, ...t.curl, ...(http1 ? ["--http1.1"] : [])];
  const args = [...options];
  for (let i = 0; i < calls; i++) {
    if (i > 0) args.push("--next", ...options);
    args.push("-H", "content-type: application/json", "-H", "connection: close", "--data", BODY, CALL);
  }
  const out = await new Deno.Command("curl", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`curl via ${t.name} failed: ${new TextDecoder().decode(out.stderr)}`);
  return text.trim().split("\n").map((line) => {
    const [connect, appconnect, , total, connects] = line.split(" ").map(Number);
    return { connect: connect * 1000, appconnect: appconnect * 1000, total: total * 1000, connects };
  });
}

function curlMissing(): boolean {
  try {
    new Deno.Command("curl", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return false;
  } catch {
    return true;
  }
}

/** `targets` started at the `i`-th, so that no target always follows the same one. */
function rotated<T>(targets: readonly T[], i: number): T[] {
  return targets.map((_, k) => targets[(i + k) % targets.length]);
}

const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
const round = (n: number) => Math.round(n * 100) / 100;

/** Runs the section; returns its rows. */
export async function run(options: BenchRunOptions = {}): Promise<BenchResult[]> {
  if (curlMissing()) {
    return [{ name: "fresh: skipped", value: 0, unit: "", note: "curl is not installed (Debian: curl)" }];
  }
  const samples = options.quick ? 15 : 60;
  const rig: Rig = await startRig();
  try {
    // The first call through each path mints the leaf certificate and opens the provider connection.
    for (const t of rig.targets) await curl(t, 2, false);
    const runs = { alpn: new Map<string, Timing[]>(), http1: new Map<string, Timing[]>() };
    const resumed = new Map<string, Timing[]>();
    const paced = new Map<string, Timing[]>();
    // CPU (ms) the processes between client and stand-in spent on the one-call connections of the first run.
    const cpu = new Map<string, number>();
    for (const m of [runs.alpn, runs.http1, resumed, paced]) for (const t of rig.targets) m.set(t.name, []);
    for (let i = 0; i < samples; i++) {
      const order = rotated(rig.targets, i);
      for (const t of order) {
        const [timings, ms] = await cpuDuring(t.pids, () => curl(t, 1, false));
        runs.alpn.get(t.name)!.push(...timings);
        if (ms !== undefined) cpu.set(t.name, (cpu.get(t.name) ?? 0) + ms);
      }
      for (const t of order) runs.http1.get(t.name)!.push(...await curl(t, 1, true));
    }
    const perProcess = 10;
    for (let i = 0; i < Math.ceil(samples / perProcess); i++) {
      for (const t of rig.targets) {
        // The first transfer of each process has no session to resume.
        resumed.get(t.name)!.push(...(await curl(t, perProcess + 1, true)).slice(1));
      }
    }
    const pacedSamples = options.quick ? 5 : 30;
    for (let i = 0; i < pacedSamples; i++) {
      const started = performance.now();
      for (const t of rotated(rig.targets, i)) {
        paced.get(t.name)!.push(...await curl(t, 1, false));
      }
      await new Promise((r) => setTimeout(r, Math.max(0, PAUSE_MS - (performance.now() - started))));
    }
    // The warm-up's two, one per sample of each of the first two runs, every transfer of the resumed run, and
    // one per round of the paced run.
    const calls = 2 + samples * 2 + Math.ceil(samples / perProcess) * (perProcess + 1) + pacedSamples;
    const deadline = performance.now() + 5000;
    while (rig.meterRows() < calls && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const byProcess = rig.meterClientProcesses();
    const found = byProcess.get("curl") ?? 0;
    const handshakeOf = (m: Map<string, Timing[]>, name: string) =>
      p50(m.get(name)!.map((x) => x.appconnect - x.connect));
    const handshake = handshakeOf(runs.http1, "direct");
    const total = (m: Map<string, Timing[]>, name: string) => p50(m.get(name)!.map((x) => x.total));
    const mitmNote = (m: Map<string, Timing[]>) =>
      rig.mitmproxy
        ? `mitmproxy ${round(total(m, "mitmproxy"))} ms (+${
          round(total(m, "mitmproxy") - total(m, "direct"))
        } ms)`
        : rig.mitmMissing;
    const row = (
      m: Map<string, Timing[]>,
      name: string,
      handshakeMs: number,
      extra: string[],
    ): BenchResult => ({
      name,
      value: round(total(m, "meter") - total(m, "direct")),
      unit: "ms",
      target: round(handshakeMs + 1),
      note: [
        `direct ${round(total(m, "direct"))} ms, meter ${round(total(m, "meter"))} ms`,
        mitmNote(m),
        ...extra,
      ].join("; "),
    });
    const rows: BenchResult[] = [
      row(runs.alpn, "fresh connection, one call each (curl, h2 to the meter): added p50", handshake, [
        `target: one TLS handshake (${round(handshake)} ms, direct, this run) + 1 ms`,
        `${samples} calls each, interleaved`,
      ]),
      row(runs.http1, "fresh connection, one call each (curl --http1.1): added p50", handshake, [
        `meter handshake incl. CONNECT p50 ${round(handshakeOf(runs.http1, "meter"))} ms`,
      ]),
    ];
    const resumedHandshake = handshakeOf(resumed, "direct");
    rows.push(
      row(
        resumed,
        "fresh connection, TLS session resumed (one curl, Connection: close): added p50",
        resumedHandshake,
        [
          `resumed handshake ${round(resumedHandshake)} ms direct, ${
            round(handshakeOf(resumed, "meter"))
          } ms through the meter incl. CONNECT`,
          `new connections: ${resumed.get("meter")!.filter((x) => x.connects > 0).length} of ${
            resumed.get("meter")!.length
          } through the meter`,
        ],
      ),
    );
    rows.push(
      row(
        paced,
        `fresh connection after a pause (curl, one call every ${PAUSE_MS} ms): added p50`,
        handshake,
        [
          `${pacedSamples} calls each; direct handshake of the first run as the target`,
          `meter handshake incl. CONNECT p50 ${round(handshakeOf(paced, "meter"))} ms (${
            round(handshakeOf(runs.alpn, "meter"))
          } in the first run)`,
        ],
      ),
    );
    rows.push({
      name: "fresh connection: calls attributed to their client process (a curl each)",
      value: found,
      unit: "rows",
      target: calls,
      higherIsBetter: true,
      ratio: found === calls ? 1 : Infinity,
      note: `${rig.meterRows()} rows for ${calls} calls; ${
        byProcess.get(null) ?? 0
      } without a process: the lookup found the client gone (curl exits right after its response)`,
    });
    const meterCpu = cpu.get("meter");
    if (meterCpu !== undefined) {
      const mitmCpu = cpu.get("mitmproxy");
      rows.push({
        name: "fresh connection: CPU per call (edge + daemon)",
        value: round(meterCpu / samples),
        unit: "ms",
        target: mitmCpu === undefined ? undefined : round(mitmCpu / samples / 4),
        note: mitmCpu === undefined
          ? rig.mitmMissing ?? "mitmproxy's CPU could not be read"
          : `mitmproxy ${
            round(mitmCpu / samples)
          } ms per call; target ¼ of it; handshakes, hand-over and the ` +
            "client-process lookup included (10 ms clock ticks, summed over the run)",
      });
    }
    if (rig.mitmproxy) {
      const added = total(runs.alpn, "meter") - total(runs.alpn, "direct");
      const mitmAdded = total(runs.alpn, "mitmproxy") - total(runs.alpn, "direct");
      rows.push({
        name: "fresh connection: the meter's added p50 as a share of mitmproxy's",
        value: round(added / mitmAdded * 100),
        unit: "%",
        note: `meter +${round(added)} ms, mitmproxy +${round(mitmAdded)} ms (curl's default ALPN)`,
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
