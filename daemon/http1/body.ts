/**
 * Reading one message body off a connection's bytes as its framing says, the same way for the requests the
 * intercept server reads and the responses the upstream client reads: each call takes what belongs to the
 * body and says where it ended, so the bytes after it stay for the next message.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { ChunkedDecoder, type ChunkedStep } from "./chunked.ts";
import type { BodyFraming } from "./framing.ts";

/** One body being read. */
export class BodyReader {
  /** The body's framing. */
  readonly kind: BodyFraming["kind"];
  #left: number;
  #chunks?: ChunkedDecoder;

  constructor(framing: BodyFraming) {
    this.kind = framing.kind;
    this.#left = framing.kind === "length" ? framing.length : 0;
    if (framing.kind === "chunked") this.#chunks = new ChunkedDecoder();
  }

  /**
   * Takes the body's part of `input`: its data, and once the body ended, `rest` (the bytes after it). A
   * body that ends at the connection's close never sets `rest`. Never throws.
   */
  read(input: Buffer): ChunkedStep {
    switch (this.kind) {
      case "none":
        return { data: [], rest: input };
      case "close":
        return { data: [input] };
      case "chunked":
        return this.#chunks!.push(input);
      case "length": {
        // The whole input is the common case: no subarray to make.
        if (input.length <= this.#left) {
          this.#left -= input.length;
          return this.#left === 0 ? { data: [input], rest: input.subarray(input.length) } : { data: [input] };
        }
        const data = input.subarray(0, this.#left);
        const rest = input.subarray(this.#left);
        this.#left = 0;
        return { data: [data], rest };
      }
    }
  }
}
