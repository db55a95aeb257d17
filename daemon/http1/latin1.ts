/**
 * Encoding of HTTP heads. Header text is latin1 on the wire, but Deno's `Buffer.from(s, "latin1")` copies
 * character by character in JavaScript, about five times slower than its native UTF-8 encoder; for the
 * all-ASCII heads nearly every call has, both give the same bytes.
 *
 * @module
 */
import { Buffer } from "node:buffer";

const NON_ASCII = /[\u0080-\uffff]/;

/** The latin1 bytes of `text` (each character's code below 256 is its byte). */
export function latin1Bytes(text: string): Buffer {
  return NON_ASCII.test(text) ? Buffer.from(text, "latin1") : Buffer.from(text, "utf8");
}
