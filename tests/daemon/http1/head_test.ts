import assert from "node:assert/strict";
import {
  headerLines,
  parseRequestHead,
  parseResponseHead,
  serializeHead,
} from "../../../daemon/http1/head.ts";

Deno.test("parseResponseHead() reads the status, reason and repeated headers of a provider's answer", () => {
  const head = parseResponseHead(
    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nSet-Cookie: a\r\nset-cookie: b",
  );
  assert.ok(typeof head !== "string");
  assert.equal(head.status, 429);
  assert.equal(head.message, "Too Many Requests");
  assert.equal(head.headers["retry-after"], "1");
  assert.deepEqual(head.headers["set-cookie"], ["a", "b"]);
  assert.equal((parseResponseHead("HTTP/1.1 204") as { message: string }).message, "");
  assert.equal(parseResponseHead("SSH-2.0-OpenSSH"), "a malformed status line");
  assert.equal(parseResponseHead("HTTP/1.1 200 OK\r\nno colon"), "a malformed header line");
});

Deno.test("a provider's header name with a space is taken trimmed; a client's is refused", () => {
  const response = parseResponseHead("HTTP/1.1 200 OK\r\nX-Odd : 1");
  assert.ok(typeof response !== "string");
  assert.equal(response.headers["x-odd"], "1");
  assert.equal(parseRequestHead("GET / HTTP/1.1\r\nX-Odd : 1"), "malformed header line");
});

Deno.test("serializeHead() writes what parseRequestHead() reads back, values repeated, undefined left out", () => {
  const bytes = serializeHead(
    "POST /v1/x HTTP/1.1",
    { host: "a", "x-tag": ["1", "2"], gone: undefined },
    "x: y\r\n",
  );
  const text = bytes.toString("latin1");
  assert.equal(text, "POST /v1/x HTTP/1.1\r\nhost: a\r\nx-tag: 1\r\nx-tag: 2\r\nx: y\r\n\r\n");
  const back = parseRequestHead(text.slice(0, -4));
  assert.ok(typeof back !== "string");
  assert.deepEqual(back.headers["x-tag"], ["1", "2"]);
});

Deno.test("a header named like an Object property (constructor, __proto__) is read and written as sent", () => {
  const head = parseRequestHead(
    "POST /v1/x HTTP/1.1\r\nHost: a\r\nConstructor: c\r\n__proto__: p\r\ntoString: t",
  );
  assert.ok(typeof head !== "string");
  assert.equal(head.headers["constructor"], "c");
  assert.equal(head.headers["tostring"], "t");
  const text = serializeHead("POST /v1/x HTTP/1.1", head.headers).toString("latin1");
  assert.match(text, /\r\nconstructor: c\r\n/);
  assert.match(text, /\r\n__proto__: p\r\n/);
});

Deno.test("headerLines() leaves out the names it is told to skip", () => {
  assert.equal(headerLines({ a: "1", b: "2" }, new Set(["a"])), "b: 2\r\n");
});

Deno.test("serializeHead() writes latin1 header values byte for byte", () => {
  assert.deepEqual([...serializeHead("HTTP/1.1 200 OK", { x: "é" }).subarray(17, 21)], [
    0x78,
    0x3a,
    0x20,
    0xe9,
  ]);
});
