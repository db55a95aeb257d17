/**
 * The OpenAI shapes: chat completions, legacy completions and embeddings (one usage layout), the Responses
 * API (also Codex on chatgpt.com and xAI's `/v1/responses`), the Realtime API's responses, and the output
 * files of the Batch API.
 *
 * Usage facts: `prompt_tokens` / `input_tokens` include the cached tokens and the cache writes
 * (`cached_tokens` and `cache_write_tokens` of the prompt's details), which are taken out of the input column
 * into cache reads and the short cache write; `completion_tokens` / `output_tokens` include the reasoning
 * tokens. The audio parts (`audio_tokens` of either details) stay inside input and output, for the audio
 * rates of models that have them. xAI reports its reasoning tokens outside `completion_tokens` (its
 * `total_tokens` adds them on top), so a total that only adds up with reasoning counted apart means reasoning
 * is added to output. Streamed chat usage arrives only in a last chunk with `choices: []`, when the client
 * asked for `stream_options.include_usage`; without it the row is incomplete (the request is never rewritten
 * to force it). Responses streams end with `response.completed`, `response.incomplete` or `response.failed`,
 * whose `response.usage` is the usage. Web searches are not in the usage: each `web_search_call` output item
 * whose action is a `search` is billed (opening or searching a page it found is not), so they are counted
 * from the output, or from the stream's `response.output_item.done` events when its terminal response lists
 * fewer.
 *
 * @module
 */
import type { ExchangeInfo, ProviderShape } from "./types.ts";
import type { KeyedCall, Usage } from "../../core/usage.ts";
import {
  blankUsage,
  bodyFormat,
  errorCode,
  includesAscii,
  type Json,
  num,
  obj,
  type PathMatch,
  str,
} from "./_shared.ts";
import { getShape, postShape, UsageParser } from "./_parser.ts";

const CHAT_PICK = { model: true, usage: true, service_tier: true, error: true } as const;
const RESPONSES_PICK = {
  id: true,
  model: true,
  usage: true,
  service_tier: true,
  status: true,
  background: true,
  error: true,
} as const;
/** The output, kept only when the request offered the search tool: it can be large, read for searches only. */
const RESPONSES_SEARCH_PICK = { ...RESPONSES_PICK, output: true } as const;
const TERMINAL_EVENTS = new Set(["response.completed", "response.incomplete", "response.failed"]);
const ERROR_KEYS = ["code", "type"] as const;

/** `auto` is what the client asked for, not the tier that billed the call; the final event names that. */
const UNBILLED_TIER = "auto";

/**
 * Chat completions, legacy completions and embeddings, which share one usage layout, for `provider` on the
 * paths `matchPath` accepts (POST only).
 */
export function openaiChat(provider: string, matchPath: PathMatch): ProviderShape {
  return postShape(provider, matchPath, (info) => new ChatParser(info));
}

/**
 * The Realtime API's responses (`/v1/realtime` over WebSocket), each fed as the SSE stream of its events by the
 * WebSocket tap, with the session's model as the request body's `model`.
 */
export function openaiRealtime(provider: string, matchPath: PathMatch): ProviderShape {
  return postShape(provider, matchPath, (info) => new RealtimeParser(info));
}

/** The Responses API for `provider` on the paths `matchPath` accepts (POST only). */
export function openaiResponses(provider: string, matchPath: PathMatch): ProviderShape {
  return postShape(provider, matchPath, (info) => new ResponsesParser(info));
}

const RESPONSE_PATH = /^\/v1\/responses\/[^/]+$/;

/**
 * A response retrieved (`GET /v1/responses/<id>`, whole or as a resumed stream): metered only when it ran in
 * the background, the one way such a response's usage ever crosses the meter (see {@linkcode ResponsesParser}).
 */
export function openaiRetrievedResponse(provider: string): ProviderShape {
  return getShape(provider, RESPONSE_PATH, (info) => new ResponsesParser(info));
}

