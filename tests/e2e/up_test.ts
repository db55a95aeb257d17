/**
 * `halton-meter up` end to end: edge and daemon in one real process, in a temp home, with the provider host
 * resolved to the local TLS fake.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { fakeWorld } from "../../testkit/world.ts";
import { accepts, daemonHealthy, spawnMeter, stop, waitFor } from "../../testkit/processes.ts";
import { runCli } from "../helpers/cli.ts";

Deno.test("up runs edge and daemon in one process: a call is metered, the self-test answers (large uploads answered early too: curl, Python), SIGTERM exits 0", async () => {
  const world = await fakeWorld({ prefix: "hm-up-", hosts: ["api.anthropic.com"] });
  const { dir, fake, ports } = world;
  const up = spawnMeter(dir, "up", { stderr: "piped" });
  let log = "";
  const reading = (async () => {
    for await (const chunk of up.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
  })();
  let client: Deno.HttpClient | undefined;
  try {
    await waitFor("the daemon's api", () => daemonHealthy(ports.api));
    await waitFor("the edge", () => accepts(ports.edge));
    const ca = await Deno.readTextFile(join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"));
    // `env` after `up` points SSL_CERT_FILE and the like at this file: it must exist, roots and our CA.
    const bundle = await Deno.readTextFile(join(dir, "ca-bundle.pem"));
    assert.ok(bundle.includes(ca.trim()), "ca-bundle.pem holds our CA");
    assert.ok((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 1, "and the system roots");
    client = Deno.createHttpClient({
      proxy: { url: `http://try-up:x@127.0.0.1:${ports.edge}` },
      caCerts: [ca],
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

    // `status` and `doctor` agree that `up` runs this home; `stop` says it cannot stop `up` and how to.
    const home = { HALTON_METER_HOME: dir, HOME: dir };
    const status = JSON.parse((await runCli(["status", "--json"], home)).stdout);
    assert.equal(status.components.find((c: { name: string }) => c.name === "services").state, "foreground");
    const doctor = JSON.parse((await runCli(["doctor", "--json"], home)).stdout);
    assert.equal(doctor.checks.find((c: { layer: string }) => c.layer === "services").status, "ok");
    const refused = await runCli(["stop"], home);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`'halton-meter up' \\(pid ${up.pid}\\) runs this home's edge`));

    // A 2 MB prompt answered before it was all sent (the self-test host refuses any other path at once, as a
    // provider may refuse a request early): curl, sending all the while, still gets the answer, over either
    // version (curl 7.88's nghttp2 dropped the answer when HTTP/2 reset the stream after it).
    const big = join(dir, "big-prompt.json");
    await Deno.writeTextFile(big, "x".repeat(2_000_000));
    for (const version of ["--http1.1", "--http2", "--http1.1"]) {
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--max-time",
          "20",
          version,
          "-x",
          `http://127.0.0.1:${ports.edge}`,
          "--cacert",
          join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"),
          "-X",
          "POST",
          "--data-binary",
          `@${big}`,
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "https://selftest.halton-meter.invalid/v1/other",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(
        new TextDecoder().decode(out.stdout),
        "404",
        `${version}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    // Python's http.client sends its whole body before it reads: 20 MB after the answer are read and dropped.
    const py = await new Deno.Command("python3", {
      args: ["-c", PYTHON_EARLY, String(ports.edge), join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(py.stdout).trim(), "404", new TextDecoder().decode(py.stderr));
    const after = await fetch("https://selftest.halton-meter.invalid/v1/selftest", { client });
    assert.equal(after.status, 200, "and the meter serves on");
    await after.body?.cancel();
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
    await stop(up, "SIGKILL");
    await reading;
    await world.close();
  }
});

// A 20 MB POST through the edge, sent whole before the answer is read; prints the answer's status.
const PYTHON_EARLY = `
import http.client, ssl, sys
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ssl.create_default_context(cafile=sys.argv[2]), timeout=20)
c.set_tunnel("selftest.halton-meter.invalid", 443)
c.request("POST", "/v1/other", body=b"x" * 20_000_000)
print(c.getresponse().status)
`;

Deno.test("up with a config it cannot use keeps the edge's port, says what it ignored, and starts the daemon once the config is fixed", async () => {
  const world = await fakeWorld({
    prefix: "hm-up-bad-config-",
    hosts: ["api.anthropic.com"],
    config: 'proxy = "socks5://proxy.corp:1080"\n',
  });
  const { dir, fake, ports } = world;
  const config = join(dir, "config.toml");
  const up = spawnMeter(dir, "up", { stderr: "piped" });
  let log = "";
  const reading = (async () => {
    for await (const chunk of up.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
  })();
  const client = Deno.createHttpClient({
    proxy: { url: `http://try-up:x@127.0.0.1:${ports.edge}` },
    caCerts: [Deno.readTextFileSync(fake.caFile)],
    poolMaxIdlePerHost: 0,
  });
  const call = async () => {
    const res = await fetch("https://api.anthropic.com/v1/messages?fixture=anthropic_message.body", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [] }),
      client,
    });
    await res.body?.cancel();
    return res.status;
  };
  try {
    await waitFor("the edge", () => accepts(ports.edge));
    await waitFor(
      "up to say the daemon cannot start",
      () => Promise.resolve(/daemon cannot start/.test(log)),
    );
    assert.match(log, /the edge ignores .*upstream\.proxy.*; it uses the default in its place/, log);
    assert.match(log, /"event":"edge\.config_ignored"/);
    assert.match(
      log,
      new RegExp(`keeps 127\\.0\\.0\\.1:${ports.edge} and passes every call through unmetered`),
    );
    // The edge tunnels the call straight to the provider (the client trusts the provider's own certificate).
    assert.equal(await call(), 200, log);
    assert.equal(fake.requests.length, 1);
    const status = await runCli(["status", "--json"], { HALTON_METER_HOME: dir, HOME: dir });
    const daemon =
      (JSON.parse(status.stdout) as { components: { name: string; ok: boolean; detail: string }[] })
        .components.find((c) => c.name === "daemon");
    assert.equal(daemon?.ok, false, status.stdout);
    assert.match(daemon?.detail ?? "", /cannot start: .*upstream\.proxy.*traffic passes unmetered/);

    Deno.writeTextFileSync(config, Deno.readTextFileSync(config).replace(/^proxy = .*$/m, ""));
    await waitFor("the daemon, once the config is fixed", () => daemonHealthy(ports.api), 20_000);
    await waitFor("the daemon's CA", () => Promise.resolve(Deno.statSync(world.caFile).isFile));
    const metered = Deno.createHttpClient({
      proxy: { url: `http://try-up:x@127.0.0.1:${ports.edge}` },
      caCerts: [Deno.readTextFileSync(world.caFile)],
      poolMaxIdlePerHost: 0,
    });
    try {
      const res = await fetch("https://api.anthropic.com/v1/messages?fixture=anthropic_message.body", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [] }),
        client: metered,
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      metered.close();
    }
    await waitFor("the metered row", () => Promise.resolve(world.rows().length === 1), 10_000);

    up.kill("SIGTERM");
    assert.equal((await up.status).code, 0, `up exits 0 on SIGTERM\n${log}`);
  } finally {
    client.close();
    await stop(up, "SIGKILL");
    await reading;
    await world.close();
  }
});
