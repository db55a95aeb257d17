import assert from "node:assert/strict";
import type { ExchangeEnd, ExchangeStart } from "../../../daemon/intercept/seam.ts";
import { responsesOverWebSocket } from "../../../daemon/intercept/ws_metering.ts";
import { webSocketFrame } from "../../../testkit/fake_provider.ts";

const MASK = new Uint8Array([1, 2, 3, 4]);
const text = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** What the metering hook was given: per request begun, its body and the events and end it was told. */
interface Seen {
  ask: Record<string, unknown>;
  events: string[];
  end?: ExchangeEnd;
}

/** A tap over a hook that records every exchange; `ask` and `answer` send a client and a provider message. */
function tapped() {
  const seen: Seen[] = [];
  const tap = responsesOverWebSocket({
    meta: { host: "api.openai.com", port: 443, client: "127.0.0.1:5000" },
    path: "/v1/responses",
    requestHeaders: {},
    responseHeaders: {},
    hook: {
      begin(x: ExchangeStart) {
        const s: Seen = { ask: JSON.parse(new TextDecoder().decode(x.requestBody)), events: [] };
        seen.push(s);
        return {
          onResponseChunk: (c) => s.events.push(new TextDecoder().decode(c).replace(/^data: |\n\n$/g, "")),
          onEnd: (e) => s.end = e,
        };
      },
    },
  });
  return {
    seen,
    ask: (value: Record<string, unknown>) => tap.fromClient(webSocketFrame(1, text(value), MASK)),
    answer: (value: Record<string, unknown>) => tap.fromProvider(webSocketFrame(1, text(value))),
    close: (error?: string) => tap.close(error),
    settled: () => new Promise((r) => setTimeout(r, 10)),
  };
}

Deno.test("responses asked for back to back are each answered in turn and each its own exchange", async () => {
  const t = tapped();
  for (const n of [1, 2, 3]) t.ask({ type: "response.create", n });
  for (const n of [1, 2, 3]) {
    t.answer({ type: "response.created", response: { id: `r${n}` } });
    t.answer({ type: "response.completed", response: { id: `r${n}`, usage: { input_tokens: n } } });
  }
  await t.settled();
  assert.deepEqual(
    t.seen.map((s) => [s.ask.n, s.events.map((e) => JSON.parse(e).response.id), s.end?.complete]),
    [[1, ["r1", "r1"], true], [2, ["r2", "r2"], true], [3, ["r3", "r3"], true]],
  );
});

Deno.test("lanes named by stream_id run in parallel: their events go to their own requests", async () => {
  const t = tapped();
  t.ask({ type: "response.create", stream_id: "a", n: 1 });
  t.ask({ type: "response.create", stream_id: "b", n: 2 });
  t.ask({ type: "response.create", stream_id: "a", n: 3 });
  t.answer({ type: "response.created", stream_id: "b", response: { id: "rb" } });
  t.answer({ type: "response.created", stream_id: "a", response: { id: "ra1" } });
  t.answer({ type: "response.completed", stream_id: "a", response: { id: "ra1" } });
  t.answer({ type: "response.created", stream_id: "a", response: { id: "ra3" } });
  t.answer({ type: "response.completed", stream_id: "b", response: { id: "rb" } });
  t.answer({ type: "response.completed", stream_id: "a", response: { id: "ra3" } });
  await t.settled();
  assert.deepEqual(
    t.seen.map((s) => [s.ask.n, s.events.map((e) => JSON.parse(e).response.id), s.end?.complete]),
    [[1, ["ra1", "ra1"], true], [2, ["rb", "rb"], true], [3, ["ra3", "ra3"], true]],
  );
});

Deno.test("an error refuses a request not yet answered, but within a response its own end still comes", async () => {
  const t = tapped();
  t.ask({ type: "response.create", n: 1 });
  t.answer({ type: "error", error: { code: "rate_limit_exceeded" } });
  t.ask({ type: "response.create", n: 2 });
  t.answer({ type: "response.created", response: { id: "r2" } });
  t.answer({ type: "error", error: { code: "invalid_steer" } });
  t.answer({ type: "response.completed", response: { id: "r2", usage: { input_tokens: 5 } } });
  await t.settled();
  assert.deepEqual(t.seen.map((s) => [s.ask.n, s.events.length, s.end?.complete]), [[1, 1, true], [
    2,
    3,
    true,
  ]]);
});

Deno.test("what is still under way when the connection ends ends incomplete, in every lane", async () => {
  const t = tapped();
  t.ask({ type: "response.create", stream_id: "a" });
  t.ask({ type: "response.create", stream_id: "b" });
  t.answer({ type: "response.created", stream_id: "a", response: { id: "ra" } });
  t.close("client closed");
  await t.settled();
  assert.deepEqual(t.seen.map((s) => [s.end?.complete, s.end?.error]), [
    [false, "client closed"],
    [false, "client closed"],
  ]);
});
