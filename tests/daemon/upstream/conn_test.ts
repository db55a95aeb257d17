import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { type ConnOwner, UpstreamConn } from "../../../daemon/upstream/conn.ts";
import { providerTlsServer } from "../../../testkit/tls_server.ts";

/** What the tests do with the provider's end of a connection. */
interface FarEnd {
  write(data: Uint8Array): Promise<number>;
  /** Up to `buf.length` bytes into `buf`; null once the connection ended. */
  read(buf: Uint8Array): Promise<number | null>;
  close(): void;
}

/**
 * A TLS connection on 127.0.0.1 as the pool makes one (no Nagle, handshake done), and its far end as the
 * "provider" the test writes from and reads. The far end is a `node:tls` server socket because Deno's own TLS
 * server cannot turn Nagle off (its small writes would wait for a delayed ACK); and as that socket reads into
 * memory even while paused, a TCP relay in between stops reading when told, to fill the socket buffers as a slow
 * provider does.
 */
async function pair(): Promise<
  { near: Deno.TlsConn; far: FarEnd; stopReading(): void; startReading(): void; close(): void }
> {
  const dir = await Deno.makeTempDir();
  const { server, caPem } = await providerTlsServer(dir);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise<TLSSocket>((r) => server.once("secureConnection", r));
  const relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [tcp, inbound, outbound] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port }),
    relay.accept(),
    Deno.connect({ hostname: "127.0.0.1", port: (server.address() as AddressInfo).port }),
  ]);
  relay.close();
  for (const c of [tcp, inbound, outbound]) c.setNoDelay(true);
  let stopped: PromiseWithResolvers<void> | undefined;
  const pump = async (from: Deno.TcpConn, to: Deno.TcpConn, gated: boolean) => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      if (gated) await stopped?.promise;
      const n = await from.read(buf);
      if (n === null) return to.closeWrite();
      for (let at = 0; at < n;) at += await to.write(buf.subarray(at, n));
    }
  };
  pump(inbound, outbound, true).catch(() => {});
  pump(outbound, inbound, false).catch(() => {});
  const near = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [caPem] });
  await near.handshake();
  const socket = await accepted;
  socket.setNoDelay(true);
  server.close();
  await Deno.remove(dir, { recursive: true });
  const queue: Buffer[] = [];
  let ended = false;
  let wake = () => {};
  socket.on("data", (d: Buffer) => {
    queue.push(d);
    wake();
  });
  socket.on("close", () => {
    ended = true;
    wake();
  });
  socket.on("error", () => {});
  const far: FarEnd = {
    write: (data) =>
      new Promise((resolve, reject) => socket.write(data, (e) => e ? reject(e) : resolve(data.length))),
    async read(buf) {
      while (!queue.length) {
        if (ended) return null;
        await new Promise<void>((r) => wake = r);
      }
      const head = queue[0];
      const n = Math.min(head.length, buf.length);
      buf.set(head.subarray(0, n));
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
      return n;
    },
    close: () => socket.end(),
  };
  return {
    near,
    far,
    stopReading: () => stopped ??= Promise.withResolvers(),
    startReading() {
      stopped?.resolve();
      stopped = undefined;
    },
    close() {
      for (const c of [near, inbound, outbound]) {
        try {
          c.close();
        } catch { /* closed by the test */ }
      }
      socket.destroy();
    },
  };
}

function recorder(): ConnOwner & { data: string[]; ends: (Error | undefined)[] } {
  const data: string[] = [];
  const ends: (Error | undefined)[] = [];
  return { data, ends, onData: (b: Buffer) => data.push(b.toString()), onEnd: (e) => ends.push(e) };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

/** What `far` receives, until `length` bytes or its end. */
async function readUpTo(far: FarEnd, length: number): Promise<Buffer> {
  const got: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  while (total < length) {
    const n = await far.read(buf);
    if (n === null) break;
    got.push(buf.slice(0, n));
    total += n;
  }
  return Buffer.concat(got);
}

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
  const all = await readUpTo(p.far, big.length + 3);
  await writes;
  assert.equal(all.length, big.length + 3);
  assert.equal(all.subarray(big.length).toString(), "END");
  conn.close();
  await tick();
  assert.deepEqual(owner.ends, []);
  await assert.rejects(conn.write(new Uint8Array(1)));
  p.close();
});

Deno.test("UpstreamConn keeps a body in order when writes are started back to back and the provider reads late", async () => {
  const p = await pair();
  const conn = new UpstreamConn(p.near);
  conn.own(recorder());
  // Sizes around the write limit and the TLS record size, as a client's chunks come: 12 MB, more than the
  // socket buffers take (a sender's grows to 4 MB here), so the later writes wait for the provider to read.
  const sizes = [65536, 1, 64512, 64513, 16384, 200_000, 7, 131_072, 65_535, 3000];
  const chunks: Uint8Array[] = [];
  for (let total = 0, i = 0; total < 12 * 1024 * 1024; i++) {
    const chunk = new Uint8Array(sizes[i % sizes.length]);
    for (let at = 0; at < chunk.length; at += 65536) crypto.getRandomValues(chunk.subarray(at, at + 65536));
    chunks.push(chunk);
    total += chunk.length;
  }
  const expected = Buffer.concat(chunks);
  p.stopReading();
  let written = 0;
  const writes = Promise.all(chunks.map((c) => conn.write(c).then(() => written++)));
  await tick();
  assert.ok(
    written < chunks.length,
    `writes wait for the provider to read (${written} of ${chunks.length} done)`,
  );
  p.startReading();
  const all = await readUpTo(p.far, expected.length);
  await writes;
  assert.equal(all.length, expected.length);
  assert.equal(all.findIndex((b, i) => b !== expected[i]), -1, "the first byte that differs");
  conn.close();
  p.close();
});

Deno.test("UpstreamConn closes the connection and fails the write when the TLS stream takes part of a write", async () => {
  let closed = 0;
  const taken: number[] = [];
  const stream = {
    write: (b: Uint8Array) => {
      taken.push(b.length);
      return Promise.resolve(Math.min(b.length, 1000));
    },
    read: () => new Promise<number | null>(() => {}),
    close: () => closed++,
  } as unknown as Deno.TlsConn;
  let lost = 0;
  const conn = new UpstreamConn(stream, () => lost++);
  await conn.write(new Uint8Array(800));
  assert.equal(conn.closed, false);
  await assert.rejects(conn.write(new Uint8Array(5000)), /took 1000 of 5000 bytes/);
  assert.equal(conn.closed, true);
  assert.equal(closed, 1);
  assert.equal(lost, 1);
  assert.deepEqual(taken, [800, 5000]);
});

Deno.test("UpstreamConn reads a small answer as it comes and a large body intact, a TLS record at a time", async () => {
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
  assert.equal(Math.max(...sizes), 16 * 1024, "a read takes at most one record, and a full one when it can");
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
