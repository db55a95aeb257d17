import assert from "node:assert/strict";
import { buildRateBook, bundledCard, costOf, type ModelRates, parseDecimal } from "../../pricing/mod.ts";
import type { Usage } from "../../core/usage.ts";
import { blankUsage } from "../../daemon/providers/_shared.ts";

const card = buildRateBook({ card: bundledCard() });

/** A usage with every column zero unless given; `prompt_tokens` is the sum of the prompt columns. */
function usage(model: string | null, counts: Partial<Usage> = {}): Usage {
  const u: Usage = { ...blankUsage(model), tokens_complete: true, ...counts };
  if (counts.prompt_tokens === undefined) {
    u.prompt_tokens = u.input_tokens + u.cache_read_tokens + u.cache_write_5m_tokens +
      u.cache_write_1h_tokens;
  }
  return u;
}

// Rates are USD per million tokens, so tokens × rate is in micro-dollars and millicents = that / 10.

Deno.test("costOf() prices Anthropic 5-minute and 1-hour cache writes at their own rates", () => {
  // claude-sonnet-4-5: input $3, 5m write $3.75, 1h write $6, output $15.
  // 5m: 1,000 × 3 + 2,000 × 3.75 + 100 × 15 = 3,000 + 7,500 + 1,500 = 12,000 µ$ → 1,200 mc
  const fiveMinutes = costOf(
    "anthropic",
    usage("claude-sonnet-4-5", { input_tokens: 1000, cache_write_5m_tokens: 2000, output_tokens: 100 }),
    card,
  );
  assert.deepEqual(fiveMinutes, { millicents: 1200, rates_source: "bundled-2026-12-06" });
  // 1h: 1,000 × 3 + 2,000 × 6 + 100 × 15 = 3,000 + 12,000 + 1,500 = 16,500 µ$ → 1,650 mc
  const oneHour = costOf(
    "anthropic",
    usage("claude-sonnet-4-5", { input_tokens: 1000, cache_write_1h_tokens: 2000, output_tokens: 100 }),
    card,
  );
  assert.equal(oneHour.millicents, 1650);
});

Deno.test("costOf() bills cache reads at the cache-read rate, not the input rate", () => {
  // claude-sonnet-4-5: 100 × 3 + 10,000 × 0.30 = 300 + 3,000 = 3,300 µ$ → 330 mc
  const cost = costOf(
    "anthropic",
    usage("claude-sonnet-4-5", { input_tokens: 100, cache_read_tokens: 10_000 }),
    card,
  );
  assert.equal(cost.millicents, 330);
});

Deno.test("costOf() switches to the long-context rates only above 200k prompt tokens", () => {
  // Exactly 200,000 prompt tokens is still standard: 200,000 × 3 + 1,000 × 15 = 615,000 µ$ → 61,500 mc
  const at = costOf(
    "anthropic",
    usage("claude-sonnet-4-5", { input_tokens: 200_000, output_tokens: 1000 }),
    card,
  );
  assert.equal(at.millicents, 61_500);
  // 200,001 prompt tokens: the whole call at $6 / $22.50:
  // 200,001 × 6 + 1,000 × 22.5 = 1,200,006 + 22,500 = 1,222,506 µ$ → 122,250.6 mc → 122,251
  const above = costOf(
    "anthropic",
    usage("claude-sonnet-4-5", { input_tokens: 200_001, output_tokens: 1000 }),
    card,
  );
  assert.equal(above.millicents, 122_251);
  // The threshold counts the whole prompt: 150,000 input + 50,001 cache reads = 200,001.
  // 150,000 × 6 + 50,001 × 0.60 = 900,000 + 30,000.6 = 930,000.6 µ$ → 93,000.06 mc → 93,000
  const cached = costOf(
    "anthropic",
    usage("claude-sonnet-4-5", { input_tokens: 150_000, cache_read_tokens: 50_001 }),
    card,
  );
  assert.equal(cached.millicents, 93_000);
  // Sonnet 4 has the same 1M-context rates (a prompt that large is only accepted with it), under its dated id.
  const sonnet4 = costOf(
    "anthropic",
    usage("claude-sonnet-4-20250514", { input_tokens: 300_000, output_tokens: 1000 }),
    card,
  );
  // 300,000 × 6 + 1,000 × 22.5 = 1,822,500 µ$ → 182,250 mc
  assert.equal(sonnet4.millicents, 182_250);
});

