import assert from "node:assert/strict";
import { darwin } from "../../../platform/darwin/mod.ts";
import { runPlan } from "../../../platform/plan.ts";
import { RecordingRunner } from "../../../platform/runner.ts";
import { MeterError } from "../../../core/errors.ts";
import { contextFor, FakeFs } from "../_helpers.ts";

const ctx = contextFor("darwin");
const agents = "/Users/Ada Lovelace/Library/LaunchAgents";

Deno.test("darwin.installServices() creates the log folder, then reloads each agent in the user's GUI domain", async () => {
  const runner = new RecordingRunner();
  const fs = new FakeFs();
  await runPlan(darwin.installServices(ctx), runner.run, fs);
  assert.deepEqual(fs.made, ["/Users/Ada Lovelace/.halton-meter/logs"]);
  assert.deepEqual(runner.calls.map((c) => [c.cmd, ...c.args]), [
    ["launchctl", "bootout", "gui/501/com.haltonlabs.meter.edge"],
    ["launchctl", "enable", "gui/501/com.haltonlabs.meter.edge"],
    ["launchctl", "bootstrap", "gui/501", `${agents}/com.haltonlabs.meter.edge.plist`],
    ["launchctl", "bootout", "gui/501/com.haltonlabs.meter"],
    ["launchctl", "enable", "gui/501/com.haltonlabs.meter"],
    ["launchctl", "bootstrap", "gui/501", `${agents}/com.haltonlabs.meter.plist`],
    // Slot b's plist is in LaunchAgents too: launchd must not load it at login beside slot a.
    ["launchctl", "disable", "gui/501/com.haltonlabs.meter.b"],
  ]);
});

Deno.test("darwin.startDaemonSlot() reloads the idle slot's agent from its file and starts it; retire only disables", async () => {
  const runner = new RecordingRunner([
    { when: "launchctl bootout", code: 113, stderr: "Could not find service" },
  ]);
  const fs = new FakeFs();
  await runPlan(
    [...darwin.startDaemonSlot(ctx, "b"), ...darwin.retireDaemonSlot(ctx, "a")],
    runner.run,
    fs,
  );
  assert.deepEqual(runner.lines(), [
    "launchctl bootout gui/501/com.haltonlabs.meter.b",
    "launchctl enable gui/501/com.haltonlabs.meter.b",
    `launchctl bootstrap gui/501 ${agents}/com.haltonlabs.meter.b.plist`,
    "launchctl kickstart gui/501/com.haltonlabs.meter.b",
    // Not bootout: the old daemon is draining, and exits 0, which KeepAlive leaves down.
    "launchctl disable gui/501/com.haltonlabs.meter",
  ]);
  const b = { ...ctx, slot: "b" as const };
  const current = new RecordingRunner();
  await runPlan(darwin.stopServices(b, ["daemon"]), current.run, fs);
  assert.deepEqual(current.lines(), ["launchctl bootout gui/501/com.haltonlabs.meter.b"]);
});

Deno.test("darwin.installServices() of a changed daemon leaves the edge loaded", async () => {
  const runner = new RecordingRunner();
  await runPlan(darwin.installServices(ctx, ["daemon"]), runner.run, new FakeFs());
  assert.ok(runner.lines().every((l) => !l.includes("meter.edge")));
});

Deno.test("darwin plans treat 'already loaded' and 'not loaded' answers as success, and stop only the daemon", async () => {
  const runner = new RecordingRunner([
    { when: "launchctl bootstrap", code: 5, stderr: "Bootstrap failed: 5: Input/output error" },
    { when: "launchctl bootout", code: 3, stderr: "Boot-out failed: 3: No such process" },
  ]);
  await runPlan(darwin.startServices(ctx, ["daemon"]), runner.run, new FakeFs());
  await runPlan(darwin.stopServices(ctx, ["daemon"]), runner.run, new FakeFs());
  await runPlan(darwin.restartServices(ctx, ["daemon"]), runner.run, new FakeFs());
  assert.deepEqual(runner.lines(), [
    `launchctl bootstrap gui/501 ${agents}/com.haltonlabs.meter.plist`,
    "launchctl kickstart gui/501/com.haltonlabs.meter",
    "launchctl bootout gui/501/com.haltonlabs.meter",
    `launchctl bootstrap gui/501 ${agents}/com.haltonlabs.meter.plist`,
    "launchctl kickstart -k gui/501/com.haltonlabs.meter",
  ]);
});

Deno.test("darwin.startServices() fails with the command and launchctl's words when the agent cannot start", async () => {
  const runner = new RecordingRunner([{
    when: "launchctl kickstart",
    code: 113,
    stderr: "Could not find service",
  }]);
  await assert.rejects(runPlan(darwin.startServices(ctx, ["edge"]), runner.run, new FakeFs()), (e) => {
    assert.ok(e instanceof MeterError);
    assert.match(
      e.message,
      /launchctl kickstart gui\/501\/com\.haltonlabs\.meter\.edge' exited with 113: Could not find service/,
    );
    return true;
  });
});

Deno.test("darwin.uninstallServices() unloads the edge and both daemon slots and deletes their plists", async () => {
  const runner = new RecordingRunner();
  const fs = new FakeFs();
  await runPlan(darwin.uninstallServices(ctx), runner.run, fs);
  assert.deepEqual(runner.lines(), [
    "launchctl bootout gui/501/com.haltonlabs.meter",
    "launchctl bootout gui/501/com.haltonlabs.meter.b",
    "launchctl bootout gui/501/com.haltonlabs.meter.edge",
  ]);
  assert.deepEqual(fs.removed, [
    `${agents}/com.haltonlabs.meter.plist`,
    `${agents}/com.haltonlabs.meter.b.plist`,
    `${agents}/com.haltonlabs.meter.edge.plist`,
  ]);
});

