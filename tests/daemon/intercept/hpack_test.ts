import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decodeHuffman, HuffmanError } from "../../../daemon/intercept/hpack_huffman.ts";
import { encodeResponseHead, HpackDecoder, HpackError } from "../../../daemon/intercept/hpack.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ""), "hex");
const huffman = (s: string) => {
  const b = hex(s);
  return decodeHuffman(b, 0, b.length);
};

/** Every octet 0–255 in order, Huffman-coded (RFC 7541 Appendix B), as another implementation encodes it. */
const ALL_OCTETS =
  "ffc7fffd8fffffe2fffffe3fffffe4fffffe5fffffe6fffffe7fffffe8ffffeafffffff3fffffa7fffffabffffffdfff" +
  "ffebfffffecfffffedfffffeefffffefffffff0ffffff1ffffff2fffffffbfffffcffffffd3fffffd7fffffdbfffffdf" +
  "fffffe3fffffe7fffffebfffffed4fe3f9ffaffcabf1febfafefe7fdfd2cbb00089969b71d79fb9f7fff20ffbff3ff50" +
  "ddbd7f061c58f265cd9f469d5af66dddbf871e5f9cff7ff7fffc3ff9ffe45fff4719242cb34e6e9d68a6a3d7dac426de" +
  "fe3cfaf7fffbfe7ffbffdffffffcfffe6ffff4bfff9ffffa3fffd3ffff53fffd5ffffb3fffeb7fffdaffffb7ffff73ff" +
  "feeffffdeffffebffffbfffffd9ffffdbfffebffffe0ffffeeffffc3ffff8bffff1ffffe4fffee7fffb1ffff97fffd9f" +
  "fffcdffff9fffffbffffdafffeeffff4ffffb7fffee7fffe8ffffd3fffdeffffd5fffeeffffbdffffe1fffdfffff7fff" +
  "ff5ffffecffff07fff87fffe0ffff17fffedffff87ffff77fffeffffeaffff8bfffe3ffff93ffff87fffcbffff37ffff" +
  "1fffff83ffffe1fffebfffe3ffff3fffff2ffffa3ffffd9fffff17ffffc7fffff27ffffdefffffbffffff2fffff8ffff" +
  "fb7fff97fff8fffffe6fffffc1fffff87ffffe7fffffc5ffffe5fffe4ffff2fffffd1fffff4ffffffefffffe3fffffc9" +
  "fffff97fffb3ffffcffffb7fffcdffff4ffff9ffffd1ffffcffffeaffffafffffddffffeffffff4fffff5fffffabffff" +
  "a7ffffd7fffff9bffffecfffffb7fffff3fffffe8fffffd3fffffabfffff5fffffff7ffffecfffffdbfffffbbfffff7f" +
  "fffff0fffffbbf";

Deno.test("decodeHuffman() decodes every octet, and RFC 7541's examples", () => {
  const all = huffman(ALL_OCTETS);
  assert.equal(all.length, 256);
  for (let i = 0; i < 256; i++) assert.equal(all.charCodeAt(i), i, `octet ${i}`);
  assert.equal(huffman("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), "www.example.com");
  assert.equal(
    huffman("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"),
    "Mon, 21 Oct 2013 20:13:21 GMT",
  );
  assert.equal(huffman("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"), "https://www.example.com");
  assert.equal(huffman(""), "");
});

Deno.test("decodeHuffman() refuses padding that is not EOS's start, padding of 8 bits or more, and EOS itself", () => {
  // "0" is 00000 (5 bits): padded with 111 it is one octet.
  assert.equal(huffman("07"), "0");
  assert.throws(() => huffman("06"), HuffmanError, "padding with a zero bit");
  assert.throws(() => huffman("07 ff"), HuffmanError, "a whole octet of padding");
  assert.throws(() => huffman("ff ff ff ff"), HuffmanError, "EOS (30 ones)");
});

Deno.test("HpackDecoder decodes RFC 7541 C.4's three requests, the later ones through the dynamic table", () => {
  const d = new HpackDecoder(64 * 1024);
  assert.deepEqual(d.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")), [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
  ]);
  assert.deepEqual(d.decode(hex("8286 84be 5886 a8eb 1064 9cbf")), [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
    ["cache-control", "no-cache"],
  ]);
  assert.deepEqual(d.decode(hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")), [
    [":method", "GET"],
    [":scheme", "https"],
    [":path", "/index.html"],
    [":authority", "www.example.com"],
    ["custom-key", "custom-value"],
  ]);
});

Deno.test("HpackDecoder evicts the oldest entries when the table is full, and a size update shrinks it", () => {
  const d = new HpackDecoder(64 * 1024);
  // Two 42-octet entries (a: 32 + 1 + 9 octets); a table of 84 holds both, of 83 only the newer.
  const entry = (name: string, value: string) =>
    Buffer.concat([
      Buffer.from([0x40, name.length]),
      Buffer.from(name),
      Buffer.from([value.length]),
      Buffer.from(value),
    ]);
  assert.deepEqual(
    d.decode(Buffer.concat([hex("3f 35"), entry("a", "111111111"), entry("b", "222222222")])),
    [
      ["a", "111111111"],
      ["b", "222222222"],
    ],
  );
  assert.deepEqual(d.decode(hex("be bf")), [["b", "222222222"], ["a", "111111111"]]);
  assert.deepEqual(d.decode(hex("3f 34 be")), [["b", "222222222"]], "the older entry was evicted");
  assert.throws(() => d.decode(hex("bf")), HpackError);
});

Deno.test("HpackDecoder refuses malformed blocks", () => {
  const refuses = (block: string, why: string) =>
    assert.throws(() => new HpackDecoder(64 * 1024).decode(hex(block)), HpackError, why);
  refuses("80", "index 0");
  refuses("be", "an index past an empty dynamic table");
  refuses("ff", "an integer cut off");
  refuses("ff ff ff ff ff ff 0f", "an integer too large");
  refuses("00 05 61", "a name past the block's end");
  refuses("00 81 06 01 61", "a Huffman name with bad padding");
  refuses("82 20", "a table size update after a field");
  refuses("3f e2 1f", "a table size update above 4096");
  assert.throws(
    () => new HpackDecoder(100).decode(Buffer.concat([hex("00 01 61 7f 00"), Buffer.alloc(127, 0x61)])),
    HpackError,
    "a header list larger than allowed",
  );
});

Deno.test("encodeResponseHead() writes what a decoder reads back, :status first", () => {
  const d = new HpackDecoder(64 * 1024);
  const long = "x".repeat(300);
  assert.deepEqual(
    d.decode(encodeResponseHead(200, [["content-type", "text/event-stream"], ["x-long", long]], false)),
    [
      [":status", "200"],
      ["content-type", "text/event-stream"],
      ["x-long", long],
    ],
  );
  const odd = encodeResponseHead(429, [["set-cookie", "a=1"], ["set-cookie", "b=2"]], true);
  assert.equal(odd[0], 0x20, "the table size update to 0 comes first");
  assert.deepEqual(d.decode(odd), [[":status", "429"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
});
