import { deepStrictEqual, equal } from "node:assert/strict";
import * as zlib from "node:zlib";
import { createDecoder } from "../../../daemon/providers/decode.ts";

const TEXT = Array.from({ length: 400 }, (_, i) => `data: {"i":${i},"text":"chunk ${i * 7919 % 1000}"}\n\n`)
  .join("");
const PLAIN = new TextEncoder().encode(TEXT);

async function decode(encoding: string, body: Uint8Array, size = 97): Promise<{ text: string; ok: boolean }> {
  const out: Uint8Array[] = [];
  const d = createDecoder(encoding, (c) => out.push(c.slice()));
  for (let i = 0; i < body.length; i += size) d.push(body.subarray(i, i + size));
  const ok = await d.end();
  return { text: new TextDecoder().decode(concat(out)), ok };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

const ENCODED: Record<string, Uint8Array> = {
  gzip: zlib.gzipSync(PLAIN),
  deflate: zlib.deflateSync(PLAIN),
  br: zlib.brotliCompressSync(PLAIN),
  zstd: zlib.zstdCompressSync(PLAIN),
};

for (const [encoding, body] of Object.entries(ENCODED)) {
  Deno.test(`createDecoder() decodes ${encoding} fed in small pieces`, async () => {
    deepStrictEqual(await decode(encoding, body), { text: TEXT, ok: true });
    deepStrictEqual(await decode(encoding.toUpperCase(), body, 1), { text: TEXT, ok: true });
  });
}

Deno.test("createDecoder() decodes raw deflate sent as content-encoding deflate", async () => {
  deepStrictEqual(await decode("deflate", zlib.deflateRawSync(PLAIN)), { text: TEXT, ok: true });
});

Deno.test("createDecoder() undoes stacked encodings in reverse order", async () => {
  const body = zlib.brotliCompressSync(zlib.gzipSync(PLAIN));
  deepStrictEqual(await decode("gzip, br", body), { text: TEXT, ok: true });
});

Deno.test("createDecoder() passes identity bytes through at once", async () => {
  const seen: Uint8Array[] = [];
  const d = createDecoder("identity", (c) => seen.push(c));
  d.push(PLAIN);
  equal(seen[0], PLAIN);
  equal(await d.end(), true);
});

Deno.test("createDecoder() on a truncated gzip body hands over what decoded, then reports failure", async () => {
  const body = ENCODED.gzip.subarray(0, Math.floor(ENCODED.gzip.length / 2));
  const r = await decode("gzip", body);
  equal(r.ok, false);
  equal(TEXT.startsWith(r.text), true);
  equal(r.text.length > 0, true);
});

Deno.test("createDecoder() reports corrupt and unknown encodings as failures without throwing", async () => {
  const junk = new TextEncoder().encode("this is not gzip at all, just text pretending");
  deepStrictEqual(await decode("gzip", junk), { text: "", ok: false });
  deepStrictEqual(await decode("zstd", junk), { text: "", ok: false });
  deepStrictEqual(await decode("compress", ENCODED.gzip), { text: "", ok: false });
});

Deno.test("createDecoder() copies each chunk, so the caller may reuse its buffer at once", async () => {
  const out: Uint8Array[] = [];
  const d = createDecoder("gzip", (c) => out.push(c.slice()));
  const buffer = new Uint8Array(64);
  for (let i = 0; i < ENCODED.gzip.length; i += 64) {
    const piece = ENCODED.gzip.subarray(i, i + 64);
    buffer.set(piece);
    d.push(buffer.subarray(0, piece.length));
    buffer.fill(0);
  }
  equal(await d.end(), true);
  equal(new TextDecoder().decode(concat(out)), TEXT);
});

Deno.test("createDecoder() counts a throwing consumer as a failed decode, never rethrowing", async () => {
  const d = createDecoder("br", () => {
    throw new Error("consumer bug");
  });
  d.push(ENCODED.br);
  equal(await d.end(), false);
});
