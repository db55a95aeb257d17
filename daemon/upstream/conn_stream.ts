/**
 * A Deno connection as a Node stream, read only when the consumer wants more. Deno's `node:tls` client keeps
 * reading into memory while paused, so a slow client would make the daemon hold a whole large response;
 * pulling from a native `Deno.Conn` one read per `_read` bounds what is held to the stream's high-water mark.
 *
 * @module
 */
import { Duplex } from "node:stream";
import { Buffer } from "node:buffer";

const READ_SIZE = 64 * 1024;

/** Wraps `conn`; closing the stream closes the connection. */
export class ConnStream extends Duplex {
  readonly #conn: Deno.Conn;
  // One buffer per connection, copied out by what was read: a fresh 64 KiB per read would make a few hundred
  // MB/s of garbage under load for responses of a few hundred bytes.
  readonly #buf = new Uint8Array(READ_SIZE);
  #reading = false;

  constructor(conn: Deno.Conn) {
    super({ highWaterMark: READ_SIZE, allowHalfOpen: false });
    this.#conn = conn;
  }

  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#conn.read(this.#buf).then((n) => {
      this.#reading = false;
      if (n === null) this.push(null);
      else if (this.push(Buffer.from(this.#buf.subarray(0, n)))) this._read();
    }, (e) => {
      this.#reading = false;
      this.destroy(e instanceof Error ? e : new Error(String(e)));
    });
  }

  override _write(chunk: Buffer, _enc: string, cb: (e?: Error | null) => void): void {
    writeAll(this.#conn, chunk).then(() => cb(), (e) => cb(e));
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    cb(err);
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  while (data.length) data = data.subarray(await conn.write(data));
}
