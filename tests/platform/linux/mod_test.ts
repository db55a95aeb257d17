import assert from "node:assert/strict";
import { join } from "node:path";
import { linux, SYSTEM_CA_FILE } from "../../../platform/linux/mod.ts";
import { darwin } from "../../../platform/darwin/mod.ts";
import { windows } from "../../../platform/windows/mod.ts";
import { runPlan } from "../../../platform/plan.ts";
import { NOT_FOUND, RecordingRunner, systemRunner } from "../../../platform/runner.ts";
import { contextFor, exec, FakeFs, have, makeCa } from "../_helpers.ts";

const ctx = contextFor("linux");
const units = "/home/ada lovelace/.config/systemd/user";
const db = "sql:/home/ada lovelace/.pki/nssdb";
const ca = "/home/ada lovelace/.mitmproxy/mitmproxy-ca-cert.pem";

Deno.test("linux.installServices() reloads, enables, clears a failed state and restarts both units, then asks for lingering", async () => {
  const runner = new RecordingRunner([{ when: "loginctl", code: 1, stderr: "Access denied" }]);
  const outcomes = await runPlan(linux.installServices(ctx), runner.run, new FakeFs());
  assert.deepEqual(runner.lines(), [
    "systemctl --user daemon-reload",
    "systemctl --user enable halton-meter-edge.service halton-meter.service",
    // Slot b, idle, must not start at login beside slot a.
    "systemctl --user disable halton-meter-b.service",
    "systemctl --user reset-failed halton-meter-edge.service halton-meter.service",
    "systemctl --user restart halton-meter-edge.service halton-meter.service",
    "loginctl enable-linger ada",
  ]);
  // Lingering refused by policy is a warning, not a failed install.
  assert.equal(outcomes.at(-1)?.status, "warned");
});

Deno.test("linux plans start, stop and restart only the services named: stop leaves the edge running", async () => {
  const runner = new RecordingRunner();
  await runPlan(linux.stopServices(ctx, ["daemon"]), runner.run);
  await runPlan(linux.startServices(ctx, ["daemon"]), runner.run);
  await runPlan(linux.restartServices(ctx, ["daemon"]), runner.run);
  await runPlan(linux.installServices(ctx, ["daemon"]).slice(0, 5), runner.run);
  assert.deepEqual(runner.lines(), [
    "systemctl --user stop halton-meter.service",
    "systemctl --user start halton-meter.service",
    "systemctl --user restart halton-meter.service",
    "systemctl --user daemon-reload",
    "systemctl --user enable halton-meter.service",
    "systemctl --user disable halton-meter-b.service",
    "systemctl --user reset-failed halton-meter.service",
    "systemctl --user restart halton-meter.service",
  ]);
});

Deno.test("linux plans of the daemon act on the current slot: b's unit once slot b is current, a's idle", async () => {
  const b = { ...ctx, slot: "b" as const };
  const runner = new RecordingRunner();
  await runPlan(linux.stopServices(b, ["daemon", "edge"]), runner.run);
  await runPlan(linux.startServices(b, ["daemon"]), runner.run);
  await runPlan(linux.installServices(b, ["daemon"]).slice(1, 3), runner.run);
  assert.deepEqual(runner.lines(), [
    "systemctl --user stop halton-meter-b.service halton-meter-edge.service",
    "systemctl --user start halton-meter-b.service",
    "systemctl --user enable halton-meter-b.service",
    "systemctl --user disable halton-meter.service",
  ]);
});

Deno.test("linux.startDaemonSlot() starts the other slot beside the running one; retireDaemonSlot() only disables", async () => {
  const runner = new RecordingRunner();
  await runPlan([...linux.startDaemonSlot(ctx, "b"), ...linux.retireDaemonSlot(ctx, "a")], runner.run);
  assert.deepEqual(runner.lines(), [
    "systemctl --user enable halton-meter-b.service",
    "systemctl --user reset-failed halton-meter-b.service",
    "systemctl --user start halton-meter-b.service",
    // Not stop, nor disable --now: the old daemon is draining and exits on its own.
    "systemctl --user disable halton-meter.service",
  ]);
});

Deno.test("linux.uninstallServices() disables the edge and both daemon slots, deletes their files and reloads", async () => {
  const runner = new RecordingRunner();
  const fs = new FakeFs();
  await runPlan(linux.uninstallServices({ ...ctx, slot: "b" }), runner.run, fs);
  assert.deepEqual(runner.lines(), [
    "systemctl --user disable --now halton-meter-edge.service halton-meter.service halton-meter-b.service",
    "systemctl --user daemon-reload",
  ]);
  assert.deepEqual(fs.removed, [
    `${units}/halton-meter-edge.service`,
    `${units}/halton-meter.service`,
    `${units}/halton-meter-b.service`,
  ]);
});