Deno.test("costOf() bills reasoning as output, never on top of it", () => {
  // o3: input $2, output $8. output_tokens already holds the 4,000 reasoning tokens:
  // 1,000 × 2 + 5,000 × 8 = 2,000 + 40,000 = 42,000 µ$ → 4,200 mc
  const withThinking = costOf(
    "openai",
    usage("o3", { input_tokens: 1000, output_tokens: 5000, thinking_tokens: 4000 }),
    card,
  );
  const without = costOf("openai", usage("o3", { input_tokens: 1000, output_tokens: 5000 }), card);
  assert.equal(withThinking.millicents, 4200);
  assert.equal(without.millicents, 4200);
});

Deno.test("costOf() prices Gemini thoughts, carried in output_tokens, at the output rate", () => {
  // gemini-2.5-pro: 300 candidates + 700 thoughts = 1,000 output tokens.
  // 2,000 × 1.25 + 1,000 × 10 = 2,500 + 10,000 = 12,500 µ$ → 1,250 mc
  const cost = costOf(
    "google",
    usage("gemini-2.5-pro", { input_tokens: 2000, output_tokens: 1000, thinking_tokens: 700 }),
    card,
  );
  assert.equal(cost.millicents, 1250);
});

Deno.test("costOf() uses the batch tier when the service tier says batch", () => {
  // gpt-4.1 standard $2 / $8; batch half of it, $1 / $4.
  const counts = { input_tokens: 1_000_000, output_tokens: 100_000 };
  // standard: 1,000,000 × 2 + 100,000 × 8 = 2,800,000 µ$ → 280,000 mc ($2.80)
  assert.equal(costOf("openai", usage("gpt-4.1", counts), card).millicents, 280_000);
  // batch: 1,000,000 × 1 + 100,000 × 4 = 1,400,000 µ$ → 140,000 mc ($1.40)
  const batch = costOf("openai", { ...usage("gpt-4.1", counts), service_tier: "batch" }, card);
  assert.equal(batch.millicents, 140_000);
  // A tier the model has no rates for bills at standard: gpt-4.1 publishes no flex price.
  const flex = costOf("openai", { ...usage("gpt-4.1", counts), service_tier: "flex" }, card);
  assert.equal(flex.millicents, 280_000);
});

Deno.test("costOf() takes xAI's cost_in_usd_ticks over the rate card", () => {
  // 123,456,789 ticks / 10^10 = $0.0123456789 = 1,234.56789 mc → 1,235
  const cost = costOf(
    "xai",
    {
      ...usage("grok-3", { input_tokens: 1_000_000, output_tokens: 1_000_000 }),
      cost_in_usd_ticks: 123_456_789,
    },
    card,
  );
  assert.deepEqual(cost, { millicents: 1235, rates_source: "xai:cost_in_usd_ticks" });
});

Deno.test("costOf() gives null for a model without a rate, and for a response naming no model", () => {
  const none = { millicents: null, rates_source: null };
  assert.deepEqual(costOf("openai", usage("gpt-9-imaginary", { input_tokens: 10 }), card), none);
  assert.deepEqual(costOf("openai", usage(null, { input_tokens: 10 }), card), none);
  // Known model, but cache reads and no published cache-read rate: a partial price would be wrong.
  assert.deepEqual(
    costOf("google", usage("gemini-2.0-flash-lite", { input_tokens: 10, cache_read_tokens: 10 }), card),
    none,
  );
});

Deno.test("costOf() makes a free call such as Gemini countTokens cost 0", () => {
  const cost = costOf("google", { ...usage("gemini-2.5-pro", { input_tokens: 5000 }), free: true }, card);
  assert.deepEqual(cost, { millicents: 0, rates_source: "free" });
});

Deno.test("costOf() rounds once, half up, at half a millicent", () => {
  const book = buildRateBook({
    card: [{
      provider: "openai",
      model: "quarter",
      source: "test",
      rows: [{ tier: "standard", min_prompt_tokens: 0, rates: { input: parseDecimal("0.25") } }],
    }],
  });
  const mc = (tokens: number) =>
    costOf("openai", usage("quarter", { input_tokens: tokens }), book).millicents;
  // 19 × 0.25 = 4.75 µ$ = 0.475 mc → 0
  assert.equal(mc(19), 0);
  // 20 × 0.25 = 5 µ$ = 0.5 mc → 1 (half up)
  assert.equal(mc(20), 1);
  // 100 × 0.25 = 25 µ$ = 2.5 mc → 3 (half up, not to even)
  assert.equal(mc(100), 3);
});

