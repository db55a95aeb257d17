import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { indexOfCrlf, indexOfHeadEnd } from "../../../daemon/http1/crlf.ts";

const samples = [
  "",
  "\r",
  "\r\n",
  "\n\r\n",
  "\r\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\r\n\r\n",
  "a\r\nb\r\n\rc\r\n\r",
  "\r\n\r\n\r\n",
  "no line end at all",
  "é\r\nü\r\n\r\n",
];

Deno.test("indexOfCrlf() and indexOfHeadEnd() agree with Buffer.indexOf at every start", () => {
  for (const s of samples) {
    const b = Buffer.from(s, "latin1");
    for (let from = 0; from <= b.length; from++) {
      assert.equal(
        indexOfCrlf(b, from),
        b.indexOf("\r\n", from),
        `crlf in ${JSON.stringify(s)} from ${from}`,
      );
      assert.equal(
        indexOfHeadEnd(b, from),
        b.indexOf("\r\n\r\n", from),
        `head end in ${JSON.stringify(s)} from ${from}`,
      );
    }
  }
});

Deno.test("indexOfHeadEnd() finds the end of a head in random bytes like Buffer.indexOf", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  for (let n = 0; n < 500; n++) {
    // Mostly CR and LF, so that near misses are common.
    const b = Buffer.from(
      Array.from({ length: Math.floor(rand() * 40) }, () => [13, 10, 65][Math.floor(rand() * 3)]),
    );
    assert.equal(indexOfHeadEnd(b), b.indexOf("\r\n\r\n"));
    assert.equal(indexOfCrlf(b), b.indexOf("\r\n"));
  }
});
