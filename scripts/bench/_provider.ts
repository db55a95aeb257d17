/**
 * Bench only: a provider stand-in run as a process of its own, so that its timers and writes do not share an
 * event loop with the clients that measure it. HTTPS on 127.0.0.1 with a CA of its own (written to the folder
 * given as the first argument), minting a certificate for whatever name a client sends (`api.anthropic.com`
 * through a proxy, `127.0.0.1` directly). It prints `{"port":…,"caFile":…}` on one line once it listens.
 *
 * `POST /v1/messages` reads the request body to its end, like a provider, then answers an Anthropic Messages
 * SSE stream: `events=N` text deltas (default 3), `every=MS` apart (default 0: back to back); `stream=0`
 * answers the JSON message instead. A request with `x-bench-id: ID` has the body bytes received so far
 * counted under that id, and `GET /seen?id=ID` answers the count: the bench learns whether a proxy forwards
 * the start of an upload before the client has sent the rest.
 *
 * @module
 */
import tls from "node:tls";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { providerTlsServer } from "../../testkit/tls_server.ts";

/** The model every answer names: one the rate card prices, so every row gets a cost. */
export const MODEL = "claude-sonnet-4-5-20250929";

const START = `event: message_start\ndata: ${
  JSON.stringify({
    type: "message_start",
    message: {
      id: "msg_bench",
      type: "message",
      role: "assistant",
      model: MODEL,
      content: [],
      usage: { input_tokens: 25, output_tokens: 1 },
    },
  })
}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`;
const DELTA =
  `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"word "}}\n\n`;
const end = (events: number) =>
  `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n` +
  `event: message_delta\ndata: ${
    JSON.stringify({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: events },
    })
  }\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`;
const MESSAGE = JSON.stringify({
  id: "msg_bench",
  type: "message",
  role: "assistant",
  model: MODEL,
  content: [{ type: "text", text: "Hello." }],
  stop_reason: "end_turn",
  usage: { input_tokens: 25, output_tokens: 3 },
});

/** Body bytes received per `x-bench-id`; a few ids per bench run, so never pruned. */
const seen = new Map<string, number>();

/** One request head. */
interface Head {
  method: string;
  url: URL;
  headers: Map<string, string>;
}

/** Wake-ups due, by time; one ticker serves them all (500 streams would otherwise be 10,000 timers a second). */
const due: { at: number; wake: () => void }[] = [];
const TICK_MS = 2;
let ticker: ReturnType<typeof setInterval> | undefined;

/** Resolves at `time` (performance.now()), to within {@linkcode TICK_MS}. */
function at(time: number): Promise<void> {
  return new Promise((wake) => {
    due.push({ at: time, wake });
    ticker ??= setInterval(() => {
      const now = performance.now();
      let kept = 0;
      for (const d of due) {
        if (d.at <= now) d.wake();
        else due[kept++] = d;
      }
      due.length = kept;
      if (!kept) {
        clearInterval(ticker);
        ticker = undefined;
      }
    }, TICK_MS);
  });
}

/** Writes `data`, waiting for the socket to drain when its buffer is full. */
function send(socket: tls.TLSSocket, data: string): Promise<void> {
  return new Promise((resolve) => {
    if (socket.write(data)) resolve();
    else socket.once("drain", () => resolve());
  });
}

/** Answers one request on a keep-alive connection (chunked framing for the stream). */
async function answer(socket: tls.TLSSocket, head: Head): Promise<void> {
  const { url } = head;
  // A client asking to close gets its answer and the end of the connection, as from any HTTP/1.1 server.
  const close = /\bclose\b/i.test(head.headers.get("connection") ?? "") ? "connection: close\r\n" : "";
  const q = (name: string, d: number) => Number(url.searchParams.get(name) ?? d);
  const whole = (type: string, body: string) =>
    send(
      socket,
      `HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\ncontent-length: ${
        Buffer.byteLength(body)
      }\r\n${close}\r\n${body}`,
    );
  if (url.pathname === "/seen") {
    return await whole(
      "application/json",
      JSON.stringify({ bytes: seen.get(url.searchParams.get("id") ?? "") ?? 0 }),
    );
  }
  if (url.searchParams.get("stream") === "0") return await whole("application/json", MESSAGE);
  const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
  const events = q("events", 3);
  const every = q("every", 0);
  const start = performance.now();
  await send(
    socket,
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n" +
      `transfer-encoding: chunked\r\n${close}\r\n${chunk(START)}`,
  );
  for (let i = 0; i < events; i++) {
    if (every > 0) await at(start + (i + 1) * every);
    if (socket.destroyed) return;
    await send(socket, chunk(DELTA));
  }
  await send(socket, `${chunk(end(events))}0\r\n\r\n`);
}

