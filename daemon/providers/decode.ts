/**
 * An incremental decoder for a response's `content-encoding` (gzip, deflate, br, zstd, and stacks of them
 * such as `gzip, br`): the daemon forwards the original bytes and hands a copy here; decoded bytes come out
 * through a callback as node:zlib produces them. Never throws into the caller: a corrupt, truncated or unknown
 * encoding only makes {@linkcode BodyDecoder.end} resolve to false.
 *
 * @module
 */
import * as zlib from "node:zlib";
import type { Transform } from "node:stream";

/** Decodes one response body. */
export interface BodyDecoder {
  /** Feeds the next encoded bytes. The chunk is copied when it must outlive the call. */
  push(chunk: Uint8Array): void;
  /**
   * The body ended. Says, once every decoded byte has been handed over, whether the whole body decoded
   * cleanly (false when it was corrupt, cut short or in an encoding this decoder does not know): at once when
   * nothing was encoded, else when the decompressor has finished.
   */
  end(): boolean | Promise<boolean>;
}

/** Encodings {@linkcode createDecoder} can undo. */
export const SUPPORTED_ENCODINGS: readonly string[] = ["gzip", "x-gzip", "deflate", "br", "zstd", "identity"];

interface Stage {
  write(chunk: Uint8Array): void;
  end(): void;
}

/**
 * A decoder for a `content-encoding` header value (empty or `identity`: bytes pass straight through,
 * synchronously). `onData` receives decoded bytes in order; an exception it throws counts as a failed decode.
 */
export function createDecoder(
  contentEncoding: string | null | undefined,
  onData: (chunk: Uint8Array) => void,
): BodyDecoder {
  const codings = (contentEncoding ?? "").toLowerCase().split(",").map((s) => s.trim())
    .filter((s) => s && s !== "identity");
  if (codings.length === 0) return passthrough(onData);
  if (!codings.every((c) => SUPPORTED_ENCODINGS.includes(c))) return refusing();
  return new ZlibChain(codings.reverse(), onData);
}

function passthrough(onData: (chunk: Uint8Array) => void): BodyDecoder {
  let ok = true;
  return {
    push(chunk) {
      if (!ok) return;
      try {
        onData(chunk);
      } catch {
        ok = false;
      }
    },
    end: () => ok,
  };
}

function refusing(): BodyDecoder {
  return { push() {}, end: () => false };
}

/** Codings applied in the order the server listed them, so they are undone in reverse. */
class ZlibChain implements BodyDecoder {
  readonly #streams: Transform[] = [];
  readonly #first: Stage;
  readonly #done: Promise<boolean>;
  #settle!: (ok: boolean) => void;
  #failed = false;
  #ended = false;

  constructor(codings: string[], onData: (chunk: Uint8Array) => void) {
    this.#done = new Promise((resolve) => this.#settle = resolve);
    let next: Stage = {
      write: (chunk) => {
        if (this.#failed) return;
        try {
          onData(chunk);
        } catch {
          this.#fail();
        }
      },
      end: () => this.#finish(true),
    };
    for (let i = codings.length - 1; i >= 0; i--) next = this.#stage(codings[i], next);
    this.#first = next;
  }

  push(chunk: Uint8Array): void {
    if (this.#failed || this.#ended) return;
    try {
      // The caller may reuse its buffer once we return, and zlib reads the bytes later.
      this.#first.write(chunk.slice());
    } catch {
      this.#fail();
    }
  }

  end(): Promise<boolean> {
    if (!this.#ended && !this.#failed) {
      this.#ended = true;
      try {
        this.#first.end();
      } catch {
        this.#fail();
      }
    }
    return this.#done;
  }

  #stage(coding: string, next: Stage): Stage {
    if (coding === "deflate") return this.#deflateStage(next);
    return this.#zlibStage(
      coding === "br"
        ? zlib.createBrotliDecompress()
        : coding === "zstd"
        ? zlib.createZstdDecompress()
        : zlib.createGunzip(),
      next,
    );
  }

  #zlibStage(stream: Transform, next: Stage): Stage {
    this.#streams.push(stream);
    stream.on("data", (chunk: Uint8Array) => next.write(chunk));
    stream.on("end", () => next.end());
    stream.on("error", () => this.#fail());
    return {
      write: (chunk) => stream.write(chunk),
      end: () => stream.end(),
    };
  }

  /**
   * HTTP `deflate` is meant to be zlib-wrapped, but some servers send raw deflate: the first two bytes tell
   * which (a zlib header's check bits make it a multiple of 31, with method 8).
   */
  #deflateStage(next: Stage): Stage {
    let inner: Stage | undefined;
    let head = new Uint8Array(0);
    const choose = (bytes: Uint8Array) => {
      const zlibWrapped = (bytes[0] & 0x0f) === 8 && ((bytes[0] << 8) | bytes[1]) % 31 === 0;
      inner = this.#zlibStage(zlibWrapped ? zlib.createInflate() : zlib.createInflateRaw(), next);
      inner.write(bytes);
    };
    return {
      write: (chunk) => {
        if (inner) return inner.write(chunk);
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        if (joined.length < 2) head = joined;
        else choose(joined);
      },
      end: () => {
        if (!inner) {
          if (head.length === 0) return next.end();
          choose(head);
        }
        inner!.end();
      },
    };
  }

  #fail(): void {
    this.#failed = true;
    this.#finish(false);
  }

  #finish(ok: boolean): void {
    for (const s of this.#streams) s.destroy();
    this.#streams.length = 0;
    this.#settle(ok && !this.#failed);
  }
}
