import assert from "node:assert/strict";
import {
  type ByteReader,
  parseRequestHead,
  parseResponseHead,
  readHead,
  RequestHeadCheck,
  serializeHead,
} from "../../edge/_head.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A reader that hands out `data` in pieces of `step` bytes. */
function trickle(data: Uint8Array, step: number): ByteReader {
  let off = 0;
  return {
    read(p) {
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(step, p.length, data.length - off);
      p.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
}

Deno.test("readHead() finds the end of a head split at every byte boundary and keeps what follows", async () => {
  const head = "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n";
  const early = "\x16\x03\x01early";
  for (let step = 1; step <= head.length + early.length; step++) {
    const reader = trickle(enc(head + early), step);
    const got = await readHead(reader);
    assert.equal(got.kind, "head");
    if (got.kind !== "head") continue;
    assert.equal(dec(got.head), head);
    let after = dec(got.rest);
    const buf = new Uint8Array(64);
    for (let n = await reader.read(buf); n !== null; n = await reader.read(buf)) {
      after += dec(buf.subarray(0, n));
    }
    assert.equal(after, early, `step ${step}`);
  }
});

Deno.test("readHead() returns the bytes after the head when they arrive in the same read", async () => {
  const got = await readHead(trickle(enc("GET http://x/ HTTP/1.1\r\n\r\nbody-bytes"), 1 << 20));
  assert.equal(got.kind === "head" && dec(got.rest), "body-bytes");
});

Deno.test("readHead() reports a head over the limit as too large, and a stream that ends first as eof", async () => {
  const big = enc(`CONNECT x:1 HTTP/1.1\r\nX: ${"a".repeat(70_000)}\r\n\r\n`);
  assert.equal((await readHead(trickle(big, 8192))).kind, "too-large");
  assert.equal((await readHead(trickle(enc("CONNECT x:1 HTTP/1.1\r\n"), 4))).kind, "eof");
  const justUnder = enc(`CONNECT x:1 HTTP/1.1\r\nX: ${"a".repeat(1000)}\r\n\r\n`);
  assert.equal((await readHead(trickle(justUnder, 100), 1100)).kind, "head");
  assert.equal((await readHead(trickle(justUnder, 100), 1000)).kind, "too-large");
});

Deno.test("parseRequestHead() reads the request line and headers as sent", () => {
  const head = parseRequestHead(
    enc("CONNECT api.x.ai:443 HTTP/1.1\r\nHost: api.x.ai:443\r\nX-A:  spaced \t\r\n\r\n"),
  );
  assert.deepEqual(head, {
    method: "CONNECT",
    target: "api.x.ai:443",
    version: "HTTP/1.1",
    headers: [["Host", "api.x.ai:443"], ["X-A", "spaced"]],
  });
});

Deno.test("parseRequestHead() rejects what is not HTTP/1.x", () => {
  for (
    const bad of [
      "CONNECT x:1 HTTP/2.0\r\n\r\n",
      "CONNECT  x:1 HTTP/1.1\r\n\r\n",
      "CONNECT x:1\r\n\r\n",
      "connect x:1 HTTP/1.1\nHost: x\n\n",
      "CONNECT x:1 HTTP/1.1\r\n continued\r\n\r\n",
      "CONNECT x:1 HTTP/1.1\r\nNo colon\r\n\r\n",
      "CONNECT x:1 HTTP/1.1\r\n: empty name\r\n\r\n",
      "CONNECT x:1 HTTP/1.1\r\nX: a\x00b\r\n\r\n",
      "\x16\x03\x01\x00\x05hello\r\n\r\n",
    ]
  ) {
    assert.equal(parseRequestHead(enc(bad)), undefined, JSON.stringify(bad));
  }
});

Deno.test("parseResponseHead() reads the status, with or without a reason", () => {
  assert.equal(parseResponseHead(enc("HTTP/1.1 200 Connection Established\r\n\r\n"))?.status, 200);
  assert.equal(parseResponseHead(enc("HTTP/1.0 407\r\nProxy-Authenticate: Basic\r\n\r\n"))?.status, 407);
  assert.equal(parseResponseHead(enc("HTTP/1.1 2000 OK\r\n\r\n")), undefined);
  assert.equal(parseResponseHead(enc("SSH-2.0-OpenSSH\r\n\r\n")), undefined);
});

Deno.test("serializeHead() writes a head that parseRequestHead() reads back", () => {
  const bytes = serializeHead("CONNECT a.b:443 HTTP/1.1", [["Host", "a.b:443"], [
    "x-halton-client",
    "127.0.0.1:5",
  ]]);
  assert.equal(
    dec(bytes),
    "CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\nx-halton-client: 127.0.0.1:5\r\n\r\n",
  );
  assert.equal(parseRequestHead(bytes)?.headers[1][1], "127.0.0.1:5");
});

Deno.test("RequestHeadCheck accepts a request head fed in any pieces and refuses garbage at its first byte", () => {
  const good = "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nUA: a\tb \xff\r\n\r\n";
  const whole = new RequestHeadCheck();
  assert.ok(whole.feed(latin1(good)));
  const byByte = new RequestHeadCheck();
  for (let i = 0; i < good.length; i++) {
    assert.ok(byByte.feed(latin1(good[i])), JSON.stringify(good.slice(0, i + 1)));
  }
  const bad = [
    "\x16",
    " GET",
    "GET  /",
    "GET / HTTP/2",
    "GET / HTTP/1.1x",
    "GET /\r\n",
    "GET / HTTP/1.1\rX",
    "GET / HTTP/1.1\r\n folded",
    "GET / HTTP/1.1\r\nBad Name: v",
    "GET / HTTP/1.1\r\nName: a\x00b",
    "GET / HTTP/1.1\r\nName: v\n",
    "GET / HTTP/1.1\r\n\rX",
  ];
  for (const b of bad) {
    const check = new RequestHeadCheck();
    assert.equal(check.feed(latin1(b)), false, JSON.stringify(b));
    assert.equal(check.feed(latin1("GET / HTTP/1.1\r\n")), false, "once refused, always refused");
  }
});

function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}
