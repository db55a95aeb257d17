import { deepStrictEqual, equal } from "node:assert/strict";
import { JsonPicker, type Pick, wholeCharsEnd } from "../../../daemon/providers/json_pick.ts";
import { cutPoints } from "./_util.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function pick(spec: Pick, pieces: Uint8Array[]): { value: unknown; complete: boolean } {
  const p = new JsonPicker(spec);
  for (const piece of pieces) p.push(piece);
  const value = p.end();
  return { value, complete: p.complete };
}

const BODY = `{
  "id": "x\\"}{",
  "content": [{"text": "\\"usage\\": {\\"input_tokens\\": 1}"}, {"n": -1.5e3}],
  "model": "m-1",
  "usage": {"input_tokens": 24, "details": [1, 2, {"deep": "\\u00e9"}]},
  "count": 7,
  "flag": false,
  "wrap": {"inner": {"keep": [true]}, "skip": "no", "keep2": null},
  "e\\u0073caped": 3
}`;

const SPEC: Pick = {
  model: true,
  usage: true,
  count: true,
  flag: true,
  wrap: { inner: true, keep2: true },
  escaped: true,
};
const EXPECTED = {
  model: "m-1",
  usage: { input_tokens: 24, details: [1, 2, { deep: "\u00e9" }] },
  count: 7,
  flag: false,
  wrap: { inner: { keep: [true] }, keep2: null },
  escaped: 3,
};

Deno.test("JsonPicker keeps only the named members, nested picks included, skipping look-alikes in strings", () => {
  deepStrictEqual(pick(SPEC, [bytes(BODY)]), { value: EXPECTED, complete: true });
});

Deno.test("JsonPicker gives the same members split at every byte", () => {
  const body = bytes(BODY);
  for (const cut of cutPoints(body.length)) {
    deepStrictEqual(pick(SPEC, [body.subarray(0, cut), body.subarray(cut)]), {
      value: EXPECTED,
      complete: true,
    });
  }
  deepStrictEqual(pick(SPEC, Array.from(body, (_, i) => body.subarray(i, i + 1))), {
    value: EXPECTED,
    complete: true,
  });
});

Deno.test("JsonPicker reads a character split across chunks, however many bytes it has", () => {
  // 2-, 3- and 4-byte characters in a kept value, in a key and in a skipped value.
  const body = bytes(`{"skip": "ü€𝄞", "model": "mé-€-𝄞", "usage": {"n€": 1}}`);
  const expected = { value: { model: "mé-€-𝄞", usage: { "n€": 1 } }, complete: true };
  for (let cut = 0; cut <= body.length; cut++) {
    deepStrictEqual(
      pick({ model: true, usage: true }, [body.subarray(0, cut), body.subarray(cut)]),
      expected,
    );
  }
  deepStrictEqual(
    pick({ model: true, usage: true }, Array.from(body, (_, i) => body.subarray(i, i + 1))),
    expected,
  );
});

Deno.test("wholeCharsEnd() stops before a cut-off character only", () => {
  equal(wholeCharsEnd(bytes("abc")), 3);
  equal(wholeCharsEnd(bytes("a€")), 4);
  equal(wholeCharsEnd(bytes("a€").subarray(0, 3)), 1);
  equal(wholeCharsEnd(bytes("a𝄞").subarray(0, 4)), 1);
  equal(wholeCharsEnd(bytes("a𝄞")), 5);
  // A stray continuation byte is no character to wait for: the decoder replaces it.
  equal(wholeCharsEnd(new Uint8Array([0x61, 0x80])), 2);
});

Deno.test("JsonPicker cut short returns what it found and reports the object incomplete", () => {
  const body = BODY.slice(0, BODY.indexOf('"count"'));
  deepStrictEqual(pick(SPEC, [bytes(body)]), {
    value: { model: "m-1", usage: { input_tokens: 24, details: [1, 2, { deep: "\u00e9" }] } },
    complete: false,
  });
});

Deno.test("JsonPicker returns nothing for a body that is not a JSON object", () => {
  equal(pick(SPEC, [bytes("<html>502 Bad Gateway</html>")]).value, undefined);
  equal(pick(SPEC, [bytes("[1,2]")]).value, undefined);
});
