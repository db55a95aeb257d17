import { deepStrictEqual, equal } from "node:assert/strict";
import * as zlib from "node:zlib";
import {
  createUsageParser,
  detectBilling,
  findShape,
  METERED_HOSTS,
  normalizeHost,
  providerForHost,
} from "../../../daemon/providers/mod.ts";
import type { ProviderShape } from "../../../daemon/providers/types.ts";
import type { Usage } from "../../../core/usage.ts";
import { ANTHROPIC_STREAM, exchange, fixture, fixtureText, ZERO } from "./_util.ts";

Deno.test("METERED_HOSTS lists the six hosts of the spec", () => {
  deepStrictEqual([...METERED_HOSTS].sort(), [
    "api.anthropic.com",
    "api.openai.com",
    "api.x.ai",
    "chatgpt.com",
    "cloudcode-pa.googleapis.com",
    "generativelanguage.googleapis.com",
  ]);
});

Deno.test("findShape() meters the spec's paths on each host and names the provider", () => {
  const cases: [string, string, string][] = [
    ["api.anthropic.com", "/v1/messages", "anthropic"],
    ["api.openai.com", "/v1/chat/completions", "openai"],
    ["api.openai.com", "/v1/responses", "openai"],
    ["api.openai.com", "/v1/embeddings", "openai"],
    ["api.openai.com", "/v1/completions", "openai"],
    ["chatgpt.com", "/backend-api/codex/responses", "openai"],
    ["generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:generateContent", "google"],
    [
      "generativelanguage.googleapis.com",
      "/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
      "google",
    ],
    ["generativelanguage.googleapis.com", "/v1beta/models/gemini-embedding-001:embedContent", "google"],
    ["generativelanguage.googleapis.com", "/v1beta/models/text-embedding-004:batchEmbedContents", "google"],
    ["generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:countTokens", "google"],
    ["cloudcode-pa.googleapis.com", "/v1internal:generateContent", "google"],
    ["cloudcode-pa.googleapis.com", "/v1internal:streamGenerateContent?alt=sse", "google"],
    ["api.x.ai", "/v1/chat/completions", "xai"],
    ["api.x.ai", "/v1/messages", "xai"],
    ["api.x.ai", "/v1/responses", "xai"],
    ["API.OpenAI.com:443", "/v1/chat/completions?foo=1", "openai"],
  ];
  for (const [host, path, provider] of cases) {
    equal(findShape(host, "POST", path)?.provider, provider, `${host}${path}`);
  }
});

Deno.test("findShape() lets other paths, methods and hosts pass through unmetered", () => {
  const cases: [string, string, string][] = [
    ["api.anthropic.com", "POST", "/v1/messages/count_tokens"],
    ["api.anthropic.com", "POST", "/v1/messages/batches"],
    ["api.anthropic.com", "GET", "/v1/models"],
    ["api.openai.com", "GET", "/v1/responses"],
    ["api.openai.com", "GET", "/v1/responses/resp_123/input_items"],
    ["api.openai.com", "GET", "/v1/files/file-1"],
    ["api.openai.com", "POST", "/v1/files"],
    ["api.openai.com", "POST", "/v1/chat/completions/extra"],
    ["chatgpt.com", "POST", "/backend-api/conversation"],
    ["generativelanguage.googleapis.com", "GET", "/v1beta/models"],
    ["generativelanguage.googleapis.com", "POST", "/upload/v1beta/files"],
    ["cloudcode-pa.googleapis.com", "POST", "/v1internal:loadCodeAssist"],
    ["api.x.ai", "POST", "/v1/embeddings"],
    ["example.com", "POST", "/v1/chat/completions"],
  ];
  for (const [host, method, path] of cases) {
    equal(findShape(host, method, path), undefined, `${method} ${host}${path}`);
  }
});

Deno.test("findShape() meters configured hosts with their shape, named by the second-level label", () => {
  const extra = {
    "api.groq.com": "openai",
    "OpenRouter.ai": "openai",
    "api.deepseek.com": "anthropic",
    "gateway.example.net": "gemini",
  } as const;
  equal(findShape("api.groq.com", "POST", "/openai/v1/chat/completions", extra)?.provider, "groq");
  equal(findShape("openrouter.ai", "POST", "/api/v1/chat/completions", extra)?.provider, "openrouter");
  equal(findShape("openrouter.ai", "POST", "/api/v1/embeddings", extra)?.provider, "openrouter");
  equal(findShape("openrouter.ai", "POST", "/api/v1/responses", extra)?.provider, "openrouter");
  equal(findShape("api.deepseek.com", "POST", "/anthropic/v1/messages", extra)?.provider, "deepseek");
  equal(
    findShape("gateway.example.net", "POST", "/v1/models/gemini-2.5-pro:generateContent", extra)?.provider,
    "example",
  );
  equal(findShape("api.groq.com", "GET", "/openai/v1/models", extra), undefined);
  equal(
    findShape("api.openai.com", "POST", "/v1/chat/completions", { "api.openai.com": "anthropic" })?.provider,
    "openai",
  );
});

