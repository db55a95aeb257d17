/**
 * A pooled upstream connection: a native `Deno.TlsConn` (Deno's `node:tls` client keeps reading into memory
 * while paused, so a slow client would make the daemon hold a whole large response) read one buffer at a time
 * and only while its owner wants more, which bounds what is held per connection. Bytes and the end go to
 * whoever owns the connection now: the call it carries, or the pool while it is idle. No Node stream sits in
 * between: on a small call the stream machinery cost more CPU than the TLS itself.
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

// A read of Deno's TLS stream gives at most one TLS record's plaintext, 16 KiB: a bigger buffer would only hold
// memory (per open connection) that no read fills.
const READ_SIZE = 16 * 1024;

/**
 * The most bytes handed to the TLS stream in one write. Deno's TLS stream takes a write whole when nothing of
 * its own is waiting to be sent and the write fits its 64 KiB buffer, less a key update it may have queued
 * (27 bytes). Nothing is waiting when a write starts: each write finishes only once its bytes are on the
 * socket, and writes take the stream one at a time in the order they were called. So writes this size can be
 * started back to back without waiting for the one before, and a request body goes to the provider as it
 * arrives. That matters because Deno's `node:tls` hands the daemon a client's burst of chunks in one run that
 * settles no promise: a write started only after the previous one settled waited for the whole body.
 */
const MAX_WRITE = 63 * 1024;

/** One upstream connection. */
export class UpstreamConn {
  readonly #conn: Deno.TlsConn;
  readonly #onClosed: () => void;
  // One buffer per connection, copied out by what was read: a fresh 16 KiB per read would make a hundred MB/s
  // of garbage under load for responses of a few hundred bytes.
  readonly #buf = new Uint8Array(READ_SIZE);
  #owner?: ConnOwner;
  #reading = false;
  #paused = false;
  #closed = false;

  /** Wraps `conn`; `onClosed` is told once when the connection is closed or lost. */
  constructor(conn: Deno.TlsConn, onClosed: () => void = () => {}) {
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

  /**
   * Starts writing all of `data` now, after any write still under way; resolves once it is on the socket,
   * rejects when the connection fails.
   */
  write(data: Uint8Array): Promise<void> {
    // Even pieces rather than MAX_WRITE and a remnant: a 64 KiB chunk goes as two writes of four full records.
    const count = Math.ceil(data.length / MAX_WRITE);
    const size = Math.ceil(data.length / count);
    const writes: Promise<void>[] = [];
    for (let at = 0; at < data.length; at += size) {
      writes.push(this.#writePiece(data.subarray(at, at + size)));
    }
    return writes.length === 1 ? writes[0] : Promise.all(writes).then(() => {});
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

  #writePiece(piece: Uint8Array): Promise<void> {
    return this.#conn.write(piece).then((n) => {
      if (n === piece.length) return;
      // Never expected (see MAX_WRITE); the writes started after this one may already be on their way, so the
      // request on this connection cannot be trusted any more.
      this.close();
      throw new Error(`the TLS stream took ${n} of ${piece.length} bytes`);
    });
  }

  #read(): void {
    if (this.#reading || this.#paused || this.#closed || !this.#owner) return;
    this.#reading = true;
    this.#pump();
  }

  /**
   * Reads while the owner wants bytes, in one loop rather than a chain of callbacks: a stream's next read waits
   * for its next event, tens of milliseconds, and what waits with it outlives a scavenge and is promoted to the
   * old generation. A callback chain left a promise and two closures of its own there for every event.
   */
  async #pump(): Promise<void> {
    try {
      while (!this.#paused && !this.#closed && this.#owner) {
        const n = await this.#conn.read(this.#buf);
        if (this.#closed) return;
        if (n === null) return this.#lost();
        // The owner may pause or resume from inside onData; the bytes are copied out first.
        this.#owner?.onData(Buffer.from(this.#buf.subarray(0, n)));
      }
    } catch (e) {
      if (!this.#closed) this.#lost(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.#reading = false;
    }
  }

  #lost(error?: Error): void {
    const owner = this.#owner;
    this.close();
    owner?.onEnd(error);
  }
}
