import assert from "node:assert/strict";
import { currentSelf, platformFor, selfCommand } from "../../platform/mod.ts";
import { contextFor } from "./_helpers.ts";

Deno.test("platformFor() gives each OS its own platform, usable from any OS", () => {
  for (const os of ["darwin", "linux", "windows"] as const) {
    const p = platformFor(os);
    assert.equal(p.os, os);
    const files = p.serviceFiles(contextFor(os));
    assert.equal(files.length, 2);
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

Deno.test("selfCommand() from source is deno run -A with the absolute main.ts, which exists", async () => {
  const argv = selfCommand(currentSelf());
  assert.deepEqual(argv.slice(1, 3), ["run", "-A"]);
  assert.equal(argv[0], Deno.execPath());
  assert.ok(argv[3].endsWith("/main.ts") && argv[3].startsWith("/"));
  assert.ok((await Deno.stat(argv[3])).isFile);
  assert.equal(currentSelf().standalone, false);
});
