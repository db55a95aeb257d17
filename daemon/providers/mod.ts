/**
 * The provider registry: which host and path is metered by which shape (README.md, "What is metered"),
 * whether a call is billed to an API key or a subscription, and {@linkcode createUsageParser}, which wires
 * content decoding to a shape's parser so the daemon has one object to feed response bytes to.
 *
 * @module
 */
import type { ExchangeInfo, ProviderShape, ResponseParser } from "./types.ts";
import type { Usage } from "../../core/usage.ts";
import { anthropicBatchResults, anthropicMessages } from "./anthropic.ts";
import {
  openaiBatchOutput,
  openaiChat,
  openaiImages,
  openaiRealtime,
  openaiResponses,
  openaiRetrievedResponse,
} from "./openai.ts";
import { codeAssist, geminiGenerate } from "./gemini.ts";
import { createDecoder } from "./decode.ts";
import { applyHttpError, blankUsage, exactPath, pathSuffix } from "./_shared.ts";

export type { ExchangeInfo, ProviderShape, ResponseParser } from "./types.ts";

/** The API shape a configured extra host speaks (config `[hosts]`). */
export type HostShape = "openai" | "anthropic" | "gemini";

/** Hosts metered out of the box; core holds the list so the edge can share it. */
export { PROVIDER_HOSTS as METERED_HOSTS } from "../../core/hosts.ts";

const BUILT_IN: ReadonlyMap<string, readonly ProviderShape[]> = new Map([
  ["api.anthropic.com", [
    anthropicMessages("anthropic", exactPath("/v1/messages")),
    anthropicBatchResults("anthropic"),
  ]],
  ["api.openai.com", [
    openaiChat("openai", exactPath("/v1/chat/completions", "/v1/completions", "/v1/embeddings")),
    openaiResponses("openai", exactPath("/v1/responses")),
    openaiRealtime("openai", exactPath("/v1/realtime")),
    openaiImages("openai", exactPath("/v1/images/generations", "/v1/images/edits")),
    openaiRetrievedResponse("openai"),
    openaiBatchOutput("openai"),
  ]],
  ["chatgpt.com", [openaiResponses("openai", exactPath("/backend-api/codex/responses"))]],
  ["generativelanguage.googleapis.com", [geminiGenerate("google")]],
  ["cloudcode-pa.googleapis.com", [codeAssist("google")]],
  ["api.x.ai", [
    openaiChat("xai", exactPath("/v1/chat/completions")),
    anthropicMessages("xai", exactPath("/v1/messages")),
    openaiResponses("xai", exactPath("/v1/responses")),
  ]],
]);

/** Hosts reached only with a ChatGPT or Google login: their traffic is billed to a subscription. */
const SUBSCRIPTION_HOSTS = new Set(["chatgpt.com", "cloudcode-pa.googleapis.com"]);

/** A host name lower-cased, without port or trailing dot (`API.OpenAI.com:443` → `api.openai.com`). */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const close = h.indexOf("]");
    return close === -1 ? h : h.slice(0, close + 1);
  }
  const colon = h.indexOf(":");
  if (colon !== -1 && colon === h.lastIndexOf(":")) h = h.slice(0, colon);
  return h.endsWith(".") ? h.slice(0, -1) : h;
}

/**
 * The provider name recorded for a configured host: its second-level label (`api.groq.com` → `groq`,
 * `openrouter.ai` → `openrouter`); an IP address or a single-label name is used whole.
 */
export function providerForHost(host: string): string {
  const h = normalizeHost(host);
  const labels = h.split(".");
  if (labels.length < 2 || /^\d+$/.test(labels[labels.length - 1]) || h.startsWith("[")) return h;
  return labels[labels.length - 2];
}

function configuredShapes(provider: string, shape: HostShape): readonly ProviderShape[] {
  switch (shape) {
    case "openai":
      return [
        openaiChat(provider, pathSuffix("/completions", "/embeddings")),
        openaiResponses(provider, pathSuffix("/responses")),
      ];
    case "anthropic":
      return [anthropicMessages(provider, pathSuffix("/messages"))];
    case "gemini":
      return [geminiGenerate(provider, true)];
  }
}

