import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_READ_BYTES, realFsView } from "../../../daemon/attribution/fs_view.ts";

Deno.test("realFsView reads small files, and answers undefined/false for missing or oversized ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "attr-fs-" });
  try {
    await Deno.writeTextFile(join(dir, "small"), 'project = "acme"\n');
    await Deno.writeTextFile(join(dir, "big"), "x".repeat(MAX_READ_BYTES + 1));
    assert.equal(await realFsView.readText(join(dir, "small")), 'project = "acme"\n');
    assert.equal(await realFsView.readText(join(dir, "big")), undefined);
    assert.equal(await realFsView.readText(join(dir, "missing")), undefined);
    assert.equal(await realFsView.readText(dir), undefined);
    assert.equal(await realFsView.exists(join(dir, "small")), true);
    assert.equal(await realFsView.exists(dir), true);
    assert.equal(await realFsView.exists(join(dir, "missing")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("realFsView reads procfs files, whose reported size is 0", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const status = await realFsView.readText("/proc/self/status");
  assert.match(status ?? "", /^Pid:\s+\d+$/m);
});
