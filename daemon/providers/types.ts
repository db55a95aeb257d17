/**
 * The one interface every provider shape implements: which requests it meters, and an incremental parser
 * fed the response bytes as they pass (never buffering the client's stream) that ends with the usage.
 *
 * @module
 */
import type { ErrorClass } from "../../store/rows.ts";

/** Token counts in the one meaning shared by every provider (SPEC §3): cost = Σ column × its rate. */
export interface TokenCounts {
  /** Input billed at the full input rate: cache reads and writes taken out where the provider counts them in. */
  input_tokens: number;
  /** All output as billed, reasoning included. */
  output_tokens: number;
  /** The reasoning part of `output_tokens`, for information. */
  thinking_tokens: number;
  cache_read_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
}

/** What a parser learned from one exchange. */
export interface Usage extends TokenCounts {
  /** The model the response names (else the request's), null when neither does. */
  model: string | null;
  /** False when usage is missing or partial: a stream cut short, or OpenAI streaming without include_usage. */
  tokens_complete: boolean;
  /** The whole prompt as the provider counts it (input + cache read + cache writes): picks long-context tiers. */
  prompt_tokens: number;
  /** xAI's `usage.cost_in_usd_ticks` (10^10 ticks = 1 USD) when present: the billed cost. */
  cost_in_usd_ticks?: number;
  /** Set when the response is an error (HTTP status ≥ 400 or an error event in a stream). */
  error?: { error_class: ErrorClass; provider_error_code: string | null };
  /** `batch` / `priority` / `flex` when the response or request says which service tier billed it. */
  service_tier?: string;
  /** True for a zero-cost call such as Gemini `countTokens`. */
  free?: boolean;
  /**
   * The stream had reached its terminal event (`message_stop`, `response.completed`, `[DONE]`, Gemini's final
   * chunk) before the transfer was cut short: nothing after it bears on usage, so the call is whole. Clients
   * such as Codex hang up as soon as they read that event.
   */
  ended?: boolean;
}

/** What a parser is told about the exchange before the first body byte. */
export interface ExchangeInfo {
  host: string;
  /** Path with query string, as sent. */
  path: string;
  method: string;
  status: number;
  /** Response `content-type`, lower-cased, may be empty. */
  contentType: string;
  /** The full request body (metered requests are small JSON), already decoded. Empty when there was none. */
  requestBody: Uint8Array;
}

/** An incremental parser for one response body. Never throws: malformed input gives incomplete usage. */
export interface ResponseParser {
  /** Feeds decoded response bytes, in order, split anywhere. */
  push(chunk: Uint8Array): void;
  /** The body ended (`complete`) or was cut short; returns what was learned. */
  finish(complete: boolean): Usage;
}

/** One provider shape (Anthropic messages, OpenAI chat, Gemini generate, …). */
export interface ProviderShape {
  /** The provider recorded in the row: `anthropic`, `openai`, `google`, `xai`, or a configured host's name. */
  readonly provider: string;
  /** True when this shape meters `method path` on its host. */
  matches(method: string, path: string): boolean;
  /** A fresh parser for one exchange. */
  createParser(info: ExchangeInfo): ResponseParser;
}
