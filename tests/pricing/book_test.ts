import assert from "node:assert/strict";
import { buildRateBook, bundledCard, modelCandidates } from "../../pricing/mod.ts";

const book = buildRateBook({ card: bundledCard() });
const matched = (provider: string, model: string) => book.lookup(provider, model)?.model;

Deno.test("RateBook.lookup() maps dated snapshot ids to their base model", () => {
  assert.equal(matched("anthropic", "claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
  assert.equal(matched("anthropic", "claude-haiku-4-5-20251001"), "claude-haiku-4-5");
  assert.equal(matched("openai", "gpt-4o-2024-08-06"), "gpt-4o");
  assert.equal(matched("openai", "gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
  assert.equal(matched("xai", "grok-3-latest"), "grok-3");
});

Deno.test("RateBook.lookup() prefers an exact snapshot id that has its own price", () => {
  // gpt-4o-2024-05-13 was priced apart from gpt-4o; the exact id must win over the alias rule.
  assert.equal(matched("openai", "gpt-4o-2024-05-13"), "gpt-4o-2024-05-13");
});

Deno.test("RateBook.lookup() reads Gemini resource names and the gemini provider alias", () => {
  assert.equal(matched("google", "models/gemini-2.5-pro"), "gemini-2.5-pro");
  assert.equal(matched("gemini", "gemini-2.5-flash"), "gemini-2.5-flash");
});

Deno.test("RateBook.lookup() never guesses across families or providers", () => {
  assert.equal(matched("openai", "gpt-4o-audio-preview"), undefined);
  assert.equal(matched("openai", "gpt-4o-mini-realtime"), undefined);
  assert.equal(matched("anthropic", "claude-sonnet"), undefined);
  // A snapshot rule belongs to its provider: an OpenAI-style date on a Claude id is not stripped.
  assert.equal(matched("anthropic", "claude-haiku-4-5-2025-10-01"), undefined);
  // The same id under another provider is another model.
  assert.equal(matched("xai", "gpt-4o"), undefined);
});

Deno.test("modelCandidates() lists the exact id before the base id", () => {
  assert.deepEqual(modelCandidates("anthropic", "Claude-Opus-4-5-20251101"), [
    "claude-opus-4-5-20251101",
    "claude-opus-4-5",
  ]);
  assert.deepEqual(modelCandidates("openai", "gpt-5"), ["gpt-5"]);
});
