/**
 * How an HTTP/1.1 message's body is delimited (RFC 9112 §6): by nothing, a length, chunks, or the connection's
 * close; and whether a connection stays open after an exchange. Requests are judged strictly, responses
 * leniently: an ambiguous request is how smuggling starts and is refused, while a provider's answer is read
 * the way a browser would.
 *
 * @module
 */
import type { IncomingHttpHeaders } from "node:http";

/** How a body ends. `close`: at the connection's end (responses only). */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

const NONE: BodyFraming = { kind: "none" };
const CHUNKED: BodyFraming = { kind: "chunked" };
const CLOSE: BodyFraming = { kind: "close" };

/** A request body's framing; a string says why the request must be refused. */
export function requestFraming(h: IncomingHttpHeaders): BodyFraming | string {
  const te = h["transfer-encoding"];
  const cl = h["content-length"];
  if (te !== undefined) {
    // Both headers, or a coding other than chunked last, is how request smuggling starts: refuse.
    if (cl !== undefined) return "both transfer-encoding and content-length";
    const codings = String(te).toLowerCase().split(",").map((s) => s.trim());
    if (codings.at(-1) !== "chunked") return "unsupported transfer-encoding";
    return CHUNKED;
  }
  if (cl === undefined) return NONE;
  const values = String(cl).split(",").map((s) => s.trim());
  if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) return "malformed content-length";
  const n = Number(values[0]);
  return n === 0 ? NONE : { kind: "length", length: n };
}

/** True when a response to `method` with `status` has no body whatever its headers say. */
export function responseHasNoBody(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * A final response's body framing; a string says why the response cannot be read (a length given twice with
 * two values, RFC 9110 §8.6: which one the client would believe cannot be known).
 */
export function responseFraming(
  method: string,
  status: number,
  h: IncomingHttpHeaders,
): BodyFraming | string {
  if (responseHasNoBody(method, status)) return NONE;
  const te = h["transfer-encoding"];
  if (te !== undefined) return /\bchunked\s*$/i.test(String(te)) ? CHUNKED : CLOSE;
  if (h["content-length"] === undefined) return CLOSE;
  const values = String(h["content-length"]).split(",").map((s) => s.trim());
  if (values.some((v) => v !== values[0])) return "conflicting content-length values";
  const n = Number(values[0]);
  if (!/^\d{1,15}$/.test(values[0]) || !Number.isSafeInteger(n)) return CLOSE;
  return n === 0 ? NONE : { kind: "length", length: n };
}

/**
 * The response's headers as they may be passed on, given how its body is read: a `Content-Length` beside
 * `Transfer-Encoding` goes (RFC 9112 §6.3: the body is read by its chunks, and the client must not be told
 * another length), and a repeated one is said once.
 */
export function forwardableResponseHeaders(h: IncomingHttpHeaders): IncomingHttpHeaders {
  const cl = h["content-length"];
  if (cl === undefined) return h;
  if (h["transfer-encoding"] !== undefined) {
    const { "content-length": _, ...rest } = h;
    return rest;
  }
  return cl.includes(",") ? { ...h, "content-length": cl.split(",")[0].trim() } : h;
}

/** True when the client asked to keep the connection after this request (the default from HTTP/1.1 on). */
export function clientKeepsAlive(version: string, headers: IncomingHttpHeaders): boolean {
  const connection = String(headers.connection ?? "").toLowerCase();
  return version === "1.1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
}
