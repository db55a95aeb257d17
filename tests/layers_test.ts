import assert from "node:assert/strict";
import { type Edge, moduleGraph } from "./helpers/module_graph.ts";

/** The program's entry points: the binary, and the read API's worker thread (started from a URL). */
const PRODUCT = ["main.ts", "daemon/api/read/worker.ts"];

/** The top folder of a repository path (`main.ts` for the root's own files). */
const layer = (path: string) => path.includes("/") ? path.slice(0, path.indexOf("/")) : path;

/** Every import edge of the product, deduplicated. */
async function readProductEdges(): Promise<Edge[]> {
  const seen = new Map<string, Edge>();
  for (const entry of PRODUCT) {
    for (const e of (await moduleGraph(entry)).edges) seen.set(`${e.from} ${e.to}`, e);
  }
  const edges = [...seen.values()];
  assert.ok(
    edges.some((e) => e.from === "cli/mod.ts"),
    "the graph was read, commands loaded on demand included",
  );
  return edges;
}

// Read once, by the first test that needs them, and awaited there: no subprocess outlives a test.
let productGraph: Promise<Edge[]> | undefined;
const productEdges = () => productGraph ??= readProductEdges();

/** The edges from a file in layer `from` to one in any of `to`, as `from → to` lines. */
function crossing(edges: Edge[], from: string, to: string[]): string[] {
  return edges.filter((e) => layer(e.from) === from && to.includes(layer(e.to))).map((e) =>
    `${e.from} → ${e.to}`
  );
}

const OURS = ["cli", "setup", "platform", "daemon", "edge", "store", "pricing", "tls", "reports", "testkit"];

// Each layer with the layers above it (or beside it) that it must never import.
const RULES: [string, string[]][] = [
  ["core", OURS],
  ["platform", ["cli", "setup", "daemon", "edge"]],
  ["setup", ["cli", "daemon", "edge"]],
  ["store", ["cli", "setup", "daemon", "edge", "reports"]],
  ["pricing", ["cli", "setup", "daemon", "edge", "reports"]],
  ["tls", ["cli", "setup", "daemon", "edge"]],
  ["reports", ["cli", "setup", "daemon", "edge"]],
  ["daemon", ["cli", "setup", "edge"]],
];

for (const [from, forbidden] of RULES) {
  Deno.test(`${from}/ never imports ${forbidden.join(", ")}`, async () => {
    assert.deepEqual(crossing(await productEdges(), from, forbidden), []);
  });
}

Deno.test("the running daemon's module graph holds no command or set-up code", async () => {
  const { specifiers } = await moduleGraph("daemon/mod.ts");
  assert.ok(specifiers.some((s) => s.endsWith("/daemon/intercept/server.ts")), "the graph was read");
  assert.deepEqual(specifiers.filter((s) => /\/(cli|setup)\//.test(s)), []);
});

Deno.test("nothing in the product imports tests, scripts or the test kit", async () => {
  const edges = await productEdges();
  const reached = new Set(edges.flatMap((e) => [e.from, e.to]));
  assert.deepEqual([...reached].filter((p) => ["tests", "scripts", "testkit"].includes(layer(p))), []);
});
