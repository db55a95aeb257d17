import { deepStrictEqual, equal } from "node:assert/strict";
import { findShape } from "../../../daemon/providers/mod.ts";
import type { ProviderShape } from "../../../daemon/providers/types.ts";
import { ANTHROPIC_STREAM, assertEverySplit, exchange, fixture, fixtureText, parse, ZERO } from "./_util.ts";
import { buildRateBook, bundledCard, bundledFees, costOf, loadPackage } from "../../../pricing/mod.ts";

const shape = findShape("api.anthropic.com", "POST", "/v1/messages") as ProviderShape;
const sse = "text/event-stream; charset=utf-8";
const request = { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: "Hi" }] };

Deno.test("anthropic JSON splits cache writes by lifetime and keeps input apart from cache", () => {
  assertEverySplit(shape, exchange({ path: "/v1/messages", request }), fixture("anthropic_message.body"), {
    ...ZERO,
    model: "claude-sonnet-4-5-20250929",
    tokens_complete: true,
    input_tokens: 24,
    output_tokens: 311,
    cache_read_tokens: 20480,
    cache_write_5m_tokens: 1024,
    cache_write_1h_tokens: 512,
    prompt_tokens: 22040,
    service_tier: "standard",
  });
});

Deno.test("anthropic JSON counts cache writes as 5-minute when only the total is given", () => {
  const usage = parse(shape, exchange({ request }), [fixture("anthropic_message_legacy_cache.body")]);
  deepStrictEqual(usage, {
    ...ZERO,
    model: "claude-3-5-haiku-20241022",
    tokens_complete: true,
    input_tokens: 12,
    output_tokens: 50,
    cache_write_5m_tokens: 800,
    prompt_tokens: 812,
  });
});

Deno.test("anthropic SSE takes the latest cumulative output count and keeps the 1h cache split", () => {
  assertEverySplit(
    shape,
    exchange({ contentType: sse, request }),
    fixture("anthropic_stream.sse"),
    ANTHROPIC_STREAM,
  );
});

Deno.test("anthropic SSE reads the same usage with CRLF and lone CR line endings", () => {
  const text = fixtureText("anthropic_stream.sse");
  for (const eol of ["\r\n", "\r"]) {
    const body = new TextEncoder().encode(text.replaceAll("\n", eol));
    assertEverySplit(shape, exchange({ contentType: sse, request }), body, ANTHROPIC_STREAM);
  }
});

Deno.test("anthropic SSE cut short keeps the counts so far and is marked incomplete", () => {
  const text = fixtureText("anthropic_stream.sse");
  const cut = new TextEncoder().encode(text.slice(0, text.indexOf("event: message_delta") + 40));
  assertEverySplit(shape, exchange({ contentType: sse, request }), cut, {
    ...ANTHROPIC_STREAM,
    tokens_complete: false,
    output_tokens: 1,
  }, false);
});

Deno.test("anthropic SSE without its final usage is incomplete even when the connection closed cleanly", () => {
  const text = fixtureText("anthropic_stream.sse");
  const cut = new TextEncoder().encode(text.slice(0, text.indexOf("event: message_delta")));
  const usage = parse(shape, exchange({ contentType: sse, request }), [cut], true);
  deepStrictEqual(usage, { ...ANTHROPIC_STREAM, tokens_complete: false, output_tokens: 1 });
});

Deno.test("anthropic SSE error event mid-stream records an overloaded server error", () => {
  const info = exchange({ contentType: sse, request });
  assertEverySplit(shape, info, fixture("anthropic_stream_overloaded.sse"), {
    ...ZERO,
    model: "claude-sonnet-4-20250514",
    tokens_complete: false,
    input_tokens: 31,
    output_tokens: 1,
    prompt_tokens: 31,
    service_tier: "standard",
    error: { error_class: "server_error", provider_error_code: "overloaded_error" },
  });
});