/** Fills the token columns from `prompt`/`completion`-style counts; see the module notes for the rules. */
function applyCounts(
  u: Usage,
  usage: Json,
  counts: {
    prompt: unknown;
    output: unknown;
    cached: unknown;
    written?: unknown;
    reasoning: unknown;
    audioIn: unknown;
    imageIn?: unknown;
    audioOut: unknown;
    imageOut?: unknown;
  },
): void {
  const prompt = num(counts.prompt) ?? 0;
  const output = num(counts.output) ?? 0;
  const cached = Math.min(num(counts.cached) ?? 0, prompt);
  const written = Math.min(num(counts.written) ?? 0, prompt - cached);
  const reasoning = num(counts.reasoning) ?? 0;
  const total = num(usage.total_tokens);
  const reasoningApart = reasoning > 0 && total === prompt + output + reasoning;
  u.input_tokens = prompt - cached - written;
  u.cache_read_tokens = cached;
  // The usage does not say which retention a write was for: filed as the short (default) one.
  u.cache_write_5m_tokens = written;
  u.prompt_tokens = prompt;
  u.output_tokens = output + (reasoningApart ? reasoning : 0);
  u.thinking_tokens = reasoning;
  u.input_audio_tokens = Math.min(num(counts.audioIn) ?? 0, u.input_tokens);
  u.input_image_tokens = Math.min(num(counts.imageIn) ?? 0, u.input_tokens - u.input_audio_tokens);
  u.output_audio_tokens = Math.min(num(counts.audioOut) ?? 0, u.output_tokens);
  u.output_image_tokens = Math.min(num(counts.imageOut) ?? 0, u.output_tokens - u.output_audio_tokens);
  const ticks = num(usage.cost_in_usd_ticks);
  if (ticks !== undefined) u.cost_in_usd_ticks = ticks;
}

/**
 * Where a usage object keeps its counts: chat completions, completions and embeddings name them after the
 * prompt and the completion; the Responses and Images APIs after the input and the output.
 */
interface UsageLayout {
  prompt: string;
  output: string;
  inDetails: string;
  outDetails: string;
}

const CHAT: UsageLayout = {
  prompt: "prompt_tokens",
  output: "completion_tokens",
  inDetails: "prompt_tokens_details",
  outDetails: "completion_tokens_details",
};

const RESPONSES: UsageLayout = {
  prompt: "input_tokens",
  output: "output_tokens",
  inDetails: "input_tokens_details",
  outDetails: "output_tokens_details",
};

/** Fills the token columns from a usage object laid out as `layout` says. */
function countUsage(u: Usage, usage: Json, layout: UsageLayout): void {
  const input = obj(usage[layout.inDetails]);
  const output = obj(usage[layout.outDetails]);
  applyCounts(u, usage, {
    prompt: usage[layout.prompt],
    output: usage[layout.output],
    // DeepSeek-style hosts name their cache hits apart.
    cached: input?.cached_tokens ?? usage.prompt_cache_hit_tokens,
    written: input?.cache_write_tokens,
    reasoning: output?.reasoning_tokens,
    audioIn: input?.audio_tokens,
    imageIn: input?.image_tokens,
    audioOut: output?.audio_tokens,
    imageOut: output?.image_tokens,
  });
}

/** Takes the model and the billed service tier a response object names. */
function describe(u: Usage, r: Json): void {
  const model = str(r.model);
  if (model) u.model = model;
  const tier = str(r.service_tier);
  if (tier && tier !== UNBILLED_TIER) u.service_tier = tier;
}

class ChatParser extends UsageParser {
  #sawUsage = false;

  constructor(info: ExchangeInfo) {
    super(info, bodyFormat(info), CHAT_PICK);
  }

  protected usageComplete(): boolean {
    return this.#sawUsage && this.intact;
  }

  protected value(v: Json): void {
    describe(this.usage, v);
    const usage = obj(v.usage);
    if (usage) {
      this.#sawUsage = true;
      countUsage(this.usage, usage, CHAT);
    }
    const error = obj(v.error);
    if (error) this.failed(errorCode(error, ERROR_KEYS));
  }
}

/** Whether an output item is a billed web search: a `web_search_call` doing a `search` (or naming none). */
function isSearch(item: unknown): boolean {
  const o = obj(item);
  if (str(o?.type) !== "web_search_call") return false;
  const action = str(obj(o!.action)?.type);
  return action === undefined || action === "search";
}

/**
 * A response of the Responses API. One run in the background (`background: true`) answers its request at once,
 * queued and without usage; its usage comes later, to whoever retrieves it, as often as they like. So such a
 * response is keyed by its id, and only a body that carries its final usage gives it its row: the request's
 * own stream when it was streamed, else the first retrieval that finds it ended. A retrieved response that did
 * not run in the background already had its row from its request, and gives none.
 */
class ResponsesParser extends UsageParser {
  #sawUsage = false;
  /** Searches seen in `response.output_item.done` events. */
  #searches = 0;
  #id: string | undefined;
  /** The response says it runs in the background (every response object says whether it does). */
  #background = false;

