import assert from "node:assert/strict";
import { randomHex } from "../../core/random.ts";

Deno.test("randomHex() gives two lowercase hex characters a byte, different each time", () => {
  const a = randomHex(16);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.match(randomHex(4), /^[0-9a-f]{8}$/);
  assert.notEqual(randomHex(16), a);
});
