import assert from "node:assert/strict";
import { modeVars } from "../../../platform/env.ts";
import { runPlan } from "../../../platform/plan.ts";
import { RecordingRunner } from "../../../platform/runner.ts";
import { INTERNET_SETTINGS, parseRegQuery, windows } from "../../../platform/windows/mod.ts";
import { contextFor, FakeFs } from "../_helpers.ts";

const ctx = contextFor("windows");
const tasks = "C:\\Users\\Ada Lovelace\\.halton-meter\\tasks";

Deno.test("windows.installServices() registers each task from its XML, then (re)starts it", async () => {
  const runner = new RecordingRunner([{
    when: "schtasks.exe /End",
    code: 1,
    stderr: "WARNING: not running",
  }]);
  await runPlan(windows.installServices(ctx), runner.run, new FakeFs());
  assert.deepEqual(runner.calls.map((c) => [c.cmd, ...c.args]), [
    ["schtasks.exe", "/Create", "/XML", `${tasks}\\edge.xml`, "/TN", "HaltonMeter-Edge", "/F"],
    ["schtasks.exe", "/End", "/TN", "HaltonMeter-Edge"],
    ["schtasks.exe", "/Run", "/TN", "HaltonMeter-Edge"],
    ["schtasks.exe", "/Create", "/XML", `${tasks}\\daemon.xml`, "/TN", "HaltonMeter-Daemon", "/F"],
    ["schtasks.exe", "/End", "/TN", "HaltonMeter-Daemon"],
    ["schtasks.exe", "/Run", "/TN", "HaltonMeter-Daemon"],
    // Slot b is registered too, but must not start at logon beside slot a.
    ["schtasks.exe", "/Create", "/XML", `${tasks}\\daemon-b.xml`, "/TN", "HaltonMeter-Daemon-B", "/F"],
    ["schtasks.exe", "/Change", "/TN", "HaltonMeter-Daemon-B", "/DISABLE"],
  ]);
});

Deno.test("windows.startDaemonSlot() enables and runs the idle slot's task beside the running one; retire disables", async () => {
  const runner = new RecordingRunner();
  await runPlan([...windows.startDaemonSlot(ctx, "b"), ...windows.retireDaemonSlot(ctx, "a")], runner.run);
  assert.deepEqual(runner.lines(), [
    "schtasks.exe /Change /TN HaltonMeter-Daemon-B /ENABLE",
    "schtasks.exe /Run /TN HaltonMeter-Daemon-B",
    // Not /End, a hard kill: the old daemon was asked to drain by its successor and exits on its own.
    "schtasks.exe /Change /TN HaltonMeter-Daemon /DISABLE",
  ]);
  const b = { ...ctx, slot: "b" as const };
  const current = new RecordingRunner();
  await runPlan(
    [...windows.stopServices(b, ["daemon"]), ...windows.registerServices(b, ["daemon"])],
    current.run,
  );
  assert.deepEqual(current.lines(), [
    "schtasks.exe /End /TN HaltonMeter-Daemon-B",
    `schtasks.exe /Create /XML ${tasks}\\daemon-b.xml /TN HaltonMeter-Daemon-B /F`,
    `schtasks.exe /Create /XML ${tasks}\\daemon.xml /TN HaltonMeter-Daemon /F`,
    "schtasks.exe /Change /TN HaltonMeter-Daemon /DISABLE",
  ]);
});

Deno.test("windows.installServices() passes HALTON_METER_HOME to the tasks through the user's environment", async () => {
  const home = "C:\\Users\\Ada Lovelace\\O'Brien meter";
  const runner = new RecordingRunner();
  await runPlan(windows.installServices(contextFor("windows", { meterHome: home }), ["daemon"]), runner.run);
  const [first] = runner.calls;
  assert.equal(first.cmd, "powershell.exe");
  assert.deepEqual(first.args.slice(0, 3), ["-NoProfile", "-NonInteractive", "-Command"]);
  assert.equal(
    first.args[3],
    "[Environment]::SetEnvironmentVariable('HALTON_METER_HOME', 'C:\\Users\\Ada Lovelace\\O''Brien meter', 'User')",
  );
  assert.match(runner.lines()[1], /^schtasks\.exe \/Create/);
});

Deno.test("windows stop, start and restart touch only the tasks named; uninstall deletes tasks and files", async () => {
  const runner = new RecordingRunner();
  await runPlan(windows.stopServices(ctx, ["daemon"]), runner.run);
  await runPlan(windows.startServices(ctx, ["daemon"]), runner.run);
  await runPlan(windows.restartServices(ctx, ["daemon"]), runner.run);
  assert.deepEqual(runner.lines(), [
    "schtasks.exe /End /TN HaltonMeter-Daemon",
    "schtasks.exe /Run /TN HaltonMeter-Daemon",
    "schtasks.exe /End /TN HaltonMeter-Daemon",
    "schtasks.exe /Run /TN HaltonMeter-Daemon",
  ]);
  const un = new RecordingRunner();
  const fs = new FakeFs();
  await runPlan(windows.uninstallServices(ctx), un.run, fs);
  assert.deepEqual(un.lines(), [
    "schtasks.exe /End /TN HaltonMeter-Edge",
    "schtasks.exe /End /TN HaltonMeter-Daemon",
    "schtasks.exe /End /TN HaltonMeter-Daemon-B",
    "schtasks.exe /Delete /TN HaltonMeter-Edge /F",
    "schtasks.exe /Delete /TN HaltonMeter-Daemon /F",
    "schtasks.exe /Delete /TN HaltonMeter-Daemon-B /F",
  ]);
  assert.deepEqual(fs.removed, [`${tasks}\\edge.xml`, `${tasks}\\daemon.xml`, `${tasks}\\daemon-b.xml`]);
});

