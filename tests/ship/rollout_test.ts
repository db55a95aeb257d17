/**
 * `ship/halton-meter-rollout.sh` with stand-in binaries from a local stand-in release: install, upgrade, a
 * second run that changes nothing, a pinned older version (a downgrade), a new version whose self-test fails
 * rolled back to the previous binary, an explicit rollback, a stalled download given up, and the exit codes and
 * JSON line a fleet tool acts on.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { calls, fakeCurl, scriptsCannotRun, standInRelease, standInScript } from "./_release.ts";

const SCRIPT = fileURLToPath(new URL("../../ship/halton-meter-rollout.sh", import.meta.url));
const skip = scriptsCannotRun();
const posix = skip === undefined;
const why = skip ? ` [skipped: ${skip}]` : "";

interface Outcome {
  result: string;
  running: string;
  before: string;
  requested: string;
  exit: number;
  message: string;
}

async function rollout(home: string, base: string, args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command("sh", {
    args: [SCRIPT, "--base-url", base, "--install-dir", join(home, "bin"), ...args],
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: home, ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(r.stdout);
  const stderr = new TextDecoder().decode(r.stderr);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, `one JSON line on stdout, got:\n${stdout}\n${stderr}`);
  const out = JSON.parse(lines[0]) as Outcome;
  assert.equal(out.exit, r.code, "the JSON line's exit is the exit code");
  return { code: r.code, out, stderr };
}

/**
 * Runs `fn` with a stand-in release of `versions`, a home of its own and the path the binary is installed at
 * there; closes the release and removes the home after.
 */
async function withRelease(
  versions: Parameters<typeof standInRelease>[0],
  fn: (release: Awaited<ReturnType<typeof standInRelease>>, home: string, bin: string) => Promise<void>,
): Promise<void> {
  const release = await standInRelease(versions);
  const home = await Deno.makeTempDir({ prefix: "hm-rollout-" });
  try {
    await fn(release, home, join(home, "bin", "halton-meter"));
  } finally {
    await release.close();
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test({
  name: "rollout installs, upgrades, and a second run at the same version changes nothing" + why,
  ignore: !posix,
  async fn() {
    await withRelease([{ version: "0.1.0" }, { version: "0.2.0" }], async (release, home, bin) => {
      const install = await rollout(home, release.url, ["--version", "0.1.0", "--", "--apps"]);
      assert.equal(install.code, 0, install.stderr);
      assert.deepEqual([install.out.result, install.out.running, install.out.before], [
        "installed",
        "0.1.0",
        "",
      ]);
      assert.deepEqual(calls(home), ["0.1.0 init --non-interactive --json --apps", "0.1.0 status --json"]);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(join(home, "bin", "halton-meter.channel"))), {
        channel: "fleet",
        source: `${release.url}/v0.1.0`,
      });

      const upgrade = await rollout(home, release.url, ["--version", "v0.2.0", "--", "--apps"]);
      assert.equal(upgrade.code, 0, upgrade.stderr);
      assert.deepEqual([upgrade.out.result, upgrade.out.running, upgrade.out.before], [
        "upgraded",
        "0.2.0",
        "0.1.0",
      ]);
      assert.equal(await Deno.readTextFile(bin), standInScript({ version: "0.2.0" }));
      assert.equal(await Deno.readTextFile(`${bin}.previous`), standInScript({ version: "0.1.0" }));

      const before = calls(home).length;
      const again = await rollout(home, release.url, ["--version", "0.2.0", "--", "--apps"]);
      assert.equal(again.code, 0);
      assert.equal(again.out.result, "unchanged");
      assert.deepEqual(
        calls(home).slice(before),
        ["0.2.0 status --json"],
        "only looked: no init, no download",
      );
      assert.equal(await Deno.readTextFile(`${bin}.previous`), standInScript({ version: "0.1.0" }));
    });
  },
});

Deno.test({
  name: "rollout to a lower version says downgraded, comparing versions number by number" + why,
  ignore: !posix,
  async fn() {
    await withRelease([
      { version: "0.9.0" },
      { version: "0.10.0-rc.1" },
      { version: "0.10.0" },
    ], async (release, home, bin) => {
      assert.equal((await rollout(home, release.url, ["--version", "0.9.0"])).out.result, "installed");
      const up = await rollout(home, release.url, ["--version", "0.10.0"]);
      assert.deepEqual([up.code, up.out.result, up.out.message], [
        0,
        "upgraded",
        "upgraded from 0.9.0 to 0.10.0",
      ]);

      // Back to a pinned older release: installed and set up like any other version, and said as it is.
      const down = await rollout(home, release.url, ["--version", "0.9.0"]);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual([down.out.result, down.out.running, down.out.before, down.out.message], [
        "downgraded",
        "0.9.0",
        "0.10.0",
        "downgraded from 0.10.0 to 0.9.0",
      ]);
      assert.equal(await Deno.readTextFile(`${bin}.previous`), standInScript({ version: "0.10.0" }));
      assert.deepEqual(calls(home).slice(-2), ["0.9.0 init --non-interactive --json", "0.9.0 status --json"]);

      // A pre-release's place among releases is not known to the script: neither up nor down.
      const rc = await rollout(home, release.url, ["--version", "0.10.0-rc.1"]);
      assert.deepEqual([rc.code, rc.out.result, rc.out.message], [
        0,
        "changed",
        "changed from 0.9.0 to 0.10.0-rc.1",
      ]);
    });
  },
});

