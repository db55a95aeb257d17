import assert from "node:assert/strict";
import type { OsName } from "../../core/paths.ts";
import { resolvePaths } from "../../core/paths.ts";
import { certSha1 } from "../../platform/ca_bundle.ts";
import { RecordingRunner } from "../../platform/runner.ts";
import { CERTIFI_START } from "../../setup/certifi.ts";
import { runInit } from "../../setup/init.ts";
import type { SystemState } from "../../setup/state.ts";
import { TargetFs } from "../../setup/target_fs.ts";
import { runUninstall } from "../../setup/uninstall.ts";
import { fakeMachine, HOMES, listFiles, probeScript, ROOTS_PEM, type Switchboard } from "./_machine.ts";

const BIN: Record<OsName, [string, string]> = {
  linux: ["/opt/a/halton-meter", "/opt/b/halton-meter"],
  darwin: ["/opt/a/halton-meter", "/opt/b/halton-meter"],
  windows: ["C:\\a\\halton-meter.exe", "C:\\b\\halton-meter.exe"],
};

const SERVICE_FILES: Record<OsName, string[]> = {
  linux: [
    "/home/ada/.config/systemd/user/halton-meter-edge.service",
    "/home/ada/.config/systemd/user/halton-meter.service",
    "/home/ada/.config/systemd/user/halton-meter-b.service",
  ],
  darwin: [
    "/Users/ada/Library/LaunchAgents/com.haltonlabs.meter.edge.plist",
    "/Users/ada/Library/LaunchAgents/com.haltonlabs.meter.plist",
    "/Users/ada/Library/LaunchAgents/com.haltonlabs.meter.b.plist",
  ],
  windows: [
    "C:\\Users\\ada\\.halton-meter\\tasks\\edge.xml",
    "C:\\Users\\ada\\.halton-meter\\tasks\\daemon.xml",
    "C:\\Users\\ada\\.halton-meter\\tasks\\daemon-b.xml",
  ],
};

const RC: Partial<Record<OsName, string>> = { linux: "/home/ada/.bashrc", darwin: "/Users/ada/.zshrc" };

/** The read-only probes every init makes: detection, the OS's roots, the Pythons' certifi. */
const PROBES: Record<OsName, string[]> = {
  linux: ["systemctl --user show-environment", "/usr/bin/python3 -c import certifi;print(certifi.where())"],
  darwin: [
    "security find-certificate -a -p /System/Library/Keychains/SystemRootCertificates.keychain",
    "/usr/local/bin/python3 -c import certifi;print(certifi.where())",
  ],
  windows: [
    "powershell.exe -NoProfile -NonInteractive -Command Get-ChildItem Cert:\\LocalMachine\\Root | ForEach-Object " +
    "{ '-----BEGIN CERTIFICATE-----'; [Convert]::ToBase64String($_.RawData, 'InsertLineBreaks'); " +
    "'-----END CERTIFICATE-----' }",
    "C:\\Python312\\python.exe -c import certifi;print(certifi.where())",
  ],
};

/** What the first init starts: both services. */
const FIRST_START: Record<OsName, string[]> = {
  linux: [
    "systemctl --user daemon-reload",
    "systemctl --user enable halton-meter-edge.service halton-meter.service",
    "systemctl --user disable halton-meter-b.service",
    "systemctl --user reset-failed halton-meter-edge.service halton-meter.service",
    "systemctl --user restart halton-meter-edge.service halton-meter.service",
    "loginctl enable-linger ada",
  ],
  darwin: [
    "launchctl bootout gui/501/com.haltonlabs.meter.edge",
    "launchctl enable gui/501/com.haltonlabs.meter.edge",
    "launchctl bootstrap gui/501 /Users/ada/Library/LaunchAgents/com.haltonlabs.meter.edge.plist",
    "launchctl bootout gui/501/com.haltonlabs.meter",
    "launchctl enable gui/501/com.haltonlabs.meter",
    "launchctl bootstrap gui/501 /Users/ada/Library/LaunchAgents/com.haltonlabs.meter.plist",
    "launchctl disable gui/501/com.haltonlabs.meter.b",
  ],
  windows: [
    "schtasks.exe /Create /XML C:\\Users\\ada\\.halton-meter\\tasks\\edge.xml /TN HaltonMeter-Edge /F",
    "schtasks.exe /End /TN HaltonMeter-Edge",
    "schtasks.exe /Run /TN HaltonMeter-Edge",
    "schtasks.exe /Create /XML C:\\Users\\ada\\.halton-meter\\tasks\\daemon.xml /TN HaltonMeter-Daemon /F",
    "schtasks.exe /End /TN HaltonMeter-Daemon",
    "schtasks.exe /Run /TN HaltonMeter-Daemon",
    "schtasks.exe /Create /XML C:\\Users\\ada\\.halton-meter\\tasks\\daemon-b.xml /TN HaltonMeter-Daemon-B /F",
    "schtasks.exe /Change /TN HaltonMeter-Daemon-B /DISABLE",
  ],
};

