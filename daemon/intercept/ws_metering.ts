/**
 * Metering of the two APIs OpenAI serves over WebSocket. Each response goes to the metering hook as one
 * exchange, its events fed as the SSE stream they stand for, so the provider's own parser reads it and one row
 * is written per response. Messages compressed with permessage-deflate are inflated on a copy, in order.
 *
 * - The Responses API (Codex with a ChatGPT login, and any client sending `OpenAI-Beta: responses_websockets`):
 *   the client sends `response.create` messages, and the provider answers each with the events the HTTP API
 *   would stream, ending with `response.completed`, `response.incomplete`, `response.failed`, or an `error`
 *   that refuses the request. A `stream_id` puts a request in a lane of its own: lanes run in parallel, each
 *   answering its requests in order, their events echoing the lane's id.
 * - The Realtime API (`/v1/realtime`, voice agents): the provider starts responses itself when it hears the
 *   end of a turn, as well as on the client's `response.create`, and may run several at once; each runs from
 *   `response.created` to `response.done`, which carries its usage, and its other events name it by
 *   `response_id`. The model is the session's (the URL's `model`, then `session.created`/`session.updated`).
 *
 * @module
 */
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import type { ExchangeObserver, HeaderMap, MeteringHook } from "./seam.ts";
import { MAX_REQUEST_BODY } from "./seam.ts";
import type { ConnMeta } from "./tls_front.ts";
import { WsFrameReader, type WsMessage } from "./ws_frames.ts";

/** Where an upgraded connection's bytes are copied to. */
export interface WsTap {
  /** Bytes the client sent, as they went upstream. */
  fromClient(chunk: Uint8Array): void;
  /** Bytes the provider sent, as they went to the client. */
  fromProvider(chunk: Uint8Array): void;
  /** The connection ended; a response still under way ends incomplete. */
  close(error?: string): void;
}

/** What the tap needs to know of the upgrade. */
export interface WsUpgrade {
  meta: ConnMeta;
  /** The path as sent. */
  path: string;
  /** The `model` of the URL's query, which a Realtime session is opened with. */
  model?: string;
  requestHeaders: HeaderMap;
  responseHeaders: HeaderMap;
  hook: MeteringHook;
  /** Told of each response cycle begun, for the heartbeat's counts. */
  onCycle?: () => void;
}

const TERMINAL = /"type"\s*:\s*"(response\.completed|response\.incomplete|response\.failed)"/;
const ERROR = /"type"\s*:\s*"error"/;
const CREATED = /"type"\s*:\s*"response\.created"/;
const CREATE = /"type"\s*:\s*"response\.create"/;
const DEFLATE_TAIL = new Uint8Array([0, 0, 0xff, 0xff]);

const RT_DONE = /"type"\s*:\s*"response\.done"/;
const RT_SESSION = /"type"\s*:\s*"session\.(created|updated)"/;
const RT_RESPONSE_ID = /"response_id"\s*:\s*"([^"]*)"/;

/** Which API an upgrade on `path` (without its query) speaks: the Realtime API, or the Responses API. */
export function webSocketApi(path: string): "realtime" | "responses" {
  return path.endsWith("/realtime") ? "realtime" : "responses";
}

/** One response asked for or begun, and the events answering it. */
interface Cycle {
  observer?: ExchangeObserver;
  t0: number;
  ttft: number | null;
  up: number;
  down: number;
  /** The provider has created the response: an `error` now is a step of it, and its own end event follows. */
  created: boolean;
}

/**
 * The lane a message belongs to: its top-level `stream_id` (a connection can carry parallel conversations,
 * each lane's responses answered in order, their events echoing the lane's id), or the one unnamed lane.
 */
function laneOf(text: string): string {
  if (!text.includes('"stream_id"')) return "";
  try {
    const id = (JSON.parse(text) as { stream_id?: unknown }).stream_id;
    return typeof id === "string" ? id : "";
  } catch {
    return "";
  }
}

