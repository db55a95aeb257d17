import assert from "node:assert/strict";
import { moduleGraph } from "../helpers/module_graph.ts";

const FORBIDDEN = [/\/(daemon|store|pricing|tls|reports)\//, /^node:sqlite$/, /@peculiar\/x509/, /^jsr:/];

for (const entry of ["cli/edge.ts", "edge/mod.ts"]) {
  Deno.test(`${entry} never loads daemon, store, pricing or TLS code, SQLite or certificate code`, async () => {
    const graph = await moduleGraph(entry);
    assert.ok(graph.some((s) => s.endsWith("/edge/mod.ts")), "the graph was read");
    const offenders = graph.filter((s) => FORBIDDEN.some((re) => re.test(s)));
    assert.deepEqual(offenders, []);
  });
}
