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
    restMs: 20,
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

Deno.test("the watchdog asks a daemon that answers every restMs, and every everyMs from its first failed check", async () => {
  let healthy = true;
  let asked = 0;
  const killed: number[] = [];
  const dog = startWatchdog({
    healthy: () => {
      asked++;
      return Promise.resolve(healthy);
    },
    portHeld: () => Promise.resolve(true),
    readyPid: () => 7,
    hangMs: 150,
    kill: (p) => killed.push(p),
    everyMs: 10,
    restMs: 200,
  });
  try {
    await sleep(500);
    // The first check after everyMs, then one after each rest: 3 in 500 ms, where every 10 ms would be ~50.
    assert.ok(asked >= 2 && asked <= 4, `asked ${asked} times in 500 ms while the daemon answered`);
    healthy = false;
    const before = asked;
    // The hang is seen at the next check (within restMs), then asked after every failure until hangMs is up.
    await sleep(600);
    assert.deepEqual(killed, [7]);
    assert.ok(asked - before >= 8, `asked ${asked - before} times once failing`);
  } finally {
    dog.stop();
  }
});
