/**
 * The one interface every provider shape implements: which requests it meters, and an incremental parser
 * fed the response bytes as they pass (never buffering the client's stream) that ends with the usage.
 *
 * @module
 */
import type { Usage } from "../../core/usage.ts";

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
