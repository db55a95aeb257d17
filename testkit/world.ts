/**
 * A temp home wired to the local TLS fake provider, as the end-to-end tests and the bench use it: the fake
 * started with its own CA, ports pinned in `effective-ports.json`, and a `config.toml` whose `[upstream]` trusts
 * the fake and resolves the given provider hosts to it. {@linkcode fakeWorld} leaves the processes to the
 * caller (`spawnMeter(w.dir, …)`); {@linkcode withMeter} runs a test against a healthy edge and daemon.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { type FakeProvider, startFakeProvider } from "./fake_provider.ts";
import { accepts, daemonHealthy, pinPorts, spawnMeter, stopAll, waitFor } from "./processes.ts";

/** What {@linkcode fakeWorld} made. */
export interface FakeWorld {
  /** The home (`HALTON_METER_HOME` and `HOME` of the processes). */
  dir: string;
  fake: FakeProvider;
  ports: { edge: number; intercept: number; api: number };
  /** The meter's CA certificate file, once the daemon has created it. */
  caFile: string;
  /** Every stored call, oldest first. */
  rows(): Record<string, unknown>[];
  /** Stops the fake and removes the home. */
  close(): Promise<void>;
}

/** Options of {@linkcode fakeWorld}. */
export interface FakeWorldOptions {
  /** Prefix of the temp folder's name. */
  prefix: string;
  /** Provider hosts sent to the fake. */
  hosts: readonly string[];
  /** Appended to config.toml (e.g. a `[logging]` section). */
  config?: string;
}

/** Makes the home; see the module doc. */
export async function fakeWorld(options: FakeWorldOptions): Promise<FakeWorld> {
  const dir = await Deno.makeTempDir({ prefix: options.prefix });
  const fake = await startFakeProvider(dir);
  const ports = await pinPorts(dir);
  const resolve = options.hosts.map((h) => `"${h}" = "127.0.0.1:${fake.port}"`).join(", ");
  await Deno.writeTextFile(
    join(dir, "config.toml"),
    `[upstream]\nca_file = ${JSON.stringify(fake.caFile)}\nresolve = { ${resolve} }\n${options.config ?? ""}`,
  );
  return {
    dir,
    fake,
    ports,
    caFile: join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"),
    rows() {
      const db = new DatabaseSync(join(dir, "db.sqlite"), { readOnly: true });
      try {
        return db.prepare("SELECT * FROM requests ORDER BY requested_at").all() as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
    async close() {
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A {@linkcode FakeWorld} with its edge and daemon running. */
export interface RunningWorld extends FakeWorld {
  daemon: Deno.ChildProcess;
  edge: Deno.ChildProcess;
}

/** Runs `fn` once the edge and daemon of a fresh {@linkcode fakeWorld} answer; stops and removes it all after. */
export async function withMeter(
  options: FakeWorldOptions,
  fn: (w: RunningWorld) => Promise<void>,
): Promise<void> {
  const world = await fakeWorld(options);
  const daemon = spawnMeter(world.dir, "daemon");
  const edge = spawnMeter(world.dir, "edge");
  try {
    await waitFor("a healthy daemon", () => daemonHealthy(world.ports.api), 15_000);
    await waitFor("the edge", () => accepts(world.ports.edge), 15_000);
    await fn({ ...world, daemon, edge });
  } finally {
    await stopAll([daemon, edge]);
    await world.close();
  }
}
