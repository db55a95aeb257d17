/**
 * The file system of the machine being set up. Paths in plans are the target OS's own (`C:\Users\ada\…`,
 * `/Users/ada/…`); with a root folder they are carried into it (`<root>/C/Users/ada/…`), so tests, and
 * `init --os` for another OS, run every step of `init` and `uninstall` without touching this machine.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../core/io.ts";
import { encodeRendered, type WriteOutcome, writeRendered } from "../platform/files.ts";
import type { PlanFs } from "../platform/plan.ts";
import type { RenderedFile } from "../platform/types.ts";

/** File operations on target paths. Every method maps its path through {@linkcode TargetFs.local} first. */
export class TargetFs {
  /** The folder standing for the target's file system root; undefined means this machine's own. */
  readonly root?: string;

  constructor(root?: string) {
    this.root = root;
  }

  /** Where `path` (a target path) lives on this machine. */
  local(path: string): string {
    if (this.root === undefined) return path;
    const plain = path.replace(/^([A-Za-z]):/, "$1").replaceAll("\\", "/");
    return join(this.root, plain);
  }

  /** The file's text, or undefined when it is not there. */
  readText(path: string): string | undefined {
    try {
      return Deno.readTextFileSync(this.local(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return undefined;
      throw e;
    }
  }

  /** The file's bytes, or undefined when it is not there. */
  readBytes(path: string): Uint8Array | undefined {
    try {
      return Deno.readFileSync(this.local(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return undefined;
      throw e;
    }
  }

  /** True when something is at `path`. */
  exists(path: string): boolean {
    try {
      Deno.lstatSync(this.local(path));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * `path` with every symbolic link resolved, as a target path; `path` itself when it cannot be resolved (not
   * there) or resolves outside the root.
   */
  realPath(path: string): string {
    let real: string;
    try {
      real = Deno.realPathSync(this.local(path));
    } catch {
      return path;
    }
    if (this.root === undefined) return real;
    const root = Deno.realPathSync(this.root);
    if (real !== root && !real.startsWith(`${root}/`)) return path;
    return real.slice(root.length) || "/";
  }

  /** The permission bits of the file at `path`, or undefined (not there, or no such bits on this OS). */
  mode(path: string): number | undefined {
    try {
      const m = Deno.statSync(this.local(path)).mode;
      return m === null ? undefined : m & 0o7777;
    } catch {
      return undefined;
    }
  }

  /** Writes `data` atomically, creating the parent folders. */
  write(path: string, data: string | Uint8Array, mode?: number): void {
    const local = this.local(path);
    Deno.mkdirSync(dirname(local), { recursive: true });
    writeFileAtomic(local, data, mode);
  }

  /** Deletes a file or an empty folder if it is there. */
  remove(path: string): void {
    try {
      Deno.removeSync(this.local(path));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** Deletes a folder and everything in it, if it is there. */
  removeTree(path: string): void {
    try {
      Deno.removeSync(this.local(path), { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** Names in a folder; empty when it is not there. */
  list(path: string): string[] {
    try {
      return [...Deno.readDirSync(this.local(path))].map((e) => e.name).sort();
    } catch {
      return [];
    }
  }

  /** What writing `file` would do, without writing. */
  compare(file: RenderedFile): WriteOutcome {
    const before = this.readBytes(file.path);
    if (before === undefined) return "created";
    const after = encodeRendered(file);
    return before.length === after.length && before.every((b, i) => b === after[i]) ? "unchanged" : "changed";
  }

  /** Writes `file` unless the disk already holds exactly its bytes. */
  writeRendered(file: RenderedFile): WriteOutcome {
    return writeRendered({ ...file, path: this.local(file.path) });
  }

  /** The {@linkcode PlanFs} that `runPlan()` uses for folder steps and conditions. */
  planFs(): PlanFs {
    return {
      exists: (p) => this.exists(p),
      mkdir: (p) => Deno.mkdirSync(this.local(p), { recursive: true }),
      remove: (p) => this.remove(p),
    };
  }
}