/** A tap for the Responses API over WebSocket on this upgrade. */
export function responsesOverWebSocket(u: WsUpgrade): WsTap {
  // Per lane, the responses asked for and not yet ended, oldest (the one being answered) first.
  const lanes = new Map<string, Cycle[]>();

  const onClientMessage = (text: string, bytes: Uint8Array) => {
    if (!CREATE.test(text)) return;
    const observer = beginExchange(u, bytes);
    const lane = laneOf(text);
    const queue = lanes.get(lane) ?? [];
    queue.push({ observer, t0: performance.now(), ttft: null, up: bytes.length, down: 0, created: false });
    lanes.set(lane, queue);
  };

  const onProviderMessage = (text: string, bytes: Uint8Array) => {
    const lane = laneOf(text);
    const queue = lanes.get(lane);
    const c = queue?.[0];
    if (!c) return;
    c.ttft ??= Math.round(performance.now() - c.t0);
    c.down += bytes.length;
    c.observer?.onResponseChunk(asSse(text));
    if (CREATED.test(text)) c.created = true;
    // An `error` before the response exists refuses the request; within a response (a step that failed), the
    // response's own end event still comes, and with it the usage.
    if (TERMINAL.test(text) || (!c.created && ERROR.test(text))) {
      queue!.shift();
      if (!queue!.length) lanes.delete(lane);
      end(c, true);
    }
  };

  const endAll = (error: string) => {
    for (const queue of lanes.values()) for (const c of queue) end(c, false, error);
    lanes.clear();
  };

  return messageTap(u, (side, text, bytes) => {
    if (side === "client") onClientMessage(text, bytes);
    else onProviderMessage(text, bytes);
  }, endAll);
}

/** A tap for the Realtime API on this upgrade. */
export function realtimeOverWebSocket(u: WsUpgrade): WsTap {
  let model = u.model;
  // What the client sent since the last response began: the audio and text that response answers.
  let up = 0;
  const open = new Map<string, Cycle>();

  const begin = (): Cycle => {
    // The session's model stands for the request, which a turn the provider heard the end of never sent.
    const observer = beginExchange(u, new TextEncoder().encode(JSON.stringify(model ? { model } : {})));
    const c: Cycle = { observer, t0: performance.now(), ttft: null, up, down: 0, created: true };
    up = 0;
    return c;
  };
  const feed = (c: Cycle, text: string, bytes: Uint8Array) => {
    c.down += bytes.length;
    c.observer?.onResponseChunk(asSse(text));
  };
  const idOf = (text: string): string => {
    try {
      const id = (JSON.parse(text) as { response?: { id?: unknown } }).response?.id;
      return typeof id === "string" ? id : "";
    } catch {
      return "";
    }
  };

  const onProviderMessage = (text: string, bytes: Uint8Array) => {
    if (RT_SESSION.test(text)) {
      try {
        const m = (JSON.parse(text) as { session?: { model?: unknown } }).session?.model;
        if (typeof m === "string" && m) model = m;
      } catch {
        // A session event that does not parse leaves the model as it was.
      }
      return;
    }
    if (CREATED.test(text)) {
      const c = begin();
      open.set(idOf(text), c);
      feed(c, text, bytes);
      return;
    }
    if (RT_DONE.test(text)) {
      const id = idOf(text);
      // A response begun before the tap could read it still gets its row.
      const c = open.get(id) ?? begin();
      open.delete(id);
      c.ttft ??= Math.round(performance.now() - c.t0);
      feed(c, text, bytes);
      end(c, true);
      return;
    }
    const c = open.get(RT_RESPONSE_ID.exec(text)?.[1] ?? "");
    if (!c) return;
    c.ttft ??= Math.round(performance.now() - c.t0);
    c.down += bytes.length;
  };

  const endAll = (error: string) => {
    for (const c of open.values()) end(c, false, error);
    open.clear();
  };

  return messageTap(u, (side, text, bytes) => {
    if (side === "client") up += bytes.length;
    else onProviderMessage(text, bytes);
  }, endAll);
}

