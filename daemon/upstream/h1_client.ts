/**
 * One HTTP/1.1 request to a provider over a pooled connection, written by hand: Deno's `node:https` client
 * loses the body of a streamed request on a reused keep-alive connection now and then (the request hangs),
 * and a meter must never hang a call. The request body streams out as it arrives (length-delimited when the
 * client said its length, chunked otherwise); the response streams back with backpressure; a connection is
 * returned to the pool only when both messages ended cleanly. A reused connection that turns out to be closed
 * before any response byte is retried once on a fresh one, when the body sent so far was kept.
 *
 * @module
 */
import { Readable, Writable } from "node:stream";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Buffer } from "node:buffer";
import { ChunkedDecoder } from "./chunked.ts";
import { latin1Bytes } from "./latin1.ts";
import type { ConnOwner, UpstreamConn } from "./conn.ts";
import { indexOfHeadEnd } from "./crlf.ts";

/** A connection from the pool; `reused` when it already carried a request. */
export interface Lease {
  socket: UpstreamConn;
  reused: boolean;
}

/** How a call gets and returns connections. */
export interface Connections {
  acquire(fresh: boolean): Promise<Lease>;
  /** Gives back a connection that is clean and may carry another request; `idleMs` from `Keep-Alive`. */
  release(socket: UpstreamConn, idleMs?: number): void;
}

/** The response of an {@linkcode UpstreamCall}: a readable body with its status and headers. */
export class UpstreamResponse extends Readable {
  statusCode = 0;
  statusMessage = "";
  headers: IncomingHttpHeaders = {};
  #resume: () => void;

  constructor(resume: () => void) {
    super({ highWaterMark: 64 * 1024 });
    this.#resume = resume;
    // A cut-short body ends with `close` and no `end`, which is how consumers learn of it; the error itself
    // must not go unhandled when a consumer only watches for that.
    this.on("error", () => {});
  }

  override _read(): void {
    this.#resume();
  }
}

/** The largest response head accepted. */
const MAX_HEAD = 64 * 1024;
/** Request bytes kept for a retry on a stale connection; a longer body is not retried. */
const MAX_RETRY_BODY = 1024 * 1024;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const CRLF = Buffer.from("\r\n");
const LAST_CHUNK = Buffer.from("0\r\n\r\n");
// Shared by every call for "nothing buffered": never written to, since a zero-length buffer has no bytes.
const EMPTY = Buffer.alloc(0);

type Framing =
  | { kind: "none" }
  | { kind: "length"; left: number }
  | { kind: "chunked"; d: ChunkedDecoder }
  | {
    kind: "close";
  };

/**
 * A request in flight: write its body (or pipe into it), then `end()`. Emits `response` with an
 * {@linkcode UpstreamResponse} and `error` when no response could be had.
 */
export class UpstreamCall extends Writable {
  readonly #method: string;
  readonly #path: string;
  readonly #headers: OutgoingHttpHeaders;
  readonly #conns: Connections;
  #lease?: Promise<Lease>;
  #socket?: UpstreamConn;
  #reused = false;
  #retried = false;
  #head?: Buffer;
  #chunked = false;
  #kept: Buffer[] | null = [];
  #keptBytes = 0;
  #requestDone = false;
  #buf: Buffer = EMPTY;
  #res?: UpstreamResponse;
  #framing?: Framing;
  #responseDone = false;
  #reusable = true;
  #idleMs?: number;
  #gotBytes = false;
  /** The connection was given back or destroyed: late body bytes have nowhere to go. */
  #gone = false;

  constructor(req: { method: string; path: string; headers: OutgoingHttpHeaders }, conns: Connections) {
    // Not destroyed when the request body ends: the response is still to come on the same connection.
    super({ highWaterMark: 64 * 1024, autoDestroy: false });
    this.#method = req.method.toUpperCase();
    this.#path = req.path;
    this.#headers = req.headers;
    this.#conns = conns;
    this.#lease = conns.acquire(false);
    // Without a listener a rejected lease would be unhandled until the first write.
    this.#lease.catch(() => {});
  }

