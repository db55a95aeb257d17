import assert from "node:assert/strict";
import { NOT_FOUND, RecordingRunner, systemRunner } from "../../platform/runner.ts";

Deno.test("systemRunner feeds stdin and returns the exit code, stdout and stderr of a real program", async () => {
  const r = await systemRunner("/bin/sh", ["-c", 'read x; echo "got $x"; echo oops >&2; exit 3'], {
    stdin: "hi\n",
  });
  assert.deepEqual(r, { code: 3, stdout: "got hi\n", stderr: "oops\n" });
});

Deno.test("systemRunner passes extra environment variables and a working folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await systemRunner("/bin/sh", ["-c", 'echo "$HM_TEST $(pwd)"'], {
      env: { HM_TEST: "v" },
      cwd: dir,
    });
    assert.equal(r.stdout, `v ${await Deno.realPath(dir)}\n`);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("systemRunner reports a missing program as exit 127 instead of throwing", async () => {
  const r = await systemRunner("halton-meter-no-such-program", []);
  assert.equal(r.code, NOT_FOUND);
  assert.match(r.stderr, /not found/);
});

Deno.test("RecordingRunner records calls and answers with the first matching scripted answer", async () => {
  const rec = new RecordingRunner([
    { when: /^launchctl getenv A$/, stdout: "1\n" },
    { when: "launchctl", code: 9 },
  ]);
  assert.deepEqual(await rec.run("launchctl", ["getenv", "A"]), { code: 0, stdout: "1\n", stderr: "" });
  assert.equal((await rec.run("launchctl", ["getenv", "B"])).code, 9);
  assert.equal((await rec.run("other", [])).code, 0);
  assert.deepEqual(rec.lines(), ["launchctl getenv A", "launchctl getenv B", "other"]);
});