Deno.test({
  name:
    "rollout gives a stalled download up (curl's timeout): exit 1, nothing changed, the limits adjustable" +
    why,
  ignore: !posix,
  async fn() {
    await withRelease([{ version: "0.1.0" }, { version: "0.2.0" }], async (release, home, bin) => {
      assert.equal((await rollout(home, release.url, ["--version", "0.1.0"])).code, 0);
      // From here a curl that notes its arguments and times out, as curl does on a stalled mirror (exit 28).
      const PATH = await fakeCurl(home, 'printf \'%s\\n\' "$@" >"$HOME/args"\nexit 28');
      const limits = { HALTON_METER_CONNECT_TIMEOUT: "5", HALTON_METER_STALL_TIMEOUT: "300" };
      const r = await rollout(home, release.url, ["--version", "0.2.0"], { PATH, ...limits });
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual([r.out.result, r.out.running, r.out.before], ["failed", "0.1.0", "0.1.0"]);
      assert.match(
        r.out.message,
        /^timed out downloading http:\/\/127\.0\.0\.1:\d+\/v0\.2\.0\/SHA256SUMS .*nothing changed: check the network and the mirror.*HALTON_METER_STALL_TIMEOUT/,
      );
      const args = (await Deno.readTextFile(join(home, "args"))).trim().split("\n");
      const after = (flag: string) => args[args.indexOf(flag) + 1];
      assert.deepEqual(
        ["--connect-timeout", "--speed-limit", "--speed-time"].map(after),
        ["5", "1024", "300"],
      );
      assert.equal(await Deno.readTextFile(bin), standInScript({ version: "0.1.0" }));
      await assert.rejects(() => Deno.stat(`${bin}.previous`), "no previous kept for a change never made");

      const bad = await rollout(home, release.url, ["--version", "0.2.0"], {
        PATH,
        HALTON_METER_CONNECT_TIMEOUT: "soon",
      });
      assert.deepEqual([bad.code, bad.out.result], [2, "usage"]);
      assert.match(bad.out.message, /HALTON_METER_CONNECT_TIMEOUT='soon' is not a whole number of seconds/);
    });
  },
});

Deno.test({
  name: "rollout puts the previous binary back when the new one fails its self-test (exit 6)" + why,
  ignore: !posix,
  async fn() {
    await withRelease([
      { version: "0.2.0" },
      { version: "0.3.0", statusExit: 3 },
      { version: "0.4.0", initExit: 4 },
    ], async (release, home, bin) => {
      assert.equal((await rollout(home, release.url, ["--version", "0.2.0"])).code, 0);
      for (const bad of ["0.3.0", "0.4.0"]) {
        const r = await rollout(home, release.url, ["--version", bad]);
        assert.equal(r.code, 6, r.stderr);
        assert.deepEqual([r.out.result, r.out.running, r.out.before, r.out.requested], [
          "rolled-back",
          "0.2.0",
          "0.2.0",
          bad,
        ]);
        assert.match(
          r.out.message,
          new RegExp(`${bad.replaceAll(".", "\\.")} failed its self-test; 0\\.2\\.0 was put back`),
        );
        assert.equal(await Deno.readTextFile(bin), standInScript({ version: "0.2.0" }));
        assert.deepEqual(calls(home).slice(-2), [
          "0.2.0 init --non-interactive --json",
          "0.2.0 status --json",
        ]);
      }
    });
  },
});

