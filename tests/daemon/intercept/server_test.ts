import assert from "node:assert/strict";
import { join } from "node:path";
import { COMPLETION, patternByte } from "../../../testkit/fake_provider.ts";
import { rawConnect, readUntil, startHarness } from "./_setup.ts";
import { openSocketPassing } from "../../../core/socket_pass.ts";
import { type TcpPair, tcpPair } from "../../helpers/tcp_pair.ts";

const json = (s: string) => JSON.parse(s);

Deno.test("a JSON call through the intercept port reaches the provider unchanged and is recorded", async () => {
  const h = await startHarness();
  const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi ✓" }] });
  const res = await fetch("https://api.openai.com/v1/chat/completions?x=1", {
    method: "POST",
    headers: [
      ["content-type", "application/json"],
      ["authorization", "Bearer sk-test"],
      ["constructor", "c"],
      ["__proto__", "p"],
    ],
    body,
    client: h.client,
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), COMPLETION);
  const seen = h.fake.requests.at(-1)!;
  assert.equal(seen.path, "/v1/chat/completions?x=1");
  assert.equal(new TextDecoder().decode(seen.body), body);
  assert.equal(seen.headers.authorization, "Bearer sk-test");
  assert.equal(
    Object.getOwnPropertyDescriptor(seen.headers, "constructor")?.value,
    "c",
    "named like Object's own",
  );
  assert.equal(Object.getOwnPropertyDescriptor(seen.headers, "__proto__")?.value, "p");
  const rows = await h.stop();
  assert.equal(rows.length, 1);
  const row = rows[0];
  assert.equal(row.host, "api.openai.com");
  assert.equal(row.path, "/v1/chat/completions");
  assert.equal(row.provider, "openai");
  assert.equal(row.project, "misc");
  assert.equal(row.http_status, 200);
  assert.equal(row.status, "success");
  assert.equal(row.request_bytes, new TextEncoder().encode(body).length);
  assert.equal(row.response_bytes, JSON.stringify(COMPLETION).length);
  assert.equal(row.tokens_complete, 1);
  assert.equal(row.model, "gpt-4o-mini-2024-07-18");
  assert.deepEqual([row.input_tokens, row.output_tokens], [12, 3]);
  assert.match(String(row.rates_source), /^bundled-\d{4}-\d{2}-\d{2}$/, "priced from the bundled card");
  assert.ok(typeof row.latency_ms === "number" && typeof row.ttft_ms === "number");
});

Deno.test("the edge's CONNECT headers label the row with the project", async () => {
  const h = await startHarness();
  const conn = await rawConnect(
    h.daemon.ports.intercept,
    "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\nx-halton-client: 127.0.0.1:50123\r\n" +
      "x-halton-project: acme-web\r\n\r\n",
  );
  assert.match(await readUntil(conn, "\r\n\r\n"), /^HTTP\/1\.1 200 Connection Established\r\n\r\n$/);
  const tlsConn = await Deno.startTls(conn, { hostname: "api.openai.com", caCerts: [h.caPem] });
  await tlsConn.write(new TextEncoder().encode(
    "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}",
  ));
  const answer = await readUntil(tlsConn, '"total_tokens":15}}');
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  // The same connection carries a second request: keep-alive works through the daemon.
  await tlsConn.write(new TextEncoder().encode(
    "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}",
  ));
  assert.match(await readUntil(tlsConn, '"total_tokens":15}}'), /^HTTP\/1\.1 200 OK\r\n/);
  tlsConn.close();
  const rows = await h.stop();
  assert.deepEqual(rows.map((r) => [r.project, r.attribution_layer]), [
    ["acme-web", "explicit"],
    ["acme-web", "explicit"],
  ]);
});

/** One call on `conn`, already answered `200` by the intercept port, over TLS; returns the answer's head. */
async function callOver(conn: Deno.TcpConn, caPem: string): Promise<string> {
  const tlsConn = await Deno.startTls(conn, { hostname: "api.openai.com", caCerts: [caPem] });
  try {
    await tlsConn.write(new TextEncoder().encode(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}",
    ));
    return (await readUntil(tlsConn, '"total_tokens":15}}')).split("\r\n")[0];
  } finally {
    tlsConn.close();
  }
}

