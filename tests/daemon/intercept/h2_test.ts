import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connectionStart, createHttp2Front } from "../../../daemon/intercept/h2.ts";
import type { ConnMeta } from "../../../daemon/intercept/tls_front.ts";

const hasCurl = await new Deno.Command("curl", { args: ["--version"], stdout: "null" }).output().then(
  (r) => r.success,
  () => false,
);

Deno.test({
  name: "the HTTP/2 listener refuses streams on connections it did not relay, so it is no way around CONNECT",
  ignore: !hasCurl,
  async fn() {
    const refused: [string, ConnMeta | undefined][] = [];
    const served: ConnMeta[] = [];
    const front = createHttp2Front({
      onRequest: (meta) => served.push(meta),
      onRefused: (reason, meta) => refused.push([reason, meta]),
      track: () => {},
      onHttp1: (socket) => socket.destroy(),
    });
    try {
      const r = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--http2-prior-knowledge",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{http_version}",
          `http://127.0.0.1:${front.port}/v1/chat/completions`,
        ],
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(r.stdout), "421 2");
      assert.equal(served.length, 0, "nothing was forwarded");
      assert.equal(refused.length, 1);
      assert.equal(refused[0][1], undefined);
    } finally {
      await front.close();
    }
  },
});

Deno.test("connectionStart() tells the HTTP/2 preface from an HTTP/1.1 request line, split anywhere, and from garbage", () => {
  const at = (s: string) => connectionStart(Buffer.from(s, "latin1"));
  const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  for (let i = 1; i < preface.length; i++) assert.equal(at(preface.slice(0, i)), undefined, `prefix of ${i}`);
  assert.equal(at(preface), "h2");
  assert.equal(at(preface + "\x00\x00\x12\x04"), "h2");
  assert.equal(at("POST /v1/chat/completions HTTP/1.1\r\n"), "http/1.1");
  assert.equal(at("GET "), "http/1.1");
  assert.equal(at("GE"), undefined);
  assert.equal(at("\x00\x01\x02 this is neither"), false);
  assert.equal(at("PRI * HTTP/1.1\r\n"), "http/1.1", "a request line, not the preface");
  assert.equal(at("PRX"), undefined, "could still be a method name");
  assert.equal(at("PRX\r\n"), false);
  assert.equal(at("A".repeat(40)), false);
  assert.equal(at("\x16\x03\x01"), false, "a second TLS handshake inside the first");
});
