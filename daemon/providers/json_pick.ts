/**
 * An incremental reader of one JSON object that keeps only the members it is asked for. Non-streamed
 * responses are read with it: the body is scanned once as it passes, `usage` and `model` are kept, and the
 * bulk (generated text, embedding vectors) is skipped without being stored or parsed, so a 60 MB embeddings
 * response costs no more memory than a small one.
 *
 * @module
 */

/**
 * Which members to keep: `true` keeps the member's value whole; a nested pick descends into an object member
 * and keeps only the members it names.
 */
export interface Pick {
  readonly [member: string]: true | Pick;
}

/** Largest member value kept; a bigger one is dropped and counted as malformed. */
export const MAX_MEMBER_CHARS = 8 * 1024 * 1024;

// One decoder for every picker: each chunk is decoded up to its last whole UTF-8 character, and the few bytes
// of a character split across chunks wait for the next one. A decoder per picker in streaming mode cost more
// than the scan of a small body.
const UTF8 = new TextDecoder();

/** Where the UTF-8 character cut off at the end of `bytes` starts; `bytes.length` when none is. */
export function wholeCharsEnd(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const b = bytes[i];
    if (b < 0x80) return n;
    if (b >= 0xc0) return n - i < (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) ? i : n;
  }
  return n;
}

enum Mode {
  /** Before the opening `{`. */
  Start,
  /** In an object being picked: a key, `,` or `}` comes next. */
  Key,
  /** Inside a key string. */
  KeyString,
  Colon,
  ValueStart,
  /** Inside a member value that is kept or skipped. */
  Value,
  /** After a value: `,` or `}` comes next. */
  AfterValue,
  Done,
  /** The body is not a JSON object. */
  Failed,
}

interface Frame {
  pick: Pick;
  out: Record<string, unknown>;
}

/** Reads the picked members of a JSON object fed in pieces. */
export class JsonPicker {
  /** Bytes of a character cut off at the end of the last chunk. */
  #split?: Uint8Array;
  readonly #root: Frame;
  readonly #frames: Frame[] = [];
  #mode = Mode.Start;
  #key: string[] = [];
  #keyEscaped = false;
  /** The key of the member being read. */
  #member = "";
  #opened = false;
  /** The value being read is kept (else skipped). */
  #keep = false;
  /** Nesting inside the value being read; 0 for a literal or string. */
  #depth = 0;
  #literal = false;
  #inString = false;
  #escape = false;
  #pieces: string[] = [];
  #chars = 0;
  #malformed = false;

  constructor(pick: Pick) {
    this.#root = { pick, out: {} };
  }

