/**
 * A local TLS fake LLM provider for the tests and the bench (so it lives in `testkit/`, which both import and
 * the product never does): HTTP/1.1 on 127.0.0.1 with its own CA (so the daemon must trust it through
 * `[upstream] ca_file`), answering JSON, SSE held open until the test
 * releases it, chunked and large bodies, gzip, error statuses and resets mid-stream. It records what it saw.
 * An upgrade to WebSocket is answered with an echo, or Responses events for `response.create` messages
 * (`?fake=realtime`: the Realtime API instead; `?fake=refuse`: 426, the connection closed; with `&keep=1`
 * left open). `?delay_ms=<n>` on any request holds its answer that long.
 * `?fixture=<file>` on any path replays a transcript from tests/fixtures/providers/ (see
 * {@linkcode FixtureOptions} for the query parameters that shape it). A real client's API call (a JSON body
 * naming a model on an API path) is answered in its own protocol (see fake_protocols.ts).
 * No HTTP/2: Deno 2.9.6's `node:http2` can abort the process when a client sends GOAWAY (denoland/deno#36788),
 * and the daemon speaks HTTP/1.1 upstream anyway.
 *
 * @module
 */
import tls from "node:tls";
import http from "node:http";
import zlib from "node:zlib";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { providerTlsServer } from "./tls_server.ts";
import { protocolAnswer } from "./fake_protocols.ts";

