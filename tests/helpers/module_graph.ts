/**
 * A module's import graph, as `deno info --json` reports it, for the tests that keep layers apart.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Every module specifier in the graph of `entry` (a path from the repository root), as `deno info --json`
 * reports it (npm packages appear as `npm:/name@version` modules; its `npmPackages` section lists the whole
 * workspace's, so it is not read).
 */
export async function moduleGraph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const specifiers = new Set<string>();
  for (const m of info.modules ?? []) {
    specifiers.add(m.specifier);
    for (const d of m.dependencies ?? []) {
      specifiers.add(d.specifier);
      if (d.code?.specifier) specifiers.add(d.code.specifier);
    }
  }
  return [...specifiers];
}
