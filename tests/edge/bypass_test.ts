import assert from "node:assert/strict";
import { BypassTracker } from "../../edge/_bypass.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a bypass tunnel is closed once idle while the daemon is healthy, never while it is away or busy", async () => {
  let healthy = false;
  const closed: string[] = [];
  const tracker = new BypassTracker({ healthy: () => Promise.resolve(healthy), idleMs: 150 });
  const quiet = tracker.add(() => closed.push("quiet"));
  const busy = tracker.add(() => closed.push("busy"));
  quiet.moved(10, "client");
  // The busy tunnel keeps moving bytes, so it never looks idle.
  const feeding = setInterval(() => busy.moved(5, "provider"), 20);
  await sleep(400);
  assert.deepEqual(closed, [], "the daemon is away: nothing is closed");
  healthy = true;
  await sleep(400);
  assert.deepEqual(closed, ["quiet"]);
  clearInterval(feeding);
  await sleep(400);
  assert.deepEqual(closed, ["quiet", "busy"]);
  const c = tracker.counts;
  assert.deepEqual({ tunnels: c.tunnels, bytes: c.bytes > 10, open: c.open, reclaimed: c.reclaimed }, {
    tunnels: 2,
    bytes: true,
    open: 0,
    reclaimed: 2,
  });
  await sleep(250);
  tracker.stop();
});

Deno.test("a tunnel that ends on its own is no longer tracked and is not counted as reclaimed", async () => {
  const tracker = new BypassTracker({ healthy: () => Promise.resolve(true), idleMs: 50 });
  let closes = 0;
  tracker.add(() => closes++).ended();
  await sleep(200);
  assert.equal(closes, 0);
  assert.equal(tracker.counts.reclaimed, 0);
  assert.equal(tracker.counts.tunnels, 1);
  tracker.stop();
});

Deno.test("a bypass tunnel whose request waits for its answer is never closed, however quiet; once answered and quiet it is", async () => {
  const closed: string[] = [];
  const tracker = new BypassTracker({ healthy: () => Promise.resolve(true), idleMs: 100 });
  const t = tracker.add(() => closed.push("tunnel"));
  const quiet = () => sleep(350);
  // TLS 1.3: ClientHello, the provider's flight, the client's Finished and its first request, the tickets.
  t.moved(517, "client");
  t.moved(3000, "provider");
  t.moved(74, "client");
  t.moved(400, "client");
  t.moved(500, "provider");
  await quiet();
  assert.deepEqual(closed, [], "the tickets are not an answer: the first request may still be waiting");
  t.moved(800, "provider");
  t.moved(300, "client");
  // The provider acknowledges the request body (an HTTP/2 WINDOW_UPDATE), then thinks, sending nothing.
  t.moved(40, "provider");
  await quiet();
  assert.deepEqual(closed, [], "a request waiting for its answer is not idle");
  t.moved(900, "provider");
  // The client acknowledges the answer: too little to be a request.
  t.moved(40, "client");
  await quiet();
  assert.deepEqual(closed, ["tunnel"]);
  assert.equal(tracker.counts.reclaimed, 1);
  tracker.stop();
});
