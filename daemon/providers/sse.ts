/**
 * An incremental server-sent-events splitter: fed bytes split anywhere, it hands over whole events as the
 * blank line that ends each one arrives. Follows the WHATWG event-stream rules that matter for metering:
 * `\n`, `\r\n` and lone `\r` line endings, multi-line `data:` joined by `\n`, `:` comment lines, one optional
 * space after the colon.
 *
 * @module
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, `message` when the event named none. */
  event: string;
  /** The `data:` lines joined by `\n`. */
  data: string;
}

/** Largest event kept (data and the line being read); a bigger one is dropped and counted. */
export const MAX_EVENT_CHARS = 8 * 1024 * 1024;

const LINE_END = /[\r\n]/g;

/** Splits a byte stream into {@linkcode SseEvent}s. */
export class SseSplitter {
  readonly #onEvent: (event: SseEvent) => void;
  readonly #decoder = new TextDecoder();
  /** Pieces of a line whose end has not arrived yet: joined once, when it does. */
  #partial: string[] = [];
  #partialChars = 0;
  /** The previous chunk ended in `\r`: a `\n` opening the next one belongs to that line ending. */
  #skipLf = false;
  /** The line being read outgrew the limit: its rest is skipped up to its end. */
  #lineDropped = false;
  #event = "";
  #data: string[] = [];
  #eventChars = 0;
  #overflow = false;
  #dropped = 0;

  constructor(onEvent: (event: SseEvent) => void) {
    this.#onEvent = onEvent;
  }

  /** Events dropped because they were larger than {@linkcode MAX_EVENT_CHARS}. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Feeds the next bytes of the stream. */
  push(chunk: Uint8Array): void {
    this.#feed(this.#decoder.decode(chunk, { stream: true }));
  }

  /**
   * The stream ended. An event that lacks only its closing blank line is still dispatched: a cut stream's
   * last complete `data:` line is worth more to a meter than the spec's strictness.
   */
  end(): void {
    this.#feed(this.#decoder.decode());
    if (this.#partial.length && !this.#lineDropped) this.#line(this.#takePartial(""));
    this.#dispatch();
  }

  #feed(text: string): void {
    let start = 0;
    if (this.#skipLf && text.length) {
      if (text.charCodeAt(0) === 10) start = 1;
      this.#skipLf = false;
    }
    while (start < text.length) {
      LINE_END.lastIndex = start;
      const found = LINE_END.exec(text);
      if (!found) {
        this.#keepPartial(text.slice(start));
        return;
      }
      const end = found.index;
      const piece = text.slice(start, end);
      if (this.#lineDropped) this.#lineDropped = false;
      else this.#line(this.#partial.length ? this.#takePartial(piece) : piece);
      if (text.charCodeAt(end) === 13) {
        if (end + 1 === text.length) {
          this.#skipLf = true;
          return;
        }
        start = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
    }
  }

  #keepPartial(piece: string): void {
    if (this.#lineDropped) return;
    this.#partialChars += piece.length;
    if (this.#partialChars + this.#eventChars > MAX_EVENT_CHARS) {
      this.#overflow = true;
      this.#lineDropped = true;
      this.#partial = [];
      this.#partialChars = 0;
      return;
    }
    this.#partial.push(piece);
  }

  #takePartial(last: string): string {
    this.#partial.push(last);
    const line = this.#partial.join("");
    this.#partial = [];
    this.#partialChars = 0;
    return line;
  }

  #line(line: string): void {
    if (line.length === 0) {
      this.#dispatch();
      return;
    }
    if (this.#overflow || line.charCodeAt(0) === 58) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") {
      this.#eventChars += value.length + 1;
      if (this.#eventChars > MAX_EVENT_CHARS) {
        this.#overflow = true;
        this.#data = [];
        return;
      }
      this.#data.push(value);
    } else if (field === "event") {
      this.#event = value;
    }
  }

  #dispatch(): void {
    const event = this.#event || "message";
    const data = this.#data;
    const overflow = this.#overflow;
    this.#event = "";
    this.#data = [];
    this.#eventChars = 0;
    this.#overflow = false;
    if (overflow) {
      this.#dropped++;
      return;
    }
    if (data.length === 0) return;
    this.#onEvent({ event, data: data.length === 1 ? data[0] : data.join("\n") });
  }
}