/** One request as the fake received it. */
export interface SeenRequest {
  method: string;
  path: string;
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/** A running fake provider. */
export interface FakeProvider {
  port: number;
  /** PEM file of the fake's own CA, for `[upstream] ca_file`, `--cacert` or Deno's `caCerts`. */
  caFile: string;
  caPem: string;
  /** Every request received, in order. */
  requests: SeenRequest[];
  /** When the fake sent the last event of the most recent `/sse` stream (performance.now() of this process). */
  lastSseSentAt?: number;
  /** Lets held `/sse` streams (`hold=1`) send the rest of their events. */
  release(): void;
  close(): Promise<void>;
}

/** The JSON body of the fake's chat completion. */
export const COMPLETION = {
  id: "chatcmpl-fake",
  object: "chat.completion",
  model: "gpt-4o-mini-2024-07-18",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
};

/** The byte at offset `i` of every generated large body, so a receiver can check what arrived. */
export function patternByte(i: number): number {
  return (i * 31 + 7) & 0xff;
}

/**
 * Deno's `node:http` server closes keep-alive connections handed to it with `emit("connection")` unless it
 * believes it is listening (denoland/deno#35609); the fake must keep connections alive like a real provider.
 */
function keepAliveWithoutListen(server: http.Server): void {
  Object.defineProperty(server, "listening", { get: () => true });
}

/** Starts the fake on 127.0.0.1 (port 0 picks one); its CA goes into `dir`. */
export async function startFakeProvider(dir: string, port = 0): Promise<FakeProvider> {
  const { server, caFile, caPem } = await providerTlsServer(join(dir, "fake-ca"));
  const sockets = new Set<Socket>();
  let holds: (() => void)[] = [];

  const fake: FakeProvider = {
    port: 0,
    caFile,
    caPem,
    requests: [],
    release() {
      const h = holds;
      holds = [];
      for (const r of h) r();
    },
    close: async () => {},
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "https://fake");
      fake.requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        httpVersion: req.httpVersion,
        headers: { ...req.headers },
        body: new Uint8Array(Buffer.concat(parts)),
      });
      route(url, res, fake.requests[fake.requests.length - 1].body).catch(() => res.destroy());
    });
  };

  const write = (res: http.ServerResponse, data: string | Uint8Array) =>
    new Promise<void>((resolve) => {
      if (res.destroyed || res.write(data)) return resolve();
      const done = () => {
        res.off("drain", done).off("close", done);
        resolve();
      };
      res.once("drain", done).once("close", done);
    });

  // A client that hangs up (Codex at `response.completed`) or the fake's own close ends the wait at once, so
  // no timer outlives the response it paces.
  const pause = (res: http.ServerResponse, ms: number) =>
    new Promise<void>((resolve) => {
      if (res.destroyed) return resolve();
      const done = () => {
        clearTimeout(timer);
        res.off("close", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      res.once("close", done);
    });

  const route = async (url: URL, res: http.ServerResponse, body: Uint8Array) => {
    const q = (name: string, d: number) => Number(url.searchParams.get(name) ?? d);
    // A provider that thinks before a non-streamed answer sends nothing meanwhile.
    if (url.searchParams.has("delay_ms")) await new Promise((r) => setTimeout(r, q("delay_ms", 0)));
    const fixture = url.searchParams.get("fixture");
    if (fixture) return await replay(res, await renderFixture(fixture, fixtureOptions(url.searchParams)));
    const answer = url.searchParams.has("fake") ? undefined : protocolAnswer(url, body);
    if (answer) return await replay(res, await answer);
    // `?fake=big` etc. selects a behaviour on any path, so tests can reach it on a metered path.
    switch (url.searchParams.get("fake") ?? url.pathname) {
      case "/v1/chat/completions": {
        const body = JSON.stringify(COMPLETION);
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      case "gzip": {
        const body = zlib.gzipSync(JSON.stringify(COMPLETION));
        res.writeHead(200, {
          "content-type": "application/json",
          "content-encoding": "gzip",
          "content-length": body.length,
        });
        res.end(body);
        return;
      }
      case "/v1/messages":
      case "sse": {
        const events = q("events", 5);
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        for (let i = 1; i <= events; i++) {
          if (i === 2 && url.searchParams.get("hold") === "1") await new Promise<void>((r) => holds.push(r));
          if (i === events) fake.lastSseSentAt = performance.now();
          await write(res, `event: delta\ndata: {"n":${i}}\n\n`);
        }
        res.end();
        return;
      }
      case "chunked": {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        const size = q("size", 1000);
        for (let i = 0; i < q("chunks", 10); i++) {
          await write(res, new Uint8Array(size).fill(65 + (i % 26)));
          await new Promise((r) => setTimeout(r, 1));
        }
        res.end();
        return;
      }
      case "big": {
        const total = q("bytes", 1 << 20);
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": total });
        const block = new Uint8Array(64 * 1024);
        for (let off = 0; off < total; off += block.length) {
          const n = Math.min(block.length, total - off);
          for (let i = 0; i < n; i++) block[i] = patternByte(off + i);
          await write(res, block.slice(0, n));
        }
        res.end();
        return;
      }
      case "reset": {
        res.writeHead(200, { "content-type": "text/event-stream" });
        await write(res, `data: {"n":1}\n\n`);
        await new Promise((r) => setTimeout(r, q("after_ms", 20)));
        res.socket?.destroy();
        return;
      }
      case "status": {
        const body = JSON.stringify({ error: { type: "rate_limit_error", message: "slow down" } });
        res.writeHead(q("code", 429), { "content-type": "application/json", "content-length": body.length });
        res.end(body);
        return;
      }
      default: {
        res.writeHead(404, { "content-type": "text/plain", "content-length": 9 });
        res.end("not found");
      }
    }
  };

  /** Sends a rendered fixture: whole, gzipped, or one part (SSE event, array element) per write. */
  const replay = async (res: http.ServerResponse, r: RenderedFixture) => {
    const whole = r.gzip ? zlib.gzipSync(r.parts.join("")) : r.parts.length === 1 ? r.parts[0] : undefined;
    const headers: http.OutgoingHttpHeaders = { "content-type": r.contentType };
    if (r.gzip) headers["content-encoding"] = "gzip";
    if (whole === undefined) headers["cache-control"] = "no-cache";
    else headers["content-length"] = Buffer.byteLength(whole);
    res.writeHead(r.status, headers);
    if (r.lagMs > 0) {
      res.flushHeaders();
      await pause(res, r.lagMs);
    }
    if (whole !== undefined) {
      res.end(whole);
      return;
    }
    for (const [i, part] of r.parts.entries()) {
      if (i > 0 && r.gapMs > 0) await pause(res, r.gapMs);
      if (res.destroyed) return;
      await write(res, part);
    }
    if (r.tailMs) await pause(res, r.tailMs);
    res.end();
  };

  const h1 = http.createServer(handle);
  keepAliveWithoutListen(h1);
  h1.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    fake.requests.push({
      method: req.method ?? "",
      path: req.url ?? "",
      httpVersion: req.httpVersion,
      headers: { ...req.headers },
      body: new Uint8Array(0),
    });
    socket.on("error", () => {});
    const query = new URL(req.url ?? "/", "https://fake").searchParams;
    if (query.get("fake") === "refuse") {
      const refusal =
        "HTTP/1.1 426 Upgrade Required\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\nno way\n";
      // `keep=1`: the connection stays open for the next request, as a keep-alive server leaves it.
      if (query.get("keep") === "1") socket.write(refusal);
      else socket.end(refusal);
      return;
    }
    const deflate = /permessage-deflate/i.test(String(req.headers["sec-websocket-extensions"] ?? ""));
    // `final=1`: each compressed message is a whole deflate stream, its last block final (RFC 7692 §7.2.3.4).
    const compression = deflate ? query.get("final") === "1" ? "final" : "flush" : "none";
    const realtime = query.get("fake") === "realtime" ? query.get("model") ?? "gpt-realtime" : undefined;
    serveWebSocket(socket, String(req.headers["sec-websocket-key"] ?? ""), head, compression, realtime);
  });
  server.on("secureConnection", (s: tls.TLSSocket) => {
    s.on("error", () => {});
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    h1.emit("connection", s);
  });
  server.on("connection", (s: Socket) => {
    s.on("error", () => {});
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  fake.port = (server.address() as { port: number }).port;
  fake.close = async () => {
    fake.release();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    h1.close();
    await closed;
  };
  return fake;
}

/** How `?fixture=<file>` is shaped by the other query parameters of the request. */
export interface FixtureOptions {
  /** `model=`: every `model` / `modelVersion` string in the transcript becomes this (a model in the card). */
  model?: string;
  /**
   * `in=`: every prompt count (`input_tokens`, `prompt_tokens`, `promptTokenCount`) becomes this, and the
   * `total_tokens` / `totalTokenCount` beside it moves by the same amount, so each call's usage is unique.
   */
  input?: number;
  /** `status=`: the HTTP status (default 200). */
  status: number;
  /** `gzip=1`: the whole body gzip-encoded. */
  gzip: boolean;
  /** `deltas=`: SSE only, the first `…delta` event sent this many more times (a longer answer). */
  deltas: number;
  /** `lag=`: milliseconds between the response head and the body, as a model takes to answer. */
  lagMs: number;
  /** `gap=`: milliseconds between two parts of a streamed body, as a model's tokens arrive. */
  gapMs: number;
}

/** A fixture ready to send: its status, content type and body parts (one write each). */
export interface RenderedFixture {
  status: number;
  contentType: string;
  gzip: boolean;
  lagMs: number;
  gapMs: number;
  parts: string[];
  /**
   * Milliseconds between the last part and the end of the body, as a real provider's end of stream trails
   * its last event: a client that stops reading at the last event hangs up in between.
   */
  tailMs?: number;
}

const FIXTURES = new URL("../tests/fixtures/providers/", import.meta.url);
const PROMPT_KEYS = ["input_tokens", "prompt_tokens", "promptTokenCount"];
const TOTAL_KEYS = ["total_tokens", "totalTokenCount"];

/** Reads {@linkcode FixtureOptions} from a request's query. */
export function fixtureOptions(query: URLSearchParams): FixtureOptions {
  const int = (name: string) => query.has(name) ? Number(query.get(name)) : undefined;
  return {
    model: query.get("model") ?? undefined,
    input: int("in"),
    status: int("status") ?? 200,
    gzip: query.get("gzip") === "1",
    deltas: int("deltas") ?? 0,
    lagMs: int("lag") ?? 0,
    gapMs: int("gap") ?? 0,
  };
}

/**
 * A transcript of tests/fixtures/providers/ as the fake sends it. `.sse` files go out one event per write,
 * anything else as one JSON body, except that a rewritten JSON array goes out one element per write. Without
 * `model` or `in` the bytes are the file's own.
 */
export async function renderFixture(name: string, options: FixtureOptions): Promise<RenderedFixture> {
  if (!/^[a-z0-9_]+\.(sse|body)$/.test(name)) throw new Error(`not a fixture name: ${name}`);
  const text = await Deno.readTextFile(new URL(name, FIXTURES));
  const rewrite = options.model !== undefined || options.input !== undefined;
  const out = (parts: string[], contentType: string): RenderedFixture => ({
    status: options.status,
    contentType,
    gzip: options.gzip,
    lagMs: options.lagMs,
    gapMs: options.gapMs,
    parts,
  });
  if (name.endsWith(".sse")) {
    let events = text.split(/\n\n/).filter((e) => e.trim()).map((e) => e + "\n\n");
    if (rewrite) events = events.map((e) => rewriteEvent(e, options));
    if (options.deltas > 0) {
      const at = events.findIndex((e) => /"type":\s*"[a-z_.]*[._]delta"/.test(e));
      if (at >= 0) events.splice(at, 0, ...Array(options.deltas).fill(events[at]));
    }
    return out(events, "text/event-stream");
  }
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    const items = rewrite
      ? (JSON.parse(trimmed) as unknown[]).map((v) => JSON.stringify(rewriteValue(v, options)))
      : undefined;
    return out(items ? items.map((v, i) => (i ? ",\n" : "[") + v).concat("]") : [text], "application/json");
  }
  return out([rewrite ? JSON.stringify(rewriteValue(JSON.parse(text), options)) : text], "application/json");
}

function rewriteEvent(event: string, options: FixtureOptions): string {
  return event.replace(/^data: (.*)$/gm, (line, data: string) => {
    if (data === "[DONE]") return line;
    return `data: ${JSON.stringify(rewriteValue(JSON.parse(data), options))}`;
  });
}

/** The value with its model names and prompt counts replaced, as {@linkcode FixtureOptions} says. */
function rewriteValue(value: unknown, options: FixtureOptions): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteValue(v, options));
  if (typeof value !== "object" || value === null) return value;
  const o: Record<string, unknown> = {};
  let moved = 0;
  for (const [k, v] of Object.entries(value)) {
    if (options.model !== undefined && (k === "model" || k === "modelVersion") && typeof v === "string") {
      o[k] = options.model;
    } else if (options.input !== undefined && PROMPT_KEYS.includes(k) && typeof v === "number") {
      moved = options.input - v;
      o[k] = options.input;
    } else {
      o[k] = rewriteValue(v, options);
    }
  }
  for (const k of TOTAL_KEYS) if (moved && typeof o[k] === "number") o[k] = (o[k] as number) + moved;
  return o;
}

