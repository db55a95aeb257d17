/**
 * A daemon started in-process against the fake provider, in a temp home, for the intercept tests.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { parseConfig } from "../../../core/config.ts";
import { Logger } from "../../../core/log.ts";
import { resolvePaths } from "../../../core/paths.ts";
import { type Daemon, startDaemon } from "../../../daemon/mod.ts";
import { type FakeProvider, startFakeProvider } from "../../../testkit/fake_provider.ts";

/** A running daemon, its fake provider, and a fetch client that uses the intercept port as its proxy. */
export interface Harness {
  dir: string;
  daemon: Daemon;
  fake: FakeProvider;
  /** Our CA's certificate (PEM). */
  caPem: string;
  client: Deno.HttpClient;
  /** Closes the client, the daemon and the fake; returns the rows the daemon wrote. */
  stop(): Promise<Record<string, unknown>[]>;
}

/** Starts fake + daemon; `extraConfig` is appended to config.toml. */
export async function startHarness(extraConfig = ""): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "hm-intercept-" });
  const fake = await startFakeProvider(dir);
  const paths = resolvePaths({ HALTON_METER_HOME: dir }, "linux");
  const text = `[upstream]
ca_file = ${JSON.stringify(fake.caFile)}
resolve = { "api.openai.com" = "127.0.0.1:${fake.port}", "api.anthropic.com" = "127.0.0.1:${fake.port}", "api.x.ai" = "127.0.0.1:1" }
${extraConfig}`;
  const config = parseConfig(text, join(dir, "config.toml"));
  const daemon = await startDaemon({
    paths,
    log: new Logger({ process: "daemon", level: "error" }),
    config,
    ports: { intercept: 0, api: 0 },
    closeGraceMs: 100,
    // The client is this test process, whose project would depend on where the checkout lives.
    attribute: (c) =>
      Promise.resolve(
        c.explicitProject
          ? { project: c.explicitProject, layer: "explicit", client_process: null }
          : { project: "misc", layer: "default", client_process: null },
      ),
  });
  const caPem = await Deno.readTextFile(paths.caCert);
  const client = Deno.createHttpClient({
    proxy: { url: `http://127.0.0.1:${daemon.ports.intercept}` },
    caCerts: [caPem],
  });
  return {
    dir,
    daemon,
    fake,
    caPem,
    client,
    async stop() {
      client.close();
      await daemon.close();
      await fake.close();
      const db = new DatabaseSync(paths.db, { readOnly: true });
      try {
        return db.prepare(
          "SELECT r.*, p.slug AS project FROM requests r JOIN projects p ON p.id = r.project_id ORDER BY requested_at",
        ).all() as Record<string, unknown>[];
      } finally {
        db.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

/** Opens a TCP connection to the intercept port and sends `head` verbatim; returns the connection. */
export async function rawConnect(port: number, head: string | Uint8Array): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(typeof head === "string" ? new TextEncoder().encode(head) : head);
  return conn;
}

/** Reads from `conn` until the text has `until`, the peer closes, or `limitMs` pass; returns the text. */
export async function readUntil(conn: Deno.Conn, until: string | RegExp, limitMs = 3000): Promise<string> {
  let text = "";
  const buf = new Uint8Array(16 * 1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), limitMs));
  try {
    while (true) {
      const n = await Promise.race([conn.read(buf).catch(() => null), timeout]);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      if (typeof until === "string" ? text.includes(until) : until.test(text)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}
