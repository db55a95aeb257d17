/**
 * The bench's side-by-side rig: one provider stand-in (`_provider.ts`, a process of its own) reached three
 * ways in the same run: directly, through the meter (real `edge` and `daemon` processes in a temp home), and
 * through mitmproxy (`mitmdump` from Debian's `mitmproxy` package, when installed) with an addon that only
 * sends the metered host to the stand-in and streams event-stream responses, as a metering addon must.
 * mitmproxy is never installed by the bench: without it the rig says so and the rows leave it out.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  accepts,
  daemonHealthy,
  denoDir,
  freePort,
  pinPorts,
  spawnMeter,
  stopAll,
  waitFor,
} from "../../testkit/processes.ts";

/**
 * The host every call names; the meter (which meters it as an Anthropic host, from `[hosts]`) and mitmproxy
 * send it to the stand-in. Not a real provider's name: Deno's fetch resolves the target's name even through a
 * proxy, and without a network the resolver's timeouts (5 s) would be measured instead of the proxies.
 */
export const HOST = "localhost";

/** One way to reach the stand-in. */
export interface Target {
  name: "direct" | "meter" | "mitmproxy";
  /** `https://…` to put a path after. */
  base: string;
  /** The CA PEM the client must trust. */
  caPem: string;
  /**
   * What a Deno client trusts: the proxy's CA and the stand-in's, as `ca-bundle.pem` holds our CA and the
   * system roots, so that a connection the edge tunnels straight to the provider (its fail-open path, taken
   * when a hand-over to the daemon times out) still works, unmetered, as it would for a user.
   */
  trust: string[];
  caFile: string;
  /** The proxy URL, when there is one. */
  proxy?: string;
  /** curl's options for this target (CA, proxy or address), before the URL. */
  curl: string[];
  /** The processes between client and stand-in (edge and daemon, or mitmdump): their CPU is the cost. */
  pids: number[];
}

/** A running rig. */
export interface Rig {
  direct: Target;
  meter: Target;
  /** Undefined when mitmproxy is missing; {@linkcode Rig.mitmMissing} says why. */
  mitmproxy?: Target;
  mitmMissing?: string;
  /** The ways to reach the stand-in, direct first. */
  targets: Target[];
  daemonPid: number;
  edgePid: number;
  /** The daemon's own port, which also takes CONNECTs from clients directly (no edge in between). */
  interceptPort: number;
  /** Stored calls in the meter's database. */
  meterRows(): number;
  /** Stored calls by the client process attribution named (`null` when it found none). */
  meterClientProcesses(): Map<string | null, number>;
  /** Every stored call's `tokens_complete` and `output_tokens`, for the check that each stream made one row. */
  meterRowsDetail(): { tokens_complete: number; output_tokens: number }[];
  close(): Promise<void>;
}

/** The `mitmdump` executable on PATH, or undefined. */
export function findMitmdump(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const path = join(dir, "mitmdump");
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

const MITM_MISSING = "mitmproxy is not installed (Debian: apt-get install mitmproxy); its rows are left out";

/** Starts the stand-in (`_provider.ts`) with its CA in `dir`; resolves once it listens. */
export async function startProvider(
  dir: string,
): Promise<{ child: Deno.ChildProcess; port: number; caFile: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", fileURLToPath(new URL("./_provider.ts", import.meta.url)), dir],
    env: { DENO_DIR: denoDir(), PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: dir },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the provider stand-in exited before it listened");
    text += value;
  }
  // It prints nothing more.
  await reader.cancel();
  const { port, caFile } = JSON.parse(text.split("\n")[0]) as { port: number; caFile: string };
  return { child, port, caFile };
}

