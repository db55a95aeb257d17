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
import http from "node:http";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { LeafMinter, loadOrCreateCa } from "../../tls/mod.ts";

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

function write(res: http.ServerResponse, data: string): Promise<void> {
  return new Promise((resolve) => {
    if (res.write(data)) resolve();
    else res.once("drain", () => resolve());
  });
}

async function answer(url: URL, res: http.ServerResponse): Promise<void> {
  const q = (name: string, d: number) => Number(url.searchParams.get(name) ?? d);
  if (url.searchParams.get("stream") === "0") {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(MESSAGE) });
    res.end(MESSAGE);
    return;
  }
  const events = q("events", 3);
  const every = q("every", 0);
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  await write(res, START);
  for (let i = 0; i < events; i++) {
    if (every > 0) await new Promise((r) => setTimeout(r, every));
    if (res.destroyed) return;
    await write(res, DELTA);
  }
  res.end(end(events));
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", "https://bench");
  if (url.pathname === "/seen") {
    const body = JSON.stringify({ bytes: seen.get(url.searchParams.get("id") ?? "") ?? 0 });
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
    return;
  }
  const id = req.headers["x-bench-id"];
  req.on("data", (chunk: Buffer) => {
    if (typeof id === "string") seen.set(id, (seen.get(id) ?? 0) + chunk.length);
  });
  req.on("end", () => answer(url, res).catch(() => res.destroy()));
}

if (import.meta.main) {
  const dir = Deno.args[0];
  const { ca } = await loadOrCreateCa({
    caDir: dir,
    caKeyAndCert: join(dir, "ca.pem"),
    caCert: join(dir, "ca-cert.pem"),
  });
  const minter = new LeafMinter(ca);
  const h1 = http.createServer(handle);
  // Deno's node:http closes keep-alive connections handed over with emit("connection") unless it believes it
  // is listening (denoland/deno#35609); a provider keeps them alive.
  Object.defineProperty(h1, "listening", { get: () => true });
  const server = tls.createServer({
    ALPNProtocols: ["http/1.1"],
    SNICallback: (name, cb) => {
      minter.leafFor(name || "127.0.0.1").then(
        (leaf) => cb(null, tls.createSecureContext({ key: leaf.keyPem, cert: leaf.certPem })),
        (e) => cb(e, undefined),
      );
    },
  });
  server.on("secureConnection", (s: tls.TLSSocket) => {
    s.on("error", () => {});
    h1.emit("connection", s);
  });
  server.on("connection", (s: Socket) => s.on("error", () => {}));
  server.on("tlsClientError", () => {});
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as { port: number }).port;
    console.log(JSON.stringify({ port, caFile: join(dir, "ca-cert.pem") }));
  });
}
