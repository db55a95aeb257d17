import assert from "node:assert/strict";
import { join } from "node:path";
import { Logger } from "../../core/log.ts";
import { tempHome } from "../helpers/home.ts";

const at = new Date("2026-11-25T10:00:00.000Z");

function lines(text: string): Record<string, unknown>[] {
  return text.trimEnd().split("\n").map((l) => JSON.parse(l));
}

Deno.test("Logger writes one JSON object per line with ts, level, process, event and fields", async () => {
  await using home = await tempHome();
  const log = new Logger({ process: "daemon", dir: home.paths.logs, now: () => at });
  log.info("daemon.startup.ready", { port: 8090, tls: true });
  log.error("intercept.failed", { error_class: "network" });
  log.close();
  assert.equal(log.file, join(home.paths.logs, "daemon.jsonl"));
  assert.deepEqual(lines(await Deno.readTextFile(log.file!)), [
    {
      ts: "2026-11-25T10:00:00.000Z",
      level: "info",
      process: "daemon",
      event: "daemon.startup.ready",
      port: 8090,
      tls: true,
    },
    {
      ts: "2026-11-25T10:00:00.000Z",
      level: "error",
      process: "daemon",
      event: "intercept.failed",
      error_class: "network",
    },
  ]);
});

Deno.test("Logger drops events below its level", async () => {
  await using home = await tempHome();
  const log = new Logger({ process: "edge", dir: home.paths.logs, level: "warn", now: () => at });
  log.debug("edge.debug");
  log.info("edge.passthrough");
  log.warn("edge.daemon_unhealthy");
  log.error("edge.crash");
  log.close();
  assert.deepEqual(lines(await Deno.readTextFile(log.file!)).map((l) => l.event), [
    "edge.daemon_unhealthy",
    "edge.crash",
  ]);
  assert.deepEqual((["debug", "info", "warn", "error"] as const).map((l) => log.enabled(l)), [
    false,
    false,
    true,
    true,
  ]);
});

Deno.test("Logger appends to an existing log file", async () => {
  await using home = await tempHome();
  for (const event of ["first", "second"]) {
    const log = new Logger({ process: "cli", dir: home.paths.logs, now: () => at });
    log.info(event);
    log.close();
  }
  const text = await Deno.readTextFile(join(home.paths.logs, "cli.jsonl"));
  assert.deepEqual(lines(text).map((l) => l.event), ["first", "second"]);
});

Deno.test("Logger rotates by size and keeps only the newest `keep` rotated files", async () => {
  await using home = await tempHome();
  const line =
    JSON.stringify({ ts: at.toISOString(), level: "info", process: "daemon", event: "beat", n: 1 }).length +
    1;
  const maxBytes = 2 * line + 5;
  const log = new Logger({ process: "daemon", dir: home.paths.logs, maxBytes, keep: 2, now: () => at });
  // Two lines fit in a file, so every second event rotates.
  for (let i = 1; i <= 9; i++) log.info("beat", { n: i });
  log.close();
  const files = [...Deno.readDirSync(home.paths.logs)].map((e) => e.name).sort();
  assert.deepEqual(files, ["daemon.1.jsonl", "daemon.2.jsonl", "daemon.jsonl"]);
  const read = async (name: string) =>
    lines(await Deno.readTextFile(join(home.paths.logs, name))).map((l) => l.n);
  assert.deepEqual(await read("daemon.jsonl"), [9]);
  assert.deepEqual(await read("daemon.1.jsonl"), [7, 8]);
  assert.deepEqual(await read("daemon.2.jsonl"), [5, 6]);
  for (const name of files) assert.ok((await Deno.stat(join(home.paths.logs, name))).size <= maxBytes);
});

Deno.test("Logger without a folder writes nothing to disk and never throws", async () => {
  await using home = await tempHome();
  const log = new Logger({ process: "cli", now: () => at });
  log.info("cli.start");
  log.close();
  assert.equal(log.file, undefined);
  // A folder that cannot be created (a file is in the way) loses lines, not the process.
  await Deno.writeTextFile(join(home.dir, "blocked"), "");
  const broken = new Logger({ process: "cli", dir: join(home.dir, "blocked", "logs") });
  broken.info("cli.start");
  broken.close();
});

Deno.test("Logger after close() never opens its file again, so a late event leaks no handle", async () => {
  await using home = await tempHome();
  const log = new Logger({ process: "late", dir: home.paths.logs });
  log.info("first");
  log.close();
  log.warn("after.close");
  const lines = Deno.readTextFileSync(join(home.paths.logs, "late.jsonl")).trim().split("\n");
  assert.deepEqual(lines.map((l) => JSON.parse(l).event), ["first"]);
});
