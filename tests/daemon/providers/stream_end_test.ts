/**
 * A client that hangs up right after a stream's terminal event (Codex after `response.completed`) must still
 * get a whole row: the parser says the stream had ended, and the usage is complete. A stream cut before that
 * event stays incomplete.
 */
import assert from "node:assert/strict";
import { findShape } from "../../../daemon/providers/mod.ts";
import type { ProviderShape } from "../../../daemon/providers/types.ts";
import { exchange, fixtureText, parse } from "./_util.ts";

const sse = "text/event-stream";
const encode = (s: string) => new TextEncoder().encode(s);

interface Case {
  name: string;
  host: string;
  path: string;
  contentType: string;
  fixture: string;
  /** The text that ends the terminal event: the body is cut right after it and the line ends that follow. */
  terminal: string;
  /** What follows, cut short (default: half an SSE keep-alive comment). */
  tail?: string;
  /** A text inside an earlier event: the body cut there never reached the end. */
  before: string;
}

const CASES: Case[] = [
  {
    name: "anthropic message_stop",
    host: "api.anthropic.com",
    path: "/v1/messages",
    contentType: sse,
    fixture: "anthropic_stream.sse",
    terminal: 'data: {"type":"message_stop"}',
    before: "event: message_delta",
  },
  {
    name: "openai chat [DONE]",
    host: "api.openai.com",
    path: "/v1/chat/completions",
    contentType: sse,
    fixture: "openai_chat_stream_usage.sse",
    terminal: "data: [DONE]",
    before: '"choices":[],"usage"',
  },
  {
    name: "openai responses response.completed (Codex)",
    host: "chatgpt.com",
    path: "/backend-api/codex/responses",
    contentType: sse,
    fixture: "openai_responses_stream.sse",
    terminal: "}}}",
    before: "event: response.completed",
  },
  {
    name: "gemini SSE final chunk",
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    contentType: sse,
    fixture: "gemini_stream.sse",
    terminal: '"responseId": "v4ecaJ2dLouTz7IPwY2h4Qk"}',
    before: "jumps over",
  },
  {
    name: "gemini JSON array final element, closing bracket never read",
    host: "generativelanguage.googleapis.com",
    path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
    contentType: "application/json",
    fixture: "gemini_stream_array.body",
    terminal: '"responseId": "Vq-caKzBEsKn1e8PtfPu-A8"\n}',
    tail: "",
    before: " done.",
  },
  {
    name: "code assist final chunk",
    host: "cloudcode-pa.googleapis.com",
    path: "/v1internal:streamGenerateContent?alt=sse",
    contentType: sse,
    fixture: "codeassist_stream.sse",
    terminal: '"traceId": "1b6e2cf0a1d94a2b"}',
    before: "here is the diff",
  },
];

for (const c of CASES) {
  const shape = findShape(c.host, "POST", c.path) as ProviderShape;
  const info = exchange({ host: c.host, path: c.path, contentType: c.contentType });
  const text = fixtureText(c.fixture);

  Deno.test(`${c.name}: a transfer cut right after the terminal event gives the whole usage`, () => {
    const at = text.lastIndexOf(c.terminal);
    assert.ok(at > 0, `the fixture holds ${JSON.stringify(c.terminal)}`);
    const end = at + c.terminal.length + /^[\r\n]*/.exec(text.slice(at + c.terminal.length))![0].length;
    const whole = parse(shape, info, [encode(text)], true);
    assert.equal(whole.tokens_complete, true);
    assert.equal(whole.ended, undefined, "a transfer that completed needs no excuse");
    // The terminal event, then the start of what follows: what a hang-up a few ms later leaves.
    const tail = c.tail ?? ": keep";
    const { ended, ...cut } = parse(shape, info, [encode(text.slice(0, end) + tail)], false);
    assert.deepEqual(cut, whole, "the same counts, complete");
    assert.equal(ended, true);
  });

  Deno.test(`${c.name}: a transfer cut before the terminal event stays incomplete`, () => {
    const at = text.lastIndexOf(c.before);
    assert.ok(at > 0, `the fixture holds ${JSON.stringify(c.before)}`);
    const cut = parse(shape, info, [encode(text.slice(0, at))], false);
    assert.equal(cut.tokens_complete, false);
    assert.equal(cut.ended, undefined);
  });
}
