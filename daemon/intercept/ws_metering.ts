/**
 * Metering of the Responses API over WebSocket (Codex with a ChatGPT login, and any client sending
 * `OpenAI-Beta: responses_websockets`): the client sends `response.create` messages, and the provider answers
 * each with the events the HTTP API would stream as SSE, ending with `response.completed`, `response.incomplete`,
 * `response.failed` or `error`. Each such cycle goes to the metering hook as one exchange, its events fed as the
 * SSE stream they stand for, so the provider's own parser reads it and one row is written per response.
 * Messages compressed with permessage-deflate are inflated on a copy, in order.
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
  path: string;
  requestHeaders: HeaderMap;
  responseHeaders: HeaderMap;
  hook: MeteringHook;
  /** Told of each response cycle begun, for the heartbeat's counts. */
  onCycle?: () => void;
}

const TERMINAL = /"type"\s*:\s*"(response\.completed|response\.incomplete|response\.failed|error)"/;
const CREATE = /"type"\s*:\s*"response\.create"/;
const DEFLATE_TAIL = new Uint8Array([0, 0, 0xff, 0xff]);

/** A tap for the Responses API over WebSocket on this upgrade. */
export function responsesOverWebSocket(u: WsUpgrade): WsTap {
  const deflate = /permessage-deflate/i.test(String(u.responseHeaders["sec-websocket-extensions"] ?? ""));
  const inflaters: { client?: Inflater; provider?: Inflater } = {};
  let chain: Promise<void> = Promise.resolve();
  let cycle:
    | { observer?: ExchangeObserver; t0: number; ttft: number | null; up: number; down: number }
    | undefined;

  const end = (complete: boolean, error?: string) => {
    const c = cycle;
    cycle = undefined;
    c?.observer?.onEnd({
      complete,
      error,
      latencyMs: Math.round(performance.now() - c.t0),
      ttftMs: c.ttft,
      requestBytes: c.up,
      responseBytes: c.down,
    });
  };

  const onClientMessage = (text: string, bytes: Uint8Array) => {
    if (!CREATE.test(text)) return;
    if (cycle) end(false, "a new response was asked for before this one ended");
    u.onCycle?.();
    const observer = u.hook.begin({
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
      requestBody: bytes.subarray(0, MAX_REQUEST_BODY),
      requestBodyTruncated: bytes.length > MAX_REQUEST_BODY,
    });
    cycle = { observer, t0: performance.now(), ttft: null, up: bytes.length, down: 0 };
  };

  const onProviderMessage = (text: string, bytes: Uint8Array) => {
    const c = cycle;
    if (!c) return;
    c.ttft ??= Math.round(performance.now() - c.t0);
    c.down += bytes.length;
    // One SSE event per message; `data:` lines cannot hold a newline, and SSE joins them back with one.
    c.observer?.onResponseChunk(Buffer.from(`data: ${text.replaceAll("\n", "\ndata: ")}\n\n`));
    if (TERMINAL.test(text)) end(true);
  };

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
        const text = new TextDecoder().decode(bytes);
        if (side === "client") onClientMessage(text, bytes);
        else onProviderMessage(text, bytes);
      }).catch(() => {
        // A message that does not inflate ends what it belonged to; the bytes went through untouched anyway.
        end(false, "a message could not be decoded");
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
      end(false, "the WebSocket messages could not be read");
    }
  };
  return {
    fromClient: guarded(client),
    fromProvider: guarded(provider),
    close(error) {
      chain = chain.then(() => {
        end(false, error ?? "connection closed");
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
