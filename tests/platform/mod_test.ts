import assert from "node:assert/strict";
import { currentSelf, platformFor, selfCommand, V8_FLAGS } from "../../platform/mod.ts";
import { contextFor } from "./_helpers.ts";
import { DAEMON_TUNABLES } from "../../platform/linux/malloc.ts";

Deno.test("platformFor() gives each OS its own platform, usable from any OS", () => {
  for (const os of ["darwin", "linux", "windows"] as const) {
    const p = platformFor(os);
    assert.equal(p.os, os);
    const files = p.serviceFiles(contextFor(os));
    // The edge, and the daemon in each of its two slots.
    assert.deepEqual(files.map((f) => f.service), ["edge", "daemon", "daemon"]);
    const slots = files.filter((f) => f.service === "daemon");
    assert.ok(slots.every((f) => f.content.includes("--slot")));
    assert.notEqual(slots[0].path, slots[1].path);
    assert.ok(
      files.every((f) =>
        f.content.includes(os === "windows" ? "halton-meter.exe" : "/opt/halton meter/bin/halton-meter")
      ),
    );
  }
});

Deno.test("selfCommand() is the binary alone when compiled", () => {
  assert.deepEqual(
    selfCommand({
      standalone: true,
      execPath: "/usr/local/bin/halton-meter",
      mainModule: "file:///tmp/deno-compile-halton-meter/main.ts",
    }),
    ["/usr/local/bin/halton-meter"],
  );
});

Deno.test("selfCommand() from source is deno run -A with the V8 flags and the absolute main.ts, which exists", async () => {
  const argv = selfCommand(currentSelf());
  assert.deepEqual(argv.slice(1, 4), ["run", "-A", V8_FLAGS]);
  assert.equal(argv[0], Deno.execPath());
  assert.ok(argv[4].endsWith("/main.ts") && argv[4].startsWith("/"));
  assert.ok((await Deno.stat(argv[4])).isFile);
  assert.equal(currentSelf().standalone, false);
});

Deno.test("`deno task start` runs `up` with the same V8 flags as the services and the daemon's allocator settings", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const words = config.tasks.start.split(" ");
  assert.ok(words.includes(V8_FLAGS), config.tasks.start);
  // `up` runs the daemon in its own process.
  assert.equal(words[0], `GLIBC_TUNABLES=${DAEMON_TUNABLES}`, config.tasks.start);
});
