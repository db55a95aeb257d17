import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { rootsBeyond, UpstreamPool } from "../../../daemon/upstream/pool.ts";
import { parseResolveMap } from "../../../daemon/upstream/target.ts";
import { parseProxyUrl } from "../../../daemon/upstream/proxy.ts";
import { COMPLETION, startFakeProvider } from "../../../testkit/fake_provider.ts";
import { LeafMinter, loadOrCreateCa } from "../../../tls/mod.ts";

/** A minimal CONNECT proxy: answers `status`, and when it is 200 splices to the requested target. */
function startProxy(status: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(4096);
        const n = (await conn.read(buf)) ?? 0;
        const head = new TextDecoder().decode(buf.subarray(0, n));
        seen.push(head);
        if (status !== 200) {
          await conn.write(new TextEncoder().encode(`HTTP/1.1 ${status} No\r\ncontent-length: 0\r\n\r\n`));
          return;
        }
        const [host, port] = /^CONNECT (\S+) /.exec(head)![1].split(":");
        const up = await Deno.connect({ hostname: host, port: Number(port) });
        conns.add(up);
        await conn.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
        await Promise.all([conn.readable.pipeTo(up.writable), up.readable.pipeTo(conn.writable)]).catch(
          () => {},
        );
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    seen,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

function get(pool: UpstreamPool, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const call = pool.request({
      target: { host: "api.openai.com", port: 443 },
      method: "POST",
      path,
      headers: { "content-type": "application/json" },
    }, {
      error: reject,
      response(res) {
        const parts: Buffer[] = [];
        res.body.receive({
          data: (c) => parts.push(c),
          end: () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }),
          abort: reject,
        });
      },
    });
    call.end(Buffer.from("{}"));
  });
}

Deno.test("UpstreamPool reuses one verified connection, honours resolve, and trusts ca_file", async () => {
  const dir = await Deno.makeTempDir();
  const fake = await startFakeProvider(dir);
  const pool = new UpstreamPool({
    ca_file: fake.caFile,
    proxy: "",
    resolve: { "api.openai.com": `127.0.0.1:${fake.port}` },
  });
  try {
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(JSON.parse((await get(pool, "/v1/chat/completions")).body), COMPLETION);
    }
    assert.equal(pool.opened, 1);
    assert.equal(fake.requests.length, 5);
    assert.equal(fake.requests[0].headers.host, "api.openai.com");
  } finally {
    pool.close();
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UpstreamPool refuses a provider whose certificate it cannot verify", async () => {
  const dir = await Deno.makeTempDir();
  const fake = await startFakeProvider(dir);
  const pool = new UpstreamPool({
    ca_file: "",
    proxy: "",
    resolve: { "api.openai.com": `127.0.0.1:${fake.port}` },
  });
  try {
    await assert.rejects(() => get(pool, "/v1/chat/completions"), /certificate|UnknownIssuer|failed/i);
  } finally {
    pool.close();
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UpstreamPool tunnels through [upstream] proxy with its credentials, and reports a refusal", async () => {
  const dir = await Deno.makeTempDir();
  const fake = await startFakeProvider(dir);
  const proxy = startProxy(200);
  const refusing = startProxy(407);
  const settings = { ca_file: fake.caFile, resolve: { "api.openai.com": `127.0.0.1:${fake.port}` } };
  const pool = new UpstreamPool({ ...settings, proxy: `http://corp:s%40cret@127.0.0.1:${proxy.port}` });
  const refused = new UpstreamPool({ ...settings, proxy: `http://127.0.0.1:${refusing.port}` });
  try {
    assert.equal((await get(pool, "/v1/chat/completions")).status, 200);
    assert.match(proxy.seen[0], new RegExp(`^CONNECT 127\\.0\\.0\\.1:${fake.port} HTTP/1\\.1\r\n`));
    assert.match(proxy.seen[0], new RegExp(`Proxy-Authorization: Basic ${btoa("corp:s@cret")}`));
    await assert.rejects(() => get(refused, "/v1/chat/completions"), /answered 407/);
  } finally {
    pool.close();
    refused.close();
    proxy.close();
    refusing.close();
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UpstreamPool gives up on a provider that takes the connection but never answers its TLS hello", async () => {
  // Accepts, reads nothing, answers nothing: a stalled or black-holed endpoint.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const pool = new UpstreamPool({
    ca_file: "",
    proxy: "",
    resolve: { "api.openai.com": `127.0.0.1:${(listener.addr as Deno.NetAddr).port}` },
  }, { connectTimeoutMs: 300 });
  try {
    const started = performance.now();
    await assert.rejects(
      () => get(pool, "/v1/chat/completions"),
      /connecting to api\.openai\.com:443 failed: no answer within 0\.3 s/,
    );
    assert.ok(performance.now() - started < 3_000, "given up at its deadline");
    // The deadline has passed without closing what startTls took over from under it; the pool still works.
    await new Promise((r) => setTimeout(r, 400));
    await assert.rejects(() => get(pool, "/v1/chat/completions"), /no answer within/);
  } finally {
    pool.close();
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
  }
});

