import assert from "node:assert/strict";
import { moduleGraph } from "../helpers/module_graph.ts";

Deno.test("the daemon never loads cli or setup code (it runs as a service, apart from the commands)", async () => {
  const graph = await moduleGraph("daemon/mod.ts");
  assert.ok(graph.some((s) => s.endsWith("/daemon/mod.ts")), "the graph was read");
  assert.deepEqual(graph.filter((s) => /\/(cli|setup)\//.test(s)), []);
});