Deno.test({
  name:
    "a client socket the edge passes is served by the daemon; an offer the edge does not follow is relayed",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const h = await startHarness();
    const connect = (token: string) =>
      rawConnect(
        h.daemon.ports.intercept,
        "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\nx-halton-client: 127.0.0.1:50123\r\n" +
          `x-halton-project: acme-web\r\nx-halton-pass: ${token}\r\n\r\n`,
      );
    // The edge's side of a client's connection: what it would pass.
    const passing = openSocketPassing()!;
    const edgeListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: edgeListener.addr.port });
    const accepted = await edgeListener.accept();
    edgeListener.close();
    try {
      const token = "0123456789abcdef0123456789abcdef";
      const control = await connect(token);
      const answer = await readUntil(control, "\r\n\r\n");
      const path = /\r\nx-halton-pass: (\S+)\r\n/.exec(answer)?.[1];
      assert.ok(path?.startsWith(join(h.dir, "run", "pass-")), `the daemon says where to pass: ${answer}`);
      const fd = passing.descriptorOf(
        { ip: "127.0.0.1", port: accepted.localAddr.port },
        { ip: "127.0.0.1", port: accepted.remoteAddr.port },
      )!;
      const sender = passing.connect(path!)!;
      assert.ok(sender.send(fd, new TextEncoder().encode(token)));
      control.close();
      // The client speaks TLS to the daemon over its own connection to the "edge", which relays nothing.
      assert.equal(await callOver(client, h.caPem), "HTTP/1.1 200 OK");
      await sender.close();

      const relayed = await connect("fedcba9876543210fedcba9876543210");
      assert.match(await readUntil(relayed, "\r\n\r\n"), /x-halton-pass: /);
      assert.equal(
        await callOver(relayed, h.caPem),
        "HTTP/1.1 200 OK",
        "no socket came: the bytes are served",
      );
    } finally {
      accepted.close();
      passing.close();
    }
    const rows = await h.stop();
    assert.deepEqual(rows.map((r) => [r.project, r.status]), [["acme-web", "success"], [
      "acme-web",
      "success",
    ]]);
  },
});

Deno.test({
  name:
    "a socket passed with its CONNECT head is taken before its deadline and given back untouched after it",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const h = await startHarness();
    const passing = openSocketPassing()!;
    // The edge's side of two clients' connections (`server`): what it would pass.
    const pairs = [await tcpPair(), await tcpPair()];
    const fdOf = ({ server }: TcpPair) =>
      passing.descriptorOf(
        { ip: "127.0.0.1", port: server.localAddr.port },
        { ip: "127.0.0.1", port: server.remoteAddr.port },
      )!;
    const head = (token: string, deadline: number) =>
      new TextEncoder().encode(
        "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\nx-halton-client: 127.0.0.1:50123\r\n" +
          `x-halton-project: acme-web\r\nx-halton-pass: ${token}\r\nx-halton-deadline: ${
            deadline.toFixed(3)
          }\r\n\r\n`,
      );
    const replies: string[] = [];
    try {
      const control = await rawConnect(
        h.daemon.ports.intercept,
        "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\nx-halton-client: 127.0.0.1:50123\r\n" +
          "x-halton-pass: 0123456789abcdef0123456789abcdef\r\n\r\n",
      );
      const answer = await readUntil(control, "\r\n\r\n");
      control.close();
      assert.match(
        answer,
        /\r\nx-halton-pass-direct: 1\r\n/,
        "the daemon says it takes sockets without a handover",
      );
      const path = /\r\nx-halton-pass: (\S+)\r\n/.exec(answer)![1];
      const sender = passing.connect(path, (r) => replies.push(new TextDecoder().decode(r)))!;

      const taken = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
      assert.ok(sender.send(fdOf(pairs[0]), head(taken, passing.now() + 5000)));
      assert.equal(
        await readUntil(pairs[0].client, "\r\n\r\n"),
        "HTTP/1.1 200 Connection Established\r\n\r\n",
        "the daemon answers the client's CONNECT itself",
      );
      assert.equal(await callOver(pairs[0].client, h.caPem), "HTTP/1.1 200 OK");
      assert.deepEqual(replies, [taken], "and told the edge it took it");

      const late = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
      assert.ok(sender.send(fdOf(pairs[1]), head(late, passing.now() - 1)));
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(replies, [taken], "past its deadline: no reply");
      assert.equal(passing.written(fdOf(pairs[1])), false, "and nothing written to the client");
      await pairs[1].server.write(new TextEncoder().encode("HTTP/1.1 200 from the edge\r\n\r\n"));
      assert.equal(
        await readUntil(pairs[1].client, "\r\n\r\n"),
        "HTTP/1.1 200 from the edge\r\n\r\n",
        "the daemon wrote nothing to it, and the edge's copy serves it",
      );
      await sender.close();
    } finally {
      // The first client's connection went with its TLS session.
      pairs[1].client.close();
      for (const { server } of pairs) server.close();
      passing.close();
    }
    const rows = await h.stop();
    assert.deepEqual(rows.map((r) => [r.project, r.status]), [["acme-web", "success"]]);
  },
});

