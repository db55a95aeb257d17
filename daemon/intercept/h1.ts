/**
 * A small HTTP/1.1 server loop for intercepted connections. Deno's `node:http` server, fed connections with
 * `emit("connection")`, closes keep-alive connections after each response (denoland/deno#35609) and now and
 * then stops reading after a large response; clients would pay a new CONNECT and TLS handshake per request.
 * This loop owns framing and keep-alive itself: one request at a time per connection, bodies streamed both
 * ways with backpressure, chunked or length-delimited exactly as the headers say.
 *
 * @module
 */
import type { Duplex } from "node:stream";
import { setImmediate } from "node:timers";
import { Buffer } from "node:buffer";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { ClientSide } from "./exchange.ts";
import { latin1Bytes } from "../upstream/latin1.ts";
import { indexOfCrlf, indexOfHeadEnd } from "../upstream/crlf.ts";
import { BodyChannel, type BodySink } from "../upstream/flow.ts";
import { type Drain, DRAIN_IDLE_MS } from "./drain.ts";

/** The largest request head accepted. */
export const MAX_REQUEST_HEAD = 64 * 1024;
/** How long a kept-alive connection may sit idle between requests. */
const IDLE_MS = 120_000;

const CRLF = Buffer.from("\r\n");
const LAST_CHUNK = Buffer.from("0\r\n\r\n");
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A parsed request head. */
export interface RequestHead {
  method: string;
  target: string;
  /** `1.0` or `1.1`. */
  version: string;
  headers: IncomingHttpHeaders;
}

/** Parses a request head (without its final blank line); a string says why it is malformed. */
export function parseRequestHead(text: string): RequestHead | string {
  const lines = text.split("\r\n");
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(1\.[01])$/.exec(lines[0]);
  if (!m) return "malformed request line";
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) return "malformed header line";
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers[key];
    if (prev === undefined) headers[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[key] = [prev, value];
  }
  return { method: m[1], target: m[2], version: m[3], headers: headers as IncomingHttpHeaders };
}

type Framing = { kind: "none" } | { kind: "length"; remaining: number } | { kind: "chunked" };

function requestFraming(h: IncomingHttpHeaders): Framing | string {
  const te = h["transfer-encoding"];
  const cl = h["content-length"];
  if (te !== undefined) {
    // Both headers, or a coding other than chunked last, is how request smuggling starts: refuse.
    if (cl !== undefined) return "both transfer-encoding and content-length";
    const codings = String(te).toLowerCase().split(",").map((s) => s.trim());
    if (codings.at(-1) !== "chunked") return "unsupported transfer-encoding";
    return { kind: "chunked" };
  }
  if (cl === undefined) return { kind: "none" };
  const values = String(cl).split(",").map((s) => s.trim());
  if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) return "malformed content-length";
  const n = Number(values[0]);
  return n === 0 ? { kind: "none" } : { kind: "length", remaining: n };
}

/**
 * Serves HTTP/1.1 on `socket` (already TLS): `onRequest` gets each request in turn; the next one is read
 * only after its response ended. `onBadRequest` is told why a malformed request closed the connection.
 */
