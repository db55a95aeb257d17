import assert from "node:assert/strict";
import { type ChainInput, resolveProject } from "../../../daemon/attribution/chain.ts";
import type { FsView, ProcessInfo } from "../../../daemon/attribution/types.ts";
import { fakeFs, proc } from "./_fakes.ts";

/** A world in which every layer has an answer; each test takes some away. */
function world(drop: string[] = []): ChainInput {
  const files: Record<string, string | null> = {
    "/home/ada/src/acme/.haltonrc": 'project = "from-rc"\n',
    "/home/ada/src/acme/.git/HEAD": "ref: refs/heads/main\n",
    "/home/ada/work/Parent Proj/.git/HEAD": "ref: refs/heads/main\n",
    "/proc/30/root/.dockerenv": "",
    "/proc/30/root/etc/hostname": "box\n",
  };
  const without = (pattern: string) => {
    for (const k of Object.keys(files)) if (k.includes(pattern)) delete files[k];
  };
  if (drop.includes("haltonrc")) without(".haltonrc");
  if (drop.includes("git")) without("acme/.git");
  if (drop.includes("parent")) without("Parent Proj");
  if (drop.includes("container")) without("/proc/30/root");
  const client = proc({
    pid: 30,
    ppid: 20,
    cwd: drop.includes("cwd") ? "/" : "/home/ada/src/acme/pkg",
    env: drop.includes("env") ? {} : { HALTON_PROJECT: "from-env" },
    root: "/proc/30/root",
  });
  const shell = proc({ pid: 20, ppid: 10, cwd: "/home/ada/work/Parent Proj", argv: ["bash"] });
  const ide = proc({
    pid: 10,
    ppid: 1,
    argv: drop.includes("ide") ? ["code"] : ["code", "--folder-uri", "file:///home/ada/IdeProj"],
  });
  return {
    explicitProject: drop.includes("explicit") ? undefined : "Tagged",
    client,
    ancestors: () => Promise.resolve([shell, ide]),
    fs: fakeFs(files),
    defaultProject: "misc",
  };
}

Deno.test("resolveProject() tries the layers in the documented order, the first answer winning", async () => {
  const expected: [string, string, string][] = [
    ["explicit", "tagged", "explicit"],
    ["env", "from-env", "env"],
    ["haltonrc", "from-rc", "haltonrc"],
    ["ide", "ideproj", "ide"],
    ["git", "acme", "git"],
    ["parent", "parent-proj", "parent"],
    ["container", "docker:box", "container"],
    ["cwd", "pkg", "cwd"],
    ["", "misc", "default"],
  ];
  const dropped: string[] = [];
  for (const [drop, project, layer] of expected) {
    assert.deepEqual(await resolveProject(world(dropped)), { project, layer }, `after dropping ${dropped}`);
    dropped.push(drop);
  }
});

Deno.test("resolveProject() lets a bad slug fall through to the next layer", async () => {
  const input = world();
  input.explicitProject = "no way!";
  input.client!.env.HALTON_PROJECT = "über";
  assert.deepEqual(await resolveProject(input), { project: "from-rc", layer: "haltonrc" });
});

Deno.test("resolveProject() uses the default project without a client, and 'misc' when that is bad", async () => {
  const base = { ancestors: () => Promise.resolve([]), fs: fakeFs({}) };
  assert.deepEqual(await resolveProject({ ...base, defaultProject: "unsorted" }), {
    project: "unsorted",
    layer: "default",
  });
  assert.deepEqual(await resolveProject({ ...base, defaultProject: "Not Valid!" }), {
    project: "misc",
    layer: "default",
  });
});

Deno.test("resolveProject() treats a failing layer as no answer", async () => {
  const input = world(["explicit", "env"]);
  const inner = input.fs;
  const failing: FsView = {
    exists: (p) => p.endsWith(".haltonrc") ? Promise.reject(new Error("EACCES")) : inner.exists(p),
    readText: (p) => inner.readText(p),
  };
  input.fs = failing;
  input.ancestors = () => Promise.reject(new Error("process gone"));
  assert.deepEqual(await resolveProject(input), { project: "acme", layer: "git" });
  input.fs = {
    exists: () => Promise.reject(new Error("EIO")),
    readText: () => Promise.reject(new Error("EIO")),
  };
  assert.deepEqual(await resolveProject(input), { project: "pkg", layer: "cwd" });
});

Deno.test("resolveProject() reads the ancestors only when a layer needs them", async () => {
  let reads = 0;
  const input = world(["explicit"]);
  input.ancestors = () => {
    reads++;
    return Promise.resolve([]);
  };
  assert.equal((await resolveProject(input)).layer, "env");
  assert.equal(reads, 0);
  const later = world(["explicit", "env", "haltonrc", "ide", "git"]);
  const shell = (await later.ancestors())[0];
  later.ancestors = () => {
    reads++;
    return Promise.resolve([shell]);
  };
  assert.equal((await resolveProject(later)).layer, "parent");
  assert.equal(reads, 1);
});

Deno.test("resolveProject() walks the parents nearest first, env before files", async () => {
  const fs = fakeFs({ "/srv/outer/.git/HEAD": "x", "/srv/inner/.haltonrc": 'project = "inner-rc"' });
  const client = proc({ pid: 3, ppid: 2, cwd: "/" });
  const near: ProcessInfo = proc({ pid: 2, ppid: 1, cwd: "/srv/inner" });
  const far: ProcessInfo = proc({ pid: 1, cwd: "/srv/outer", env: { HALTON_PROJECT: "far-env" } });
  const run = (a: ProcessInfo[]) =>
    resolveProject({ client, ancestors: () => Promise.resolve(a), fs, defaultProject: "misc" });
  assert.deepEqual(await run([near, far]), { project: "inner-rc", layer: "parent" });
  assert.deepEqual(await run([far, near]), { project: "far-env", layer: "parent" });
  near.env = { HALTON_PROJECT: "near-env" };
  assert.deepEqual(await run([near, far]), { project: "near-env", layer: "parent" });
});
