import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type ConnOwner, UpstreamConn } from "../../../daemon/upstream/conn.ts";

/** A TCP pair on 127.0.0.1: the far end is the "provider" the test writes from. */
async function pair(): Promise<{ near: Deno.TcpConn; far: Deno.TcpConn; close(): void }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [near, far] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  return {
    near,
    far,
    close() {
      for (const c of [near, far]) {
        try {
          c.close();
        } catch { /* closed by the test */ }
      }
    },
  };
}

function recorder(): ConnOwner & { data: string[]; ends: (Error | undefined)[] } {
  const data: string[] = [];
  const ends: (Error | undefined)[] = [];
  return { data, ends, onData: (b: Buffer) => data.push(b.toString()), onEnd: (e) => ends.push(e) };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

Deno.test("UpstreamConn gives bytes to its current owner, holds them while paused, and tells the end once", async () => {
  const p = await pair();
  let closed = 0;
  const conn = new UpstreamConn(p.near, () => closed++);
  const first = recorder();
  conn.own(first);
  await p.far.write(new TextEncoder().encode("one"));
  await tick();
  assert.deepEqual(first.data, ["one"]);

  const second = recorder();
  conn.own(second);
  conn.pause();
  await p.far.write(new TextEncoder().encode("two"));
  await tick();
  // The read already waiting delivers once; after that nothing more is read until resumed.
  await p.far.write(new TextEncoder().encode("three"));
  await tick();
  assert.equal(second.data.join(""), "two");
  conn.resume();
  await tick();
  assert.equal(second.data.join(""), "twothree");
  assert.deepEqual(first.data, ["one"], "a former owner gets nothing more");

  p.far.close();
  await tick();
  assert.equal(second.ends.length, 1);
  assert.equal(conn.closed, true);
  assert.equal(closed, 1);
  p.close();
});

Deno.test("UpstreamConn writes in order and close() does not report an end to the owner", async () => {
  const p = await pair();
  const conn = new UpstreamConn(p.near);
  const owner = recorder();
  conn.own(owner);
  const big = new Uint8Array(256 * 1024).fill(120);
  const writes = Promise.all([conn.write(big), conn.write(new TextEncoder().encode("END"))]);
  const got: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  while (total < big.length + 3) {
    const n = await p.far.read(buf);
    if (n === null) break;
    got.push(buf.slice(0, n));
    total += n;
  }
  await writes;
  const all = Buffer.concat(got);
  assert.equal(all.length, big.length + 3);
  assert.equal(all.subarray(big.length).toString(), "END");
  conn.close();
  await tick();
  assert.deepEqual(owner.ends, []);
  await assert.rejects(conn.write(new Uint8Array(1)));
  p.close();
});

Deno.test("UpstreamConn reads a small answer in one record's worth and moves a large body intact in bigger reads", async () => {
  const p = await pair();
  const conn = new UpstreamConn(p.near);
  const sizes: number[] = [];
  const parts: Buffer[] = [];
  conn.own({
    onData: (b: Buffer) => {
      sizes.push(b.length);
      parts.push(b);
    },
    onEnd: () => {},
  });
  const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
  await p.far.write(big.subarray(0, 300));
  await tick();
  assert.deepEqual(sizes, [300]);
  let off = 300;
  while (off < big.length) off += await p.far.write(big.subarray(off));
  for (let i = 0; i < 100 && parts.reduce((n, b) => n + b.length, 0) < big.length; i++) await tick();
  const got = Buffer.concat(parts);
  assert.equal(got.length, big.length);
  assert.equal(got.findIndex((b, i) => b !== big[i]), -1, "the first byte that differs");
  assert.ok(Math.max(...sizes) <= 64 * 1024, "no read is larger than the bulk buffer");
  assert.ok(
    Math.max(...sizes) > 16 * 1024,
    `a large body is read more than 16 KiB at a time (${Math.max(...sizes)})`,
  );
  conn.close();
  p.close();
});

Deno.test("UpstreamConn keeps a body intact when its owner pauses and resumes from inside onData", async () => {
  const p = await pair();
  const conn = new UpstreamConn(p.near);
  const parts: Buffer[] = [];
  conn.own({
    onData: (b: Buffer) => {
      parts.push(b);
      conn.pause();
      conn.resume();
    },
    onEnd: () => {},
  });
  const big = new Uint8Array(512 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
  // Written alongside, not awaited first: a reader that stopped would otherwise hang the test.
  const writing = (async () => {
    let off = 0;
    while (off < big.length) off += await p.far.write(big.subarray(off));
  })().catch(() => {});
  for (let i = 0; i < 100 && parts.reduce((n, b) => n + b.length, 0) < big.length; i++) await tick();
  conn.close();
  p.close();
  await writing;
  const got = Buffer.concat(parts);
  assert.equal(got.length, big.length);
  assert.equal(got.findIndex((b, i) => b !== big[i]), -1, "the first byte that differs");
});