export function serveHttp1(
  socket: Duplex,
  onRequest: (client: ClientSide) => void,
  onBadRequest: (reason: string) => void,
  drain?: Drain,
): void {
  let buf: Buffer = Buffer.alloc(0);
  let state: "head" | "body" | "busy" | "closed" = "head";
  let framing: Framing = { kind: "none" };
  let chunk: "size" | "data" | "data-crlf" | "trailer" = "size";
  let chunkLeft = 0;
  let body: BodyChannel | undefined;
  // One timer per connection that re-arms itself, rather than a new timer for every request: when it fires
  // it closes the connection only if it has waited for a request head for the whole idle time.
  let idleSince = Date.now();
  let idle: ReturnType<typeof setTimeout> | undefined;
  let onSocketClose: (() => void) | undefined;
  const checkIdle = () => {
    const left = state === "head" ? IDLE_MS - (Date.now() - idleSince) : IDLE_MS;
    if (left <= 0) socket.destroy();
    else idle = setTimeout(checkIdle, left);
  };

  const fail = (status: number, reason: string) => {
    onBadRequest(reason);
    state = "closed";
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
        "connection: close\r\ncontent-length: 0\r\n\r\n",
    );
    const linger = setTimeout(() => socket.destroy(), 1000);
    socket.once("close", () => clearTimeout(linger));
  };

  const pushBody = (data: Buffer) => body?.push(data);
  // The state changes first: the receiver may answer, and so end the exchange, inside end().
  const endBody = () => {
    state = "busy";
    body?.end();
  };

  // Moves as far as the buffered bytes allow; returns when it needs more or a response must end first.
  const advance = () => {
    while (state !== "closed") {
      if (state === "head") {
        const end = indexOfHeadEnd(buf);
        if (end === -1) {
          if (buf.length > MAX_REQUEST_HEAD) return fail(431, "request head too large");
          return;
        }
        if (end > MAX_REQUEST_HEAD) return fail(431, "request head too large");
        const head = parseRequestHead(buf.subarray(0, end).toString("latin1"));
        buf = buf.subarray(end + 4);
        if (typeof head === "string") return fail(400, head);
        const f = requestFraming(head.headers);
        if (typeof f === "string") return fail(400, f);
        framing = f;
        chunk = "size";
        const begin = startExchange(head);
        if (framing.kind === "none") endBody();
        else state = "body";
        begin();
        continue;
      }
      if (state === "busy") return;
      if (framing.kind === "length") {
        if (!buf.length) return;
        const take = Math.min(buf.length, framing.remaining);
        pushBody(buf.subarray(0, take));
        buf = buf.subarray(take);
        framing.remaining -= take;
        if (framing.remaining === 0) endBody();
        continue;
      }
      // Chunked request body.
      if (chunk === "data") {
        if (!buf.length) return;
        const take = Math.min(buf.length, chunkLeft);
        pushBody(buf.subarray(0, take));
        buf = buf.subarray(take);
        chunkLeft -= take;
        if (chunkLeft === 0) chunk = "data-crlf";
        continue;
      }
      const eol = indexOfCrlf(buf);
      if (eol === -1) {
        if (buf.length > 4096) return fail(400, "malformed chunked body");
        return;
      }
      const line = buf.subarray(0, eol).toString("latin1");
      buf = buf.subarray(eol + 2);
      if (chunk === "data-crlf") {
        if (line !== "") return fail(400, "malformed chunked body");
        chunk = "size";
      } else if (chunk === "size") {
        const m = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(line);
        if (!m) return fail(400, "malformed chunk size");
        chunkLeft = parseInt(m[1], 16);
        chunk = chunkLeft === 0 ? "trailer" : "data";
      } else if (line === "") {
        endBody();
      }
    }
  };

  // Sets up the exchange; the returned function hands it to `onRequest` once the parser state is settled.
  const startExchange = (head: RequestHead): () => void => {
    const expectsBody = framing.kind !== "none";
    if (expectsBody && String(head.headers.expect ?? "").toLowerCase() === "100-continue") {
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    body = new BodyChannel(socket);
    const connection = String(head.headers.connection ?? "").toLowerCase();
    let keepAlive = head.version === "1.1"
      ? !/\bclose\b/.test(connection)
      : /\bkeep-alive\b/.test(connection);
    let responded = false;
    let finished = false;
    const closeListeners: (() => void)[] = [];
    const done = () => {
      finished = true;
      onSocketClose = undefined;
      for (const cb of closeListeners.splice(0)) cb();
      if (!keepAlive || state === "closed") {
        state = "closed";
        socket.end();
        return;
      }
      // A client that stops mid-body before our answer leaves bytes we cannot frame: close instead.
      if (state === "body") {
        state = "closed";
        socket.destroy();
        return;
      }
      state = "head";
      body = undefined;
      idleSince = Date.now();
      socket.resume();
      // The response may end inside `onRequest`, while `advance` is still on the stack.
      queueMicrotask(advance);
    };
    const client: ClientSide = {
      method: head.method,
      path: head.target,
      httpVersion: head.version,
      headers: head.headers,
      body,
      respond(status, message, headers) {
        if (responded) throw new Error("response already started");
        responded = true;
        // A draining daemon ends each connection after the response in flight: `connection: close`.
        if (drain?.draining) keepAlive = false;
        return responseWriter(socket, head.method, status, message, headers, keepAlive, done);
      },
      abort() {
        state = "closed";
        socket.destroy();
      },
      onClose(cb) {
        closeListeners.push(cb);
      },
      get finished() {
        return finished;
      },
      takeOver() {
        if (responded) throw new Error("response already started");
        responded = true;
        state = "closed";
        onSocketClose = undefined;
        clearTimeout(idle);
        socket.off("data", onData);
        socket.off("close", onClosed);
        socket.off("end", onEnd);
        const buffered = buf;
        buf = Buffer.alloc(0);
        return { socket, buffered };
      },
    };
    onSocketClose = () => {
      body?.abort(new Error("client closed"));
      for (const cb of closeListeners.splice(0)) cb();
    };
    return () => onRequest(client);
  };

  const onData = (data: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, data]) : data;
    if (state === "busy") {
      // The next request is early (pipelined): hold it until this response ends.
      socket.pause();
      return;
    }
    advance();
  };
  const onClosed = () => {
    state = "closed";
    clearTimeout(idle);
    onSocketClose?.();
  };
  const onEnd = () => {
    if (state === "head" && !buf.length) socket.end();
  };
  socket.on("data", onData);
  socket.on("close", onClosed);
  socket.on("end", onEnd);
  idle = setTimeout(checkIdle, IDLE_MS);
  if (drain) closeIdleOnDrain(socket, drain, () => state === "head" && !buf.length ? idleSince : undefined);
}

