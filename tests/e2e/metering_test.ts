/**
 * Metering end to end: real `edge` and `daemon` processes in a temp home, every provider host resolved to
 * the local TLS fake (which replays the transcripts of tests/fixtures/providers/), real clients (curl and
 * Deno fetch) through the edge, and the rows the daemon wrote checked column by column, with every cost
 * worked out by hand from the bundled card's published rates.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import card from "../../pricing/card.json" with { type: "json" };
import { fakeWorld } from "../../testkit/world.ts";
import { PROVIDER_HOSTS } from "../../core/hosts.ts";
import { type TokenCounts, tokenCounts } from "../../core/usage.ts";
import { accepts, daemonHealthy, spawnMeter, stop, waitFor } from "../../testkit/processes.ts";

const BUNDLED = `bundled-${card.date}`;
const HOSTS = PROVIDER_HOSTS;

type Row = Record<string, unknown>;

interface World {
  dir: string;
  ports: { edge: number; intercept: number; api: number };
  /** Our CA's certificate, which clients trust: its file (for curl) and its PEM (for Deno). */
  caFile: string;
  caPem: string;
  /** Everything the daemon wrote to stderr (its JSON log lines). */
  daemonLog(): string;
  /** SIGTERM to the daemon; its exit code once it has written every queued row. */
  stopDaemon(): Promise<number>;
  rows(): Row[];
  close(): Promise<void>;
}

/** Fake provider, config resolving every provider host to it, then real daemon and edge processes. */
async function startWorld(): Promise<World> {
  const base = await fakeWorld({ prefix: "hm-metering-", hosts: HOSTS });
  const { dir, ports } = base;
  const daemon = spawnMeter(dir, "daemon", { stderr: "piped" });
  let daemonText = "";
  const reading = (async () => {
    for await (const chunk of daemon.stderr.pipeThrough(new TextDecoderStream())) daemonText += chunk;
  })();
  const edge = spawnMeter(dir, "edge");
  const world: World = {
    dir,
    ports,
    caFile: base.caFile,
    caPem: "",
    daemonLog: () => daemonText,
    async stopDaemon() {
      const { code } = await stop(daemon);
      await reading;
      return code;
    },
    rows() {
      const db = new DatabaseSync(join(dir, "db.sqlite"), { readOnly: true });
      try {
        return db.prepare(
          "SELECT r.*, p.slug AS project FROM requests r JOIN projects p ON p.id = r.project_id",
        ).all() as Row[];
      } finally {
        db.close();
      }
    },
    async close() {
      await world.stopDaemon();
      await stop(edge);
      await base.close();
    },
  };
  try {
    await waitFor("daemon", () => daemonHealthy(ports.api));
    await waitFor("edge", () => accepts(ports.edge));
    world.caPem = await Deno.readTextFile(world.caFile);
  } catch (e) {
    await world.close();
    throw e;
  }
  return world;
}

/** The columns every case asserts, each filled in; `cache_write_tokens` is by definition 5m + 1h. */
function expectRow(fields: Row): Row {
  const row: Row = {
    status: "success",
    http_status: 200,
    error_class: null,
    provider_error_code: null,
    tokens_complete: 1,
    billing: "api",
    rates_source: BUNDLED,
    mode: "standard",
    streamed: 0,
    input_tokens: 0,
    output_tokens: 0,
    thinking_tokens: 0,
    cache_read_tokens: 0,
    cache_write_5m_tokens: 0,
    cache_write_1h_tokens: 0,
    input_audio_tokens: 0,
    input_image_tokens: 0,
    output_audio_tokens: 0,
    output_image_tokens: 0,
    web_search_requests: 0,
    ...fields,
  };
  row.cache_write_tokens = (row.cache_write_5m_tokens as number) + (row.cache_write_1h_tokens as number);
  return row;
}

/** One metered call: where it goes, what the fake replays, which client sends it, and the row it must give. */
interface Case {
  host: string;
  /** Path and the fake's query (`fixture`, `model`, …). */
  path: string;
  body: unknown;
  client: "curl" | "curl-http1.1" | "fetch";
  row: Row;
}