  /** Feeds the next bytes of the body. */
  push(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.#split) {
      bytes = new Uint8Array(this.#split.length + chunk.length);
      bytes.set(this.#split);
      bytes.set(chunk, this.#split.length);
      this.#split = undefined;
    }
    const end = wholeCharsEnd(bytes);
    if (end < bytes.length) this.#split = bytes.slice(end);
    if (end > 0) this.#scan(UTF8.decode(end < bytes.length ? bytes.subarray(0, end) : bytes));
  }

  /**
   * The body ended. Returns the picked members found (also when the object was cut short or went bad
   * later), or undefined when the body was not a JSON object at all.
   */
  end(): Record<string, unknown> | undefined {
    if (this.#split) this.#scan(UTF8.decode(this.#split));
    this.#split = undefined;
    if (this.#mode === Mode.Value && this.#literal && this.#depth === 0) this.#endValue("", 0, 0);
    return this.#opened ? this.#root.out : undefined;
  }

  /** True when the object closed and every kept member parsed. */
  get complete(): boolean {
    return this.#mode === Mode.Done && !this.#malformed;
  }

  #scan(text: string): void {
    const n = text.length;
    let start = 0;
    let i = 0;
    let backslash = -2;
    while (i < n) {
      const mode = this.#mode;
      if (mode === Mode.Done || mode === Mode.Failed) return;
      if (this.#inString) {
        if (this.#escape) {
          if (mode === Mode.KeyString) this.#key.push(text[i]);
          this.#escape = false;
          i++;
          continue;
        }
        // indexOf allocates nothing, where a regex match allocates its result for every string; the next
        // backslash is remembered, so a chunk with none is searched for one once, not once per string.
        if (backslash !== -1 && backslash < i) backslash = text.indexOf("\\", i);
        const quote = text.indexOf('"', i);
        const at = backslash !== -1 && (quote === -1 || backslash < quote)
          ? backslash
          : quote === -1
          ? n
          : quote;
        const stop = at < n;
        if (mode === Mode.KeyString) this.#key.push(text.slice(i, stop ? at + 1 : n));
        if (!stop) {
          i = n;
          break;
        }
        i = at + 1;
        if (text.charCodeAt(at) === 92) {
          this.#escape = true;
          if (mode === Mode.KeyString) this.#keyEscaped = true;
          continue;
        }
        this.#inString = false;
        if (mode === Mode.KeyString) this.#mode = Mode.Colon;
        else if (this.#depth === 0) this.#endValue(text, start, i);
        continue;
      }
      const c = text.charCodeAt(i);
      const space = c === 32 || c === 10 || c === 13 || c === 9;
      switch (mode) {
        case Mode.Start:
          if (space) break;
          if (c !== 123) {
            this.#mode = Mode.Failed;
            return;
          }
          this.#frames.push(this.#root);
          this.#opened = true;
          this.#mode = Mode.Key;
          break;
        case Mode.Key:
          if (space || c === 44) break;
          if (c === 125) this.#closeObject();
          else if (c === 34) {
            this.#mode = Mode.KeyString;
            this.#inString = true;
            this.#key = [];
            this.#keyEscaped = false;
          } else this.#fail();
          break;
        case Mode.Colon:
          if (space) break;
          if (c === 58) this.#mode = Mode.ValueStart;
          else this.#fail();
          break;
        case Mode.ValueStart: {
          if (space) break;
          const frame = this.#frames[this.#frames.length - 1];
          const key = this.#keyText();
          this.#member = key;
          const want = Object.hasOwn(frame.pick, key) ? frame.pick[key] : undefined;
          if (c === 123 && want !== undefined && want !== true) {
            const child: Frame = { pick: want, out: {} };
            frame.out[key] = child.out;
            this.#frames.push(child);
            this.#mode = Mode.Key;
            break;
          }
          this.#mode = Mode.Value;
          this.#keep = want === true;
          this.#pieces = [];
          this.#chars = 0;
          start = i;
          this.#literal = c !== 123 && c !== 91 && c !== 34;
          this.#depth = 0;
          if (c === 34) this.#inString = true;
          else if (!this.#literal) this.#depth = 1;
          break;
        }
        case Mode.Value:
          if (this.#literal) {
            if (space || c === 44 || c === 125) {
              this.#endValue(text, start, i);
              continue;
            }
          } else if (c === 34) this.#inString = true;
          else if (c === 123 || c === 91) this.#depth++;
          else if (c === 125 || c === 93) {
            if (--this.#depth === 0) this.#endValue(text, start, i + 1);
          }
          break;
        case Mode.AfterValue:
          if (space) break;
          if (c === 44) this.#mode = Mode.Key;
          else if (c === 125) this.#closeObject();
          else this.#fail();
          break;
      }
      i++;
    }
    if (this.#mode === Mode.Value && this.#keep) this.#hold(text.slice(start, n));
  }

  #keyText(): string {
    const raw = this.#key.join("");
    const quoted = raw.slice(0, -1);
    if (!this.#keyEscaped) return quoted;
    try {
      return JSON.parse(`"${quoted}"`);
    } catch {
      return quoted;
    }
  }

  #hold(piece: string): void {
    this.#chars += piece.length;
    if (this.#chars > MAX_MEMBER_CHARS) {
      this.#keep = false;
      this.#pieces = [];
      this.#malformed = true;
      return;
    }
    this.#pieces.push(piece);
  }

  #endValue(text: string, start: number, end: number): void {
    this.#mode = Mode.AfterValue;
    if (!this.#keep) return;
    const last = text.slice(start, end);
    const whole = this.#pieces.length ? this.#pieces.join("") + last : last;
    this.#pieces = [];
    try {
      this.#frames[this.#frames.length - 1].out[this.#member] = JSON.parse(whole);
    } catch {
      this.#malformed = true;
    }
  }

  #closeObject(): void {
    this.#frames.pop();
    this.#mode = this.#frames.length ? Mode.AfterValue : Mode.Done;
  }

  #fail(): void {
    this.#malformed = true;
    this.#mode = Mode.Failed;
  }
}
