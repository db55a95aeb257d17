import assert from "node:assert/strict";
import { formatDecimal, parseLiteLlm } from "../../pricing/mod.ts";

// A hand-written extract in LiteLLM's model_prices_and_context_window.json format.
const SAMPLE = {
  sample_spec: { litellm_provider: "one of https://docs.litellm.ai/docs/providers", input_cost_per_token: 0 },
  "claude-example-1": {
    litellm_provider: "anthropic",
    mode: "chat",
    input_cost_per_token: 3e-6,
    output_cost_per_token: 1.5e-5,
    cache_read_input_token_cost: 3e-7,
    cache_creation_input_token_cost: 3.75e-6,
    cache_creation_input_token_cost_above_1hr: 6e-6,
    input_cost_per_token_above_200k_tokens: 6e-6,
    output_cost_per_token_above_200k_tokens: 2.25e-5,
    input_cost_per_token_batches: 1.5e-6,
    output_cost_per_token_batches: 7.5e-6,
  },
  "gemini/gemini-example": {
    litellm_provider: "gemini",
    input_cost_per_token: 1.25e-7,
    output_cost_per_token: 5e-7,
    input_cost_per_audio_token: 1e-6,
    output_cost_per_image_token: 3e-5,
  },
  "gpt-example": {
    litellm_provider: "openai",
    input_cost_per_token: 2e-6,
    output_cost_per_token: 8e-6,
    input_cost_per_token_priority: 3.5e-6,
    output_cost_per_token_priority: 1.4e-5,
  },
  "bedrock/some-model": {
    litellm_provider: "bedrock",
    input_cost_per_token: 1e-6,
    output_cost_per_token: 1e-6,
  },
  "xai/grok-broken": { litellm_provider: "xai", input_cost_per_token: "lots", output_cost_per_token: 1e-6 },
  "dall-e-example": { litellm_provider: "openai", mode: "image_generation", output_cost_per_image: 0.04 },
};

const parsed = parseLiteLlm(SAMPLE);
const row = (model: string, tier: string, min = 0) =>
  parsed.rates.find((r) => r.model === model && r.tier === tier && r.min_prompt_tokens === min);
const usd = (model: string, tier: string, min = 0) =>
  Object.fromEntries(
    Object.entries(row(model, tier, min)?.rates ?? {}).map(([k, v]) => [k, formatDecimal(v!)]),
  );

Deno.test("parseLiteLlm() converts per-token prices to exact USD per million tokens", () => {
  assert.deepEqual(usd("claude-example-1", "standard"), {
    input: "3",
    output: "15",
    cache_read: "0.3",
    cache_write_5m: "3.75",
    cache_write_1h: "6",
  });
  assert.deepEqual(usd("gemini-example", "standard"), {
    input: "0.125",
    output: "0.5",
    input_audio: "1",
    output_image: "30",
  });
});

Deno.test("parseLiteLlm() reads long-context, batch and priority prices into their own rows", () => {
  assert.deepEqual(usd("claude-example-1", "standard", 200_001), { input: "6", output: "22.5" });
  assert.deepEqual(usd("claude-example-1", "batch"), { input: "1.5", output: "7.5" });
  assert.deepEqual(usd("gpt-example", "priority"), { input: "3.5", output: "14" });
});

Deno.test("parseLiteLlm() keeps only metered providers, under our provider names", () => {
  assert.equal(row("gemini-example", "standard")?.provider, "google");
  assert.equal(row("gpt-example", "standard")?.provider, "openai");
  assert.equal(parsed.rates.some((r) => r.model.includes("some-model")), false);
  assert.equal(parsed.otherProviders, 1);
  // Three models priced; the image model has no token prices; the broken one is reported.
  assert.equal(parsed.models, 3);
  assert.deepEqual(parsed.invalid, ["xai/grok-broken"]);
});

Deno.test("parseLiteLlm() refuses a document that is not a price map", () => {
  assert.throws(() => parseLiteLlm([1, 2]), TypeError);
});
