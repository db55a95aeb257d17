import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ChunkedDecoder, LAST_CHUNK, pushChunk } from "../../../daemon/http1/chunked.ts";

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

Deno.test("pushChunk() frames data that ChunkedDecoder reads back", () => {
  const parts: Buffer[] = [];
  pushChunk(parts, Buffer.from("x".repeat(300)));
  parts.push(LAST_CHUNK);
  const step = new ChunkedDecoder().push(Buffer.concat(parts));
  assert.equal(Buffer.concat(step.data).toString(), "x".repeat(300));
  assert.equal(step.rest?.length, 0);
  assert.equal(Buffer.concat(parts).subarray(0, 5).toString(), "12c\r\n");
});
