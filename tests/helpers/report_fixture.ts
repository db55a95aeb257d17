/**
 * A small, hand-made set of calls around a fixed "now", for the report's tests. The expected sums live in
 * the tests themselves, worked out by hand from this list, never by the queries under test.
 *
 * @module
 */
import type { UsageRow } from "../../store/rows.ts";
import { openStore } from "../../store/open.ts";
import { RowWriter } from "../../store/writer.ts";
import { makeRow } from "./rows.ts";

/** The clock of the report tests: the default 7-day window is [2026-11-18T12:00Z, 2026-11-25T12:00Z). */
export const NOW = new Date("2026-11-25T12:00:00.000Z");

/**
 * The calls, by letter. In the last 7 days: A B E (alpha), C D F (beta). In the 7 days before: G J (alpha),
 * H (gamma). I sits exactly on "now" and so is in neither window.
 */
export const FIXTURE: Record<string, Partial<UsageRow>> = {
  A: {
    project: "alpha",
    provider: "openai",
    model: "gpt-5",
    requested_at: "2026-11-24T13:00:00.000Z",
    input_tokens: 1000,
    output_tokens: 500,
    thinking_tokens: 200,
    cache_read_tokens: 300,
    cost_usd_minor_units: 1_234_567,
  },
  B: {
    project: "alpha",
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    requested_at: "2026-11-20T09:00:00.000Z",
    input_tokens: 2000,
    output_tokens: 100,
    cache_read_tokens: 5000,
    cache_write_5m_tokens: 1000,
    cache_write_1h_tokens: 500,
    cost_usd_minor_units: 250_000,
  },
  C: {
    project: "beta",
    provider: "openai",
    model: "gpt-5",
    requested_at: "2026-11-19T00:00:00.000Z",
    input_tokens: 10,
    output_tokens: 5,
    cost_usd_minor_units: 700,
  },
  D: {
    project: "beta",
    provider: "openai",
    model: "mystery-model",
    requested_at: "2026-11-22T00:00:00.000Z",
    input_tokens: 400,
    output_tokens: 40,
    cost_usd_minor_units: null,
    rates_source: null,
  },
  E: {
    project: "alpha",
    provider: "openai",
    model: "gpt-5",
    requested_at: "2026-11-23T00:00:00.000Z",
    input_tokens: 100,
    output_tokens: 50,
    tokens_complete: false,
    streamed: true,
    cost_usd_minor_units: 1000,
    // Codex signed in with ChatGPT: its API-equivalent cost is not billed spend.
    billing: "subscription",
  },
  F: {
    project: "beta",
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    requested_at: "2026-11-21T00:00:00.000Z",
    status: "error",
    http_status: 429,
    error_class: "rate_limit",
    cost_usd_minor_units: 0,
  },
  G: {
    project: "alpha",
    provider: "openai",
    model: "gpt-5",
    requested_at: "2026-11-15T00:00:00.000Z",
    input_tokens: 500,
    cost_usd_minor_units: 617_283,
  },
  H: {
    project: "gamma",
    provider: "google",
    model: "gemini-2.5-pro",
    requested_at: "2026-11-12T00:00:00.000Z",
    input_tokens: 20,
    cost_usd_minor_units: 5000,
  },
  I: {
    project: "alpha",
    provider: "openai",
    model: "gpt-5",
    requested_at: "2026-11-25T12:00:00.000Z",
    input_tokens: 1,
    cost_usd_minor_units: 99_999_999,
  },
  J: {
    project: "alpha",
    provider: "openai",
    model: "gpt-5",
    requested_at: "2026-11-18T11:59:59.999Z",
    input_tokens: 1,
    cost_usd_minor_units: 1,
  },
};

/** Writes {@linkcode FIXTURE} (or `rows`) to the database at `file`, the way the daemon's writer does. */
export function writeFixture(file: string, rows: Partial<UsageRow>[] = Object.values(FIXTURE)): void {
  const db = openStore(file);
  const writer = new RowWriter(db);
  try {
    for (const r of rows) writer.enqueue(makeRow(r));
  } finally {
    writer.close();
    db.close();
  }
}