Deno.test("linux.trustCa() creates the NSS database only when it is missing, then adds the CA to it", async () => {
  const fresh = new RecordingRunner();
  const fs = new FakeFs();
  await runPlan(linux.trustCa(ctx, { caCert: ca }), fresh.run, fs);
  assert.deepEqual(fs.made, ["/home/ada lovelace/.pki/nssdb"]);
  assert.deepEqual(fresh.calls.map((c) => [c.cmd, ...c.args]), [
    ["certutil", "-N", "-d", db, "--empty-password"],
    ["certutil", "-d", db, "-A", "-t", "C,,", "-n", "Halton Meter CA", "-i", ca],
  ]);
  const existing = new RecordingRunner();
  const outcomes = await runPlan(
    linux.trustCa(ctx, { caCert: ca }),
    existing.run,
    new FakeFs(new Set(["/home/ada lovelace/.pki/nssdb/cert9.db"])),
  );
  assert.deepEqual(outcomes.map((o) => o.status), ["done", "skipped", "done"]);
  assert.equal(existing.calls.length, 1);
});

Deno.test("linux.trustCa() without certutil warns with the package to install and does not fail init", async () => {
  const runner = new RecordingRunner([{ when: "certutil", code: NOT_FOUND }]);
  const outcomes = await runPlan(linux.trustCa(ctx, { caCert: ca }), runner.run, new FakeFs());
  assert.deepEqual(outcomes.map((o) => o.status), ["done", "warned", "warned"]);
  const step = outcomes[2].step;
  assert.ok(step.kind === "run" && step.hint?.includes("libnss3-tools"));
});

Deno.test("linux.trustCa() touches the system store only when asked, through sudo unless already root", async () => {
  const user = new RecordingRunner();
  await runPlan(linux.trustCa(ctx, { caCert: ca, system: true }), user.run, new FakeFs());
  assert.deepEqual(user.lines().slice(2), [
    `sudo install -m 0644 ${ca} ${SYSTEM_CA_FILE}`,
    "sudo update-ca-certificates",
  ]);
  const root = new RecordingRunner();
  await runPlan(
    linux.trustCa(contextFor("linux", { uid: 0 }), { caCert: ca, system: true }),
    root.run,
    new FakeFs(),
  );
  assert.deepEqual(root.lines().slice(2), [
    `install -m 0644 ${ca} ${SYSTEM_CA_FILE}`,
    "update-ca-certificates",
  ]);
});

Deno.test("linux.untrustCa() removes the CA from NSS and, when it was added there, from the system store", async () => {
  const runner = new RecordingRunner();
  await runPlan(
    linux.untrustCa(ctx, { caCert: ca, sha1: "AB", system: true }),
    runner.run,
    new FakeFs(new Set(["/home/ada lovelace/.pki/nssdb/cert9.db"])),
  );
  assert.deepEqual(runner.lines(), [
    `certutil -d ${db} -D -n Halton Meter CA`,
    `sudo rm -f ${SYSTEM_CA_FILE}`,
    "sudo update-ca-certificates --fresh",
  ]);
});

Deno.test("linux user env lives in environment.d: written for apps mode, removed on restore, no commands", async () => {
  assert.deepEqual(linux.envFiles(contextFor("linux", { mode: "env" })), []);
  assert.equal(linux.envFiles(ctx)[0].path, "/home/ada lovelace/.config/environment.d/90-halton-meter.conf");
  assert.deepEqual(linux.applyUserEnv(ctx, [{ name: "A", value: "b" }]), []);
  const fs = new FakeFs();
  await runPlan(linux.restoreUserEnv(ctx, { A: undefined }), new RecordingRunner().run, fs);
  assert.deepEqual(fs.removed, ["/home/ada lovelace/.config/environment.d/90-halton-meter.conf"]);
});