/**
 * The shape that meters `method path` on `host`, or undefined: unknown hosts, and paths on metered hosts
 * that are not metered calls, pass through unmetered. The query string is ignored. `extraHosts` are the
 * config's `[hosts]`; a built-in host keeps its own shapes.
 */
export function findShape(
  host: string,
  method: string,
  path: string,
  extraHosts?: Record<string, HostShape>,
): ProviderShape | undefined {
  const h = normalizeHost(host);
  const m = method.toUpperCase();
  let shapes = BUILT_IN.get(h);
  if (!shapes && extraHosts) {
    for (const [name, shape] of Object.entries(extraHosts)) {
      if (normalizeHost(name) === h) {
        shapes = configuredShapes(providerForHost(h), shape);
        break;
      }
    }
  }
  return shapes?.find((s) => s.matches(m, path));
}

/**
 * Who pays for a call: ChatGPT-login Codex and Code Assist are subscriptions, and so is Anthropic traffic
 * carrying a Claude OAuth token (`Authorization: Bearer sk-ant-oat…`); API keys (`x-api-key`) are `api`.
 * Only the token's prefix is looked at; nothing of the header is kept.
 */
export function detectBilling(host: string, requestHeaders: RequestHeaders): "api" | "subscription" {
  const h = normalizeHost(host);
  if (SUBSCRIPTION_HOSTS.has(h)) return "subscription";
  if (h === "api.anthropic.com") {
    const auth = headerValue(requestHeaders, "authorization");
    if (auth && /^bearer\s+sk-ant-oat/i.test(auth.trimStart())) return "subscription";
  }
  return "api";
}

/** Request headers as a fetch `Headers` or a plain record (a repeated header's values in an array). */
export type RequestHeaders = Headers | Readonly<Record<string, string | string[] | undefined>>;

function headerValue(headers: RequestHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  // Node-style records have lower-case names already: one lookup, and the walk only for other spellings.
  let v = headers[name];
  if (v === undefined) {
    for (const k in headers) {
      if (k.toLowerCase() === name) {
        v = headers[k];
        break;
      }
    }
  }
  return Array.isArray(v) ? v.join(", ") : v;
}

/** A response's usage parser with decoding built in: what the daemon feeds. */
export interface UsageParser {
  /** Feeds the response bytes exactly as they came off the wire (still encoded). Never throws. */
  push(chunk: Uint8Array): void;
  /**
   * The body ended (`complete`) or was cut short. The usage once every byte is decoded and parsed: at once for
   * a body sent without content encoding, else a promise that never rejects. A body that failed to decode
   * gives `tokens_complete: false`. Calling it again gives the same.
   */
  finish(complete: boolean): Usage | Promise<Usage>;
}

/**
 * Wires a decoder for `contentEncoding` (the response's `content-encoding`, empty for none) to a fresh parser
 * of `shape`. A parser that throws (it should not) is retired and the row is recorded as incomplete.
 */
export function createUsageParser(
  shape: ProviderShape,
  info: ExchangeInfo,
  contentEncoding: string | null | undefined,
): UsageParser {
  let parser: ResponseParser | undefined;
  try {
    parser = shape.createParser(info);
  } catch {
    parser = undefined;
  }
  const decoder = createDecoder(contentEncoding, (chunk) => {
    if (!parser) return;
    try {
      parser.push(chunk);
    } catch {
      parser = undefined;
    }
  });
  const conclude = (complete: boolean): Usage => {
    try {
      if (parser) return parser.finish(complete);
    } catch {
      // Fall through to a row that says what is certain: the status, and that tokens are unknown.
    }
    const usage = blankUsage(null);
    applyHttpError(usage, info.status, null);
    return usage;
  };
  let result: Usage | Promise<Usage> | undefined;
  return {
    push: (chunk) => decoder.push(chunk),
    finish(complete) {
      if (result) return result;
      const decoded = decoder.end();
      result = decoded instanceof Promise
        ? decoded.then((ok) => conclude(complete && ok))
        : conclude(complete && decoded);
      return result;
    },
  };
}
