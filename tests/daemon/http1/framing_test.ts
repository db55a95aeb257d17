import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  clientKeepsAlive,
  forwardableResponseHeaders,
  requestFraming,
  responseFraming,
} from "../../../daemon/http1/framing.ts";
import { BodyReader } from "../../../daemon/http1/body.ts";

Deno.test("requestFraming() refuses what could smuggle a request", () => {
  assert.equal(
    requestFraming({ "transfer-encoding": "chunked", "content-length": "5" }),
    "both transfer-encoding and content-length",
  );
  assert.equal(requestFraming({ "transfer-encoding": "chunked, gzip" }), "unsupported transfer-encoding");
  assert.equal(requestFraming({ "content-length": "5, 6" }), "malformed content-length");
  assert.equal(requestFraming({ "content-length": "-1" }), "malformed content-length");
  assert.deepEqual(requestFraming({ "content-length": "5, 5" }), { kind: "length", length: 5 });
  assert.deepEqual(requestFraming({ "content-length": "0" }), { kind: "none" });
  assert.deepEqual(requestFraming({ "transfer-encoding": "gzip, Chunked" }), { kind: "chunked" });
});

Deno.test("responseFraming() reads a provider's answer leniently", () => {
  assert.deepEqual(responseFraming("HEAD", 200, { "content-length": "9" }), { kind: "none" });
  assert.deepEqual(responseFraming("GET", 304, {}), { kind: "none" });
  assert.deepEqual(responseFraming("GET", 200, { "content-length": "9, 9" }), { kind: "length", length: 9 });
  assert.deepEqual(responseFraming("GET", 200, { "transfer-encoding": "chunked" }), { kind: "chunked" });
  assert.deepEqual(responseFraming("GET", 200, { "transfer-encoding": "gzip" }), { kind: "close" });
  assert.deepEqual(responseFraming("GET", 200, {}), { kind: "close" });
  assert.deepEqual(responseFraming("GET", 200, { "transfer-encoding": "chunked", "content-length": "5" }), {
    kind: "chunked",
  });
  assert.equal(
    responseFraming("GET", 200, { "content-length": "2, 7" }),
    "conflicting content-length values",
  );
});

Deno.test("forwardableResponseHeaders() drops a length beside chunks and says a repeated one once", () => {
  assert.deepEqual(
    forwardableResponseHeaders({ "transfer-encoding": "chunked", "content-length": "5", "x-a": "1" }),
    { "transfer-encoding": "chunked", "x-a": "1" },
  );
  assert.deepEqual(forwardableResponseHeaders({ "content-length": "9, 9" }), { "content-length": "9" });
  const plain = { "content-length": "9" };
  assert.equal(forwardableResponseHeaders(plain), plain);
});

Deno.test("clientKeepsAlive() keeps HTTP/1.1 open unless told to close, HTTP/1.0 only when asked", () => {
  assert.equal(clientKeepsAlive("1.1", {}), true);
  assert.equal(clientKeepsAlive("1.1", { connection: "Close" }), false);
  assert.equal(clientKeepsAlive("1.0", {}), false);
  assert.equal(clientKeepsAlive("1.0", { connection: "keep-alive" }), true);
});

Deno.test("BodyReader takes a length-delimited body across reads and leaves the next message", () => {
  const reader = new BodyReader({ kind: "length", length: 5 });
  const first = reader.read(Buffer.from("hel"));
  assert.deepEqual(first.data.map(String), ["hel"]);
  assert.equal(first.rest, undefined);
  const second = reader.read(Buffer.from("loGET /"));
  assert.deepEqual(second.data.map(String), ["lo"]);
  assert.equal(second.rest?.toString(), "GET /");
});

Deno.test("BodyReader: no body leaves every byte; a body to the close never ends on its own", () => {
  assert.equal(new BodyReader({ kind: "none" }).read(Buffer.from("next")).rest?.toString(), "next");
  const close = new BodyReader({ kind: "close" }).read(Buffer.from("all of it"));
  assert.deepEqual(close.data.map(String), ["all of it"]);
  assert.equal(close.rest, undefined);
});
