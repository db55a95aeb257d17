/**
 * The daemon's entry point to attribution: one call per client connection, started when the connection
 * arrives and awaited only when its row is written, so no response waits for its result (on Linux its
 * synchronous part, finding the socket and reading its owner's descriptor links, does hold the daemon's thread,
 * about a millisecond; linux.ts). Results are cached per connection for a short time in a bounded cache, and
 * every failure falls through to a later layer.
 *
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { type ChainResult, resolveProject } from "./chain.ts";
import { ideWorkspace } from "./layers.ts";
import { realFsView } from "./fs_view.ts";
import type { Attribution, ClientAddress, FsView, ProcessInfo, ProcessLookup } from "./types.ts";

/** What the daemon knows about a client connection. */
export interface ClientRef extends ClientAddress {
  /** Tag from the proxy credentials (`x-halton-project`). */
  explicitProject?: string;
  /** The client's pid, when the edge already knows it: skips the port lookup. */
  pid?: number;
  /**
   * A connection that has just arrived: what is remembered for its address belongs to an earlier one (a
   * client can bind the same source port again at once), so it is looked up anew.
   */
  fresh?: boolean;
}

/** Options of {@linkcode Attributor}. */
export interface AttributorOptions {
  lookup: ProcessLookup;
  fs?: FsView;
  /** `[tagging] default_project`. */
  defaultProject?: string;
  /** The user's home folder (macOS app sandboxes). */
  userHome?: string;
  /** How long a connection's answer is reused, for its later calls. */
  ttlMs?: number;
  /** Most connections remembered; the oldest is forgotten first. */
  maxEntries?: number;
  /**
   * How long the attribution of a process is reused for its other connections: a client that opens many
   * connections at once (a pool, a storm of CONNECTs) costs one reading of its process and folders.
   */
  processTtlMs?: number;
  /** How many ancestors the parent walk may read. */
  maxDepth?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
  /** Receives `attribution.resolved`. */
  logger?: Logger;
}

/** Resolves the project of client connections (README.md, "Attribution"). */
export class Attributor {
  readonly #opts: Required<Omit<AttributorOptions, "userHome" | "logger">> & AttributorOptions;
  readonly #cache = new Map<string, { at: number; value: Promise<Attribution> }>();
  readonly #byProcess = new Map<string, { at: number; value: Promise<Attribution> }>();
  readonly #byFamily = new Map<string, { at: number; value: Promise<ChainResult> }>();

