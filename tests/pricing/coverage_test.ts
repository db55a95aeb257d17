import assert from "node:assert/strict";
import {
  buildRateBook,
  bundledCard,
  cardCoverage,
  costOf,
  formatDecimal,
  loadPackage,
  PACKAGE_SOURCE,
  RATE_FIELDS,
} from "../../pricing/mod.ts";
import type { Usage } from "../../core/usage.ts";

const bundled = await loadPackage();

const card = bundledCard();
const carded = (provider: string, model: string) =>
  card.find((m) => m.provider === provider && m.model === model);

/** The models the current clients use by default or offer in their pickers (read from their npm packages). */
const CLIENT_MODELS: Record<string, string[]> = {
  // @anthropic-ai/claude-code 2.1.332: its model catalog.
  anthropic: [
    "claude-3-5-haiku",
    "claude-3-5-sonnet",
    "claude-3-7-sonnet",
    "claude-fable-5",
    "claude-fable-5-1",
    "claude-fable-5-2",
    "claude-haiku-4-5",
    "claude-haiku-5-5",
    "claude-mythos-5",
    "claude-mythos-5-1",
    "claude-mythos-5-2",
    "claude-opus-4-0",
    "claude-opus-4-1",
    "claude-opus-4-5",
    "claude-opus-4-6",
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-opus-5",
    "claude-opus-5-5",
    "claude-sonnet-4-0",
    "claude-sonnet-4-5",
    "claude-sonnet-4-6",
    "claude-sonnet-5",
    "claude-sonnet-5-5",
  ],
  // @openai/codex 0.171.0: the models its picker lists (gpt-6.2-sol first, the default).
  openai: [
    "gpt-6.2-sol",
    "gpt-6.2-astra",
    "gpt-6.1-terra",
    "gpt-6.1-sol",
    "gpt-6-astra",
    "gpt-6-sol",
    "gpt-6-luna",
    "gpt-5.6-sol",
    "gpt-5.6-terra",
    "gpt-5.6-luna",
    "gpt-5.5",
  ],
  // @google/gemini-cli 0.61.0: default, preview, flash and flash-lite models and the embedding model.
  google: [
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-3-pro-preview",
    "gemini-3-flash-preview",
    "gemini-3.1-pro-preview",
    "gemini-3.1-pro-preview-customtools",
    "gemini-3.5-flash",
    "gemini-3.5-flash-lite",
    "gemini-3.1-flash-lite",
    "gemini-3.8-flash",
    "gemini-embedding-001",
  ],
};

Deno.test("the card prices every model today's Claude Code, Codex CLI and Gemini CLI use or offer", () => {
  const missing = Object.entries(CLIENT_MODELS).flatMap(([provider, models]) =>
    models.filter((m) => !carded(provider, m)).map((m) => `${provider}/${m}`)
  );
  assert.deepEqual(missing, []);
});

Deno.test("every carded model has a rate for every token class its provider bills, at every tier and size", () => {
  const gaps: string[] = [];
  for (const c of cardCoverage()) {
    const m = carded(c.provider, c.model)!;
    for (const row of m.rows) {
      for (const f of c.billed) {
        if (!row.rates[f]) gaps.push(`${c.provider}/${c.model} ${row.tier} ≥${row.min_prompt_tokens}: ${f}`);
      }
    }
  }
  assert.deepEqual(gaps, []);
});

Deno.test("the card has a rate for every class the data package prices for the same model", () => {
  // The package is kept by others: where it bills a class (a cache write, a long-context tier) that the
  // card has no rate for, the card is missing something the provider bills.
  const gaps: string[] = [];
  for (const c of cardCoverage()) {
    const pkg = bundled.lookup(c.provider, c.model);
    if (!pkg) continue;
    const mine = carded(c.provider, c.model)!;
    const std = mine.rows.find((r) => r.tier === "standard" && r.min_prompt_tokens === 0)!;
    for (const f of RATE_FIELDS) {
      if (pkg.rows[0].rates[f] && !std.rates[f]) gaps.push(`${c.provider}/${c.model}: ${f}`);
    }
  }
  assert.deepEqual(gaps, []);
});

