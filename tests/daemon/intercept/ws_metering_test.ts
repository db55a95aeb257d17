import assert from "node:assert/strict";
import type { ExchangeEnd, ExchangeStart } from "../../../daemon/intercept/seam.ts";
import {
  realtimeOverWebSocket,
  responsesOverWebSocket,
  webSocketApi,
  type WsTap,
  type WsUpgrade,
} from "../../../daemon/intercept/ws_metering.ts";
import { webSocketFrame } from "../../../testkit/fake_provider.ts";

const MASK = new Uint8Array([1, 2, 3, 4]);
const text = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** What the metering hook was given: per request begun, its body and the events and end it was told. */
interface Seen {
  ask: Record<string, unknown>;
  events: string[];
  end?: ExchangeEnd;
}

/**
 * A tap (the Responses API's unless told) over a hook that records every exchange; `ask` and `answer` send a
 * client and a provider message.
 */
function tapped(
  make: (u: WsUpgrade) => WsTap = responsesOverWebSocket,
  where: Pick<WsUpgrade, "path" | "model"> = { path: "/v1/responses" },
) {
  const seen: Seen[] = [];
  const tap = make({
    meta: { host: "api.openai.com", port: 443, client: "127.0.0.1:5000" },
    ...where,
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

const realtime = () =>
  tapped(realtimeOverWebSocket, { path: "/v1/realtime?model=gpt-realtime", model: "gpt-realtime" });
const done = (id: string, input: number) => ({
  type: "response.done",
  response: { id, status: "completed", usage: { input_tokens: input, output_tokens: 2 } },
});

Deno.test("an upgrade on /v1/realtime speaks the Realtime API, any other the Responses API", () => {
  assert.equal(webSocketApi("/v1/realtime"), "realtime");
  assert.equal(webSocketApi("/v1/responses"), "responses");
  assert.equal(webSocketApi("/backend-api/codex/responses"), "responses");
});

Deno.test("realtime: a response the provider starts itself is one exchange under the session's model", async () => {
  const t = realtime();
  t.answer({ type: "session.created", session: { model: "gpt-realtime-2025-08-28" } });
  // The client streams audio; the provider hears the end of the turn and answers without a response.create.
  t.ask({ type: "input_audio_buffer.append", audio: "AAAA".repeat(100) });
  t.answer({ type: "response.created", response: { id: "r1", status: "in_progress" } });
  t.answer({ type: "response.output_audio.delta", response_id: "r1", delta: "BBBB".repeat(50) });
  t.answer(done("r1", 7));
  await t.settled();
  assert.equal(t.seen.length, 1);
  const [s] = t.seen;
  assert.deepEqual(s.ask, { model: "gpt-realtime-2025-08-28" });
  // The hook reads the start and the end; the audio in between counts in the bytes only.
  assert.deepEqual(s.events.map((e) => JSON.parse(e).type), ["response.created", "response.done"]);
  assert.equal(s.end?.complete, true);
  assert.ok(s.end!.requestBytes > 400, `the audio sent for the turn: ${s.end!.requestBytes}`);
  assert.ok(s.end!.responseBytes > 200, `the audio answered: ${s.end!.responseBytes}`);
});

Deno.test("realtime: responses running at once each end with their own response.done", async () => {
  const t = realtime();
  t.ask({ type: "response.create" });
  t.answer({ type: "response.created", response: { id: "a" } });
  t.ask({ type: "response.create", response: { conversation: "none" } });
  t.answer({ type: "response.created", response: { id: "b" } });
  t.answer(done("b", 20));
  t.answer(done("a", 10));
  await t.settled();
  assert.deepEqual(
    t.seen.map((
      s,
    ) => [s.ask.model, JSON.parse(s.events.at(-1)!).response.usage.input_tokens, s.end?.complete]),
    [["gpt-realtime", 10, true], ["gpt-realtime", 20, true]],
  );
});

Deno.test("realtime: a response still under way when the connection ends ends incomplete", async () => {
  const t = realtime();
  t.answer({ type: "response.created", response: { id: "r1" } });
  t.answer({ type: "error", error: { type: "invalid_request_error", code: "unknown_parameter" } });
  t.close("client closed");
  await t.settled();
  assert.deepEqual(t.seen.map((s) => [s.end?.complete, s.end?.error]), [[false, "client closed"]]);
});
