import assert from "node:assert/strict";
import { renderResults, SECTIONS, withRatio } from "../../scripts/bench.ts";

Deno.test("withRatio() compares a figure with its target, inverted when higher is better", () => {
  assert.equal(withRatio({ name: "q", value: 50, unit: "ms", target: 500 }).ratio, 0.1);
  assert.equal(
    withRatio({ name: "t", value: 2000, unit: "req/s", target: 1000, higherIsBetter: true }).ratio,
    0.5,
  );
  assert.equal(withRatio({ name: "n", value: 3, unit: "rows" }).ratio, undefined);
});

Deno.test("renderResults() prints one row per figure, marking figures that miss their target", () => {
  const text = renderResults([
    { section: "report", ...withRatio({ name: "fast", value: 57.6, unit: "ms", target: 500 }) },
    { section: "report", ...withRatio({ name: "slow", value: 806, unit: "ms", target: 500 }) },
  ]);
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[2], /^report +fast +57\.6 ms +< 500 ms +0\.12 +ok$/);
  assert.match(lines[3], /^report +slow +806 ms +< 500 ms +1\.61 +SLOW$/);
});

Deno.test("renderResults() judges a figure by its ratio unrounded: just over its target is SLOW", () => {
  const text = renderResults([
    { section: "edge", ...withRatio({ name: "rss", value: 60.2, unit: "MB", target: 60 }) },
    { section: "edge", ...withRatio({ name: "rss", value: 60, unit: "MB", target: 60 }) },
  ]);
  const lines = text.trimEnd().split("\n");
  assert.match(lines[2], /^edge +rss +60\.2 MB +< 60\.0 MB +1\.00 +SLOW$/);
  assert.match(lines[3], /^edge +rss +60\.0 MB +< 60\.0 MB +1\.00 +ok$/);
});

Deno.test("SECTIONS lists the report section, each loading a module with run()", async () => {
  assert.ok("report" in SECTIONS);
  for (const load of Object.values(SECTIONS)) assert.equal(typeof (await load()).run, "function");
});

Deno.test("bench --help prints the usage and the sections and exits 0; an unknown option exits 2 with the usage", async () => {
  const script = new URL("../../scripts/bench.ts", import.meta.url).pathname;
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--cached-only", script, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  const text = new TextDecoder().decode(help.stdout);
  assert.match(text, /^Usage: deno task bench \[--only <section>\]/);
  for (const name of Object.keys(SECTIONS)) assert.ok(text.includes(name), name);
  const bad = await run(["--sections"]);
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /Unknown option '--sections'\nUsage:/);
});
