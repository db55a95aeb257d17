import assert from "node:assert/strict";
import { MeterError } from "../../core/errors.ts";
import { runPlan } from "../../platform/plan.ts";
import { currentSlot, switchSlot } from "../../setup/daemon_slots.ts";
import { platformContext } from "../../setup/machine.ts";
import { fixture } from "./_fixture.ts";

const PORTS = { edge: 8081, intercept: 8090, api: 8765 };

Deno.test("switchSlot() whose new daemon never takes over makes the old slot current again and stops the new one", async () => {
  await using f = await fixture("darwin");
  f.board.daemon = true;
  f.daemons.takesOver = false;
  const { m, runner } = f.machine();
  const ctx = platformContext(m, "env", PORTS);
  await assert.rejects(
    () =>
      switchSlot(m, f.daemons, {
        ctx,
        runPlan: async (plan) => void await runPlan(plan, m.runner, m.fs.planFs()),
        say: () => {},
        takeoverMs: 300,
      }),
    (e: MeterError) => /did not take over within 0.3 s/.test(e.message) && /keeps serving/.test(e.hint ?? ""),
  );
  assert.equal(currentSlot(m), "a");
  assert.deepEqual(runner.lines().slice(-2), [
    "launchctl disable gui/501/com.haltonlabs.meter.b",
    "launchctl bootout gui/501/com.haltonlabs.meter.b",
  ]);
  assert.ok(
    !runner.lines().includes("launchctl disable gui/501/com.haltonlabs.meter"),
    "slot a stays enabled",
  );
});

Deno.test("switchSlot() with no daemon running starts the other slot and counts any daemon that then serves", async () => {
  await using f = await fixture("linux");
  const { m, runner } = f.machine();
  setTimeout(() => f.board.daemon = true, 200);
  const slots = await switchSlot(m, f.daemons, {
    ctx: platformContext(m, "env", PORTS),
    runPlan: async (plan) => void await runPlan(plan, m.runner, m.fs.planFs()),
    say: () => {},
  });
  assert.deepEqual(slots, { from: "a", to: "b" });
  assert.equal(currentSlot(m), "b");
  assert.ok(runner.lines().includes("systemctl --user start halton-meter-b.service"));
});
