import assert from "node:assert/strict";
import { ConnScope } from "../../edge/_conn.ts";
import { handOver } from "../../edge/_handover.ts";

const REQUEST = { target: { host: "api.openai.com", port: 443 }, client: "127.0.0.1:5000" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Accepts one connection on `listener`, reads its CONNECT and answers `answer`. */
async function answerOne(listener: Deno.Listener, answer: string): Promise<void> {
  const conn = await listener.accept();
  await conn.read(new Uint8Array(4096));
  await conn.write(new TextEncoder().encode(answer));
  conn.close();
}

Deno.test("handOver() offers a CONNECT again when the daemon's listener closed with it queued, and the successor takes it", async () => {
  // The old daemon never accepts: the CONNECT waits in its listener's queue, as one does during a hand-over.
  const old = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (old.addr as Deno.NetAddr).port;
  const scope = new ConnScope();
  try {
    const offered = handOver(scope, port, REQUEST);
    await sleep(100);
    // The old daemon lets go of the port (its queue is reset) and the successor binds it.
    old.close();
    const successor = Deno.listen({ hostname: "127.0.0.1", port });
    const accepting = answerOne(successor, "HTTP/1.1 200 Connection Established\r\n\r\n").catch(() => {});
    try {
      const got = await offered;
      assert.ok(got, "the successor got the CONNECT");
      assert.match(new TextDecoder().decode(got.answer), /^HTTP\/1\.1 200/);
    } finally {
      successor.close();
      await accepting;
    }
  } finally {
    scope.closeAll();
  }
});

Deno.test("handOver() does not offer again a CONNECT the daemon read and refused", async () => {
  const daemon = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const scope = new ConnScope();
  try {
    const [got] = await Promise.all([
      handOver(scope, (daemon.addr as Deno.NetAddr).port, REQUEST),
      answerOne(daemon, "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n"),
    ]);
    assert.equal(got, undefined);
    // A second offer would wait here for an accept that never comes.
    const again = await Promise.race([
      daemon.accept().then((c) => (c.close(), true)),
      sleep(200).then(() => false),
    ]);
    assert.equal(again, false, "the refused CONNECT was not offered again");
  } finally {
    scope.closeAll();
    daemon.close();
  }
});
