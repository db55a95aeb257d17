import { deepStrictEqual, equal } from "node:assert/strict";
import { JsonArraySplitter } from "../../../daemon/providers/json_array.ts";
import { cutPoints } from "./_util.ts";

function split(pieces: Uint8Array[]): { elements: unknown[]; closed: boolean } {
  const elements: unknown[] = [];
  const s = new JsonArraySplitter((text) => elements.push(JSON.parse(text)));
  for (const p of pieces) s.push(p);
  return { elements, closed: s.end() };
}

const bytes = (s: string) => new TextEncoder().encode(s);

const BODY =
  '[{"text": "a ] and } and \\" and \\\\", "n": [1, {"x": []}]}\n,\r\n{"t":"\u00e9\u{1F600}"}\r\n, 42 ,"s]",' +
  "true,null,[]\n]";
const ELEMENTS = [
  { text: 'a ] and } and " and \\', n: [1, { x: [] }] },
  { t: "\u00e9\u{1F600}" },
  42,
  "s]",
  true,
  null,
  [],
];

Deno.test("JsonArraySplitter yields each top-level element, brackets inside strings notwithstanding", () => {
  deepStrictEqual(split([bytes(BODY)]), { elements: ELEMENTS, closed: true });
});

Deno.test("JsonArraySplitter gives the same elements split at every byte", () => {
  const body = bytes(BODY);
  for (const cut of cutPoints(body.length)) {
    deepStrictEqual(split([body.subarray(0, cut), body.subarray(cut)]), { elements: ELEMENTS, closed: true });
  }
  deepStrictEqual(split(Array.from(body, (_, i) => body.subarray(i, i + 1))), {
    elements: ELEMENTS,
    closed: true,
  });
});

Deno.test("JsonArraySplitter hands over a body that is a single object as one element", () => {
  deepStrictEqual(split([bytes(' {"error": {"code": 400}} ')]), {
    elements: [{ error: { code: 400 } }],
    closed: true,
  });
});

Deno.test("JsonArraySplitter cut mid-element yields the whole elements and reports the array unclosed", () => {
  const r = split([bytes('[{"a":1},\r\n{"b":')]);
  deepStrictEqual(r.elements, [{ a: 1 }]);
  equal(r.closed, false);
});
