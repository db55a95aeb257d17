/**
 * `deno task check` part: every export of ours must be imported somewhere else in the repository (product,
 * tests, scripts or test kit). An export nobody imports is either dead code or something that should not be
 * exported; both make the code harder to read. Deno's linter has no such rule, and the graph is small enough
 * to read with a plain scan of `import` and `export` statements.
 *
 * An export also counts as used when another declaration of its own module names it (a type in an exported
 * signature is part of that signature), or when its module is imported whole (`import * as`, `export *`, a
 * dynamic `import()`, a worker's URL). A re-export (`export { x } from`, as a folder's `mod.ts` presents its
 * public surface) uses the name at its source and is not itself checked.
 *
 * Prints each unused export as `file: name` and exits 1 when there is any.
 *
 * @module
 */
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Folders never scanned: build output, caches, fixtures (data, not modules). */
const SKIPPED = new Set(["dist", "node_modules", ".cache", ".bench", ".git", "fixtures"]);

/** Every `.ts` file under `dir`, as paths from `root`. */
function sourceFiles(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (SKIPPED.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...sourceFiles(root, path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(relative(root, path));
  }
  return out;
}

/** Comments out of the way, so that an `import` inside a JSDoc example does not count. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

const DECLARATION =
  /^export\s+(?:declare\s+)?(?:async\s+)?(?:function\*?|class|abstract\s+class|const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm;
const LOCAL_LIST = /^export\s+(?:type\s+)?\{([^}]*)\}\s*;?\s*$/gm;
const NAMED_FROM =
  /(?:import|export)\s+(?:type\s+)?(?:[A-Za-z_$][\w$]*\s*,\s*)?\{([^}]*)\}\s*from\s*"([^"]+)"/g;
const WHOLE_FROM = /(?:import\s+\*\s+as\s+[\w$]+|export\s+\*(?:\s+as\s+[\w$]+)?)\s+from\s*"([^"]+)"/g;
const DEFAULT_FROM = /import\s+(?:type\s+)?([A-Za-z_$][\w$]*)\s+from\s*"([^"]+)"/g;
const DYNAMIC = /(?:import\s*\(\s*|new\s+URL\s*\(\s*)"([^"]+\.ts)"/g;

/** The names in `{ a, type b, c as d }`: as the other side exports them (`a`, `b`, `c`), or as renamed (`d`). */
function listNames(list: string, renamed = false): string[] {
  return list.split(",").map((s) => s.trim().replace(/^type\s+/, "").split(/\s+as\s+/))
    .map((parts) => renamed ? parts[parts.length - 1] : parts[0]).filter(Boolean);
}

/** The exports of every file under `root`, and which (file, name) pairs and whole files are used. */
function scan(root: string, files: string[]) {
  const exports = new Map<string, string[]>();
  const used = new Set<string>();
  const whole = new Set<string>();
  const resolve = (from: string, spec: string) =>
    spec.startsWith(".") ? normalize(join(dirname(from), spec)) : undefined;
  for (const file of files) {
    const text = stripComments(Deno.readTextFileSync(join(root, file)));
    const names = [...text.matchAll(DECLARATION)].map((m) => m[1]);
    for (const m of text.matchAll(LOCAL_LIST)) names.push(...listNames(m[1], true));
    exports.set(file, names);
    for (const m of text.matchAll(NAMED_FROM)) {
      const target = resolve(file, m[2]);
      if (target) { for (const name of listNames(m[1])) used.add(`${target} ${name}`); }
    }
    for (const m of text.matchAll(DEFAULT_FROM)) {
      const target = resolve(file, m[2]);
      if (target) used.add(`${target} default`);
    }
    for (const re of [WHOLE_FROM, DYNAMIC]) {
      for (const m of text.matchAll(re)) {
        const target = resolve(file, m[1]);
        if (target) whole.add(target);
      }
    }
  }
  return { exports, used, whole };
}

/** `file: name` for every export nothing uses, in the tree under `root` (the repository by default). */
export function unusedExports(root: string = ROOT): string[] {
  const { exports, used, whole } = scan(root, sourceFiles(root));
  const unused: string[] = [];
  for (const [file, names] of exports) {
    if (whole.has(file) || file === "main.ts") continue;
    const own = stripComments(Deno.readTextFileSync(join(root, file)));
    for (const name of names) {
      if (used.has(`${file} ${name}`)) continue;
      // Named again in its own module beyond its declaration: part of another export's shape.
      const mentions = own.match(new RegExp(`(?<![\\w$])${name.replace(/\$/g, "\\$")}(?![\\w$])`, "g"));
      if ((mentions?.length ?? 0) > 1) continue;
      unused.push(`${file}: ${name}`);
    }
  }
  return unused.sort();
}

if (import.meta.main) {
  const unused = unusedExports();
  for (const line of unused) console.log(line);
  if (unused.length) {
    console.error(`${unused.length} export(s) are imported nowhere: remove them, or stop exporting them.`);
    Deno.exit(1);
  }
}
