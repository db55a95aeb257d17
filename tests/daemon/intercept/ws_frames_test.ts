import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { WsFrameReader, type WsMessage } from "../../../daemon/intercept/ws_frames.ts";
import { webSocketFrame } from "../../../testkit/fake_provider.ts";

const MASK = new Uint8Array([9, 8, 7, 6]);
const text = (s: string) => new TextEncoder().encode(s);

/** A frame with its FIN bit cleared (a fragment that is not the last). */
function fragment(opcode: number, payload: Uint8Array, mask?: Uint8Array): Uint8Array {
  const f = webSocketFrame(opcode, payload, mask);
  f[0] &= 0x7f;
  return f;
}

const longer = "y".repeat(300);
const stream = Buffer.concat([
  webSocketFrame(1, text("first"), MASK),
  webSocketFrame(9, text("ping")),
  fragment(1, text("fragm"), MASK),
  webSocketFrame(10, text("pong"), MASK),
  webSocketFrame(0, text("ented"), MASK),
  webSocketFrame(2, new Uint8Array([1, 2, 3])),
  webSocketFrame(1, text(longer)),
]);

function read(chunks: Uint8Array[]): WsMessage[] {
  const got: WsMessage[] = [];
  const reader = new WsFrameReader((m) => got.push(m));
  for (const c of chunks) reader.push(c);
  assert.equal(reader.stopped, false);
  return got;
}

Deno.test("WsFrameReader joins fragments, unmasks, skips control frames, split at every byte", () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const got = read([stream.subarray(0, cut), stream.subarray(cut)]);
    assert.deepEqual(
      got.map((m) => [m.opcode, m.opcode === 1 ? new TextDecoder().decode(m.payload) : [...m.payload]]),
      [[1, "first"], [1, "fragmented"], [2, [1, 2, 3]], [1, longer]],
      `cut at ${cut}`,
    );
  }
});

Deno.test("WsFrameReader reads a 10 MB message that comes a TLS record at a time, with a small one after it", () => {
  const big = new Uint8Array(10_000_000);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const wire = Buffer.concat([webSocketFrame(2, big, MASK), webSocketFrame(1, text("next"))]);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += 16_384) chunks.push(wire.subarray(at, at + 16_384));
  const got = read(chunks);
  assert.equal(got.length, 2);
  assert.ok(Buffer.from(got[0].payload).equals(Buffer.from(big)), "the message, unmasked, byte for byte");
  assert.equal(new TextDecoder().decode(got[1].payload), "next");
});

Deno.test("WsFrameReader leaves the bytes it is given as they were (they still go upstream)", () => {
  // A Node Buffer, as the daemon passes: its slice() is a view, so unmasking one would change the original.
  const frame = Buffer.from(webSocketFrame(1, text("masked on the wire"), MASK));
  const before = new Uint8Array(frame);
  read([frame]);
  assert.deepEqual(new Uint8Array(frame), before);
});

Deno.test("WsFrameReader reads 64-bit lengths, marks compressed messages, and stops at an oversized one", () => {
  const long = new Uint8Array(10 + 70_000);
  long.set([0xc1, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
  const got: WsMessage[] = [];
  const reader = new WsFrameReader((m) => got.push(m), 100_000);
  reader.push(long);
  assert.equal(got.length, 1);
  assert.equal(got[0].payload.length, 70_000);
  assert.equal(got[0].compressed, true);
  const small = new WsFrameReader((m) => got.push(m), 1000);
  small.push(long);
  assert.equal(small.stopped, true);
  small.push(webSocketFrame(1, text("after")));
  assert.equal(got.length, 1, "nothing is read once stopped");
});

Deno.test("WsFrameReader stops at a continuation with nothing to continue", () => {
  const reader = new WsFrameReader(() => assert.fail("no message"));
  reader.push(webSocketFrame(0, text("orphan")));
  assert.equal(reader.stopped, true);
});