  override _write(chunk: Buffer, _enc: string, cb: (e?: Error | null) => void): void {
    this.#ready().then((socket) => {
      if (!socket) return cb();
      // Head and framing go out with the data in one write: one TLS record and one syscall per chunk.
      const parts = this.#head ? [] : [this.#headFor(false)];
      this.#keep(chunk);
      parts.push(...this.#frame(chunk));
      this.#send(socket, parts.length === 1 ? parts[0] : Buffer.concat(parts), cb);
    }, (e) => cb(e));
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.#ready().then((socket) => {
      if (!socket) return cb();
      const last = !this.#head ? this.#headFor(true) : this.#chunked ? LAST_CHUNK : undefined;
      const done = () => {
        this.#requestDone = true;
        cb();
        this.#maybeRelease();
      };
      if (last) this.#send(socket, last, done);
      else done();
    }, (e) => cb(e));
  }

  // Calls `cb` once the bytes are written (backpressure); a failed write is a failed connection, which the
  // read side would also see, and may be retried.
  #send(socket: UpstreamConn, data: Buffer, cb: () => void): void {
    socket.write(data).then(cb, (e) => {
      if (this.#socket === socket) this.#fail(e instanceof Error ? e : new Error(String(e)));
      cb();
    });
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.#socket && !(this.#responseDone && this.#requestDone && this.#reusable)) this.#socket.close();
    this.#socket = undefined;
    if (this.#res && !this.#responseDone) this.#res.destroy(err ?? new Error("request aborted"));
    cb(err);
  }

  async #ready(): Promise<UpstreamConn | undefined> {
    if (this.#socket) return this.#socket;
    if (this.#gone) return undefined;
    const lease = await this.#lease!;
    if (this.#socket) return this.#socket;
    if (this.#gone) return undefined;
    if (this.destroyed) {
      lease.socket.close();
      throw new Error("request aborted");
    }
    this.#attach(lease);
    return lease.socket;
  }

  #attach(lease: Lease): void {
    const { socket } = lease;
    this.#socket = socket;
    this.#reused = lease.reused;
    socket.own(this.#owner);
  }

  /** The request head, remembered for a retry. */
  #headFor(noBody: boolean): Buffer {
    const h = this.#headers;
    let head = `${this.#method} ${this.#path} HTTP/1.1\r\n`;
    for (const name in h) {
      const value = h[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) { for (const v of value) head += `${name}: ${v}\r\n`; }
      else head += `${name}: ${value}\r\n`;
    }
    if (h["content-length"] === undefined) {
      if (!noBody) {
        this.#chunked = true;
        head += "transfer-encoding: chunked\r\n";
      } else if (BODY_METHODS.has(this.#method)) head += "content-length: 0\r\n";
    }
    this.#head = latin1Bytes(head + "\r\n");
    return this.#head;
  }

  /** `chunk` as it goes on the wire: as is, or as one chunk of a chunked body. */
  #frame(chunk: Buffer): Buffer[] {
    return this.#chunked ? [latin1Bytes(chunk.length.toString(16) + "\r\n"), chunk, CRLF] : [chunk];
  }

  #keep(chunk: Buffer): void {
    if (!this.#kept) return;
    this.#keptBytes += chunk.length;
    if (this.#keptBytes > MAX_RETRY_BODY) this.#kept = null;
    // A written chunk is not changed by its writer afterwards (the Writable contract): keep it, not a copy.
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
    while (!this.#res) {
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
      const res = new UpstreamResponse(() => this.#socket?.resume());
      res.statusCode = head.status;
      res.statusMessage = head.message;
      res.headers = head.headers;
      this.#res = res;
      this.#framing = responseFraming(this.#method, head.status, head.headers);
      const conn = String(head.headers.connection ?? "").toLowerCase();
      if (this.#framing.kind === "close" || /\bclose\b/.test(conn)) this.#reusable = false;
      const ka = /timeout=(\d+)/.exec(String(head.headers["keep-alive"] ?? ""));
      if (ka) this.#idleMs = Math.max(0, Number(ka[1]) * 1000 - 1000);
      this.emit("response", res);
    }
    this.#body();
  }

  #body(): void {
    const res = this.#res!;
    const f = this.#framing!;
    if (this.#responseDone || !this.#buf.length && f.kind !== "none") return;
    const push = (b: Buffer) => {
      if (b.length && !res.push(b)) this.#socket?.pause();
    };
    let rest: Buffer | undefined;
    if (f.kind === "none") rest = this.#buf;
    else if (f.kind === "close") push(this.#buf);
    else if (f.kind === "length") {
      const take = Math.min(f.left, this.#buf.length);
      push(this.#buf.subarray(0, take));
      f.left -= take;
      if (f.left === 0) rest = this.#buf.subarray(take);
    } else {
      const step = f.d.push(this.#buf);
      for (const b of step.data) push(b);
      if (step.error) return this.#fail(new Error(`upstream sent a malformed chunked body: ${step.error}`));
      rest = step.rest;
    }
    this.#buf = EMPTY;
    if (rest === undefined) return;
    // Bytes after a complete response that we did not ask for: the connection is not clean.
    if (rest.length) this.#reusable = false;
    this.#responseDone = true;
    res.push(null);
    this.#maybeRelease();
  }

  #maybeRelease(): void {
    const socket = this.#socket;
    if (!socket || !this.#responseDone || !this.#requestDone) return;
    this.#socket = undefined;
    this.#gone = true;
    if (this.#reusable) this.#conns.release(socket, this.#idleMs);
    else socket.close();
  }

  #onEnd(): void {
    if (this.#res && this.#framing?.kind === "close" && !this.#responseDone) {
      this.#responseDone = true;
      this.#reusable = false;
      this.#res.push(null);
      this.#maybeRelease();
      return;
    }
    this.#fail(new Error("upstream closed the connection"));
  }

  #fail(e: Error): void {
    const socket = this.#socket;
    if (socket) {
      socket.close();
      this.#socket = undefined;
    }
    if (!this.#responseDone && !this.#gotBytes && this.#reused && !this.#retried && this.#kept) {
      this.#retry();
      return;
    }
    this.#gone = true;
    if (this.#responseDone) return;
    if (this.#res) this.#res.destroy(e);
    else this.emit("error", e);
  }

  // The pooled connection was closed by the server while idle: send the same request on a new one.
  #retry(): void {
    this.#retried = true;
    this.#lease = this.#conns.acquire(true);
    this.#lease.then((lease) => {
      if (this.destroyed) {
        lease.socket.close();
        return;
      }
      this.#attach(lease);
      if (!this.#head) return;
      const parts = [this.#head, ...this.#kept!.flatMap((b) => this.#frame(b))];
      if (this.#requestDone && this.#chunked) parts.push(LAST_CHUNK);
      lease.socket.write(Buffer.concat(parts)).catch((e) => {
        if (this.#socket === lease.socket) this.#fail(e);
      });
    }, (e) => this.emit("error", e));
  }
}

/** A parsed status line and headers. */
export interface ResponseHead {
  status: number;
  message: string;
  headers: IncomingHttpHeaders;
}

/** Parses a response head (without its final blank line); a string says what is malformed. */
export function parseResponseHead(text: string): ResponseHead | string {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) return "a malformed status line";
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return "a malformed header line";
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers[key];
    if (prev === undefined) headers[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[key] = [prev, value];
  }
  return { status: Number(m[1]), message: m[2] ?? "", headers: headers as IncomingHttpHeaders };
}

function responseFraming(method: string, status: number, h: IncomingHttpHeaders): Framing {
  if (method === "HEAD" || status === 204 || status === 304) return { kind: "none" };
  const te = h["transfer-encoding"];
  if (te !== undefined && /\bchunked\s*$/i.test(String(te))) {
    return { kind: "chunked", d: new ChunkedDecoder() };
  }
  if (te === undefined && h["content-length"] !== undefined) {
    const n = Number(String(h["content-length"]).split(",")[0].trim());
    if (Number.isSafeInteger(n) && n >= 0) return n === 0 ? { kind: "none" } : { kind: "length", left: n };
  }
  return { kind: "close" };
}
