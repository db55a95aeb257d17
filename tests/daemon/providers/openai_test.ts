import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { findShape } from "../../../daemon/providers/mod.ts";
import type { ProviderShape } from "../../../daemon/providers/types.ts";
import { assertEverySplit, exchange, fixture, fixtureText, parse, ZERO } from "./_util.ts";
import { buildRateBook, bundledCard, bundledFees, costOf, loadPackage } from "../../../pricing/mod.ts";

const chat = findShape("api.openai.com", "POST", "/v1/chat/completions") as ProviderShape;
const responses = findShape("api.openai.com", "POST", "/v1/responses") as ProviderShape;
const codex = findShape("chatgpt.com", "POST", "/backend-api/codex/responses") as ProviderShape;
const embeddings = findShape("api.openai.com", "POST", "/v1/embeddings") as ProviderShape;
const completions = findShape("api.openai.com", "POST", "/v1/completions") as ProviderShape;
const xaiChat = findShape("api.x.ai", "POST", "/v1/chat/completions") as ProviderShape;
const sse = "text/event-stream; charset=utf-8";

Deno.test("openai chat JSON takes cached tokens out of input and keeps reasoning inside output", () => {
  const info = exchange({ path: "/v1/chat/completions", request: { model: "o4-mini", messages: [] } });
  assertEverySplit(chat, info, fixture("openai_chat.body"), {
    ...ZERO,
    model: "o4-mini-2025-04-16",
    tokens_complete: true,
    input_tokens: 390,
    cache_read_tokens: 1920,
    prompt_tokens: 2310,
    output_tokens: 846,
    thinking_tokens: 768,
    service_tier: "default",
  });
});

Deno.test("openai-shaped usage with fractional counts (a gateway's) is read as whole tokens, and priced", () => {
  const info = exchange({ path: "/v1/chat/completions", request: { model: "gpt-4o-mini", messages: [] } });
  const body = JSON.stringify({
    model: "gpt-4o-mini",
    choices: [],
    usage: { prompt_tokens: 10.5, completion_tokens: 3.2, total_tokens: 13.7 },
  });
  const usage = parse(chat, info, [new TextEncoder().encode(body)]);
  deepStrictEqual([usage.input_tokens, usage.output_tokens], [11, 3]);
  equal(typeof costOf("openai", usage, buildRateBook({ card: bundledCard() })).millicents, "number");
});

Deno.test("openai cache writes, inside the prompt as cache reads are, are taken out of input into the short write", () => {
  const chatBody = {
    model: "gpt-5.6-sol",
    choices: [],
    usage: {
      prompt_tokens: 100_000,
      completion_tokens: 10,
      prompt_tokens_details: { cached_tokens: 20_000, cache_write_tokens: 50_000 },
    },
  };
  const responsesBody = {
    model: "gpt-5.6-sol",
    status: "completed",
    usage: {
      input_tokens: 100_000,
      output_tokens: 10,
      input_tokens_details: { cached_tokens: 20_000, cache_write_tokens: 50_000 },
    },
  };
  for (
    const [shape, path, body] of [
      [chat, "/v1/chat/completions", chatBody],
      [responses, "/v1/responses", responsesBody],
    ] as const
  ) {
    const info = exchange({ path, request: { model: "gpt-5.6-sol" } });
    const u = parse(shape, info, [new TextEncoder().encode(JSON.stringify(body))]);
    deepStrictEqual(
      [u.input_tokens, u.cache_read_tokens, u.cache_write_5m_tokens, u.prompt_tokens],
      [30_000, 20_000, 50_000, 100_000],
      path,
    );
  }
});

Deno.test("openai chat stream with include_usage reads the usage of the last chunk", () => {
  const request = { model: "gpt-4.1", stream: true, stream_options: { include_usage: true }, messages: [] };
  assertEverySplit(chat, exchange({ contentType: sse, request }), fixture("openai_chat_stream_usage.sse"), {
    ...ZERO,
    model: "gpt-4.1-2025-04-14",
    tokens_complete: true,
    input_tokens: 180,
    cache_read_tokens: 1024,
    prompt_tokens: 1204,
    output_tokens: 3,
    service_tier: "priority",
  });
});