async function startMitm(dir: string, exe: string, providerPort: number, providerCa: string) {
  const port = freePort();
  const addon = join(dir, "bench_addon.py");
  await Deno.writeTextFile(
    addon,
    [
      "def server_connect(data):",
      `    data.server.address = ("127.0.0.1", ${providerPort})`,
      "",
      "def responseheaders(flow):",
      '    if "text/event-stream" in flow.response.headers.get("content-type", ""):',
      "        flow.response.stream = True",
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(exe, {
    args: [
      "-q",
      "--listen-host",
      "127.0.0.1",
      "--listen-port",
      String(port),
      "--set",
      `confdir=${dir}`,
      "--set",
      `ssl_verify_upstream_trusted_ca=${providerCa}`,
      "-s",
      addon,
    ],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: dir },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const caFile = join(dir, "mitmproxy-ca-cert.pem");
  await waitFor("mitmproxy", async () => (await accepts(port)) && (await exists(caFile)), 30_000);
  return { child, port, caFile };
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Starts the stand-in, the meter, and mitmproxy when `withMitm` and it is installed. */
export async function startRig(withMitm = true): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "hm-bench-rig-" });
  const children: Deno.ChildProcess[] = [];
  try {
    const providerDir = join(dir, "provider");
    const meterDir = join(dir, "meter");
    const mitmDir = join(dir, "mitmproxy");
    for (const d of [providerDir, meterDir, mitmDir]) await Deno.mkdir(d);
    const provider = await startProvider(providerDir);
    children.push(provider.child);
    const providerPem = await Deno.readTextFile(provider.caFile);
    const ports = await pinPorts(meterDir);
    await Deno.writeTextFile(
      join(meterDir, "config.toml"),
      `[upstream]\nca_file = ${JSON.stringify(provider.caFile)}\n` +
        `resolve = { "${HOST}" = "127.0.0.1:${provider.port}" }\n[hosts]\n"${HOST}" = "anthropic"\n` +
        `[logging]\nlevel = "warn"\n`,
    );
    const daemon = spawnMeter(meterDir, "daemon");
    const edge = spawnMeter(meterDir, "edge");
    children.push(edge, daemon);
    const exe = withMitm ? findMitmdump() : undefined;
    const mitm = exe ? await startMitm(mitmDir, exe, provider.port, provider.caFile) : undefined;
    if (mitm) children.splice(1, 0, mitm.child);
    await waitFor("daemon", () => daemonHealthy(ports.api));
    await waitFor("edge", () => accepts(ports.edge));
    const meterCaFile = join(meterDir, ".mitmproxy", "mitmproxy-ca-cert.pem");
    const proxied = async (name: Target["name"], port: number, caFile: string, pids: number[]) => ({
      name,
      base: `https://${HOST}`,
      caPem: await Deno.readTextFile(caFile),
      trust: [await Deno.readTextFile(caFile), providerPem],
      caFile,
      proxy: `http://127.0.0.1:${port}`,
      curl: ["--proxy", `http://127.0.0.1:${port}`, "--cacert", caFile],
      pids,
    });
    const direct: Target = {
      name: "direct",
      base: `https://${HOST}:${provider.port}`,
      caPem: providerPem,
      trust: [providerPem],
      caFile: provider.caFile,
      curl: ["--cacert", provider.caFile, "--connect-to", `${HOST}:443:127.0.0.1:${provider.port}`],
      pids: [],
    };
    const meter = await proxied("meter", ports.edge, meterCaFile, [edge.pid, daemon.pid]);
    const mitmproxy = mitm ? await proxied("mitmproxy", mitm.port, mitm.caFile, [mitm.child.pid]) : undefined;
    const db = () => new DatabaseSync(join(meterDir, "db.sqlite"), { readOnly: true });
    return {
      direct,
      meter,
      mitmproxy,
      mitmMissing: withMitm && !exe ? MITM_MISSING : undefined,
      targets: mitmproxy ? [direct, meter, mitmproxy] : [direct, meter],
      daemonPid: daemon.pid,
      edgePid: edge.pid,
      interceptPort: ports.intercept,
      meterRows() {
        const d = db();
        try {
          return Number((d.prepare("SELECT COUNT(*) AS n FROM requests").get() as { n: number }).n);
        } finally {
          d.close();
        }
      },
      meterClientProcesses() {
        const d = db();
        try {
          const rows = d.prepare("SELECT client_process AS name, COUNT(*) AS n FROM requests GROUP BY 1")
            .all();
          return new Map(rows.map((r) => [r.name as string | null, Number(r.n)]));
        } finally {
          d.close();
        }
      },
      meterRowsDetail() {
        const d = db();
        try {
          return d.prepare("SELECT tokens_complete, output_tokens FROM requests").all() as {
            tokens_complete: number;
            output_tokens: number;
          }[];
        } finally {
          d.close();
        }
      },
      async close() {
        await stopAll(children);
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (e) {
    await stopAll(children);
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}

/** A Deno fetch client for `t` (HTTP/1.1, as most provider SDKs speak through a proxy). */
export function clientFor(t: Target): Deno.HttpClient {
  return Deno.createHttpClient({
    caCerts: t.trust,
    proxy: t.proxy ? { url: t.proxy } : undefined,
    http2: false,
  });
}