Deno.test("card vs data package: the differences are reported, and few", () => {
  const diffs: string[] = [];
  let compared = 0;
  for (const c of cardCoverage()) {
    const pkg = bundled.lookup(c.provider, c.model);
    if (!pkg) continue;
    compared++;
    const std = carded(c.provider, c.model)!.rows.find((r) =>
      r.tier === "standard" && r.min_prompt_tokens === 0
    )!;
    for (const f of RATE_FIELDS) {
      const a = std.rates[f], b = pkg.rows[0].rates[f];
      if (a && b && formatDecimal(a) !== formatDecimal(b)) {
        diffs.push(`${c.provider}/${c.model} ${f}: card ${formatDecimal(a)}, package ${formatDecimal(b)}`);
      }
    }
  }
  console.log(
    `card vs ${PACKAGE_SOURCE}: ${compared} models in both, ${diffs.length} differences` +
      diffs.map((d) => `\n  ${d}`).join(""),
  );
  assert.ok(compared >= 40, `only ${compared} carded models are in the package`);
  // Each difference is a deliberate choice documented in the card (a price change the package lags).
  assert.ok(diffs.length <= 10, `${diffs.length} differences: ${diffs.join("; ")}`);
});

const usage = (model: string, input: number, output: number, cache_read = 0): Usage => ({
  model,
  tokens_complete: true,
  input_tokens: input,
  output_tokens: output,
  thinking_tokens: 0,
  cache_read_tokens: cache_read,
  cache_write_5m_tokens: 0,
  cache_write_1h_tokens: 0,
  input_audio_tokens: 0,
  input_image_tokens: 0,
  output_audio_tokens: 0,
  output_image_tokens: 0,
  web_search_requests: 0,
  prompt_tokens: input + cache_read,
});

Deno.test("a model only the package knows is priced from it, by exact id, and says so in rates_source", () => {
  const book = buildRateBook({ card, package: bundled });
  // groq/llama-3.3-70b-versatile is priced at $0.59 in / $0.79 out per million by the package.
  const groq = bundled.models("groq").find((m) => m.model === "llama-3.3-70b-versatile");
  assert.ok(groq, "the package prices groq/llama-3.3-70b-versatile");
  const r = groq.rows[0].rates;
  const cost = costOf("groq", usage("llama-3.3-70b-versatile", 1_000_000, 1_000_000), book);
  const expected = Math.round((Number(formatDecimal(r.input!)) + Number(formatDecimal(r.output!))) * 100_000);
  assert.deepEqual(cost, { millicents: expected, rates_source: PACKAGE_SOURCE });
  // A prefix of a package id is not a match.
  assert.equal(
    costOf("groq", usage("llama-3.3-70b-versatile-fork", 10, 10), book).millicents,
    null,
  );
});

Deno.test("the card wins over the package for a model both price", () => {
  const book = buildRateBook({ card, package: bundled });
  const cost = costOf("openai", usage("gpt-6.2-sol", 100_000, 100_000, 100_000), book);
  // 0.1 M tokens each at $2 input, $10 output, $0.10 cached input: $1.21.
  assert.equal(cost.millicents, 121_000);
  assert.match(cost.rates_source!, /^bundled-/);
});

Deno.test("how many of the package's models resolve by exact id for the metered providers and common hosts", () => {
  const counts = ["anthropic", "openai", "google", "xai", "groq", "openrouter", "mistral", "deepseek"].map((
    p,
  ) => [p, bundled.models(p).length] as const);
  console.log(`package models resolvable by exact id: ${counts.map(([p, n]) => `${p} ${n}`).join(", ")}`);
  for (const [p, n] of counts) assert.ok(n > 0, `no ${p} model resolves`);
});
