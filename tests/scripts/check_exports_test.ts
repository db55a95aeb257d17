import assert from "node:assert/strict";
import { join } from "node:path";
import { unusedExports } from "../../scripts/check_exports.ts";

function tree(files: Record<string, string>): string {
  const root = Deno.makeTempDirSync();
  for (const [path, text] of Object.entries(files)) {
    Deno.mkdirSync(join(root, path, ".."), { recursive: true });
    Deno.writeTextFileSync(join(root, path), text);
  }
  return root;
}

Deno.test("unusedExports() names an export nothing imports, and only that one", () => {
  const root = tree({
    "lib/a.ts": [
      "export function used() {}",
      "export const dead = 1;",
      "export interface Shape { n: number }",
      "export function make(): Shape { return { n: 1 }; }",
      'export type { Other } from "./b.ts";',
    ].join("\n"),
    "lib/b.ts":
      'export type Other = string;\n/** `import { ghost } from "./a.ts"` in a comment does not count */',
    "cli/main.ts": 'import { make, type Shape, used } from "../lib/a.ts";\nused(); make();',
  });
  try {
    assert.deepEqual(unusedExports(root), ["lib/a.ts: dead"]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("unusedExports(): a module imported whole or loaded dynamically has every export used", () => {
  const root = tree({
    "a.ts": "export const one = 1;\nexport const two = 2;",
    "b.ts": "export const three = 3;",
    "c.ts": 'import * as a from "./a.ts";\nconst b = await import("./b.ts");\nconsole.log(a, b);',
  });
  try {
    assert.deepEqual(unusedExports(root), []);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