/** The `Sec-WebSocket-Accept` answer to a `Sec-WebSocket-Key` (RFC 6455 §4.2.2). */
export function webSocketAccept(key: string): string {
  return createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC11D65").digest("base64");
}

/** One WebSocket frame: `mask` given for client frames (which must be masked), none for a server's. */
export function webSocketFrame(
  opcode: number,
  payload: Uint8Array,
  mask?: Uint8Array,
  rsv1 = false,
): Uint8Array {
  const len = payload.length;
  const first = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  const m = mask ? 0x80 : 0;
  const head = len < 126
    ? [first, m | len]
    : len < 65_536
    ? [first, m | 126, len >> 8, len & 0xff]
    : [first, m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(head.length + (mask ? 4 : 0) + len);
  out.set(head);
  if (mask) out.set(mask, head.length);
  const at = head.length + (mask ? 4 : 0);
  for (let i = 0; i < len; i++) out[at + i] = mask ? payload[i] ^ mask[i % 4] : payload[i];
  return out;
}

/** Reads whole frames off the front of `buf` (payloads ≤ 64 KiB); returns them and what is left over. */
export function readWebSocketFrames(buf: Uint8Array): {
  frames: { opcode: number; payload: Uint8Array }[];
  rest: Uint8Array;
} {
  const frames: { opcode: number; payload: Uint8Array }[] = [];
  let off = 0;
  while (buf.length - off >= 2) {
    const masked = (buf[off + 1] & 0x80) !== 0;
    let len = buf[off + 1] & 0x7f;
    let at = off + 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = (buf[off + 2] << 8) | buf[off + 3];
      at += 2;
    }
    const maskAt = at;
    if (masked) at += 4;
    if (buf.length < at + len) break;
    const payload = buf.slice(at, at + len);
    if (masked) { for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + i % 4]; }
    frames.push({ opcode: buf[off] & 0x0f, payload });
    off = at + len;
  }
  return { frames, rest: buf.slice(off) };
}

