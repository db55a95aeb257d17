import assert from "node:assert/strict";
import {
  BUNDLED_SOURCE,
  bundledCard,
  CARD_DATE,
  formatDecimal,
  parseDecimal,
  RATE_FIELDS,
} from "../../pricing/mod.ts";
import { mulDecimal } from "../../pricing/decimal.ts";

const card = bundledCard();
const standard = (model: string) =>
  card.find((m) => m.model === model)!.rows.find((r) => r.tier === "standard" && r.min_prompt_tokens === 0)!
    .rates;

Deno.test("bundledCard() is dated and names a public pricing page for every model", () => {
  assert.match(CARD_DATE, /^\d{4}-\d{2}-\d{2}$/);
  assert.equal(BUNDLED_SOURCE, `bundled-${CARD_DATE}`);
  for (const m of card) {
    assert.match(m.url ?? "", /^https:\/\//, `${m.provider}/${m.model} has no source page`);
    assert.equal(m.source, BUNDLED_SOURCE);
  }
  const providers = new Set(card.map((m) => m.provider));
  assert.deepEqual([...providers].sort(), ["anthropic", "google", "openai", "xai"]);
});

Deno.test("bundledCard() lists each model once, each with an input rate", () => {
  const ids = card.map((m) => `${m.provider}/${m.model}`);
  assert.equal(new Set(ids).size, ids.length);
  for (const m of card) assert.ok(standard(m.model).input, `${m.model} has no input rate`);
});

Deno.test("bundledCard() prices Anthropic cache writes at 1.25× (5 min) and 2× (1 h) of input", () => {
  for (const m of card.filter((m) => m.provider === "anthropic")) {
    for (const row of m.rows.filter((r) => r.tier === "standard")) {
      const input = row.rates.input!;
      assert.equal(
        formatDecimal(row.rates.cache_write_5m!),
        formatDecimal(mulDecimal(input, parseDecimal("1.25"))),
      );
      assert.equal(
        formatDecimal(row.rates.cache_write_1h!),
        formatDecimal(mulDecimal(input, parseDecimal("2"))),
      );
    }
  }
});

Deno.test("bundledCard() makes every batch rate half the standard rate", () => {
  for (const m of card) {
    for (const batch of m.rows.filter((r) => r.tier === "batch")) {
      const std = m.rows.find((r) =>
        r.tier === "standard" && r.min_prompt_tokens === batch.min_prompt_tokens
      )!;
      for (const f of RATE_FIELDS) {
        if (!std.rates[f]) continue;
        assert.equal(
          formatDecimal(batch.rates[f]!),
          formatDecimal(mulDecimal(std.rates[f]!, parseDecimal("0.5"))),
          `${m.model} batch ${f}`,
        );
      }
    }
  }
});

Deno.test("bundledCard() starts long-context rows just above the published threshold", () => {
  const sonnet = card.find((m) => m.model === "claude-sonnet-4-5")!;
  assert.deepEqual(sonnet.rows.filter((r) => r.tier === "standard").map((r) => r.min_prompt_tokens), [
    0,
    200_001,
  ]);
});
