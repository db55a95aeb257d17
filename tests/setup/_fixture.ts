/**
 * A prepared fake machine for the command tests: a temp root with a Python's certifi bundle, the OS's roots
 * and an rc file, and the runner, switchboard and supervisor the machine uses.
 *
 * @module
 */
import type { OsName } from "../../core/paths.ts";
import { resolvePaths } from "../../core/paths.ts";
import { RecordingRunner, type ScriptedAnswer } from "../../platform/runner.ts";
import type { Machine } from "../../setup/machine.ts";
import { TargetFs } from "../../setup/target_fs.ts";
import {
  FakeDaemons,
  fakeMachine,
  FakeSupervisor,
  HOMES,
  probeScript,
  ROOTS_PEM,
  type Switchboard,
} from "./_machine.ts";

/** One test's machine and what stands behind it. */
export interface Fixture extends AsyncDisposable {
  root: string;
  fs: TargetFs;
  paths: ReturnType<typeof resolvePaths>;
  board: Switchboard;
  supervisor: FakeSupervisor;
  /** The daemons every machine of the fixture sees; they read the runner of the machine made last. */
  daemons: FakeDaemons;
  progress: string[];
  /** A machine with a fresh recording runner answering `script` before the usual probes. */
  machine(opts?: { command?: string[]; script?: ScriptedAnswer[]; env?: Record<string, string> }): {
    m: Machine;
    runner: RecordingRunner;
  };
}

/** Makes a fixture for `os`; `await using f = await fixture("linux")` removes the root afterwards. */
export async function fixture(os: OsName): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: `h8-${os}-` });
  const fs = new TargetFs(root);
  const h = HOMES[os];
  fs.write(h.certifi, ROOTS_PEM);
  fs.write(h.python, "");
  fs.write("/etc/ssl/certs/ca-certificates.crt", ROOTS_PEM);
  const board: Switchboard = { edge: false, daemon: false, selfTestOk: true, selfTests: 0 };
  const supervisor = new FakeSupervisor();
  const progress: string[] = [];
  let lastRunner = new RecordingRunner([]);
  const daemons = new FakeDaemons(board, () => lastRunner);
  return {
    root,
    fs,
    paths: resolvePaths(h.env, os),
    board,
    supervisor,
    daemons,
    progress,
    machine(opts = {}) {
      const runner = new RecordingRunner([...(opts.script ?? []), ...probeScript(os)]);
      lastRunner = runner;
      const m = fakeMachine(os, root, {
        command: opts.command ?? ["/opt/a/halton-meter"],
        runner,
        board,
        supervisor,
        daemons,
        env: opts.env,
        progress,
      });
      return { m, runner };
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}
