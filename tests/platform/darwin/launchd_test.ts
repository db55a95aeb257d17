import assert from "node:assert/strict";
import { join } from "node:path";
import { LABELS, plistPath, servicePlist, userenvPlist } from "../../../platform/darwin/launchd.ts";
import { contextFor, exec, have } from "../_helpers.ts";

const noPython = !have("python3");

/** What Python's plistlib (the same format rules as launchd) reads from the text. */
async function plistlibLoads(text: string): Promise<Record<string, unknown>> {
  const r = await exec("python3", [
    "-c",
    "import plistlib,sys,json; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))",
  ], { stdin: text });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test({
  name:
    "servicePlist() gives launchd the daemon's absolute command, crash-only restart, room for open files, logs and HALTON_METER_HOME",
  ignore: noPython,
  async fn() {
    const ctx = contextFor("darwin", {
      meterHome: "/Users/Ada Lovelace/meter & <data>",
      command: ["/Applications/Halton Meter/halton-meter"],
    });
    const file = servicePlist(ctx, "daemon");
    assert.equal(file.path, "/Users/Ada Lovelace/Library/LaunchAgents/com.haltonlabs.meter.plist");
    assert.deepEqual(await plistlibLoads(file.content), {
      Label: "com.haltonlabs.meter",
      ProgramArguments: ["/Applications/Halton Meter/halton-meter", "daemon", "--slot", "a"],
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ExitTimeOut: 660,
      SoftResourceLimits: { NumberOfFiles: 10240 },
      StandardOutPath: "/Users/Ada Lovelace/meter & <data>/logs/daemon.stdout.log",
      StandardErrorPath: "/Users/Ada Lovelace/meter & <data>/logs/daemon.stderr.log",
      EnvironmentVariables: { HALTON_METER_HOME: "/Users/Ada Lovelace/meter & <data>" },
    });
  },
});

Deno.test({
  name:
    "servicePlist() renders slot b as its own agent, restarted only on failure, logging where slot a does",
  ignore: noPython,
  async fn() {
    const ctx = contextFor("darwin");
    const file = servicePlist(ctx, "daemon", "b");
    assert.equal(file.path, "/Users/Ada Lovelace/Library/LaunchAgents/com.haltonlabs.meter.b.plist");
    const b = await plistlibLoads(file.content);
    const a = await plistlibLoads(servicePlist(ctx, "daemon", "a").content);
    assert.equal(b.Label, LABELS["daemon-b"]);
    assert.deepEqual(b.ProgramArguments, ["/opt/halton meter/bin/halton-meter", "daemon", "--slot", "b"]);
    assert.deepEqual(b.KeepAlive, { SuccessfulExit: false });
    assert.deepEqual({ ...b, Label: a.Label, ProgramArguments: a.ProgramArguments }, a);
  },
});

Deno.test({
  name:
    "servicePlist() keeps the edge alive always, with room for its connections, and without HALTON_METER_HOME sets no environment",
  ignore: noPython,
  async fn() {
    const ctx = contextFor("darwin", {
      command: ["/usr/local/bin/deno", "run", "-A", "/src/halton/main.ts"],
    });
    const parsed = await plistlibLoads(servicePlist(ctx, "edge").content);
    assert.equal(parsed.Label, LABELS.edge);
    assert.deepEqual(parsed.ProgramArguments, [
      "/usr/local/bin/deno",
      "run",
      "-A",
      "/src/halton/main.ts",
      "edge",
    ]);
    assert.equal(parsed.KeepAlive, true);
    assert.equal(parsed.RunAtLoad, true);
    assert.deepEqual(
      parsed.SoftResourceLimits,
      { NumberOfFiles: 10240 },
      "more than launchd's 256 open files",
    );
    assert.equal("EnvironmentVariables" in parsed, false);
    assert.equal(parsed.StandardOutPath, "/Users/Ada Lovelace/.halton-meter/logs/edge.stdout.log");
  },
});

Deno.test({
  name: "userenvPlist() runs at load a shell line that hands launchctl setenv each name and value intact",
  ignore: noPython,
  async fn() {
    const ctx = contextFor("darwin");
    const vars = [
      { name: "HTTPS_PROXY", value: "http://127.0.0.1:8081" },
      { name: "SSL_CERT_FILE", value: "/Users/Ada Lovelace/it's here/ca-bundle.pem" },
    ];
    const file = userenvPlist(ctx, vars);
    assert.equal(file.path, plistPath(ctx, "userenv"));
    const parsed = await plistlibLoads(file.content);
    assert.equal(parsed.Label, "com.haltonlabs.meter.userenv");
    assert.equal(parsed.RunAtLoad, true);
    assert.equal("KeepAlive" in parsed, false);
    const [sh, dashC, script] = parsed.ProgramArguments as string[];
    assert.deepEqual([sh, dashC], ["/bin/sh", "-c"]);

    // Run the very script with a stand-in launchctl that prints the arguments it receives.
    const dir = await Deno.makeTempDir();
    try {
      const fake = join(dir, "launchctl");
      await Deno.writeTextFile(fake, '#!/bin/sh\nprintf "%s|" "$@"; echo\n', { mode: 0o755 });
      const r = await exec("/bin/sh", ["-c", script.replaceAll("/bin/launchctl", fake)]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split("\n"), [
        "setenv|HTTPS_PROXY|http://127.0.0.1:8081|",
        "setenv|SSL_CERT_FILE|/Users/Ada Lovelace/it's here/ca-bundle.pem|",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