Deno.test("openai chat stream without include_usage records the model with tokens incomplete", () => {
  const request = { model: "gpt-4.1", stream: true, messages: [] };
  assertEverySplit(
    chat,
    exchange({ contentType: sse, request }),
    fixture("openai_chat_stream_no_usage.sse"),
    {
      ...ZERO,
      model: "gpt-4.1-2025-04-14",
      tokens_complete: false,
      service_tier: "priority",
    },
  );
});

Deno.test("openai chat stream cut before its usage chunk is incomplete", () => {
  const text = fixtureText("openai_chat_stream_usage.sse");
  const body = new TextEncoder().encode(text.slice(0, text.indexOf('"choices":[]') - 30));
  const usage = parse(chat, exchange({ contentType: sse }), [body], false);
  deepStrictEqual(usage, {
    ...ZERO,
    model: "gpt-4.1-2025-04-14",
    tokens_complete: false,
    service_tier: "priority",
  });
});

Deno.test("openai responses JSON reads input, cached, output and reasoning tokens and the flex tier", () => {
  assertEverySplit(responses, exchange({ request: { model: "gpt-5" } }), fixture("openai_responses.body"), {
    ...ZERO,
    model: "gpt-5-2025-08-07",
    tokens_complete: true,
    input_tokens: 1024,
    cache_read_tokens: 4096,
    prompt_tokens: 5120,
    output_tokens: 1450,
    thinking_tokens: 1152,
    service_tier: "flex",
  });
});

const codexUsage = {
  ...ZERO,
  model: "gpt-5-codex",
  tokens_complete: true,
  input_tokens: 1172,
  cache_read_tokens: 8704,
  prompt_tokens: 9876,
  output_tokens: 321,
  thinking_tokens: 192,
  service_tier: "default",
};

Deno.test("openai responses stream takes usage and tier from response.completed", () => {
  const info = exchange({ contentType: sse, request: { model: "gpt-5-codex", stream: true } });
  assertEverySplit(responses, info, fixture("openai_responses_stream.sse"), codexUsage);
});

Deno.test("codex on chatgpt.com is the responses shape, recorded as openai", () => {
  equal(codex.provider, "openai");
  const info = exchange({ host: "chatgpt.com", contentType: sse, request: { model: "gpt-5-codex" } });
  deepStrictEqual(parse(codex, info, [fixture("openai_responses_stream.sse")]), codexUsage);
});

Deno.test("openai responses stream cut before response.completed keeps the model, not the requested auto tier", () => {
  const text = fixtureText("openai_responses_stream.sse");
  const body = new TextEncoder().encode(text.slice(0, text.indexOf("event: response.completed") + 60));
  const usage = parse(responses, exchange({ contentType: sse }), [body], false);
  deepStrictEqual(usage, { ...ZERO, model: "gpt-5-codex", tokens_complete: false });
});

Deno.test("openai responses stream ending in response.failed records the provider's error code", () => {
  const info = exchange({ contentType: sse });
  assertEverySplit(responses, info, fixture("openai_responses_failed.sse"), {
    ...ZERO,
    model: "gpt-5-codex",
    tokens_complete: false,
    error: { error_class: "rate_limit", provider_error_code: "rate_limit_exceeded" },
  });
});

Deno.test("openai embeddings count input only, and a body far past 8 MiB is still read", () => {
  assertEverySplit(embeddings, exchange({}), fixture("openai_embeddings.body"), {
    ...ZERO,
    model: "text-embedding-3-small",
    tokens_complete: true,
    input_tokens: 17,
    prompt_tokens: 17,
  });
  const vector = `[${Array.from({ length: 1536 }, (_, i) => (i % 97 / 1000 - 0.05).toFixed(9)).join(",")}]`;
  const item = (i: number) => `{"object":"embedding","index":${i},"embedding":${vector}}`;
  const body = `{"object":"list","data":[${Array.from({ length: 500 }, (_, i) => item(i)).join(",")}],` +
    `"model":"text-embedding-3-large","usage":{"prompt_tokens":64000,"total_tokens":64000}}`;
  const bytes = new TextEncoder().encode(body);
  const pieces = Array.from(
    { length: Math.ceil(bytes.length / 65536) },
    (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536),
  );
  equal(bytes.length > 8 * 1024 * 1024, true);
  deepStrictEqual(parse(embeddings, exchange({}), pieces), {
    ...ZERO,
    model: "text-embedding-3-large",
    tokens_complete: true,
    input_tokens: 64000,
    prompt_tokens: 64000,
  });
});

