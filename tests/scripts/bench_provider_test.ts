import assert from "node:assert/strict";
import { startProvider } from "../../scripts/bench/_rig.ts";

/** Runs `fn` against a stand-in started in a temp folder, and a client that trusts it. */
async function withProvider(fn: (base: string, client: Deno.HttpClient) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hm-bench-provider-" });
  const provider = await startProvider(dir);
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(provider.caFile)], http2: false });
  try {
    await fn(`https://localhost:${provider.port}`, client);
  } finally {
    client.close();
    provider.child.kill();
    await provider.child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bench stand-in: a streamed Messages answer with usage, the upload counted under its id", async () => {
  await withProvider(async (base, client) => {
    const body = new Uint8Array(300_000).fill(97);
    const res = await fetch(`${base}/v1/messages?events=4&every=5`, {
      method: "POST",
      headers: { "x-bench-id": "a" },
      body,
      client,
    });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const text = await res.text();
    assert.equal(text.match(/event: content_block_delta/g)?.length, 4);
    assert.match(text, /"usage":\{"output_tokens":4\}/);
    assert.match(text, /event: message_stop/);
    const seen = await fetch(`${base}/seen?id=a`, { client });
    assert.deepEqual(await seen.json(), { bytes: 300_000 });
  });
});

Deno.test("bench stand-in: a chunked upload is counted as it arrives, and Connection: close is honoured", async () => {
  await withProvider(async (base, client) => {
    let release!: () => void;
    const released = new Promise<void>((r) => release = r);
    const stream = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new Uint8Array(1000));
        await released;
        c.enqueue(new Uint8Array(500));
        c.close();
      },
    });
    const answer = fetch(`${base}/v1/messages?stream=0`, {
      method: "POST",
      headers: { "x-bench-id": "b" },
      body: stream,
      client,
    });
    let bytes = 0;
    for (let i = 0; i < 200 && bytes === 0; i++) {
      bytes = (await (await fetch(`${base}/seen?id=b`, { client })).json()).bytes;
      if (bytes === 0) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(bytes, 1000);
    release();
    const res = await answer;
    assert.equal((await res.json()).usage.output_tokens, 3);
    assert.deepEqual(await (await fetch(`${base}/seen?id=b`, { client })).json(), { bytes: 1500 });
    const closing = await fetch(`${base}/v1/messages?stream=0`, {
      method: "POST",
      headers: { connection: "close" },
      body: "{}",
      client,
    });
    await closing.body?.cancel();
    assert.equal(closing.headers.get("connection"), "close");
  });
});

Deno.test("bench stand-in: a stream's events are not held back for the client's delayed ACK", async () => {
  await withProvider(async (base, client) => {
    // Held back (Nagle's algorithm), every event after the first waits for an ACK the client delays 40 ms or
    // more, so each warm stream below would take over 40 ms. Sent at once, most take a few ms.
    await (await fetch(`${base}/v1/messages?events=3`, { method: "POST", body: "{}", client })).text();
    const took: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await (await fetch(`${base}/v1/messages?events=3`, { method: "POST", body: "{}", client })).text();
      took.push(performance.now() - start);
    }
    assert.ok(
      Math.min(...took) < 30,
      `every warm stream took 30 ms or more: ${took.map(Math.round).join(", ")}`,
    );
  });
});
