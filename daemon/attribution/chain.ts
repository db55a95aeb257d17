/**
 * The resolver chain (README.md, "Attribution"): layers tried in order, the first slug wins, and the winning
 * layer is named. A layer that fails (process gone, permission denied, unreadable file) counts as no answer,
 * so the chain always ends with a project.
 *
 * @module
 */
import { containerLayer } from "./container.ts";
import { cwdLayer, envLayer, gitLayer, haltonrcLayer, ideLayer } from "./layers.ts";
import { toSlug } from "../../core/slug.ts";
import type { FsView, Layer, ProcessInfo } from "./types.ts";

/** What the chain is given for one client connection. */
export interface ChainInput {
  /** Layer 0: a tag from the proxy credentials or `halton-meter run --project`. */
  explicitProject?: string;
  /** The client process, when the lookup found it. */
  client?: ProcessInfo;
  /** The client's ancestors, nearest first, already bounded and limited to its user; read only if needed. */
  ancestors: () => Promise<ProcessInfo[]>;
  fs: FsView;
  /** The user's home folder (macOS app sandboxes live under it). */
  userHome?: string;
  /** `[tagging] default_project`; "misc" if it is not a valid slug. */
  defaultProject: string;
}

/** The chain's decision. */
export interface ChainResult {
  project: string;
  layer: Layer;
}

/** Runs the chain; never throws. */
export async function resolveProject(input: ChainInput): Promise<ChainResult> {
  const explicit = toSlug(input.explicitProject);
  if (explicit) return { project: explicit, layer: "explicit" };
  const p = input.client;
  if (p) {
    const { fs } = input;
    let read: Promise<ProcessInfo[]> | undefined;
    const ancestors = () => read ??= attempt(input.ancestors).then((a) => a ?? []);
    const steps: [Layer, () => Promise<string | undefined> | string | undefined][] = [
      ["env", () => envLayer(p)],
      ["haltonrc", () => haltonrcLayer(p, fs)],
      ["ide", async () => ideLayer([p, ...await ancestors()])],
      ["git", () => gitLayer(p, fs)],
      ["parent", async () => parentLayer(p, await ancestors(), fs)],
      ["container", () => containerLayer(p, fs, input.userHome)],
      ["cwd", () => cwdLayer(p)],
    ];
    for (const [layer, step] of steps) {
      const project = await attempt(step);
      if (project) return { project, layer };
    }
  }
  return { project: toSlug(input.defaultProject) ?? "misc", layer: "default" };
}

/**
 * Layer 5: layers 1, 2 and 4 on each ancestor, nearest first (layer 3 already looked at every ancestor).
 * A folder already searched for the client is not searched again.
 */
async function parentLayer(
  client: ProcessInfo,
  ancestors: readonly ProcessInfo[],
  fs: FsView,
): Promise<string | undefined> {
  const searched = new Set(client.cwd ? [client.cwd] : []);
  for (const a of ancestors) {
    const fromEnv = envLayer(a);
    if (fromEnv) return fromEnv;
    if (!a.cwd || searched.has(a.cwd)) continue;
    searched.add(a.cwd);
    const found = await attempt(() => haltonrcLayer(a, fs)) ?? await attempt(() => gitLayer(a, fs));
    if (found) return found;
  }
  return undefined;
}

async function attempt<T>(f: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await f();
  } catch {
    return undefined;
  }
}
