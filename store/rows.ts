/**
 * The row the daemon writes for each metered call. Field names are the `requests` columns, so a row goes to
 * SQLite without a mapping layer; `project` is the slug (the writer resolves it to `project_id`).
 *
 * @module
 */

import type { ErrorClass, TokenCounts } from "../core/usage.ts";

/** One metered call, ready to store. */
export interface UsageRow extends TokenCounts {
  id: string;
  /** ISO-8601 UTC with milliseconds. */
  requested_at: string;
  project: string;
  provider: string;
  model: string | null;
  mode: "standard" | "thinking";
  /** Integer millicents; null when the model has no rate. */
  cost_usd_minor_units: number | null;
  rates_source: string | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  tokens_complete: boolean;
  status: "success" | "error";
  billing: "api" | "subscription";
  attribution_layer: string | null;
  client_process: string | null;
  host: string | null;
  path: string | null;
  http_status: number | null;
  error_class: ErrorClass | null;
  provider_error_code: string | null;
  request_bytes: number | null;
  response_bytes: number | null;
  streamed: boolean;
}

/** The columns of `requests` a {@linkcode UsageRow} fills, in insert order (`project_id` comes first). */
export const ROW_COLUMNS = [
  "id",
  "requested_at",
  "provider",
  "model",
  "mode",
  "input_tokens",
  "output_tokens",
  "thinking_tokens",
  "cache_read_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
  "input_audio_tokens",
  "input_image_tokens",
  "output_audio_tokens",
  "output_image_tokens",
  "web_search_requests",
  "cost_usd_minor_units",
  "rates_source",
  "latency_ms",
  "ttft_ms",
  "tokens_complete",
  "status",
  "billing",
  "attribution_layer",
  "client_process",
  "host",
  "path",
  "http_status",
  "error_class",
  "provider_error_code",
  "request_bytes",
  "response_bytes",
  "streamed",
] as const satisfies readonly (keyof UsageRow)[];
