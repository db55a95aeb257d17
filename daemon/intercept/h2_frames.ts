/**
 * HTTP/2 frames (RFC 9113 §4, §6): their numbers, and builders for the frames a server sends. Reading frames is
 * the connection's (h2_conn.ts), as it is interleaved with the connection's state.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** The 9 octets before every frame's payload. */
export const FRAME_HEAD = 9;
/** The largest payload a peer may send before SETTINGS_MAX_FRAME_SIZE says otherwise, and all this side takes. */
export const DEFAULT_MAX_FRAME = 16_384;
/** The flow-control window every stream and the connection start with (RFC 9113 §6.9.2). */
export const DEFAULT_WINDOW = 65_535;
/** The largest flow-control window (2^31 - 1). */
export const MAX_WINDOW = 0x7fff_ffff;

/** Frame types. */
export const Type = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;
export type Type = typeof Type[keyof typeof Type];

/** Frame flags (each meaningful only on some types). */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;
export type Flag = typeof Flag[keyof typeof Flag];

/** Error codes of RST_STREAM and GOAWAY. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** SETTINGS identifiers. */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;
export type Setting = typeof Setting[keyof typeof Setting];

/** What every HTTP/2 client sends first (RFC 9113 §3.4). */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Writes a frame's head for a `length`-octet payload into `out` at `at`. */
export function writeFrameHead(
  out: Buffer,
  at: number,
  length: number,
  type: Type,
  flags: number,
  stream: number,
): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(stream, at + 5);
}

/** A whole frame: head and `payload` (copied) in one buffer. */
export function frame(type: Type, flags: number, stream: number, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEAD + length);
  writeFrameHead(out, 0, length, type, flags, stream);
  if (payload) out.set(payload, FRAME_HEAD);
  return out;
}

/** A SETTINGS frame with `values` as (identifier, value) pairs. */
export function settingsFrame(values: [Setting, number][]): Buffer {
  const payload = Buffer.allocUnsafe(values.length * 6);
  values.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(Type.SETTINGS, 0, 0, payload);
}

/** A WINDOW_UPDATE frame granting `increment` more octets on `stream` (0: the connection). */
export function windowUpdateFrame(stream: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment);
  return frame(Type.WINDOW_UPDATE, 0, stream, payload);
}

/** An RST_STREAM frame. */
export function resetFrame(stream: number, code: ErrorCode): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code);
  return frame(Type.RST_STREAM, 0, stream, payload);
}

/** A GOAWAY frame: streams above `lastStream` were not and will not be processed. */
export function goawayFrame(lastStream: number, code: ErrorCode, debug = ""): Buffer {
  const text = Buffer.from(debug);
  const payload = Buffer.allocUnsafe(8 + text.length);
  payload.writeUInt32BE(lastStream);
  payload.writeUInt32BE(code, 4);
  payload.set(text, 8);
  return frame(Type.GOAWAY, 0, 0, payload);
}
