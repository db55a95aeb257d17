/**
 * HTTP/1.1 chunked bodies (RFC 9112 §7.1) both ways: an incremental decoder, fed bytes as they arrive, split
 * anywhere, that yields the data and says where the body ended, so bytes after it stay for the next message;
 * and the framing of each chunk written.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { indexOfCrlf } from "./crlf.ts";

/** The zero-length chunk and empty trailer that end a chunked body. */
export const LAST_CHUNK: Buffer = Buffer.from("0\r\n\r\n");

const CR = 13;
const LF = 10;

/**
 * `data` (not empty) framed as one chunk, in one buffer: a streamed answer is framed once per event, and a
 * size line, the data and its CRLF as three buffers joined after cost three allocations more than this.
 */
export function frameChunk(data: Uint8Array): Buffer {
  const size = data.length.toString(16);
  const out = Buffer.allocUnsafe(size.length + data.length + 4);
  for (let i = 0; i < size.length; i++) out[i] = size.charCodeAt(i);
  out[size.length] = CR;
  out[size.length + 1] = LF;
  out.set(data, size.length + 2);
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/** What one {@linkcode ChunkedDecoder.push} produced. */
export interface ChunkedStep {
  /** Body data decoded from this input, in order. */
  data: Buffer[];
  /** Set once the last chunk and trailers were read: the bytes after the body. */
  rest?: Buffer;
  /** Set when the framing is malformed; the connection cannot be used further. */
  error?: string;
}

const MAX_LINE = 4096;
const MAX_SIZE_DIGITS = 12;

/** The size a chunk-size line gives (hex digits, optional blanks and extension), or -1 when malformed. */
function chunkSize(bytes: Uint8Array, start: number, end: number): number {
  let size = 0;
  let i = start;
  for (; i < end && i - start < MAX_SIZE_DIGITS + 1; i++) {
    const b = bytes[i];
    const lower = b | 0x20;
    const digit = b >= 0x30 && b <= 0x39 ? b - 0x30 : lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
    if (digit === -1) break;
    size = size * 16 + digit;
  }
  const digits = i - start;
  if (digits === 0 || digits > MAX_SIZE_DIGITS) return -1;
  while (i < end && (bytes[i] === 0x20 || bytes[i] === 0x09)) i++;
  if (i === end) return size;
  if (bytes[i] !== 0x3b) return -1;
  for (; i < end; i++) if (bytes[i] === CR || bytes[i] === LF) return -1;
  return size;
}

/**
 * Decodes one chunked body. Each input is walked by offset, and the data of a chunk is the one view made of
 * it: a streamed answer passes here once per event.
 */
export class ChunkedDecoder {
  #state: "size" | "data" | "data-crlf" | "trailer" | "done" = "size";
  #left = 0;
  /** A line cut off at the end of the last input, copied. */
  #pending?: Buffer;

  /** Feeds bytes; never throws. */
  push(input: Buffer): ChunkedStep {
    const buf = this.#pending ? Buffer.concat([this.#pending, input]) : input;
    this.#pending = undefined;
    const data: Buffer[] = [];
    let at = 0;
    while (at < buf.length) {
      if (this.#state === "data") {
        const take = Math.min(buf.length - at, this.#left);
        data.push(at === 0 && take === buf.length ? buf : buf.subarray(at, at + take));
        at += take;
        this.#left -= take;
        if (this.#left === 0) this.#state = "data-crlf";
        continue;
      }
      const eol = indexOfCrlf(buf, at);
      if (eol === -1) {
        if (buf.length - at > MAX_LINE) return { data, error: "chunk line too long" };
        this.#pending = Buffer.from(buf.subarray(at));
        break;
      }
      const lineStart = at;
      at = eol + 2;
      if (this.#state === "data-crlf") {
        if (eol !== lineStart) return { data, error: "missing CRLF after chunk data" };
        this.#state = "size";
      } else if (this.#state === "size") {
        const size = chunkSize(buf, lineStart, eol);
        if (size === -1) return { data, error: "malformed chunk size" };
        this.#left = size;
        this.#state = size === 0 ? "trailer" : "data";
      } else if (eol === lineStart) {
        this.#state = "done";
        return { data, rest: buf.subarray(at) };
      }
    }
    return { data };
  }
}