Deno.test("anthropic 429 error body gives rate_limit, the provider code and the request's model", () => {
  const info = exchange({ status: 429, request });
  assertEverySplit(shape, info, fixture("anthropic_error_429.body"), {
    ...ZERO,
    model: "claude-sonnet-4-5",
    tokens_complete: true,
    error: { error_class: "rate_limit", provider_error_code: "rate_limit_error" },
  });
});

Deno.test("anthropic 529 overloaded and a non-JSON 502 page are server errors", () => {
  const overloaded = new TextEncoder().encode(
    '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
  );
  const u529 = parse(shape, exchange({ status: 529, request }), [overloaded]);
  deepStrictEqual(u529.error, { error_class: "server_error", provider_error_code: "overloaded_error" });
  const html = new TextEncoder().encode("<html><body><h1>502 Bad Gateway</h1></body></html>");
  const u502 = parse(shape, exchange({ status: 502, contentType: "text/html", request }), [html]);
  deepStrictEqual(u502.error, { error_class: "server_error", provider_error_code: null });
});

Deno.test("anthropic SSE is recognised by the request's stream flag when the content type is missing", () => {
  const info = exchange({ contentType: "", request: { ...request, stream: true } });
  deepStrictEqual(parse(shape, info, [fixture("anthropic_stream.sse")]), ANTHROPIC_STREAM);
});

Deno.test("anthropic SSE counts the web_search server tool's searches, and each costs the provider's fee", () => {
  const expected = {
    ...ZERO,
    model: "claude-sonnet-4-5-20250929",
    tokens_complete: true,
    input_tokens: 9874,
    output_tokens: 377,
    prompt_tokens: 9874,
    web_search_requests: 2,
    service_tier: "standard",
  };
  const info = exchange({ contentType: sse, request });
  assertEverySplit(shape, info, fixture("anthropic_web_search.sse"), expected);
  const book = buildRateBook({ card: bundledCard(), fees: bundledFees() });
  // $3 and $15 per million tokens: 3.5277 cents of tokens, and $10 per 1,000 searches: 1 cent each.
  deepStrictEqual(costOf("anthropic", expected, book).millicents, 3528 + 2 * 1000);
  // A book that knows no fee cannot price the searches, so it prices nothing rather than a part.
  deepStrictEqual(costOf("anthropic", expected, buildRateBook({ card: bundledCard() })).millicents, null);
});

Deno.test("anthropic batch results: each succeeded request is an item at the batch tier, keyed by batch and custom_id", async () => {
  const results = findShape(
    "api.anthropic.com",
    "GET",
    "/v1/messages/batches/msgbatch_01X/results",
  ) as ProviderShape;
  const info = exchange({
    path: "/v1/messages/batches/msgbatch_01X/results",
    method: "GET",
    contentType: "",
  });
  const usage = parse(results, info, [fixture("anthropic_batch_results.body")]);
  const item = (fields: Partial<typeof ZERO>) => ({
    ...ZERO,
    model: "claude-sonnet-4-5-20250929",
    tokens_complete: true,
    service_tier: "batch",
    ...fields,
  });
  deepStrictEqual(usage.items, [
    {
      key: "batch-msgbatch_01X/invoice-0001",
      usage: item({ input_tokens: 1800, cache_read_tokens: 4000, output_tokens: 120, prompt_tokens: 5800 }),
    },
    {
      key: "batch-msgbatch_01X/invoice-0003",
      usage: item({
        input_tokens: 2200,
        cache_write_5m_tokens: 4000,
        output_tokens: 80,
        prompt_tokens: 6200,
      }),
    },
  ]);
  // Half of claude-sonnet-4-5's rates: (1800×3 + 4000×0.30 + 120×15) / 2 and (2200×3 + 4000×3.75 + 80×15) / 2 µ$.
  const book = buildRateBook({ card: bundledCard(), package: await loadPackage() });
  deepStrictEqual(usage.items!.map((i) => costOf("anthropic", i.usage, book).millicents), [420, 1140]);
  equal(findShape("api.anthropic.com", "GET", "/v1/messages/batches/msgbatch_01X"), undefined);
});