Deno.test("SSE events reach the client before the provider sends the last one", async () => {
  const h = await startHarness();
  const res = await fetch("https://api.anthropic.com/v1/messages?events=3&hold=1", {
    method: "POST",
    body: "{}",
    client: h.client,
  });
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /"n":1/);
  assert.equal(h.fake.lastSseSentAt, undefined, "the provider had not sent its last event yet");
  h.fake.release();
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    rest += new TextDecoder().decode(r.value);
  }
  assert.match(rest, /"n":2[\s\S]*"n":3/);
  const rows = await h.stop();
  assert.equal(rows[0].streamed, 1);
  assert.equal(rows[0].provider, "anthropic");
});

Deno.test("a chunked response and a 20 MB body arrive byte for byte", async () => {
  const h = await startHarness();
  const chunked = await fetch("https://api.openai.com/v1/chat/completions?fake=chunked&chunks=20&size=1000", {
    client: h.client,
  });
  assert.equal((await chunked.arrayBuffer()).byteLength, 20_000);
  const total = 20 * 1024 * 1024 + 3;
  const res = await fetch(`https://api.openai.com/v1/chat/completions?fake=big&bytes=${total}`, {
    method: "POST",
    body: "{}",
    client: h.client,
  });
  let offset = 0;
  let bad = -1;
  for await (const chunk of res.body!) {
    for (let i = 0; i < chunk.length && bad < 0; i++) {
      if (chunk[i] !== patternByte(offset + i)) bad = offset + i;
    }
    offset += chunk.length;
  }
  assert.equal(bad, -1, `byte ${bad} differs`);
  assert.equal(offset, total);
  const rows = await h.stop();
  assert.ok(
    rows.some((r) => r.response_bytes === total),
    "the 20 MB call has its row, with every byte counted",
  );
});

Deno.test("an upstream reset mid-stream cuts the client's stream and records an incomplete row", async () => {
  const h = await startHarness();
  const res = await fetch("https://api.openai.com/v1/chat/completions?fake=reset", {
    method: "POST",
    body: "{}",
    client: h.client,
  });
  assert.equal(res.status, 200);
  await assert.rejects(() => res.text());
  const after = await fetch("https://api.openai.com/v1/chat/completions", {
    method: "POST",
    client: h.client,
  });
  assert.equal(after.status, 200, "other requests still work");
  await after.body?.cancel();
  const rows = await h.stop();
  const cut = rows.find((r) => r.status === "error")!;
  assert.equal(cut.status, "error");
  assert.equal(cut.error_class, "network");
  assert.equal(cut.tokens_complete, 0);
});

