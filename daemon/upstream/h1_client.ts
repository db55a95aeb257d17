/**
 * One HTTP/1.1 request to a provider over a pooled connection, written by hand: Deno's `node:https` client
 * loses the body of a streamed request on a reused keep-alive connection now and then (the request hangs),
 * and a meter must never hang a call. The request body goes out as it arrives (length-delimited when the
 * client said its length, chunked otherwise), with the head in the same write as its first bytes; the response
 * comes back as a {@linkcode BodySource} with backpressure; a connection is returned to the pool only when
 * both messages ended cleanly. A reused connection that turns out to be closed before any response byte is
 * retried once on a fresh one, when the body sent so far was kept.
 *
 * @module
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Buffer } from "node:buffer";
import { BodyReader } from "../http1/body.ts";
import { frameChunk, LAST_CHUNK } from "../http1/chunked.ts";
import { forwardableResponseHeaders, responseFraming } from "../http1/framing.ts";
import { MAX_HEAD, parseResponseHead, serializeHead } from "../http1/head.ts";
import type { ConnOwner, UpstreamConn } from "./conn.ts";
import { indexOfHeadEnd } from "../http1/crlf.ts";
import { BodyChannel, type BodySink, type BodySource } from "./flow.ts";

/** A connection from the pool; `reused` when it already carried a request. */
export interface Lease {
  socket: UpstreamConn;
  reused: boolean;
}

/** How a call gets and returns connections. */
export interface Connections {
  /** An idle connection at once when there is one (and `fresh` is false), else a new one later. */
  acquire(fresh: boolean): Lease | Promise<Lease>;
  /** Gives back a connection that is clean and may carry another request; `idleMs` from `Keep-Alive`. */
  release(socket: UpstreamConn, idleMs?: number): void;
}

/** The response of an {@linkcode UpstreamCall}: its status and headers, and its body to receive. */
export interface UpstreamResponse {
  statusCode: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  /** Aborted when the provider resets or breaks the framing before the body's end. */
  body: BodySource;
}

/** What an {@linkcode UpstreamCall} tells its caller: a response, or why none could be had. */
export interface UpstreamHandlers {
  response(res: UpstreamResponse): void;
  /** No response: connecting failed, or the connection failed before a response head. */
  error(e: Error): void;
}

/** Request bytes kept for a retry on a stale connection; a longer body is not retried. */
const MAX_RETRY_BODY = 1024 * 1024;
/**
 * Request bytes written but not yet taken by the connection before the sender is asked to pause. At 64 KB a
 * 1 MB prompt paused and resumed the client's TLS socket after nearly every chunk, which cost about 1.5 ms of
 * the added time to its first streamed byte (scripts/bench/upload.ts). The first 1 MB of a body is held anyway
 * (for a retry, and on a metered host for metering), as the same buffers, so chunks waiting up to that cost
 * no memory of their own.
 */
const HIGH_WATER = 1024 * 1024;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
// Shared by every call for "nothing buffered": never written to, since a zero-length buffer has no bytes.
const EMPTY = Buffer.alloc(0);

/** One connection's share of a call: a retry starts a new one, and late news of the old one is ignored. */
interface Attempt {
  socket: UpstreamConn;
  /** Writes not yet finished. */
  writes: number;
}

/**
 * A request in flight: {@linkcode UpstreamCall.write} its body, then {@linkcode UpstreamCall.end} it. The
 * handlers hear of the response or of the failure to get one.
 */
export class UpstreamCall implements BodySink {
  readonly #method: string;
  readonly #path: string;
  readonly #headers: OutgoingHttpHeaders;
  readonly #conns: Connections;
  readonly #handlers: UpstreamHandlers;
  #attempt?: Attempt;
  /** Bytes written before a connection was leased, sent with the lease. */
  #queued: Buffer[] = [];
  #reused = false;
  #retried = false;
  #head?: Buffer;
  #chunked = false;
  #kept: Buffer[] | null = [];
  #keptBytes = 0;
  /** Bytes handed to a connection or queued and not yet written. */
  #unsent = 0;
  #needDrain = false;
  #drain?: () => void;
  #ended = false;
  #delivered?: (ok: boolean) => void;
  #requestDone = false;
  #buf: Buffer = EMPTY;
  #body?: BodyChannel;
  #reader?: BodyReader;
  #responseDone = false;
  #reusable = true;
  #idleMs?: number;
  #gotBytes = false;
  /** Given back, failed or destroyed: nothing more is sent and the caller hears nothing more. */
  #gone = false;