/**
 * Everything an upgrade runs after the probes: the definitions registered, then the daemon replaced by slot b's,
 * started beside it (it takes the ports over while the old one drains), and slot a retired. Nothing is stopped.
 */
const UPGRADE: Record<OsName, string[]> = {
  linux: [
    "systemctl --user daemon-reload",
    "systemctl --user enable halton-meter-b.service",
    "systemctl --user reset-failed halton-meter-b.service",
    "systemctl --user start halton-meter-b.service",
    "systemctl --user disable halton-meter.service",
  ],
  darwin: [
    "launchctl bootout gui/501/com.haltonlabs.meter.b",
    "launchctl enable gui/501/com.haltonlabs.meter.b",
    "launchctl bootstrap gui/501 /Users/ada/Library/LaunchAgents/com.haltonlabs.meter.b.plist",
    "launchctl kickstart gui/501/com.haltonlabs.meter.b",
    "launchctl disable gui/501/com.haltonlabs.meter",
  ],
  windows: [
    "schtasks.exe /Create /XML C:\\Users\\ada\\.halton-meter\\tasks\\edge.xml /TN HaltonMeter-Edge /F",
    "schtasks.exe /Create /XML C:\\Users\\ada\\.halton-meter\\tasks\\daemon.xml /TN HaltonMeter-Daemon /F",
    "schtasks.exe /Create /XML C:\\Users\\ada\\.halton-meter\\tasks\\daemon-b.xml /TN HaltonMeter-Daemon-B /F",
    "schtasks.exe /Change /TN HaltonMeter-Daemon-B /DISABLE",
    "schtasks.exe /Change /TN HaltonMeter-Daemon-B /ENABLE",
    "schtasks.exe /Run /TN HaltonMeter-Daemon-B",
    "schtasks.exe /Change /TN HaltonMeter-Daemon /DISABLE",
  ],
};

/** The trust and service lines uninstall must run. */
const UNINSTALL: Record<OsName, string[]> = {
  linux: [
    "systemctl --user disable --now halton-meter-edge.service halton-meter.service halton-meter-b.service",
    "certutil -d sql:/home/ada/.pki/nssdb -D -n Halton Meter CA",
    "gsettings set org.gnome.system.proxy mode 'none'",
  ],
  darwin: [
    "launchctl bootout gui/501/com.haltonlabs.meter.edge",
    "launchctl bootout gui/501/com.haltonlabs.meter.b",
    "launchctl unsetenv HTTPS_PROXY",
    "networksetup -setsecurewebproxystate Wi-Fi off",
    "security remove-trusted-cert /Users/ada/.mitmproxy/mitmproxy-ca-cert.pem",
  ],
  windows: [
    "schtasks.exe /Delete /TN HaltonMeter-Edge /F",
    "schtasks.exe /Delete /TN HaltonMeter-Daemon-B /F",
    "reg.exe delete HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings /v ProxyServer /f",
  ],
};

/** A service file's text: Task Scheduler XML is UTF-16 LE with a byte-order mark. */
function serviceText(fs: TargetFs, path: string): string {
  const bytes = fs.readBytes(path)!;
  return new TextDecoder(bytes[0] === 0xff && bytes[1] === 0xfe ? "utf-16le" : "utf-8").decode(bytes);
}

function snapshot(root: string): Map<string, string> {
  return new Map(listFiles(root).map((f) => [f, Deno.readTextFileSync(`${root}/${f}`)]));
}

