import assert from "node:assert/strict";
import { type ExchangeStart, guardHook, type MeteringHook } from "../../../daemon/intercept/seam.ts";

const START: ExchangeStart = {
  host: "api.anthropic.com",
  path: "/v1/messages?beta=true",
  method: "POST",
  httpVersion: "1.1",
  status: 200,
  startedAt: new Date("2026-11-25T10:00:00.000Z"),
  headMs: 40,
  client: "127.0.0.1:5000",
  requestHeaders: { "x-api-key": "sk-ant-secret" },
  responseHeaders: { "content-type": "text/event-stream" },
  requestBody: new Uint8Array(),
  requestBodyTruncated: false,
};
const END = { complete: true, latencyMs: 900, ttftMs: 120, requestBytes: 10, responseBytes: 500 };

Deno.test("guardHook() keeps a throwing hook off the data path and still reports the end", () => {
  const seen: string[] = [];
  const ends: boolean[] = [];
  const failing: MeteringHook = {
    begin: () => ({
      onResponseChunk() {
        throw new Error("parser bug");
      },
      onEnd: (o) => ends.push(o.complete),
    }),
  };
  const observer = guardHook(failing, (stage) => seen.push(stage)).begin(START)!;
  observer.onResponseChunk(new Uint8Array([1]));
  observer.onResponseChunk(new Uint8Array([2]));
  observer.onEnd(END);
  assert.deepEqual(seen, ["chunk"]);
  assert.deepEqual(ends, [true]);
  const broken = guardHook({
    begin: () => {
      throw new Error("x");
    },
  }, (stage) => seen.push(stage));
  assert.equal(broken.begin(START), undefined);
  assert.deepEqual(seen, ["chunk", "begin"]);
});
