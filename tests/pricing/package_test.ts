import assert from "node:assert/strict";
import { formatDecimal, parsePriceDocument } from "../../pricing/mod.ts";
import { exactIds, pricesAt, rowsOf } from "../../pricing/package.ts";

const rates = (row: { rates: Record<string, unknown> }) =>
  Object.fromEntries(Object.entries(row.rates).map(([k, v]) => [k, formatDecimal(v as never)]));

Deno.test("rowsOf() turns tiered package prices into a base row and a row from each threshold + 1", () => {
  const rows = rowsOf({
    input_mtok: { base: 2, tiers: [{ start: 272000, price: 4 }] },
    cache_read_mtok: { base: 0.2, tiers: [{ start: 272000, price: 0.4 }] },
    cache_write_mtok: 2.5,
    output_mtok: { base: 10, tiers: [{ start: 272000, price: 15 }] },
    input_audio_mtok: 32,
  })!;
  assert.deepEqual(rows.map((r) => [r.tier, r.min_prompt_tokens, rates(r)]), [
    ["standard", 0, {
      input: "2",
      cache_read: "0.2",
      cache_write_5m: "2.5",
      output: "10",
      input_audio: "32",
    }],
    // The package applies a tier when the prompt has more than `start` tokens.
    ["standard", 272001, {
      input: "4",
      cache_read: "0.4",
      cache_write_5m: "2.5",
      output: "15",
      input_audio: "32",
    }],
  ]);
  assert.equal(rowsOf({ input_audio_mtok: 3 }), undefined, "neither an input nor an output rate");
  assert.throws(() => rowsOf({ input_mtok: -1 }), TypeError);
  assert.throws(() => rowsOf({ input_mtok: "2" as never }), TypeError);
});

Deno.test("pricesAt() takes the latest dated set reached, and never one bound to a time of day", () => {
  const sets = [
    { prices: { input_mtok: 5 } },
    { constraint: { type: "start_date", start_date: "2026-07-30" }, prices: { input_mtok: 2 } },
    { constraint: { type: "start_date", start_date: "2027-01-01" }, prices: { input_mtok: 9 } },
    {
      constraint: { type: "time_of_date", start_time: "00:00Z", end_time: "08:00Z" },
      prices: { input_mtok: 1 },
    },
  ];
  assert.deepEqual(pricesAt(sets, new Date("2026-07-29T23:00:00Z")), { input_mtok: 5 });
  assert.deepEqual(pricesAt(sets, new Date("2026-12-06T00:00:00Z")), { input_mtok: 2 });
  assert.deepEqual(pricesAt(sets, new Date("2027-01-01T00:00:00Z")), { input_mtok: 9 });
  assert.deepEqual(pricesAt({ input_mtok: 3 }, new Date()), { input_mtok: 3 });
});

Deno.test("exactIds() follows equals, never starts_with or contains", () => {
  assert.deepEqual(
    exactIds({
      id: "gpt-4o",
      match: { or: [{ equals: "gpt-4o" }, { equals: "GPT-4o-2024-08-06" }, { starts_with: "gpt-4o-" }] },
    }),
    ["gpt-4o", "gpt-4o-2024-08-06"],
  );
  assert.deepEqual(exactIds({ id: "claude-opus-4-6", match: { starts_with: "claude-opus-4-6" } }), [
    "claude-opus-4-6",
  ]);
});

Deno.test("parsePriceDocument() tells LiteLLM's map from the package's data file, and refuses anything else", () => {
  const lite = parsePriceDocument({
    "gpt-x": { litellm_provider: "openai", input_cost_per_token: 1e-6, output_cost_per_token: 2e-6 },
  });
  assert.equal(lite.format, "litellm");
  assert.equal(lite.models, 1);
  const pkg = parsePriceDocument([{
    id: "x-ai",
    models: [{ id: "grok-9", match: { equals: "grok-9" }, prices: { input_mtok: 1, output_mtok: 2 } }],
  }]);
  assert.equal(pkg.format, "genai-prices");
  assert.deepEqual(pkg.rates.map((r) => [r.provider, r.model]), [["xai", "grok-9"]], "x-ai is filed as xai");
  const bad = parsePriceDocument([{
    id: "openai",
    models: [{ id: "m", match: {}, prices: { input_mtok: "x" } }],
  }]);
  assert.deepEqual(bad.invalid, ["openai/m"]);
  assert.throws(() => parsePriceDocument("nope"), TypeError);
  assert.throws(() => parsePriceDocument([{ models: [] }]), TypeError);
});