for (const os of ["linux", "darwin", "windows"] as const) {
  Deno.test(`init → init → upgrade → uninstall on ${os}: second run idle, upgrade restarts only the daemon, uninstall restores everything`, async () => {
    const root = await Deno.makeTempDir({ prefix: `h8-seq-${os}-` });
    try {
      const fs = new TargetFs(root);
      const h = HOMES[os];
      const paths = resolvePaths(h.env, os);
      fs.write(h.certifi, "# certifi roots\n" + ROOTS_PEM);
      fs.write(h.python, "");
      fs.write("/etc/ssl/certs/ca-certificates.crt", ROOTS_PEM);
      if (RC[os]) fs.write(RC[os]!, "alias ll='ls -l'\n");
      fs.write(paths.db, "SQLite format 3\0 pretend rows");
      const before = snapshot(root);
      const board: Switchboard = { edge: false, daemon: false, selfTestOk: true, selfTests: 0 };
      const run = async (command: string) => {
        const runner = new RecordingRunner(probeScript(os));
        const progress: string[] = [];
        const m = fakeMachine(os, root, { command: [command], runner, board, progress });
        const result = await runInit(m, { mode: "full", nonInteractive: true });
        return { result, lines: runner.lines(), progress };
      };
      const state = () => JSON.parse(fs.readText(paths.systemState)!) as SystemState;

      // First init: everything set up, both services started, all recorded.
      const first = await run(BIN[os][0]);
      assert.deepEqual(first.result.started, ["edge", "daemon"]);
      assert.deepEqual(first.result.restarted, []);
      assert.equal(first.result.selfTest?.ok, true);
      const firstStart = first.lines.slice(first.lines.indexOf(FIRST_START[os][0]));
      assert.deepEqual(firstStart.slice(0, FIRST_START[os].length), FIRST_START[os]);
      for (const f of SERVICE_FILES[os]) {
        assert.ok(serviceText(fs, f).includes(BIN[os][0]), `${f} runs the binary`);
      }
      const s1 = state();
      const caPem = fs.readText(paths.caCert)!;
      assert.equal(s1.command[0], BIN[os][0]);
      assert.equal(s1.mode, "full");
      assert.equal(s1.caCreated, true);
      assert.equal(s1.trust?.sha1, await certSha1(caPem));
      assert.deepEqual(s1.certifi.map((c) => c.bundle), [h.certifi]);
      for (const f of SERVICE_FILES[os]) assert.deepEqual(s1.files[f]?.before, null);
      assert.ok(s1.proxy?.before, "the system proxy before --full is recorded");
      assert.ok(fs.readText(h.certifi)!.includes(CERTIFI_START));
      assert.ok(fs.readText(h.certifi)!.includes(caPem.trim().split("\n")[1]));
      if (RC[os]) {
        assert.deepEqual(s1.rcFiles, { [RC[os]!]: { existed: true } });
        assert.match(fs.readText(RC[os]!)!, /export HTTPS_PROXY='http:\/\/127\.0\.0\.1:8081'/);
      }
      assert.equal(fs.readText(paths.installMode), "full\n");
      assert.equal(fs.exists(paths.config), false, "init never writes config.toml");
      // What certutil -N would have made: the NSS database uninstall looks for.
      if (os === "linux") fs.write("/home/ada/.pki/nssdb/cert9.db", "nss");
      board.edge = true;
      board.daemon = true;

      // Second init: nothing changes, nothing restarts, only read-only probes run.
      const afterFirst = snapshot(root);
      const second = await run(BIN[os][0]);
      assert.deepEqual(second.lines, PROBES[os]);
      assert.equal(second.result.changed, false);
      assert.deepEqual([second.result.started, second.result.restarted], [[], []]);
      assert.deepEqual(snapshot(root), afterFirst);
      assert.ok(second.progress.some((l) => l.includes("nothing restarted")));

      // Upgrade: service files rewritten with the new path; the daemon restarted once, the edge left serving.
      const upgrade = await run(BIN[os][1]);
      assert.deepEqual(upgrade.lines, [...PROBES[os], ...UPGRADE[os]]);
      assert.deepEqual([upgrade.result.started, upgrade.result.restarted], [[], ["daemon"]]);
      assert.deepEqual(upgrade.result.upgradedFrom, [BIN[os][0]]);
      const afterUpgrade = snapshot(root);
      for (const [file, text] of afterFirst) {
        const target = file;
        const isService = SERVICE_FILES[os].some((f) => fs.local(f).endsWith(target));
        if (isService) {
          assert.notEqual(afterUpgrade.get(file), text, `${file} rewritten`);
        } else if (!file.endsWith("system_state.json")) {
          assert.equal(afterUpgrade.get(file), text, `${file} untouched by the upgrade`);
        }
      }
      for (const f of SERVICE_FILES[os]) {
        assert.ok(serviceText(fs, f).includes(BIN[os][1]) && !serviceText(fs, f).includes(BIN[os][0]));
      }
      assert.equal(state().command[0], BIN[os][1]);
      assert.deepEqual(
        state().files,
        s1.files,
        "what was there before the first init is still what is recorded",
      );

      // A third run after the upgrade is idle again.
      const third = await run(BIN[os][1]);
      assert.deepEqual(third.lines, PROBES[os]);

      // Uninstall: services removed, everything put back, nothing of ours left but the database.
      const runner = new RecordingRunner(probeScript(os));
      const m = fakeMachine(os, root, { command: [BIN[os][1]], runner, board });
      const result = await runUninstall(m, { purge: false });
      for (const line of UNINSTALL[os]) assert.ok(runner.lines().includes(line), `uninstall runs ${line}`);
      const after = snapshot(root);
      const expected = new Map(before);
      if (os === "linux") expected.set("home/ada/.pki/nssdb/cert9.db", "nss");
      assert.deepEqual(after, expected);
      assert.deepEqual(result.kept, [paths.db]);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