const CASES: Case[] = [
  {
    // Anthropic JSON with 5-minute and 1-hour cache writes; claude-sonnet-4-5 in the card: input $3, output
    // $15, cache read $0.30, 5m write $3.75, 1h write $6 per million tokens. Millicents = Σ tokens × rate / 10:
    // (24×3 + 311×15 + 20480×0.30 + 1024×3.75 + 512×6) / 10 = (72 + 4665 + 6144 + 3840 + 3072) / 10 = 1779.3
    host: "api.anthropic.com",
    path: "/v1/messages?fixture=anthropic_message.body",
    body: { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: "haiku" }] },
    client: "curl",
    row: expectRow({
      provider: "anthropic",
      model: "claude-sonnet-4-5-20250929",
      input_tokens: 24,
      output_tokens: 311,
      cache_read_tokens: 20480,
      cache_write_5m_tokens: 1024,
      cache_write_1h_tokens: 512,
      cost_usd_minor_units: 1779,
    }),
  },
  {
    // Anthropic SSE, 1-hour cache write, cumulative message_delta (118, not 64 + 118); claude-opus-4-5: $5,
    // $25, read $0.50, 1h write $10: (472×5 + 118×25 + 12000×0.50 + 2048×10) / 10
    // = (2360 + 2950 + 6000 + 20480) / 10 = 3179
    host: "api.anthropic.com",
    path: "/v1/messages?fixture=anthropic_stream.sse&model=claude-opus-4-5-20251101",
    body: { model: "claude-opus-4-5", max_tokens: 4096, stream: true, messages: [] },
    client: "curl-http1.1",
    row: expectRow({
      provider: "anthropic",
      model: "claude-opus-4-5-20251101",
      input_tokens: 472,
      output_tokens: 118,
      cache_read_tokens: 12000,
      cache_write_1h_tokens: 2048,
      cost_usd_minor_units: 3179,
      streamed: 1,
    }),
  },
  {
    // Anthropic SSE with two searches of the web_search server tool, billed $10 per 1,000 apart from tokens;
    // claude-haiku-4-5: $1, $5: (9874×1 + 377×5) / 10 = (9874 + 1885) / 10 = 1175.9 → 1176, + 2 × 1000 = 3176
    host: "api.anthropic.com",
    path: "/v1/messages?fixture=anthropic_web_search.sse&model=claude-haiku-4-5-20251001",
    body: {
      model: "claude-haiku-4-5",
      max_tokens: 1024,
      stream: true,
      tools: [{ type: "web_search_20250305" }],
    },
    client: "fetch",
    row: expectRow({
      provider: "anthropic",
      model: "claude-haiku-4-5-20251001",
      input_tokens: 9874,
      output_tokens: 377,
      web_search_requests: 2,
      cost_usd_minor_units: 3176,
      streamed: 1,
    }),
  },
  {
    // Responses SSE with two web searches and one page opened (not billed), at $10 per 1,000 searches;
    // gpt-5.1: $1.25, read $0.125, output $10: (12162×1.25 + 2048×0.125 + 96×10) / 10 = 1641.85 → 1642, + 2000
    host: "api.openai.com",
    path: "/v1/responses?fixture=openai_responses_web_search.sse",
    body: { model: "gpt-5.1", stream: true, tools: [{ type: "web_search" }], input: "cross-compile?" },
    client: "curl",
    row: expectRow({
      provider: "openai",
      model: "gpt-5.1",
      input_tokens: 12162,
      output_tokens: 96,
      thinking_tokens: 64,
      cache_read_tokens: 2048,
      web_search_requests: 2,
      cost_usd_minor_units: 3642,
      mode: "thinking",
      streamed: 1,
    }),
  },
  {
    // Images API: the response names no model (the request's is taken) and its output is the picture;
    // gpt-image-1: $5 in, $40 out (the picture): (50×5 + 4160×40) / 10 = 16665
    host: "api.openai.com",
    path: "/v1/images/generations?fixture=openai_image_generation.body",
    body: { model: "gpt-image-1", prompt: "a lighthouse at dusk", quality: "high" },
    client: "curl",
    row: expectRow({
      provider: "openai",
      model: "gpt-image-1",
      input_tokens: 50,
      output_tokens: 4160,
      output_image_tokens: 4160,
      cost_usd_minor_units: 16665,
    }),
  },
  {
    // A 429: no tokens billed, so 0 (the model is priced); the class and the provider's code recorded.
    host: "api.anthropic.com",
    path: "/v1/messages?fixture=anthropic_error_429.body&status=429",
    body: { model: "claude-haiku-4-5", max_tokens: 64, messages: [] },
    client: "fetch",
    row: expectRow({
      provider: "anthropic",
      model: "claude-haiku-4-5",
      cost_usd_minor_units: 0,
      status: "error",
      http_status: 429,
      error_class: "rate_limit",
      provider_error_code: "rate_limit_error",
    }),
  },
  {
    // OpenAI chat JSON: prompt 2310 includes 1920 cached, completion 846 includes 768 reasoning; o4-mini:
    // $1.10, read $0.275, output $4.40: (390×1.10 + 1920×0.275 + 846×4.40) / 10 = (429 + 528 + 3722.4) / 10
    // = 467.94 → 468
    host: "api.openai.com",
    path: "/v1/chat/completions?fixture=openai_chat.body",
    body: { model: "o4-mini", messages: [{ role: "user", content: "42?" }] },
    client: "fetch",
    row: expectRow({
      provider: "openai",
      model: "o4-mini-2025-04-16",
      input_tokens: 390,
      output_tokens: 846,
      thinking_tokens: 768,
      cache_read_tokens: 1920,
      cost_usd_minor_units: 468,
      mode: "thinking",
    }),
  },
  {
    // Chat SSE with include_usage, billed at the priority tier the chunks name; gpt-4.1 priority: $3.50,
    // read $0.875, output $14: (180×3.50 + 1024×0.875 + 3×14) / 10 = (630 + 896 + 42) / 10 = 156.8 → 157
    host: "api.openai.com",
    path: "/v1/chat/completions?fixture=openai_chat_stream_usage.sse",
    body: { model: "gpt-4.1", stream: true, stream_options: { include_usage: true }, messages: [] },
    client: "curl",
    row: expectRow({
      provider: "openai",
      model: "gpt-4.1-2025-04-14",
      input_tokens: 180,
      output_tokens: 3,
      cache_read_tokens: 1024,
      cost_usd_minor_units: 157,
      streamed: 1,
    }),
  },
  {
    // Chat SSE without include_usage: no usage to read, so nothing counted and the row says so.
    host: "api.openai.com",
    path: "/v1/chat/completions?fixture=openai_chat_stream_no_usage.sse&model=gpt-4.1-mini-2025-04-14",
    body: { model: "gpt-4.1-mini", stream: true, messages: [] },
    client: "fetch",
    row: expectRow({
      provider: "openai",
      model: "gpt-4.1-mini-2025-04-14",
      cost_usd_minor_units: 0,
      tokens_complete: 0,
      streamed: 1,
    }),
  },
  {
    // Responses SSE: input 9876 includes 8704 cached, output 321 includes 192 reasoning; gpt-5-mini: $0.25,
    // read $0.025, output $2: (1172×0.25 + 8704×0.025 + 321×2) / 10 = (293 + 217.6 + 642) / 10 = 115.26 → 115
    host: "api.openai.com",
    path: "/v1/responses?fixture=openai_responses_stream.sse&model=gpt-5-mini",
    body: { model: "gpt-5-mini", stream: true, input: "hi" },
    client: "fetch",
    row: expectRow({
      provider: "openai",
      model: "gpt-5-mini",
      input_tokens: 1172,
      output_tokens: 321,
      thinking_tokens: 192,
      cache_read_tokens: 8704,
      cost_usd_minor_units: 115,
      mode: "thinking",
      streamed: 1,
    }),
  },
  {
    // A gzip response (Responses JSON, flex tier): gpt-5 flex is half of $1.25 / $0.125 / $10:
    // (1024×0.625 + 4096×0.0625 + 1450×5) / 10 = (640 + 256 + 7250) / 10 = 814.6 → 815
    host: "api.openai.com",
    path: "/v1/responses?fixture=openai_responses.body&gzip=1",
    body: { model: "gpt-5", service_tier: "flex", input: "a story" },
    client: "fetch",
    row: expectRow({
      provider: "openai",
      model: "gpt-5-2025-08-07",
      input_tokens: 1024,
      output_tokens: 1450,
      thinking_tokens: 1152,
      cache_read_tokens: 4096,
      cost_usd_minor_units: 815,
      mode: "thinking",
    }),
  },
  {
    // Embeddings, prompt set to 250000 tokens; text-embedding-3-small $0.02: 250000×0.02 / 10 = 500
    host: "api.openai.com",
    path: "/v1/embeddings?fixture=openai_embeddings.body&in=250000",
    body: { model: "text-embedding-3-small", input: ["a", "b"] },
    client: "curl",
    row: expectRow({
      provider: "openai",
      model: "text-embedding-3-small",
      input_tokens: 250000,
      cost_usd_minor_units: 500,
    }),
  },
  {
    // Gemini generateContent: prompt 41250 includes 32768 cached, output = 612 candidates + 1528 thoughts;
    // gemini-2.5-pro (prompt under 200k): $1.25, read $0.125, output $10:
    // (8482×1.25 + 32768×0.125 + 2140×10) / 10 = (10602.5 + 4096 + 21400) / 10 = 3609.85 → 3610
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-pro:generateContent?fixture=gemini_generate.body",
    body: { contents: [{ role: "user", parts: [{ text: "summarise" }] }] },
    client: "curl",
    row: expectRow({
      provider: "google",
      model: "gemini-2.5-pro",
      input_tokens: 8482,
      output_tokens: 2140,
      thinking_tokens: 1528,
      cache_read_tokens: 32768,
      cost_usd_minor_units: 3610,
      mode: "thinking",
    }),
  },
  {
    // generateContent with a spoken prompt: 4200 of the 4850 prompt tokens are audio, 1200 of them cached;
    // gemini-2.5-flash: text $0.30, audio $1, read $0.03, output $2.50:
    // (650×0.30 + 3000×1 + 1200×0.03 + 19×2.50) / 10 = (195 + 3000 + 36 + 47.5) / 10 = 327.85 → 328
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-flash:generateContent?fixture=gemini_audio_prompt.body",
    body: {
      contents: [{ role: "user", parts: [{ inlineData: { mimeType: "audio/wav", data: "UklGRg==" } }] }],
    },
    client: "curl-http1.1",
    row: expectRow({
      provider: "google",
      model: "gemini-2.5-flash",
      input_tokens: 3650,
      input_audio_tokens: 3000,
      cache_read_tokens: 1200,
      output_tokens: 19,
      cost_usd_minor_units: 328,
    }),
  },
  {
    // streamGenerateContent SSE, last cumulative usageMetadata: output 12 + 100 thoughts; gemini-2.5-flash:
    // $0.30, output $2.50: (9×0.30 + 112×2.50) / 10 = (2.7 + 280) / 10 = 28.27 → 28
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&fixture=gemini_stream.sse",
    body: { contents: [{ role: "user", parts: [{ text: "fox" }] }] },
    client: "fetch",
    row: expectRow({
      provider: "google",
      model: "gemini-2.5-flash",
      input_tokens: 9,
      output_tokens: 112,
      thinking_tokens: 100,
      cost_usd_minor_units: 28,
      mode: "thinking",
      streamed: 1,
    }),
  },
  {
    // The streamed JSON-array form: input = 25 prompt + 120 tool-use prompt; gemini-2.5-flash-lite: $0.10,
    // output $0.40: (145×0.10 + 30×0.40) / 10 = (14.5 + 12) / 10 = 2.65 → 3 (half up)
    host: "generativelanguage.googleapis.com",
    path: "/v1/models/gemini-2.5-flash-lite:streamGenerateContent?fixture=gemini_stream_array.body" +
      "&model=gemini-2.5-flash-lite",
    body: { contents: [{ role: "user", parts: [{ text: "array" }] }] },
    client: "curl",
    row: expectRow({
      provider: "google",
      model: "gemini-2.5-flash-lite",
      input_tokens: 145,
      output_tokens: 30,
      cost_usd_minor_units: 3,
      streamed: 1,
    }),
  },
  {
    // countTokens is free: a zero-cost row, model from the path.
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-flash:countTokens?fixture=gemini_count_tokens.body",
    body: { contents: [{ role: "user", parts: [{ text: "count me" }] }] },
    client: "fetch",
    row: expectRow({
      provider: "google",
      model: "gemini-2.5-flash",
      cost_usd_minor_units: 0,
      rates_source: "free",
    }),
  },
  {
    // Code Assist (payload under `response`), a subscription priced as API-equivalent; gemini-2.5-pro:
    // input 8043 − 6102 cached = 1941, output 57 + 800 thoughts = 857:
    // (1941×1.25 + 6102×0.125 + 857×10) / 10 = (2426.25 + 762.75 + 8570) / 10 = 1175.9 → 1176
    host: "cloudcode-pa.googleapis.com",
    path: "/v1internal:streamGenerateContent?alt=sse&fixture=codeassist_stream.sse",
    body: { model: "gemini-2.5-pro", project: "p", request: { contents: [] } },
    client: "fetch",
    row: expectRow({
      provider: "google",
      model: "gemini-2.5-pro",
      input_tokens: 1941,
      output_tokens: 857,
      thinking_tokens: 800,
      cache_read_tokens: 6102,
      cost_usd_minor_units: 1176,
      billing: "subscription",
      mode: "thinking",
      streamed: 1,
    }),
  },
  {
    // xAI bills what it reports: 15827000 ticks / 10^10 = $0.0015827 = 158.27 millicents → 158. Its reasoning
    // (94) is outside completion_tokens (total 135 = 32 + 9 + 94), so output is 9 + 94.
    host: "api.x.ai",
    path: "/v1/chat/completions?fixture=xai_chat_reasoning.body",
    body: { model: "grok-4", messages: [{ role: "user", content: "101*3" }] },
    client: "curl",
    row: expectRow({
      provider: "xai",
      model: "grok-4-0709",
      input_tokens: 26,
      output_tokens: 103,
      thinking_tokens: 94,
      cache_read_tokens: 6,
      cost_usd_minor_units: 158,
      rates_source: "xai:cost_in_usd_ticks",
      mode: "thinking",
    }),
  },
  {
    // Codex on chatgpt.com: a subscription, priced as API-equivalent; gpt-5.1: $1.25, read $0.125, output
    // $10: (1172×1.25 + 8704×0.125 + 321×10) / 10 = (1465 + 1088 + 3210) / 10 = 576.3 → 576
    host: "chatgpt.com",
    path: "/backend-api/codex/responses?fixture=openai_responses_stream.sse&model=gpt-5.1",
    body: { model: "gpt-5.1", stream: true, instructions: "You are Codex.", input: [] },
    client: "fetch",
    row: expectRow({
      provider: "openai",
      model: "gpt-5.1",
      input_tokens: 1172,
      output_tokens: 321,
      thinking_tokens: 192,
      cache_read_tokens: 8704,
      cost_usd_minor_units: 576,
      billing: "subscription",
      mode: "thinking",
      streamed: 1,
    }),
  },
];

