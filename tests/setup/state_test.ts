import assert from "node:assert/strict";
import { join } from "node:path";
import { emptyState, readState, writeState } from "../../setup/state.ts";
import { TargetFs } from "../../setup/target_fs.ts";

Deno.test("writeState() then readState() gives the record back; no file reads as no record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fs = new TargetFs();
    const file = join(dir, "system_state.json");
    assert.deepEqual(readState(fs, file), {});
    const s = emptyState("linux", "apps", "systemd");
    s.certifi.push({ python: "/usr/bin/python3", bundle: "/x/cacert.pem" });
    writeState(fs, file, s, new Date("2026-01-01T00:00:00Z"));
    assert.deepEqual(readState(fs, file).state, { ...s, updatedAt: "2026-01-01T00:00:00.000Z" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readState() moves a corrupt or incomplete record aside as .corrupt-<time> and says why", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fs = new TargetFs();
    const file = join(dir, "system_state.json");
    for (
      const [text, why] of [["{oops", /not valid JSON/], ['{"version":1,"os":"linux"}', /mode/]] as const
    ) {
      await Deno.writeTextFile(file, text);
      const r = readState(fs, file, new Date("2026-01-01T00:00:00Z"));
      assert.equal(r.state, undefined);
      assert.match(r.corrupt!.reason, why);
      assert.equal(await Deno.readTextFile(r.corrupt!.movedTo), text);
      assert.match(r.corrupt!.movedTo, /system_state\.json\.corrupt-2026-01-01T00-00-00-000Z$/);
      assert.equal(fs.exists(file), false);
      await Deno.remove(r.corrupt!.movedTo);
    }
    await Deno.writeTextFile(file, "{oops");
    assert.equal(
      readState(fs, file, new Date(), { moveAside: false }).corrupt?.movedTo,
      file,
      "read-only callers leave it",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