/**
 * Answers the upgrade, then: a text message with `"type":"response.create"` is answered like the Responses API
 * over WebSocket (Codex), with the events of `openai_responses_stream.sse` for the message's `model` (and
 * `metadata.in` input tokens), one text message each; any other text message is echoed as `echo:<text>`; a
 * close frame is answered and ends it. When the client offered permessage-deflate it is accepted and every
 * message the fake sends is compressed, keeping the context across messages. With `realtime` (the session's
 * model) it speaks the Realtime API instead: `session.created` first, then for each `input_audio_buffer.commit`
 * (the end of a spoken turn) or `response.create` the events of `openai_realtime_turn.events`, each turn's
 * response with an id of its own.
 */
function serveWebSocket(
  socket: Socket,
  key: string,
  head: Uint8Array,
  compression: "none" | "flush" | "final",
  realtime?: string,
): void {
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
      `sec-websocket-accept: ${webSocketAccept(key)}\r\n` +
      (compression === "none" ? "" : "sec-websocket-extensions: permessage-deflate\r\n") + "\r\n",
  );
  const compressor = compression === "flush" ? zlib.createDeflateRaw() : undefined;
  let sending = Promise.resolve();
  const send = (text: string) => {
    sending = sending.then(async () => {
      const bytes = new TextEncoder().encode(text);
      if (compression === "final") {
        return void socket.write(webSocketFrame(1, zlib.deflateRawSync(bytes), undefined, true));
      }
      if (!compressor) return void socket.write(webSocketFrame(1, bytes));
      const out: Buffer[] = [];
      const onData = (d: Buffer) => out.push(d);
      compressor.on("data", onData);
      compressor.write(bytes);
      await new Promise<void>((r) => compressor.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      compressor.off("data", onData);
      const packed = Buffer.concat(out);
      socket.write(webSocketFrame(1, packed.subarray(0, packed.length - 4), undefined, true));
    });
  };
  const respond = async (text: string) => {
    const ask = JSON.parse(text) as { model?: string; metadata?: { in?: number } };
    const rendered = await renderFixture("openai_responses_stream.sse", {
      ...fixtureOptions(new URLSearchParams()),
      model: ask.model,
      input: ask.metadata?.in,
    });
    for (const line of rendered.parts.join("").split("\n")) {
      if (line.startsWith("data: ")) send(line.slice(6));
    }
  };
  let turns = 0;
  // Read once: turns wait on the same promise, so they are answered in the order they came.
  const turnEvents = realtime
    ? Deno.readTextFile(new URL("openai_realtime_turn.events", FIXTURES))
    : undefined;
  const realtimeTurn = async () => {
    const id = `resp_fake${++turns}`;
    for (const line of (await turnEvents!).split("\n")) if (line) send(line.replaceAll("RESPONSE_ID", id));
  };
  if (realtime) {
    send(
      JSON.stringify({ type: "session.created", session: { object: "realtime.session", model: realtime } }),
    );
  }
  let pending: Uint8Array = new Uint8Array(head);
  const onBytes = (data: Uint8Array) => {
    const joined = new Uint8Array(pending.length + data.length);
    joined.set(pending);
    joined.set(data, pending.length);
    const { frames, rest } = readWebSocketFrames(joined);
    pending = rest;
    for (const f of frames) {
      if (f.opcode === 1) {
        const text = new TextDecoder().decode(f.payload);
        if (realtime) {
          if (/"type"\s*:\s*"(input_audio_buffer\.commit|response\.create)"/.test(text)) {
            realtimeTurn().catch(() => socket.destroy());
          }
        } else if (/"type"\s*:\s*"response\.create"/.test(text)) respond(text).catch(() => socket.destroy());
        else send("echo:" + text);
      } else if (f.opcode === 8) {
        sending.then(() => socket.end(webSocketFrame(8, f.payload)));
        return;
      }
    }
  };
  socket.on("close", () => compressor?.close());
  socket.on("data", onBytes);
  if (pending.length) onBytes(new Uint8Array(0));
}
