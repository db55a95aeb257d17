import assert from "node:assert/strict";
import { commandRunner } from "../../../daemon/attribution/runner.ts";

const posix = { ignore: Deno.build.os === "windows" };

Deno.test("commandRunner() returns the exit code and stdout of a command", posix, async () => {
  const run = commandRunner();
  assert.deepEqual(await run("sh", ["-c", "echo p42; echo noise >&2; exit 3"]), { code: 3, stdout: "p42\n" });
});

Deno.test(
  "commandRunner() reports a missing tool or a timeout as code -1 instead of throwing",
  posix,
  async () => {
    assert.deepEqual(await commandRunner()("halton-no-such-tool", []), { code: -1, stdout: "" });
    const started = performance.now();
    assert.deepEqual(await commandRunner(200)("sleep", ["5"]), { code: -1, stdout: "" });
    assert.ok(performance.now() - started < 3000);
  },
);
