/**
 * The daemon's entry point to attribution: one call per client connection, started when the connection
 * arrives and awaited only when its row is written, so the lookup never delays a response. Results are cached
 * for a short time in bounded caches, per connection and per client process (a client opening many
 * connections, as an agent swarm or a script calling curl in a loop does, is described and resolved once),
 * and every failure falls through to a later layer.
 *
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { resolveProject } from "./chain.ts";
import { realFsView } from "./fs_view.ts";
import type { Attribution, ClientAddress, FsView, ProcessInfo, ProcessLookup } from "./types.ts";

/** What the daemon knows about a client connection. */
export interface ClientRef extends ClientAddress {
  /** Tag from the proxy credentials (`x-halton-project`). */
  explicitProject?: string;
  /** The client's pid, when the edge already knows it: skips the port lookup. */
  pid?: number;
}

/** Options of {@linkcode Attributor}. */
export interface AttributorOptions {
  lookup: ProcessLookup;
  fs?: FsView;
  /** `[tagging] default_project`. */
  defaultProject?: string;
  /** The user's home folder (macOS app sandboxes). */
  userHome?: string;
  /** How long a connection's answer is reused. A source port is reused by the OS only after it is freed. */
  ttlMs?: number;
  /** Most connections remembered; the oldest is forgotten first. */
  maxEntries?: number;
  /** How many ancestors the parent walk may read. */
  maxDepth?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
  /** Receives `attribution.resolved`. */
  logger?: Logger;
}

/** Resolves the project of client connections (SPEC §5). */
export class Attributor {
  readonly #opts: Required<Omit<AttributorOptions, "userHome" | "logger">> & AttributorOptions;
  readonly #cache = new Map<string, { at: number; value: Promise<Attribution> }>();
  readonly #byProcess = new Map<string, { at: number; value: Promise<Attribution> }>();

  constructor(options: AttributorOptions) {
    this.#opts = {
      fs: realFsView,
      defaultProject: "misc",
      ttlMs: 10_000,
      maxEntries: 4096,
      maxDepth: 8,
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
    if (hit && now - hit.at < this.#opts.ttlMs) return hit.value;
    this.#cache.delete(key);
    const value = this.#resolve(client);
    this.#remember(this.#cache, key, now, value);
    return value;
  }

  #remember(
    cache: Map<string, { at: number; value: Promise<Attribution> }>,
    key: string,
    at: number,
    value: Promise<Attribution>,
  ): void {
    cache.set(key, { at, value });
    while (cache.size > this.#opts.maxEntries) cache.delete(cache.keys().next().value!);
  }

  async #resolve(client: ClientRef): Promise<Attribution> {
    const started = performance.now();
    let pid: number | undefined;
    try {
      pid = client.pid ?? await this.#opts.lookup.findClientProcess(client);
    } catch {
      pid = undefined;
    }
    if (pid === undefined) return this.#describe(undefined, client.explicitProject, started);
    const key = `${pid}:${client.explicitProject ?? ""}`;
    const now = this.#opts.now();
    const hit = this.#byProcess.get(key);
    if (hit && now - hit.at < this.#opts.ttlMs) return hit.value;
    this.#byProcess.delete(key);
    const value = this.#describe(pid, client.explicitProject, started);
    this.#remember(this.#byProcess, key, now, value);
    return value;
  }

  /** Reads process `pid` (none when undefined) and runs the resolver chain on it; `started`: for the log. */
  async #describe(
    pid: number | undefined,
    explicitProject: string | undefined,
    started: number,
  ): Promise<Attribution> {
    let info: ProcessInfo | undefined;
    try {
      info = pid === undefined ? undefined : await this.#opts.lookup.readProcess(pid);
    } catch {
      info = undefined;
    }
    const { project, layer } = await resolveProject({
      explicitProject,
      client: info,
      ancestors: () => this.#ancestors(info!),
      fs: this.#opts.fs,
      userHome: this.#opts.userHome,
      defaultProject: this.#opts.defaultProject,
    });
    const result: Attribution = { project, layer, client_process: processName(info?.exe ?? info?.argv[0]) };
    this.#opts.logger?.info("attribution.resolved", {
      project,
      layer,
      client_process: result.client_process,
      ms: Math.round(performance.now() - started),
    });
    return result;
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

/** The basename of an executable without `.exe`: `node`, `python3`. */
export function processName(exe: string | undefined): string | null {
  const name = exe?.split(/[\\/]/).filter(Boolean).at(-1)?.replace(/\.exe$/i, "");
  return name || null;
}
