import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { Buffer } from "node:buffer";
import { serveHttp1 } from "../../../daemon/intercept/h1.ts";
import { parseRequestHead } from "../../../daemon/http1/head.ts";
import type { ClientSide } from "../../../daemon/intercept/exchange.ts";
import { DISCARD } from "../../../daemon/upstream/flow.ts";

Deno.test("parseRequestHead() keeps repeated headers and lower-cases names", () => {
  const head = parseRequestHead("POST /v1/x?y=1 HTTP/1.1\r\nHost: a\r\nX-Tag: 1\r\nx-tag: 2");
  assert.ok(typeof head !== "string");
  assert.equal(head.method, "POST");
  assert.equal(head.target, "/v1/x?y=1");
  assert.deepEqual(head.headers["x-tag"], ["1", "2"]);
  assert.equal(parseRequestHead("POST /x HTTP/1.1\r\nBad Header: 1"), "malformed header line");
  assert.equal(parseRequestHead("NOT A REQUEST"), "malformed request line");
});

/** A socket pair stand-in: what the server writes is collected, `send` feeds it bytes. */
function fakeSocket() {
  const socket = new PassThrough();
  const fromServer: Buffer[] = [];
  const written = new PassThrough();
  // The server reads what we push into `socket` and writes into it too; split the two directions.
  const duplex = Object.assign(socket, {
    write(chunk: string | Uint8Array, ...rest: unknown[]) {
      fromServer.push(Buffer.from(chunk));
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    },
    end(chunk?: string | Uint8Array) {
      if (chunk) fromServer.push(Buffer.from(chunk));
      socket.emit("finish");
      return socket;
    },
  });
  return { duplex, text: () => Buffer.concat(fromServer).toString("latin1"), written };
}

async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

Deno.test("serveHttp1() decodes a chunked request body, answers in order and keeps the connection", async () => {
  const { duplex, text } = fakeSocket();
  const bodies: string[] = [];
  serveHttp1(duplex, (client: ClientSide) => {
    const parts: Buffer[] = [];
    client.body.receive({
      data: (c) => parts.push(c),
      end() {
        bodies.push(Buffer.concat(parts).toString());
        client.respond(200, "OK", { "content-type": "text/plain" }).end(Buffer.from(`got ${client.path}`));
      },
      abort: () => assert.fail("the body is not cut short"),
    });
  }, () => assert.fail("no bad request expected"));
  duplex.push(
    "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n" +
      "GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  await settle();
  assert.deepEqual(bodies, ["hello world", ""]);
  const out = text();
  assert.match(out, /^HTTP\/1\.1 200 OK\r\ncontent-type: text\/plain\r\ntransfer-encoding: chunked\r\n\r\n/);
  assert.ok(out.indexOf("got /a") < out.indexOf("got /b"));
  assert.equal(out.match(/0\r\n\r\n/g)?.length, 2);
  duplex.destroy();
});

Deno.test("serveHttp1() refuses request smuggling and oversized heads with a close", async () => {
  for (
    const [input, status] of [
      ["POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"],
      ["POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", "400"],
      ["GET / HTTP/1.1\r\nX: " + "a".repeat(70 * 1024), "431"],
    ] as const
  ) {
    const { duplex, text } = fakeSocket();
    const reasons: string[] = [];
    serveHttp1(duplex, () => assert.fail("no request expected"), (r) => reasons.push(r));
    duplex.push(input);
    await settle();
    assert.match(text(), new RegExp(`^HTTP/1\\.1 ${status} .*\\r\\nconnection: close\\r\\n`));
    assert.equal(reasons.length, 1);
    duplex.destroy();
    await settle();
  }
});

Deno.test("serveHttp1() sends a small response's head and body in one write, and a slow body's head at once", async () => {
  const { duplex, text } = fakeSocket();
  const writes: string[] = [];
  const write = duplex.write.bind(duplex);
  duplex.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    writes.push(Buffer.from(chunk).toString("latin1"));
    return write(chunk, ...rest);
  };
  let later: ((body: string) => void) | undefined;
  serveHttp1(duplex, (client: ClientSide) => {
    client.body.receive(DISCARD);
    const out = client.respond(200, "OK", { "content-type": "text/plain", "content-length": "5" });
    if (client.path === "/now") out.end(Buffer.from("hello"));
    else later = (body) => out.end(Buffer.from(body));
  }, () => assert.fail("no bad request expected"));
  duplex.push("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
  await settle();
  assert.equal(writes.length, 1);
  assert.match(writes[0], /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello$/);

  duplex.push("GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  await settle();
  assert.equal(writes.length, 2, "the head of a response whose body has not started goes out alone");
  assert.match(writes[1], /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
  later!("world");
  await settle();
  assert.ok(text().endsWith("world"));
  duplex.destroy();
  await settle();
});

Deno.test("serveHttp1() answered before the body ended reads the rest and drops it, then serves on; past 16 MB it ends", async () => {
  const { duplex, text } = fakeSocket();
  let ended = false;
  duplex.on("finish", () => ended = true);
  const paths: string[] = [];
  const aborted: string[] = [];
  serveHttp1(duplex, (client: ClientSide) => {
    paths.push(client.path);
    client.body.receive({ data() {}, end() {}, abort: (e) => aborted.push(e.message) });
    // Answered at once, the body never waited for: a provider refusing a request early.
    client.respond(404, "Not Found", { "content-length": "9" }).end(Buffer.from("not found"));
  }, () => assert.fail("no bad request expected"));
  const block = Buffer.alloc(64 * 1024, 0x78);
  const send = async (bytes: number) => {
    for (let sent = 0; sent < bytes; sent += block.length) {
      duplex.push(block.subarray(0, Math.min(block.length, bytes - sent)));
    }
    await settle();
  };

  duplex.push(`POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: ${3 * 1024 * 1024}\r\n\r\n`);
  await send(128 * 1024);
  assert.equal(text().match(/HTTP\/1\.1 404/g)?.length, 1, "answered while the body still comes");
  assert.deepEqual(aborted, ["response sent before the request ended"], "the exchange is told");
  await send(3 * 1024 * 1024 - 128 * 1024);
  duplex.push("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  await settle();
  assert.deepEqual(paths, ["/early", "/next"], "the rest was dropped whole, and the next request read");
  assert.equal(text().match(/HTTP\/1\.1 404/g)?.length, 2);
  assert.equal(ended, false, "the connection stays");

  duplex.push(`POST /huge HTTP/1.1\r\nHost: x\r\nContent-Length: ${20 * 1024 * 1024}\r\n\r\n`);
  await send(17 * 1024 * 1024);
  assert.equal(text().match(/HTTP\/1\.1 404/g)?.length, 3);
  assert.equal(ended, true, "past 16 MB dropped, the connection ends after the answer");
  duplex.destroy();
  await settle();
});