Deno.test("providerForHost() and normalizeHost() handle ports, case, IPs and single labels", () => {
  equal(providerForHost("api.groq.com"), "groq");
  equal(providerForHost("openrouter.ai"), "openrouter");
  equal(providerForHost("myres.openai.azure.com:443"), "azure");
  equal(providerForHost("127.0.0.1"), "127.0.0.1");
  equal(providerForHost("localhost:8080"), "localhost");
  equal(normalizeHost("API.Anthropic.COM.:443"), "api.anthropic.com");
  equal(normalizeHost("[::1]:8443"), "[::1]");
});

Deno.test("detectBilling() labels subscription hosts and Claude OAuth tokens, API keys as api", () => {
  equal(detectBilling("chatgpt.com", {}), "subscription");
  equal(detectBilling("cloudcode-pa.googleapis.com", new Headers()), "subscription");
  equal(detectBilling("api.anthropic.com", { Authorization: "Bearer sk-ant-oat01-abcdef" }), "subscription");
  equal(
    detectBilling("api.anthropic.com", new Headers({ authorization: "Bearer sk-ant-oat01-x" })),
    "subscription",
  );
  equal(detectBilling("api.anthropic.com", { "x-api-key": "sk-ant-api03-abcdef" }), "api");
  equal(detectBilling("api.anthropic.com", { authorization: "Bearer sk-ant-api03-abcdef" }), "api");
  equal(detectBilling("api.openai.com", { authorization: "Bearer sk-proj-abc" }), "api");
});

const anthropic = findShape("api.anthropic.com", "POST", "/v1/messages") as ProviderShape;
const sseInfo = exchange({
  host: "api.anthropic.com",
  path: "/v1/messages",
  contentType: "text/event-stream",
});
async function run(encoding: string, pieces: Uint8Array[], complete = true): Promise<Usage> {
  const p = createUsageParser(anthropic, sseInfo, encoding);
  for (const piece of pieces) p.push(piece);
  return await p.finish(complete);
}

const COMPRESS: Record<string, (b: Uint8Array) => Uint8Array> = {
  gzip: (b) => zlib.gzipSync(b),
  br: (b) => zlib.brotliCompressSync(b),
  zstd: (b) => zlib.zstdCompressSync(b),
  deflate: (b) => zlib.deflateSync(b),
};

for (const [encoding, compress] of Object.entries(COMPRESS)) {
  Deno.test(`createUsageParser() reads a ${encoding} SSE stream split anywhere`, async () => {
    const body = compress(fixture("anthropic_stream.sse"));
    deepStrictEqual(await run(encoding, [body]), ANTHROPIC_STREAM);
    for (let cut = 0; cut <= body.length; cut++) {
      deepStrictEqual(
        await run(encoding, [body.subarray(0, cut), body.subarray(cut)]),
        ANTHROPIC_STREAM,
        `cut ${cut}`,
      );
    }
  });
}

Deno.test("createUsageParser() on a gzip stream cut short keeps what decoded and marks it incomplete", async () => {
  const text = fixtureText("anthropic_stream.sse");
  const flushed = zlib.gzipSync(
    new TextEncoder().encode(text.slice(0, text.indexOf("event: message_delta"))),
  );
  // A gzip stream without its trailer: every byte the server had sent so far, as a cut connection leaves it.
  const cut = flushed.subarray(0, flushed.length - 8);
  deepStrictEqual(await run("gzip", [cut], false), {
    ...ANTHROPIC_STREAM,
    tokens_complete: false,
    output_tokens: 1,
  });
});

Deno.test("createUsageParser() marks a body that fails to decode incomplete even if the stream ended", async () => {
  const usage = await run("gzip", [fixture("anthropic_stream.sse")]);
  deepStrictEqual(usage, { ...ZERO, model: null, tokens_complete: false });
});

Deno.test("createUsageParser() on an identity body gives the shape parser's usage, the same on a second finish", async () => {
  const p = createUsageParser(anthropic, sseInfo, "");
  p.push(fixture("anthropic_stream.sse"));
  const first = p.finish(true);
  equal(p.finish(true), first);
  deepStrictEqual(await first, ANTHROPIC_STREAM);
});

Deno.test("createUsageParser() turns a throwing shape parser into an incomplete row with the status", async () => {
  const broken: ProviderShape = {
    provider: "anthropic",
    matches: () => true,
    createParser: () => ({
      push() {
        throw new Error("parser bug");
      },
      finish() {
        throw new Error("unreachable");
      },
    }),
  };
  const p = createUsageParser(broken, exchange({ status: 503 }), "");
  p.push(new Uint8Array([1, 2, 3]));
  deepStrictEqual(await p.finish(true), {
    ...ZERO,
    model: null,
    tokens_complete: false,
    error: { error_class: "server_error", provider_error_code: null },
  });
});
