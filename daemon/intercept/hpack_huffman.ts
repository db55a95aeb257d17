/**
 * Decoding of HPACK's Huffman-coded strings (RFC 7541 §5.2, Appendix B).
 *
 * The code is canonical: codes of one length are consecutive and ordered by symbol, and each length starts
 * where the shorter ones left off. So the code lengths alone define it, and a decoder needs, for each length,
 * its first code and where its symbols start in the symbols sorted by (length, symbol).
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** The code length of each symbol 0–256 (256 is EOS), one base-32 digit each, in symbol order. */
const LENGTHS = "dnsssssssoussussssssssusssssssss6aacd68baa8b8666555666666678f6ca" +
  "d67777777777777777777777878djde6f56565666577666567655677777fbeds" +
  "kmkkmmmnmnnnnnonoomnonnnnlmnmnnomlkmmnnlnmmolmnnllmlnmnnkmmmnmmn" +
  "qqkjmnmpqqqrrqopjlqrrqrollqqsrrrkoklmllnmmppooqnqrqqrrrrrsrrrrrq" +
  "u";

const EOS = 256;
const MAX_LENGTH = 30;

interface Canonical {
  /** Per length: the first code of that length, or -1 when none has it. */
  first: Int32Array;
  /** Per length: how many symbols have it. */
  count: Int32Array;
  /** Per length: the index in `symbols` of its first symbol. */
  offset: Int32Array;
  /** Symbols sorted by (length, symbol). */
  symbols: Uint16Array;
}

function buildCanonical(): Canonical {
  const lengths = Array.from(LENGTHS, (c) => parseInt(c, 32));
  const count = new Int32Array(MAX_LENGTH + 1);
  for (const l of lengths) count[l]++;
  const first = new Int32Array(MAX_LENGTH + 1).fill(-1);
  const offset = new Int32Array(MAX_LENGTH + 1);
  let code = 0;
  let index = 0;
  for (let l = 1; l <= MAX_LENGTH; l++) {
    offset[l] = index;
    if (count[l]) first[l] = code;
    code = (code + count[l]) * 2;
    index += count[l];
  }
  const symbols = new Uint16Array(lengths.length);
  const next = offset.slice();
  // Symbols in order, each placed after those of its length already placed: (length, symbol) order.
  lengths.forEach((l, symbol) => symbols[next[l]++] = symbol);
  return { first, count, offset, symbols };
}

const TABLE = buildCanonical();

/** A Huffman string that does not decode: a code past the end, EOS inside it, or padding that is not EOS's start. */
export class HuffmanError extends Error {}

/** Decodes `bytes[start, end)` to a string of one character per octet (latin1). */
export function decodeHuffman(bytes: Uint8Array, start: number, end: number): string {
  const { first, count, offset, symbols } = TABLE;
  // The shortest code is 5 bits, so no string decodes to more than 8/5 of its octets.
  const out = new Uint8Array(Math.ceil((end - start) * 8 / 5));
  let n = 0;
  let code = 0;
  let length = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const f = first[length];
      if (f >= 0 && code >= f && code - f < count[length]) {
        const symbol = symbols[offset[length] + code - f];
        if (symbol === EOS) throw new HuffmanError("EOS inside a Huffman string");
        out[n++] = symbol;
        code = 0;
        length = 0;
      } else if (length === MAX_LENGTH) throw new HuffmanError("no Huffman code matches");
    }
  }
  // What is left is padding: at most 7 bits, all ones (the most significant bits of EOS).
  if (length > 7) throw new HuffmanError("Huffman padding longer than 7 bits");
  if (code !== 2 ** length - 1) throw new HuffmanError("Huffman padding is not EOS's prefix");
  return Buffer.from(out.buffer, 0, n).toString("latin1");
}
