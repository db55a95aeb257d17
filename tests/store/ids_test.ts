import assert from "node:assert/strict";
import { uuid7 } from "../../store/ids.ts";

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("uuid7() is an RFC 9562 version 7 UUID whose first 48 bits are the milliseconds", () => {
  const ms = Date.parse("2026-11-25T10:00:00.123Z");
  const id = uuid7(ms);
  assert.match(id, SHAPE);
  assert.deepEqual(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms);
});

Deno.test("uuid7() ids of later milliseconds sort after earlier ones, as text", () => {
  const start = Date.parse("2026-01-01T00:00:00Z");
  const ids = Array.from({ length: 2000 }, (_, i) => uuid7(start + i * 997));
  assert.deepEqual([...ids].sort(), ids);
});

Deno.test("uuid7() ids of the same millisecond differ, and random bits fill every non-fixed position", () => {
  const ids = Array.from({ length: 5000 }, () => uuid7(1_000));
  assert.deepEqual(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, SHAPE);
  // Every hex digit after the time takes more than one value across the sample, bar the hyphens
  // and the version digit.
  for (let i = 14; i < 36; i++) {
    if (i === 14 || i === 18 || i === 23) continue;
    assert.ok(new Set(ids.map((s) => s[i])).size > 1, `position ${i} never varies`);
  }
});

Deno.test("uuid7() with given random bytes is repeatable, and refuses too few bytes", () => {
  const bytes = Uint8Array.from({ length: 10 }, (_, i) => i * 25);
  assert.deepEqual(uuid7(42, bytes), uuid7(42, bytes));
  assert.deepEqual(uuid7(42, bytes), "00000000-002a-7019-b24b-647d96afc8e1");
  assert.throws(() => uuid7(42, new Uint8Array(9)), RangeError);
});
