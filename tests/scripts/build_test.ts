import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { binaryName, denoDir, denortZip, TARGETS } from "../../scripts/build.ts";

const SCRIPT = fileURLToPath(new URL("../../scripts/build.ts", import.meta.url));

/** The variables among `names` that are set here, to pass on to a child that otherwise gets a clean env. */
function passThrough(names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => {
    const v = Deno.env.get(n);
    return v === undefined ? [] : [[n, v]];
  }));
}

/** Runs the build script with an empty Deno cache and a clean environment, as a user on a fresh machine. */
async function runBuild(dir: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--out", join(dir, "dist"), ...args],
    cwd: dir,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: dir,
      DENO_DIR: join(dir, "deno-cache"),
      NO_COLOR: "1",
      // The empty cache is filled from the npm registry; a network that re-signs TLS (a corporate proxy, some
      // CI runners) is trusted through the system store, as its users configure Deno to do.
      DENO_TLS_CA_STORE: "mozilla,system",
      ...passThrough(["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"]),
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("build.ts with no denort runtimes names each missing file and where to put it, and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runBuild(dir, []);
    assert.equal(r.code, 1);
    const version = Deno.version.deno;
    for (const target of TARGETS) {
      const zip = join(dir, "deno-cache", "dl", "release", `v${version}`, `denort-${target}.zip`);
      assert.ok(r.stderr.includes(`missing denort runtime for ${target}: ${zip} does not exist.`), r.stderr);
      assert.ok(r.stderr.includes(`Put denort-${target}.zip from the Deno v${version} release there`));
    }
    assert.match(r.stderr, /dl\.deno\.land, which cannot be reached/);
    assert.ok(r.stderr.includes(`not built: ${TARGETS.join(", ")}`));
    assert.ok(r.stderr.includes(`Or set DENORT_BIN`), "the host target mentions DENORT_BIN");
    assert.deepEqual([...Deno.readDirSync(join(dir, "dist"))], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build.ts --target builds (or reports) that target alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runBuild(dir, ["--target", "aarch64-apple-darwin"]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes("not built: aarch64-apple-darwin\n"));
    assert.equal(r.stderr.includes("x86_64-pc-windows-msvc"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build.ts refuses an unknown target with exit 2 and lists the known ones", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runBuild(dir, ["--target", "riscv64-unknown-linux-gnu"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown target 'riscv64-unknown-linux-gnu'/);
    assert.ok(r.stderr.includes("x86_64-pc-windows-msvc"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build.ts --help prints its usage and the targets and builds nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--cached-only", SCRIPT, "--out", join(dir, "dist"), "--help"],
      stdout: "piped",
    }).output();
    assert.equal(out.code, 0);
    const text = new TextDecoder().decode(out.stdout);
    assert.match(text, /^Usage: deno task build /);
    for (const t of TARGETS) assert.ok(text.includes(t), t);
    assert.equal([...Deno.readDirSync(dir)].length, 0, "nothing was written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build.ts writes SHA256SUMS over the binaries in dist, as sha256sum -c reads it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "dist"));
    const name = binaryName("x86_64-pc-windows-msvc");
    await Deno.writeTextFile(join(dir, "dist", name), "an earlier build\n");
    await runBuild(dir, ["--target", "x86_64-apple-darwin"]);
    const check = await new Deno.Command("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: join(dir, "dist") })
      .output();
    assert.equal(check.code, 0);
    assert.equal(new TextDecoder().decode(check.stdout), `${name}: OK\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("denoDir() follows Deno's own cache location per OS; denortZip() is where deno compile looks", () => {
  assert.equal(denoDir({ DENO_DIR: "/c" }, "linux"), "/c");
  assert.equal(denoDir({ HOME: "/h" }, "linux"), "/h/.cache/deno");
  assert.equal(denoDir({ HOME: "/h", XDG_CACHE_HOME: "/x" }, "linux"), "/x/deno");
  assert.equal(denoDir({ HOME: "/h" }, "darwin"), "/h/Library/Caches/deno");
  assert.equal(
    denortZip("/c", "2.9.6", "x86_64-apple-darwin"),
    "/c/dl/release/v2.9.6/denort-x86_64-apple-darwin.zip",
  );
  assert.equal(binaryName("x86_64-unknown-linux-gnu"), "halton-meter-x86_64-unknown-linux-gnu");
});
