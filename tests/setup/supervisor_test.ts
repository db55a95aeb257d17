import assert from "node:assert/strict";
import { join } from "node:path";
import { Logger } from "../../core/log.ts";
import { livePid, processAlive } from "../../setup/pids.ts";
import { downFlag, handoverFlag, supervise } from "../../setup/supervisor.ts";

/** A stand-in for the binary: `<child> edge|daemon` sleeps until it is signalled. */
const CHILD = `setInterval(() => {}, 1000);`;

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test({
  name:
    "supervise() restarts a dead daemon, keeps it down on request, hands the edge over to the next supervisor",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "h8-sup-" });
    const run = join(dir, "run");
    const child = join(dir, "child.ts");
    await Deno.writeTextFile(child, CHILD);
    // `deno run child.ts edge`: the role word is in the command line, as it is for the real binary.
    const command = [Deno.execPath(), "run", "--quiet", child];
    const log = new Logger({ process: "supervisor", dir: join(dir, "logs") });
    let stopFirst!: () => void;
    let stopSecond!: () => void;
    try {
      const first = supervise({
        run,
        command,
        log,
        tickMs: 50,
        stop: new Promise<void>((r) => stopFirst = r),
      });
      await until(() => livePid(run, "edge") !== undefined && livePid(run, "daemon") !== undefined);
      const edge = livePid(run, "edge")!;
      const daemon = livePid(run, "daemon")!;

      Deno.kill(daemon, "SIGKILL");
      await until(() => (livePid(run, "daemon") ?? daemon) !== daemon);
      const second = livePid(run, "daemon")!;

      await Deno.writeTextFile(downFlag(run), "");
      Deno.kill(second, "SIGTERM");
      await until(() => !processAlive(second));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(livePid(run, "daemon"), undefined, "a daemon kept down is not restarted");
      await Deno.remove(downFlag(run));
      await until(() => livePid(run, "daemon") !== undefined);

      await Deno.writeTextFile(handoverFlag(run), "");
      assert.equal(await first, "handed-over");
      assert.equal(processAlive(edge, "edge"), true, "the edge outlives a handover");
      assert.equal(livePid(run, "daemon"), undefined, "the daemon is stopped at a handover");

      const next = supervise({
        run,
        command,
        log,
        tickMs: 50,
        stop: new Promise<void>((r) => stopSecond = r),
      });
      await until(() => livePid(run, "daemon") !== undefined);
      assert.equal(livePid(run, "edge"), edge, "the new supervisor adopts the running edge");
      const lastDaemon = livePid(run, "daemon")!;
      stopSecond();
      assert.equal(await next, "stopped");
      await until(() => !processAlive(edge) && !processAlive(lastDaemon));
      assert.equal(livePid(run, "supervisor"), undefined);
    } finally {
      stopFirst?.();
      stopSecond?.();
      log.close();
      for (const name of ["edge", "daemon"] as const) {
        const pid = livePid(run, name);
        if (pid) Deno.kill(pid, "SIGKILL");
      }
      // The handed-over edge was this process's child: let its exit be collected before the sanitizer looks.
      await new Promise((r) => setTimeout(r, 200));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
