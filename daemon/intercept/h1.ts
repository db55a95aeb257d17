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
import type { OutgoingHttpHeaders } from "node:http";
import type { ClientSide } from "./exchange.ts";
import { indexOfHeadEnd } from "../http1/crlf.ts";
import { BodyReader } from "../http1/body.ts";
import { frameChunk, LAST_CHUNK } from "../http1/chunked.ts";
import { clientKeepsAlive, requestFraming, responseHasNoBody } from "../http1/framing.ts";
import { MAX_HEAD, parseRequestHead, type RequestHead, serializeHead } from "../http1/head.ts";
import { BodyChannel, type BodySink } from "../upstream/flow.ts";
import { type Drain, DRAIN_IDLE_MS } from "./drain.ts";
import { clientReads } from "./client_reads.ts";
import { DISCARD_BYTES, DISCARD_MS, endSoon, IdleTimer } from "./closing.ts";

// Shared for "nothing buffered": never written to, since a zero-length buffer has no bytes.
const EMPTY = Buffer.alloc(0);

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
  let buf: Buffer = EMPTY;
  let state: "head" | "body" | "busy" | "closed" = "head";
  let reader = new BodyReader({ kind: "none" });
  let body: BodyChannel | undefined;
  /** The rest of a request body answered before it ended, being read and dropped. */
  let discard: { left: number; timer: ReturnType<typeof setTimeout> } | undefined;
  const reads = clientReads(socket);
  const idle = new IdleTimer(() => state === "head", () => socket.destroy());
  let onSocketClose: (() => void) | undefined;

  const fail = (status: number, reason: string) => {
    onBadRequest(reason);
    state = "closed";
    refuse(socket, status);
  };

  /** Hands body bytes on, or drops them; false once dropping went past its bounds and the connection ends. */
  const pushBody = (data: Buffer): boolean => {
    if (!discard) {
      body?.push(data);
      return true;
    }
    discard.left -= data.length;
    if (discard.left >= 0) return true;
    stopDiscarding(false);
    return false;
  };
  // The state changes first: the receiver may answer, and so end the exchange, inside end().
  const endBody = () => {
    if (discard) return stopDiscarding(true);
    state = "busy";
    body?.end();
  };
  /** The dropped body ended (`whole`): the next request may come; or it went past its bounds: the end. */
  const stopDiscarding = (whole: boolean) => {
    clearTimeout(discard!.timer);
    discard = undefined;
    if (whole) {
      state = "head";
      idle.waitingSinceNow();
      return;
    }
    state = "closed";
    endSoon(socket);
  };

  // Moves as far as the buffered bytes allow; returns when it needs more or a response must end first.
  const advance = () => {
    while (state !== "closed") {
      if (state === "head") {
        const end = indexOfHeadEnd(buf);
        if (end === -1) {
          if (buf.length > MAX_HEAD) return fail(431, "request head too large");
          return;
        }
        if (end > MAX_HEAD) return fail(431, "request head too large");
        const head = parseRequestHead(buf.subarray(0, end).toString("latin1"));
        buf = buf.subarray(end + 4);
        if (typeof head === "string") return fail(400, head);
        const f = requestFraming(head.headers);
        if (typeof f === "string") return fail(400, f);
        reader = new BodyReader(f);
        const begin = startExchange(head);
        if (reader.kind === "none") endBody();
        else state = "body";
        begin();
        continue;
      }
      if (state === "busy" || !buf.length) return;
      const step = reader.read(buf);
      for (const data of step.data) if (!pushBody(data)) return;
      if (step.error) return fail(400, step.error);
      if (step.rest === undefined) {
        buf = EMPTY;
        return;
      }
      buf = step.rest;
      endBody();
    }
  };

  // Sets up the exchange; the returned function hands it to `onRequest` once the parser state is settled.
  const startExchange = (head: RequestHead): () => void => {
    const expectsBody = reader.kind !== "none";
    if (expectsBody && String(head.headers.expect ?? "").toLowerCase() === "100-continue") {
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    body = new BodyChannel(reads);
    let keepAlive = clientKeepsAlive(head.version, head.headers);
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
      // Answered before the client finished its body (a provider that refused it early). A client that sends
      // its whole body before it reads (Python's http.client) would find the connection ended under it and
      // lose the answer, so the rest is read and dropped, within bounds, and then the connection serves on.
      if (state === "body") {
        body?.abort(new Error("response sent before the request ended"));
        body = undefined;
        discard = { left: DISCARD_BYTES, timer: setTimeout(() => stopDiscarding(false), DISCARD_MS) };
        reads.resume();
        queueMicrotask(advance);
        return;
      }
      state = "head";
      body = undefined;
      idle.waitingSinceNow();
      reads.resume();
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
        idle.stop();
        socket.off("data", onData);
        socket.off("close", onClosed);
        socket.off("end", onEnd);
        const buffered = buf;
        buf = EMPTY;
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
      reads.pause();
      return;
    }
    advance();
  };
  const onClosed = () => {
    state = "closed";
    idle.stop();
    if (discard) clearTimeout(discard.timer);
    discard = undefined;
    onSocketClose?.();
  };
  const onEnd = () => {
    if (state === "head" && !buf.length) socket.end();
  };
  socket.on("data", onData);
  socket.on("close", onClosed);
  socket.on("end", onEnd);
  if (drain) closeIdleOnDrain(socket, drain, () => state === "head" && !buf.length ? idle.since : undefined);
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

/** Answers a malformed request with `status` and closes the connection, giving the answer a second to leave. */
function refuse(socket: Duplex, status: number): void {
  endSoon(
    socket,
    `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
      "connection: close\r\ncontent-length: 0\r\n\r\n",
  );
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
  const empty = responseHasNoBody(method, status);
  const chunked = !empty && headers["content-length"] === undefined;
  let head: Buffer | undefined = serializeHead(
    `HTTP/1.1 ${status} ${message || "OK"}`,
    headers,
    (chunked ? "transfer-encoding: chunked\r\n" : "") + (keepAlive ? "" : "connection: close\r\n"),
  );
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
    parts.push(chunked ? frameChunk(data) : data);
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
