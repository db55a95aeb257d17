/**
 * Shared by the provider parser tests: fixtures, exchange descriptions, and feeding a body whole, byte by
 * byte, and split at every boundary.
 *
 * @module
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { ExchangeInfo, ProviderShape } from "../../../daemon/providers/types.ts";
import type { Usage } from "../../../core/usage.ts";
import { blankUsage } from "../../../daemon/providers/_shared.ts";

const FIXTURES = new URL("../../fixtures/providers/", import.meta.url);

/** The bytes of `tests/fixtures/providers/<name>`. */
export function fixture(name: string): Uint8Array {
  return Deno.readFileSync(new URL(name, FIXTURES));
}

/** The text of a fixture. */
export function fixtureText(name: string): string {
  return new TextDecoder().decode(fixture(name));
}

/** An exchange description; `request` is JSON-encoded into the request body. */
export function exchange(
  fields: Partial<Omit<ExchangeInfo, "requestBody">> & { request?: unknown },
): ExchangeInfo {
  const { request, ...rest } = fields;
  return {
    host: "api.example.com",
    path: "/",
    method: "POST",
    status: 200,
    contentType: "application/json",
    requestBody: request === undefined
      ? new Uint8Array(0)
      : new TextEncoder().encode(JSON.stringify(request)),
    ...rest,
  };
}

/** Parses `body` fed in the given pieces. */
export function parse(
  shape: ProviderShape,
  info: ExchangeInfo,
  pieces: Uint8Array[],
  complete = true,
): Usage {
  const parser = shape.createParser(info);
  for (const p of pieces) parser.push(p);
  return parser.finish(complete);
}

/** The cut points tried: every one for short bodies; for long ones the first and last 400 and a stride. */
export function cutPoints(length: number): number[] {
  if (length <= 2500) return Array.from({ length: length + 1 }, (_, i) => i);
  const out = new Set<number>();
  for (let i = 0; i <= 400; i++) {
    out.add(i);
    out.add(length - i);
  }
  for (let i = 400; i < length - 400; i += 7) out.add(i);
  return [...out].sort((a, b) => a - b);
}

/**
 * Asserts that `body` gives `expected` when fed whole, one byte at a time, and in two pieces cut at each of
 * {@linkcode cutPoints}, plus three pieces at a stride.
 */
export function assertEverySplit(
  shape: ProviderShape,
  info: ExchangeInfo,
  body: Uint8Array,
  expected: Usage,
  complete = true,
): void {
  assertEquals(parse(shape, info, [body], complete), expected, "fed whole");
  const bytes = Array.from(body, (_, i) => body.subarray(i, i + 1));
  assertEquals(parse(shape, info, bytes, complete), expected, "fed byte by byte");
  for (const cut of cutPoints(body.length)) {
    const usage = parse(shape, info, [body.subarray(0, cut), body.subarray(cut)], complete);
    assertEquals(usage, expected, `cut at byte ${cut}`);
  }
  const third = Math.max(1, Math.floor(body.length / 3));
  for (let a = 1; a < third; a += 11) {
    const b = a + third;
    const usage = parse(shape, info, [body.subarray(0, a), body.subarray(a, b), body.subarray(b)], complete);
    assertEquals(usage, expected, `cut at bytes ${a} and ${b}`);
  }
}

/** A usage with every count zero: expected values spread it and set what the transcript says. */
export const ZERO: Omit<Usage, "model" | "tokens_complete"> =
  (({ model: _m, tokens_complete: _c, ...counts }) => counts)(blankUsage(null));

/** What `anthropic_stream.sse` says, read whole. */
export const ANTHROPIC_STREAM: Usage = {
  ...ZERO,
  model: "claude-opus-4-1-20250805",
  tokens_complete: true,
  input_tokens: 472,
  output_tokens: 118,
  cache_read_tokens: 12000,
  cache_write_1h_tokens: 2048,
  prompt_tokens: 14520,
  service_tier: "standard",
};
