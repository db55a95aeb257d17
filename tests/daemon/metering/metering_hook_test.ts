import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  buildRateBook,
  bundledCard,
  formatDecimal,
  loadPackage,
  PACKAGE_SOURCE,
} from "../../../pricing/mod.ts";
import { createMeteringHook, splitAddress } from "../../../daemon/metering/metering_hook.ts";
import type { ExchangeStart } from "../../../daemon/intercept/seam.ts";
import type { UsageRow } from "../../../store/rows.ts";

const bundled = await loadPackage();

const fixture = (name: string) =>
  Deno.readFileSync(new URL(`../../fixtures/providers/${name}`, import.meta.url));

// Opus 4.1 list prices, given as an override so the test does not depend on the bundled card's contents.
const rates = buildRateBook({
  overrides: [{
    provider: "anthropic",
    model: "claude-opus-4-1",
    input: 15,
    output: 75,
    cache_read: 1.5,
    cache_write_5m: 18.75,
    cache_write_1h: 30,
  }],
});

function exchange(over: Partial<ExchangeStart> = {}): ExchangeStart {
  return {
    host: "api.anthropic.com",
    path: "/v1/messages?beta=true",
    method: "POST",
    httpVersion: "1.1",
    status: 200,
    startedAt: new Date("2026-11-25T10:00:00.000Z"),
    headMs: 120,
    client: "127.0.0.1:50123",
    requestHeaders: { "x-api-key": "sk-ant-api03-secret", "content-type": "application/json" },
    responseHeaders: { "content-type": "text/event-stream" },
    requestBody: new TextEncoder().encode('{"model":"claude-opus-4-1","stream":true,"max_tokens":1024}'),
    requestBodyTruncated: false,
    ...over,
  };
}

function harness() {
  const rows: UsageRow[] = [];
  const clients: unknown[] = [];
  let wake: (row: UsageRow) => void = () => {};
  const hook = createMeteringHook({
    sink: { enqueue: (r) => rows.push(r) },
    rates: () => rates,
    attribute(client) {
      clients.push(client);
      return Promise.resolve({
        project: client.explicitProject ?? "acme",
        layer: "git",
        client_process: "node",
      });
    },
    onRow: (r) => wake(r),
  });
  const next = () => new Promise<UsageRow>((resolve) => wake = resolve);
  return { hook, rows, clients, next };
}

const end = { complete: true, latencyMs: 812.4, ttftMs: 130.6, requestBytes: 58, responseBytes: 4096 };

Deno.test("metering hook writes one priced row for a streamed Anthropic call, split into small chunks", async () => {
  const { hook, rows, clients, next } = harness();
  const observer = hook.begin(exchange())!;
  const body = fixture("anthropic_stream.sse");
  for (let i = 0; i < body.length; i += 7) observer.onResponseChunk(body.subarray(i, i + 7));
  const done = next();
  observer.onEnd(end);
  const row = await done;
  assert.equal(rows.length, 1);
  assert.deepEqual(clients, [{ ip: "127.0.0.1", port: 50123, explicitProject: undefined }]);
  assert.equal(row.project, "acme");
  assert.equal(row.attribution_layer, "git");
  assert.equal(row.client_process, "node");
  assert.equal(row.provider, "anthropic");
  assert.equal(row.model, "claude-opus-4-1-20250805");
  assert.deepEqual(
    [
      row.input_tokens,
      row.output_tokens,
      row.cache_read_tokens,
      row.cache_write_5m_tokens,
      row.cache_write_1h_tokens,
    ],
    [472, 118, 12000, 0, 2048],
  );
  // 472×15 + 118×75 + 12000×1.5 + 2048×30 = 95,370 USD·tokens/M = $0.09537 = 9,537 millicents.
  assert.equal(row.cost_usd_minor_units, 9537);
  assert.equal(row.billing, "api");
  assert.equal(row.status, "success");
  assert.equal(row.tokens_complete, true);
  assert.equal(row.streamed, true);
  assert.equal(row.path, "/v1/messages");
  assert.equal(row.latency_ms, 812);
  assert.equal(row.ttft_ms, 131);
  assert.ok(!JSON.stringify(row).includes("secret"), "no credential is kept in the row");
});

