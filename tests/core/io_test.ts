import assert from "node:assert/strict";
import { join } from "node:path";
import { exists, writeAllSync, writeFileAtomic } from "../../core/io.ts";
import { tempHome } from "../helpers/home.ts";

Deno.test("writeAllSync() keeps writing until a writer that takes a few bytes at a time has everything", () => {
  const got: number[] = [];
  const slow = { writeSync: (p: Uint8Array) => (got.push(...p.subarray(0, 3)), Math.min(3, p.length)) };
  writeAllSync(slow, "hello, world");
  assert.equal(new TextDecoder().decode(new Uint8Array(got)), "hello, world");
});

Deno.test("writeFileAtomic() replaces a file whole and leaves no temp file behind", async () => {
  await using home = await tempHome();
  const file = join(home.dir, "state.json");
  await Deno.writeTextFile(file, "old");
  writeFileAtomic(file, "new", 0o600);
  assert.equal(await Deno.readTextFile(file), "new");
  assert.deepEqual([...Deno.readDirSync(home.dir)].map((e) => e.name), ["state.json"]);
  if (Deno.build.os !== "windows") assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
});

Deno.test("exists() sees files and folders, and not what is missing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hm-io-" });
  try {
    await Deno.writeTextFile(join(dir, "f"), "x");
    assert.ok(exists(dir));
    assert.ok(exists(join(dir, "f")));
    assert.ok(!exists(join(dir, "missing")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