Deno.test("costOf() sums without float drift across many columns", () => {
  // gpt-4o-mini: input 0.15, cache read 0.075, output 0.60.
  // 1,000,001 × 0.15 + 3,333,333 × 0.075 + 7 × 0.60
  // = 150,000.15 + 249,999.975 + 4.2 = 400,004.325 µ$ → 40,000.4325 mc → 40,000
  const cost = costOf(
    "openai",
    usage("gpt-4o-mini", { input_tokens: 1_000_001, cache_read_tokens: 3_333_333, output_tokens: 7 }),
    card,
  );
  assert.equal(cost.millicents, 40_000);
});

Deno.test("costOf() lets a config override beat the card, keeping the card's other rates", () => {
  const book = buildRateBook({
    card: bundledCard(),
    overrides: [{ provider: "anthropic", model: "claude-sonnet-4-5", input: 1 }],
  });
  // input overridden to $1, output still the card's $15: 1,000 × 1 + 100 × 15 = 2,500 µ$ → 250 mc
  const cost = costOf(
    "anthropic",
    usage("claude-sonnet-4-5-20250929", { input_tokens: 1000, output_tokens: 100 }),
    book,
  );
  assert.deepEqual(cost, { millicents: 250, rates_source: "config" });
});

Deno.test("costOf() lets stored rates beat the card and config beat stored rates", () => {
  const stored: ModelRates[] = [{
    provider: "openai",
    model: "gpt-4o",
    source: "litellm:prices.json",
    rows: [{
      tier: "standard",
      min_prompt_tokens: 0,
      rates: { input: parseDecimal("4"), output: parseDecimal("12") },
    }],
  }];
  const u = usage("gpt-4o", { input_tokens: 1000, output_tokens: 1000 });
  // stored: 1,000 × 4 + 1,000 × 12 = 16,000 µ$ → 1,600 mc
  const fromStore = costOf("openai", u, buildRateBook({ card: bundledCard(), stored }));
  assert.deepEqual(fromStore, { millicents: 1600, rates_source: "litellm:prices.json" });
  // config output $2 on top of stored input $4: 1,000 × 4 + 1,000 × 2 = 6,000 µ$ → 600 mc
  const fromConfig = costOf(
    "openai",
    u,
    buildRateBook({
      card: bundledCard(),
      stored,
      overrides: [{ provider: "openai", model: "gpt-4o", output: 2 }],
    }),
  );
  assert.deepEqual(fromConfig, { millicents: 600, rates_source: "config" });
});

Deno.test("costOf() gives the exact BigInt result for any size, small or past 2^53", () => {
  const rates = { input: "0.15", output: "15.000375", cache_read: "0.0000001", cache_write_5m: "3.75" };
  const book = buildRateBook({
    card: [{
      provider: "openai",
      model: "any",
      source: "test",
      rows: [{
        tier: "standard",
        min_prompt_tokens: 0,
        rates: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, parseDecimal(v)])),
      }],
    }],
  });
  // Independently: tokens × rate summed as decimals scaled by 10^7, then micro-dollars → millicents half up.
  const scaled = (v: string) =>
    BigInt(v.replace(".", "").replace(/^0+(?=\d)/, "")) * 10n ** BigInt(7 - v.split(".")[1].length);
  const expected = (u: Usage) => {
    const total = BigInt(u.input_tokens) * scaled(rates.input) +
      BigInt(u.output_tokens) * scaled(rates.output) +
      BigInt(u.cache_read_tokens) * scaled(rates.cache_read) +
      BigInt(u.cache_write_5m_tokens) * scaled(rates.cache_write_5m);
    const d = 10n ** 8n;
    return Number((2n * total + d) / (2n * d));
  };
  let seed = 7;
  const next = (max: number) => (seed = (seed * 48271) % 2147483647) % max;
  const sizes = [10, 1_000, 1_000_000, 2_000_000_000, Number.MAX_SAFE_INTEGER];
  for (let i = 0; i < 2000; i++) {
    const u = usage("any", {
      input_tokens: next(2) ? next(sizes[i % 5] % 2147483647) : 0,
      output_tokens: next(sizes[(i + 1) % 5] % 2147483647),
      cache_read_tokens: i % 7 === 0 ? Number.MAX_SAFE_INTEGER - next(1000) : next(1000),
      cache_write_5m_tokens: next(3) ? next(100_000) : 0,
    });
    assert.equal(costOf("openai", u, book).millicents, expected(u), JSON.stringify(u));
  }
});
