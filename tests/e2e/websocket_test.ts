/**
 * WebSocket through the meter, end to end: real `edge` and `daemon` processes, the fake provider's echo behind
 * `[upstream] resolve`, and a client speaking RFC 6455 over the edge's CONNECT and the daemon's TLS.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  fixtureOptions,
  readWebSocketFrames,
  renderFixture,
  webSocketAccept,
  webSocketFrame,
} from "../../testkit/fake_provider.ts";
import { waitFor } from "../../testkit/processes.ts";
import { type RunningWorld, withMeter } from "../../testkit/world.ts";

type World = RunningWorld & { ca: string };

const withWorld = (fn: (w: World) => Promise<void>, host = "api.openai.com") =>
  withMeter(
    { prefix: "hm-ws-", hosts: [host] },
    async (w) => fn({ ...w, ca: await Deno.readTextFile(w.caFile) }),
  );

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * A TLS connection to `host` through the edge, speaking HTTP/1.1 as WebSocket clients do (some offer `h2` in
 * ALPN all the same, as Codex does).
 */
async function throughEdge(
  w: World,
  host = "api.openai.com",
  alpnProtocols = ["http/1.1"],
): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: w.ports.edge });
  await tcp.write(encode(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`));
  const buf = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) head += decode(buf.subarray(0, (await tcp.read(buf))!));
  assert.match(head, /^HTTP\/1\.1 200/);
  return await Deno.startTls(tcp, {
    hostname: host,
    caCerts: [w.ca],
    alpnProtocols,
  });
}

/** Reads until the head of a response is in; returns it and the bytes after it. */
async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array }> {
  let got = new Uint8Array(0);
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const text = decode(got);
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      return { head: text.slice(0, end), rest: got.slice(encode(text.slice(0, end + 4)).length) };
    }
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed after ${JSON.stringify(text)}`);
    got = new Uint8Array([...got, ...buf.subarray(0, n)]);
  }
}

async function readFrames(conn: Deno.Conn, pending: Uint8Array, count: number) {
  const frames: { opcode: number; payload: Uint8Array }[] = [];
  const buf = new Uint8Array(64 * 1024);
  let rest = pending;
  while (true) {
    const parsed = readWebSocketFrames(rest);
    frames.push(...parsed.frames);
    rest = parsed.rest;
    if (frames.length >= count) return { frames, rest };
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed after ${frames.length} frames`);
    rest = new Uint8Array([...rest, ...buf.subarray(0, n)]);
  }
}

const MASK = new Uint8Array([1, 2, 3, 4]);

for (const alpn of [["http/1.1"], ["h2", "http/1.1"]]) {
  const offered = alpn.length > 1 ? ", offering h2 in ALPN and speaking HTTP/1.1" : "";
  Deno.test(`a WebSocket through edge and daemon${offered} is upgraded by the provider and carries frames both ways`, async () => {
    await withWorld(async (w) => {
      const conn = await throughEdge(w, "api.openai.com", alpn);
      try {
        assert.equal(
          (await conn.handshake()).alpnProtocol,
          alpn[0],
          "the daemon chose the client's first choice",
        );
        const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
        await conn.write(encode(
          "GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: api.openai.com\r\nConnection: Upgrade\r\n" +
            `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
        ));
        const { head, rest } = await readHead(conn);
        assert.match(head, /^HTTP\/1\.1 101 /);
        assert.match(
          head,
          new RegExp(`sec-websocket-accept: ${webSocketAccept(key).replace(/[+/]/g, "\\$&")}`, "i"),
        );

        const big = "x".repeat(20_000);
        await conn.write(webSocketFrame(1, encode("hello"), MASK));
        await conn.write(webSocketFrame(1, encode(big), MASK));
        const got = await readFrames(conn, rest, 2);
        assert.deepEqual(got.frames.map((f) => decode(f.payload)), ["echo:hello", `echo:${big}`]);

        await conn.write(webSocketFrame(8, new Uint8Array([0x03, 0xe8]), MASK));
        const closing = await readFrames(conn, got.rest, 1);
        assert.equal(closing.frames[0].opcode, 8, "the provider's close frame came back");
        const buf = new Uint8Array(16);
        assert.equal(await conn.read(buf).catch(() => null), null, "and then the connection ended");
      } finally {
        conn.close();
      }
      const seen = w.fake.requests.find((r) => r.path.startsWith("/v1/realtime"))!;
      assert.equal(seen.headers.upgrade, "websocket");
      assert.equal(seen.headers["sec-websocket-version"], "13");
      const logFile = join(w.dir, "logs", "daemon.jsonl");
      const upgraded = async () =>
        (await Deno.readTextFile(logFile)).split("\n").filter((l) => l.includes('"intercept.upgraded"'))
          .map((l) => JSON.parse(l));
      await waitFor("the upgrade's log line", async () => (await upgraded()).length === 1, 5000);
      const [line] = await upgraded();
      assert.equal(line.status, 101);
      assert.equal(line.path, "/v1/realtime");
      assert.ok(line.bytes_up > 20_000 && line.bytes_down > 20_000, JSON.stringify(line));
    });
  });
}

