import assert from "node:assert/strict";
import { join } from "node:path";
import { MeterError } from "../../../core/errors.ts";
import {
  environmentDFile,
  environmentDValue,
  serviceUnit,
  systemdExecWord,
} from "../../../platform/linux/systemd.ts";
import { modeVars } from "../../../platform/env.ts";
import { contextFor, exec, have } from "../_helpers.ts";

const GENERATOR = "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator";

/** A temp folder with an executable at a path holding a space, `%` and `$`, which systemd must not expand. */
async function withBinary(fn: (dir: string, binary: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const binDir = join(dir, "bin dir 50% $HOME");
    await Deno.mkdir(binDir);
    const binary = join(binDir, "halton-meter");
    await Deno.writeTextFile(binary, "#!/bin/sh\n", { mode: 0o755 });
    await fn(dir, binary);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "serviceUnit() renders units that systemd-analyze verify --user accepts without a warning",
  ignore: !have("systemd-analyze"),
  async fn() {
    await withBinary(async (dir, binary) => {
      const home = join(dir, "home");
      const runtime = join(dir, "runtime");
      await Deno.mkdir(runtime, { mode: 0o700 });
      const ctx = contextFor("linux", {
        userHome: home,
        meterHome: join(dir, "meter data"),
        command: [binary],
      });
      const files = [
        serviceUnit(ctx, "daemon", "a"),
        serviceUnit(ctx, "daemon", "b"),
        serviceUnit(ctx, "edge"),
      ];
      for (const f of files) {
        await Deno.mkdir(join(f.path, ".."), { recursive: true });
        await Deno.writeTextFile(f.path, f.content);
      }
      const r = await exec("systemd-analyze", ["verify", "--user", ...files.map((f) => f.path)], {
        env: { HOME: home, XDG_RUNTIME_DIR: runtime, XDG_CONFIG_HOME: join(home, ".config") },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.split("\n").filter((l) => l.includes("halton-meter")).join("\n"), "");
    });
  },
});

Deno.test({
  name: "systemd-analyze verify rejects a unit whose ExecStart lost its quoting (the validator bites)",
  ignore: !have("systemd-analyze"),
  async fn() {
    await withBinary(async (dir, binary) => {
      const runtime = join(dir, "runtime");
      await Deno.mkdir(runtime, { mode: 0o700 });
      const ctx = contextFor("linux", { userHome: dir, command: [binary] });
      const good = serviceUnit(ctx, "daemon");
      const bad = join(dir, "halton-meter.service");
      await Deno.writeTextFile(bad, good.content.replace(/^ExecStart=.*$/m, `ExecStart=${binary} daemon`));
      const r = await exec("systemd-analyze", ["verify", "--user", bad], {
        env: { HOME: dir, XDG_RUNTIME_DIR: runtime },
      });
      assert.notEqual(r.stderr.trim(), "");
    });
  },
});

Deno.test("serviceUnit() embeds the absolute command, restart on failure with a start limit, and the journal", () => {
  const ctx = contextFor("linux", {
    meterHome: "/home/ada lovelace/meter 100%",
    command: ["/usr/bin/deno", "run", "-A", "/home/ada lovelace/src/main.ts"],
  });
  const unit = serviceUnit(ctx, "edge");
  assert.equal(unit.path, "/home/ada lovelace/.config/systemd/user/halton-meter-edge.service");
  const lines = unit.content.split("\n");
  assert.ok(lines.includes('ExecStart=/usr/bin/deno run -A "/home/ada lovelace/src/main.ts" edge'));
  assert.ok(lines.includes('Environment="HALTON_METER_HOME=/home/ada lovelace/meter 100%%"'));
  for (const l of ["Restart=on-failure", "StartLimitIntervalSec=60", "StartLimitBurst=5"]) {
    assert.ok(lines.includes(l));
  }
  for (const l of ["StandardOutput=journal", "StandardError=journal", "WantedBy=default.target"]) {
    assert.ok(lines.includes(l));
  }
  assert.ok(
    serviceUnit(contextFor("linux"), "daemon").content.includes(
      'ExecStart="/opt/halton meter/bin/halton-meter" daemon --slot a',
    ),
  );
  const daemon = serviceUnit(contextFor("linux"), "daemon").content.split("\n");
  assert.deepEqual(daemon.filter((l) => l.startsWith("Environment=")), [
    'Environment="GLIBC_TUNABLES=glibc.malloc.hugetlb=1"',
  ]);
  assert.equal(
    lines.some((l) => l.includes("GLIBC_TUNABLES")),
    false,
    "the edge is started as it always was",
  );
});

Deno.test("systemdExecWord() escapes quotes, backslashes, specifiers and variables, and refuses line breaks", () => {
  assert.equal(systemdExecWord("/usr/bin/x"), "/usr/bin/x");
  assert.equal(systemdExecWord('a "b" c\\d'), '"a \\"b\\" c\\\\d"');
  assert.equal(systemdExecWord("50%$HOME"), '"50%%$$HOME"');
  assert.equal(systemdExecWord("/50%$HOME/x", true), '"/50%%$HOME/x"');
  assert.throws(() => systemdExecWord("a\nb"), MeterError);
});

Deno.test({
  name:
    "environmentDFile() is read by systemd's environment.d generator as the exact values, spaces included",
  ignore: !have("python3") || !(() => {
    try {
      return Deno.statSync(GENERATOR).isFile;
    } catch {
      return false;
    }
  })(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const ctx = contextFor("linux", { userHome: dir, meterHome: join(dir, 'my "meter" home') });
      const vars = modeVars("apps", {
        edgePort: 8081,
        caCert: ctx.paths.caCert,
        caBundle: ctx.paths.caBundle,
      });
      const file = environmentDFile(ctx, vars);
      assert.equal(file.path, join(dir, ".config/environment.d/90-halton-meter.conf"));
      await Deno.mkdir(join(file.path, ".."), { recursive: true });
      await Deno.writeTextFile(file.path, file.content);
      const r = await exec(GENERATOR, [], {
        clearEnv: true,
        env: { HOME: dir, XDG_CONFIG_HOME: join(dir, ".config"), PATH: "/usr/bin:/bin" },
      });
      assert.equal(r.code, 0, r.stderr);
      // The generator prints shell-style assignments; let a shell read them back.
      const names = vars.map((v) => v.name);
      const shown = await exec("/bin/sh", [
        "-c",
        `${r.stdout}\nprintf '%s\\n' ${names.map((n) => `"$${n}"`).join(" ")}`,
      ]);
      assert.deepEqual(shown.stdout.split("\n").slice(0, -1), vars.map((v) => v.value));
      assert.ok(names.includes("NODE_USE_ENV_PROXY"), "Node's fetch follows the proxy in GUI apps too");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("environmentDValue() refuses a '$', which environment.d would expand", () => {
  assert.equal(environmentDValue("/a b/c"), '"/a b/c"');
  assert.throws(() => environmentDValue("/home/$USER/x"), MeterError);
});

Deno.test("serviceUnit() renders two daemon slots that differ only in name and slot, restarted on failure only", () => {
  const ctx = contextFor("linux");
  const a = serviceUnit(ctx, "daemon", "a");
  const b = serviceUnit(ctx, "daemon", "b");
  // Slot a keeps the unit name of machines set up before slots.
  assert.equal(a.path, "/home/ada lovelace/.config/systemd/user/halton-meter.service");
  assert.equal(b.path, "/home/ada lovelace/.config/systemd/user/halton-meter-b.service");
  const lines = b.content.split("\n");
  assert.ok(lines.includes('ExecStart="/opt/halton meter/bin/halton-meter" daemon --slot b'));
  // A drained daemon exits 0 and must stay down; both log as one program.
  for (
    const l of ["Restart=on-failure", "KillMode=mixed", "TimeoutStopSec=660", "SyslogIdentifier=halton-meter"]
  ) {
    assert.ok(lines.includes(l), l);
  }
  const differing = lines.filter((l, i) => l !== a.content.split("\n")[i]);
  assert.deepEqual(differing, [
    "Description=Halton Meter daemon (meters LLM API calls), slot b",
    'ExecStart="/opt/halton meter/bin/halton-meter" daemon --slot b',
  ]);
});
