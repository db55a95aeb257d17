import { deepStrictEqual, equal } from "node:assert/strict";
import { findShape } from "../../../daemon/providers/mod.ts";
import { parseGeminiPath } from "../../../daemon/providers/gemini.ts";
import type { ProviderShape } from "../../../daemon/providers/types.ts";
import { assertEverySplit, exchange, fixture, fixtureText, parse, ZERO } from "./_util.ts";
import { buildRateBook, bundledCard, costOf, loadPackage } from "../../../pricing/mod.ts";

const HOST = "generativelanguage.googleapis.com";
const shapeFor = (path: string) => findShape(HOST, "POST", path) as ProviderShape;
const codeAssist = findShape(
  "cloudcode-pa.googleapis.com",
  "POST",
  "/v1internal:generateContent",
) as ProviderShape;
const sse = "text/event-stream";

Deno.test("gemini JSON takes cached tokens out of the prompt and adds thoughts to output", () => {
  const path = "/v1beta/models/gemini-2.5-pro:generateContent";
  equal(shapeFor(path).provider, "google");
  assertEverySplit(shapeFor(path), exchange({ host: HOST, path }), fixture("gemini_generate.body"), {
    ...ZERO,
    model: "gemini-2.5-pro",
    tokens_complete: true,
    input_tokens: 8482,
    cache_read_tokens: 32768,
    prompt_tokens: 41250,
    output_tokens: 2140,
    thinking_tokens: 1528,
  });
});

const streamed = {
  ...ZERO,
  model: "gemini-2.5-flash",
  tokens_complete: true,
  input_tokens: 9,
  prompt_tokens: 9,
  output_tokens: 112,
  thinking_tokens: 100,
};

Deno.test("gemini SSE stream (alt=sse) uses the last cumulative usageMetadata", () => {
  const path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
  assertEverySplit(
    shapeFor(path),
    exchange({ host: HOST, path, contentType: sse }),
    fixture("gemini_stream.sse"),
    streamed,
  );
});

Deno.test("gemini SSE stream cut after its first chunk keeps that chunk's counts, incomplete", () => {
  const path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
  const text = fixtureText("gemini_stream.sse");
  const body = new TextEncoder().encode(text.slice(0, text.indexOf("data:", 10) + 30));
  deepStrictEqual(parse(shapeFor(path), exchange({ host: HOST, path, contentType: sse }), [body], false), {
    ...streamed,
    tokens_complete: false,
    output_tokens: 101,
  });
});

Deno.test("gemini streamed JSON array yields each element and bills tool-use prompt tokens as input", () => {
  const path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent";
  const info = exchange({ host: HOST, path, contentType: "application/json; charset=UTF-8" });
  assertEverySplit(shapeFor(path), info, fixture("gemini_stream_array.body"), {
    ...ZERO,
    model: "gemini-2.0-flash",
    tokens_complete: true,
    input_tokens: 145,
    prompt_tokens: 145,
    output_tokens: 30,
  });
});

Deno.test("gemini streamed JSON array cut mid-element keeps the last whole element's counts", () => {
  const path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent";
  const text = fixtureText("gemini_stream_array.body");
  const body = new TextEncoder().encode(text.slice(0, text.lastIndexOf('"usageMetadata"')));
  deepStrictEqual(parse(shapeFor(path), exchange({ host: HOST, path }), [body], false), {
    ...ZERO,
    model: "gemini-2.0-flash",
    tokens_complete: false,
    input_tokens: 145,
    prompt_tokens: 145,
    output_tokens: 18,
  });
});

Deno.test("gemini countTokens is a free row with no tokens, model from the path", () => {
  const path = "/v1beta/models/gemini-2.5-flash:countTokens";
  assertEverySplit(shapeFor(path), exchange({ host: HOST, path }), fixture("gemini_count_tokens.body"), {
    ...ZERO,
    model: "gemini-2.5-flash",
    tokens_complete: true,
    free: true,
  });
});

Deno.test("gemini embedContent without usage metadata is recorded with tokens incomplete", () => {
  const path = "/v1beta/models/gemini-embedding-001:embedContent";
  assertEverySplit(shapeFor(path), exchange({ host: HOST, path }), fixture("gemini_embed.body"), {
    ...ZERO,
    model: "gemini-embedding-001",
    tokens_complete: false,
  });
});

Deno.test("gemini 429 RESOURCE_EXHAUSTED is a rate_limit with the status as provider code", () => {
  const path = "/v1beta/models/gemini-2.5-pro:generateContent";
  assertEverySplit(
    shapeFor(path),
    exchange({ host: HOST, path, status: 429 }),
    fixture("gemini_error_429.body"),
    {
      ...ZERO,
      model: "gemini-2.5-pro",
      tokens_complete: true,
      error: { error_class: "rate_limit", provider_error_code: "RESOURCE_EXHAUSTED" },
    },
  );
});

Deno.test("gemini 503 inside a streamed JSON array is a server_error with the status as provider code", () => {
  const path = "/v1beta/models/gemini-2.5-pro:streamGenerateContent";
  const info = exchange({ host: HOST, path, status: 503 });
  assertEverySplit(shapeFor(path), info, fixture("gemini_stream_array_error_503.body"), {
    ...ZERO,
    model: "gemini-2.5-pro",
    tokens_complete: true,
    error: { error_class: "server_error", provider_error_code: "UNAVAILABLE" },
  });
});

