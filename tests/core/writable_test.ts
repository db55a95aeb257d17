import assert from "node:assert/strict";
import { join } from "node:path";
import { folderUnwritable } from "../../core/writable.ts";

Deno.test("folderUnwritable: a writable folder passes and keeps no probe file; a missing one is not judged", () => {
  const dir = Deno.makeTempDirSync({ prefix: "hm-writable-" });
  try {
    assert.equal(folderUnwritable(dir), undefined);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    assert.equal(folderUnwritable(join(dir, "missing")), undefined);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