const CHECKED = Object.keys(CASES[0].row);
const CURL_LAG_MS = 300;

function keyOf(host: unknown, path: unknown, model: unknown): string {
  return `${host} ${String(path).split("?")[0]} ${model}`;
}

const hasCurl = await new Deno.Command("curl", { args: ["--version"], stdout: "null" }).output().then(
  (r) => r.success,
  () => false,
);

/** A folder holding `.haltonrc` (`project = "acme-web"`) and a subfolder curl runs in. */
async function acmeCheckout(dir: string): Promise<string> {
  const root = join(dir, "work", "checkout");
  const cwd = join(root, "src");
  await Deno.mkdir(cwd, { recursive: true });
  await Deno.writeTextFile(join(root, ".haltonrc"), 'project = "acme-web"\n');
  return cwd;
}

Deno.test({
  name:
    "every provider and shape through edge and daemon gives one exact row: tokens, cost, outcome, project",
  ignore: !hasCurl,
  async fn(t) {
    const w = await startWorld();
    let opened: Deno.HttpClient | undefined;
    try {
      const client = opened = Deno.createHttpClient({
        // Deno refuses a proxy URL with a user and no `:`; the password part is empty, as `client-x@` means.
        proxy: { url: `http://client-x:@127.0.0.1:${w.ports.edge}` },
        caCerts: [w.caPem],
      });
      const cwd = await acmeCheckout(w.dir);
      // Each call and each row is a step of its own, so that one failing case does not hide the others.
      for (const c of CASES) {
        const url = `https://${c.host}${c.path}`;
        const body = JSON.stringify(c.body);
        await t.step(`${c.client} ${keyOf(c.host, c.path, c.row.model)} is answered`, async () => {
          if (c.client === "fetch") {
            const res = await fetch(url, {
              method: "POST",
              headers: { "content-type": "application/json", "accept-encoding": "gzip" },
              body,
              client,
            });
            const text = await res.text();
            assert.equal(res.status, c.row.http_status, `${url}: ${text}`);
            assert.ok(text.length > 0, `${url} answered with a body`);
          } else {
            const out = await new Deno.Command("curl", {
              args: [
                "-sS",
                "--max-time",
                "10",
                ...(c.client === "curl-http1.1" ? ["--http1.1"] : []),
                "-x",
                `http://127.0.0.1:${w.ports.edge}`,
                "--cacert",
                w.caFile,
                "-H",
                "content-type: application/json",
                "-d",
                body,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                // The daemon starts looking curl up when its CONNECT arrives, and the lookup takes a few
                // milliseconds; a real model takes seconds to answer, so the fake takes a little time too,
                // or curl is gone before it is found.
                `${url}&lag=${CURL_LAG_MS}`,
              ],
              cwd,
              env: { PATH: Deno.env.get("PATH") ?? "" },
              clearEnv: true,
              stdout: "piped",
              stderr: "piped",
            }).output();
            const dec = new TextDecoder();
            assert.equal(out.code, 0, `curl ${url}: ${dec.decode(out.stderr)}`);
            assert.equal(dec.decode(out.stdout), String(c.row.http_status), url);
          }
        });
      }
      assert.equal(await w.stopDaemon(), 0, "SIGTERM ends the daemon cleanly");
      const rows = w.rows();
      const byKey = new Map<string, Row[]>();
      for (const r of rows) {
        const k = keyOf(r.host, r.path, r.model);
        byKey.set(k, [...byKey.get(k) ?? [], r]);
      }
      for (const c of CASES) {
        const k = keyOf(c.host, c.path, c.row.model);
        await t.step(`${k} gives one exact row`, () => {
          const found = byKey.get(k) ?? [];
          assert.equal(found.length, 1, `one row for ${k}; rows: ${[...byKey.keys()].join("\n")}`);
          const got = Object.fromEntries(CHECKED.map((col) => [col, found[0][col]]));
          assert.deepEqual(got, c.row, k);
          const who = c.client === "fetch" ? ["client-x", "explicit"] : ["acme-web", "haltonrc"];
          assert.deepEqual([found[0].project, found[0].attribution_layer], who, `${k}: project`);
          if (c.client !== "fetch") assert.equal(found[0].client_process, "curl", `${k}: client process`);
        });
      }
      await t.step("no other rows", () => assert.equal(rows.length, CASES.length));
    } finally {
      opened?.close();
      await w.close();
    }
  },
});