Deno.test("code assist SSE unwraps the response and reads cache and thoughts", () => {
  const path = "/v1internal:streamGenerateContent?alt=sse";
  const shape = findShape("cloudcode-pa.googleapis.com", "POST", path) as ProviderShape;
  equal(shape.provider, "google");
  const request = { model: "gemini-2.5-pro", project: "my-proj-123", request: { contents: [] } };
  assertEverySplit(shape, exchange({ path, contentType: sse, request }), fixture("codeassist_stream.sse"), {
    ...ZERO,
    model: "gemini-2.5-pro",
    tokens_complete: true,
    input_tokens: 1941,
    cache_read_tokens: 6102,
    prompt_tokens: 8043,
    output_tokens: 857,
    thinking_tokens: 800,
  });
});

Deno.test("code assist JSON reads the wrapped usage, not look-alike text inside the answer", () => {
  const request = { model: "gemini-2.5-flash", project: "p" };
  assertEverySplit(codeAssist, exchange({ request }), fixture("codeassist_generate.body"), {
    ...ZERO,
    model: "gemini-2.5-flash",
    tokens_complete: true,
    input_tokens: 5230,
    prompt_tokens: 5230,
    output_tokens: 140,
  });
});

Deno.test("code assist takes the model from the request body when the response names none", () => {
  const body = new TextEncoder().encode(
    '{"response":{"candidates":[],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":2}}}',
  );
  const usage = parse(codeAssist, exchange({ request: { model: "gemini-2.5-pro", project: "p" } }), [body]);
  equal(usage.model, "gemini-2.5-pro");
});

Deno.test("parseGeminiPath() names the model and method, ignores the query, rejects other paths", () => {
  deepStrictEqual(parseGeminiPath("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=x"), {
    model: "gemini-2.5-pro",
    method: "streamGenerateContent",
  });
  deepStrictEqual(parseGeminiPath("/v1/models/text-embedding-004:batchEmbedContents"), {
    model: "text-embedding-004",
    method: "batchEmbedContents",
  });
  equal(parseGeminiPath("/v1beta/models/gemini-2.5-pro"), undefined);
  equal(parseGeminiPath("/v1beta/files/abc:download"), undefined);
  equal(
    parseGeminiPath("/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:generateContent"),
    undefined,
  );
  deepStrictEqual(
    parseGeminiPath(
      "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:generateContent",
      true,
    ),
    { model: "gemini-2.5-pro", method: "generateContent" },
  );
});

Deno.test("gemini stream asked for with alt=sse is read as SSE even without a content type", () => {
  const path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
  deepStrictEqual(
    parse(shapeFor(path), exchange({ host: HOST, path, contentType: "" }), [fixture("gemini_stream.sse")]),
    streamed,
  );
});

Deno.test("gemini audio in the prompt is kept apart, less what the cache held of it, and priced at the audio rate", async () => {
  const path = "/v1beta/models/gemini-2.5-flash:generateContent";
  const usage = {
    ...ZERO,
    model: "gemini-2.5-flash",
    tokens_complete: true,
    input_tokens: 3650,
    input_audio_tokens: 3000,
    cache_read_tokens: 1200,
    prompt_tokens: 4850,
    output_tokens: 19,
  };
  assertEverySplit(
    shapeFor(path),
    exchange({ host: HOST, path }),
    fixture("gemini_audio_prompt.body"),
    usage,
  );
  const book = buildRateBook({ card: bundledCard(), package: await loadPackage() });
  // 650 text × $0.30 + 3,000 audio × $1 + 1,200 cached × $0.03 + 19 × $2.50 per million = 3,278.5 µ$.
  equal(costOf("google", usage, book).millicents, 328);
  // A model without an audio rate of its own bills audio as any input: gemini-2.5-pro, $1.25.
  const pro = {
    ...usage,
    model: "gemini-2.5-pro",
    cache_read_tokens: 0,
    prompt_tokens: 3650,
    output_tokens: 0,
  };
  equal(costOf("google", pro, book).millicents, Math.round(3650 * 1.25 / 10));
});

Deno.test("gemini image output is kept apart from the text of the answer and priced at the image rate", async () => {
  const path = "/v1beta/models/gemini-2.5-flash-image:streamGenerateContent?alt=sse";
  const usage = {
    ...ZERO,
    model: "gemini-2.5-flash-image",
    tokens_complete: true,
    input_tokens: 14,
    prompt_tokens: 14,
    output_tokens: 1299,
    output_image_tokens: 1290,
  };
  const info = exchange({ host: HOST, path, contentType: sse });
  assertEverySplit(shapeFor(path), info, fixture("gemini_image_stream.sse"), usage);
  // Priced by the data package (exact id): 14 × $0.30 + 9 text × $2.50 + 1,290 image × $30 per million,
  // 38,726.7 µ$: the $0.039 Google lists per 1024×1024 image, and a little text.
  const book = buildRateBook({ card: bundledCard(), package: await loadPackage() });
  equal(costOf("google", usage, book).millicents, 3873);
});
