/**
 * The Gemini shapes: generativelanguage.googleapis.com `models/<m>:generateContent`, `:streamGenerateContent`
 * (SSE with `alt=sse`, else a streamed JSON array), `:embedContent`, `:batchEmbedContents`, `:countTokens`
 * (free), and Code Assist on cloudcode-pa.googleapis.com, whose payload is the same one level deeper
 * (`{"response": {…}}`).
 *
 * Usage facts: every streamed chunk carries the cumulative `usageMetadata`, so the last one wins;
 * `promptTokenCount` includes `cachedContentTokenCount`; `thoughtsTokenCount` is outside
 * `candidatesTokenCount`, so output is their sum; `toolUsePromptTokenCount` (grounding and tool results fed
 * back) is outside the prompt count and billed as input. The audio part of the prompt (less what the cache
 * holds of it) and the image and audio parts of the candidates come from the per-modality details, and are
 * kept inside input and output for their own rates.
 *
 * @module
 */
import type { ExchangeInfo, ProviderShape } from "./types.ts";
import { bodyFormat, errorCode, type Json, num, obj, pathOnly, str } from "./_shared.ts";
import { UsageParser } from "./_parser.ts";

/** The Gemini methods that are metered. */
export type GeminiMethod =
  | "generateContent"
  | "streamGenerateContent"
  | "embedContent"
  | "batchEmbedContents"
  | "countTokens";

const METHODS = "generateContent|streamGenerateContent|embedContent|batchEmbedContents|countTokens";
const STRICT_PATH = new RegExp(`^/v1[a-z0-9]*/models/([^/:]+):(${METHODS})$`);
const LOOSE_PATH = new RegExp(`/models/([^/:]+):(${METHODS})$`);
const CODE_ASSIST_PATH = /^\/v1internal:(generateContent|streamGenerateContent)$/;
const ERROR_KEYS = ["status", "code"] as const;
const PICK = { usageMetadata: true, modelVersion: true, totalTokens: true, error: true } as const;
const WRAPPED_PICK = { response: { usageMetadata: true, modelVersion: true }, error: true } as const;

/**
 * The model and method a Gemini API path names, or undefined when it is not a metered call. `loose` accepts
 * any prefix before `/models/` (configured hosts and gateways), else only `/v1*`.
 */
export function parseGeminiPath(
  path: string,
  loose = false,
): { model: string; method: GeminiMethod } | undefined {
  const m = (loose ? LOOSE_PATH : STRICT_PATH).exec(pathOnly(path));
  return m ? { model: unescapeModel(m[1]), method: m[2] as GeminiMethod } : undefined;
}

function unescapeModel(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The Gemini API shape for `provider`; `loose` as for {@linkcode parseGeminiPath}. */
export function geminiGenerate(provider: string, loose = false): ProviderShape {
  return {
    provider,
    matches: (method, path) => method === "POST" && parseGeminiPath(path, loose) !== undefined,
    createParser: (info) => {
      const call = parseGeminiPath(info.path, loose);
      return new GeminiParser(info, {
        wrapped: false,
        pathModel: call?.model ?? null,
        method: call?.method ?? "generateContent",
      });
    },
  };
}

/** Code Assist (`/v1internal:generateContent`, `:streamGenerateContent`) for `provider`. */
export function codeAssist(provider: string): ProviderShape {
  return {
    provider,
    matches: (method, path) => method === "POST" && CODE_ASSIST_PATH.test(pathOnly(path)),
    createParser: (info) =>
      new GeminiParser(info, {
        wrapped: true,
        pathModel: null,
        method: CODE_ASSIST_PATH.exec(pathOnly(info.path))?.[1] as GeminiMethod ?? "generateContent",
      }),
  };
}

interface CallShape {
  /** The payload sits under `response` (Code Assist). */
  wrapped: boolean;
  pathModel: string | null;
  method: GeminiMethod;
}

class GeminiParser extends UsageParser {
  readonly #call: CallShape;
  #sawMetadata = false;
  #counted = false;

  constructor(info: ExchangeInfo, call: CallShape) {
    const streamed = call.method === "streamGenerateContent";
    const asked = /[?&]alt=sse(&|$)/.test(info.path) ? "sse" : "json-array";
    super(info, bodyFormat(info, streamed ? asked : "json"), call.wrapped ? WRAPPED_PICK : PICK);
    this.#call = call;
    // The model a response names wins over the path's, which wins over the request's.
    this.usage.model = call.pathModel;
    if (call.method === "countTokens") this.usage.free = true;
  }

  protected usageComplete(): boolean {
    return this.#call.method === "countTokens" ? this.#counted : this.#sawMetadata && this.intact;
  }

  protected value(v: Json): void {
    const error = obj(v.error);
    if (error) this.failed(errorCode(error, ERROR_KEYS));
    const r = this.#call.wrapped ? obj(v.response) : v;
    if (!r) return;
    const model = str(r.modelVersion);
    if (model) this.usage.model = model;
    const metadata = obj(r.usageMetadata);
    if (metadata && this.#call.method !== "countTokens") {
      this.#count(metadata);
      // The chunk that gives a finish reason is the stream's last; its usage metadata is the final count.
      if (finished(r.candidates)) this.streamEnded();
    }
    if (num(r.totalTokens) !== undefined) this.#counted = true;
  }

  /** Fills the token columns from cumulative `usageMetadata`; see the module notes for the rules. */
  #count(m: Json): void {
    this.#sawMetadata = true;
    const u = this.usage;
    const prompt = num(m.promptTokenCount) ?? 0;
    const cached = Math.min(num(m.cachedContentTokenCount) ?? 0, prompt);
    const toolUse = num(m.toolUsePromptTokenCount) ?? 0;
    const thoughts = num(m.thoughtsTokenCount) ?? 0;
    u.input_tokens = prompt - cached + toolUse;
    u.cache_read_tokens = cached;
    u.prompt_tokens = prompt + toolUse;
    u.output_tokens = (num(m.candidatesTokenCount) ?? 0) + thoughts;
    u.thinking_tokens = thoughts;
    const audioIn = modality(m.promptTokensDetails, "AUDIO") - modality(m.cacheTokensDetails, "AUDIO");
    u.input_audio_tokens = Math.min(Math.max(audioIn, 0), u.input_tokens);
    u.output_image_tokens = Math.min(modality(m.candidatesTokensDetails, "IMAGE"), u.output_tokens);
    u.output_audio_tokens = Math.min(
      modality(m.candidatesTokensDetails, "AUDIO"),
      u.output_tokens - u.output_image_tokens,
    );
  }
}

/** The tokens a list of `{modality, tokenCount}` gives `name`; 0 when the list is absent or odd. */
function modality(details: unknown, name: string): number {
  if (!Array.isArray(details)) return 0;
  let sum = 0;
  for (const d of details) {
    const o = obj(d);
    if (str(o?.modality) === name) sum += num(o!.tokenCount) ?? 0;
  }
  return sum;
}

function finished(candidates: unknown): boolean {
  return Array.isArray(candidates) && candidates.some((c) => str(obj(c)?.finishReason) !== undefined);
}
