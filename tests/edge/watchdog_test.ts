import assert from "node:assert/strict";
import { startWatchdog } from "../../edge/_watchdog.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("the watchdog kills only a daemon it saw answer, once it has failed for hangMs and still holds its port", async () => {
  let healthy = true;
  let held = true;
  let pid: number | undefined = 7;
  const killed: number[] = [];
  const dog = startWatchdog({
    healthy: () => Promise.resolve(healthy),
    portHeld: () => Promise.resolve(held),
    readyPid: () => pid,
    hangMs: 100,
    kill: (p) => killed.push(p),
    everyMs: 20,
  });
  try {
    await sleep(100);
    healthy = false;
    held = false;
    await sleep(250);
    assert.deepEqual(killed, [], "a daemon that let go of its port has exited: nothing to kill");
    held = true;
    await sleep(250);
    assert.deepEqual(killed, [7]);
    // A new daemon that has never answered is starting, not hung.
    pid = 8;
    await sleep(300);
    assert.deepEqual(killed, [7]);
  } finally {
    dog.stop();
  }
});
