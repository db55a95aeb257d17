import assert from "node:assert/strict";
import { leanPost } from "../../scripts/bench/_lean_client.ts";
import { startProvider, type Target } from "../../scripts/bench/_rig.ts";

const REQUEST = JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, stream: true, messages: [] });

/**
 * A stand-in started in a temp folder, reached directly and through a bare `CONNECT` proxy that answers with
 * `answer` and relays the tunnel to the stand-in; every `CONNECT` line the proxy read is kept in `connects`.
 */
async function withRig(
  answer: string,
  fn: (direct: Target, proxied: Target, connects: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hm-bench-lean-" });
  const provider = await startProvider(dir);
  const pem = await Deno.readTextFile(provider.caFile);
  const proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connects: string[] = [];
  const tunnels: Promise<void>[] = [];
  const serving = (async () => {
    for await (const conn of proxy) {
      tunnels.push((async () => {
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf);
        connects.push(new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0]);
        await conn.write(new TextEncoder().encode(answer));
        if (!answer.includes(" 200 ")) return conn.close();
        const upstream = await Deno.connect({ hostname: "127.0.0.1", port: provider.port });
        await Promise.allSettled([
          conn.readable.pipeTo(upstream.writable),
          upstream.readable.pipeTo(conn.writable),
        ]);
      })());
    }
  })();
  const target = (name: Target["name"], base: string, proxyUrl?: string): Target => ({
    name,
    base,
    caPem: pem,
    trust: [pem],
    caFile: provider.caFile,
    proxy: proxyUrl,
    curl: [],
    pids: [],
  });
  try {
    await fn(
      target("direct", `https://localhost:${provider.port}`),
      target("meter", "https://localhost", `http://127.0.0.1:${(proxy.addr as Deno.NetAddr).port}`),
      connects,
    );
  } finally {
    proxy.close();
    await serving.catch(() => {});
    await Promise.allSettled(tunnels);
    provider.child.kill();
    await provider.child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

/** The whole body of a streamed answer, and the times its pieces were read. */
async function readAll(t: Target): Promise<{ status: number; text: string; times: number[] }> {
  const res = await leanPost(t, "/v1/messages?events=5&every=5", REQUEST);
  let text = "";
  const times: number[] = [];
  try {
    for await (const { bytes, at } of res.body) {
      text += new TextDecoder().decode(bytes);
      times.push(at);
    }
  } finally {
    res.close();
  }
  return { status: res.status, text, times };
}

Deno.test("bench lean client: reads a chunked stream whole, directly and through a CONNECT proxy", async () => {
  await withRig("HTTP/1.1 200 Connection Established\r\n\r\n", async (direct, proxied, connects) => {
    for (const t of [direct, proxied]) {
      const { status, text, times } = await readAll(t);
      assert.equal(status, 200);
      // De-chunked: the events as the stand-in wrote them, with no chunk-size lines between them.
      assert.equal(text.match(/event: content_block_delta/g)?.length, 5);
      assert.match(text, /"usage":\{"output_tokens":5\}/);
      assert.ok(text.trimEnd().endsWith('data: {"type":"message_stop"}'), text.slice(-80));
      assert.doesNotMatch(text, /^[0-9a-f]+\r$/m);
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
    }
    assert.deepEqual(connects, ["CONNECT localhost:443 HTTP/1.1"]);
  });
});

Deno.test("bench lean client: a proxy's refusal of the CONNECT is an error naming its status line", async () => {
  await withRig("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n", async (_, proxied) => {
    await assert.rejects(readAll(proxied), /CONNECT refused: HTTP\/1\.1 403 Forbidden/);
  });
});