Deno.test("a client that gives up before the provider's answer still leaves one row, over HTTP/1.1 and HTTP/2", async () => {
  const h = await startHarness();
  const h1 = Deno.createHttpClient({
    proxy: { url: `http://127.0.0.1:${h.daemon.ports.intercept}` },
    caCerts: [h.caPem],
    http2: false,
  });
  try {
    for (const client of [h1, h.client]) {
      await assert.rejects(() =>
        fetch("https://api.openai.com/v1/chat/completions?delay_ms=800", {
          method: "POST",
          body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }),
          client,
          signal: AbortSignal.timeout(200),
        })
      );
    }
    // The provider had both calls (it may bill them) before either client left.
    assert.equal(h.fake.requests.length, 2);
    // Its held answers end before it is stopped.
    await new Promise((r) => setTimeout(r, 800));
  } finally {
    h1.close();
  }
  const rows = await h.stop();
  assert.deepEqual(
    rows.map((r) => [r.model, r.http_status, r.status, r.error_class]),
    [["gpt-4o-mini", null, "error", "network"], ["gpt-4o-mini", null, "error", "network"]],
  );
});

Deno.test("an unreachable provider gets a 502 answer and a network-error row", async () => {
  const h = await startHarness();
  const res = await fetch("https://api.x.ai/v1/chat/completions", {
    method: "POST",
    body: "{}",
    client: h.client,
  });
  assert.equal(res.status, 502);
  assert.equal(json(await res.text()).error.type, "halton_meter_upstream");
  const rows = await h.stop();
  assert.equal(rows.length, 1);
  assert.equal(rows[0].http_status, null);
  assert.equal(rows[0].error_class, "network");
});

Deno.test("the self-test host is answered by the daemon itself and records nothing", async () => {
  const h = await startHarness();
  const res = await fetch("https://selftest.halton-meter.invalid/v1/selftest", { client: h.client });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.ok, true);
  assert.equal(typeof body.version, "string");
  const missing = await fetch("https://selftest.halton-meter.invalid/nope", { client: h.client });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  assert.equal((await h.stop()).length, 0);
  assert.equal(h.fake.requests.length, 0);
});

Deno.test("bad input on the intercept port is refused cleanly and other connections keep working", async () => {
  const h = await startHarness();
  const port = h.daemon.ports.intercept;
  const cases: [string | Uint8Array, RegExp][] = [
    ["GET http://api.openai.com/ HTTP/1.1\r\nHost: api.openai.com\r\n\r\n", /^HTTP\/1\.1 405 /],
    ["CONNECT api.openai.com HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["\x16\x03\x01garbage\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["CONNECT api.openai.com:443 HTTP/1.1\r\nX: " + "a".repeat(20_000), /^HTTP\/1\.1 431 /],
  ];
  for (const [input, expected] of cases) {
    const conn = await rawConnect(port, input);
    assert.match(await readUntil(conn, "\r\n\r\n"), expected);
    conn.close();
  }
  // Garbage instead of a TLS handshake after the CONNECT: the daemon closes that connection.
  const junk = await rawConnect(port, "CONNECT api.openai.com:443 HTTP/1.1\r\n\r\n");
  await readUntil(junk, "\r\n\r\n");
  await junk.write(new TextEncoder().encode("this is not TLS\r\n\r\n".repeat(50)));
  assert.equal(await readUntil(junk, "never", 3000), "");
  junk.close();
  // A server name other than the CONNECT host is refused.
  const sni = await rawConnect(port, "CONNECT api.openai.com:443 HTTP/1.1\r\n\r\n");
  await readUntil(sni, "\r\n\r\n");
  const tls = await Deno.startTls(sni, { hostname: "evil.example", caCerts: [h.caPem] });
  await assert.rejects(() => tls.handshake());
  tls.close();
  const res = await fetch("https://api.openai.com/v1/chat/completions", { method: "POST", client: h.client });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await h.stop();
});