/** Tells the hook of a response begun on this upgrade, `body` standing for its request. */
function beginExchange(u: WsUpgrade, body: Uint8Array): ExchangeObserver | undefined {
  u.onCycle?.();
  return u.hook.begin({
    host: u.meta.host,
    path: u.path,
    method: "POST",
    httpVersion: "1.1",
    status: 101,
    startedAt: new Date(),
    headMs: 0,
    client: u.meta.client,
    project: u.meta.project,
    requestHeaders: u.requestHeaders,
    responseHeaders: { "content-type": "text/event-stream" },
    requestBody: body.subarray(0, MAX_REQUEST_BODY),
    requestBodyTruncated: body.length > MAX_REQUEST_BODY,
  });
}

/** A message as the SSE event it stands for: `data:` lines hold no newline, and SSE joins them with one. */
function asSse(text: string): Buffer {
  return Buffer.from(`data: ${text.replaceAll("\n", "\ndata: ")}\n\n`);
}

/** Ends the exchange of a response, whole or cut short. */
function end(c: Cycle, complete: boolean, error?: string): void {
  c.observer?.onEnd({
    complete,
    error,
    latencyMs: Math.round(performance.now() - c.t0),
    ttftMs: c.ttft,
    requestBytes: c.up,
    responseBytes: c.down,
  });
}

/**
 * Reads the text messages of both directions, in order, inflated when compressed, and hands each to
 * `onMessage`; `endAll` ends whatever is under way when the messages can no longer be read or the connection
 * ends.
 */
function messageTap(
  u: WsUpgrade,
  onMessage: (side: "client" | "provider", text: string, bytes: Uint8Array) => void,
  endAll: (error: string) => void,
): WsTap {
  const deflate = /permessage-deflate/i.test(String(u.responseHeaders["sec-websocket-extensions"] ?? ""));
  const inflaters: { client?: Inflater; provider?: Inflater } = {};
  let chain: Promise<void> = Promise.resolve();
  const reader = (side: "client" | "provider") =>
    new WsFrameReader((m: WsMessage) => {
      if (m.opcode !== 1) return;
      chain = chain.then(async () => {
        let bytes = m.payload;
        if (m.compressed) {
          if (!deflate) return;
          const inflater = inflaters[side] ??= new Inflater();
          bytes = await inflater.inflate(bytes);
          // A message may end its deflate stream (a final block, RFC 7692 §7.2.3.4), as a sender without
          // context takeover may: the next one starts a new stream, which the ended one would read as nothing.
          if (inflater.ended) inflaters[side] = undefined;
        }
        onMessage(side, new TextDecoder().decode(bytes), bytes);
      }).catch(() => {
        // A message that does not inflate leaves the rest unreadable: what is under way ends; the bytes went
        // through untouched anyway.
        endAll("a message could not be decoded");
      });
    });
  const client = reader("client");
  const provider = reader("provider");

  // Metering must never break the connection it reads: a failure here ends the metering, not the bytes.
  let failed = false;
  const guarded = (read: WsFrameReader) => (chunk: Uint8Array) => {
    if (failed) return;
    try {
      read.push(chunk);
    } catch {
      failed = true;
      endAll("the WebSocket messages could not be read");
    }
  };
  return {
    fromClient: guarded(client),
    fromProvider: guarded(provider),
    close(error) {
      chain = chain.then(() => {
        endAll(error ?? "connection closed");
        inflaters.client?.close();
        inflaters.provider?.close();
      });
    },
  };
}

/** One direction's permessage-deflate context (RFC 7692), kept across messages until its stream ends. */
class Inflater {
  readonly #z = zlib.createInflateRaw();
  #ended = false;

  constructor() {
    this.#z.on("error", () => {});
    this.#z.on("end", () => this.#ended = true);
  }

  /** True once a message ended the deflate stream: later messages need a new context. */
  get ended(): boolean {
    return this.#ended;
  }

  inflate(payload: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const onData = (d: Buffer) => out.push(d);
      const onError = (e: Error) => {
        this.#z.off("data", onData);
        reject(e);
      };
      this.#z.on("data", onData);
      this.#z.once("error", onError);
      this.#z.write(Buffer.concat([payload, DEFLATE_TAIL]));
      this.#z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.#z.off("data", onData);
        this.#z.off("error", onError);
        resolve(Buffer.concat(out));
      });
    });
  }

  close(): void {
    this.#z.close();
  }
}
