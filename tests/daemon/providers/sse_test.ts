import { deepStrictEqual, equal } from "node:assert/strict";
import { MAX_EVENT_CHARS, type SseEvent, SseSplitter } from "../../../daemon/providers/sse.ts";
import { cutPoints } from "./_util.ts";

function split(pieces: (string | Uint8Array)[]): SseEvent[] {
  const events: SseEvent[] = [];
  const s = new SseSplitter((e) => events.push(e));
  for (const p of pieces) s.push(typeof p === "string" ? new TextEncoder().encode(p) : p);
  s.end();
  return events;
}

const STREAM = [
  ": keep-alive comment",
  "event: message_start",
  "dataset: a field named like data is not data",
  "events: nor one named like event",
  'data: {"a":1}',
  "",
  "id: 7",
  "retry: 1000",
  "data: first line",
  "data:second line without space",
  "data:  two spaces keep one",
  "",
  "event: ping",
  "",
  "data",
  "",
  "event: message_stop",
  'data: {"emoji":"\u00e9\u{1F600}"}',
  "",
  "",
];

const EXPECTED: SseEvent[] = [
  { event: "message_start", data: '{"a":1}' },
  { event: "message", data: "first line\nsecond line without space\n two spaces keep one" },
  { event: "message", data: "" },
  { event: "message_stop", data: '{"emoji":"\u00e9\u{1F600}"}' },
];

Deno.test("SseSplitter splits by blank lines, joins multi-line data and skips comments and empty events", () => {
  deepStrictEqual(split([STREAM.join("\n")]), EXPECTED);
});

Deno.test("SseSplitter gives the same events for LF, CRLF and lone CR, split at every byte", () => {
  for (const eol of ["\n", "\r\n", "\r"]) {
    const bytes = new TextEncoder().encode(STREAM.join(eol));
    for (const cut of cutPoints(bytes.length)) {
      deepStrictEqual(
        split([bytes.subarray(0, cut), bytes.subarray(cut)]),
        EXPECTED,
        `eol ${JSON.stringify(eol)} cut ${cut}`,
      );
    }
    deepStrictEqual(split(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))), EXPECTED);
  }
});

Deno.test("SseSplitter keeps an event name when CRLF is split between CR and LF", () => {
  deepStrictEqual(split(["event: done\r", "\ndata: x\r\n\r\n"]), [{ event: "done", data: "x" }]);
});

Deno.test("SseSplitter still hands over a last event that lacks its closing blank line", () => {
  deepStrictEqual(split(["data: one\n\ndata: two"]), [
    { event: "message", data: "one" },
    { event: "message", data: "two" },
  ]);
});

Deno.test("SseSplitter drops an event larger than its limit and counts it, keeping the next one", () => {
  const events: SseEvent[] = [];
  const s = new SseSplitter((e) => events.push(e));
  const big = "x".repeat(1024 * 1024);
  s.push(new TextEncoder().encode("data: "));
  for (let i = 0; i * big.length <= MAX_EVENT_CHARS; i++) s.push(new TextEncoder().encode(big));
  s.push(new TextEncoder().encode("\n\ndata: small\n\n"));
  s.end();
  deepStrictEqual(events, [{ event: "message", data: "small" }]);
  equal(s.dropped, 1);
});
