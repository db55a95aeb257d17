import assert from "node:assert/strict";
import { join } from "node:path";
import { processLogger } from "../../core/lifecycle.ts";
import { tempHome } from "../helpers/home.ts";

// The stop signal is exercised by the end-to-end tests on real processes (tests/e2e/edge_test.ts, up_test.ts):
// a signal sent to the test runner itself would reach every test module running beside this one.

Deno.test("processLogger() writes logs/<process>.jsonl at the level config.toml sets", async () => {
  await using home = await tempHome();
  await Deno.mkdir(home.home, { recursive: true });
  await Deno.writeTextFile(home.paths.config, '[logging]\nlevel = "warn"\n');
  const log = processLogger("edge", home.paths);
  try {
    log.info("test.quiet", {});
    log.warn("test.loud", { n: 1 });
  } finally {
    log.close();
  }
  const lines = (await Deno.readTextFile(join(home.paths.logs, "edge.jsonl"))).trim().split("\n");
  assert.deepEqual(lines.map((l) => JSON.parse(l).event), ["test.loud"]);
  assert.equal(JSON.parse(lines[0]).process, "edge");
});

Deno.test("processLogger() takes [logging] as given when the caller has loaded the config already", async () => {
  await using home = await tempHome();
  const log = processLogger("daemon", home.paths, { level: "error", max_bytes: 1024, keep: 1 });
  try {
    log.warn("test.dropped", {});
    log.error("test.kept", {});
  } finally {
    log.close();
  }
  const text = await Deno.readTextFile(join(home.paths.logs, "daemon.jsonl"));
  assert.deepEqual(text.trim().split("\n").map((l) => JSON.parse(l).event), ["test.kept"]);
});
