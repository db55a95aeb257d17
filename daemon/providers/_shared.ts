/**
 * What every provider shape shares: reading a body in its wire form (one JSON object, SSE, a streamed JSON
 * array, JSON Lines) into parsed values, the usage record being filled in, error classification, path matching.
 *
 * @module
 */
import type { ErrorClass } from "../../core/usage.ts";
import type { ExchangeInfo } from "./types.ts";
import type { Usage } from "../../core/usage.ts";
import { SseSplitter } from "./sse.ts";
import { JsonArraySplitter } from "./json_array.ts";
import { JsonLinesSplitter } from "./json_lines.ts";
import { JsonPicker, type Pick } from "./json_pick.ts";

/** A JSON object as parsed, read defensively. */
export type Json = Record<string, unknown>;

/** The value as a JSON object, or undefined. */
export function obj(v: unknown): Json | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v as Json : undefined;
}

/**
 * The value as a count (tokens, ticks): a non-negative whole number, or undefined (null, strings and junk
 * count as absent). A fraction, which no provider bills but a gateway may send, is rounded: priced as given,
 * it could not be costed exactly, and the call's row was lost.
 */
export function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
}

/** The value as a non-empty string, or undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length ? v : undefined;
}

/** How a response body is laid out on the wire. */
export type BodyFormat = "json" | "sse" | "json-array" | "jsonl";

/** Receives each parsed value of a body; `event` is the SSE event name (`message` when none, "" for JSON). */
export type ValueHandler = (value: Json, event: string) => void;

/**
 * Reads a body in any {@linkcode BodyFormat} and hands each JSON object in it to a handler, parsing each
 * once. For a plain JSON body only the members named by `pick` are kept (see {@linkcode JsonPicker}).
 */
export class BodyReader {
  readonly #onValue: ValueHandler;
  readonly #sse?: SseSplitter;
  readonly #array?: JsonArraySplitter;
  readonly #lines?: JsonLinesSplitter;
  readonly #picker?: JsonPicker;
  #malformed = false;
  #sawDone = false;
  readonly #onDone?: () => void;

  /** `onDone` is told when an SSE stream sends `data: [DONE]`. */
  constructor(format: BodyFormat, pick: Pick, onValue: ValueHandler, onDone?: () => void) {
    this.#onValue = onValue;
    this.#onDone = onDone;
    if (format === "sse") this.#sse = new SseSplitter((e) => this.#text(e.data, e.event));
    else if (format === "json-array") this.#array = new JsonArraySplitter((t) => this.#text(t, ""));
    else if (format === "jsonl") this.#lines = new JsonLinesSplitter((t) => this.#text(t, ""));
    else this.#picker = new JsonPicker(pick);
  }

  /** Something in the body could not be read (bad JSON, an oversized event, a body cut mid-value). */
  get malformed(): boolean {
    return this.#malformed;
  }

  /** An SSE stream sent OpenAI's `data: [DONE]` terminator. */
  get sawDone(): boolean {
    return this.#sawDone;
  }

