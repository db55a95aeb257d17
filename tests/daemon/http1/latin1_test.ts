import assert from "node:assert/strict";
import { latin1Bytes } from "../../../daemon/http1/latin1.ts";

Deno.test("latin1Bytes() gives one byte per character, for ASCII heads and latin1 header values alike", () => {
  assert.deepEqual(
    [...latin1Bytes("GET / HTTP/1.1\r\n")],
    [..."GET / HTTP/1.1\r\n"].map((c) => c.charCodeAt(0)),
  );
  assert.deepEqual([...latin1Bytes("x: caf\u00e9\u00ff\r\n")], [
    0x78,
    0x3a,
    0x20,
    0x63,
    0x61,
    0x66,
    0xe9,
    0xff,
    0x0d,
    0x0a,
  ]);
});