Deno.test({
  name: "rollout --rollback swaps the previous binary in; a bad first install needs a person (exit 7)" + why,
  ignore: !posix,
  async fn() {
    const versions = [{ version: "0.1.0" }, { version: "0.2.0" }, { version: "0.3.0", initExit: 4 }];
    await withRelease(versions, async (release, home, bin) => {
      const other = await Deno.makeTempDir({ prefix: "hm-rollout-" });
      try {
        await rollout(home, release.url, ["--version", "0.1.0"]);
        await rollout(home, release.url, ["--version", "0.2.0"]);
        const back = await rollout(home, release.url, ["--rollback"]);
        assert.equal(back.code, 0, back.stderr);
        assert.deepEqual([back.out.result, back.out.running, back.out.before], [
          "rolled-back",
          "0.1.0",
          "0.2.0",
        ]);
        assert.equal(await Deno.readTextFile(`${bin}.previous`), standInScript({ version: "0.2.0" }));
        assert.deepEqual(JSON.parse(await Deno.readTextFile(`${bin}.channel`)), {
          channel: "fleet",
          source: `${release.url}/v0.1.0`,
        });

        const first = await rollout(other, release.url, ["--version", "0.3.0"]);
        assert.equal(first.code, 7);
        assert.match(first.out.message, /no previous binary to roll back to/);
        const nothing = await rollout(other, release.url, ["--rollback"]);
        assert.equal(nothing.code, 7);
      } finally {
        await Deno.remove(other, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "rollout changes nothing on a tampered download (exit 5), a missing release (1) or bad usage (2)" +
    why,
  ignore: !posix,
  async fn() {
    await withRelease([{ version: "0.1.0" }, { version: "0.2.0" }], async (release, home, bin) => {
      await rollout(home, release.url, ["--version", "0.1.0"]);
      release.tamper("0.2.0", `halton-meter-${Deno.build.target}`, "#!/bin/sh\necho evil\n");
      const tampered = await rollout(home, release.url, ["--version", "0.2.0"]);
      assert.equal(tampered.code, 5);
      assert.equal(tampered.out.running, "0.1.0");
      const missing = await rollout(home, release.url, ["--version", "9.9.9"]);
      assert.equal(missing.code, 1);
      assert.equal(await Deno.readTextFile(bin), standInScript({ version: "0.1.0" }));
      await assert.rejects(() => Deno.stat(`${bin}.previous`), "no previous kept for a change never made");
      assert.equal((await rollout(home, release.url, [])).code, 2);
      assert.equal((await rollout(home, release.url, ["--version", "0.2.0", "--rollback"])).code, 2);
    });
  },
});

Deno.test({
  name: "two rollouts at once take turns: a failing version is rolled back once, the previous binary kept" +
    why,
  ignore: !posix,
  async fn() {
    await withRelease(
      [{ version: "0.1.0" }, { version: "0.6.0", initExit: 4 }],
      async (release, home, bin) => {
        assert.equal((await rollout(home, release.url, ["--version", "0.1.0"])).code, 0);
        const both = await Promise.all([1, 2].map(() => rollout(home, release.url, ["--version", "0.6.0"])));
        // Each in turn tried 0.6.0, saw it fail and put 0.1.0 back: never two binaries replaced at once.
        assert.deepEqual(both.map((r) => [r.code, r.out.result, r.out.running]), [
          [6, "rolled-back", "0.1.0"],
          [6, "rolled-back", "0.1.0"],
        ]);
        assert.equal(await Deno.readTextFile(bin), standInScript({ version: "0.1.0" }));
      },
    );
  },
});

Deno.test({
  name: "a rollout stopped by SIGTERM exits 143 and claims nothing" + why,
  ignore: !posix,
  async fn() {
    await withRelease([{ version: "0.1.0" }], async (release, home) => {
      // PATH leads to a `sleep`-backed curl, so the run is stopped while it downloads.
      const path = await fakeCurl(home, "exec sleep 3");
      const child = new Deno.Command("sh", {
        args: [SCRIPT, "--base-url", release.url, "--install-dir", join(home, "bin"), "--version", "0.1.0"],
        env: { PATH: path, HOME: home },
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await new Promise((r) => setTimeout(r, 500));
      child.kill("SIGTERM");
      const r = await child.output();
      assert.equal(r.code, 143);
      assert.equal(new TextDecoder().decode(r.stdout), "", "no line saying it succeeded");
    });
  },
});

/** Every `result` the rollout scripts report, as a fleet tool sees it in the JSON line. */
const RESULTS = [
  "installed",
  "upgraded",
  "downgraded",
  "changed",
  "unchanged",
  "repaired",
  "rolled-back",
  "failed",
  "usage",
];

const settings = (text: string) => [...new Set(text.match(/HALTON_METER_[A-Z_]+/g))].sort();

Deno.test("the PowerShell rollout (which cannot run here) reports the same results and reads the same settings", async () => {
  const sh = await Deno.readTextFile(SCRIPT);
  const ps1 = await Deno.readTextFile(SCRIPT.replace(/\.sh$/, ".ps1"));
  for (const r of RESULTS) {
    assert.match(sh, new RegExp(`^# {3}${r} `, "m"), `the POSIX header documents ${r}`);
    assert.ok(ps1.includes(`'${r}'`), `the PowerShell twin can report ${r}`);
  }
  assert.deepEqual(settings(ps1), settings(sh));
});
