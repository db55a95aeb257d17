import assert from "node:assert/strict";
import { platformFor } from "../../platform/mod.ts";
import { run } from "../../platform/plan.ts";
import { uniqueSteps } from "../../setup/init_services.ts";
import { contextFor } from "../platform/_helpers.ts";

Deno.test("registerServices() reloads definitions without starting or stopping anything, on every OS", () => {
  const lines = (os: "linux" | "darwin" | "windows") =>
    platformFor(os).registerServices(contextFor(os), ["edge"]).map((s) =>
      s.kind === "run" ? [s.cmd, ...s.args].join(" ") : s.kind
    );
  assert.deepEqual(lines("linux"), ["systemctl --user daemon-reload"]);
  assert.deepEqual(lines("darwin"), []);
  assert.deepEqual(lines("windows"), [
    "schtasks.exe /Create /XML C:\\Users\\Ada Lovelace\\.halton-meter\\tasks\\edge.xml /TN HaltonMeter-Edge /F",
  ]);
});

Deno.test("uniqueSteps() drops a command repeated later in a composed plan and keeps the order", () => {
  const plan = [run("a", ["1"], "x"), run("b", [], "y"), run("a", ["1"], "z"), run("a", ["2"], "w")];
  assert.deepEqual(uniqueSteps(plan).map((s) => s.kind === "run" ? s.why : ""), ["x", "y", "w"]);
});