  constructor(
    req: { method: string; path: string; headers: OutgoingHttpHeaders },
    conns: Connections,
    handlers: UpstreamHandlers,
  ) {
    this.#method = req.method.toUpperCase();
    this.#path = req.path;
    this.#headers = req.headers;
    this.#conns = conns;
    this.#handlers = handlers;
    this.#lease(false);
  }

  write(chunk: Buffer): boolean {
    if (this.#gone || this.#ended) return true;
    if (!chunk.length) return !this.#needDrain;
    this.#keep(chunk);
    // Head and framing go out with the data in one write: one TLS record and one syscall per chunk.
    const head = this.#head ? undefined : this.#headFor(false);
    const framed = this.#framed(chunk);
    this.#send(head ? Buffer.concat([head, framed]) : framed);
    if (this.#unsent >= HIGH_WATER) this.#needDrain = true;
    return !this.#needDrain;
  }

  end(last?: Buffer, delivered?: (ok: boolean) => void): void {
    if (last?.length) this.write(last);
    if (this.#ended) return;
    this.#ended = true;
    this.#delivered = delivered;
    if (this.#gone) return delivered?.(false);
    const tail = !this.#head ? this.#headFor(true) : this.#chunked ? LAST_CHUNK : undefined;
    if (tail) this.#send(tail);
    this.#checkWritten();
  }

  onDrain(cb: () => void): void {
    this.#drain = cb;
  }

  /** The caller gave up (its client left): the connection is closed unless both messages ended cleanly. */
  destroy(): void {
    const attempt = this.#attempt;
    this.#attempt = undefined;
    if (attempt && !(this.#responseDone && this.#requestDone && this.#reusable)) attempt.socket.close();
    this.#gone = true;
  }

  #lease(fresh: boolean): void {
    let lease: Lease | Promise<Lease>;
    try {
      lease = this.#conns.acquire(fresh);
    } catch (e) {
      lease = Promise.reject(e);
    }
    if (!(lease instanceof Promise)) return this.#attach(lease);
    lease.then((l) => {
      if (this.#gone) l.socket.close();
      else this.#attach(l);
    }, (e) => {
      if (this.#gone) return;
      this.#gone = true;
      this.#handlers.error(e instanceof Error ? e : new Error(String(e)));
    });
  }

  #attach(lease: Lease): void {
    const attempt: Attempt = { socket: lease.socket, writes: 0 };
    this.#attempt = attempt;
    this.#reused = lease.reused;
    lease.socket.own(this.#owner);
    const queued = this.#queued;
    this.#queued = [];
    if (queued.length) this.#write(attempt, queued.length === 1 ? queued[0] : Buffer.concat(queued));
    else this.#checkWritten();
  }

  #send(data: Buffer): void {
    this.#unsent += data.length;
    if (this.#attempt) this.#write(this.#attempt, data);
    else this.#queued.push(data);
  }

  // A failed write is a failed connection, which the read side would also see, and may be retried.
  #write(attempt: Attempt, data: Buffer): void {
    attempt.writes++;
    attempt.socket.write(data).then(() => {
      attempt.writes--;
      if (attempt !== this.#attempt) return;
      this.#unsent -= data.length;
      if (this.#needDrain && this.#unsent < HIGH_WATER) {
        this.#needDrain = false;
        this.#drain?.();
      }
      this.#checkWritten();
    }, (e) => {
      attempt.writes--;
      if (attempt === this.#attempt) this.#fail(e instanceof Error ? e : new Error(String(e)));
    });
  }

  // The request counts as sent once it ended and its last bytes were taken by the connection.
  #checkWritten(): void {
    const attempt = this.#attempt;
    if (!this.#ended || this.#requestDone || !attempt || attempt.writes > 0 || this.#queued.length) return;
    this.#requestDone = true;
    this.#delivered?.(true);
    this.#maybeRelease();
  }

  /** The request head, remembered for a retry. */
  #headFor(noBody: boolean): Buffer {
    let extra = "";
    if (this.#headers["content-length"] === undefined) {
      if (!noBody) {
        this.#chunked = true;
        extra = "transfer-encoding: chunked\r\n";
      } else if (BODY_METHODS.has(this.#method)) extra = "content-length: 0\r\n";
    }
    this.#head = serializeHead(`${this.#method} ${this.#path} HTTP/1.1`, this.#headers, extra);
    return this.#head;
  }

  /** `chunk` as it goes on the wire: as is, or as one chunk of a chunked body. */
  #framed(chunk: Buffer): Buffer {
    return this.#chunked ? frameChunk(chunk) : chunk;
  }

  #keep(chunk: Buffer): void {
    if (!this.#kept) return;
    this.#keptBytes += chunk.length;
    if (this.#keptBytes > MAX_RETRY_BODY) this.#kept = null;
    // Chunks given to write() are not changed by their sender afterwards: keep them, not copies.
    else this.#kept.push(chunk);
  }

  readonly #owner: ConnOwner = {
    onData: (data) => this.#onData(data),
    onEnd: (error) => error ? this.#fail(error) : this.#onEnd(),
  };

  #onData(data: Buffer): void {
    this.#gotBytes = true;
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, data]) : data;
    this.#parse();
  }

  #parse(): void {
    while (!this.#body) {
      const end = indexOfHeadEnd(this.#buf);
      if (end === -1) {
        if (this.#buf.length > MAX_HEAD) this.#fail(new Error("upstream response head too large"));
        return;
      }
      const head = parseResponseHead(this.#buf.subarray(0, end).toString("latin1"));
      this.#buf = this.#buf.subarray(end + 4);
      if (typeof head === "string") return this.#fail(new Error(`upstream sent ${head}`));
      if (head.status >= 100 && head.status < 200) {
        if (head.status === 101) return this.#fail(new Error("upstream switched protocols"));
        continue;
      }
      const framing = responseFraming(this.#method, head.status, head.headers);
      if (typeof framing === "string") return this.#fail(new Error(`upstream sent ${framing}`));
      const socket = this.#attempt!.socket;
      this.#body = new BodyChannel({ pause: () => socket.pause(), resume: () => socket.resume() });
      this.#reader = new BodyReader(framing);
      const conn = String(head.headers.connection ?? "").toLowerCase();
      if (this.#reader.kind === "close" || /\bclose\b/.test(conn)) this.#reusable = false;
      const ka = /timeout=(\d+)/.exec(String(head.headers["keep-alive"] ?? ""));
      if (ka) this.#idleMs = Math.max(0, Number(ka[1]) * 1000 - 1000);
      this.#handlers.response({
        statusCode: head.status,
        statusMessage: head.message,
        headers: forwardableResponseHeaders(head.headers),
        body: this.#body,
      });
      // The caller may have given up inside the handler.
      if (this.#gone) return;
    }
    this.#readBody();
  }

  #readBody(): void {
    const body = this.#body!;
    const reader = this.#reader!;
    if (this.#responseDone || !this.#buf.length && reader.kind !== "none") return;
    const step = reader.read(this.#buf);
    for (const b of step.data) body.push(b);
    if (step.error) return this.#fail(new Error(`upstream sent a malformed chunked body: ${step.error}`));
    this.#buf = EMPTY;
    const rest = step.rest;
    if (rest === undefined) return;
    // Bytes after a complete response that we did not ask for: the connection is not clean.
    if (rest.length) this.#reusable = false;
    this.#responseDone = true;
    this.#maybeRelease();
    body.end();
  }

  #maybeRelease(): void {
    const attempt = this.#attempt;
    if (!attempt || !this.#responseDone || !this.#requestDone) return;
    this.#attempt = undefined;
    this.#gone = true;
    if (this.#reusable) this.#conns.release(attempt.socket, this.#idleMs);
    else attempt.socket.close();
  }

  #onEnd(): void {
    if (this.#body && this.#reader?.kind === "close" && !this.#responseDone) {
      this.#responseDone = true;
      this.#reusable = false;
      this.#maybeRelease();
      this.#body.end();
      return;
    }
    this.#fail(new Error("upstream closed the connection"));
  }

  #fail(e: Error): void {
    const attempt = this.#attempt;
    if (attempt) {
      attempt.socket.close();
      this.#attempt = undefined;
    }
    if (!this.#responseDone && !this.#gotBytes && this.#reused && !this.#retried && this.#kept) {
      this.#retry();
      return;
    }
    if (this.#gone) return;
    this.#gone = true;
    if (!this.#requestDone) this.#delivered?.(false);
    if (this.#responseDone) return;
    if (this.#body) this.#body.abort(e);
    else this.#handlers.error(e);
  }

  // The pooled connection was closed by the server while idle: send the same request on a new one.
  #retry(): void {
    this.#retried = true;
    this.#queued = [];
    this.#unsent = 0;
    if (this.#head) {
      const parts = [this.#head, ...this.#kept!.map((b) => this.#framed(b))];
      if (this.#ended && this.#chunked) parts.push(LAST_CHUNK);
      this.#send(Buffer.concat(parts));
    }
    this.#lease(true);
  }
}
