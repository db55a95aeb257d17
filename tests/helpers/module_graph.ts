/**
 * The module graph of an entry point as `deno info --json` reports it, for the tests that hold each layer to
 * what it may import. Dynamic imports count: a command loaded on demand is still part of the program.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The repository's root directory. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));
const ROOT_URL = pathToFileURL(ROOT).href;

/** One import: `from` and `to` are paths from the repository root, or the specifier when outside it. */
export interface Edge {
  from: string;
  to: string;
}

/** The graph of `entry` (a path from the root): every module specifier in it, and every import edge. */
export interface ModuleGraph {
  /** Every module and dependency specifier, as `deno info` names them (npm packages as `npm:/name@version`). */
  specifiers: string[];
  edges: Edge[];
}

const local = (specifier: string) =>
  specifier.startsWith(ROOT_URL) ? specifier.slice(ROOT_URL.length) : specifier;

/** Reads the module graph of `entry` (a path from the repository root). */
export async function moduleGraph(entry: string): Promise<ModuleGraph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  // The `npmPackages` section lists the whole workspace's packages, not this graph's, so it is not read.
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const specifiers = new Set<string>();
  const edges: Edge[] = [];
  for (const m of info.modules ?? []) {
    specifiers.add(m.specifier);
    for (const d of m.dependencies ?? []) {
      specifiers.add(d.specifier);
      for (const target of [d.code?.specifier, d.type?.specifier]) {
        if (!target) continue;
        specifiers.add(target);
        edges.push({ from: local(m.specifier), to: local(target) });
      }
    }
  }
  return { specifiers: [...specifiers], edges };
}
