import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { command as initCommand, execute as init } from "../../cli/init.ts";
import { executeRestart, executeStart, executeStop, restart, start, stop } from "../../cli/service.ts";
import { MeterError } from "../../core/errors.ts";
import { captureIo } from "../helpers/io.ts";
import { fixture } from "../setup/_fixture.ts";

const NO_SYSTEMD = [{ when: "systemctl --user show-environment", code: 1 }];

Deno.test("stop stops only the daemon through systemd; stop --all stops the edge too", async () => {
  await using f = await fixture("linux");
  await init(
    captureIo(f.paths).io,
    parseInvocation("init", initCommand, ["--non-interactive"]),
    f.machine().m,
  );
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
  await init(
    captureIo(f.paths).io,
    parseInvocation("init", initCommand, ["--non-interactive"]),
    f.machine({ script: NO_SYSTEMD }).m,
  );
  f.board.edge = f.board.daemon = true;
  f.supervisor.asked.length = 0;
  await executeStop(captureIo(f.paths).io, parseInvocation("stop", stop, []), f.machine().m);
  await executeStart(captureIo(f.paths).io, parseInvocation("start", start, []), f.machine().m);
  await executeRestart(captureIo(f.paths).io, parseInvocation("restart", restart, []), f.machine().m);
  await executeStop(captureIo(f.paths).io, parseInvocation("stop", stop, ["--all"]), f.machine().m);
  assert.deepEqual(f.supervisor.asked, ["stopDaemon", "letDaemonRun", "restartDaemon", "stopAll"]);
});

Deno.test("start --detach before init refuses with a hint to run init", async () => {
  await using f = await fixture("linux");
  await assert.rejects(
    () => executeStart(captureIo(f.paths).io, parseInvocation("start", start, ["--detach"]), f.machine().m),
    (e: MeterError) => e.hint === "Run 'halton-meter init' first.",
  );
});
