import assert from "node:assert/strict";
import { ConnScope, exhausted, LATE_TICK_MS, spend } from "../../edge/_conn.ts";
import { DaemonPulse, handOver, type HandoverTiming } from "../../edge/_handover.ts";
import { readHeadText, startTcpServer, type TestServer, writeText } from "./_fakes.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A daemon's intercept port that answers each handover as its CONNECT target says: `fast.test` at once,
 * `slow.test` after `slowMs`, `never.test` not at all.
 */
function scriptedDaemon(slowMs: number): TestServer {
  return startTcpServer(async (conn) => {
    const { head } = await readHeadText(conn);
    const target = head.split(" ")[1];
    if (target === "never.test:443") {
      await conn.read(new Uint8Array(1));
      return;
    }
    if (target === "slow.test:443") await sleep(slowMs);
    await writeText(conn, "HTTP/1.1 200 Connection Established\r\n\r\n");
    await conn.read(new Uint8Array(1));
  });
}

/** Hands `host` over, timing it; the connection is closed before returning. */
async function offer(port: number, host: string, pulse: DaemonPulse, timing?: HandoverTiming) {
  const scope = new ConnScope();
  const started = performance.now();
  try {
    const got = await handOver(
      scope,
      port,
      { target: { host, port: 443 }, client: "127.0.0.1:1" },
      pulse,
      timing,
    );
    return { accepted: got !== undefined, ms: performance.now() - started };
  } finally {
    scope.closeAll();
  }
}

/** Hands `fast.test` over every `everyMs` until `stop` is set: a daemon seen answering other connections. */
async function keepAnswering(port: number, pulse: DaemonPulse, everyMs: number, stop: { done: boolean }) {
  while (!stop.done) {
    assert.equal((await offer(port, "fast.test", pulse)).accepted, true);
    await sleep(everyMs);
  }
}

Deno.test("a budgeted wait counts late clock readings short and restarts its silence on progress", () => {
  const budget = { silentMs: 300, totalMs: 1000 };
  let spent = { silent: 0, total: 0, progress: 0 };
  spent = spend(spent, 50, 0);
  spent = spend(spent, 2000, 0);
  assert.deepEqual(spent, { silent: 50 + LATE_TICK_MS, total: 50 + LATE_TICK_MS, progress: 0 });
  assert.equal(exhausted(spent, budget), false, "a stall of this process is not the peer's silence");
  spent = spend(spent, 100, 0);
  spent = spend(spent, 100, 0);
  assert.equal(exhausted(spent, budget), true, "silent for its allowance");
  spent = spend(spent, 50, 1);
  assert.equal(spent.silent, 0);
  assert.equal(exhausted(spent, budget), false, "the peer answered someone: alive");
  for (let i = 0; i < 7; i++) spent = spend(spent, 100, 2 + i);
  assert.equal(exhausted(spent, budget), true, "alive, but past the total");
  assert.equal(exhausted({ silent: 0, total: 300, progress: 0 }, { silentMs: 300 }), true);
});

Deno.test("handOver() waits past its timeout for a daemon that keeps answering other handovers", async () => {
  const daemon = scriptedDaemon(1500);
  const pulse = new DaemonPulse();
  const stop = { done: false };
  try {
    const slow = offer(daemon.port, "slow.test", pulse, { timeoutMs: 600, limitMs: 10_000 });
    const others = keepAnswering(daemon.port, pulse, 100, stop);
    const got = await slow;
    stop.done = true;
    await others;
    assert.equal(got.accepted, true, `a busy daemon's late answer was given up on after ${got.ms} ms`);
    assert.ok(got.ms >= 1400, `answered after ${got.ms} ms`);
  } finally {
    stop.done = true;
    await daemon.close();
  }
});

Deno.test("handOver() gives up on a silent daemon after its timeout, and on a busy one at the limit", async () => {
  const daemon = scriptedDaemon(0);
  const pulse = new DaemonPulse();
  const stop = { done: false };
  try {
    const alone = await offer(daemon.port, "never.test", pulse, { timeoutMs: 400, limitMs: 10_000 });
    assert.equal(alone.accepted, false);
    assert.ok(alone.ms >= 350 && alone.ms < 3000, `a silent daemon was given ${alone.ms} ms`);
    const others = keepAnswering(daemon.port, pulse, 50, stop);
    const busy = await offer(daemon.port, "never.test", pulse, { timeoutMs: 400, limitMs: 1200 });
    stop.done = true;
    await others;
    assert.equal(busy.accepted, false);
    assert.ok(busy.ms >= 1150 && busy.ms < 4000, `a busy daemon was given ${busy.ms} ms`);
  } finally {
    stop.done = true;
    await daemon.close();
  }
});

const REQUEST = { target: { host: "api.openai.com", port: 443 }, client: "127.0.0.1:5000" };

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
    const offered = handOver(scope, port, REQUEST, new DaemonPulse());
    await sleep(100);
    // The old daemon lets go of the port (its queue is reset) and the successor binds it.
    old.close();
    const successor = Deno.listen({ hostname: "127.0.0.1", port });
    const answer = "HTTP/1.1 200 Connection Established\r\nx-halton-pass: /run/pass.sock\r\n\r\n";
    const accepting = answerOne(successor, answer).catch(() => {});
    try {
      const got = await offered;
      assert.ok(got, "the successor got the CONNECT");
      assert.equal(got.passTo, "/run/pass.sock", "where the daemon takes the client's socket");
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
      handOver(scope, (daemon.addr as Deno.NetAddr).port, REQUEST, new DaemonPulse()),
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