Deno.test("openai legacy completions read prompt and completion tokens", () => {
  assertEverySplit(completions, exchange({}), fixture("openai_completions.body"), {
    ...ZERO,
    model: "gpt-3.5-turbo-instruct",
    tokens_complete: true,
    input_tokens: 5,
    prompt_tokens: 5,
    output_tokens: 7,
  });
});

Deno.test("openai 401 gives auth with the error code, and 429 gives rate_limit", () => {
  const request = { model: "gpt-4.1" };
  assertEverySplit(chat, exchange({ status: 401, request }), fixture("openai_error_401.body"), {
    ...ZERO,
    model: "gpt-4.1",
    tokens_complete: true,
    error: { error_class: "auth", provider_error_code: "invalid_api_key" },
  });
  const limit = new TextEncoder().encode(
    '{"error":{"message":"Rate limit reached for gpt-4.1 in organization org-x on tokens per min (TPM).",' +
      '"type":"tokens","param":null,"code":"rate_limit_exceeded"}}',
  );
  deepStrictEqual(parse(responses, exchange({ status: 429, request }), [limit]).error, {
    error_class: "rate_limit",
    provider_error_code: "rate_limit_exceeded",
  });
});

Deno.test("openai error object inside a chat stream marks the row as an error, tokens incomplete", () => {
  const body = new TextEncoder().encode(
    'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06","choices":[' +
      '{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n' +
      'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error",' +
      '"param":null,"code":null}}\n\n',
  );
  deepStrictEqual(parse(chat, exchange({ contentType: sse }), [body]), {
    ...ZERO,
    model: "gpt-4o-2024-08-06",
    tokens_complete: false,
    error: { error_class: "server_error", provider_error_code: "server_error" },
  });
});

Deno.test("xai chat adds reasoning reported outside completion_tokens to output, and keeps the ticks", () => {
  equal(xaiChat.provider, "xai");
  assertEverySplit(xaiChat, exchange({ host: "api.x.ai" }), fixture("xai_chat_reasoning.body"), {
    ...ZERO,
    model: "grok-4-0709",
    tokens_complete: true,
    input_tokens: 26,
    cache_read_tokens: 6,
    prompt_tokens: 32,
    output_tokens: 103,
    thinking_tokens: 94,
    cost_in_usd_ticks: 15827000,
  });
});

const searchUsage = {
  ...ZERO,
  model: "gpt-5.1",
  tokens_complete: true,
  input_tokens: 12162,
  cache_read_tokens: 2048,
  prompt_tokens: 14210,
  output_tokens: 96,
  thinking_tokens: 64,
  service_tier: "default",
  web_search_requests: 2,
};
const searchRequest = { model: "gpt-5.1", tools: [{ type: "web_search" }], input: "How to cross-compile?" };

Deno.test("openai responses stream counts web searches that searched, not pages opened, and prices them", () => {
  const info = exchange({ contentType: sse, request: { ...searchRequest, stream: true } });
  assertEverySplit(responses, info, fixture("openai_responses_web_search.sse"), searchUsage);
  const book = buildRateBook({ card: bundledCard(), fees: bundledFees() });
  // 12,162 × $1.25 + 2,048 × $0.125 + 96 × $10 per million: 1.64185 cents; two searches at $10 per 1,000.
  equal(costOf("openai", searchUsage, book).millicents, 1642 + 2 * 1000);
});

