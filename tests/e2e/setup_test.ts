import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { livePid, processAlive } from "../../setup/pids.ts";
import { exec } from "../platform/_helpers.ts";
import type { StatusReport } from "../../setup/status.ts";
import { accepts, freePorts } from "../../testkit/processes.ts";

/** Whether something accepts connections on `port` right now. */
function listening(port: number): Promise<boolean> {
  return accepts(port).catch(() => false);
}

function which(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(join(dir, cmd)).isFile) return join(dir, cmd);
    } catch { /* not here */ }
  }
  return undefined;
}

Deno.test({
  name: "init on a machine without a systemd user manager runs edge and daemon under the supervisor: " +
    "status healthy, stop keeps the edge, start --detach, uninstall leaves only the database and config",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "h8-e2e-" }));
    const home = join(dir, ".halton-meter");
    const bin = join(dir, "bin");
    const certifi = join(dir, "site-packages", "certifi", "cacert.pem");
    await Deno.mkdir(bin);
    await Deno.mkdir(join(dir, "site-packages", "certifi"), { recursive: true });
    await Deno.mkdir(home);
    await Deno.writeTextFile(certifi, "# certifi's own roots\n");
    // A Python whose certifi bundle is a temp file: the real interpreters' bundles are never touched.
    await Deno.writeTextFile(join(bin, "python3"), `#!/bin/sh\necho '${certifi}'\n`, { mode: 0o755 });
    // The real systemctl, only where it cannot reach a user manager (as on this machine): then init must say so.
    const systemctl = which("systemctl");
    const answers = systemctl ? (await exec(systemctl, ["--user", "show-environment"])).code === 0 : false;
    if (systemctl && !answers) await Deno.symlink(systemctl, join(bin, "systemctl"));
    const certutil = which("certutil");
    if (certutil) await Deno.symlink(certutil, join(bin, "certutil"));
    // Pinned in config, so the test never meets another run's edge on 8081.
    const [edge, intercept, api] = freePorts(3);
    await Deno.writeTextFile(
      join(home, "config.toml"),
      `[edge]\nport = ${edge}\n\n[daemon]\nintercept_port = ${intercept}\napi_port = ${api}\n`,
    );
    const env = { HOME: dir, HALTON_METER_HOME: home, PATH: bin };
    const run = join(home, "run");
    const seen = new Set<number>();
    const remember = () => {
      for (const name of ["supervisor", "edge", "daemon"] as const) {
        const pid = livePid(run, name);
        if (pid) seen.add(pid);
      }
    };
    const status = async () => {
      const r = await runCli(["status", "--json"], env);
      return { code: r.code, report: JSON.parse(r.stdout) as StatusReport };
    };
    try {
      const init = await runCli(["init", "--non-interactive"], env);
      remember();
      assert.equal(init.code, 0, init.stderr);
      assert.match(init.stderr, /No service manager answers here/);
      assert.match(init.stderr, /\[8\/8\] self-test: .* ok \(daemon /);
      assert.ok((await Deno.readTextFile(certifi)).includes("# >>> halton-meter CA >>>"));

      const healthy = await status();
      assert.equal(healthy.code, 0);
      assert.equal(healthy.report.healthy, true);
      const pid = (n: string) => healthy.report.components.find((c) => c.name === n)?.pid;
      assert.ok(
        pid("edge") && pid("daemon") && pid("services"),
        "edge, daemon and supervisor pids are shown",
      );

      const again = await runCli(["init", "--non-interactive"], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /nothing changed; nothing restarted/);
      const after = await status();
      assert.equal(after.report.components.find((c) => c.name === "daemon")?.pid, pid("daemon"));

      const stop = await runCli(["stop"], env);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(await listening(edge), true, "the edge keeps its port through stop");
      assert.equal(await listening(intercept), false);
      // Asked to drain on its API port, not signalled: on Windows a signal is a kill without a drain.
      const stopping = Deno.readTextFileSync(join(home, "logs", "daemon.jsonl")).split("\n")
        .filter((l) => l.includes('"daemon.stopping"')).map((l) => JSON.parse(l).signal);
      assert.deepEqual(stopping, ["drain request"]);
      const stopped = await status();
      assert.equal(stopped.code, 3);
      assert.equal(stopped.report.components.find((c) => c.name === "edge")?.pid, pid("edge"));

      const start = await runCli(["start", "--detach"], env);
      remember();
      assert.equal(start.code, 0, start.stderr);
      assert.equal((await status()).report.healthy, true);

      const gone = await runCli(["uninstall", "--yes"], env);
      assert.equal(gone.code, 0, gone.stderr);
      assert.deepEqual([...Deno.readDirSync(home)].map((e) => e.name).sort(), ["config.toml", "db.sqlite"]);
      assert.equal(await Deno.readTextFile(certifi), "# certifi's own roots\n");
      for (const p of seen) assert.equal(processAlive(p), false, `process ${p} was stopped`);
      assert.equal(await listening(edge), false);
      if (certutil) {
        const listed = await exec(certutil, ["-L", "-d", `sql:${join(dir, ".pki", "nssdb")}`]);
        assert.doesNotMatch(listed.stdout, /Halton Meter CA/);
      }
    } finally {
      remember();
      for (const p of seen) {
        try {
          Deno.kill(p, "SIGKILL");
        } catch { /* already gone */ }
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
