/**
 * HTTP/1.1 chunked bodies (RFC 9112 §7.1) both ways: an incremental decoder, fed bytes as they arrive, split
 * anywhere, that yields the data and says where the body ended, so bytes after it stay for the next message;
 * and the framing of each chunk written.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { indexOfCrlf } from "./crlf.ts";
import { latin1Bytes } from "./latin1.ts";

const CRLF = Buffer.from("\r\n");

/** The zero-length chunk and empty trailer that end a chunked body. */
export const LAST_CHUNK: Buffer = Buffer.from("0\r\n\r\n");

/** Appends `data` framed as one chunk to `parts` (to be written in one go); `data` must not be empty. */
export function pushChunk(parts: Buffer[], data: Buffer): void {
  parts.push(latin1Bytes(data.length.toString(16) + "\r\n"), data, CRLF);
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

/** Decodes one chunked body. */
export class ChunkedDecoder {
  #state: "size" | "data" | "data-crlf" | "trailer" | "done" = "size";
  #left = 0;
  #pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes; never throws. */
  push(input: Buffer): ChunkedStep {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, input]) : input;
    this.#pending = Buffer.alloc(0);
    const data: Buffer[] = [];
    while (buf.length) {
      if (this.#state === "data") {
        const take = Math.min(buf.length, this.#left);
        data.push(buf.subarray(0, take));
        buf = buf.subarray(take);
        this.#left -= take;
        if (this.#left === 0) this.#state = "data-crlf";
        continue;
      }
      const eol = indexOfCrlf(buf);
      if (eol === -1) {
        if (buf.length > MAX_LINE) return { data, error: "chunk line too long" };
        this.#pending = Buffer.from(buf);
        break;
      }
      const line = buf.subarray(0, eol).toString("latin1");
      buf = buf.subarray(eol + 2);
      if (this.#state === "data-crlf") {
        if (line !== "") return { data, error: "missing CRLF after chunk data" };
        this.#state = "size";
      } else if (this.#state === "size") {
        const m = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
        if (!m) return { data, error: "malformed chunk size" };
        this.#left = parseInt(m[1], 16);
        this.#state = this.#left === 0 ? "trailer" : "data";
      } else if (line === "") {
        this.#state = "done";
        return { data, rest: buf };
      }
    }
    return { data };
  }
}
