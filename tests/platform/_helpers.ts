/**
 * Shared by the platform tests: contexts for each OS, and a check for the external validators they call.
 *
 * @module
 */
import { join } from "node:path";
import assert from "node:assert/strict";
import { type OsName, resolvePaths } from "../../core/paths.ts";
import type { InstallMode, PlatformContext } from "../../platform/types.ts";
import { type PlanFs } from "../../platform/plan.ts";

/** A context for `os` with a user home holding a space, as real homes sometimes do. */
export function contextFor(
  os: OsName,
  opts: { userHome?: string; meterHome?: string; command?: string[]; mode?: InstallMode; uid?: number } = {},
): PlatformContext {
  const userHome = opts.userHome ??
    (os === "windows"
      ? "C:\\Users\\Ada Lovelace"
      : os === "darwin"
      ? "/Users/Ada Lovelace"
      : "/home/ada lovelace");
  const env = os === "windows" ? { USERPROFILE: userHome } : { HOME: userHome };
  const paths = resolvePaths({ ...env, HALTON_METER_HOME: opts.meterHome }, os);
  const command = opts.command ??
    (os === "windows"
      ? ["C:\\Program Files\\Halton Meter\\halton-meter.exe"]
      : ["/opt/halton meter/bin/halton-meter"]);
  return {
    command,
    paths,
    ports: { edge: 8081, intercept: 8090, api: 8765 },
    mode: opts.mode ?? "apps",
    uid: opts.uid ?? 501,
    user: os === "windows" ? "ADA-PC\\ada" : "ada",
    meterHome: opts.meterHome,
  };
}

/** True when `cmd` can be run here (a validator a test needs). */
export function have(cmd: string): boolean {
  try {
    new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/** Runs a program and returns its exit code and text output. */
export async function exec(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; clearEnv?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    clearEnv: opts.clearEnv,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** A file system for plans that records what a plan did and answers `exists` from a set. */
export class FakeFs implements PlanFs {
  readonly made: string[] = [];
  readonly removed: string[] = [];
  constructor(readonly present: Set<string> = new Set()) {}
  exists(path: string): boolean {
    return this.present.has(path);
  }
  mkdir(path: string): void {
    this.made.push(path);
  }
  remove(path: string): void {
    this.removed.push(path);
  }
}

/**
 * A self-signed CA made by openssl in `dir` (`<name>.key`, `<name>.crt`): its key-and-cert PEM, its cert PEM and
 * openssl's SHA-1 fingerprint.
 */
export async function makeCa(
  dir: string,
  name: string,
): Promise<{ keyAndCert: string; cert: string; sha1: string }> {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  const r = await exec("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    key,
    "-out",
    crt,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const fp = await exec("openssl", ["x509", "-noout", "-fingerprint", "-sha1", "-in", crt]);
  const cert = await Deno.readTextFile(crt);
  return {
    keyAndCert: (await Deno.readTextFile(key)) + cert,
    cert,
    sha1: fp.stdout.trim().split("=")[1].replaceAll(":", ""),
  };
}
