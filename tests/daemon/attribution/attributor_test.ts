import assert from "node:assert/strict";
import { join } from "node:path";
import { Attributor, processName } from "../../../daemon/attribution/attributor.ts";
import type { ProcessInfo, ProcessLookup } from "../../../daemon/attribution/types.ts";
import { Logger } from "../../../core/log.ts";
import { fakeFs, fakeLookup, proc } from "./_fakes.ts";

const CLIENT = { ip: "127.0.0.1", port: 52344 };

Deno.test("Attributor.resolve() finds the client by port and names its project, layer and executable", async () => {
  const lookup = fakeLookup([
    proc({ pid: 77, cwd: "/w/acme", exe: "/usr/bin/node", env: { HALTON_PROJECT: "acme", SECRET: "x" } }),
  ], { "127.0.0.1:52344": 77 });
  const a = new Attributor({ lookup, fs: fakeFs({}) });
  assert.deepEqual(await a.resolve(CLIENT), { project: "acme", layer: "env", client_process: "node" });
});

Deno.test("Attributor.resolve() honours an explicit tag and still names the client process", async () => {
  const lookup = fakeLookup([
    proc({ pid: 77, exe: "C:\\Python312\\python.exe", env: { HALTON_PROJECT: "x" } }),
  ], {
    "127.0.0.1:52344": 77,
  });
  const a = new Attributor({ lookup, fs: fakeFs({}) });
  assert.deepEqual(await a.resolve({ ...CLIENT, explicitProject: "Billing" }), {
    project: "billing",
    layer: "explicit",
    client_process: "python",
  });
});

Deno.test("Attributor.resolve() uses a pid the edge already knows without looking the port up", async () => {
  const lookup = fakeLookup([proc({ pid: 5, cwd: "/w/tools", argv: ["python3", "x.py"] })], {});
  const a = new Attributor({ lookup, fs: fakeFs({}) });
  assert.deepEqual(await a.resolve({ ...CLIENT, pid: 5 }), {
    project: "tools",
    layer: "cwd",
    client_process: "python3",
  });
  assert.equal(lookup.finds, 0);
});

Deno.test("Attributor.resolve() falls back to the default project when the process cannot be found or read", async () => {
  const throwing: ProcessLookup = {
    findClientProcess: () => Promise.reject(new Error("EPERM")),
    readProcess: () => Promise.reject(new Error("EPERM")),
  };
  const a = new Attributor({ lookup: throwing, fs: fakeFs({}), defaultProject: "unsorted" });
  assert.deepEqual(await a.resolve(CLIENT), { project: "unsorted", layer: "default", client_process: null });
  const gone = new Attributor({ lookup: fakeLookup([], { "127.0.0.1:52344": 9 }), fs: fakeFs({}) });
  assert.deepEqual(await gone.resolve(CLIENT), { project: "misc", layer: "default", client_process: null });
});

Deno.test("Attributor.resolve() caches per connection until the TTL passes", async () => {
  let now = 0;
  const lookup = fakeLookup([proc({ pid: 77, cwd: "/w/acme" })], {
    "127.0.0.1:52344": 77,
    "127.0.0.1:6000": 77,
  });
  const a = new Attributor({ lookup, fs: fakeFs({}), ttlMs: 1000, now: () => now });
  const [first, second] = await Promise.all([a.resolve(CLIENT), a.resolve(CLIENT)]);
  assert.deepEqual(first, second);
  assert.equal(lookup.finds, 1);
  now = 999;
  await a.resolve(CLIENT);
  assert.equal(lookup.finds, 1);
  await a.resolve({ ip: "127.0.0.1", port: 6000 });
  assert.equal(lookup.finds, 2);
  now = 1000;
  await a.resolve(CLIENT);
  assert.equal(lookup.finds, 3);
});

Deno.test("Attributor.resolve() looks a new connection up anew, though an earlier one from its port is remembered", async () => {
  const ports: Record<string, number> = { "127.0.0.1:52344": 77 };
  const lookup = fakeLookup([proc({ pid: 77, cwd: "/w/acme" }), proc({ pid: 88, cwd: "/w/billing" })], ports);
  const a = new Attributor({ lookup, fs: fakeFs({}), processTtlMs: 0 });
  assert.equal((await a.resolve({ ...CLIENT, fresh: true })).project, "acme");
  assert.equal((await a.resolve(CLIENT)).project, "acme", "the connection's later calls reuse its answer");
  // Another process binds the same source port at once (curl --local-port, a client's own pool).
  ports["127.0.0.1:52344"] = 88;
  assert.equal((await a.resolve({ ...CLIENT, fresh: true })).project, "billing");
  assert.equal((await a.resolve(CLIENT)).project, "billing");
});

Deno.test("Attributor keeps at most maxEntries connections, forgetting the oldest", async () => {
  const lookup = fakeLookup([], {});
  const a = new Attributor({ lookup, fs: fakeFs({}), maxEntries: 3 });
  for (let port = 1; port <= 5; port++) await a.resolve({ ip: "127.0.0.1", port });
  assert.equal(a.size, 3);
  await a.resolve({ ip: "127.0.0.1", port: 5 });
  assert.equal(lookup.finds, 5);
  await a.resolve({ ip: "127.0.0.1", port: 1 });
  assert.equal(lookup.finds, 6);
});