  /** Feeds decoded body bytes. */
  push(chunk: Uint8Array): void {
    if (this.#sse) this.#sse.push(chunk);
    else if (this.#array) this.#array.push(chunk);
    else if (this.#lines) this.#lines.push(chunk);
    else this.#picker!.push(chunk);
  }

  /** The body ended: hands over what was still pending. */
  end(): void {
    if (this.#sse) {
      this.#sse.end();
      if (this.#sse.dropped) this.#malformed = true;
    } else if (this.#array) {
      if (!this.#array.end() || this.#array.dropped) this.#malformed = true;
    } else if (this.#lines) {
      this.#lines.end();
      if (this.#lines.dropped) this.#malformed = true;
    } else {
      const picked = this.#picker!.end();
      if (!this.#picker!.complete) this.#malformed = true;
      if (picked) this.#onValue(picked, "");
    }
  }

  #text(text: string, event: string): void {
    if (text === "[DONE]") {
      this.#sawDone = true;
      this.#onDone?.();
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.#malformed = true;
      return;
    }
    const o = obj(value);
    if (o) this.#onValue(o, event);
    else this.#malformed = true;
  }
}

/**
 * The wire format of a response: SSE when the content type says so (or, lacking one, when the request asked
 * for a stream), else `fallback`.
 */
export function bodyFormat(info: ExchangeInfo, fallback: BodyFormat = "json"): BodyFormat {
  if (info.contentType.includes("text/event-stream")) return "sse";
  if (!info.contentType && requestJson(info)?.stream === true) return "sse";
  return fallback;
}

// Decoding a whole body at once keeps no state between calls, so one decoder serves them all.
const UTF8 = new TextDecoder();

/**
 * The request body as a JSON object, or undefined. Parsed on demand: parsers only need it for a fallback
 * model or a missing content type, and request bodies can be large (inline images).
 */
export function requestJson(info: ExchangeInfo): Json | undefined {
  if (info.requestBody.length === 0) return undefined;
  try {
    return obj(JSON.parse(UTF8.decode(info.requestBody)));
  } catch {
    return undefined;
  }
}

/** Whether `bytes` hold the ASCII text `needle`: a look into a request body without decoding or parsing. */
export function includesAscii(bytes: Uint8Array, needle: string): boolean {
  const first = needle.charCodeAt(0);
  const last = bytes.length - needle.length;
  for (let i = bytes.indexOf(first); i !== -1 && i <= last; i = bytes.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && bytes[i + j] === needle.charCodeAt(j)) j++;
    if (j === needle.length) return true;
  }
  return false;
}

/** The path without its query string. */
export function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}

/** A usage record with nothing counted yet. */
export function blankUsage(model: string | null): Usage {
  return {
    model,
    tokens_complete: false,
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
    prompt_tokens: 0,
  };
}

/**
 * The class of a failed call. The HTTP status decides when there is one (≥ 400); an error reported inside a
 * successful stream is classed by the provider's code.
 */
export function classifyError(status: number, code: string | null): ErrorClass {
  const c = (code ?? "").toLowerCase();
  if (status >= 400) {
    if (status === 429) return "rate_limit";
    if (status === 408 || status === 504) return "timeout";
    if (status >= 500 || c.includes("overloaded")) return "server_error";
    if (status === 400 || status === 404 || status === 413 || status === 422) return "bad_request";
    if (status === 401 || status === 403) return "auth";
    return "unknown";
  }
  if (/rate_limit|quota|resource_exhausted|too_many/.test(c)) return "rate_limit";
  if (/timeout|deadline/.test(c)) return "timeout";
  if (/overloaded|server|internal|unavailable|api_error/.test(c)) return "server_error";
  if (/auth|permission|api_key/.test(c)) return "auth";
  if (/invalid|not_found|too_large|bad_request|precondition|context_length/.test(c)) return "bad_request";
  return "unknown";
}

/** The provider's error code from an error object, trying `keys` in order; numbers become strings. */
export function errorCode(error: Json | undefined, keys: readonly string[]): string | null {
  if (!error) return null;
  for (const k of keys) {
    const v = error[k];
    if (typeof v === "string" && v) return v;
    if (typeof v === "number") return String(v);
  }
  return null;
}

/** Sets `usage.error` for an HTTP error status (≥ 400) with whatever code the body gave. */
export function applyHttpError(usage: Usage, status: number, code: string | null): void {
  if (status >= 400) usage.error = { error_class: classifyError(status, code), provider_error_code: code };
}

/** Matches a request path (query string ignored) of a metered call. */
export type PathMatch = (path: string) => boolean;

/** Matches exactly one of `paths`. */
export function exactPath(...paths: string[]): PathMatch {
  return (path) => paths.includes(pathOnly(path));
}

/** Matches any path ending in one of `suffixes` (for configured hosts, whose prefixes vary: `/openai/v1/…`). */
export function pathSuffix(...suffixes: string[]): PathMatch {
  return (path) => {
    const p = pathOnly(path);
    return suffixes.some((s) => p.endsWith(s));
  };
}
