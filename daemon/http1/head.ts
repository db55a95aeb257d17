/**
 * HTTP/1.1 heads, read and written: the request heads clients send to the intercept server, the response heads
 * providers send back to the upstream client, and the heads both write. Names are lower-cased and repeated
 * headers kept in order, as `node:http` presents them, so the rest of the daemon sees one shape.
 *
 * @module
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Buffer } from "node:buffer";
import { latin1Bytes } from "./latin1.ts";

/** The largest head, request or response, accepted. */
export const MAX_HEAD = 64 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(1\.[01])$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/;

/** A parsed request head. */
export interface RequestHead {
  method: string;
  target: string;
  /** `1.0` or `1.1`. */
  version: string;
  headers: IncomingHttpHeaders;
}

/** A parsed status line and headers. */
export interface ResponseHead {
  status: number;
  message: string;
  headers: IncomingHttpHeaders;
}

/**
 * The header lines after the start line. A client's header names must be tokens as sent (a name with a space
 * is how request smuggling starts); a provider's are taken trimmed, since refusing its answer helps nobody.
 */
function parseHeaderLines(lines: string[], strictNames: boolean): IncomingHttpHeaders | undefined {
  const headers: Record<string, string | string[]> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = strictNames ? line.slice(0, colon) : line.slice(0, colon).trim();
    if (strictNames && !TOKEN.test(name)) return undefined;
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = ownHeader(headers, key);
    if (prev === undefined) setHeader(headers, key, value);
    else if (Array.isArray(prev)) prev.push(value);
    else headers[key] = [prev, value];
  }
  return headers as IncomingHttpHeaders;
}

/**
 * The header `name` of `headers`, never a property every object inherits: a header named `constructor` or
 * `toString` is a header like any other. (Header maps are plain objects, not prototype-less ones, which V8
 * keeps as slower dictionaries: about 1 µs more a head.)
 */
export function ownHeader<T>(headers: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(headers, name) ? headers[name] : undefined;
}

/** Sets the header `name`, `__proto__` included, which an assignment would take as the object's prototype. */
export function setHeader<T>(headers: Record<string, T>, name: string, value: T): void {
  if (name === "__proto__") {
    Object.defineProperty(headers, name, { value, writable: true, enumerable: true, configurable: true });
  } else headers[name] = value;
}

/** Parses a request head (without its final blank line); a string says why it is malformed. */
export function parseRequestHead(text: string): RequestHead | string {
  const lines = text.split("\r\n");
  const m = REQUEST_LINE.exec(lines[0]);
  if (!m) return "malformed request line";
  const headers = parseHeaderLines(lines, true);
  if (!headers) return "malformed header line";
  return { method: m[1], target: m[2], version: m[3], headers };
}

/** Parses a response head (without its final blank line); a string says what is malformed. */
export function parseResponseHead(text: string): ResponseHead | string {
  const lines = text.split("\r\n");
  const m = STATUS_LINE.exec(lines[0]);
  if (!m) return "a malformed status line";
  const headers = parseHeaderLines(lines, false);
  if (!headers) return "a malformed header line";
  return { status: Number(m[1]), message: m[2] ?? "", headers };
}

/** `name: value` lines, one per value, each ending in CRLF; names in `skip` and undefined values left out. */
export function headerLines(headers: OutgoingHttpHeaders, skip?: ReadonlySet<string>): string {
  let text = "";
  // `for…in` rather than Object.entries: this runs for every request and response, and allocates nothing.
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || skip?.has(name)) continue;
    if (Array.isArray(value)) { for (const v of value) text += `${name}: ${v}\r\n`; }
    else text += `${name}: ${value}\r\n`;
  }
  return text;
}

/** A whole head as bytes: the start line, the headers, `extra` (ready-made lines) and the blank line. */
export function serializeHead(startLine: string, headers: OutgoingHttpHeaders, extra = ""): Buffer {
  return latin1Bytes(`${startLine}\r\n${headerLines(headers)}${extra}\r\n`);
}