  constructor(info: ExchangeInfo) {
    const format = bodyFormat(info);
    const search = format === "json" && includesAscii(info.requestBody, "web_search");
    super(info, format, search ? RESPONSES_SEARCH_PICK : RESPONSES_PICK);
  }

  override finish(complete: boolean): Usage {
    const u = super.finish(complete);
    const retrieved = this.info.method === "GET";
    // A request refused outright keeps its own row, as any other refused call.
    if (!retrieved && (!this.#background || this.info.status >= 400)) return u;
    const ended = this.#background && this.#sawUsage && this.#id !== undefined && !this.reader.malformed;
    u.items = ended ? [{ key: `response-${this.#id}`, usage: { ...u } }] : [];
    return u;
  }

  /** A failed response that still reports usage was billed that usage: the row is complete. */
  protected usageComplete(): boolean {
    return this.#sawUsage && !this.reader.malformed;
  }

  protected value(v: Json): void {
    const type = str(v.type);
    if (type === undefined) {
      // A whole response object (non-streamed), or an error body.
      if (obj(v.error) && this.info.status >= 400) this.failed(errorCode(obj(v.error), ERROR_KEYS));
      else this.#response(v, str(v.status) === "failed");
      return;
    }
    if (type === "error") {
      this.failed(str(v.code) ?? errorCode(obj(v.error), ERROR_KEYS));
      return;
    }
    if (type === "response.output_item.done") {
      if (isSearch(v.item)) {
        this.usage.web_search_requests = Math.max(this.usage.web_search_requests, ++this.#searches);
      }
      return;
    }
    const response = obj(v.response);
    if (!response) return;
    this.#identify(response);
    if (TERMINAL_EVENTS.has(type)) {
      this.#response(response, type === "response.failed");
      this.streamEnded();
    } else describe(this.usage, response);
  }

  #identify(r: Json): void {
    this.#id = str(r.id) ?? this.#id;
    if (r.background === true) this.#background = true;
  }

  #response(r: Json, failed: boolean): void {
    this.#identify(r);
    describe(this.usage, r);
    if (Array.isArray(r.output)) {
      const listed = r.output.filter(isSearch).length;
      this.usage.web_search_requests = Math.max(this.#searches, listed);
    }
    const usage = obj(r.usage);
    if (usage) {
      this.#sawUsage = true;
      countUsage(this.usage, usage, RESPONSES);
    }
    if (failed) this.failed(errorCode(obj(r.error), ERROR_KEYS));
  }
}

/**
 * A Realtime response: `response.done` carries its usage, input counting cached tokens and audio in, with the
 * cached audio apart; a cancelled or failed response that reports usage was billed it.
 */
class RealtimeParser extends UsageParser {
  #sawUsage = false;

  constructor(info: ExchangeInfo) {
    super(info, "sse", {});
  }

  protected usageComplete(): boolean {
    return this.#sawUsage && !this.reader.malformed;
  }

  protected value(v: Json): void {
    const type = str(v.type);
    if (type === "error") {
      this.failed(errorCode(obj(v.error), ERROR_KEYS));
      return;
    }
    if (type !== "response.done") return;
    const r = obj(v.response);
    const usage = obj(r?.usage);
    if (usage) {
      this.#sawUsage = true;
      const inDetails = obj(usage.input_token_details);
      const cached = obj(inDetails?.cached_tokens_details);
      applyCounts(this.usage, usage, {
        prompt: usage.input_tokens,
        output: usage.output_tokens,
        cached: inDetails?.cached_tokens,
        reasoning: undefined,
        audioIn: Math.max((num(inDetails?.audio_tokens) ?? 0) - (num(cached?.audio_tokens) ?? 0), 0),
        imageIn: Math.max((num(inDetails?.image_tokens) ?? 0) - (num(cached?.image_tokens) ?? 0), 0),
        audioOut: obj(usage.output_token_details)?.audio_tokens,
      });
    }
    if (str(r?.status) === "failed") {
      this.failed(errorCode(obj(obj(r?.status_details)?.error), ERROR_KEYS));
    }
    this.streamEnded();
  }
}

/**
 * The Images API (`/v1/images/generations`, `/v1/images/edits`; JSON, or SSE when streamed): the GPT Image
 * models bill tokens, pictures sent as image input and pictures drawn as image output. The answer names no
 * model: it is the request's, read from its JSON or, for an edit, from its multipart form. A model that bills
 * per picture (DALL·E) reports no usage, and its row has no cost.
 */
export function openaiImages(provider: string, matchPath: PathMatch): ProviderShape {
  return postShape(provider, matchPath, (info) => new ImagesParser(info));
}

const IMAGES_PICK = { usage: true, error: true } as const;
const IMAGES_DONE = new Set(["image_generation.completed", "image_edit.completed"]);
/** The `model` field of a multipart form, in its first bytes' Latin-1 reading. */
const FORM_MODEL = /name="model"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]+)\r\n/;