/** Rates in micro-USD per million tokens (the card's USD figures × 10^6), so the test's sums stay integers. */
interface MicroRates {
  input?: number;
  output?: number;
  cache_read?: number;
  cache_write_5m?: number;
  cache_write_1h?: number;
}

/** The token columns of a row. */
type Tokens = TokenCounts;

// Hand-copied from pricing/card.json (USD per million tokens).
/** claude-sonnet-4-5: $3 in, $15 out, $0.30 cache read, $3.75 5m write, $6 1h write. */
const SONNET_4_5: MicroRates = {
  input: 3_000_000,
  output: 15_000_000,
  cache_read: 300_000,
  cache_write_5m: 3_750_000,
  cache_write_1h: 6_000_000,
};
/** claude-opus-4-5: $5, $25, $0.50, $6.25, $10. */
const OPUS_4_5: MicroRates = {
  input: 5_000_000,
  output: 25_000_000,
  cache_read: 500_000,
  cache_write_5m: 6_250_000,
  cache_write_1h: 10_000_000,
};
/** o4-mini: $1.10 in, $0.275 cache read, $4.40 out. */
const O4_MINI: MicroRates = { input: 1_100_000, cache_read: 275_000, output: 4_400_000 };
/** gpt-4.1 at the priority tier: $3.50, $0.875, $14. */
const GPT_4_1_PRIORITY: MicroRates = { input: 3_500_000, cache_read: 875_000, output: 14_000_000 };
/** gpt-5-mini: $0.25, $0.025, $2. */
const GPT_5_MINI: MicroRates = { input: 250_000, cache_read: 25_000, output: 2_000_000 };
/** gpt-5 at the flex tier, half of $1.25 / $0.125 / $10. */
const GPT_5_FLEX: MicroRates = { input: 625_000, cache_read: 62_500, output: 5_000_000 };
/** gpt-5.1: $1.25, $0.125, $10. */
const GPT_5_1: MicroRates = { input: 1_250_000, cache_read: 125_000, output: 10_000_000 };
/** text-embedding-3-small: $0.02 in. */
const EMBED_3_SMALL: MicroRates = { input: 20_000 };
/** gemini-2.5-pro, prompts up to 200k: $1.25 in, $0.125 cache read, $10 out. */
const GEMINI_2_5_PRO: MicroRates = { input: 1_250_000, cache_read: 125_000, output: 10_000_000 };
/** gemini-2.5-flash: $0.30 in, $2.50 out. */
const GEMINI_2_5_FLASH: MicroRates = { input: 300_000, output: 2_500_000 };
/** gemini-2.5-flash-lite: $0.10 in, $0.40 out. */
const GEMINI_2_5_FLASH_LITE: MicroRates = { input: 100_000, output: 400_000 };

