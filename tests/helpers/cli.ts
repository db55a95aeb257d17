/**
 * Runs `halton-meter` as a real process from source (`deno run -A main.ts …`), with an environment made only
 * of what the test passes plus what Deno itself needs, so the real home is never seen.
 *
 * @module
 */

import { denoDir } from "../../testkit/processes.ts";

/** The repository's `main.ts`. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** What a finished process printed and how it ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `halton-meter <args>` from source and waits for it. `env` is the child's whole environment besides
 * `DENO_DIR`, `PATH` and `NO_COLOR=1`: pass a temp home's `env` so it never touches the real one. `main` is
 * another checkout's `main.ts` (a second release, in upgrade tests); `wrapper` a command that runs it (e.g.
 * `setpriv` with its options).
 */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  main = MAIN,
  wrapper: readonly string[] = [],
): Promise<CliResult> {
  const [program, ...rest] = [...wrapper, Deno.execPath(), "run", "-A", "--cached-only", main, ...args];
  const out = await new Deno.Command(program, {
    args: rest,
    // A child whose HOME is a temp folder would otherwise look for Deno's cache under that empty folder.
    env: { DENO_DIR: denoDir(), PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}
