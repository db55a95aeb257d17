/**
 * Runs `halton-meter` as a real process from source (`deno run -A main.ts …`), with an environment made only
 * of what the test passes plus what Deno itself needs, so the real home is never seen.
 *
 * @module
 */

/** The repository's `main.ts`. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** What a finished process printed and how it ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let denoDir: string | undefined;

/**
 * Deno's cache folder as this process sees it. A child whose `HOME` is a temp folder would otherwise look
 * for its cache (and the npm packages in it) under that empty folder.
 */
async function cacheDir(): Promise<string> {
  if (denoDir) return denoDir;
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return denoDir = fromEnv;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  return denoDir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir as string;
}

/**
 * Runs `halton-meter <args>` from source and waits for it. `env` is the child's whole environment besides
 * `DENO_DIR`, `PATH` and `NO_COLOR=1`: pass a temp home's `env` so it never touches the real one. `main` is
 * another checkout's `main.ts` (a second release, in upgrade tests).
 */
export async function runCli(args: string[], env: Record<string, string>, main = MAIN): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", main, ...args],
    env: { DENO_DIR: await cacheDir(), PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}