/**
 * Millicents of a call: Σ tokens × USD per million / 10^6 × 10^5 = Σ tokens × micro-USD / 10^7, rounded
 * half up once at the end.
 */
function handCost(t: Tokens, r: MicroRates): number {
  const sum = t.input_tokens * (r.input ?? 0) + t.output_tokens * (r.output ?? 0) +
    t.cache_read_tokens * (r.cache_read ?? 0) + t.cache_write_5m_tokens * (r.cache_write_5m ?? 0) +
    t.cache_write_1h_tokens * (r.cache_write_1h ?? 0);
  return Math.floor((2 * sum + 1e7) / 2e7);
}

function tokens(t: Partial<Tokens>): Tokens {
  return {
    input_tokens: 0,
    output_tokens: 0,
    thinking_tokens: 0,
    cache_read_tokens: 0,
    cache_write_5m_tokens: 0,
    cache_write_1h_tokens: 0,
    input_audio_tokens: 0,
    input_image_tokens: 0,
    output_audio_tokens: 0,
    output_image_tokens: 0,
    web_search_requests: 0,
    ...t,
  };
}

/** One kind of call in the load mix: the fake replays `path` with its prompt count set to `n`. */
interface LoadKind {
  provider: string;
  host: string;
  path: string;
  body: Record<string, unknown>;
  /** The row's token columns, cost and completeness for a call whose prompt count was set to `n`. */
  expect(n: number): Tokens & { cost: number; complete: 0 | 1 };
}

