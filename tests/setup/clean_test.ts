import assert from "node:assert/strict";
import { resolvePaths } from "../../core/paths.ts";
import { RecordingRunner } from "../../platform/runner.ts";
import { runInit } from "../../setup/init.ts";
import { TargetFs } from "../../setup/target_fs.ts";
import { fakeMachine, HOMES, probeScript, ROOTS_PEM, type Switchboard } from "./_machine.ts";

Deno.test("init --clean on linux re-creates the units from scratch, leaving the database, config and CA alone", async () => {
  const root = await Deno.makeTempDir({ prefix: "h11-clean-" });
  try {
    const fs = new TargetFs(root);
    const h = HOMES.linux;
    const paths = resolvePaths(h.env, "linux");
    fs.write(h.certifi, "# certifi roots\n" + ROOTS_PEM);
    fs.write(h.python, "");
    fs.write("/etc/ssl/certs/ca-certificates.crt", ROOTS_PEM);
    fs.write(paths.db, "SQLite format 3\0 pretend rows");
    fs.write(paths.config, '[tagging]\ndefault_project = "mine"\n');
    const board: Switchboard = { edge: false, daemon: false, selfTestOk: true, selfTests: 0 };
    const init = async (clean: boolean) => {
      const runner = new RecordingRunner(probeScript("linux"));
      const m = fakeMachine("linux", root, { command: ["/opt/a/halton-meter"], runner, board, progress: [] });
      const result = await runInit(m, { mode: "env", nonInteractive: true, clean });
      return { result, lines: runner.lines() };
    };
    await init(false);
    const ca = fs.readText(paths.caCert);
    const { result, lines } = await init(true);
    assert.equal(result.selfTest?.ok, true);
    const from = lines.indexOf(
      "systemctl --user disable --now halton-meter-edge.service halton-meter.service halton-meter-b.service",
    );
    assert.ok(from >= 0, lines.join("\n"));
    assert.deepEqual(lines.slice(from, from + 7), [
      "systemctl --user disable --now halton-meter-edge.service halton-meter.service halton-meter-b.service",
      "systemctl --user daemon-reload",
      "systemctl --user daemon-reload",
      "systemctl --user enable halton-meter-edge.service halton-meter.service",
      "systemctl --user disable halton-meter-b.service",
      "systemctl --user reset-failed halton-meter-edge.service halton-meter.service",
      "systemctl --user restart halton-meter-edge.service halton-meter.service",
    ]);
    assert.deepEqual(result.started.sort(), ["daemon", "edge"]);
    assert.ok(fs.readText("/home/ada/.config/systemd/user/halton-meter.service")?.includes("KillMode=mixed"));
    assert.equal(fs.readText(paths.db), "SQLite format 3\0 pretend rows");
    assert.equal(fs.readText(paths.config), '[tagging]\ndefault_project = "mine"\n');
    assert.equal(fs.readText(paths.caCert), ca);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
