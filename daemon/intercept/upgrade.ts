/**
 * Protocol upgrades on HTTP/1.1 connections (WebSocket: OpenAI's Realtime API, Gemini Live, Codex over
 * WebSocket). The request goes upstream on a connection of its own with its upgrade headers; once the provider
 * has switched protocols, the bytes flow both ways unchanged until either side closes; the call is logged with
 * its byte counts. A refusal is passed on whole and then the connection ends: it never became a WebSocket,
 * and what its client would send next on it must go the ordinary, metered way. On a metered Responses path
 * (Codex) or OpenAI's Realtime path a copy of the WebSocket messages is read and each response is metered
 * (ws_metering.ts); other upgraded traffic (Gemini Live) is passed on unread.
 *
 * @module
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import type { Tunnel } from "../upstream/pool.ts";
import { latin1Bytes } from "../http1/latin1.ts";
import { headerLines, MAX_HEAD, parseResponseHead } from "../http1/head.ts";
import { answerUpstreamFailure, type ClientSide, type ExchangeContext } from "./exchange.ts";
import type { HeaderMap } from "./seam.ts";
import {
  realtimeOverWebSocket,
  responsesOverWebSocket,
  webSocketApi,
  type WsUpgrade,
} from "./ws_metering.ts";
import type { ConnMeta } from "./tls_front.ts";
import { indexOfHeadEnd } from "../http1/crlf.ts";
import { DISCARD } from "../upstream/flow.ts";
import { responseFraming } from "../http1/framing.ts";
import { BodyReader } from "../http1/body.ts";
import { pauseReads, resumeReads } from "./client_reads.ts";

const READ_SIZE = 64 * 1024;

// Meant for us, or for one hop only; `connection` and `upgrade` are what this request is about, so they stay.
const DROPPED = new Set(["proxy-connection", "proxy-authorization", "keep-alive", "te", "trailer"]);

/** A client side that can hand its connection over. */
export type Upgradable = ClientSide & Required<Pick<ClientSide, "takeOver">>;

/**
 * True for a request opening a WebSocket (`Connection: upgrade`, `Upgrade: websocket`) with no body. Other
 * upgrades (`h2c`) and upgrade requests carrying a body go the ordinary way, their upgrade headers dropped, so
 * the provider answers them as plain requests.
 */
export function isUpgrade(headers: IncomingHttpHeaders): boolean {
  return /^\s*websocket\s*$/i.test(String(headers.upgrade ?? "")) &&
    /(^|,)\s*upgrade\s*(,|$)/i.test(String(headers.connection ?? "")) &&
    headers["transfer-encoding"] === undefined && Number(headers["content-length"] ?? 0) === 0;
}

/** True when `client` asks for an upgrade over a connection that can be handed over (HTTP/1.1). */
export function wantsUpgrade(client: ClientSide): client is Upgradable {
  return client.takeOver !== undefined && isUpgrade(client.headers);
}

/** The request head sent upstream: the client's, less the headers meant for the proxy. */
export function upgradeHead(client: Pick<ClientSide, "method" | "path" | "headers">): string {
  return `${client.method} ${client.path} HTTP/1.1\r\n${headerLines(client.headers, DROPPED)}\r\n`;
}

/** Forwards an upgrade request and, once answered, splices the client's connection to the provider's. */
export async function forwardUpgrade(
  ctx: ExchangeContext,
  meta: ConnMeta,
  client: Upgradable,
): Promise<void> {
  const t0 = performance.now();
  const path = client.path.split("?")[0];
  ctx.stats.exchanges++;
  ctx.stats.active++;
  client.body.receive(DISCARD);
  let tunnel: Tunnel | undefined;
  let answer: Answer;
  try {
    tunnel = await ctx.pool.open({ host: meta.host, port: meta.port });
    await writeAll(tunnel.conn, latin1Bytes(upgradeHead(client)));
    answer = await readHead(tunnel.conn);
  } catch (e) {
    tunnel?.close();
    ctx.stats.active--;
    ctx.stats.failed++;
    const message = (e as Error).message;
    ctx.log.info("intercept.complete", { host: meta.host, path, status: 0, complete: false, error: message });
    answerUpstreamFailure(client, message);
    return;
  }
  if (answer.status !== 101) return passRefusal(ctx, meta, client, tunnel, answer, t0);
  const { conn } = tunnel;
  const { socket, buffered } = client.takeOver();
  let up = buffered.length;
  let down = answer.rest.length;
  let ended = false;
  const metered = answer.status === 101 && ctx.isMetered(meta.host) &&
    ctx.hook.meters?.(meta.host, "POST", path);
  const upgrade: WsUpgrade = {
    meta,
    path: client.path,
    model: new URLSearchParams(client.path.slice(path.length)).get("model") ?? undefined,
    requestHeaders: client.headers as HeaderMap,
    responseHeaders: answer.headers,
    hook: ctx.hook,
    onCycle: () => ctx.stats.metered++,
  };
  const tap = !metered
    ? undefined
    : webSocketApi(path) === "realtime"
    ? realtimeOverWebSocket(upgrade)
    : responsesOverWebSocket(upgrade);
  const end = (error?: string) => {
    if (ended) return;
    ended = true;
    ctx.stats.active--;
    tap?.close(error);
    tunnel.close();
    socket.destroy();
    logUpgraded(ctx, meta, client, answer.status, { up, down, t0, error });
  };
  socket.on("error", (e: Error) => end(e.message));
  socket.on("close", () => end());
  socket.write(Buffer.concat([answer.head, answer.rest]));
  tap?.fromProvider(answer.rest);
  // Client to provider: one write at a time, the client paused meanwhile, so a slow provider holds it back.
  const toProvider = (chunk: Uint8Array) => {
    up += chunk.length;
    tap?.fromClient(chunk);
    pauseReads(socket);
    writeAll(conn, chunk).then(() => resumeReads(socket), (e) => end((e as Error).message));
  };
  if (buffered.length) toProvider(buffered);
  socket.on("data", toProvider);
  socket.on("end", () => conn.closeWrite().catch(() => end()));
  resumeReads(socket);
  // Provider to client, with the client's backpressure.
  const buf = new Uint8Array(READ_SIZE);
  try {
    while (!ended) {
      const n = await conn.read(buf);
      if (n === null) break;
      down += n;
      const chunk = Buffer.from(buf.subarray(0, n));
      tap?.fromProvider(chunk);
      if (!socket.write(chunk)) await drained(socket);
    }
    socket.end();
  } catch (e) {
    end((e as Error).message);
  }
}

