/**
 * An incremental splitter of JSON Lines (one JSON value a line, the form batch results are downloaded in): fed
 * bytes split anywhere, it hands over the text of each non-empty line once its newline has come, and the last
 * line at the end even without one.
 *
 * @module
 */
import { CappedText } from "./capped_text.ts";

/** Largest line kept; a longer one is dropped and counted. */
export const MAX_LINE_CHARS = 8 * 1024 * 1024;

/** Splits JSON Lines into the text of each line. */
export class JsonLinesSplitter {
  readonly #onLine: (text: string) => void;
  readonly #decoder = new TextDecoder();
  readonly #line = new CappedText(MAX_LINE_CHARS);

  constructor(onLine: (text: string) => void) {
    this.#onLine = onLine;
  }

  /** Lines dropped because they were longer than {@linkcode MAX_LINE_CHARS}. */
  get dropped(): number {
    return this.#line.dropped;
  }

  /** Feeds the next bytes of the body. */
  push(chunk: Uint8Array): void {
    this.#scan(this.#decoder.decode(chunk, { stream: true }));
  }

  /** The body ended: hands over a last line that had no newline. */
  end(): void {
    this.#scan(this.#decoder.decode());
    this.#finishLine();
  }

  #scan(text: string): void {
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      this.#line.add(text.slice(start, nl));
      this.#finishLine();
      start = nl + 1;
    }
    if (start < text.length) this.#line.add(text.slice(start));
  }

  #finishLine(): void {
    const line = this.#line.take()?.trim();
    if (line) this.#onLine(line);
  }
}