Deno.test("metering hook decodes a gzip copy and labels a cut-short stream incomplete and a network error", async () => {
  const { hook, next } = harness();
  const whole = fixture("anthropic_stream.sse");
  const cut = gzipSync(whole.subarray(0, Math.floor(whole.length / 2)));
  const observer = hook.begin(
    exchange({ responseHeaders: { "content-type": "text/event-stream", "content-encoding": "gzip" } }),
  )!;
  observer.onResponseChunk(cut);
  const done = next();
  observer.onEnd({ ...end, complete: false, error: "upstream reset" });
  const row = await done;
  assert.equal(row.tokens_complete, false);
  assert.equal(row.status, "error");
  assert.equal(row.error_class, "network");
  assert.equal(row.input_tokens, 472, "what arrived before the cut is kept");
});

Deno.test("metering hook writes a whole, successful row when the client hangs up right after the last event", async () => {
  const { hook, next } = harness();
  const observer = hook.begin(exchange())!;
  // Everything up to and including message_stop, gzip-free: what Codex-like clients read before closing.
  observer.onResponseChunk(fixture("anthropic_stream.sse"));
  const done = next();
  observer.onEnd({ ...end, complete: false, error: "client closed" });
  const row = await done;
  assert.equal(row.status, "success");
  assert.equal(row.error_class, null);
  assert.equal(row.tokens_complete, true);
  assert.equal(row.cost_usd_minor_units, 9537, "priced like the same call read to its end");
});

Deno.test("metering hook passes the proxy-credential project to attribution and skips unmetered paths", async () => {
  const { hook, next, clients } = harness();
  assert.equal(hook.begin(exchange({ path: "/v1/models" })), undefined);
  const observer = hook.begin(exchange({ project: "client-x", client: "[::1]:6000" }))!;
  observer.onResponseChunk(fixture("anthropic_stream.sse"));
  const done = next();
  observer.onEnd(end);
  assert.equal((await done).project, "client-x");
  assert.deepEqual(clients, [{ ip: "::1", port: 6000, explicitProject: "client-x" }]);
});

Deno.test("metering hook records a provider error with its class and code, and a subscription login", async () => {
  const { hook, next } = harness();
  const observer = hook.begin(exchange({
    status: 429,
    responseHeaders: { "content-type": "application/json" },
    requestHeaders: { authorization: "Bearer sk-ant-oat01-token" },
  }))!;
  observer.onResponseChunk(fixture("anthropic_error_429.body"));
  const done = next();
  observer.onEnd(end);
  const row = await done;
  assert.equal(row.status, "error");
  assert.equal(row.error_class, "rate_limit");
  assert.equal(row.http_status, 429);
  assert.equal(row.provider_error_code, "rate_limit_error");
  assert.equal(row.billing, "subscription");
});

Deno.test("splitAddress() reads IPv4 and bracketed IPv6 client addresses", () => {
  assert.deepEqual(splitAddress("10.0.0.1:443"), { ip: "10.0.0.1", port: 443 });
  assert.deepEqual(splitAddress("[::1]:8081"), { ip: "::1", port: 8081 });
});

Deno.test("drain() waits for rows still being attributed, so a stopping daemon loses none", async () => {
  const rows: UsageRow[] = [];
  const hook = createMeteringHook({
    sink: { enqueue: (r) => rows.push(r) },
    rates: () => rates,
    attribute: () =>
      new Promise((resolve) =>
        setTimeout(() => resolve({ project: "slow", layer: "cwd", client_process: null }), 30)
      ),
  });
  const observer = hook.begin(exchange())!;
  observer.onResponseChunk(fixture("anthropic_stream.sse"));
  observer.onEnd(end);
  assert.equal(rows.length, 0, "attribution has not answered yet");
  await hook.drain!();
  assert.deepEqual(rows.map((r) => r.project), ["slow"]);
});

