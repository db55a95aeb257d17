/**
 * The program as one file: `main.ts` bundled with `deno bundle`, only that file copied to an empty folder, and
 * run there with an empty Deno cache and no config. Everything it needs at run time (migrations, rate card,
 * dashboard page, service templates, the read API's worker) must come through its module graph, or this fails.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { denoDir } from "../../testkit/processes.ts";
import { smokeTest } from "../helpers/smoke.ts";
import { V8_FLAGS } from "../../platform/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("main.ts bundled into one file runs alone: up, a metered call, report, read API and page, init plans", async () => {
  const work = await Deno.makeTempDir({ prefix: "hm-bundle-" });
  try {
    const built = join(work, "bundled.js");
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "deno", "--output", built, "main.ts"],
      cwd: ROOT,
      env: { DENO_DIR: denoDir(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, `deno bundle failed:\n${new TextDecoder().decode(r.stderr)}`);

    const alone = join(work, "empty");
    const denoCache = join(work, "deno-cache");
    await Deno.mkdir(alone);
    await Deno.mkdir(denoCache);
    const file = join(alone, "halton-meter.js");
    await Deno.copyFile(built, file);
    assert.deepEqual([...Deno.readDirSync(alone)].map((e) => e.name), ["halton-meter.js"]);

    await smokeTest({
      argv: [Deno.execPath(), "run", "-A", "--no-config", "--no-lock", V8_FLAGS, file],
      cwd: alone,
      env: { DENO_DIR: denoCache },
      self: file,
      channel: "bundle",
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
