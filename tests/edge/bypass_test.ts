import assert from "node:assert/strict";
import { BypassTracker } from "../../edge/_bypass.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a bypass tunnel is closed once idle while the daemon is healthy, never while it is away or busy", async () => {
  let healthy = false;
  const closed: string[] = [];
  const tracker = new BypassTracker({ healthy: () => Promise.resolve(healthy), idleMs: 150 });
  const quiet = tracker.add(() => closed.push("quiet"));
  const busy = tracker.add(() => closed.push("busy"));
  quiet.moved(10);
  // The busy tunnel keeps moving bytes, so it never looks idle.
  const feeding = setInterval(() => busy.moved(5), 20);
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
