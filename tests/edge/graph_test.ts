import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Every module specifier in the graph of `entry`, as `deno info --json` reports it (npm packages appear as
 * `npm:/name@version` modules; its `npmPackages` section lists the whole workspace's, so it is not read).
 */
async function moduleGraph(entry: string): Promise<string[]> {
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

const FORBIDDEN = [/\/(daemon|store|pricing|tls|reports)\//, /^node:sqlite$/, /@peculiar\/x509/, /^jsr:/];

for (const entry of ["cli/edge.ts", "edge/mod.ts"]) {
  Deno.test(`${entry} never loads daemon, store, pricing or TLS code, SQLite or certificate code`, async () => {
    const graph = await moduleGraph(entry);
    assert.ok(graph.some((s) => s.endsWith("/edge/mod.ts")), "the graph was read");
    const offenders = graph.filter((s) => FORBIDDEN.some((re) => re.test(s)));
    assert.deepEqual(offenders, []);
  });
}
