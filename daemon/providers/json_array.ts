/**
 * An incremental splitter of a streamed JSON array (`[{…},\r\n{…}]`, Gemini's streaming form without
 * `alt=sse`): fed bytes split anywhere, it hands over the text of each top-level element as soon as the
 * element closes, so each one is parsed once. A body that is not an array (an error object) is handed over
 * whole as a single element.
 *
 * @module
 */
import { CappedText } from "./capped_text.ts";

/** Largest element kept; a bigger one is dropped and counted. */
export const MAX_ELEMENT_CHARS = 8 * 1024 * 1024;

const STRING_STOP = /["\\]/g;

/** Splits a streamed JSON array into the text of its elements. */
export class JsonArraySplitter {
  readonly #onElement: (text: string) => void;
  readonly #decoder = new TextDecoder();
  /** Nesting depth of the scan position; elements live at `#elementDepth`. */
  #depth = 0;
  /** 1 inside a top-level array, 0 when the body is a single value. -1 until the first character. */
  #elementDepth = -1;
  #inString = false;
  #escape = false;
  #inElement = false;
  /** The element is a bare literal (number, true, …): it ends at `,` or `]`, not at a bracket. */
  #literal = false;
  readonly #element = new CappedText(MAX_ELEMENT_CHARS);
  #closed = false;

  constructor(onElement: (text: string) => void) {
    this.#onElement = onElement;
  }

  /** Elements dropped because they were larger than {@linkcode MAX_ELEMENT_CHARS}. */
  get dropped(): number {
    return this.#element.dropped;
  }

  /** Feeds the next bytes of the body. */
  push(chunk: Uint8Array): void {
    this.#scan(this.#decoder.decode(chunk, { stream: true }));
  }

  /** The body ended; returns true when the top-level value was closed (nothing was cut short). */
  end(): boolean {
    this.#scan(this.#decoder.decode());
    if (this.#inElement && this.#literal && !this.#inString && this.#depth === this.#elementDepth) {
      this.#emit("", 0, 0);
      if (this.#elementDepth === 0) this.#closed = true;
    }
    return this.#closed;
  }

  #scan(text: string): void {
    let start = 0;
    const n = text.length;
    let i = 0;
    while (i < n && !this.#closed) {
      if (this.#inString) {
        STRING_STOP.lastIndex = i;
        if (this.#escape) {
          this.#escape = false;
          i++;
          continue;
        }
        const stop = STRING_STOP.exec(text);
        if (!stop) {
          i = n;
          break;
        }
        i = stop.index + 1;
        if (text.charCodeAt(stop.index) === 92) this.#escape = true;
        else {
          this.#inString = false;
          if (this.#inElement && this.#depth === this.#elementDepth && !this.#literal) {
            this.#finishElement(text, start, i);
          }
        }
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) {
        if (this.#inElement && this.#literal && this.#depth === this.#elementDepth) {
          this.#finishElement(text, start, i);
        }
        i++;
        continue;
      }
      if (this.#elementDepth === -1) {
        if (c === 91) {
          this.#elementDepth = 1;
          this.#depth = 1;
          i++;
          continue;
        }
        this.#elementDepth = 0;
      }
      if (this.#inElement && this.#literal && this.#depth === this.#elementDepth && (c === 44 || c === 93)) {
        this.#finishElement(text, start, i);
      }
      if (!this.#inElement && this.#depth === this.#elementDepth && c !== 44 && c !== 93) {
        this.#inElement = true;
        this.#literal = c !== 123 && c !== 91 && c !== 34;
        start = i;
      }
      if (c === 34) {
        this.#inString = true;
      } else if (c === 123 || c === 91) {
        this.#depth++;
      } else if (c === 125 || c === 93) {
        this.#depth--;
        if (this.#depth === this.#elementDepth && this.#inElement) this.#finishElement(text, start, i + 1);
        else if (this.#depth === 0) this.#closed = true;
      }
      i++;
    }
    if (this.#inElement) this.#element.add(text.slice(start, Math.min(i, n)));
  }

  #finishElement(text: string, start: number, end: number): void {
    this.#emit(text, start, end);
    if (this.#elementDepth === 0) this.#closed = true;
  }

  #emit(text: string, start: number, end: number): void {
    this.#inElement = false;
    const whole = this.#element.take(text.slice(start, end));
    if (whole !== undefined) this.#onElement(whole);
  }
}