Deno.test("a provider that refuses the upgrade is answered to the client as it was sent, and the connection ends", async () => {
  await withWorld(async (w) => {
    for (const keep of ["", "&keep=1"]) {
      const conn = await throughEdge(w);
      try {
        await conn.write(encode(
          `GET /v1/realtime?fake=refuse${keep} HTTP/1.1\r\nHost: api.openai.com\r\nConnection: Upgrade\r\n` +
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        ));
        const { head, rest } = await readHead(conn);
        assert.match(head, /^HTTP\/1\.1 426 /);
        let body = decode(rest);
        const buf = new Uint8Array(1024);
        let ended = false;
        const timer = setTimeout(() => conn.close(), 5000);
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            body += decode(buf.subarray(0, n));
          }
          ended = true;
        } catch { /* closed by the timer */ }
        clearTimeout(timer);
        assert.equal(body, "no way\n");
        // Ended even when the provider keeps its side open: a call sent next on it must not pass unread.
        assert.ok(ended, `the connection stayed open (keep-alive ${keep !== ""})`);
      } finally {
        conn.close();
      }
    }
    // The daemon goes on serving ordinary calls.
    const client = Deno.createHttpClient({
      caCerts: [w.ca],
      proxy: { url: `http://127.0.0.1:${w.ports.edge}` },
    });
    try {
      const res = await fetch("https://api.openai.com/v1/chat/completions", {
        method: "POST",
        body: "{}",
        client,
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      client.close();
    }
  });
});

for (const [deflate, final] of [[false, false], [true, false], [true, true]]) {
  const how = !deflate
    ? ""
    : final
    ? " with permessage-deflate, each message a whole deflate stream"
    : " with permessage-deflate";
  Deno.test(`Codex over WebSocket${how}: each response is one metered row`, async () => {
    await withWorld(async (w) => {
      const events =
        (await renderFixture("openai_responses_stream.sse", fixtureOptions(new URLSearchParams())))
          .parts.join("").split("\n").filter((l) => l.startsWith("data: ")).length;
      const conn = await throughEdge(w, "chatgpt.com");
      try {
        await conn.write(encode(
          `GET /backend-api/codex/responses${final ? "?final=1" : ""} HTTP/1.1\r\nHost: chatgpt.com\r\n` +
            "Connection: Upgrade\r\n" +
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            "Authorization: Bearer chatgpt-login-token\r\nOpenAI-Beta: responses_websockets=2026-02-06\r\n" +
            (deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "") +
            "\r\n",
        ));
        const { head, rest } = await readHead(conn);
        assert.match(head, /^HTTP\/1\.1 101 /);
        assert.equal(/permessage-deflate/i.test(head), deflate);
        let pending = rest;
        // The transcript's own usage, then 10,000 prompt tokens of which its 8,704 cached: 1,296 uncached.
        for (const input of [undefined, 10_000]) {
          const ask = { type: "response.create", model: "gpt-5.1", metadata: { in: input }, input: [] };
          await conn.write(webSocketFrame(1, encode(JSON.stringify(ask)), MASK));
          const got = await readFrames(conn, pending, events);
          assert.equal(got.frames.length, events, "every event reached the client");
          pending = got.rest;
        }
        await conn.write(webSocketFrame(8, new Uint8Array([0x03, 0xe8]), MASK));
        await readFrames(conn, pending, 1);
      } finally {
        conn.close();
      }
      await waitFor("two rows", () => Promise.resolve(w.rows().length === 2), 5000);
      const [first, second] = w.rows();
      for (const row of [first, second]) {
        assert.equal(row.host, "chatgpt.com");
        assert.equal(row.path, "/backend-api/codex/responses");
        assert.equal(row.provider, "openai");
        assert.equal(row.model, "gpt-5.1");
        assert.equal(row.billing, "subscription");
        assert.equal(row.streamed, 1);
        assert.equal(row.http_status, 101);
        assert.equal(row.tokens_complete, 1);
        assert.equal(row.output_tokens, 321);
      }
      assert.equal(first.input_tokens, 1172);
      assert.equal(second.input_tokens, 1296);
      // gpt-5.1: $1.25 input, $0.125 cached, $10 output per million: (1172×1.25 + 8704×0.125 + 321×10) / 10.
      assert.equal(first.cost_usd_minor_units, 576);
    }, "chatgpt.com");
  });
}

