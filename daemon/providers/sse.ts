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

/** Whether the line `text[start, end)` is the field `name`: the name alone, or followed by a colon. */
function isField(text: string, start: number, end: number, name: string): boolean {
  const after = start + name.length;
  return after <= end && text.startsWith(name, start) && (after === end || text.charCodeAt(after) === 58);
}

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
    // The next `\r` and `\n` at or after `start`, each searched for again only once passed: a stream is
    // mostly `\n`-ended lines, and a regular expression's match array per line was this module's main cost.
    let cr = -2;
    let lf = -2;
    while (start < text.length) {
      if (cr !== -1 && cr < start) cr = text.indexOf("\r", start);
      if (lf !== -1 && lf < start) lf = text.indexOf("\n", start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) {
        this.#keepPartial(text.slice(start));
        return;
      }
      if (this.#lineDropped) this.#lineDropped = false;
      else if (this.#partial.length) this.#line(this.#takePartial(text.slice(start, end)));
      else this.#lineOf(text, start, end);
      if (end === cr) {
        if (end + 1 === text.length) {
          this.#skipLf = true;
          return;
        }
        start = lf === end + 1 ? end + 2 : end + 1;
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
    this.#lineOf(line, 0, line.length);
  }

  /** Reads the line `text[start, end)`, slicing out only a value it keeps. */
  #lineOf(text: string, start: number, end: number): void {
    if (start === end) {
      this.#dispatch();
      return;
    }
    if (this.#overflow) return;
    // The field's name is what comes before the first colon; only `data` and `event` are read, so the name
    // is matched where it starts and the colon looked for right after it, not searched for in the text.
    const name = isField(text, start, end, "data")
      ? "data"
      : isField(text, start, end, "event")
      ? "event"
      : "";
    if (!name) return;
    const nameEnd = start + name.length;
    let from = nameEnd === end ? end : nameEnd + 1;
    if (from < end && text.charCodeAt(from) === 32) from++;
    const value = text.slice(from, end);
    if (name === "event") {
      this.#event = value;
      return;
    }
    this.#eventChars += value.length + 1;
    if (this.#eventChars > MAX_EVENT_CHARS) {
      this.#overflow = true;
      this.#data = [];
      return;
    }
    this.#data.push(value);
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
