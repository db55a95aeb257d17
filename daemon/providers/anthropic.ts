/**
 * The Anthropic Messages shape (`POST /v1/messages`, JSON and SSE), spoken by api.anthropic.com and by xAI,
 * and the results of Anthropic's Message Batches, whose every line holds a message with the same usage.
 *
 * Usage facts: `input_tokens` already excludes cache reads and writes; cache writes are split by lifetime in
 * `cache_creation` (an older response with only `cache_creation_input_tokens` wrote 5-minute entries); in a
 * stream `message_start` carries the input and cache counts and every `message_delta.usage` is cumulative,
 * so the latest value of each field wins and nothing is summed. Anthropic reports no separate thinking count.
 * Searches of the `web_search` server tool are counted in `server_tool_use.web_search_requests` (fetches of
 * `web_fetch` cost only their tokens).
 *
 * @module
 */
import type { ExchangeInfo, ProviderShape } from "./types.ts";
import type { KeyedCall, Usage } from "../../core/usage.ts";
import {
  blankUsage,
  bodyFormat,
  errorCode,
  type Json,
  num,
  obj,
  type PathMatch,
  pathOnly,
  str,
} from "./_shared.ts";
import { getShape, postShape, UsageParser } from "./_parser.ts";

const PICK = { type: true, model: true, usage: true, error: true } as const;

/** The Messages shape for `provider` on the paths `matchPath` accepts (POST only). */
export function anthropicMessages(provider: string, matchPath: PathMatch): ProviderShape {
  return postShape(provider, matchPath, (info) => new MessagesParser(info));
}

class MessagesParser extends UsageParser {
  #final = false;
  #splitKnown = false;

  constructor(info: ExchangeInfo) {
    super(info, bodyFormat(info), PICK);
  }

  protected usageComplete(): boolean {
    return this.#final && this.intact;
  }

  protected value(v: Json): void {
    switch (str(v.type) ?? "") {
      case "message":
        this.#model(v.model);
        if (this.#apply(v.usage)) this.#final = true;
        break;
      case "message_start": {
        const message = obj(v.message);
        this.#model(message?.model);
        this.#apply(message?.usage);
        break;
      }
      case "message_delta":
        if (this.#apply(v.usage)) this.#final = true;
        break;
      case "message_stop":
        this.streamEnded();
        break;
      case "error":
        this.failed(errorCode(obj(v.error), ["type"]));
        break;
    }
  }

  #model(m: unknown): void {
    const model = str(m);
    if (model) this.usage.model = model;
  }

  /** Takes a usage object's counts; returns whether there was one. */
  #apply(raw: unknown): boolean {
    const known = applyUsage(this.usage, raw, this.#splitKnown);
    if (known === undefined) return false;
    this.#splitKnown = known;
    return true;
  }
}

/**
 * Takes the latest value of each count a usage object gives into `u`; `splitKnown` says an earlier event split
 * the cache writes by lifetime. Returns whether the split is known now, or undefined when there was no usage.
 */
function applyUsage(u: Usage, raw: unknown, splitKnown: boolean): boolean | undefined {
  const usage = obj(raw);
  if (!usage) return undefined;
  u.input_tokens = num(usage.input_tokens) ?? u.input_tokens;
  u.output_tokens = num(usage.output_tokens) ?? u.output_tokens;
  u.cache_read_tokens = num(usage.cache_read_input_tokens) ?? u.cache_read_tokens;
  u.web_search_requests = num(obj(usage.server_tool_use)?.web_search_requests) ?? u.web_search_requests;
  const split = obj(usage.cache_creation);
  const w5m = num(split?.ephemeral_5m_input_tokens);
  const w1h = num(split?.ephemeral_1h_input_tokens);
  if (w5m !== undefined || w1h !== undefined) {
    u.cache_write_5m_tokens = w5m ?? 0;
    u.cache_write_1h_tokens = w1h ?? 0;
    splitKnown = true;
  } else {
    // A total without the split is 5-minute writes, unless an earlier event split it: a later
    // `message_delta` repeating the total keeps the known 1-hour part.
    const writes = num(usage.cache_creation_input_tokens);
    if (writes !== undefined) {
      const hour = splitKnown ? Math.min(u.cache_write_1h_tokens, writes) : 0;
      u.cache_write_5m_tokens = writes - hour;
      u.cache_write_1h_tokens = hour;
    }
  }
  u.prompt_tokens = u.input_tokens + u.cache_read_tokens + u.cache_write_5m_tokens + u.cache_write_1h_tokens;
  const tier = str(usage.service_tier);
  if (tier) u.service_tier = tier;
  return splitKnown;
}

const RESULTS_PATH = /^\/v1\/messages\/batches\/([^/]+)\/results$/;

/**
 * A Message Batch's results (`GET /v1/messages/batches/<id>/results`, JSON Lines): every succeeded request is
 * a call of its own at the batch tier, keyed by the batch and its `custom_id`. Errored, canceled and expired
 * requests are not billed and give nothing.
 */
export function anthropicBatchResults(provider: string): ProviderShape {
  return getShape(provider, RESULTS_PATH, (info) => new BatchResultsParser(info));
}

class BatchResultsParser extends UsageParser {
  readonly #batch: string;
  readonly #items: KeyedCall[] = [];

  constructor(info: ExchangeInfo) {
    super(info, "jsonl", {});
    this.#batch = RESULTS_PATH.exec(pathOnly(info.path))?.[1] ?? "";
    this.usage.items = this.#items;
  }

  protected usageComplete(): boolean {
    return this.intact;
  }

  protected value(v: Json): void {
    const id = str(v.custom_id);
    const result = obj(v.result);
    if (!id || str(result?.type) !== "succeeded") return;
    const message = obj(result!.message);
    const u = blankUsage(str(message?.model) ?? null);
    if (applyUsage(u, message?.usage, false) === undefined) return;
    u.service_tier = "batch";
    u.tokens_complete = true;
    this.#items.push({ key: `batch-${this.#batch}/${id}`, usage: u });
  }
}