Deno.test("darwin trust plans add the CA to the login keychain and remove it by fingerprint", async () => {
  const runner = new RecordingRunner([{ when: "security remove-trusted-cert", code: 1 }]);
  const ca = "/Users/Ada Lovelace/.mitmproxy/mitmproxy-ca-cert.pem";
  await runPlan(darwin.trustCa(ctx, { caCert: ca }), runner.run);
  const outcomes = await runPlan(darwin.untrustCa(ctx, { caCert: ca, sha1: "AB12" }), runner.run);
  assert.deepEqual(runner.lines(), [
    `security add-trusted-cert -r trustRoot -k /Users/Ada Lovelace/Library/Keychains/login.keychain-db ${ca}`,
    `security remove-trusted-cert ${ca}`,
    "security delete-certificate -Z AB12 /Users/Ada Lovelace/Library/Keychains/login.keychain-db",
  ]);
  assert.deepEqual(outcomes.map((o) => o.status), ["warned", "done"]);
});

Deno.test("darwin user env: setenv each variable, load the login agent, and put the old values back on restore", async () => {
  const runner = new RecordingRunner([
    { when: "launchctl getenv HTTPS_PROXY", stdout: "http://corp:3128\n" },
    { when: "launchctl getenv", code: 0, stdout: "" },
  ]);
  const before = await darwin.probeUserEnv(runner.run, ["HTTPS_PROXY", "SSL_CERT_FILE"]);
  assert.deepEqual(before, { HTTPS_PROXY: "http://corp:3128", SSL_CERT_FILE: undefined });
  const applied = new RecordingRunner();
  await runPlan(
    darwin.applyUserEnv(ctx, [{ name: "HTTPS_PROXY", value: "http://127.0.0.1:8081" }]),
    applied.run,
    new FakeFs(),
  );
  assert.deepEqual(applied.lines(), [
    "launchctl setenv HTTPS_PROXY http://127.0.0.1:8081",
    "launchctl bootout gui/501/com.haltonlabs.meter.userenv",
    `launchctl bootstrap gui/501 ${agents}/com.haltonlabs.meter.userenv.plist`,
  ]);
  const restored = new RecordingRunner();
  const fs = new FakeFs();
  await runPlan(darwin.restoreUserEnv(ctx, before), restored.run, fs);
  assert.deepEqual(restored.lines(), [
    "launchctl bootout gui/501/com.haltonlabs.meter.userenv",
    "launchctl setenv HTTPS_PROXY http://corp:3128",
    "launchctl unsetenv SSL_CERT_FILE",
  ]);
  assert.deepEqual(fs.removed, [`${agents}/com.haltonlabs.meter.userenv.plist`]);
});

Deno.test("darwin system proxy: every enabled network service is pointed at the edge and put back as it was", async () => {
  const runner = new RecordingRunner([
    {
      when: "networksetup -listallnetworkservices",
      stdout:
        "An asterisk (*) denotes that a network service is disabled.\nWi-Fi\n*Bluetooth PAN\nUSB 10/100/1000 LAN\n",
    },
    {
      when: "networksetup -getsecurewebproxy Wi-Fi",
      stdout: "Enabled: No\nServer: \nPort: 0\nAuthenticated Proxy Enabled: 0\n",
    },
    {
      when: "networksetup -getsecurewebproxy USB",
      stdout: "Enabled: Yes\nServer: proxy.corp\nPort: 3128\nAuthenticated Proxy Enabled: 0\n",
    },
  ]);
  const snapshot = await darwin.probeSystemProxy(runner.run);
  assert.deepEqual(Object.keys(snapshot.entries), ["Wi-Fi", "USB 10/100/1000 LAN"]);
  const on = new RecordingRunner();
  await runPlan(darwin.enableSystemProxy(ctx, snapshot), on.run);
  assert.deepEqual(on.calls.map((c) => c.args), [
    ["-setsecurewebproxy", "Wi-Fi", "127.0.0.1", "8081"],
    ["-setsecurewebproxy", "USB 10/100/1000 LAN", "127.0.0.1", "8081"],
  ]);
  const back = new RecordingRunner();
  await runPlan(darwin.restoreSystemProxy(JSON.parse(JSON.stringify(snapshot))), back.run);
  assert.deepEqual(back.calls.map((c) => c.args), [
    ["-setsecurewebproxystate", "Wi-Fi", "off"],
    ["-setsecurewebproxy", "USB 10/100/1000 LAN", "proxy.corp", "3128"],
  ]);
});

Deno.test("darwin.envFiles() holds the login agent only in the apps and full modes", () => {
  assert.deepEqual(darwin.envFiles(contextFor("darwin", { mode: "env" })), []);
  const [agent] = darwin.envFiles(contextFor("darwin", { mode: "full" }));
  assert.match(agent.content, /launchctl setenv NODE_EXTRA_CA_CERTS/);
  assert.match(agent.content, /launchctl setenv NODE_USE_ENV_PROXY 1/, "Node's fetch follows the proxy");
  assert.deepEqual(darwin.serviceFiles(ctx).map((f) => f.service), ["edge", "daemon", "daemon"]);
});

Deno.test("darwin.probeRestarting() never reads a SIGTERM as a restart, and asks nothing", async () => {
  const runner = new RecordingRunner();
  assert.equal(await darwin.probeRestarting(runner.run, "a"), false);
  assert.deepEqual(runner.lines(), []);
});
