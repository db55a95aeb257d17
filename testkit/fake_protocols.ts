/**
 * What the fake provider answers a real client (Claude Code, Codex, the official SDKs, Python's HTTP
 * libraries): a POST on an API path whose JSON body names a `model` is answered in that API's own protocol,
 * from a transcript of tests/fixtures/providers/ with the request's model put in, streamed when the request
 * asked for a stream. Each protocol has one fixed usage, so a test knows every token column of each row.
 * The downloads that tell usage billed apart (a Message Batch and its results, a Batch API output file, a
 * response run in the background, queued and then retrieved) are answered from fixtures too.
 *
 * @module
 */
import { fixtureOptions, type RenderedFixture, renderFixture } from "./fake_provider.ts";

/** The fixture each protocol answers with, streamed and not. */
export const PROTOCOL_FIXTURES = {
  messages: { stream: "anthropic_text_stream.sse", json: "anthropic_message.body" },
  responses: { stream: "openai_responses_stream.sse", json: "openai_responses.body" },
  chat: {
    stream: "openai_chat_stream_usage.sse",
    noUsage: "openai_chat_stream_no_usage.sse",
    json: "openai_chat.body",
  },
  gemini: { sse: "gemini_stream.sse", array: "gemini_stream_array.body", json: "gemini_generate.body" },
} as const;

/** How long the fake "thinks" before answering, as a model does (seconds, for real providers). */
export const THINK_MS = 1500;

/** How long each streamed answer's end trails its last event (see `RenderedFixture.tailMs`). */
export const STREAM_TAIL_MS = 300;

const GEMINI_PATH = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;
const MESSAGE_BATCH_PATH = /^\/v1\/messages\/batches\/([^/]+)$/;

/** The answer to a download of usage billed apart from its request, or undefined when `path` names none. */
function deferredAnswer(path: string): Promise<RenderedFixture> | undefined {
  const render = (name: string) => renderFixture(name, fixtureOptions(new URLSearchParams()));
  const batch = MESSAGE_BATCH_PATH.exec(path);
  if (batch) {
    const id = batch[1];
    return Promise.resolve({
      status: 200,
      contentType: "application/json",
      gzip: false,
      lagMs: 0,
      gapMs: 0,
      parts: [JSON.stringify({
        id,
        type: "message_batch",
        processing_status: "ended",
        request_counts: { processing: 0, succeeded: 2, errored: 1, canceled: 0, expired: 1 },
        results_url: `https://api.anthropic.com/v1/messages/batches/${id}/results`,
      })],
    });
  }
  if (/^\/v1\/messages\/batches\/[^/]+\/results$/.test(path)) return render("anthropic_batch_results.body");
  if (/^\/v1\/files\/[^/]+\/content$/.test(path)) return render("openai_batch_output.body");
  if (/^\/v1\/responses\/resp_bg1$/.test(path)) return render("openai_background_done.body");
  return undefined;
}

/**
 * The answer to a real client's API call, or undefined when the request is not one (no JSON body naming a
 * model, or a path no protocol here speaks), so the fake's other behaviours still apply.
 */
export function protocolAnswer(url: URL, body: Uint8Array): Promise<RenderedFixture> | undefined {
  if (body.length === 0) return deferredAnswer(url.pathname);
  let request: Record<string, unknown>;
  try {
    request = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
  if (typeof request !== "object" || request === null) return undefined;
  const model = typeof request.model === "string" ? request.model : undefined;
  const stream = request.stream === true;
  const render = async (name: string, as?: string) => ({
    ...await renderFixture(name, { ...fixtureOptions(new URLSearchParams()), model: as }),
    lagMs: THINK_MS,
    tailMs: STREAM_TAIL_MS,
  });
  const path = url.pathname;
  if (path.endsWith("/v1/messages") && model && Array.isArray(request.messages)) {
    return render(stream ? PROTOCOL_FIXTURES.messages.stream : PROTOCOL_FIXTURES.messages.json, model);
  }
  if ((path.endsWith("/v1/responses") || path.endsWith("/codex/responses")) && model) {
    if (request.background === true && !stream) return render("openai_background_queued.body");
    return render(stream ? PROTOCOL_FIXTURES.responses.stream : PROTOCOL_FIXTURES.responses.json, model);
  }
  if (path.endsWith("/v1/chat/completions") && model && Array.isArray(request.messages)) {
    const options = request.stream_options as { include_usage?: boolean } | undefined;
    const chat = PROTOCOL_FIXTURES.chat;
    // A plain chat completion keeps the fake's own answer (`COMPLETION`), which other tests read.
    if (!stream) return undefined;
    return render(options?.include_usage ? chat.stream : chat.noUsage, model);
  }
  const gemini = GEMINI_PATH.exec(path);
  if (gemini && Array.isArray(request.contents)) {
    const as = decodeURIComponent(gemini[1]);
    if (gemini[2] === "generateContent") return render(PROTOCOL_FIXTURES.gemini.json, as);
    return render(
      url.searchParams.get("alt") === "sse" ? PROTOCOL_FIXTURES.gemini.sse : PROTOCOL_FIXTURES.gemini.array,
      as,
    );
  }
  return undefined;
}