const priced = (t: Tokens, r: MicroRates) => ({ ...t, cost: handCost(t, r), complete: 1 as const });

const LOAD_KINDS: LoadKind[] = [
  {
    provider: "anthropic",
    host: "api.anthropic.com",
    path: "/v1/messages?fixture=anthropic_message.body",
    body: { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [] },
    expect: (n) =>
      priced(
        tokens({
          input_tokens: n,
          output_tokens: 311,
          cache_read_tokens: 20480,
          cache_write_5m_tokens: 1024,
          cache_write_1h_tokens: 512,
        }),
        SONNET_4_5,
      ),
  },
  {
    provider: "anthropic",
    host: "api.anthropic.com",
    path: "/v1/messages?fixture=anthropic_stream.sse&model=claude-opus-4-5-20251101",
    body: { model: "claude-opus-4-5", stream: true, max_tokens: 4096, messages: [] },
    expect: (n) =>
      priced(
        tokens({
          input_tokens: n,
          output_tokens: 118,
          cache_read_tokens: 12000,
          cache_write_1h_tokens: 2048,
        }),
        OPUS_4_5,
      ),
  },
  {
    provider: "anthropic",
    host: "api.anthropic.com",
    path: "/v1/messages?fixture=anthropic_error_429.body&status=429",
    body: { model: "claude-haiku-4-5", max_tokens: 64, messages: [] },
    expect: () => ({ ...tokens({}), cost: 0, complete: 1 }),
  },
  {
    provider: "openai",
    host: "api.openai.com",
    path: "/v1/chat/completions?fixture=openai_chat.body",
    body: { model: "o4-mini", messages: [] },
    expect: (n) =>
      priced(
        tokens({ input_tokens: n - 1920, cache_read_tokens: 1920, output_tokens: 846, thinking_tokens: 768 }),
        O4_MINI,
      ),
  },
  {
    provider: "openai",
    host: "api.openai.com",
    path: "/v1/chat/completions?fixture=openai_chat_stream_usage.sse",
    body: { model: "gpt-4.1", stream: true, stream_options: { include_usage: true }, messages: [] },
    expect: (n) =>
      priced(tokens({ input_tokens: n - 1024, cache_read_tokens: 1024, output_tokens: 3 }), GPT_4_1_PRIORITY),
  },
  {
    provider: "openai",
    host: "api.openai.com",
    path: "/v1/chat/completions?fixture=openai_chat_stream_no_usage.sse&model=gpt-4.1-mini-2025-04-14",
    body: { model: "gpt-4.1-mini", stream: true, messages: [] },
    expect: () => ({ ...tokens({}), cost: 0, complete: 0 }),
  },
  {
    provider: "openai",
    host: "api.openai.com",
    path: "/v1/responses?fixture=openai_responses_stream.sse&model=gpt-5-mini",
    body: { model: "gpt-5-mini", stream: true, input: "hi" },
    expect: (n) =>
      priced(
        tokens({ input_tokens: n - 8704, cache_read_tokens: 8704, output_tokens: 321, thinking_tokens: 192 }),
        GPT_5_MINI,
      ),
  },
  {
    provider: "openai",
    host: "api.openai.com",
    path: "/v1/responses?fixture=openai_responses.body&gzip=1",
    body: { model: "gpt-5", service_tier: "flex", input: "a story" },
    expect: (n) =>
      priced(
        tokens({
          input_tokens: n - 4096,
          cache_read_tokens: 4096,
          output_tokens: 1450,
          thinking_tokens: 1152,
        }),
        GPT_5_FLEX,
      ),
  },
  {
    provider: "openai",
    host: "api.openai.com",
    path: "/v1/embeddings?fixture=openai_embeddings.body",
    body: { model: "text-embedding-3-small", input: ["a"] },
    expect: (n) => priced(tokens({ input_tokens: n }), EMBED_3_SMALL),
  },
  {
    provider: "openai",
    host: "chatgpt.com",
    path: "/backend-api/codex/responses?fixture=openai_responses_stream.sse&model=gpt-5.1",
    body: { model: "gpt-5.1", stream: true, input: [] },
    expect: (n) =>
      priced(
        tokens({ input_tokens: n - 8704, cache_read_tokens: 8704, output_tokens: 321, thinking_tokens: 192 }),
        GPT_5_1,
      ),
  },
  {
    provider: "google",
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-pro:generateContent?fixture=gemini_generate.body",
    body: { contents: [] },
    expect: (n) =>
      priced(
        tokens({
          input_tokens: n - 32768,
          cache_read_tokens: 32768,
          output_tokens: 2140,
          thinking_tokens: 1528,
        }),
        GEMINI_2_5_PRO,
      ),
  },
  {
    provider: "google",
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&fixture=gemini_stream.sse",
    body: { contents: [] },
    expect: (n) =>
      priced(tokens({ input_tokens: n, output_tokens: 112, thinking_tokens: 100 }), GEMINI_2_5_FLASH),
  },
  {
    provider: "google",
    host: "generativelanguage.googleapis.com",
    path: "/v1/models/gemini-2.5-flash-lite:streamGenerateContent?fixture=gemini_stream_array.body" +
      "&model=gemini-2.5-flash-lite",
    body: { contents: [] },
    // The 120 tool-use prompt tokens are outside promptTokenCount and billed as input.
    expect: (n) => priced(tokens({ input_tokens: n + 120, output_tokens: 30 }), GEMINI_2_5_FLASH_LITE),
  },
  {
    provider: "google",
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-flash:countTokens?fixture=gemini_count_tokens.body",
    body: { contents: [] },
    expect: () => ({ ...tokens({}), cost: 0, complete: 1 }),
  },
  {
    provider: "google",
    host: "cloudcode-pa.googleapis.com",
    path: "/v1internal:streamGenerateContent?alt=sse&fixture=codeassist_stream.sse",
    body: { model: "gemini-2.5-pro", request: { contents: [] } },
    expect: (n) =>
      priced(
        tokens({ input_tokens: n - 6102, cache_read_tokens: 6102, output_tokens: 857, thinking_tokens: 800 }),
        GEMINI_2_5_PRO,
      ),
  },
  {
    provider: "xai",
    host: "api.x.ai",
    path: "/v1/chat/completions?fixture=xai_chat_reasoning.body",
    body: { model: "grok-4", messages: [] },
    // Billed as reported whatever the prompt: 15827000 ticks = 158.27 millicents → 158.
    expect: (n) => ({
      ...tokens({ input_tokens: n - 6, cache_read_tokens: 6, output_tokens: 103, thinking_tokens: 94 }),
      cost: 158,
      complete: 1,
    }),
  },
];

