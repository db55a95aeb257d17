import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import net from "node:net";
import type tls from "node:tls";
import { connectionStart, createHttp2Front, hostOf } from "../../../daemon/intercept/h2.ts";

const hasCurl = await new Deno.Command("curl", { args: ["--version"], stdout: "null" }).output().then(
  (r) => r.success,
  () => false,
);

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

Deno.test({
  name:
    "HTTP/2 connections one after another are each served with their own CONNECT's details, and drain ends",
  ignore: !hasCurl,
  async fn() {
    const served: string[] = [];
    const front = createHttp2Front({
      onRequest: (meta, client) => {
        served.push(meta.client);
        client.respond(200, "OK", { "content-type": "text/plain" }).end(Buffer.from(`hello ${meta.client}`));
      },
      onRefused: (reason) => assert.fail(`refused: ${reason}`),
      onHttp1: (socket) => socket.destroy(),
    });
    // Stands in for the TLS front: each connection it accepts is handed over as if decrypted.
    let n = 0;
    const accepted = new Set<net.Socket>();
    const entry = net.createServer((socket) => {
      accepted.add(socket);
      front.accept(socket as tls.TLSSocket, { host: "127.0.0.1", port: 443, client: `client-${++n}` });
    });
    await new Promise<void>((r) => entry.listen(0, "127.0.0.1", r));
    const port = (entry.address() as net.AddressInfo).port;
    try {
      for (const expected of ["client-1", "client-2", "client-3"]) {
        const r = await new Deno.Command("curl", {
          args: ["-sS", "--http2-prior-knowledge", "-w", " %{http_version}", `http://127.0.0.1:${port}/v1/x`],
          stderr: "inherit",
        }).output();
        assert.equal(new TextDecoder().decode(r.stdout), `hello ${expected} 2`);
      }
      assert.deepEqual(served, ["client-1", "client-2", "client-3"]);
      // A relay connection held ready for the next client must not keep the drain waiting.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = await Promise.race([
        front.drain().then(() => true),
        new Promise<false>((r) => timer = setTimeout(() => r(false), 1500)),
      ]);
      clearTimeout(timer);
      assert.equal(drained, true, "drain() ended within 1.5 s");
    } finally {
      await front.close();
      for (const s of accepted) s.destroy();
      await new Promise((r) => entry.close(r));
    }
  },
});

Deno.test("hostOf() gives an :authority's host as a CONNECT's is kept, and leaves anything odd to fail", () => {
  assert.equal(hostOf("API.OpenAI.com:443"), "api.openai.com");
  assert.equal(hostOf("api.openai.com"), "api.openai.com");
  assert.equal(hostOf("api.openai.com.:443"), "api.openai.com", "a final dot, as connect.ts drops it");
  assert.equal(hostOf("[::1]:8443"), "::1", "IPv6 without brackets, as connect.ts keeps it");
  assert.equal(hostOf("[::1]"), "::1");
  assert.equal(hostOf("api.openai.com@evil.example"), "api.openai.com@evil.example");
  assert.equal(hostOf("api.openai.com:"), "api.openai.com:");
});

Deno.test({
  name: "a stream naming another host than its connection's CONNECT is answered 421 and not forwarded",
  ignore: !hasCurl,
  async fn() {
    const served: string[] = [];
    const refused: string[] = [];
    const front = createHttp2Front({
      onRequest: (_meta, client) => {
        served.push(String(client.headers.host));
        client.respond(200, "OK", {}).end(Buffer.from("ok"));
      },
      onRefused: (reason) => refused.push(reason),
      onHttp1: (socket) => socket.destroy(),
    });
    const accepted = new Set<net.Socket>();
    const entry = net.createServer((socket) => {
      accepted.add(socket);
      front.accept(socket as tls.TLSSocket, { host: "api.openai.com", port: 443, client: "c" });
    });
    await new Promise<void>((r) => entry.listen(0, "127.0.0.1", r));
    const port = (entry.address() as net.AddressInfo).port;
    const call = async (host: string) => {
      const r = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--http2-prior-knowledge",
          "--resolve",
          `${host}:${port}:127.0.0.1`,
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          `http://${host}:${port}/v1/x`,
        ],
        stderr: "inherit",
      }).output();
      return new TextDecoder().decode(r.stdout);
    };
    try {
      assert.equal(await call("evil.example"), "421");
      assert.equal(await call("api.openai.com"), "200");
      assert.deepEqual(served, [`api.openai.com:${port}`], "only the matching stream reached the exchange");
      assert.equal(refused.length, 1);
      assert.match(refused[0], /evil\.example/);
    } finally {
      await front.close();
      for (const s of accepted) s.destroy();
      await new Promise((r) => entry.close(r));
    }
  },
});