Deno.test("bad [upstream] values are reported with a hint, not a stack trace", () => {
  assert.throws(
    () => parseResolveMap({ "api.openai.com": "not an address:x" }),
    /\[upstream\] resolve: expected "api\.openai\.com" to map a host name/,
  );
  assert.throws(() => parseProxyUrl("socks5://h:1"), /\[upstream\] proxy: "socks5:\/\/h:1" is not usable/);
  assert.throws(
    () => new UpstreamPool({ ca_file: "/nonexistent/ca.pem", proxy: "", resolve: {} }),
    /ca_file \/nonexistent\/ca\.pem cannot be read/,
  );
  assert.deepEqual(parseResolveMap({ "API.x.ai": "10.0.0.1" }).get("api.x.ai"), {
    host: "10.0.0.1",
    port: undefined,
  });
});

/**
 * A provider that answers its `n`th request (from 0) with the raw bytes `answer(n)` on a kept-alive TLS
 * connection, and a pool that reaches it as api.openai.com.
 */
async function rawProvider(answer: (n: number) => string) {
  const dir = await Deno.makeTempDir();
  const { ca } = await loadOrCreateCa({
    caDir: dir,
    caKeyAndCert: `${dir}/ca.pem`,
    caCert: `${dir}/ca-cert.pem`,
  });
  const leaf = await new LeafMinter(ca).leafFor("api.openai.com");
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: leaf.certPem, key: leaf.keyPem });
  const conns: Deno.Conn[] = [];
  let answered = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(4096);
        while (((await conn.read(buf)) ?? 0) > 0) {
          await conn.write(new TextEncoder().encode(answer(answered++)));
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  const pool = new UpstreamPool({
    ca_file: `${dir}/ca-cert.pem`,
    proxy: "",
    resolve: { "api.openai.com": `127.0.0.1:${(listener.addr as Deno.NetAddr).port}` },
  });
  return {
    pool,
    async [Symbol.asyncDispose]() {
      pool.close();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await serving;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("UpstreamPool drops an idle connection when the provider's Keep-Alive timeout is up", async () => {
  // The first answer keeps the default idle time; later ones say the server keeps the connection 1 s,
  // which leaves the pool no time to reuse it.
  await using provider = await rawProvider((n) =>
    `HTTP/1.1 200 OK\r\n${n === 0 ? "" : "keep-alive: timeout=1\r\n"}content-length: 2\r\n\r\nok`
  );
  const { pool } = provider;
  assert.equal((await get(pool, "/v1/chat/completions")).body, "ok");
  assert.equal((await get(pool, "/v1/chat/completions")).body, "ok");
  assert.equal(pool.opened, 1, "the connection is reused while its idle time lasts");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await get(pool, "/v1/chat/completions")).body, "ok");
  assert.equal(pool.opened, 2, "the expired connection is not reused");
});

Deno.test("UpstreamPool reads a chunked answer that also names a length by its chunks, and says no length", async () => {
  await using provider = await rawProvider(() =>
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\nb\r\nhello world\r\n0\r\n\r\n"
  );
  const answer = await new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    provider.pool.request({
      target: { host: "api.openai.com", port: 443 },
      method: "GET",
      path: "/v1/models",
      headers: {},
    }, {
      error: reject,
      response(res) {
        const parts: Buffer[] = [];
        res.body.receive({
          data: (c) => parts.push(c),
          end: () => resolve({ headers: res.headers, body: Buffer.concat(parts).toString() }),
          abort: reject,
        });
      },
    }).end();
  });
  assert.equal(answer.body, "hello world");
  assert.equal(
    answer.headers["content-length"],
    undefined,
    "a client told 5 bytes would cut the answer short",
  );
  assert.equal(answer.headers["transfer-encoding"], "chunked");
});

Deno.test("UpstreamPool refuses an answer whose lengths disagree, and passes one said twice alike once", async () => {
  await using provider = await rawProvider((n) =>
    n === 0
      ? "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 7\r\n\r\nok12345"
      : "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok"
  );
  await assert.rejects(() => get(provider.pool, "/v1/chat/completions"), /conflicting content-length values/);
  assert.equal((await get(provider.pool, "/v1/chat/completions")).body, "ok");
});

Deno.test("rootsBeyond() keeps only the roots the bundled store lacks, however their PEM is laid out", () => {
  const pem = (body: string, width: number) =>
    `-----BEGIN CERTIFICATE-----\n${
      body.match(new RegExp(`.{1,${width}}`, "g"))!.join("\n")
    }\n-----END CERTIFICATE-----\n`;
  const shared = "MIIBszCCAVmgAwIBAgIUa2V5c2hhcmVkc2hhcmVkc2hhcmVk";
  const company = "MIIBtDCCAVqgAwIBAgIUY29tcGFueWNvbXBhbnljb21wYW55";
  assert.deepEqual(rootsBeyond([pem(shared, 64), pem(company, 64)], [pem(shared, 76)]), [pem(company, 64)]);
  assert.deepEqual(rootsBeyond([pem(shared, 64)], []), [pem(shared, 64)], "nothing bundled: every root kept");
});