Deno.test("linux system proxy: GNOME's settings are read, pointed at the edge, and put back as they were", async () => {
  const runner = new RecordingRunner([
    { when: "gsettings get org.gnome.system.proxy mode", stdout: "'none'\n" },
    { when: "gsettings get org.gnome.system.proxy.https host", stdout: "''\n" },
    { when: "gsettings get org.gnome.system.proxy.https port", stdout: "0\n" },
  ]);
  const snapshot = await linux.probeSystemProxy(runner.run);
  const on = new RecordingRunner();
  await runPlan(linux.enableSystemProxy(ctx, snapshot), on.run);
  assert.deepEqual(on.lines(), [
    "gsettings set org.gnome.system.proxy.https host '127.0.0.1'",
    "gsettings set org.gnome.system.proxy.https port 8081",
    "gsettings set org.gnome.system.proxy mode 'manual'",
  ]);
  const back = new RecordingRunner();
  await runPlan(linux.restoreSystemProxy(snapshot), back.run);
  assert.deepEqual(back.lines(), [
    "gsettings set org.gnome.system.proxy mode 'none'",
    "gsettings set org.gnome.system.proxy.https host ''",
    "gsettings set org.gnome.system.proxy.https port 0",
  ]);
});

Deno.test("linux system proxy without gsettings: nothing recorded and nothing to change", async () => {
  const snapshot = await linux.probeSystemProxy(
    new RecordingRunner([{ when: "gsettings", code: NOT_FOUND }]).run,
  );
  assert.deepEqual(snapshot, { os: "linux", entries: {} });
  assert.deepEqual(linux.enableSystemProxy(ctx, snapshot), []);
});

Deno.test({
  name:
    "linux.trustCa() run for real in a temp home gives browsers' NSS database the CA, and untrustCa() takes it out",
  ignore: !have("certutil") || !have("openssl"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const home = join(dir, "home dir");
      const ctx = contextFor("linux", { userHome: home });
      await makeCa(dir, "Halton Meter test CA");
      const caFile = join(dir, "Halton Meter test CA.crt");
      const outcomes = await runPlan(linux.trustCa(ctx, { caCert: caFile }), systemRunner);
      assert.deepEqual(outcomes.map((o) => o.status), ["done", "done", "done"]);
      const listed = await exec("certutil", ["-L", "-d", `sql:${join(home, ".pki/nssdb")}`]);
      assert.match(listed.stdout, /^Halton Meter CA\s+C,,\s*$/m);
      // A second run finds the database and changes nothing.
      const again = await runPlan(linux.trustCa(ctx, { caCert: caFile }), systemRunner);
      assert.deepEqual(again.map((o) => o.status), ["skipped", "skipped", "done"]);
      await runPlan(linux.untrustCa(ctx, { caCert: caFile, sha1: "" }), systemRunner);
      const after = await exec("certutil", ["-L", "-d", `sql:${join(home, ".pki/nssdb")}`]);
      assert.doesNotMatch(after.stdout, /Halton Meter CA/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("linux.probeRestarting() reads systemd's job on the slot's unit: a restart, not a stop, a kill or no manager", async () => {
  const jobs = (stdout: string, code = 0) =>
    new RecordingRunner([{
      when: "systemctl --user list-jobs --no-legend halton-meter.service",
      stdout,
      code,
    }]);
  const restarting = jobs("  71 halton-meter.service restart running\n");
  assert.equal(await linux.probeRestarting(restarting.run, "a"), true);
  assert.deepEqual(restarting.lines(), ["systemctl --user list-jobs --no-legend halton-meter.service"]);
  assert.equal(await linux.probeRestarting(jobs("72 halton-meter.service stop running\n").run, "a"), false);
  // `systemctl kill` or a signal sent by hand: no job at all.
  assert.equal(await linux.probeRestarting(jobs("").run, "a"), false);
  // The other slot's restart is not this daemon's.
  const other = new RecordingRunner([{
    when: "systemctl --user list-jobs --no-legend halton-meter-b.service",
    stdout: "73 halton-meter.service restart running\n",
  }]);
  assert.equal(await linux.probeRestarting(other.run, "b"), false);
  assert.equal(await linux.probeRestarting(jobs("", 1).run, "a"), false);
  assert.equal(
    await linux.probeRestarting(new RecordingRunner([{ when: "systemctl", code: NOT_FOUND }]).run, "a"),
    false,
  );
});

Deno.test("linux.serviceEnv() starts the daemon with its allocator settings after any the starter has", () => {
  assert.deepEqual(linux.serviceEnv("daemon", {}), { GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" });
  assert.deepEqual(linux.serviceEnv("daemon", { GLIBC_TUNABLES: "glibc.malloc.arena_max=2" }), {
    GLIBC_TUNABLES: "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1",
  });
  assert.deepEqual(linux.serviceEnv("edge", { GLIBC_TUNABLES: "glibc.malloc.arena_max=2" }), {});
  assert.deepEqual(darwin.serviceEnv("daemon", {}), {});
  assert.deepEqual(windows.serviceEnv("daemon", {}), {});
});