const LOAD_CALLS = 2000;
const LOAD_CLIENTS = 8;
/** Call i sends a body of exactly BODY_BASE + i bytes: its row is found by `request_bytes`. */
const BODY_BASE = 1000;
/** Call i sets the prompt count to PROMPT_BASE + i: every call's usage is its own. */
const PROMPT_BASE = 50_000;

function paddedBody(body: Record<string, unknown>, call: number): string {
  const text = JSON.stringify({ ...body, call });
  // Whitespace after a JSON value is still the same JSON.
  return text + " ".repeat(BODY_BASE + call - text.length);
}

Deno.test(`${LOAD_CALLS} mixed calls from ${LOAD_CLIENTS} concurrent clients give exactly one right row each`, async (t) => {
  const w = await startWorld();
  const clients: Deno.HttpClient[] = [];
  try {
    for (let i = 0; i < LOAD_CLIENTS; i++) {
      clients.push(Deno.createHttpClient({
        proxy: { url: `http://load-${i}:@127.0.0.1:${w.ports.edge}` },
        caCerts: [w.caPem],
      }));
    }
    const failures: string[] = [];
    const clientOf = new Map<number, number>();
    let next = 0;
    const started = performance.now();
    await Promise.all(clients.map(async (client, c) => {
      for (let i = next++; i < LOAD_CALLS; i = next++) {
        const kind = LOAD_KINDS[i % LOAD_KINDS.length];
        clientOf.set(i, c);
        try {
          const res = await fetch(`https://${kind.host}${kind.path}&in=${PROMPT_BASE + i}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: paddedBody(kind.body, i),
            client,
          });
          await res.arrayBuffer();
          if (res.status !== (kind.path.includes("status=429") ? 429 : 200)) {
            failures.push(`${i}: ${res.status}`);
          }
        } catch (e) {
          failures.push(`${i}: ${(e as Error).message}`);
        }
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    // Straight after the last answer: rows still queued or being parsed must be written on the way out.
    assert.equal(await w.stopDaemon(), 0, "SIGTERM ends the daemon cleanly");
    const rows = w.rows();
    console.log(
      `metering load: ${LOAD_CALLS} calls, ${rows.length} rows, ${seconds.toFixed(1)} s ` +
        `(${(LOAD_CALLS / seconds).toFixed(0)} calls/s through edge + daemon, ${LOAD_CLIENTS} clients)`,
    );
    // The checks below are steps, so that one failing does not hide the others.
    await t.step("every call is answered", () => assert.deepEqual(failures, []));
    await t.step("nothing queued is lost", () => {
      const exit = w.daemonLog().split("\n").filter((l) => l.includes('"daemon.exit"')).map((l) =>
        JSON.parse(l)
      );
      assert.equal(exit.length, 1, "the daemon logged its exit");
      assert.deepEqual([exit[0].rows_written, exit[0].rows_dropped], [LOAD_CALLS, 0]);
    });

    const byCall = new Map<number, Row[]>();
    for (const r of rows) {
      const call = (r.request_bytes as number) - BODY_BASE;
      byCall.set(call, [...byCall.get(call) ?? [], r]);
    }
    const want = new Map<string, number[]>();
    const add = (provider: string, figures: number[]) => {
      const sums = want.get(provider) ?? [0, 0, 0, 0, 0, 0];
      want.set(provider, sums.map((s, k) => s + figures[k]));
    };
    for (let i = 0; i < LOAD_CALLS; i++) {
      const kind = LOAD_KINDS[i % LOAD_KINDS.length];
      const e = kind.expect(PROMPT_BASE + i);
      add(kind.provider, [
        1,
        e.input_tokens,
        e.output_tokens,
        e.cache_read_tokens,
        e.cache_write_5m_tokens + e.cache_write_1h_tokens,
        e.cost,
      ]);
    }
    for (const [k, kind] of LOAD_KINDS.entries()) {
      await t.step(`kind ${k} (${kind.host}${kind.path}): every call has one right row`, () => {
        for (let i = k; i < LOAD_CALLS; i += LOAD_KINDS.length) {
          const got = byCall.get(i) ?? [];
          assert.equal(got.length, 1, `call ${i} (${kind.path}) has exactly one row, not ${got.length}`);
          const e = kind.expect(PROMPT_BASE + i);
          const r = got[0];
          assert.deepEqual(
            {
              provider: r.provider,
              host: r.host,
              project: r.project,
              ...tokenCounts(r as unknown as TokenCounts),
              cost: r.cost_usd_minor_units,
              complete: r.tokens_complete,
            },
            {
              provider: kind.provider,
              host: kind.host,
              project: `load-${clientOf.get(i)}`,
              ...tokenCounts(e),
              cost: e.cost,
              complete: e.complete,
            },
            `call ${i}: ${kind.path}`,
          );
        }
      });
    }
    await t.step("no row beyond one per call", () => assert.equal(rows.length, LOAD_CALLS));

    await t.step("totals by provider add up", () => {
      const db = new DatabaseSync(join(w.dir, "db.sqlite"), { readOnly: true });
      try {
        const totals = db.prepare(
          `SELECT provider, COUNT(*) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o,
                SUM(cache_read_tokens) AS cr, SUM(cache_write_tokens) AS cw, SUM(cost_usd_minor_units) AS c
           FROM requests GROUP BY provider ORDER BY provider`,
        ).all() as Record<string, number>[];
        assert.deepEqual(
          Object.fromEntries(totals.map((p) => [p.provider, [p.n, p.i, p.o, p.cr, p.cw, p.c]])),
          Object.fromEntries([...want.entries()].sort()),
          "totals by provider: calls, input, output, cache read, cache write, millicents",
        );
      } finally {
        db.close();
      }
    });
  } finally {
    for (const c of clients) c.close();
    await w.close();
  }
});
