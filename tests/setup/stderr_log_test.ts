import assert from "node:assert/strict";
import { join } from "node:path";
import { keepStderr } from "../../setup/stderr_log.ts";

Deno.test("keepStderr() appends a child's stderr to logs/<role>.stderr.log and rotates it past its size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h11-stderr-" });
  try {
    const bytes = (s: string) => new TextEncoder().encode(s);
    const stream = (parts: string[]) => ReadableStream.from(parts.map(bytes));
    await keepStderr(stream(["error: first\n", "error: second\n"]), dir, "daemon", 40);
    assert.equal(await Deno.readTextFile(join(dir, "daemon.stderr.log")), "error: first\nerror: second\n");
    await keepStderr(stream(["error: third, which does not fit\n"]), dir, "daemon", 40);
    assert.equal(await Deno.readTextFile(join(dir, "daemon.stderr.1.log")), "error: first\nerror: second\n");
    assert.equal(
      await Deno.readTextFile(join(dir, "daemon.stderr.log")),
      "error: third, which does not fit\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
