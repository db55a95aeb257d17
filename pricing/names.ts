/**
 * Matching the model a response names to a priced model: the exact id first, then the id with the
 * provider's documented snapshot or alias decoration taken off. Never a guess across families:
 * `gpt-4o-2024-08-06` is `gpt-4o`, but `gpt-4o-mini` is never `gpt-4o`.
 *
 * @module
 */

/** The provider name rates are filed under: lower case, `gemini` → `google`. */
export function normalizeProvider(provider: string): string {
  const p = provider.trim().toLowerCase();
  return p === "gemini" ? "google" : p;
}

/** A model id as rates are filed: lower case, Gemini's `models/` resource prefix taken off. */
export function normalizeModel(provider: string, model: string): string {
  const m = model.trim().toLowerCase();
  return normalizeProvider(provider) === "google" ? m.replace(/^models\//, "") : m;
}

/** The snapshot or alias decoration each provider documents on top of a base model id. */
const DECORATIONS: Record<string, RegExp[]> = {
  // `claude-sonnet-4-5-20250929`, `claude-3-7-sonnet-latest`
  anthropic: [/-\d{8}$/, /-latest$/],
  // `gpt-4o-2024-08-06`, `o3-2025-04-16`
  openai: [/-\d{4}-\d{2}-\d{2}$/],
  // `grok-3-latest`
  xai: [/-latest$/],
};

/**
 * The ids to try for `model`, most specific first: the exact (normalized) id, then the base id when the
 * provider's snapshot rule applies.
 */
export function modelCandidates(provider: string, model: string): string[] {
  const exact = normalizeModel(provider, model);
  const out = [exact];
  for (const rule of DECORATIONS[normalizeProvider(provider)] ?? []) {
    const base = exact.replace(rule, "");
    if (base !== exact && base && !out.includes(base)) out.push(base);
  }
  return out;
}
