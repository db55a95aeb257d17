/**
 * Text gathered piece by piece up to a limit, for the splitters that hand over one value of a body at a time
 * (JSON Lines, a streamed JSON array): a value that outgrows the limit is dropped whole and counted, never
 * handed over cut.
 *
 * @module
 */

/** One value's text as it arrives, dropped whole past `maxChars`. */
export class CappedText {
  readonly #maxChars: number;
  #pieces: string[] = [];
  #chars = 0;
  #overflow = false;
  #dropped = 0;

  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  /** Values dropped because they outgrew the limit. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds the next piece of the value; nothing more is kept once it has outgrown the limit. */
  add(piece: string): void {
    if (this.#overflow) return;
    this.#chars += piece.length;
    if (this.#chars > this.#maxChars) {
      this.#overflow = true;
      this.#pieces = [];
      return;
    }
    this.#pieces.push(piece);
  }

  /**
   * The value's text with `last` after it, or undefined when it outgrew the limit (counted); the next piece
   * added starts a new value.
   */
  take(last = ""): string | undefined {
    const overflow = this.#overflow;
    const whole = overflow ? undefined : this.#pieces.length ? this.#pieces.join("") + last : last;
    this.#pieces = [];
    this.#chars = 0;
    this.#overflow = false;
    if (overflow) this.#dropped++;
    return whole;
  }
}
