import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ChunkedDecoder, frameChunk, LAST_CHUNK } from "../../../daemon/http1/chunked.ts";

const BODY = "4\r\nWiki\r\n7;name=v\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT";

Deno.test("ChunkedDecoder decodes a body split at every byte boundary and leaves what follows", () => {
  for (let cut = 0; cut <= BODY.length; cut++) {
    const d = new ChunkedDecoder();
    const parts: Buffer[] = [];
    let after = "";
    let ended = false;
    for (const piece of [BODY.slice(0, cut), BODY.slice(cut)]) {
      if (ended) {
        after += piece;
        continue;
      }
      const step = d.push(Buffer.from(piece, "latin1"));
      assert.equal(step.error, undefined);
      parts.push(...step.data);
      if (step.rest) {
        ended = true;
        after += step.rest.toString("latin1");
      }
    }
    assert.equal(Buffer.concat(parts).toString(), "Wikipedia in \r\nchunks.", `cut at ${cut}`);
    assert.equal(after, "NEXT", `cut at ${cut}`);
  }
});

Deno.test("ChunkedDecoder reports malformed framing", () => {
  assert.ok(new ChunkedDecoder().push(Buffer.from("zz\r\n")).error);
  assert.ok(new ChunkedDecoder().push(Buffer.from("2\r\nabX\r\n")).error);
});

Deno.test("frameChunk() frames data of any size that ChunkedDecoder reads back", () => {
  for (const size of [1, 15, 16, 255, 256, 300, 4095, 65536, 1048575]) {
    const data = Buffer.alloc(size, "x");
    const framed = Buffer.concat([frameChunk(data), LAST_CHUNK]);
    const hex = size.toString(16);
    assert.equal(framed.subarray(0, hex.length + 2).toString(), `${hex}\r\n`);
    const step = new ChunkedDecoder().push(framed);
    assert.equal(step.error, undefined);
    assert.ok(Buffer.concat(step.data).equals(data), `size ${size}`);
    assert.equal(step.rest?.length, 0);
  }
});

Deno.test("ChunkedDecoder reads sizes as RFC 9112 writes them and refuses the rest", () => {
  const read = (line: string) => {
    const step = new ChunkedDecoder().push(Buffer.from(`${line}\r\n`, "latin1"));
    return step.error ?? "ok";
  };
  for (const ok of ["a", "A", "00ff", "fFfF", "1 ;ext=1", "1\t", '1;a="b c"', "ffffffffffff"]) {
    assert.equal(read(ok), "ok", ok);
  }
  for (const bad of ["", "g", " 1", "-1", "1x", "1 2", "1;a\rb", "1;a\nb", "\u00101", "1000000000000"]) {
    assert.equal(read(bad), "malformed chunk size", JSON.stringify(bad));
  }
  assert.equal(new ChunkedDecoder().push(Buffer.from("1".repeat(5000))).error, "chunk line too long");
});

Deno.test("ChunkedDecoder hands over a whole input of data as it came, without a copy", () => {
  const d = new ChunkedDecoder();
  d.push(Buffer.from("5\r\n"));
  const input = Buffer.from("abc");
  assert.equal(d.push(input).data[0], input);
});
