import assert from "node:assert/strict";
import { checkHealth, HealthCache } from "../../edge/_health.ts";
import { freePort, startTcpServer, writeText } from "./_fakes.ts";

/** A cache over a scripted check and a hand-moved clock. */
function rig(answers: boolean[]) {
  let now = 0;
  const calls: number[] = [];
  const seenDown: boolean[] = [];
  const changes: boolean[] = [];
  const cache = new HealthCache({
    check: (down) => {
      calls.push(now);
      seenDown.push(down);
      return Promise.resolve(answers.shift() ?? false);
    },
    onChange: (h) => changes.push(h),
    now: () => now,
  });
  return { cache, calls, seenDown, changes, advance: (ms: number) => (now += ms) };
}

Deno.test("HealthCache trusts a healthy answer for 1000 ms and an unhealthy one for 200 ms", async () => {
  const { cache, calls, changes, advance } = rig([true, false, false, true]);
  assert.equal(await cache.isHealthy(), true);
  advance(999);
  assert.equal(await cache.isHealthy(), true);
  assert.equal(calls.length, 1);
  advance(1);
  assert.equal(await cache.isHealthy(), false);
  advance(199);
  assert.equal(await cache.isHealthy(), false);
  assert.equal(calls.length, 2);
  advance(1);
  assert.equal(await cache.isHealthy(), false);
  advance(200);
  assert.equal(await cache.isHealthy(), true);
  assert.deepEqual(calls, [0, 1000, 1200, 1400]);
  assert.deepEqual(changes, [true, false, true], "only transitions are reported");
});

Deno.test("HealthCache tells its check whether the daemon was last seen down", async () => {
  const { cache, seenDown, advance } = rig([false, false, true]);
  for (let i = 0; i < 3; i++) {
    await cache.isHealthy();
    advance(1000);
  }
  assert.deepEqual(seenDown, [false, true, true]);
});

Deno.test("HealthCache.worthHandingOver() never checks once the daemon was seen healthy, until a handover fails", async () => {
  const { cache, calls, advance } = rig([true, false, true]);
  assert.equal(await cache.worthHandingOver(), true, "the first question is a real check");
  assert.deepEqual(calls, [0]);
  advance(60_000);
  assert.equal(await cache.worthHandingOver(), true, "a minute later, still no check on the way");
  cache.markHealthy();
  advance(60_000);
  assert.equal(await cache.worthHandingOver(), true);
  assert.deepEqual(calls, [0], "the handovers themselves were the checks");
  cache.markUnhealthy();
  assert.equal(await cache.worthHandingOver(), false, "a failed handover: tunnel for the unhealthy TTL");
  assert.deepEqual(calls, [0]);
  advance(200);
  assert.equal(await cache.worthHandingOver(), false, "then checks again, as isHealthy() does");
  advance(200);
  assert.equal(await cache.worthHandingOver(), true);
  assert.deepEqual(calls, [0, 120_200, 120_400]);
  advance(5_000);
  assert.equal(await cache.isHealthy(), false, "isHealthy() still checks once its TTL has passed");
  assert.deepEqual(calls, [0, 120_200, 120_400, 125_400]);
});

Deno.test("HealthCache shares one check between concurrent questions", async () => {
  let resolve!: (v: boolean) => void;
  let checks = 0;
  const cache = new HealthCache({
    check: () => {
      checks++;
      return new Promise((r) => (resolve = r));
    },
  });
  const answers = Promise.all([cache.isHealthy(), cache.isHealthy(), cache.isHealthy()]);
  resolve(true);
  assert.deepEqual(await answers, [true, true, true]);
  assert.equal(checks, 1);
});

Deno.test("HealthCache.markUnhealthy() invalidates a healthy answer at once and outvotes a check in flight", async () => {
  let resolve!: (v: boolean) => void;
  let now = 0;
  const changes: boolean[] = [];
  const cache = new HealthCache({
    check: () => new Promise((r) => (resolve = r)),
    onChange: (h) => changes.push(h),
    now: () => now,
  });
  const first = cache.isHealthy();
  resolve(true);
  assert.equal(await first, true);
  const stale = cache.isHealthy();
  cache.markUnhealthy();
  assert.equal(await cache.isHealthy(), false, "cached as down right after a failed handover");
  now += 1000;
  const inFlight = cache.isHealthy();
  cache.markUnhealthy();
  resolve(true);
  assert.equal(await inFlight, false, "a check begun before the failure cannot report the daemon back");
  assert.equal(await stale, true);
  assert.deepEqual(changes, [true, false]);
});

