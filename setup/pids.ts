/**
 * Pid files under `paths.run` and the questions asked of a pid: is it alive, and is it still ours (a pid
 * file can outlive its process and the number be reused by another program).
 *
 * @module
 */
import { join } from "node:path";
import { readPidFile, writeFileAtomic } from "../core/io.ts";
import { makePrivateDir } from "../core/private.ts";

/** The processes the supervisor keeps pid files for. */
export type PidName = "supervisor" | "edge" | "daemon";

/** `<run>/<name>.pid`. */
export function pidFile(run: string, name: PidName): string {
  return join(run, `${name}.pid`);
}

/** The pid in `<run>/<name>.pid`, or undefined. */
export function readPid(run: string, name: PidName): number | undefined {
  return readPidFile(pidFile(run, name));
}

/** Writes `<run>/<name>.pid`. */
export function writePid(run: string, name: PidName, pid: number): void {
  makePrivateDir(run);
  writeFileAtomic(pidFile(run, name), `${pid}\n`);
}

/** Removes `<run>/<name>.pid` when it still names `pid` (or in any case when `pid` is undefined). */
export function removePid(run: string, name: PidName, pid?: number): void {
  if (pid !== undefined && readPid(run, name) !== pid) return;
  try {
    Deno.removeSync(pidFile(run, name));
  } catch { /* already gone */ }
}

/**
 * True when `pid` runs and, if `word` is given, its command line holds that word (`edge`, `daemon`,
 * `supervise`), so a reused pid is not taken for ours. Zombies count as gone. Linux reads `/proc`; Windows asks
 * `tasklist`; elsewhere a harmless signal tells whether the process exists.
 */
export function processAlive(pid: number, word?: string): boolean {
  if (Deno.build.os === "linux") {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      // The state follows the command name, which is in parentheses and may hold spaces.
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state === "Z" || state === "X") return false;
      if (word === undefined) return true;
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").includes(word);
    } catch {
      return false;
    }
  }
  if (Deno.build.os === "windows") {
    try {
      const out = new Deno.Command("tasklist.exe", { args: ["/FI", `PID eq ${pid}`, "/NH"], stdout: "piped" })
        .outputSync();
      return new RegExp(`\\s${pid}\\s`).test(new TextDecoder().decode(out.stdout));
    } catch {
      return false;
    }
  }
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** The pid in `<run>/<name>.pid` when that process is alive and ours. */
export function livePid(run: string, name: PidName): number | undefined {
  const pid = readPid(run, name);
  return pid !== undefined && processAlive(pid, name === "supervisor" ? "supervise" : name) ? pid : undefined;
}

/** Sends `signal`; false when the process was already gone. */
export function signal(pid: number, sig: Deno.Signal): boolean {
  try {
    Deno.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `alive()` turns false or `ms` pass; true when it did. */
export async function waitUntilGone(alive: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