  constructor(options: AttributorOptions) {
    this.#opts = {
      fs: realFsView,
      defaultProject: "misc",
      ttlMs: 10_000,
      maxEntries: 4096,
      maxDepth: 8,
      processTtlMs: 2_000,
      now: () => performance.now(),
      ...options,
    };
  }

  /** Connections currently remembered. */
  get size(): number {
    return this.#cache.size;
  }

  /** The attribution of the connection from `client`; never throws. */
  resolve(client: ClientRef): Promise<Attribution> {
    const key = `${client.ip}:${client.port}:${client.explicitProject ?? ""}`;
    const now = this.#opts.now();
    const hit = this.#cache.get(key);
    if (hit && !client.fresh && now - hit.at < this.#opts.ttlMs) return hit.value;
    this.#cache.delete(key);
    const value = this.#resolve(client);
    this.#cache.set(key, { at: now, value });
    while (this.#cache.size > this.#opts.maxEntries) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    return value;
  }

  async #resolve(client: ClientRef): Promise<Attribution> {
    let pid: number | undefined;
    try {
      pid = client.pid ?? await this.#opts.lookup.findClientProcess(client);
    } catch {
      pid = undefined;
    }
    if (pid === undefined) return this.#resolveProcess(client, undefined);
    const key = `${pid}|${client.explicitProject ?? ""}`;
    const now = this.#opts.now();
    const hit = this.#byProcess.get(key);
    if (hit && now - hit.at < this.#opts.processTtlMs) return hit.value;
    this.#byProcess.delete(key);
    const value = this.#resolveProcess(client, pid);
    this.#byProcess.set(key, { at: now, value });
    while (this.#byProcess.size > this.#opts.maxEntries) {
      this.#byProcess.delete(this.#byProcess.keys().next().value!);
    }
    return value;
  }

  async #resolveProcess(client: ClientRef, pid: number | undefined): Promise<Attribution> {
    const started = performance.now();
    let info: ProcessInfo | undefined;
    try {
      info = pid === undefined ? undefined : await this.#opts.lookup.readProcess(pid);
    } catch {
      info = undefined;
    }
    const chain = () =>
      resolveProject({
        explicitProject: client.explicitProject,
        client: info,
        ancestors: () => this.#ancestors(info!),
        fs: this.#opts.fs,
        userHome: this.#opts.userHome,
        defaultProject: this.#opts.defaultProject,
      });
    const { project, layer } = info
      ? await this.#forFamily(familyKey(info, client.explicitProject), chain)
      : await chain();
    const result: Attribution = { project, layer, client_process: processName(info?.exe ?? info?.argv[0]) };
    this.#opts.logger?.info("attribution.resolved", {
      project,
      layer,
      client_process: result.client_process,
      ms: Math.round(performance.now() - started),
    });
    return result;
  }

  /**
   * The chain's answer for a process of the family `key`, reused for `processTtlMs`: a script that runs
   * `curl` in a loop starts a new process per call, each with the same parent, folder and environment, and
   * each would otherwise read the same ancestors and walk the same folders.
   */
  #forFamily(key: string, chain: () => Promise<ChainResult>): Promise<ChainResult> {
    const now = this.#opts.now();
    const hit = this.#byFamily.get(key);
    if (hit && now - hit.at < this.#opts.processTtlMs) return hit.value;
    this.#byFamily.delete(key);
    const value = chain();
    this.#byFamily.set(key, { at: now, value });
    while (this.#byFamily.size > this.#opts.maxEntries) {
      this.#byFamily.delete(this.#byFamily.keys().next().value!);
    }
    return value;
  }

  /** The parent chain of `p`, nearest first: bounded in depth, same user only, loops cut. */
  async #ancestors(p: ProcessInfo): Promise<ProcessInfo[]> {
    const out: ProcessInfo[] = [];
    const seen = new Set([p.pid]);
    let ppid = p.ppid;
    while (out.length < this.#opts.maxDepth && ppid > 0 && !seen.has(ppid)) {
      seen.add(ppid);
      const parent = await this.#opts.lookup.readProcess(ppid);
      if (!parent) break;
      if (p.uid !== undefined && parent.uid !== undefined && parent.uid !== p.uid) break;
      out.push(parent);
      ppid = parent.ppid;
    }
    return out;
  }
}

/**
 * What the chain's answer for `p` depends on, beyond the files it reads: its parent (and so its ancestors),
 * owner, working folder, executable, the workspace its argv names, and its environment (hashed, as it can be
 * kilobytes). Two processes with the same key get the same answer. Its root (containers) is left out: a
 * process shares its parent's unless it was started into a namespace of its own, and then its parent
 * differs.
 */
export function familyKey(p: ProcessInfo, explicitProject?: string): string {
  const env = Object.entries(p.env).map(([k, v]) => `${k}=${v}`).join("\0");
  return [p.ppid, p.uid, p.cwd, p.exe, ideWorkspace(p.argv), explicitProject, hash64(env)].join("\0");
}

/** Two 32-bit FNV-1a hashes of `text`'s UTF-16 code units (different offsets), as hex. */
function hash64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return (a >>> 0).toString(16) + (b >>> 0).toString(16);
}

/** The basename of an executable without `.exe`: `node`, `python3`. */
export function processName(exe: string | undefined): string | null {
  const name = exe?.split(/[\\/]/).filter(Boolean).at(-1)?.replace(/\.exe$/i, "");
  return name || null;
}