/**
 * Passes on a provider's refusal of an upgrade (its head, and its body as framed), then ends the client's
 * connection.
 */
async function passRefusal(
  ctx: ExchangeContext,
  meta: ConnMeta,
  client: Upgradable,
  tunnel: Tunnel,
  answer: Answer,
  t0: number,
): Promise<void> {
  const { socket } = client.takeOver();
  socket.on("error", () => {});
  const framing = responseFraming(client.method, answer.status, answer.headers);
  const reader = new BodyReader(typeof framing === "string" ? { kind: "close" } : framing);
  let down = 0;
  let error: string | undefined;
  socket.write(answer.head);
  try {
    let chunk = Buffer.from(answer.rest);
    const buf = new Uint8Array(READ_SIZE);
    while (true) {
      const { rest } = reader.read(chunk);
      const body = rest === undefined ? chunk : chunk.subarray(0, chunk.length - rest.length);
      down += body.length;
      if (body.length && !socket.write(body)) await drained(socket);
      if (rest !== undefined) break;
      const n = await tunnel.conn.read(buf);
      if (n === null) break;
      chunk = Buffer.from(buf.subarray(0, n));
    }
  } catch (e) {
    error = (e as Error).message;
  }
  socket.end();
  tunnel.close();
  ctx.stats.active--;
  logUpgraded(ctx, meta, client, answer.status, { up: 0, down, t0, error });
}

/** The upgrade's one log line, once its connection ended: what it answered and what it carried each way. */
function logUpgraded(
  ctx: ExchangeContext,
  meta: ConnMeta,
  client: Upgradable,
  status: number,
  carried: { up: number; down: number; t0: number; error?: string },
): void {
  ctx.log.info("intercept.upgraded", {
    host: meta.host,
    path: client.path.split("?")[0],
    status,
    upgrade: String(client.headers.upgrade),
    bytes_up: carried.up,
    bytes_down: carried.down,
    duration_ms: Math.round(performance.now() - carried.t0),
    error: carried.error,
  });
}

/** The provider's answer to the upgrade request, and the bytes that came after its head. */
interface Answer {
  head: Uint8Array;
  rest: Uint8Array;
  status: number;
  headers: HeaderMap;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Reads the provider's response head; what came after it is returned too. */
async function readHead(conn: Deno.Conn): Promise<Answer> {
  let got = new Uint8Array(0);
  const buf = new Uint8Array(READ_SIZE);
  while (true) {
    const end = indexOfHeadEnd(got);
    if (end !== -1) {
      const parsed = parseResponseHead(Buffer.from(got.subarray(0, end)).toString("latin1"));
      if (typeof parsed === "string") throw new Error(`upstream sent ${parsed}`);
      return {
        head: got.subarray(0, end + 4),
        rest: got.subarray(end + 4),
        status: parsed.status,
        headers: parsed.headers as HeaderMap,
      };
    }
    if (got.length > MAX_HEAD) throw new Error("upstream sent a response head too large");
    const n = await conn.read(buf);
    if (n === null) throw new Error("upstream closed before answering");
    const next = new Uint8Array(got.length + n);
    next.set(got);
    next.set(buf.subarray(0, n), got.length);
    got = next;
  }
}

function drained(socket: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}