Deno.test("windows trust plans use the current user's Root store, removed by fingerprint", async () => {
  const runner = new RecordingRunner();
  const ca = "C:\\Users\\Ada Lovelace\\.mitmproxy\\mitmproxy-ca-cert.pem";
  await runPlan(windows.trustCa(ctx, { caCert: ca }), runner.run);
  await runPlan(windows.untrustCa(ctx, { caCert: ca, sha1: "AB12" }), runner.run);
  assert.deepEqual(runner.lines(), [
    `certutil.exe -user -addstore Root ${ca}`,
    "certutil.exe -user -delstore Root AB12",
  ]);
});

Deno.test("windows user env: one variable per case-insensitive name, set for the user, and put back on restore", async () => {
  const vars = modeVars("apps", { edgePort: 8081, caCert: "C:\\ca.pem", caBundle: "C:\\bundle.pem" });
  const [step] = windows.applyUserEnv(ctx, vars);
  assert.ok(step.kind === "run");
  const script = step.args[3];
  assert.equal(script.match(/SetEnvironmentVariable\('HTTPS_PROXY'/gi)?.length, 1);
  assert.equal(script.includes("'https_proxy'"), false);
  assert.ok(
    script.includes("[Environment]::SetEnvironmentVariable('NO_PROXY', 'localhost,127.0.0.1,::1', 'User')"),
  );
  assert.ok(script.includes("[Environment]::SetEnvironmentVariable('NODE_USE_ENV_PROXY', '1', 'User')"));

  const reg = new RecordingRunner([
    {
      when: "reg.exe query HKCU\\Environment /v HTTPS_PROXY",
      stdout:
        "\r\nHKEY_CURRENT_USER\\Environment\r\n    HTTPS_PROXY    REG_SZ    http://corp proxy:3128\r\n\r\n",
    },
    {
      when: "reg.exe query",
      code: 1,
      stderr: "ERROR: The system was unable to find the specified registry key or value.",
    },
  ]);
  const before = await windows.probeUserEnv(reg.run, ["HTTPS_PROXY", "https_proxy", "SSL_CERT_FILE"]);
  assert.deepEqual(before, { HTTPS_PROXY: "http://corp proxy:3128", SSL_CERT_FILE: undefined });
  const [restore] = windows.restoreUserEnv(ctx, before);
  assert.ok(restore.kind === "run");
  assert.equal(
    restore.args[3],
    "[Environment]::SetEnvironmentVariable('HTTPS_PROXY', 'http://corp proxy:3128', 'User'); " +
      "[Environment]::SetEnvironmentVariable('SSL_CERT_FILE', $null, 'User')",
  );
});

Deno.test("windows system proxy: WinINet's values are recorded, pointed at the edge, and put back", async () => {
  const runner = new RecordingRunner([
    {
      when: `reg.exe query ${INTERNET_SETTINGS} /v ProxyEnable`,
      stdout: `\r\n${INTERNET_SETTINGS}\r\n    ProxyEnable    REG_DWORD    0x0\r\n\r\n`,
    },
    { when: `reg.exe query ${INTERNET_SETTINGS} /v ProxyServer`, code: 1 },
  ]);
  const snapshot = await windows.probeSystemProxy(runner.run);
  assert.deepEqual(snapshot, { os: "windows", entries: { ProxyEnable: "REG_DWORD 0x0" } });
  const on = new RecordingRunner();
  await runPlan(windows.enableSystemProxy(ctx, snapshot), on.run);
  assert.deepEqual(on.calls.map((c) => c.args.slice(2)), [
    ["/v", "ProxyServer", "/t", "REG_SZ", "/d", "https=127.0.0.1:8081", "/f"],
    ["/v", "ProxyEnable", "/t", "REG_DWORD", "/d", "1", "/f"],
  ]);
  const back = new RecordingRunner();
  await runPlan(windows.restoreSystemProxy(snapshot), back.run);
  assert.deepEqual(back.calls.map((c) => [c.args[0], ...c.args.slice(2)]), [
    ["add", "/v", "ProxyEnable", "/t", "REG_DWORD", "/d", "0x0", "/f"],
    ["delete", "/v", "ProxyServer", "/f"],
  ]);
});

Deno.test("parseRegQuery() reads a value with spaces and an empty value, and misses another name", () => {
  const out =
    "\r\nHKEY_CURRENT_USER\\Environment\r\n    Path    REG_EXPAND_SZ    C:\\a b;%USERPROFILE%\\x\r\n" +
    "    Empty    REG_SZ\r\n";
  assert.deepEqual(parseRegQuery(out, "path"), { type: "REG_EXPAND_SZ", data: "C:\\a b;%USERPROFILE%\\x" });
  assert.deepEqual(parseRegQuery(out, "Empty"), { type: "REG_SZ", data: "" });
  assert.equal(parseRegQuery(out, "Other"), undefined);
});

Deno.test("windows has no env files and no shell rc files; service files are the edge's and both daemon slots' task XMLs", () => {
  assert.deepEqual(windows.envFiles(ctx), []);
  assert.deepEqual(windows.shellRcFiles(ctx), []);
  assert.deepEqual(windows.serviceFiles(ctx).map((f) => f.path), [
    `${tasks}\\edge.xml`,
    `${tasks}\\daemon.xml`,
    `${tasks}\\daemon-b.xml`,
  ]);
});

Deno.test("windows.probeRestarting() never reads a SIGTERM as a restart, and asks nothing", async () => {
  const runner = new RecordingRunner();
  assert.equal(await windows.probeRestarting(runner.run, "a"), false);
  assert.deepEqual(runner.lines(), []);
});
