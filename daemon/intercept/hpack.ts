/**
 * HPACK (RFC 7541), as much as a server needs: a full decoder for the header blocks clients send, with its
 * dynamic table, and an encoder for response heads that never indexes (every field a literal or a static
 * entry), so the client's decoder keeps no state of ours. Names and values are strings of one character per
 * octet (latin1), as the daemon's HTTP/1.1 reads and writes them.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { decodeHuffman, HuffmanError } from "./hpack_huffman.ts";

/** A header block that cannot be decoded: the connection's decoding state is lost (COMPRESSION_ERROR). */
export class HpackError extends Error {}

/** One decoded field: lower-case name (not checked here) and value. */
export type Field = [name: string, value: string];

/** The static table (RFC 7541 Appendix A); index 1 is the first entry. */
const STATIC: readonly Field[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ...("accept-charset accept-encoding accept-language accept-ranges accept access-control-allow-origin age " +
    "allow authorization cache-control content-disposition content-encoding content-language content-length " +
    "content-location content-range content-type cookie date etag expect expires from host if-match " +
    "if-modified-since if-none-match if-range if-unmodified-since last-modified link location max-forwards " +
    "proxy-authenticate proxy-authorization range referer refresh retry-after server set-cookie " +
    "strict-transport-security transfer-encoding user-agent vary via www-authenticate")
    .split(" ").map((name): Field => [name, name === "accept-encoding" ? "gzip, deflate" : ""]),
];

/** What every entry of the dynamic table costs beyond its octets (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;
/** The dynamic table size this side allows, the protocol's default (SETTINGS_HEADER_TABLE_SIZE not sent). */
export const TABLE_SIZE = 4096;

/** Decodes the header blocks of one connection, in order: the dynamic table carries from block to block. */
export class HpackDecoder {
  #table: Field[] = [];
  #size = 0;
  #maxSize = TABLE_SIZE;
  readonly #maxListSize: number;

  /** `maxListSize`: the largest header list taken (names, values and 32 octets a field), else an error. */
  constructor(maxListSize: number) {
    this.#maxListSize = maxListSize;
  }

  /**
   * The fields of `block`, a whole header block. Throws {@linkcode HpackError} on malformed input, or a list
   * larger than allowed: the decoding state is then unusable and the connection must end.
   */
  decode(block: Uint8Array): Field[] {
    const fields: Field[] = [];
    let listSize = 0;
    let pos = 0;
    const integer = (prefixBits: number): number => {
      const max = (1 << prefixBits) - 1;
      let value = block[pos++] & max;
      if (value < max) return value;
      let shift = 0;
      for (;;) {
        if (pos >= block.length) throw new HpackError("integer past the end of the block");
        const b = block[pos++];
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (value > 0xffffffff || shift > 35) throw new HpackError("integer too large");
        if (!(b & 0x80)) return value;
      }
    };
    const string = (): string => {
      if (pos >= block.length) throw new HpackError("string past the end of the block");
      const huffman = (block[pos] & 0x80) !== 0;
      const length = integer(7);
      const end = pos + length;
      if (end > block.length) throw new HpackError("string past the end of the block");
      let s: string;
      try {
        s = huffman
          ? decodeHuffman(block, pos, end)
          : Buffer.from(block.buffer, block.byteOffset + pos, length)
            .toString("latin1");
      } catch (e) {
        throw e instanceof HuffmanError ? new HpackError(e.message) : e;
      }
      pos = end;
      return s;
    };
    const entry = (index: number): Field => {
      if (index === 0) throw new HpackError("index 0");
      if (index <= STATIC.length) return STATIC[index - 1];
      const field = this.#table[index - STATIC.length - 1];
      if (!field) throw new HpackError(`index ${index} past the dynamic table`);
      return field;
    };
    let sizeUpdateAllowed = true;
    while (pos < block.length) {
      const b = block[pos];
      let field: Field;
      if (b & 0x80) field = entry(integer(7));
      else if ((b & 0xe0) === 0x20) {
        // A dynamic table size update: only at the block's start, and within what SETTINGS allowed.
        if (!sizeUpdateAllowed) throw new HpackError("table size update after a field");
        const size = integer(5);
        if (size > TABLE_SIZE) throw new HpackError("table size update above the allowed size");
        this.#maxSize = size;
        this.#evict(0);
        continue;
      } else {
        const indexing = (b & 0xc0) === 0x40;
        const index = integer(indexing ? 6 : 4);
        const name = index === 0 ? string() : entry(index)[0];
        field = [name, string()];
        if (indexing) this.#add(field);
      }
      sizeUpdateAllowed = false;
      listSize += field[0].length + field[1].length + ENTRY_OVERHEAD;
      if (listSize > this.#maxListSize) throw new HpackError("header list too large");
      fields.push(field);
    }
    return fields;
  }

  #add(field: Field): void {
    const size = field[0].length + field[1].length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    this.#evict(size);
    if (size > this.#maxSize) return;
    this.#table.unshift(field);
    this.#size += size;
  }

  /** Evicts the oldest entries until `room` more octets fit (or the table is empty). */
  #evict(room: number): void {
    while (this.#table.length && this.#size + room > this.#maxSize) {
      const [name, value] = this.#table.pop()!;
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

/** Static indexes of `:status` values (RFC 7541 Appendix A). */
const STATUS_INDEX: Record<number, number> = { 200: 8, 204: 9, 206: 10, 304: 11, 400: 12, 404: 13, 500: 14 };

/**
 * A response's header block: `:status`, then `fields` as literals never added to the table. With
 * `tableSizeUpdate`, the block starts by setting this side's dynamic table size to 0, which a peer that
 * lowered its SETTINGS_HEADER_TABLE_SIZE expects (the table is empty anyway).
 */
export function encodeResponseHead(
  status: number,
  fields: Iterable<Field>,
  tableSizeUpdate: boolean,
): Buffer {
  const parts: number[] = [];
  if (tableSizeUpdate) parts.push(0x20);
  const index = STATUS_INDEX[status];
  if (index) parts.push(0x80 | index);
  else {
    parts.push(0x08);
    pushString(parts, String(status));
  }
  for (const [name, value] of fields) {
    parts.push(0x00);
    pushString(parts, name);
    pushString(parts, value);
  }
  return Buffer.from(parts);
}

/** A raw (not Huffman) string literal: its length with a 7-bit prefix, then its octets. */
function pushString(out: number[], s: string): void {
  pushInteger(out, 0x00, 7, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/** An integer with an `n`-bit prefix, the first octet's other bits being `flags` (RFC 7541 §5.1). */
function pushInteger(out: number[], flags: number, n: number, value: number): void {
  const max = (1 << n) - 1;
  if (value < max) return void out.push(flags | value);
  out.push(flags | max);
  value -= max;
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}
