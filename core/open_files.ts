/**
 * The limit on open files, raised as far as the process may. Each metered call holds a descriptor for its
 * client and one for its provider in the daemon (and, on Linux, a copy of the client's in the edge until the
 * daemon is done with it), so 500 streams at once need over 1,000. `deno` raises its soft limit to the hard one
 * when it starts, but a compiled binary's runtime does not, so the shipped binary kept what its starter gave
 * it: 1,024 under systemd's user manager, which an agent swarm of 500 streams reaches. Raising the soft limit
 * needs no privilege up to the hard limit (524,288 under systemd). Linux only: the macOS services ask launchd
 * for more in their plists, and Windows has no such limit on sockets.
 *
 * @module
 */
import { openLibc } from "./libc.ts";

/** A process's limits on open files. */
export interface FileLimits {
  soft: bigint;
  hard: bigint;
}

/** How {@linkcode raiseOpenFiles} reads and sets the limits; `set` says whether the system took them. */
export interface FileLimitAccess {
  get(): FileLimits | undefined;
  set(limits: FileLimits): boolean;
}

/** The soft limit before and after {@linkcode raiseOpenFiles}. */
export interface Raised {
  before: bigint;
  after: bigint;
  hard: bigint;
}

/**
 * The highest soft limit asked for: where the hard limit is unlimited, a kernel still caps what a process may
 * have (Linux's `fs.nr_open`, 1,048,576 by default), and a set above that cap fails.
 */
export const CEILING = 1n << 20n;

/**
 * Raises the soft limit toward the hard one (at most {@linkcode CEILING}), halving what it asks for while the
 * system refuses, never below what the soft limit already is. Undefined when the limits cannot be read.
 */
export function raiseOpenFiles(access: FileLimitAccess): Raised | undefined {
  const limits = access.get();
  if (!limits) return undefined;
  const { soft, hard } = limits;
  for (let want = hard < CEILING ? hard : CEILING; want > soft; want /= 2n) {
    if (access.set({ soft: want, hard })) return { before: soft, after: want, hard };
  }
  return { before: soft, after: soft, hard };
}

// Linux's `RLIMIT_NOFILE`; `struct rlimit` is two 64-bit counts on the 64-bit targets the meter ships for.
const RLIMIT_NOFILE = 7;

const LIBC_SYMBOLS = {
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
} as const;

/** This process's limits as `/proc/self/limits` states them; undefined where there is no such file. */
export function procLimits(text = readProcLimits()): FileLimits | undefined {
  const line = text && /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!line) return undefined;
  const count = (s: string) => s === "unlimited" ? 0xffff_ffff_ffff_ffffn : BigInt(s);
  return { soft: count(line[1]), hard: count(line[2]) };
}

function readProcLimits(): string | undefined {
  try {
    return Deno.readTextFileSync("/proc/self/limits");
  } catch {
    return undefined;
  }
}

/**
 * {@linkcode raiseOpenFiles} for this process (Linux); undefined elsewhere. The limits are read from `/proc`,
 * and libc is opened only when there is something to raise: Deno's FFI costs a process some 3.5 MB once used,
 * which `deno` run from source, having raised the limit itself, need not pay.
 */
export function raiseOwnOpenFiles(): Raised | undefined {
  if (Deno.build.os !== "linux") return undefined;
  // Opened at the first set, if any; null when it could not be.
  const libc: { library?: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | null } = {};
  try {
    return raiseOpenFiles({
      get: () => procLimits(),
      set({ soft, hard }) {
        if (libc.library === undefined) libc.library = openLibc(LIBC_SYMBOLS) ?? null;
        const rlimit = new Uint8Array(new BigUint64Array([soft, hard]).buffer);
        return libc.library?.symbols.setrlimit(RLIMIT_NOFILE, rlimit) === 0;
      },
    });
  } finally {
    libc.library?.close();
  }
}

/** What a process's `startup.ready` log says of its limit: the limit, and what it was when raised. */
export function openFilesFields(
  raised: Raised | undefined,
): { open_files?: number; open_files_was?: number } {
  if (!raised) return {};
  const limit = Number(raised.after);
  return raised.before === raised.after
    ? { open_files: limit }
    : { open_files: limit, open_files_was: Number(raised.before) };
}