/**
 * During a drain, ends `socket` once it has been idle for {@linkcode DRAIN_IDLE_MS}; `idleSince` says since
 * when it waits for a request head (undefined while a request is under way). A client that sends its next
 * request first has it answered, with `connection: close`.
 */
function closeIdleOnDrain(socket: Duplex, drain: Drain, idleSince: () => number | undefined): void {
  let sweep: ReturnType<typeof setInterval> | undefined;
  const forget = drain.onStart(() => {
    sweep = setInterval(() => {
      const since = idleSince();
      if (since !== undefined && Date.now() - since >= DRAIN_IDLE_MS) {
        clearInterval(sweep);
        socket.end();
      }
    }, 100);
  });
  socket.once("close", () => {
    forget();
    clearInterval(sweep);
  });
}

function noBody(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

// Heads still waiting for their first body bytes. One immediate per turn of the event loop sends those still
// waiting then, rather than an immediate of their own: set and cleared per response, those cost more than
// the rest of the response head's handling.
const waitingHeads = new Set<() => void>();
let headsTimer: ReturnType<typeof setImmediate> | undefined;

function sendHeadSoon(flush: () => void): void {
  waitingHeads.add(flush);
  headsTimer ??= setImmediate(() => {
    headsTimer = undefined;
    const due = [...waitingHeads];
    waitingHeads.clear();
    for (const f of due) f();
  });
}

/**
 * Returns the sink for the response body, framed as the headers say. The head goes out with the first body
 * bytes (or the end) in one write, so a small response is one TLS record and one syscall instead of two or
 * four; when the body is slow to start (a stream that has not sent its first event yet) the head is sent on
 * its own once the current I/O turn is over, so the client still sees it at once. The response counts as
 * delivered once the connection has taken its last bytes (drained), and `done` then frees the connection for
 * the next request.
 */
function responseWriter(
  socket: Duplex,
  method: string,
  status: number,
  message: string,
  headers: OutgoingHttpHeaders,
  keepAlive: boolean,
  done: () => void,
): BodySink {
  const empty = noBody(method, status);
  const chunked = !empty && headers["content-length"] === undefined;
  let text = `HTTP/1.1 ${status} ${message || "OK"}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) { for (const v of value) text += `${name}: ${v}\r\n`; }
    else text += `${name}: ${value}\r\n`;
  }
  if (chunked) text += "transfer-encoding: chunked\r\n";
  if (!keepAlive) text += "connection: close\r\n";
  let head: Buffer | undefined = latin1Bytes(text + "\r\n");
  const takeHead = (): Buffer[] => {
    if (!head) return [];
    const h = head;
    head = undefined;
    waitingHeads.delete(flushHead);
    return [h];
  };
  const flushHead = () => {
    if (head && !socket.destroyed) socket.write(takeHead()[0]);
  };
  sendHeadSoon(flushHead);
  const frame = (parts: Buffer[], data: Buffer) => {
    if (chunked) parts.push(latin1Bytes(data.length.toString(16) + "\r\n"), data, CRLF);
    else parts.push(data);
  };
  let drain: (() => void) | undefined;
  let ended = false;
  return {
    write(data) {
      // A gone client is noticed by the connection's close, which ends the exchange.
      if (empty || !data.length || ended || socket.destroyed) return true;
      const parts = takeHead();
      frame(parts, data);
      return socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    },
    end(last, delivered) {
      if (ended) return;
      ended = true;
      if (drain) socket.off("drain", drain);
      if (socket.destroyed) {
        waitingHeads.delete(flushHead);
        return delivered?.(false);
      }
      const parts = takeHead();
      if (last?.length && !empty) frame(parts, last);
      if (chunked) parts.push(LAST_CHUNK);
      if (parts.length) socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
      if (!socket.writableNeedDrain) {
        done();
        return delivered?.(true);
      }
      const settle = (ok: boolean) => {
        socket.off("drain", onDrain);
        socket.off("close", onClose);
        if (ok) done();
        delivered?.(ok);
      };
      const onDrain = () => settle(true);
      const onClose = () => settle(false);
      socket.once("drain", onDrain);
      socket.once("close", onClose);
    },
    onDrain(cb) {
      if (drain) socket.off("drain", drain);
      drain = cb;
      socket.on("drain", cb);
    },
  };
}
