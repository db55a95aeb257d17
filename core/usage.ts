/**
 * What one metered call used, in the meaning every layer shares: the token columns (cost = Σ column × its
 * rate), what a provider's parser learns from a response, and how a failed call is classed. The providers
 * produce these, pricing prices them and the store keeps them; none of those owns them.
 *
 * @module
 */

/**
 * The priced token classes, named as the columns of `pricing_rates`. The last four price the audio and image
 * parts of input and output; a model without one bills that part at its plain input or output rate.
 */
export const RATE_FIELDS = [
  "input",
  "output",
  "cache_read",
  "cache_write_5m",
  "cache_write_1h",
  "input_audio",
  "input_image",
  "output_audio",
  "output_image",
] as const;

/** One priced token class. */
export type RateField = typeof RATE_FIELDS[number];

/** How a failed call failed. */
export type ErrorClass =
  | "rate_limit"
  | "server_error"
  | "bad_request"
  | "auth"
  | "timeout"
  | "network"
  | "unknown";

/**
 * Token counts in the one meaning shared by every provider (README.md, "What is metered"), and the searches
 * billed per call: cost = Σ column × its rate + searches × the provider's search fee, where the audio and
 * image parts of input and output are taken out of them at their own rates.
 */
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
  /** The audio part of `input_tokens`, billed at the model's audio input rate where it has one. */
  input_audio_tokens: number;
  /** The image part of `input_tokens` (pictures sent), billed at the model's image input rate where it has one. */
  input_image_tokens: number;
  /** The audio part of `output_tokens`, billed at the model's audio output rate where it has one. */
  output_audio_tokens: number;
  /** The image part of `output_tokens` (generated images), billed at the model's image rate where it has one. */
  output_image_tokens: number;
  /**
   * Web searches the provider ran and bills per search, apart from tokens: Anthropic's `web_search` server
   * tool, the `search` actions of OpenAI's Responses `web_search` tool.
   */
  web_search_requests: number;
}

/** The token counts of `from` alone (a usage, a stored row), for a value that must carry no other field. */
export function tokenCounts(from: TokenCounts): TokenCounts {
  return {
    input_tokens: from.input_tokens,
    output_tokens: from.output_tokens,
    thinking_tokens: from.thinking_tokens,
    cache_read_tokens: from.cache_read_tokens,
    cache_write_5m_tokens: from.cache_write_5m_tokens,
    cache_write_1h_tokens: from.cache_write_1h_tokens,
    input_audio_tokens: from.input_audio_tokens,
    input_image_tokens: from.input_image_tokens,
    output_audio_tokens: from.output_audio_tokens,
    output_image_tokens: from.output_image_tokens,
    web_search_requests: from.web_search_requests,
  };
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
  /**
   * Set when the body told the usage of calls billed elsewhere in time (a batch's results, a response run in
   * the background): each item is a call of its own, and the exchange itself is none. Empty when the body told
   * none (not batch results; a background response still under way).
   */
  items?: KeyedCall[];
}

/** One call whose usage a later download tells: a request of a batch, or a response run in the background. */
export interface KeyedCall {
  /**
   * Names the call for good within its provider (`batch-<batch>/<custom_id>`, `batch-<batch_req id>`,
   * `response-<resp id>`): reading its usage a second time adds nothing.
   */
  key: string;
  usage: Usage;
}
