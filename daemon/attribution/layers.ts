/**
 * The per-process attribution layers (README.md, "Attribution") (env, `.haltonrc`, IDE workspace, git root,
 * working directory): each a small function of one {@linkcode ProcessInfo} and an {@linkcode FsView} that
 * answers a slug or nothing.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { parse } from "smol-toml";
import { toSlug } from "../../core/slug.ts";
import type { FsView, ProcessInfo } from "./types.ts";

/** How many folders a walk up may climb: deeper than any real tree, and a guard against odd paths. */
const MAX_LEVELS = 64;

/** Layer 1: `HALTON_PROJECT` in the process's environment. */
export function envLayer(p: ProcessInfo): string | undefined {
  return toSlug(p.env.HALTON_PROJECT);
}

/**
 * The nearest folder, from `start` up to the root, that holds `name`; undefined when none does.
 */
export async function findUp(fs: FsView, start: string, name: string): Promise<string | undefined> {
  let dir = start;
  for (let i = 0; i < MAX_LEVELS; i++) {
    if (await fs.exists(join(dir, name))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return undefined;
}

/**
 * Layer 2: `project = "slug"` in the nearest `.haltonrc` walking up from the working directory. The nearest
 * file decides: if it is not TOML or names no valid slug, the layer answers nothing rather than reaching past
 * it to an outer file the user may have meant to override.
 */
export async function haltonrcLayer(p: ProcessInfo, fs: FsView): Promise<string | undefined> {
  if (!p.cwd) return undefined;
  const dir = await findUp(fs, p.cwd, ".haltonrc");
  if (!dir) return undefined;
  const text = await fs.readText(join(dir, ".haltonrc"));
  if (text === undefined) return undefined;
  try {
    const project = parse(text).project;
    return typeof project === "string" ? toSlug(project) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The workspace an editor process was opened on, from its argv: `--folder-uri <uri>` (VS Code, Cursor,
 * Windsurf; any scheme, so remote folders count) gives the folder's name, and a `.code-workspace` file (as a
 * path or `--file-uri`) gives the workspace's label, its file name without the extension.
 */
export function ideWorkspace(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = flag === arg ? argv[i + 1] : arg.slice(eq + 1);
    let name: string | undefined;
    if (flag === "--folder-uri") name = lastSegment(uriPath(value ?? ""));
    else if (flag === "--file-uri") name = workspaceLabel(lastSegment(uriPath(value ?? "")));
    else if (!arg.startsWith("-")) name = workspaceLabel(lastSegment(arg));
    if (name) return name;
  }
  return undefined;
}

/** Layer 3: the IDE workspace named in the argv of the process or, nearest first, one of its ancestors. */
export function ideLayer(processes: readonly ProcessInfo[]): string | undefined {
  for (const p of processes) {
    const slug = toSlug(ideWorkspace(p.argv));
    if (slug) return slug;
  }
  return undefined;
}

/** Layer 4: the basename of the git repository root (a folder holding a `.git` folder or file). */
export async function gitLayer(p: ProcessInfo, fs: FsView): Promise<string | undefined> {
  if (!p.cwd) return undefined;
  const root = await findUp(fs, p.cwd, ".git");
  return root ? toSlug(basename(root)) : undefined;
}

/** Layer 7: the working directory's basename. */
export function cwdLayer(p: ProcessInfo): string | undefined {
  return p.cwd ? toSlug(basename(p.cwd)) : undefined;
}

function uriPath(uri: string): string {
  let path: string;
  try {
    path = new URL(uri).pathname;
  } catch {
    path = uri;
  }
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function workspaceLabel(file: string): string | undefined {
  return file.endsWith(".code-workspace") ? file.slice(0, -".code-workspace".length) : undefined;
}

function lastSegment(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).at(-1) ?? "";
}