function parseHead(text: string): Head | undefined {
  const lines = text.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0]);
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { method: m[1], url: new URL(m[2], "https://bench"), headers };
}

/**
 * Serves HTTP/1.1 on one connection: a head, its body read to the end (by length or chunked), the answer,
 * then the next request. node:http is not used: in Deno it reads a large upload many times slower than the
 * proxies under test, which would make the stand-in the bottleneck of the upload rows.
 */
function serveConnection(socket: tls.TLSSocket): void {
  let buf: Buffer = Buffer.alloc(0);
  let head: Head | undefined;
  let id: string | undefined;
  // Body left to read: a byte count, or chunked framing (`chunkLeft` of the current chunk, -1 between chunks).
  let lengthLeft = 0;
  let chunked = false;
  let chunkLeft = -1;
  let busy = false;
  const count = (n: number) => {
    if (id !== undefined) seen.set(id, (seen.get(id) ?? 0) + n);
  };
  const step = (): void => {
    while (!busy) {
      if (!head) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        head = parseHead(buf.subarray(0, end).toString("latin1"));
        buf = buf.subarray(end + 4);
        if (!head) return void socket.destroy();
        id = head.headers.get("x-bench-id");
        chunked = /chunked/i.test(head.headers.get("transfer-encoding") ?? "");
        lengthLeft = chunked ? 0 : Number(head.headers.get("content-length") ?? 0);
        chunkLeft = -1;
      }
      if (!bodyRead()) return;
      const h = head;
      head = undefined;
      busy = true;
      answer(socket, h).then(() => {
        if (/\bclose\b/i.test(h.headers.get("connection") ?? "")) return void socket.end();
        busy = false;
        step();
      }, () => socket.destroy());
    }
  };
  // Consumes body bytes from `buf`; true once the whole body is in.
  const bodyRead = (): boolean => {
    if (!chunked) {
      const n = Math.min(lengthLeft, buf.length);
      count(n);
      lengthLeft -= n;
      buf = buf.subarray(n);
      return lengthLeft === 0;
    }
    while (true) {
      if (chunkLeft > 0) {
        const n = Math.min(chunkLeft, buf.length);
        count(n);
        chunkLeft -= n;
        buf = buf.subarray(n);
        if (chunkLeft > 0) return false;
        chunkLeft = -2;
      }
      const eol = buf.indexOf("\r\n");
      if (eol === -1) return false;
      const line = buf.subarray(0, eol).toString("latin1");
      buf = buf.subarray(eol + 2);
      if (chunkLeft === -2) {
        // The CRLF after a chunk's data.
        chunkLeft = -1;
        continue;
      }
      const size = parseInt(line, 16);
      if (size === 0) {
        // No trailers: the blank line that ends the body.
        const blank = buf.indexOf("\r\n");
        if (blank === -1) {
          buf = Buffer.concat([Buffer.from(line + "\r\n"), buf]);
          return false;
        }
        buf = buf.subarray(blank + 2);
        return true;
      }
      chunkLeft = size;
    }
  };
  socket.on("data", (data: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, data]) : data;
    step();
  });
}

if (import.meta.main) {
  const { server, caFile } = await providerTlsServer(Deno.args[0]);
  server.on("secureConnection", (s: tls.TLSSocket) => {
    s.on("error", () => {});
    serveConnection(s);
  });
  server.on("connection", (s: Socket) => {
    s.on("error", () => {});
    // As providers' servers do (node:http does by default). With Nagle's algorithm a small write waits for the
    // ACK of the last one, which the client delays by 40 ms or more: a stream's events after its first come late.
    s.setNoDelay(true);
  });
  server.on("tlsClientError", () => {});
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as { port: number }).port;
    console.log(JSON.stringify({ port, caFile }));
  });
}