Deno.test("a batch's thousands of rows are queued a slice per turn of the event loop, and drain() waits for them all", async () => {
  const rows: UsageRow[] = [];
  const who = Promise.resolve({ project: "acme", layer: "git" as const, client_process: null });
  const hook = createMeteringHook({
    sink: { enqueue: (r) => rows.push(r) },
    rates: () => rates,
    attribute: () => who,
  });
  hook.connect!("127.0.0.1:50123");
  await who;
  const observer = hook.begin(exchange({
    method: "GET",
    path: "/v1/messages/batches/msgbatch_big/results",
    responseHeaders: { "content-type": "application/binary" },
    requestBody: new Uint8Array(),
  }))!;
  const line = (i: number) =>
    JSON.stringify({
      custom_id: `c-${i}`,
      result: {
        type: "succeeded",
        message: { model: "claude-opus-4-1", usage: { input_tokens: 10, output_tokens: 1 } },
      },
    }) + "\n";
  observer.onResponseChunk(
    new TextEncoder().encode(Array.from({ length: 5000 }, (_, i) => line(i)).join("")),
  );
  observer.onEnd(end);
  // Made all at once they held the daemon's only thread for a second at 50,000, every other stream with it.
  assert.ok(
    rows.length > 0 && rows.length < 5000,
    `${rows.length} rows queued in the turn the results ended`,
  );
  await hook.drain!();
  assert.equal(new Set(rows.map((r) => r.id)).size, 5000);
});

Deno.test("connect() starts the client's attribution before any request, while its process surely lives, as a new connection", () => {
  const { hook, clients } = harness();
  hook.connect!("127.0.0.1:50999", "tagged");
  // `fresh`: what was remembered for the port belonged to an earlier connection from it.
  assert.deepEqual(clients, [{ ip: "127.0.0.1", port: 50999, explicitProject: "tagged", fresh: true }]);
});

Deno.test("metering hook prices a call to an extra [hosts] provider from the bundled data package", async () => {
  const rows: UsageRow[] = [];
  let wake: (row: UsageRow) => void = () => {};
  const hook = createMeteringHook({
    sink: { enqueue: (r) => rows.push(r) },
    rates: () => buildRateBook({ card: bundledCard(), package: bundled }),
    attribute: () => Promise.resolve({ project: "acme", layer: "git", client_process: "python3" }),
    extraHosts: { "api.groq.com": "openai" },
    onRow: (r) => wake(r),
  });
  const observer = hook.begin(exchange({
    host: "api.groq.com",
    path: "/openai/v1/chat/completions",
    requestHeaders: { authorization: "Bearer gsk_secret", "content-type": "application/json" },
    responseHeaders: { "content-type": "application/json" },
    requestBody: new TextEncoder().encode('{"model":"llama-3.3-70b-versatile"}'),
  }))!;
  observer.onResponseChunk(new TextEncoder().encode(JSON.stringify({
    id: "chatcmpl-1",
    object: "chat.completion",
    model: "llama-3.3-70b-versatile",
    choices: [],
    usage: { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 },
  })));
  const done = new Promise<UsageRow>((resolve) => wake = resolve);
  observer.onEnd(end);
  const row = await done;
  assert.equal(row.provider, "groq");
  // The package's groq rates for this model, per million tokens: one million of each is their sum.
  const groq = bundled.models("groq").find((m) => m.model === "llama-3.3-70b-versatile")!.rows[0].rates;
  const usd = Number(formatDecimal(groq.input!)) + Number(formatDecimal(groq.output!));
  assert.equal(row.cost_usd_minor_units, Math.round(usd * 100_000));
  assert.equal(row.rates_source, PACKAGE_SOURCE);
  assert.equal(rows.length, 1);
});
