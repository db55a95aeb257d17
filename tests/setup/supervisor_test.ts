import assert from "node:assert/strict";
import { join } from "node:path";
import { Logger } from "../../core/log.ts";
import { exists } from "../../core/io.ts";
import { readyDaemon } from "../../core/lifecycle.ts";
import { livePid, processAlive } from "../../setup/pids.ts";
import { downFlag, handoverFlag, restartFlag, supervise } from "../../setup/supervisor.ts";

/**
 * A stand-in for the binary: `<child> edge|daemon` sleeps until it is signalled; a daemon that replaces
 * another stops it first, as the real one does once it is ready to bind.
 */
const CHILD = `const old = Deno.env.get("HALTON_METER_REPLACES");
if (old) Deno.kill(Number(old), "SIGTERM");
setInterval(() => {}, 1000);`;

/** The environment process `pid` was started with. */
function environOf(pid: number): Record<string, string> {
  const entries = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0").filter((e) => e.includes("="));
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test({
  name:
    "supervise() restarts a dead daemon, keeps it down on request, replaces it on request, hands both over, " +
    "each at once though its tick is a minute",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "h8-sup-" });
    const run = join(dir, "run");
    const child = join(dir, "child.ts");
    await Deno.writeTextFile(child, CHILD);
    // `deno run child.ts edge`: the role word is in the command line, as it is for the real binary.
    const command = [Deno.execPath(), "run", "-A", "--quiet", child];
    const log = new Logger({ process: "supervisor", dir: join(dir, "logs") });
    let stopFirst!: () => void;
    let stopSecond!: () => void;
    try {
      const first = supervise({
        run,
        command,
        env: { edge: {}, daemon: { GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" } },
        log,
        tickMs: 60_000,
        stop: new Promise<void>((r) => stopFirst = r),
      });
      await until(() => livePid(run, "edge") !== undefined && livePid(run, "daemon") !== undefined);
      const edge = livePid(run, "edge")!;
      const daemon = livePid(run, "daemon")!;
      assert.equal(
        environOf(daemon).GLIBC_TUNABLES,
        "glibc.malloc.hugetlb=1",
        "the daemon gets its variables",
      );
      assert.equal(environOf(edge).GLIBC_TUNABLES, Deno.env.get("GLIBC_TUNABLES"), "the edge only its own");

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

      const replaced = livePid(run, "daemon")!;
      await Deno.writeTextFile(restartFlag(run), "");
      await until(() => (livePid(run, "daemon") ?? replaced) !== replaced);
      await until(() => !processAlive(replaced), 5_000);
      const kept = livePid(run, "daemon")!;
      assert.equal(environOf(kept).GLIBC_TUNABLES, "glibc.malloc.hugetlb=1", "so does a replacing daemon");
      assert.equal(environOf(kept).HALTON_METER_REPLACES, String(replaced));

      await Deno.writeTextFile(handoverFlag(run), "");
      assert.equal(await first, "handed-over");
      assert.equal(processAlive(edge, "edge"), true, "the edge outlives a handover");
      assert.equal(livePid(run, "daemon"), kept, "so does the daemon, for the next supervisor to replace");

      const next = supervise({
        run,
        command,
        log,
        tickMs: 60_000,
        stop: new Promise<void>((r) => stopSecond = r),
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(livePid(run, "edge"), edge, "the new supervisor adopts the running edge");
      assert.equal(livePid(run, "daemon"), kept, "and the running daemon");
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

Deno.test({
  name:
    "supervise() asks a daemon that answers every 5 s, and kills and replaces one that stops (the watchdog)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "h11-dog-" });
    const run = join(dir, "run");
    const child = join(dir, "child.ts");
    await Deno.writeTextFile(child, CHILD);
    const log = new Logger({ process: "supervisor", dir: join(dir, "logs") });
    let stop!: () => void;
    let hungPid: number | undefined;
    let checks = 0;
    try {
      const running = supervise({
        run,
        command: [Deno.execPath(), "run", "-A", "--quiet", child],
        log,
        tickMs: 60_000,
        stop: new Promise<void>((r) => stop = r),
        healthy: () => {
          checks++;
          return Promise.resolve(livePid(run, "daemon") !== hungPid);
        },
        hangMs: 1500,
      });
      await until(() => livePid(run, "daemon") !== undefined);
      // Let the watchdog see it answer once, so it counts as started; then it rests.
      await until(() => checks > 0);
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(checks, 1, "a daemon that answered is not asked again within 5 s");
      hungPid = livePid(run, "daemon")!;
      Deno.kill(hungPid, "SIGSTOP");
      await until(() => (livePid(run, "daemon") ?? hungPid) !== hungPid, 15_000);
      await until(() => !processAlive(hungPid!), 5_000);
      stop();
      assert.equal(await running, "stopped");
      const lines = (await Deno.readTextFile(join(dir, "logs", "supervisor.jsonl"))).split("\n");
      assert.ok(
        lines.some((l) => l.includes('"supervisor.daemon_hung"')),
        "the log says why it was replaced",
      );
    } finally {
      stop?.();
      log.close();
      for (const name of ["edge", "daemon"] as const) {
        const pid = livePid(run, name);
        if (pid) Deno.kill(pid, "SIGKILL");
      }
      if (hungPid) {
        try {
          Deno.kill(hungPid, "SIGKILL");
        } catch { /* already gone */ }
      }
      await new Promise((r) => setTimeout(r, 200));
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * A daemon stand-in that, like the real one, names itself in `run/daemon.ready` once it serves, and leaves the
 * daemon it replaces draining (alive, its ports closed). With `run/fail-next` there, a replacing daemon exits
 * before it serves instead, as one that cannot start does.
 */
const SERVING_CHILD = `const run = Deno.env.get("RUN");
if (Deno.args[0] === "daemon") {
  const failNext = run + "/fail-next";
  let fail = false;
  try { Deno.removeSync(failNext); fail = true; } catch { /* none */ }
  if (fail && Deno.env.get("HALTON_METER_REPLACES")) Deno.exit(1);
  Deno.writeTextFileSync(run + "/daemon.ready", Deno.pid + "\\n");
}
setInterval(() => {}, 1000);`;

Deno.test({
  name:
    "supervise() takes back a replaced daemon when its successor could not start, but not once the successor served",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "h24-back-" });
    const run = join(dir, "run");
    const child = join(dir, "child.ts");
    await Deno.writeTextFile(child, SERVING_CHILD);
    const log = new Logger({ process: "supervisor", dir: join(dir, "logs") });
    let stop!: () => void;
    const pids = new Set<number>();
    const daemonNow = () => {
      const pid = livePid(run, "daemon");
      if (pid) pids.add(pid);
      return pid;
    };
    try {
      const running = supervise({
        run,
        command: [Deno.execPath(), "run", "-A", "--quiet", child],
        env: { edge: { RUN: run }, daemon: { RUN: run } },
        log,
        tickMs: 50,
        stop: new Promise<void>((r) => stop = r),
      });
      await until(() => daemonNow() !== undefined);
      const first = daemonNow()!;
      await until(() => readyDaemon(run) === first);

      // A successor that cannot start: the first, still serving, is watched again.
      await Deno.writeTextFile(join(run, "fail-next"), "");
      await Deno.writeTextFile(restartFlag(run), "");
      await until(() => !exists(join(run, "fail-next")));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(daemonNow(), first, "the daemon that still serves is the supervised one again");

      // A successor that served, then died: its predecessor is draining, so a new daemon is started instead.
      await Deno.writeTextFile(restartFlag(run), "");
      await until(() => (daemonNow() ?? first) !== first && readyDaemon(run) === livePid(run, "daemon"));
      const second = daemonNow()!;
      Deno.kill(second, "SIGKILL");
      await until(() => {
        const now = daemonNow();
        return now !== undefined && now !== second && now !== first;
      });
      assert.equal(processAlive(first, "daemon"), true, "the first drains on, unwatched by name");
      stop();
      assert.equal(await running, "stopped");
    } finally {
      stop?.();
      log.close();
      for (const pid of [...pids, livePid(run, "edge")]) {
        if (!pid) continue;
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* already gone */ }
      }
      await new Promise((r) => setTimeout(r, 200));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
