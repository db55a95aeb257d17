/**
 * `ship/install.sh` against a stand-in release on a local HTTP server: the binary for this machine is
 * downloaded, checked against SHA256SUMS, put on the PATH with the channel marker beside it, and `init` runs
 * with the flags given; a tampered download installs nothing, and a stalled one is given up instead of
 * hanging an unattended install.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { calls, fakeCurl, scriptsCannotRun, standInRelease, standInScript } from "./_release.ts";

const SCRIPT = fileURLToPath(new URL("../../ship/install.sh", import.meta.url));
const skip = scriptsCannotRun();
const posix = skip === undefined;
const why = skip ? ` [skipped: ${skip}]` : "";

async function install(home: string, env: Record<string, string>, args: string[] = []) {
  const r = await new Deno.Command("sh", {
    args: [SCRIPT, ...args],
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: home, ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  };
}

Deno.test({
  name: "install.sh installs the checked binary on the PATH, marks the channel and runs init with the flags" +
    why,
  ignore: !posix,
  async fn() {
    const release = await standInRelease([{ version: "0.1.0" }, { version: "0.2.0" }]);
    const home = await Deno.makeTempDir({ prefix: "hm-install-" });
    try {
      const env = { HALTON_METER_BASE_URL: release.url, HALTON_METER_VERSION: "0.1.0" };
      const first = await install(home, env, ["--apps", "--non-interactive"]);
      assert.equal(first.code, 0, first.stderr);
      const bin = join(home, ".local", "bin", "halton-meter");
      assert.equal(await Deno.readTextFile(bin), standInScript({ version: "0.1.0" }));
      assert.ok(((await Deno.stat(bin)).mode! & 0o111) !== 0, "executable");
      assert.deepEqual(
        JSON.parse(await Deno.readTextFile(join(home, ".local", "bin", "halton-meter.channel"))),
        {
          channel: "install-script",
          source: `${release.url}/v0.1.0`,
        },
      );
      assert.deepEqual(calls(home), ["0.1.0 init --apps --non-interactive"]);
      const pathLine = `export PATH="${join(home, ".local", "bin")}:$PATH" # halton-meter`;
      assert.equal(await Deno.readTextFile(join(home, ".profile")), pathLine + "\n");
      assert.match(first.stderr, /checksum ok/);

      // Again, for the latest release: an upgrade in place; the PATH line is not added twice.
      const again = await install(home, { HALTON_METER_BASE_URL: release.url }, ["--non-interactive"]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await Deno.readTextFile(bin), standInScript({ version: "0.2.0" }));
      assert.deepEqual(calls(home).at(-1), "0.2.0 init --non-interactive");
      assert.equal(await Deno.readTextFile(join(home, ".profile")), pathLine + "\n");
      assert.ok(release.requested.includes("/latest/SHA256SUMS"));
    } finally {
      await release.close();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name: "install.sh refuses a download that does not match SHA256SUMS (exit 5) and leaves the old binary" +
    why,
  ignore: !posix,
  async fn() {
    const release = await standInRelease([{ version: "0.1.0" }, { version: "0.2.0" }]);
    const home = await Deno.makeTempDir({ prefix: "hm-install-" });
    try {
      const dir = join(home, "bin");
      const base = { HALTON_METER_BASE_URL: release.url, HALTON_METER_INSTALL_DIR: dir };
      assert.equal((await install(home, { ...base, HALTON_METER_VERSION: "0.1.0" })).code, 0);
      release.tamper("0.2.0", `halton-meter-${Deno.build.target}`, "#!/bin/sh\necho evil\n");
      const r = await install(home, { ...base, HALTON_METER_VERSION: "0.2.0" });
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /checksum mismatch for halton-meter-.*nothing was installed/);
      assert.equal(await Deno.readTextFile(join(dir, "halton-meter")), standInScript({ version: "0.1.0" }));
      assert.deepEqual(calls(home), ["0.1.0 init"], "init did not run for the refused download");
    } finally {
      await release.close();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "install.sh passes init's exit code on, and says what is wrong with a bad version or a missing release" +
    why,
  ignore: !posix,
  async fn() {
    const release = await standInRelease([{ version: "0.3.0", initExit: 4 }]);
    const home = await Deno.makeTempDir({ prefix: "hm-install-" });
    try {
      const env = { HALTON_METER_BASE_URL: release.url, HALTON_METER_NO_MODIFY_PATH: "1" };
      const failing = await install(home, env, ["--non-interactive"]);
      assert.equal(failing.code, 4, "init's self-test failure reaches the caller");
      const bad = await install(home, { ...env, HALTON_METER_VERSION: "next" });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /HALTON_METER_VERSION='next' is not a version/);
      const missing = await install(home, { ...env, HALTON_METER_VERSION: "9.9.9" });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /could not download .*\/v9\.9\.9\/SHA256SUMS/);
      assert.rejects(
        () => Deno.stat(join(home, ".profile")),
        "HALTON_METER_NO_MODIFY_PATH=1 leaves ~/.profile",
      );
    } finally {
      await release.close();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name: "install.sh takes the latest release from where GitHub serves it (releases/latest/download/)" + why,
  ignore: !posix,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "hm-install-" });
    try {
      // A curl that notes what it was asked for and fails, as it would with no network.
      const path = await fakeCurl(home, 'for a; do last=$a; done\necho "$last" >>"$HOME/urls"\nexit 22');
      const r = await install(home, { PATH: path });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        (await Deno.readTextFile(join(home, "urls"))).trim(),
        "https://github.com/haltonlabs/halton-meter/releases/latest/download/SHA256SUMS",
      );
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

/** The value given after `flag` in one recorded curl call, one argument a line. */
function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