Deno.test("openai responses searches are counted from the stream's items or its final output, never twice", () => {
  const text = fixtureText("openai_responses_web_search.sse");
  const info = exchange({ contentType: sse, request: { ...searchRequest, stream: true } });
  // A terminal response that lists no output (as with `store: false` relays) keeps the items' count.
  const emptied = text.replace(/("response":\{[^\n]*?"output":)\[.*\](,"usage")/, "$1[]$2");
  ok(emptied.includes('"output":[],"usage"'));
  deepStrictEqual(parse(responses, info, [new TextEncoder().encode(emptied)]), searchUsage);
  // Without the item events, the final output alone tells.
  const finalOnly = text.split("\n\n").filter((e) => !e.includes("response.output_item.done")).join("\n\n");
  ok(!finalOnly.includes("output_item.done"));
  deepStrictEqual(parse(responses, info, [new TextEncoder().encode(finalOnly)]), searchUsage);
});

Deno.test("openai responses JSON of a request offering web_search counts its searches", () => {
  const completed = fixtureText("openai_responses_web_search.sse").split("\n").find((l) =>
    l.includes('"response.completed"')
  )!;
  const body = new TextEncoder().encode(
    JSON.stringify(JSON.parse(completed.slice("data: ".length)).response),
  );
  assertEverySplit(responses, exchange({ request: searchRequest }), body, searchUsage);
});

Deno.test("openai audio in and out is kept apart from text and priced at the model's audio rates", async () => {
  const usage = parse(chat, exchange({ request: { model: "gpt-audio" } }), [
    fixture("openai_chat_audio.body"),
  ]);
  deepStrictEqual(usage, {
    ...ZERO,
    model: "gpt-audio-2025-08-28",
    tokens_complete: true,
    input_tokens: 1130,
    input_audio_tokens: 1024,
    prompt_tokens: 1130,
    output_tokens: 402,
    output_audio_tokens: 380,
  });
  // Priced by the data package: 106 text × $2.50 + 1,024 audio × $32 in, 22 text × $10 + 380 audio × $64 out.
  const book = buildRateBook({ card: bundledCard(), package: await loadPackage() });
  equal(costOf("openai", usage, book).millicents, Math.round((265 + 32768 + 220 + 24320) / 10));
});

const realtime = findShape("api.openai.com", "POST", "/v1/realtime") as ProviderShape;

Deno.test("openai realtime response.done: cached and audio parts apart, priced at the model's audio rates", async () => {
  const done = {
    type: "response.done",
    event_id: "event_9",
    response: {
      id: "resp_rt1",
      object: "realtime.response",
      status: "completed",
      usage: {
        total_tokens: 1900,
        input_tokens: 1500,
        output_tokens: 400,
        input_token_details: {
          text_tokens: 300,
          audio_tokens: 1200,
          cached_tokens: 500,
          cached_tokens_details: { text_tokens: 200, audio_tokens: 300 },
        },
        output_token_details: { text_tokens: 50, audio_tokens: 350 },
      },
    },
  };
  const info = exchange({ contentType: sse, request: { model: "gpt-realtime" } });
  const usage = parse(realtime, info, [new TextEncoder().encode(`data: ${JSON.stringify(done)}\n\n`)]);
  deepStrictEqual(usage, {
    ...ZERO,
    model: "gpt-realtime",
    tokens_complete: true,
    input_tokens: 1000,
    input_audio_tokens: 900,
    cache_read_tokens: 500,
    prompt_tokens: 1500,
    output_tokens: 400,
    output_audio_tokens: 350,
  });
  // Priced by the data package: 100 text × $4 + 900 audio × $32 + 500 cached × $0.40, 50 text × $16 + 350
  // audio × $64 per million: 52,600 µ$.
  const book = buildRateBook({ card: bundledCard(), package: await loadPackage() });
  equal(costOf("openai", usage, book).millicents, 5260);
});

Deno.test("openai realtime: a failed response records its error; one with no response.done is incomplete", () => {
  const failed = {
    type: "response.done",
    response: {
      id: "r",
      status: "failed",
      status_details: { type: "failed", error: { type: "server_error", code: "internal_error" } },
      usage: { input_tokens: 10, output_tokens: 0 },
    },
  };
  const info = exchange({ contentType: sse, request: { model: "gpt-realtime" } });
  const usage = parse(realtime, info, [new TextEncoder().encode(`data: ${JSON.stringify(failed)}\n\n`)]);
  deepStrictEqual([usage.error, usage.input_tokens, usage.tokens_complete], [
    { error_class: "server_error", provider_error_code: "internal_error" },
    10,
    true,
  ]);
  const begun = `data: ${JSON.stringify({ type: "response.created", response: { id: "r" } })}\n\n`;
  equal(parse(realtime, info, [new TextEncoder().encode(begun)], false).tokens_complete, false);
});

const files = findShape("api.openai.com", "GET", "/v1/files/file-abc/content") as ProviderShape;

Deno.test("openai batch output: each successful request is an item at the batch tier, chat and responses alike", async () => {
  const info = exchange({
    path: "/v1/files/file-abc/content",
    method: "GET",
    contentType: "application/octet-stream",
  });
  const body = fixture("openai_batch_output.body");
  // The first bytes decide whether the file is read at all: cut anywhere, the items are the same.
  for (const cut of [1, 5, 31, 32, 33, 200, body.length]) {
    const usage = parse(files, info, [body.subarray(0, cut), body.subarray(cut)]);
    deepStrictEqual(usage.items, [
      {
        key: "batch-batch_req_6a1f0001",
        usage: {
          ...ZERO,
          model: "gpt-4.1-mini-2025-04-14",
          tokens_complete: true,
          service_tier: "batch",
          input_tokens: 950,
          prompt_tokens: 950,
          output_tokens: 3,
        },
      },
      {
        key: "batch-batch_req_6a1f0003",
        usage: {
          ...ZERO,
          model: "gpt-5-mini-2025-08-07",
          tokens_complete: true,
          service_tier: "batch",
          input_tokens: 176,
          cache_read_tokens: 1024,
          prompt_tokens: 1200,
          output_tokens: 300,
          thinking_tokens: 256,
        },
      },
    ], `cut at ${cut}`);
  }
  // Half of gpt-4.1-mini's and gpt-5-mini's rates: (950×0.40 + 3×1.60) / 2 and (176×0.25 + 1024×0.025 + 300×2) / 2 µ$.
  const usage = parse(files, info, [body]);
  const book = buildRateBook({ card: bundledCard(), package: await loadPackage() });
  deepStrictEqual(usage.items!.map((i) => costOf("openai", i.usage, book).millicents), [19, 33]);
});

Deno.test("openai file content that is not a batch's output (its input, a PDF) gives no items and is not parsed", () => {
  const info = exchange({
    path: "/v1/files/file-abc/content",
    method: "GET",
    contentType: "application/octet-stream",
  });
  const input = '{"custom_id": "ticket-1", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n';
  for (const text of [input, "%PDF-1.7\n%\u00e2\u00e3\n1 0 obj\n", "{}", ""]) {
    const usage = parse(files, info, [new TextEncoder().encode(text)]);
    deepStrictEqual(usage.items, [], JSON.stringify(text));
    equal(usage.tokens_complete, true, "nothing in it was malformed: it was never read");
  }
});

const retrieved = findShape("api.openai.com", "GET", "/v1/responses/resp_bg1") as ProviderShape;
const backgroundResponse = (status: string, usage: unknown) =>
  new TextEncoder().encode(JSON.stringify({
    id: "resp_bg1",
    object: "response",
    created_at: 1796000000,
    status,
    background: true,
    model: "o3-deep-research-2025-06-26",
    output: [],
    usage,
  }));

Deno.test("openai background response: no row while queued, one keyed row once ended, however often retrieved", () => {
  const request = { model: "o3-deep-research", background: true, input: "survey" };
  // The request is answered at once, queued, without usage: nothing to bill yet.
  const queued = parse(responses, exchange({ request }), [backgroundResponse("queued", null)]);
  deepStrictEqual(queued.items, []);
  const get = exchange({ path: "/v1/responses/resp_bg1", method: "GET" });
  deepStrictEqual(parse(retrieved, get, [backgroundResponse("in_progress", null)]).items, []);
  const usage = {
    input_tokens: 5000,
    output_tokens: 9000,
    output_tokens_details: { reasoning_tokens: 7000 },
  };
  const done = parse(retrieved, get, [backgroundResponse("completed", usage)]);
  deepStrictEqual(done.items?.map((i) => [i.key, i.usage.input_tokens, i.usage.output_tokens]), [
    ["response-resp_bg1", 5000, 9000],
  ]);
  // A streamed background request carries the usage itself, under the same key, so a later retrieval adds
  // nothing (the rows share their id).
  const events = [
    { type: "response.created", response: { id: "resp_bg1", status: "queued", background: true } },
    {
      type: "response.completed",
      response: { id: "resp_bg1", status: "completed", background: true, usage },
    },
  ].map((e) => `data: ${JSON.stringify(e)}\n\n`).join("");
  const streamed = parse(responses, exchange({ contentType: sse, request: { ...request, stream: true } }), [
    new TextEncoder().encode(events),
  ]);
  deepStrictEqual(streamed.items?.map((i) => i.key), ["response-resp_bg1"]);
});

Deno.test("openai retrieved response that did not run in the background gives no row: its request had one", () => {
  const get = exchange({ path: "/v1/responses/resp_fg", method: "GET" });
  const body = new TextEncoder().encode(JSON.stringify({
    id: "resp_fg",
    status: "completed",
    background: false,
    model: "gpt-5",
    usage: { input_tokens: 10, output_tokens: 5 },
  }));
  deepStrictEqual(parse(retrieved, get, [body]).items, []);
  // A request not in the background is metered as it always was, with no key.
  equal(
    parse(responses, exchange({ request: { model: "gpt-5" } }), [fixture("openai_responses.body")]).items,
    undefined,
  );
});

const images = findShape("api.openai.com", "POST", "/v1/images/generations") as ProviderShape;
const edits = findShape("api.openai.com", "POST", "/v1/images/edits") as ProviderShape;

Deno.test("openai images: a generation's output is the picture, priced at the image rate, its model the request's", () => {
  const info = exchange({
    path: "/v1/images/generations",
    request: { model: "gpt-image-1", prompt: "a lighthouse" },
  });
  const expected = {
    ...ZERO,
    model: "gpt-image-1",
    tokens_complete: true,
    input_tokens: 50,
    prompt_tokens: 50,
    output_tokens: 4160,
    output_image_tokens: 4160,
  };
  assertEverySplit(images, info, fixture("openai_image_generation.body"), expected);
  // 50 × $5 + 4,160 × $40 per million: the $0.167 OpenAI lists for a high-quality 1024×1024 picture.
  const book = buildRateBook({ card: bundledCard() });
  equal(costOf("openai", expected, book).millicents, 16665);
  // DALL·E bills per picture and reports no usage: the row keeps its model, without tokens or a cost.
  const dalle = parse(images, exchange({ request: { model: "dall-e-3", prompt: "x" } }), [
    new TextEncoder().encode(JSON.stringify({ created: 1, data: [{ url: "https://example.com/x.png" }] })),
  ]);
  deepStrictEqual([dalle.model, dalle.tokens_complete, costOf("openai", dalle, book).millicents], [
    "dall-e-3",
    false,
    null,
  ]);
});

Deno.test("openai images: a streamed edit sent as a form reads its model from the form, and its picture input apart", () => {
  const boundary = "----form7";
  const form = [
    `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="in.png"\r\n` +
    "Content-Type: image/png\r\n\r\n\u0089PNG\r\n\u001a\nbytes\r\n",
    `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nmake it dusk\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\ngpt-image-1.5\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="stream"\r\n\r\ntrue\r\n--${boundary}--\r\n`,
  ].join("");
  const info = {
    ...exchange({ path: "/v1/images/edits", contentType: sse }),
    requestBody: Uint8Array.from(form, (c) => c.charCodeAt(0)),
  };
  const expected = {
    ...ZERO,
    model: "gpt-image-1.5",
    tokens_complete: true,
    input_tokens: 363,
    input_image_tokens: 323,
    prompt_tokens: 363,
    output_tokens: 4160,
    output_image_tokens: 4160,
  };
  assertEverySplit(edits, info, fixture("openai_image_edit_stream.sse"), expected);
  // 40 text × $5 + 323 image × $8 in, 4,160 image × $32 out, per million.
  equal(costOf("openai", expected, buildRateBook({ card: bundledCard() })).millicents, 13590);
});

Deno.test("openai images: an error event in a streamed generation makes an error row", () => {
  const events = [
    { type: "image_generation.partial_image", b64_json: "AAAA", partial_image_index: 0 },
    { type: "error", error: { type: "image_generation_user_error", code: "moderation_blocked" } },
  ].map((e) => `data: ${JSON.stringify(e)}\n\n`).join("");
  const info = exchange({ contentType: sse, request: { model: "gpt-image-1", prompt: "x", stream: true } });
  const usage = parse(images, info, [new TextEncoder().encode(events)]);
  deepStrictEqual([usage.error?.provider_error_code, usage.tokens_complete], ["moderation_blocked", false]);
});