Deno.test("Attributor walks at most maxDepth parents, of the same user only, and survives pid loops", async () => {
  // A chain 100 → 99 → … → 90; only pid 90 has a git repository.
  const table = Array.from(
    { length: 11 },
    (_, i) => proc({ pid: 100 - i, ppid: 99 - i, cwd: `/p/${100 - i}` }),
  );
  const fs = fakeFs({ "/p/90/.git/HEAD": "x" });
  const deep = fakeLookup(table, { "127.0.0.1:52344": 100 });
  const bounded = new Attributor({ lookup: deep, fs, maxDepth: 8 });
  assert.equal((await bounded.resolve(CLIENT)).layer, "cwd");
  assert.deepEqual(deep.reads, [100, 99, 98, 97, 96, 95, 94, 93, 92]);
  const deeper = new Attributor({ lookup: fakeLookup(table, { "127.0.0.1:52344": 100 }), fs, maxDepth: 10 });
  assert.deepEqual(await deeper.resolve(CLIENT), { project: "90", layer: "parent", client_process: null });

  const otherUser = table.map((p) => p.pid === 95 ? { ...p, uid: 0 } : p);
  const stopped = fakeLookup(otherUser, { "127.0.0.1:52344": 100 });
  assert.equal((await new Attributor({ lookup: stopped, fs, maxDepth: 20 }).resolve(CLIENT)).layer, "cwd");
  assert.deepEqual(stopped.reads, [100, 99, 98, 97, 96, 95]);

  const loop = fakeLookup([proc({ pid: 7, ppid: 8, cwd: "/" }), proc({ pid: 8, ppid: 7, cwd: "/" })], {
    "127.0.0.1:52344": 7,
  });
  assert.equal((await new Attributor({ lookup: loop, fs }).resolve(CLIENT)).layer, "default");
  assert.deepEqual(loop.reads, [7, 8]);
});

Deno.test("Attributor logs attribution.resolved with names only, never argv or env", async () => {
  const dir = await Deno.makeTempDir({ prefix: "attr-log-" });
  const logger = new Logger({ process: "daemon", dir });
  try {
    const lookup = fakeLookup([
      proc({
        pid: 7,
        cwd: "/w/acme",
        exe: "/usr/bin/node",
        argv: ["node", "--token=sk-123"],
        env: { API_KEY: "sk-456" },
      }),
    ], { "127.0.0.1:52344": 7 });
    await new Attributor({ lookup, fs: fakeFs({}), logger }).resolve(CLIENT);
    logger.close();
    const line = JSON.parse((await Deno.readTextFile(join(dir, "daemon.jsonl"))).trim());
    assert.equal(line.event, "attribution.resolved");
    assert.equal(line.project, "acme");
    assert.equal(line.layer, "cwd");
    assert.equal(line.client_process, "node");
    assert.doesNotMatch(JSON.stringify(line), /sk-/);
  } finally {
    logger.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("processName() gives the executable's basename without .exe", () => {
  assert.equal(processName("/usr/local/bin/node"), "node");
  assert.equal(processName("C:\\Program Files\\nodejs\\node.EXE"), "node");
  assert.equal(processName("python3"), "python3");
  assert.equal(processName(undefined), null);
  assert.equal(processName(""), null);
});

Deno.test("Attributor reads a process once for the many connections it opens at once", async () => {
  const ports: Record<string, number> = {};
  for (let p = 40000; p < 40200; p++) ports[`127.0.0.1:${p}`] = 77;
  const lookup = fakeLookup([
    proc({ pid: 77, cwd: "/w/acme", exe: "/usr/bin/node", env: { HALTON_PROJECT: "acme" } }),
  ], ports);
  const a = new Attributor({ lookup, fs: fakeFs({}) });
  const all = await Promise.all(
    Object.keys(ports).map((k) => a.resolve({ ip: "127.0.0.1", port: Number(k.split(":")[1]) })),
  );
  assert.ok(all.every((r) => r.project === "acme"));
  assert.equal(lookup.finds, 200, "each connection's socket is looked up");
  assert.deepEqual(lookup.reads, [77], "the process behind them is read once");
});

Deno.test("Attributor describes a script's loop of new processes once: same parent, folder and environment", async () => {
  let now = 0;
  const shell = proc({ pid: 10, ppid: 1, cwd: "/w/acme", argv: ["bash", "loop.sh"] });
  const curl = (pid: number, extra: Partial<ProcessInfo> = {}) =>
    proc({ pid, ppid: 10, cwd: "/w/acme", exe: "/usr/bin/curl", argv: ["curl", `-d@${pid}.json`], ...extra });
  const lookup = fakeLookup([
    shell,
    curl(21),
    curl(22),
    curl(23, { cwd: "/w/other" }),
    curl(24, { env: { HALTON_PROJECT: "beta" } }),
    curl(25),
  ], { "127.0.0.1:1": 21, "127.0.0.1:2": 22, "127.0.0.1:3": 23, "127.0.0.1:4": 24, "127.0.0.1:5": 25 });
  const fs = fakeFs({ "/w/acme/.git/HEAD": "ref", "/w/other/.haltonrc": 'project = "other"' });
  const a = new Attributor({ lookup, fs, processTtlMs: 2000, now: () => now });
  const at = (port: number) => a.resolve({ ip: "127.0.0.1", port });
  assert.deepEqual(await at(1), { project: "acme", layer: "git", client_process: "curl" });
  assert.deepEqual(await at(2), { project: "acme", layer: "git", client_process: "curl" });
  assert.deepEqual(lookup.reads, [21, 10, 1, 22], "the second call's parent is not read again");
  assert.deepEqual(await at(3), { project: "other", layer: "haltonrc", client_process: "curl" });
  assert.deepEqual(await at(4), { project: "beta", layer: "env", client_process: "curl" });
  now += 2000;
  assert.deepEqual(await at(5), { project: "acme", layer: "git", client_process: "curl" });
  assert.deepEqual(lookup.reads.slice(-3), [25, 10, 1], "past the TTL the family is described again");
});
