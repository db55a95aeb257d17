/**
 * `halton-meter up` end to end: edge and daemon in one real process, in a temp home, with the provider host
 * resolved to the local TLS fake.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { startFakeProvider } from "../helpers/fake_provider.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Deno's cache as this process sees it: the child gets a temp `HOME` and would otherwise look there. */
async function denoDir(): Promise<string> {
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return fromEnv;
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

async function waitFor(what: string, check: () => Promise<boolean>, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not ready after ${limitMs} ms`);
}

Deno.test("up runs edge and daemon in one process: a call is metered, the self-test answers, SIGTERM exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hm-up-" });
  const fake = await startFakeProvider(dir);
  const ports = { edge: freePort(), intercept: freePort(), api: freePort() };
  await Deno.writeTextFile(join(dir, "effective-ports.json"), JSON.stringify(ports));
  await Deno.writeTextFile(
    join(dir, "config.toml"),
    `[upstream]\nca_file = ${JSON.stringify(fake.caFile)}\n` +
      `resolve = { "api.anthropic.com" = "127.0.0.1:${fake.port}" }\n`,
  );
  const up = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", MAIN, "up"],
    env: {
      DENO_DIR: await denoDir(),
      PATH: Deno.env.get("PATH") ?? "",
      HALTON_METER_HOME: dir,
      HOME: dir,
      NO_COLOR: "1",
    },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reading = (async () => {
    for await (const chunk of up.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
  })();
  let client: Deno.HttpClient | undefined;
  try {
    await waitFor("the daemon's api", async () => {
      const res = await fetch(`http://127.0.0.1:${ports.api}/health`);
      return (await res.json()).status === "ok";
    });
    await waitFor("the edge", async () => {
      (await Deno.connect({ hostname: "127.0.0.1", port: ports.edge })).close();
      return true;
    });
    client = Deno.createHttpClient({
      proxy: { url: `http://try-up:@127.0.0.1:${ports.edge}` },
      caCerts: [await Deno.readTextFile(join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"))],
    });
    const call = await fetch("https://api.anthropic.com/v1/messages?fixture=anthropic_message.body", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [] }),
      client,
    });
    assert.equal(call.status, 200);
    assert.equal((await call.json()).usage.output_tokens, 311);

    const selftest = await fetch("https://selftest.halton-meter.invalid/v1/selftest", { client });
    assert.equal(selftest.status, 200, log);
    assert.equal((await selftest.json()).ok, true);
    client.close();
    client = undefined;

    up.kill("SIGTERM");
    assert.equal((await up.status).code, 0, `up exits 0 on SIGTERM\n${log}`);
    await reading;
    assert.equal(fake.requests.length, 1, "the self-test never reached the provider");

    const db = new DatabaseSync(join(dir, "db.sqlite"), { readOnly: true });
    try {
      const rows = db.prepare(
        `SELECT p.slug AS project, r.attribution_layer, r.provider, r.model, r.input_tokens, r.output_tokens,
                r.cache_write_tokens, r.http_status
           FROM requests r JOIN projects p ON p.id = r.project_id`,
      ).all();
      assert.deepEqual(rows.map((r) => ({ ...r })), [{
        project: "try-up",
        attribution_layer: "explicit",
        provider: "anthropic",
        model: "claude-sonnet-4-5-20250929",
        input_tokens: 24,
        output_tokens: 311,
        cache_write_tokens: 1536,
        http_status: 200,
      }]);
    } finally {
      db.close();
    }
  } finally {
    client?.close();
    try {
      up.kill("SIGKILL");
    } catch { /* exited already */ }
    await up.status;
    await reading;
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});