Deno.test("HealthCache counts a check that throws as unhealthy", async () => {
  const cache = new HealthCache({ check: () => Promise.reject(new Error("boom")) });
  assert.equal(await cache.isHealthy(), false);
});

/** An api port answering every request with `answer`. */
function apiAnswering(answer: string) {
  return startTcpServer(async (conn) => {
    await conn.read(new Uint8Array(4096));
    await writeText(conn, answer);
  });
}

Deno.test("checkHealth() is true only for a 200 whose JSON says status ok", async () => {
  const cases: [string, boolean][] = [
    ['HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"status":"ok","version":"0.1.0"}', true],
    [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{"stat\r\nb\r\nus":"ok"}\r\n\r\n0\r\n\r\n',
      true,
    ],
    ['HTTP/1.1 503 Service Unavailable\r\n\r\n{"status":"ok"}', false],
    ['HTTP/1.1 200 OK\r\n\r\n{"status":"starting"}', false],
    ["HTTP/1.1 200 OK\r\n\r\n<html>ok</html>", false],
    ["SSH-2.0-OpenSSH_9.6\r\n", false],
  ];
  for (const [answer, expected] of cases) {
    const api = apiAnswering(answer);
    try {
      assert.equal(await checkHealth(api.port), expected, answer);
    } finally {
      await api.close();
    }
  }
});

Deno.test("checkHealth() gives up on a silent daemon within its timeout and is false on a closed port", async () => {
  const silent = startTcpServer(async (conn) => {
    await conn.read(new Uint8Array(4096));
    await conn.read(new Uint8Array(1));
  });
  const started = performance.now();
  assert.equal(await checkHealth(silent.port, 150), false);
  const took = performance.now() - started;
  assert.ok(took >= 140 && took < 600, `took ${took} ms`);
  await silent.close();
  assert.equal(await checkHealth(freePort()), false);
});

Deno.test("checkHealth() tries a refused port again for a second, or answers at once when told not to", async () => {
  const port = freePort();
  let started = performance.now();
  assert.equal(await checkHealth(port), false);
  let took = performance.now() - started;
  assert.ok(took >= 900, `retried for ${took} ms`);
  started = performance.now();
  assert.equal(await checkHealth(port, 300, false), false);
  took = performance.now() - started;
  assert.ok(took < 200, `answered after ${took} ms`);
});

Deno.test("checkHealth() asks again when the daemon's listener closed with the check queued, and the successor answers", async () => {
  const old = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (old.addr as Deno.NetAddr).port;
  const checking = checkHealth(port, 1_000);
  await new Promise((r) => setTimeout(r, 100));
  old.close();
  const successor = Deno.listen({ hostname: "127.0.0.1", port });
  const answering = (async () => {
    const conn = await successor.accept();
    await conn.read(new Uint8Array(4096));
    const body = '{"status":"ok"}';
    await conn.write(
      new TextEncoder().encode(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`),
    );
    conn.close();
  })().catch(() => {});
  try {
    assert.equal(await checking, true);
  } finally {
    successor.close();
    await answering;
  }
});

Deno.test("HealthCache.markHealthy() counts an accepted handover as a healthy answer, over a late check", async () => {
  let resolve!: (v: boolean) => void;
  let now = 0;
  let checks = 0;
  const cache = new HealthCache({
    check: () => {
      checks++;
      return new Promise((r) => (resolve = r));
    },
    now: () => now,
  });
  const asked = cache.isHealthy();
  cache.markHealthy();
  resolve(false);
  assert.equal(await asked, true, "the asker of a check a handover overtook gets the handover's outcome");
  now += 999;
  assert.equal(await cache.isHealthy(), true);
  assert.equal(checks, 1, "no check while handovers keep succeeding");
});