class ImagesParser extends UsageParser {
  #sawUsage = false;

  constructor(info: ExchangeInfo) {
    super(info, bodyFormat(info), IMAGES_PICK);
  }

  override finish(complete: boolean): Usage {
    const u = super.finish(complete);
    u.model ??= formModel(this.info.requestBody);
    return u;
  }

  protected usageComplete(): boolean {
    return this.#sawUsage && this.intact;
  }

  protected value(v: Json): void {
    const type = str(v.type);
    if (type === "error") {
      this.failed(str(v.code) ?? errorCode(obj(v.error), ERROR_KEYS));
      return;
    }
    if (type !== undefined && !IMAGES_DONE.has(type)) return;
    const usage = obj(v.usage);
    if (usage) {
      this.#sawUsage = true;
      countUsage(this.usage, usage, RESPONSES);
      // Without a split the whole output is the picture.
      if (!obj(usage.output_tokens_details)) this.usage.output_image_tokens = this.usage.output_tokens;
    }
    const error = obj(v.error);
    if (error) this.failed(errorCode(error, ERROR_KEYS));
    if (type !== undefined) this.streamEnded();
  }
}

/** The `model` of a multipart form request, when it comes in the bytes kept of the body. */
function formModel(body: Uint8Array): string | null {
  if (!includesAscii(body, 'name="model"')) return null;
  const head = new TextDecoder("latin1").decode(body);
  return FORM_MODEL.exec(head)?.[1]?.trim() || null;
}

const FILE_CONTENT_PATH = /^\/v1\/files\/[^/]+\/content$/;
/** How a Batch API output file starts: its first line is the result of a request, `{"id": "batch_req_…`. */
const BATCH_HEAD = /^\s*\{\s*"id"\s*:\s*"batch_req_/;
/** Bytes enough to tell a batch output file from any other file. */
const HEAD_BYTES = 32;

/**
 * A Batch API output file (`GET /v1/files/<id>/content`, JSON Lines): every request the batch answered with a
 * success is a call of its own at the batch tier, keyed by its `batch_req_` id. Any other file (a batch's
 * input, fine-tuning data, a PDF) is told apart by its first bytes and then not read at all.
 */
export function openaiBatchOutput(provider: string): ProviderShape {
  return getShape(provider, FILE_CONTENT_PATH, (info) => new BatchOutputParser(info));
}

class BatchOutputParser extends UsageParser {
  readonly #items: KeyedCall[] = [];
  /** Whether the file is a batch's output; undefined until its first bytes are in. */
  #batch: boolean | undefined;
  #head: Uint8Array[] = [];
  #headBytes = 0;

  constructor(info: ExchangeInfo) {
    super(info, "jsonl", {});
    this.usage.items = this.#items;
  }

  override push(chunk: Uint8Array): void {
    if (this.#batch === undefined) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
      if (this.#headBytes >= HEAD_BYTES) this.#decide();
      return;
    }
    if (this.#batch) super.push(chunk);
  }

  override finish(complete: boolean): Usage {
    if (this.#batch === undefined) this.#decide();
    return super.finish(complete);
  }

  #decide(): void {
    const head = this.#head;
    this.#head = [];
    const start = new Uint8Array(Math.min(HEAD_BYTES, this.#headBytes));
    let at = 0;
    for (const c of head) {
      const n = Math.min(c.length, start.length - at);
      start.set(c.subarray(0, n), at);
      at += n;
    }
    this.#batch = BATCH_HEAD.test(String.fromCharCode(...start));
    if (this.#batch) { for (const c of head) super.push(c); }
  }

  protected usageComplete(): boolean {
    return this.intact;
  }

  protected value(v: Json): void {
    const id = str(v.id);
    const response = obj(v.response);
    const body = obj(response?.body);
    const usage = obj(body?.usage);
    if (!id || !usage || (num(response!.status_code) ?? 0) >= 400) return;
    const u = blankUsage(str(body!.model) ?? null);
    // The body is what the batch's endpoint answers: a Responses object counts `input_tokens`.
    countUsage(u, usage, usage.input_tokens !== undefined ? RESPONSES : CHAT);
    u.service_tier = "batch";
    u.tokens_complete = true;
    this.#items.push({ key: `batch-${id}`, usage: u });
  }
}
