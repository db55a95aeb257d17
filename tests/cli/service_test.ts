import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { executeRestart, executeStart, executeStop, restart, start, stop } from "../../cli/service.ts";
import { MeterError } from "../../core/errors.ts";
import { captureIo } from "../helpers/io.ts";
import { fixture } from "../setup/_fixture.ts";
import { initMachine, upInForeground } from "./_init.ts";

Deno.test("stop stops only the daemon through systemd; stop --all stops the edge too", async () => {
  await using f = await fixture("linux");
  await initMachine(f);
  const one = f.machine();
  const out = captureIo(f.paths);
  await executeStop(out.io, parseInvocation("stop", stop, []), one.m);
  assert.deepEqual(one.runner.lines(), ["systemctl --user stop halton-meter.service"]);
  assert.match(out.stdout(), /The edge keeps the proxy port/);
  const all = f.machine();
  await executeStop(captureIo(f.paths).io, parseInvocation("stop", stop, ["--all"]), all.m);
  assert.deepEqual(all.runner.lines(), [
    "systemctl --user stop halton-meter.service halton-meter-edge.service",
  ]);
});

Deno.test("under the supervisor stop keeps the edge, start lets the daemon run again, restart restarts it", async () => {
  await using f = await fixture("linux");
  await initMachine(f, true);
  f.board.edge = f.board.daemon = true;
  f.supervisor.asked.length = 0;
  await executeStop(captureIo(f.paths).io, parseInvocation("stop", stop, []), f.machine().m);
  await executeStart(captureIo(f.paths).io, parseInvocation("start", start, []), f.machine().m);
  await executeRestart(captureIo(f.paths).io, parseInvocation("restart", restart, []), f.machine().m);
  await executeStop(captureIo(f.paths).io, parseInvocation("stop", stop, ["--all"]), f.machine().m);
  assert.deepEqual(f.supervisor.asked, ["stopDaemon", "letDaemonRun", "restartDaemon", "stopAll"]);
});

Deno.test("start, stop and restart refuse while 'up' runs this home's edge and daemon, and say how to stop it", async () => {
  await using f = await fixture("linux");
  const noSystemd = await upInForeground(f);
  const cases = [
    [executeStart, parseInvocation("start", start, ["--detach"])],
    [executeStop, parseInvocation("stop", stop, [])],
    [executeStop, parseInvocation("stop", stop, ["--all"])],
    [executeRestart, parseInvocation("restart", restart, [])],
  ] as const;
  for (const [run, inv] of cases) {
    await assert.rejects(
      () => run(captureIo(f.paths).io, inv, f.machine({ script: noSystemd }).m),
      (e: MeterError) =>
        e.message.startsWith(`'halton-meter up' (pid ${Deno.pid}) runs this home's edge and daemon`) &&
        (e.hint ?? "").includes(`kill ${Deno.pid}`),
    );
  }
  assert.deepEqual(f.supervisor.asked, [], "no supervisor was started or asked anything");
});

Deno.test({
  name: "restart after the supervisor died: a new one adopts the daemon that outlived it, then restarts it",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using f = await fixture("linux");
    await initMachine(f, true);
    f.board.edge = f.board.daemon = true;
    // The supervisor is gone; no daemon survived it: starting a new one is the whole restart.
    f.supervisor.info = undefined;
    f.supervisor.asked.length = 0;
    await executeRestart(captureIo(f.paths).io, parseInvocation("restart", restart, []), f.machine().m);
    assert.deepEqual(f.supervisor.asked, ["start"]);

    // Gone again, with a daemon (a process with "daemon" in its command line) that outlived it.
    const survivor = new Deno.Command("sh", { args: ["-c", "sleep 30", "daemon"] }).spawn();
    try {
      f.fs.write(`${f.paths.run}/daemon.pid`, `${survivor.pid}\n`);
      f.supervisor.info = undefined;
      f.supervisor.asked.length = 0;
      const out = captureIo(f.paths);
      await executeRestart(out.io, parseInvocation("restart", restart, []), f.machine().m);
      assert.deepEqual(f.supervisor.asked, ["start", "restartDaemon"]);
      assert.equal(out.stdout(), "Restarted the daemon.\n");
    } finally {
      survivor.kill("SIGKILL");
      await survivor.status;
    }
  },
});

Deno.test("start --detach before init refuses with a hint to run init", async () => {
  await using f = await fixture("linux");
  await assert.rejects(
    () => executeStart(captureIo(f.paths).io, parseInvocation("start", start, ["--detach"]), f.machine().m),
    (e: MeterError) => e.hint === "Run 'halton-meter init' first.",
  );
});

Deno.test("restart under systemd starts the other slot's daemon beside the running one, then retires the old slot; the next goes back", async () => {
  await using f = await fixture("linux");
  await initMachine(f);
  f.board.edge = f.board.daemon = true;
  const first = f.machine();
  const out = captureIo(f.paths);
  await executeRestart(out.io, parseInvocation("restart", restart, []), first.m);
  assert.deepEqual(first.runner.lines(), [
    "systemctl --user enable halton-meter-b.service",
    "systemctl --user reset-failed halton-meter-b.service",
    "systemctl --user start halton-meter-b.service",
    // The old daemon is not stopped: its successor asked it to drain, and it exits 0, which is not restarted.
    "systemctl --user disable halton-meter.service",
  ]);
  assert.match(out.stdout(), /Restarted the daemon/);
  assert.equal(f.fs.readText(`${f.paths.run}/daemon.slot`), "b\n");
  const second = f.machine();
  await executeRestart(captureIo(f.paths).io, parseInvocation("restart", restart, []), second.m);
  assert.deepEqual(second.runner.lines(), [
    "systemctl --user enable halton-meter.service",
    "systemctl --user reset-failed halton-meter.service",
    "systemctl --user start halton-meter.service",
    "systemctl --user disable halton-meter-b.service",
  ]);
  assert.equal(f.fs.readText(`${f.paths.run}/daemon.slot`), "a\n");
  // stop and start act on the current slot.
  const third = f.machine();
  await executeStop(captureIo(f.paths).io, parseInvocation("stop", stop, []), third.m);
  assert.deepEqual(third.runner.lines(), ["systemctl --user stop halton-meter.service"]);
});

Deno.test("restart waits for the daemon the last restart replaced, still draining in the other slot", async () => {
  await using f = await fixture("linux");
  await initMachine(f);
  f.board.edge = f.board.daemon = true;
  f.daemons.slots.b = 555;
  const { m, runner } = f.machine();
  const out = captureIo(f.paths);
  const done = setTimeout(() => delete f.daemons.slots.b, 400);
  try {
    await executeRestart(out.io, parseInvocation("restart", restart, []), m);
  } finally {
    clearTimeout(done);
  }
  assert.match(out.stderr(), /pid 555\) is still finishing its requests; waiting for it/);
  assert.ok(runner.lines().includes("systemctl --user start halton-meter-b.service"));
});

Deno.test("stop on Windows asks the daemon to drain (a request, not a signal) before Task Scheduler's hard stop", async () => {
  await using f = await fixture("windows");
  await initMachine(f);
  f.board.edge = f.board.daemon = true;
  const { m, runner } = f.machine();
  await executeStop(captureIo(f.paths).io, parseInvocation("stop", stop, []), m);
  assert.deepEqual(f.daemons.asked, ["drain 100"]);
  assert.equal(f.board.daemon, false, "the daemon had drained and exited before the task was ended");
  assert.deepEqual(runner.lines(), ["schtasks.exe /End /TN HaltonMeter-Daemon"]);
});
