/**
 * A pooled upstream connection: a native `Deno.Conn` (Deno's `node:tls` client keeps reading into memory while
 * paused, so a slow client would make the daemon hold a whole large response) read one buffer at a time and
 * only while its owner wants more, which bounds what is held per connection. Bytes and the end go to whoever
 * owns the connection now: the call it carries, or the pool while it is idle. No Node stream sits in between:
 * on a small call the stream machinery cost more CPU than the TLS itself.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** Where a connection's bytes and its end go. */
export interface ConnOwner {
  onData(data: Buffer): void;
  /** The peer closed the connection, or it failed; told once, never after {@linkcode UpstreamConn.close}. */
  onEnd(error?: Error): void;
}

// A connection reads into one TLS record's worth until a read fills that, then into 64 KiB for the bulk: most
// answers are small and a stream's events are a few hundred bytes, so hundreds of open streams hold a quarter of
// the memory, while a large body still moves in few reads.
const FIRST_READ_SIZE = 16 * 1024;
const BULK_READ_SIZE = 64 * 1024;

/** One upstream connection. */
export class UpstreamConn {
  readonly #conn: Deno.Conn;
  readonly #onClosed: () => void;
  // One buffer per connection, copied out by what was read: a fresh 64 KiB per read would make a few hundred
  // MB/s of garbage under load for responses of a few hundred bytes.
  #buf = new Uint8Array(FIRST_READ_SIZE);
  #owner?: ConnOwner;
  #reading = false;
  #paused = false;
  #closed = false;
  #writing: Promise<void> = Promise.resolve();

  /** Wraps `conn`; `onClosed` is told once when the connection is closed or lost. */
  constructor(conn: Deno.Conn, onClosed: () => void = () => {}) {
    this.#conn = conn;
    this.#onClosed = onClosed;
  }

  /** True once closed by us or lost. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Hands the connection to `owner` and reads for it. */
  own(owner: ConnOwner): void {
    this.#owner = owner;
    this.#paused = false;
    this.#read();
  }

  /** Stops reading until {@linkcode UpstreamConn.resume}: the owner's reader is full. */
  pause(): void {
    this.#paused = true;
  }

  /** Reads again. */
  resume(): void {
    this.#paused = false;
    this.#read();
  }

  /** Writes all of `data` after any write still under way; rejects when the connection fails. */
  write(data: Uint8Array): Promise<void> {
    const next = this.#writing.then(async () => {
      let rest = data;
      while (rest.length) rest = rest.subarray(await this.#conn.write(rest));
    });
    this.#writing = next.catch(() => {});
    return next;
  }

  /** Closes the connection; the owner is not told. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner = undefined;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#onClosed();
  }

  #read(): void {
    if (this.#reading || this.#paused || this.#closed || !this.#owner) return;
    this.#reading = true;
    // The owner may resume (and so start the next read) from inside onData: the bytes are taken from the buffer
    // this read filled, and a bigger buffer is in place before anything else can read.
    const buf = this.#buf;
    this.#conn.read(buf).then((n) => {
      this.#reading = false;
      if (this.#closed) return;
      if (n === null) return this.#lost();
      if (n === buf.length && n < BULK_READ_SIZE) this.#buf = new Uint8Array(BULK_READ_SIZE);
      this.#owner?.onData(Buffer.from(buf.subarray(0, n)));
      this.#read();
    }, (e) => {
      this.#reading = false;
      if (!this.#closed) this.#lost(e instanceof Error ? e : new Error(String(e)));
    });
  }

  #lost(error?: Error): void {
    const owner = this.#owner;
    this.close();
    owner?.onEnd(error);
  }
}