Deno.test("a Realtime voice session: each turn the provider answers is one row, its audio priced as audio", async () => {
  await withWorld(async (w) => {
    const turnEvents = (await Deno.readTextFile(
      new URL("../fixtures/providers/openai_realtime_turn.events", import.meta.url),
    )).trim().split("\n").length;
    const conn = await throughEdge(w);
    try {
      await conn.write(encode(
        "GET /v1/realtime?model=gpt-realtime&fake=realtime HTTP/1.1\r\nHost: api.openai.com\r\n" +
          "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer sk-test\r\n\r\n",
      ));
      const { head, rest } = await readHead(conn);
      assert.match(head, /^HTTP\/1\.1 101 /);
      let { frames, rest: pending } = await readFrames(conn, rest, 1);
      assert.equal(JSON.parse(decode(frames[0].payload)).type, "session.created");
      // A spoken turn the provider answers on its own, then one the client asks for.
      const audio = { type: "input_audio_buffer.append", audio: btoa("\0".repeat(4800)) };
      for (const ask of [[audio, { type: "input_audio_buffer.commit" }], [{ type: "response.create" }]]) {
        for (const m of ask) await conn.write(webSocketFrame(1, encode(JSON.stringify(m)), MASK));
        ({ frames, rest: pending } = await readFrames(conn, pending, turnEvents));
        assert.equal(JSON.parse(decode(frames.at(-1)!.payload)).type, "response.done");
      }
      await conn.write(webSocketFrame(8, new Uint8Array([0x03, 0xe8]), MASK));
      await readFrames(conn, pending, 1);
    } finally {
      conn.close();
    }
    // gpt-realtime is priced by the data package, which the daemon loads on the first call it does not know:
    // the rows are written at once and priced a moment later.
    await waitFor(
      "two priced rows",
      () => Promise.resolve(w.rows().filter((r) => r.cost_usd_minor_units !== null).length === 2),
      10_000,
    );
    for (const row of w.rows()) {
      assert.equal(row.path, "/v1/realtime");
      assert.equal(row.provider, "openai");
      assert.equal(row.model, "gpt-realtime");
      assert.equal(row.http_status, 101);
      assert.equal(row.tokens_complete, 1);
      assert.deepEqual(
        [
          row.input_tokens,
          row.input_audio_tokens,
          row.cache_read_tokens,
          row.output_tokens,
          row.output_audio_tokens,
        ],
        [1000, 900, 500, 400, 350],
      );
      // 100 text × $4 + 900 audio × $32 + 500 cached × $0.40 + 50 text × $16 + 350 audio × $64 per million.
      assert.equal(row.cost_usd_minor_units, 5260);
    }
  });
});
