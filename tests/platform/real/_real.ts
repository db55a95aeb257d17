/**
 * Shared by the tests that drive a real service manager, trust store and registry: they run only on their OS
 * and only when `HALTON_METER_REAL_OS_TESTS=1`, which the release workflow sets on its throwaway macOS and
 * Windows runners. Anywhere else they are skipped, saying why, since they change the user's session.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { type OsName, resolvePaths } from "../../../core/paths.ts";
import { selfCommand } from "../../../platform/mod.ts";
import type { Runner } from "../../../platform/runner.ts";
import type { PlatformContext } from "../../../platform/types.ts";
import { freePorts } from "../../../testkit/processes.ts";

/** Why the real tests of `os` are skipped here, or undefined when they run. */
export function skipReason(os: OsName): string | undefined {
  if (Deno.build.os !== os) return `${os} only`;
  if (Deno.env.get("HALTON_METER_REAL_OS_TESTS") !== "1") {
    return "set HALTON_METER_REAL_OS_TESTS=1 to run (the release workflow does on its throwaway runners)";
  }
  return undefined;
}

/** A test name that says why it is skipped. */
export function realName(os: OsName, name: string): string {
  const why = skipReason(os);
  return why ? `${name} [skipped: ${why}]` : name;
}

/**
 * A context for this machine in temp folders: the services run the compiled binary named by
 * `HALTON_METER_BIN` (the workflow's) or else this checkout from source, with `HALTON_METER_HOME` in `home`,
 * on free ports written to its `effective-ports.json`.
 */
export async function realContext(os: OsName, userHome: string, home: string): Promise<PlatformContext> {
  const [edge, intercept, api] = freePorts(3);
  const ports = { edge, intercept, api };
  await Deno.mkdir(home, { recursive: true });
  await Deno.writeTextFile(join(home, "effective-ports.json"), JSON.stringify(ports));
  const env = os === "windows" ? { USERPROFILE: userHome } : { HOME: userHome };
  const bin = Deno.env.get("HALTON_METER_BIN");
  return {
    command: bin ? [resolve(bin)] : selfCommand(),
    paths: resolvePaths({ ...env, HALTON_METER_HOME: home }, os),
    ports,
    mode: "env",
    uid: Deno.uid() ?? 0,
    user: os === "windows"
      ? `${Deno.env.get("USERDOMAIN")}\\${Deno.env.get("USERNAME")}`
      : Deno.env.get("USER") ?? "",
    meterHome: home,
  };
}

/** Runs real programs like {@linkcode systemRunner}, but kills one still running after `ms` (exit 124). */
export function boundedRunner(ms = 60_000): Runner {
  return async (cmd, args, opts = {}) => {
    const child = new Deno.Command(cmd, {
      args: [...args],
      env: opts.env ? { ...opts.env } : undefined,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      child.kill("SIGKILL");
    }, ms);
    const out = await child.output();
    clearTimeout(timer);
    const d = new TextDecoder();
    const stderr = d.decode(out.stderr) +
      (late ? `\n${cmd} killed after ${ms} ms (waiting on a dialog?)` : "");
    return { code: late ? 124 : out.code, stdout: d.decode(out.stdout), stderr };
  };
}
