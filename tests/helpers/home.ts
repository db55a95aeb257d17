/**
 * A temporary Halton Meter home for one test: a fresh folder, the {@linkcode Paths} inside it, and the
 * environment that points a child process at it (`HALTON_METER_HOME` and `HOME`), so no test ever reads or
 * writes the real home. Dispose of it (`await using`) to remove the folder.
 *
 * @module
 */
import { join } from "node:path";
import { type Paths, resolvePaths } from "../../core/paths.ts";

/** A temp home and what points at it. */
export interface TempHome extends AsyncDisposable {
  /** The folder; `HOME` for child processes. */
  readonly dir: string;
  /** `<dir>/.halton-meter`: `HALTON_METER_HOME`. */
  readonly home: string;
  readonly paths: Paths;
  /** `HALTON_METER_HOME` and `HOME` for a child process. */
  readonly env: Record<string, string>;
}

/** Creates a temp home; `await using home = await tempHome();` removes it when the test ends. */
export async function tempHome(): Promise<TempHome> {
  const dir = await Deno.makeTempDir({ prefix: "halton-meter-test-" });
  const home = join(dir, ".halton-meter");
  const env = { HALTON_METER_HOME: home, HOME: dir };
  return {
    dir,
    home,
    env,
    paths: resolvePaths(env, "linux"),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}
