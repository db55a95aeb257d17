/**
 * Just enough DER to assemble a leaf certificate from parts and to read a few fields back. The general ASN.1
 * machinery of `@peculiar/x509` costs over a millisecond per certificate, most of a leaf's minting time; the
 * leaf's shape never changes, so its bytes are put together directly.
 *
 * @module
 */

/** DER tags used here. */
export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Oid: 0x06,
  Utf8String: 0x0c,
  Sequence: 0x30,
  Set: 0x31,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
} as const;

/** Bytes from a hex string (constant DER fragments read best as hex). */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** One TLV with a definite length, its value the concatenation of `parts`. */
export function tlv(tag: number, ...parts: ArrayLike<number>[]): Uint8Array<ArrayBuffer> {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const lengthBytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n % 256);
  const header = length < 0x80 ? [tag, length] : [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  let at = header.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A non-negative INTEGER from big-endian magnitude bytes: leading zeros dropped, a zero added if the top bit is set. */
function unsignedInteger(magnitude: Uint8Array): Uint8Array<ArrayBuffer> {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  return bytes[0] & 0x80 ? tlv(Tag.Integer, [0], bytes) : tlv(Tag.Integer, bytes);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always UTC to the second. */
export function time(date: Date): Uint8Array<ArrayBuffer> {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = date.getUTCFullYear();
  return year < 2050
    ? tlv(Tag.UtcTime, new TextEncoder().encode(digits.slice(2)))
    : tlv(Tag.GeneralizedTime, new TextEncoder().encode(digits));
}

/** Where one TLV sits in a buffer. */
export interface Span {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first value byte. */
  valueStart: number;
  /** Offset just past the value. */
  end: number;
}

/**
 * Reads the TLV at `offset`.
 *
 * @throws {RangeError} when the bytes there are not a well-formed definite-length TLV.
 */
export function readTlv(der: Uint8Array, offset: number): Span {
  if (offset + 2 > der.length) throw new RangeError("DER ends early");
  const tag = der[offset];
  let length = der[offset + 1];
  let valueStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || valueStart + count > der.length) throw new RangeError("bad DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[valueStart + i];
    valueStart += count;
  }
  const end = valueStart + length;
  if (end > der.length) throw new RangeError("DER value runs past its buffer");
  return { tag, start: offset, valueStart, end };
}

/** The children of a constructed TLV, in order. */
export function children(der: Uint8Array, parent: Span): Span[] {
  const out: Span[] = [];
  for (let at = parent.valueStart; at < parent.end;) {
    const child = readTlv(der, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** An ECDSA signature in WebCrypto's r‖s form as the DER `SEQUENCE { r INTEGER, s INTEGER }` X.509 wants. */
export function ecdsaSignatureToDer(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const half = raw.length / 2;
  return tlv(Tag.Sequence, unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}
