/**
 * Fakes shared by the attribution tests: an in-memory file tree and a process-table builder.
 *
 * @module
 */
import type { FsView, ProcessInfo, ProcessLookup } from "../../../daemon/attribution/types.ts";

/** An {@linkcode FsView} over `files` (path → text); every folder above a file exists. `null` marks an empty folder. */
export function fakeFs(files: Record<string, string | null>): FsView & { reads: string[] } {
  const reads: string[] = [];
  const exists = new Set<string>();
  for (const path of Object.keys(files)) {
    let p = path;
    while (p && p !== "/") {
      exists.add(p);
      p = p.slice(0, p.lastIndexOf("/")) || "/";
    }
  }
  return {
    reads,
    exists: (path) => Promise.resolve(exists.has(path)),
    readText: (path) => {
      reads.push(path);
      const text = files[path];
      return Promise.resolve(typeof text === "string" ? text : undefined);
    },
  };
}

/** A process with defaults for what a test does not care about. */
export function proc(p: Partial<ProcessInfo> & { pid: number }): ProcessInfo {
  return { ppid: 0, uid: 1000, argv: [], env: {}, ...p };
}

/** A {@linkcode ProcessLookup} over a fixed table; `ports` maps `ip:port` to a pid. Counts its calls. */
export function fakeLookup(
  table: ProcessInfo[],
  ports: Record<string, number>,
): ProcessLookup & { finds: number; reads: number[] } {
  const byPid = new Map(table.map((p) => [p.pid, p]));
  const lookup = {
    finds: 0,
    reads: [] as number[],
    findClientProcess(a: { ip: string; port: number }) {
      lookup.finds++;
      return Promise.resolve(ports[`${a.ip}:${a.port}`]);
    },
    readProcess(pid: number) {
      lookup.reads.push(pid);
      return Promise.resolve(byPid.get(pid));
    },
  };
  return lookup;
}
