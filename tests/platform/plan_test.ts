import assert from "node:assert/strict";
import { MeterError } from "../../core/errors.ts";
import { describeStep, mkdir, remove, run, runPlan, shQuote } from "../../platform/plan.ts";
import { NOT_FOUND, RecordingRunner } from "../../platform/runner.ts";
import { FakeFs } from "./_helpers.ts";

Deno.test("runPlan() runs steps in order, skips a step whose condition fails, and reports each outcome", async () => {
  const runner = new RecordingRunner();
  const fs = new FakeFs(new Set(["/db/cert9.db"]));
  const outcomes = await runPlan(
    [
      mkdir("/db", "make db folder"),
      run("certutil", ["-N"], "create db", { when: { missing: "/db/cert9.db" } }),
      run("certutil", ["-A"], "add", { when: { exists: "/db/cert9.db" } }),
      remove("/old", "remove old"),
    ],
    runner.run,
    fs,
  );
  assert.deepEqual(outcomes.map((o) => o.status), ["done", "skipped", "done", "done"]);
  assert.deepEqual(runner.lines(), ["certutil -A"]);
  assert.deepEqual([fs.made, fs.removed], [["/db"], ["/old"]]);
});

Deno.test("runPlan() reports making a folder that is already there as skipped, and leaves it", async () => {
  const fs = new FakeFs(new Set(["/db"]));
  const outcomes = await runPlan([mkdir("/db", "make db folder")], new RecordingRunner().run, fs);
  assert.deepEqual(outcomes.map((o) => o.status), ["skipped"]);
  assert.deepEqual(fs.made, []);
});

Deno.test("runPlan() accepts the step's own success codes and goes on past a failed optional step", async () => {
  const runner = new RecordingRunner([{ when: "a", code: 5 }, { when: "b", code: 2 }]);
  const outcomes = await runPlan(
    [
      run("a", [], "step a", { okCodes: [0, 5] }),
      run("b", [], "step b", { optional: true }),
      run("c", [], "step c"),
    ],
    runner.run,
    new FakeFs(),
  );
  assert.deepEqual(outcomes.map((o) => o.status), ["done", "warned", "done"]);
});

Deno.test("runPlan() stops at a failed step with its purpose, command, exit code and hint", async () => {
  const runner = new RecordingRunner([{
    when: "systemctl",
    code: 1,
    stderr: "Failed to connect to bus\nmore",
  }]);
  await assert.rejects(
    runPlan([
      run("systemctl", ["--user", "daemon-reload"], "reload units", { hint: "log in" }),
      run("next", [], "x"),
    ], runner.run),
    (e) => {
      assert.ok(e instanceof MeterError);
      assert.equal(
        e.message,
        "reload units failed: 'systemctl --user daemon-reload' exited with 1: Failed to connect to bus",
      );
      assert.equal(e.hint, "log in");
      return true;
    },
  );
  assert.equal(runner.calls.length, 1);
});

Deno.test("runPlan() says a program is not installed when it cannot be found", async () => {
  const runner = new RecordingRunner([{ when: "gsettings", code: NOT_FOUND }]);
  await assert.rejects(runPlan([run("gsettings", ["get"], "read")], runner.run), (e) => {
    assert.ok(e instanceof MeterError);
    assert.equal(e.hint, "'gsettings' is not installed or not on PATH.");
    return true;
  });
});

Deno.test("describeStep() prints a step as a pasteable shell line", () => {
  assert.equal(
    describeStep(run("certutil", ["-n", "Halton Meter CA", "-t", "C,,"], "x")),
    "certutil -n 'Halton Meter CA' -t C,,",
  );
  assert.equal(
    describeStep(run("a", ["it's"], "x", { when: { missing: "/p q" } })),
    "[ -e '/p q' ] || a 'it'\\''s'",
  );
  assert.equal(describeStep(mkdir("/a b", "x")), "mkdir -p '/a b'");
  assert.equal(describeStep(remove("C:\\x", "x")), "rm -f 'C:\\x'");
  assert.equal(shQuote(""), "''");
});
