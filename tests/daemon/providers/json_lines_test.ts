import assert from "node:assert/strict";
import { JsonLinesSplitter, MAX_LINE_CHARS } from "../../../daemon/providers/json_lines.ts";

const split = (pieces: Uint8Array[]) => {
  const lines: string[] = [];
  const s = new JsonLinesSplitter((l) => lines.push(l));
  for (const p of pieces) s.push(p);
  s.end();
  return { lines, dropped: s.dropped };
};

Deno.test("JsonLinesSplitter gives each line once, split at every byte, with CRLF, blank lines and no last newline", () => {
  const text = '{"a":1}\r\n\n{"b":"é\\n"}\n  \n{"c":3}';
  const bytes = new TextEncoder().encode(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const got = split([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.deepEqual(got.lines, ['{"a":1}', '{"b":"é\\n"}', '{"c":3}'], `cut at ${cut}`);
  }
});

Deno.test("JsonLinesSplitter drops a line longer than its limit, counts it, and keeps the next", () => {
  const long = "x".repeat(MAX_LINE_CHARS + 1);
  const got = split([new TextEncoder().encode(`${long}\n{"ok":1}\n`)]);
  assert.deepEqual(got, { lines: ['{"ok":1}'], dropped: 1 });
});
