/**
 * `deno task build`: one self-contained binary per target (README.md, "Building"),
 * `dist/halton-meter-<target>[.exe]`, then `dist/SHA256SUMS` over every binary in `dist/`, and once every target is built, the Homebrew formula and
 * the Scoop manifest made from those checksums (scripts/ship/channels.ts).
 *
 * `deno compile` needs the `denort` runtime of the running Deno's version for each target, and would download
 * it from dl.deno.land, which cannot be reached from our machines. So each target is built only when its
 * runtime is already on disk: `$DENO_DIR/dl/release/v<version>/denort-<target>.zip`, or for the host target
 * an unpacked runtime named by `DENORT_BIN`. A target without one is reported with the exact file to put
 * where, the others are built, and the script exits 1 naming what was not built.
 *
 * Where dl.deno.land can be reached (the release workflow), `--download-runtime` lets `deno compile` fetch a
 * missing runtime itself.
 *
 * Usage: `deno run -A scripts/build.ts [--target <triple>] [--out <dir>] [--download-runtime]`
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { V8_FLAGS } from "../platform/mod.ts";
import { VERSION } from "../core/version.ts";
import { DEFAULT_HOMEPAGE, writeChannelFiles } from "./ship/channels.ts";
import { parseSums } from "./ship/manifests.ts";

/** The targets a release is built for. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Deno's cache folder as Deno itself chooses it: `DENO_DIR`, else the OS's per-user cache folder. */
export function denoDir(env: Readonly<Record<string, string | undefined>>, os: typeof Deno.build.os): string {
  if (env.DENO_DIR) return env.DENO_DIR;
  if (os === "windows") {
    return join(env.LOCALAPPDATA ?? join(env.USERPROFILE ?? "", "AppData", "Local"), "deno");
  }
  if (os === "darwin") return join(env.HOME ?? "", "Library", "Caches", "deno");
  return join(env.XDG_CACHE_HOME ?? join(env.HOME ?? "", ".cache"), "deno");
}

/** Where `deno compile` looks for the runtime of `target` before downloading it. */
export function denortZip(dir: string, version: string, target: string): string {
  return join(dir, "dl", "release", `v${version}`, `denort-${target}.zip`);
}

/** The binary's file name for `target`. */
export function binaryName(target: string): string {
  return `halton-meter-${target}${target.includes("windows") ? ".exe" : ""}`;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** How a target's runtime will be found, or undefined when it cannot be. */
function runtimeFor(target: string, env: Record<string, string>, dir: string, version: string) {
  if (exists(denortZip(dir, version, target))) return "zip";
  if (target === Deno.build.target && env.DENORT_BIN && exists(env.DENORT_BIN)) return "bin";
  return undefined;
}

function missingMessage(target: string, dir: string, version: string): string {
  const lines = [
    `missing denort runtime for ${target}: ${denortZip(dir, version, target)} does not exist.`,
    `  Put denort-${target}.zip from the Deno v${version} release there (deno compile would download it from`,
    "  dl.deno.land, which cannot be reached from this machine).",
  ];
  if (target === Deno.build.target) {
    lines.push("  Or set DENORT_BIN to an unpacked denort binary of the same version.");
  }
  return lines.join("\n");
}

async function sha256Sums(out: string): Promise<string> {
  const names = [...Deno.readDirSync(out)].filter((e) => e.isFile && e.name.startsWith("halton-meter-"))
    .map((e) => e.name).sort();
  const lines: string[] = [];
  for (const name of names) {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", await Deno.readFile(join(out, name))),
    );
    lines.push(`${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}  ${name}`);
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}

/** Builds the requested targets; returns the exit code. */
export async function build(
  args: string[],
  env: Record<string, string> = Deno.env.toObject(),
): Promise<number> {
  let values: { target?: string; out?: string; "download-runtime"?: boolean; help?: boolean };
  const usage = "Usage: deno task build [--target <triple>] [--out <dir>] [--download-runtime]";
  try {
    ({ values } = parseArgs({
      args,
      options: {
        target: { type: "string" },
        out: { type: "string" },
        "download-runtime": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`build: ${(e as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(
      `${usage}\nCompiles the binary for each target (all five without --target) into --out (default dist/),` +
        `\nwith a SHA256SUMS file. Targets: ${TARGETS.join(", ")}.`,
    );
    return 0;
  }
  if (values.target !== undefined && !(TARGETS as readonly string[]).includes(values.target)) {
    console.error(`build: unknown target '${values.target}'; one of:\n  ${TARGETS.join("\n  ")}`);
    return 2;
  }
  const targets = values.target ? [values.target] : [...TARGETS];
  const out = values.out ?? join(ROOT, "dist");
  const version = Deno.version.deno;
  const dir = denoDir(env, Deno.build.os);
  const notBuilt: string[] = [];
  Deno.mkdirSync(out, { recursive: true });

  for (const target of targets) {
    const runtime = runtimeFor(target, env, dir, version) ??
      (values["download-runtime"] ? "download" : undefined);
    if (!runtime) {
      console.error(missingMessage(target, dir, version));
      notBuilt.push(target);
      continue;
    }
    // DENORT_BIN is used whatever the target: give it only to the host build it belongs to.
    const childEnv = { ...env };
    if (runtime !== "bin") delete childEnv.DENORT_BIN;
    const output = join(out, binaryName(target));
    console.error(`building ${output}`);
    // No strip afterwards, ever: the program is appended to the runtime and stripping cuts it off.
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "-A",
        V8_FLAGS,
        "--target",
        target,
        "--output",
        output,
        "main.ts",
      ],
      cwd: ROOT,
      env: childEnv,
      clearEnv: true,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (r.code !== 0) {
      console.error(`build: deno compile failed for ${target} (exit ${r.code})`);
      notBuilt.push(target);
    }
  }

  const sums = await sha256Sums(out);
  if (sums) Deno.writeTextFileSync(join(out, "SHA256SUMS"), sums);
  if (!notBuilt.length && targets.length === TARGETS.length) {
    const written = writeChannelFiles(out, {
      version: VERSION,
      baseUrl: `${DEFAULT_HOMEPAGE}/releases/download`,
      homepage: DEFAULT_HOMEPAGE,
      sums: parseSums(sums),
    });
    console.error(`wrote ${written.join(", ")}`);
  }
  if (notBuilt.length) {
    console.error(`not built: ${notBuilt.join(", ")}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await build(Deno.args));
}
