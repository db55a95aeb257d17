/**
 * What tests and benches need to run the meter as real processes: free local ports, `halton-meter <command>`
 * from source in a temp home (started the way the services start it, V8 flags included), waiting for it to
 * answer, and stopping it.
 *
 * @module
 */
import { join } from "node:path";
import { platformFor, selfCommand } from "../platform/mod.ts";
import { livePid } from "../setup/pids.ts";
import { currentOs } from "../core/paths.ts";

/** `count` distinct ports free right now: all bound at once (so no two are the same), then released. */
export function freePorts(count: number): number[] {
  const listeners = Array.from({ length: count }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = listeners.map((l) => l.addr.port);
  for (const l of listeners) l.close();
  return ports;
}

/** A port nothing listens on (bound and released at once). */
export function freePort(): number {
  return freePorts(1)[0];
}

/** The ports a meter home's processes listen on, as `effective-ports.json` holds them. */
export interface MeterPorts {
  edge: number;
  intercept: number;
  api: number;
}

/**
 * Picks three free ports and writes them to `<home>/effective-ports.json` (`home` must exist), so the
 * processes started there never meet another run's on the default ports.
 */
export async function pinPorts(home: string): Promise<MeterPorts> {
  const [edge, intercept, api] = freePorts(3);
  const ports = { edge, intercept, api };
  await Deno.writeTextFile(join(home, "effective-ports.json"), JSON.stringify(ports));
  return ports;
}

let cachedDenoDir: string | undefined;

/**
 * Deno's cache folder as this process sees it. A child whose `HOME` is a temp folder would otherwise look for
 * its cache (and the npm packages in it) under that empty folder.
 */
export function denoDir(): string {
  if (cachedDenoDir) return cachedDenoDir;
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return cachedDenoDir = fromEnv;
  const out = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped", stderr: "null" })
    .outputSync();
  return cachedDenoDir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir as string;
}

/**
 * Resolves once `check` returns true (a throw counts as "not yet"), polling every 50 ms; throws
 * "`what` not ready after `limitMs` ms" when it never does.
 */
export async function waitFor(what: string, check: () => Promise<boolean>, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not ready after ${limitMs} ms`);
}

/** For {@linkcode waitFor}: true when the daemon's API on `apiPort` answers `/health` with status "ok". */
export async function daemonHealthy(apiPort: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/health`);
  return res.ok && (await res.json()).status === "ok";
}

/** For {@linkcode waitFor}: true when something on 127.0.0.1:`port` accepts a connection (throws if not). */
export async function accepts(port: number): Promise<boolean> {
  (await Deno.connect({ hostname: "127.0.0.1", port })).close();
  return true;
}

/** How {@linkcode meterCommand} wires the child; stdin is always closed. */
export interface MeterOptions {
  /**
   * Added to the child's environment, overriding its defaults: e.g. a `tempHome()`'s `env`, whose `HOME` is
   * the folder around the meter home.
   */
  env?: Record<string, string>;
  /** Default `"null"`. */
  stdout?: "piped" | "null";
  /** Default `"null"`. */
  stderr?: "piped" | "null";
}

/**
 * `halton-meter <args>` from source, with the argv the services use ({@linkcode selfCommand}, so the V8
 * flags match production) plus `--cached-only` (there is no network to fetch from). The environment is only
 * `DENO_DIR`, `PATH`, `NO_COLOR=1` and `HALTON_METER_HOME` = `HOME` = `home`, what the service named by
 * `args[0]` is started with on this OS (`Platform.serviceEnv`), then `options.env`: the real home is never seen.
 */
export function meterCommand(home: string, args: string[], options: MeterOptions = {}): Deno.Command {
  const [program, ...rest] = meterArgv(args);
  return new Deno.Command(program, {
    args: rest,
    env: {
      DENO_DIR: denoDir(),
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HALTON_METER_HOME: home,
      HOME: home,
      NO_COLOR: "1",
      ...(args[0] === "edge" || args[0] === "daemon" ? platformFor(currentOs()).serviceEnv(args[0], {}) : {}),
      ...options.env,
    },
    clearEnv: true,
    stdin: "null",
    stdout: options.stdout ?? "null",
    stderr: options.stderr ?? "null",
  });
}

/** The argv of `halton-meter <args>` run from this checkout with cached modules only, as {@linkcode meterCommand} runs it. */
export function meterArgv(args: string[]): string[] {
  const [program, ...self] = selfCommand();
  // From source the argv ends with main.ts, and Deno's own flags must come before it.
  const main = self.pop()!;
  return [program, ...self, "--cached-only", main, ...args];
}

/** Starts `halton-meter <command>` (`edge`, `daemon`, `up`…) as {@linkcode meterCommand} describes. */
export function spawnMeter(home: string, command: string, options: MeterOptions = {}): Deno.ChildProcess {
  return meterCommand(home, [command], options).spawn();
}

/** Sends `signal` to `child` unless it has exited already, and resolves with how it ended. */
export async function stop(
  child: Deno.ChildProcess,
  signal: Deno.Signal = "SIGTERM",
): Promise<Deno.CommandStatus> {
  try {
    child.kill(signal);
  } catch { /* already gone */ }
  return await child.status;
}

/** {@linkcode stop}s each child with SIGTERM, one after the other in the order given. */
export async function stopAll(children: Deno.ChildProcess[]): Promise<Deno.CommandStatus[]> {
  const statuses: Deno.CommandStatus[] = [];
  for (const child of children) statuses.push(await stop(child));
  return statuses;
}

/** SIGKILLs whatever supervisor, edge and daemon `run`'s pid files still name: a test's last resort. */
export function killRecorded(run: string): void {
  for (const name of ["supervisor", "edge", "daemon"] as const) {
    const pid = livePid(run, name);
    if (pid === undefined) continue;
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }
}
