/**
 * HTTP/2 between clients and the daemon, end to end: real `edge` and `daemon` processes in a temp home, the TLS
 * fake provider behind `[upstream] resolve`, curl and Deno fetch negotiating `h2` through the edge's CONNECT.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { COMPLETION, patternByte } from "../../testkit/fake_provider.ts";
import { daemonHealthy, stop, waitFor } from "../../testkit/processes.ts";
import { type RunningWorld as World, withMeter } from "../../testkit/world.ts";

const withWorld = (fn: (w: World) => Promise<void>, logging = "info") =>
  withMeter({
    prefix: "hm-h2-",
    hosts: ["api.openai.com", "api.anthropic.com"],
    config: `[logging]\nlevel = "${logging}"\n`,
  }, fn);

async function curl(w: World, args: string[]): Promise<{ code: number; out: Uint8Array; err: string }> {
  const r = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--http2",
      "--max-time",
      "20",
      "-x",
      `http://127.0.0.1:${w.ports.edge}`,
      "--cacert",
      w.caFile,
      ...args,
    ],
    stderr: "piped",
  }).output();
  return { code: r.code, out: r.stdout, err: new TextDecoder().decode(r.stderr) };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

const hasCurlHttp2 = await new Deno.Command("curl", { args: ["--version"], stdout: "piped" }).output().then(
  (r) => r.success && /\bHTTP2\b/.test(text(r.stdout)),
  () => false,
);

Deno.test({
  name:
    "curl gets HTTP/2 through the edge: JSON, SSE, chunked and a 50 MB body arrive whole, and are metered",
  ignore: !hasCurlHttp2,
  async fn() {
    await withWorld(async (w) => {
      const version = ["-w", "\n%{http_version}"];
      const json = await curl(w, [
        ...version,
        "-d",
        '{"model":"gpt-4o-mini"}',
        "https://api.openai.com/v1/chat/completions",
      ]);
      assert.equal(json.code, 0, json.err);
      const [body, negotiated] = text(json.out).split("\n");
      assert.equal(negotiated, "2", "curl spoke HTTP/2 to the daemon");
      assert.deepEqual(JSON.parse(body), COMPLETION);

      const sse = await curl(w, [...version, "https://api.anthropic.com/v1/messages?fake=sse&events=4"]);
      assert.equal(sse.code, 0, sse.err);
      const sseText = text(sse.out);
      assert.ok(sseText.endsWith("\n2"));
      assert.equal(sseText.match(/^data: /gm)?.length, 4, "every event arrived");

      const chunked = await curl(w, ["https://api.openai.com/v1/x?fake=chunked&size=1000&chunks=7"]);
      assert.equal(chunked.code, 0, chunked.err);
      assert.equal(chunked.out.length, 7000);

      const total = 50 * 1024 * 1024;
      const big = await curl(w, ["https://api.openai.com/v1/x?fake=big&bytes=" + total]);
      assert.equal(big.code, 0, big.err);
      assert.equal(big.out.length, total);
      for (const i of [0, 1, 65_535, 65_536, 12_345_678, total - 1]) assert.equal(big.out[i], patternByte(i));

      const upload = new Uint8Array(3 * 1024 * 1024).fill(120);
      const file = join(w.dir, "upload.bin");
      await Deno.writeFile(file, upload);
      const up = await curl(w, ["--data-binary", `@${file}`, "https://api.openai.com/v1/chat/completions"]);
      assert.equal(up.code, 0, up.err);
      const seen = w.fake.requests.at(-1)!;
      assert.equal(seen.body.length, upload.length, "the request body went upstream whole");
      assert.equal(seen.headers.host, "api.openai.com", "the :authority became the upstream Host");

      const completions = () => w.rows().filter((r) => r.path === "/v1/chat/completions");
      await waitFor("both completions' rows", () => Promise.resolve(completions().length === 2), 5000);
      for (const row of completions()) {
        assert.equal(row.input_tokens, 12);
        assert.equal(row.output_tokens, 3);
        assert.equal(row.http_status, 200);
        assert.equal(row.model, "gpt-4o-mini-2024-07-18");
      }
    });
  },
});

Deno.test("Deno fetch sends concurrent requests as HTTP/2 streams, and client closes leave the daemon up", async () => {
  await withWorld(async (w) => {
    const ca = await Deno.readTextFile(w.caFile);
    for (let round = 0; round < 3; round++) {
      // A new client each round: each one ends with GOAWAY when closed, which must not hurt the daemon.
      const client = Deno.createHttpClient({
        caCerts: [ca],
        proxy: { url: `http://127.0.0.1:${w.ports.edge}` },
      });
      try {
        const answers = await Promise.all(Array.from({ length: 20 }, async () => {
          const res = await fetch("https://api.openai.com/v1/chat/completions", {
            method: "POST",
            body: JSON.stringify({ model: "gpt-4o-mini" }),
            client,
          });
          return { status: res.status, body: await res.json() };
        }));
        assert.ok(answers.every((a) => a.status === 200));
        assert.deepEqual(answers[0].body, COMPLETION);
      } finally {
        client.close();
      }
    }
    const connections = new Set(w.fake.requests.map((r) => r.httpVersion));
    assert.deepEqual([...connections], ["1.1"], "upstream stays HTTP/1.1");
    assert.ok(await daemonHealthy(w.ports.api), "the daemon survived every client's GOAWAY");
    await waitFor("60 rows", () => Promise.resolve(w.rows().length === 60), 5000);
    assert.equal(new Set(w.rows().map((r) => r.id)).size, 60);
    const log = await Deno.readTextFile(join(w.dir, "logs", "daemon.jsonl"));
    const versions = log.split("\n").filter((l) => l.includes('"intercept.complete"')).map((l) =>
      JSON.parse(l).http_version
    );
    assert.equal(versions.length, 60);
    assert.ok(versions.every((v) => v === "2.0"), "every request came over HTTP/2");
  }, "debug");
});

Deno.test("40 uploads at once on one HTTP/2 connection, each larger than a stream's window, arrive whole", async () => {
  await withWorld(async (w) => {
    const ca = await Deno.readTextFile(w.caFile);
    const client = Deno.createHttpClient({
      caCerts: [ca],
      proxy: { url: `http://127.0.0.1:${w.ports.edge}` },
    });
    try {
      // 300 KB each: more than a stream's window (256 KB), so every upload needs the daemon's WINDOW_UPDATE,
      // and 40 of them more than the connection's first window (4 MB).
      const sizes = Array.from({ length: 40 }, (_, i) => 300 * 1024 + i);
      const statuses = await Promise.all(sizes.map(async (size, i) => {
        const body = JSON.stringify({ model: "gpt-4o-mini", n: i, pad: "x".repeat(size) });
        const res = await fetch("https://api.openai.com/v1/chat/completions", {
          method: "POST",
          body,
          client,
        });
        await res.arrayBuffer();
        return res.status;
      }));
      assert.deepEqual(new Set(statuses), new Set([200]));
    } finally {
      client.close();
    }
    const seen = w.fake.requests.filter((r) => r.path === "/v1/chat/completions");
    assert.equal(seen.length, 40);
    for (const r of seen) {
      const sent = JSON.parse(new TextDecoder().decode(r.body));
      assert.equal(sent.pad.length, 300 * 1024 + sent.n, `upload ${sent.n} arrived whole`);
    }
    await waitFor("40 rows", () => Promise.resolve(w.rows().length === 40), 10_000);
  });
});

Deno.test({
  name: "an HTTP/2 client that resets a stream mid-response, or an upstream reset, ends only that stream",
  ignore: !hasCurlHttp2,
  async fn() {
    await withWorld(async (w) => {
      const held = curl(w, [
        "--max-time",
        "1",
        "https://api.anthropic.com/v1/messages?fake=sse&events=5&hold=1",
      ]);
      const gone = await held;
      assert.notEqual(gone.code, 0, "curl gave up on the held stream");
      w.fake.release();
      const reset = await curl(w, ["https://api.anthropic.com/v1/messages?fake=reset"]);
      assert.notEqual(reset.code, 0, "an upstream reset is not shown as a clean end");
      assert.match(text(reset.out), /"n":1/, "what arrived before the reset was passed on");
      const after = await curl(w, ["-d", "{}", "https://api.openai.com/v1/chat/completions"]);
      assert.equal(after.code, 0, after.err);
      assert.deepEqual(JSON.parse(text(after.out)), COMPLETION);
      const status = await stop(w.daemon);
      assert.equal(status.code, 0, "the daemon still stops cleanly");
    });
  },
});

Deno.test("a client that negotiates h2 and then sends garbage is closed, and other clients are served", async () => {
  await withWorld(async (w) => {
    const ca = await Deno.readTextFile(w.caFile);
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: w.ports.intercept });
    await tcp.write(new TextEncoder().encode("CONNECT api.openai.com:443 HTTP/1.1\r\n\r\n"));
    const buf = new Uint8Array(16 * 1024);
    let head = "";
    while (!head.includes("\r\n\r\n")) head += text(buf.subarray(0, (await tcp.read(buf))!));
    const conn = await Deno.startTls(tcp, {
      hostname: "api.openai.com",
      caCerts: [ca],
      alpnProtocols: ["h2"],
    });
    try {
      assert.equal((await conn.handshake()).alpnProtocol, "h2");
      await conn.write(
        new TextEncoder().encode("\x00\x01\x02 this is neither HTTP/2 nor HTTP/1.1 \x7f\r\n\r\n"),
      );
      // hyper answers a bad preface with at most an error frame or a 400, then closes.
      let n: number | null = 0;
      while (n !== null) n = await conn.read(buf).catch(() => null);
    } finally {
      conn.close();
    }
    const after = await curl(w, ["-d", "{}", "https://api.openai.com/v1/chat/completions"]);
    assert.equal(after.code, 0, after.err);
    assert.deepEqual(JSON.parse(text(after.out)), COMPLETION);
    assert.equal(w.fake.requests.length, 1, "nothing of the garbage went upstream");
    const log = await Deno.readTextFile(join(w.dir, "logs", "daemon.jsonl"));
    const refused = log.split("\n").filter((l) => l.includes('"intercept.bad_request"')).map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(
      refused.map((e) => [e.host, e.reason]),
      [["api.openai.com", "malformed HTTP/2 connection preface"]],
    );
  });
});
