/**
 * Reading and parsing HTTP/1.x message heads, the only part of any traffic the edge looks at: the client's
 * `CONNECT` or absolute-form request, and the answer of the daemon, a corporate proxy or a plain-http origin.
 *
 * @module
 */

/** The largest head the edge accepts; a bigger one is refused with `400`. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** One header line, name as sent. */
export type Header = [name: string, value: string];

/** A parsed request head. */
export interface RequestHead {
  method: string;
  /** The request-target as sent: `host:port` for CONNECT, an absolute URL otherwise. */
  target: string;
  /** `HTTP/1.0` or `HTTP/1.1`. */
  version: string;
  headers: Header[];
}

/** A parsed response head. */
export interface ResponseHead {
  version: string;
  status: number;
  /** The status line as sent, kept so a rewritten head says what the origin said. */
  statusLine: string;
  headers: Header[];
}

/** What {@linkcode readHead} found: the head's bytes and whatever arrived after it. */
export type HeadRead =
  | { kind: "head"; head: Uint8Array; rest: Uint8Array }
  | { kind: "eof" }
  | { kind: "too-large" }
  | { kind: "malformed" };

const CHUNK = 16 * 1024;

/** Anything bytes can be read from: a `Deno.Conn`, or a stand-in in tests. */
export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * Reads from `conn` until the end of a message head (`\r\n\r\n`), the end of the stream, or `limit` bytes.
 * With `requestLine`, bytes that cannot continue an HTTP/1.x request head end the read as `malformed` as soon
 * as they arrive, so garbage of any length is answered at once rather than at a timeout. Read errors propagate:
 * the caller decides what a reset means.
 */
export async function readHead(
  conn: ByteReader,
  limit = MAX_HEAD_BYTES,
  requestLine = false,
): Promise<HeadRead> {
  let buf = new Uint8Array(CHUNK);
  let len = 0;
  let scanned = 0;
  const check = requestLine ? new RequestHeadCheck() : undefined;
  while (true) {
    if (len === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await conn.read(buf.subarray(len));
    if (n === null) return { kind: "eof" };
    len += n;
    if (check && !check.feed(buf.subarray(len - n, len))) return { kind: "malformed" };
    const end = indexOfCrlfCrlf(buf, Math.max(0, scanned - 3), len);
    if (end !== -1) {
      if (end > limit) return { kind: "too-large" };
      return { kind: "head", head: buf.slice(0, end), rest: buf.slice(end, len) };
    }
    // No terminator within `limit` bytes: whatever follows, the head would be larger than allowed.
    if (len >= limit) return { kind: "too-large" };
    scanned = len;
  }
}

/** The longest request line accepted: a method, a target, a version. */
const MAX_REQUEST_LINE = 16 * 1024;

const VERSION = "HTTP/1.";

type HeadState = "method" | "target" | "version" | "lf" | "lineStart" | "name" | "value" | "finalLf" | "done";

/**
 * Checks, byte by byte as they arrive, that a stream can still be the head of an HTTP/1.x request:
 * `METHOD SP target SP HTTP/1.x CRLF`, then `name: value CRLF` lines, then `CRLF`. Each byte is looked at once,
 * so a client trickling its head costs no more than one sending it at once.
 */
export class RequestHeadCheck {
  #state: HeadState = "method";
  #partLen = 0;
  #seen = 0;

  /** Feeds `bytes`; false as soon as they cannot continue a request head (and from then on). */
  feed(bytes: Uint8Array): boolean {
    for (const c of bytes) {
      if (!this.#step(c)) {
        this.#state = "method";
        this.#seen = Infinity;
        return false;
      }
    }
    return this.#seen !== Infinity;
  }

  #step(c: number): boolean {
    this.#seen++;
    switch (this.#state) {
      case "done":
        return true;
      case "method":
      case "target":
      case "version":
        return this.#requestLine(c);
      case "lf":
        this.#state = "lineStart";
        return c === 10;
      case "finalLf":
        this.#state = "done";
        return c === 10;
      case "lineStart":
        if (c === 13) this.#state = "finalLf";
        else if (isTokenByte(c)) this.#state = "name";
        else return false; // a leading space is an obsolete line fold, which a proxy must reject
        return true;
      case "name":
        if (c === 58) this.#state = "value";
        return c === 58 || isTokenByte(c);
      case "value":
        if (c === 13) this.#state = "lf";
        return c === 13 || c === 9 || (c >= 0x20 && c !== 0x7f);
    }
  }

  #requestLine(c: number): boolean {
    if (this.#seen > MAX_REQUEST_LINE) return false;
    if (c === 13) {
      if (this.#state !== "version" || this.#partLen !== VERSION.length + 1) return false;
      this.#state = "lf";
      return true;
    }
    if (c === 32) {
      if (this.#state === "version" || this.#partLen === 0) return false;
      this.#state = this.#state === "method" ? "target" : "version";
      this.#partLen = 0;
      return true;
    }
    const n = this.#partLen++;
    if (this.#state === "method") return isTokenByte(c);
    if (this.#state === "target") return c >= 0x21 && c <= 0x7e;
    return n < VERSION.length ? c === VERSION.charCodeAt(n) : n === VERSION.length && (c === 48 || c === 49);
  }
}

function isTokenByte(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ||
    "!#$%&'*+.^_`|~-".includes(String.fromCharCode(c));
}

/** Index just past the first `\r\n\r\n` in `buf[from, to)`, or -1. */
function indexOfCrlfCrlf(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i + 4;
  }
  return -1;
}

// Heads are ASCII by the RFC; latin1 maps every byte to one char so nothing is lost on the way back out.
const latin1 = new TextDecoder("latin1");

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e]+) (HTTP\/1\.[01])$/;
const STATUS_LINE = /^(HTTP\/1\.[01]) ([1-5][0-9]{2})(?: (.*))?$/;

/** True when `s` holds a control character other than tab, which field values and reasons may not (RFC 9110 §5.5). */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

function parseLines(head: Uint8Array): string[] | undefined {
  const text = latin1.decode(head);
  if (!text.endsWith("\r\n\r\n")) return undefined;
  const lines = text.slice(0, -4).split("\r\n");
  return lines.length ? lines : undefined;
}

function parseHeaders(lines: string[]): Header[] | undefined {
  const headers: Header[] = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    // A leading space would be an obsolete line fold, which RFC 9112 says a proxy must reject.
    if (!TOKEN.test(name) || hasControl(value)) return undefined;
    headers.push([name, value]);
  }
  return headers;
}

