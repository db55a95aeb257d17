/**
 * Reads WebSocket messages (RFC 6455) off one direction of an upgraded connection, from a copy of its bytes:
 * frames in any split, masked or not, fragmented messages joined, control frames skipped. It never throws: a
 * protocol error or an oversized message stops it for the rest of the connection, and the bytes still flow.
 *
 * @module
 */

/** A whole message: text (1) or binary (2); `compressed` when its first frame had RSV1 (permessage-deflate). */
export interface WsMessage {
  opcode: number;
  payload: Uint8Array;
  compressed: boolean;
}

/** The largest message read; a longer one stops the reader. */
export const MAX_WS_MESSAGE = 16 * 1024 * 1024;

/** Turns pushed bytes into messages. */
export class WsFrameReader {
  readonly #onMessage: (m: WsMessage) => void;
  readonly #max: number;
  // Bytes not yet parsed, and how many the frame they start needs: they are joined once that many are here.
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #need = 0;
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  #first?: { opcode: number; compressed: boolean };
  #stopped = false;

  constructor(onMessage: (m: WsMessage) => void, maxMessage = MAX_WS_MESSAGE) {
    this.#onMessage = onMessage;
    this.#max = maxMessage;
  }

  /** True once a protocol error or an oversized message stopped the reader. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Feeds the next bytes of this direction. */
  push(chunk: Uint8Array): void {
    if (this.#stopped || !chunk.length) return;
    // A copy of our own: `chunk` is still on its way to the other side (a Node Buffer's slice() is a view).
    this.#pending.push(new Uint8Array(chunk));
    this.#pendingBytes += chunk.length;
    // A large frame arrives in many reads; joining what had come at each of them cost its size squared (a 10 MB
    // message: 12 s of the daemon's thread). It is joined once, when it is all here.
    if (this.#pendingBytes < this.#need) return;
    const b = this.#pending.length === 1 ? this.#pending[0] : concatAll(this.#pending, this.#pendingBytes);
    this.#need = 0;
    let off = 0;
    while (!this.#stopped) {
      const frame = this.#frameAt(b, off);
      if (!frame) break;
      off = frame.end;
    }
    const rest = this.#stopped || off === b.length ? undefined : b.subarray(off);
    this.#pending = rest ? [rest] : [];
    this.#pendingBytes = rest?.length ?? 0;
  }

  // Parses the frame at `off` of `b` when it is all there; undefined when more bytes are needed.
  #frameAt(b: Uint8Array, off: number): { end: number } | undefined {
    if (b.length - off < 2) return undefined;
    const fin = (b[off] & 0x80) !== 0;
    const rsv1 = (b[off] & 0x40) !== 0;
    const opcode = b[off] & 0x0f;
    const masked = (b[off + 1] & 0x80) !== 0;
    let len = b[off + 1] & 0x7f;
    let at = off + 2;
    if (len === 126) {
      if (b.length - at < 2) return undefined;
      len = (b[at] << 8) | b[at + 1];
      at += 2;
    } else if (len === 127) {
      if (b.length - at < 8) return undefined;
      const high = (b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]) >>> 0;
      const low = (b[at + 4] << 24 | b[at + 5] << 16 | b[at + 6] << 8 | b[at + 7]) >>> 0;
      if (high !== 0 || low > this.#max) return this.#stop();
      len = low;
      at += 8;
    }
    if (len > this.#max) return this.#stop();
    const maskAt = at;
    if (masked) at += 4;
    if (b.length - at < len) {
      this.#need = at + len - off;
      return undefined;
    }
    const payload = b.slice(at, at + len);
    if (masked) { for (let i = 0; i < len; i++) payload[i] ^= b[maskAt + (i & 3)]; }
    this.#frame(fin, rsv1, opcode, payload);
    return { end: at + len };
  }

  #frame(fin: boolean, rsv1: boolean, opcode: number, payload: Uint8Array): void {
    if (opcode >= 8) return; // ping, pong and close carry no message
    if (opcode === 0) {
      if (!this.#first) return void this.#stop();
    } else {
      if (this.#first) return void this.#stop();
      this.#first = { opcode, compressed: rsv1 };
    }
    this.#parts.push(payload);
    this.#partBytes += payload.length;
    if (this.#partBytes > this.#max) return void this.#stop();
    if (!fin) return;
    const whole = this.#parts.length === 1 ? this.#parts[0] : concatAll(this.#parts, this.#partBytes);
    const first = this.#first;
    this.#first = undefined;
    this.#parts = [];
    this.#partBytes = 0;
    this.#onMessage({ opcode: first.opcode, payload: whole, compressed: first.compressed });
  }

  #stop(): undefined {
    this.#stopped = true;
    this.#pending = [];
    this.#parts = [];
    return undefined;
  }
}

function concatAll(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
