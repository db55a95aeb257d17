/**
 * {@linkcode UsageRow}s for tests: every column filled with a plain successful call, overridden per test.
 *
 * @module
 */
import type { UsageRow } from "../../store/rows.ts";

let next = 0;

/** A successful, fully counted call with no tokens and no cost, changed by `fields`; each gets a fresh id. */
export function makeRow(fields: Partial<UsageRow> = {}): UsageRow {
  next++;
  return {
    id: `test-${next.toString().padStart(8, "0")}`,
    requested_at: "2026-11-20T12:00:00.000Z",
    project: "alpha",
    provider: "openai",
    model: "gpt-5",
    mode: "standard",
    input_tokens: 0,
    output_tokens: 0,
    thinking_tokens: 0,
    cache_read_tokens: 0,
    cache_write_5m_tokens: 0,
    cache_write_1h_tokens: 0,
    input_audio_tokens: 0,
    input_image_tokens: 0,
    output_audio_tokens: 0,
    output_image_tokens: 0,
    web_search_requests: 0,
    cost_usd_minor_units: 0,
    rates_source: "test",
    latency_ms: 100,
    ttft_ms: null,
    tokens_complete: true,
    status: "success",
    billing: "api",
    attribution_layer: "explicit",
    client_process: null,
    host: "api.openai.com",
    path: "/v1/chat/completions",
    http_status: 200,
    error_class: null,
    provider_error_code: null,
    request_bytes: null,
    response_bytes: null,
    streamed: false,
    ...fields,
  };
}