Deno.test({
  name: "install.sh gives a stalled download up (curl's timeout) with exit 1, the URL and what to do" + why,
  ignore: !posix,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "hm-install-" });
    try {
      // A curl that notes its arguments and times out, as curl does on a stalled mirror (exit 28).
      const path = await fakeCurl(home, 'printf \'%s\\n\' "$@" >"$HOME/args"\nexit 28');
      const recorded = async () => (await Deno.readTextFile(join(home, "args"))).trim().split("\n");
      const env = {
        PATH: path,
        HALTON_METER_BASE_URL: "https://mirror.example/hm",
        HALTON_METER_VERSION: "0.2.0",
      };

      const stalled = await install(home, env);
      assert.equal(stalled.code, 1, stalled.stderr);
      assert.match(
        stalled.stderr,
        /timed out downloading https:\/\/mirror\.example\/hm\/v0\.2\.0\/SHA256SUMS .*check the network and the mirror.*HALTON_METER_STALL_TIMEOUT/,
      );
      const args = await recorded();
      assert.deepEqual(
        ["--connect-timeout", "--speed-limit", "--speed-time"].map((f) => flagValue(args, f)),
        ["30", "1024", "60"],
      );
      await assert.rejects(() => Deno.stat(join(home, ".local", "bin")), "nothing was installed");

      const raised = await install(home, {
        ...env,
        HALTON_METER_CONNECT_TIMEOUT: "5",
        HALTON_METER_STALL_TIMEOUT: "300",
      });
      assert.equal(raised.code, 1);
      const raisedArgs = await recorded();
      assert.deepEqual(
        [flagValue(raisedArgs, "--connect-timeout"), flagValue(raisedArgs, "--speed-time")],
        ["5", "300"],
      );

      await Deno.remove(join(home, "args"));
      for (const bad of ["0", "1m"]) {
        const r = await install(home, { ...env, HALTON_METER_STALL_TIMEOUT: bad });
        assert.equal(r.code, 2, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`HALTON_METER_STALL_TIMEOUT='${bad}' is not a whole number of seconds`),
        );
      }
      await assert.rejects(() => Deno.stat(join(home, "args")), "a bad limit stops before any download");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test("install.ps1 (which cannot run here) reads the same settings as install.sh", async () => {
  const settings = (text: string) => [...new Set(text.match(/HALTON_METER_[A-Z_]+/g))].sort();
  const ps1 = await Deno.readTextFile(SCRIPT.replace(/\.sh$/, ".ps1"));
  assert.deepEqual(settings(ps1), settings(await Deno.readTextFile(SCRIPT)));
});