/** Parses a request head (including its final blank line); undefined when it is not valid HTTP/1.x. */
export function parseRequestHead(head: Uint8Array): RequestHead | undefined {
  const lines = parseLines(head);
  const m = lines && REQUEST_LINE.exec(lines[0]);
  if (!lines || !m) return undefined;
  const headers = parseHeaders(lines.slice(1));
  return headers && { method: m[1], target: m[2], version: m[3], headers };
}

/** Parses a response head (including its final blank line); undefined when it is not valid HTTP/1.x. */
export function parseResponseHead(head: Uint8Array): ResponseHead | undefined {
  const lines = parseLines(head);
  const m = lines && STATUS_LINE.exec(lines[0]);
  if (!lines || !m || hasControl(m[3] ?? "")) return undefined;
  const headers = parseHeaders(lines.slice(1));
  return headers && { version: m[1], status: Number(m[2]), statusLine: lines[0], headers };
}

/** The value of the first header called `name` (case-insensitive). */
export function headerValue(headers: readonly Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** Serialises a start line and headers into a head ending with the blank line. */
export function serializeHead(startLine: string, headers: readonly Header[]): Uint8Array {
  const text = [startLine, ...headers.map(([n, v]) => `${n}: ${v}`), "", ""].join("\r\n");
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** A short `text/plain` response that ends the connection: the edge's own `400` and `502`. */
export function errorResponse(status: 400 | 502, reason: string, message: string): Uint8Array {
  const body = new TextEncoder().encode(`halton-meter edge: ${message}\n`);
  const head = serializeHead(`HTTP/1.1 ${status} ${reason}`, [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
    ["Connection", "close"],
  ]);
  return concat(head, body);
}

/** `a` followed by `b`. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!b.length) return a;
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
