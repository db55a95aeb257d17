/**
 * The meter's folder is private to its user: the folder and every folder in it 0700, every file 0600
 * (database, its WAL and SHM, logs, config, ports, pids). Usage data says which projects ran which models
 * when; no other local user has a reason to read it.
 *
 * On Windows, modes mean nothing: the folder lives in the user's profile, whose ACL (the user, SYSTEM and
 * Administrators only) every file in it inherits, and that inheritance is what is relied on there.
 *
 * @module
 */
import { join } from "node:path";

/** Mode of every file the meter writes in its folder. */
export const PRIVATE_FILE = 0o600;
/** Mode of the meter's folder and the folders in it. */
export const PRIVATE_DIR = 0o700;

const posix = Deno.build.os !== "windows";

/**
 * Makes files and folders this process creates from now on private (umask 077). Only for the edge and
 * daemon processes, which run no other program that writes files elsewhere: a shared umask would make the
 * system files a trust tool writes unreadable to other users.
 */
export function restrictUmask(): void {
  if (posix) Deno.umask(0o077);
}

/** Creates `dir` (and its parents) when missing, then makes it 0700. */
export function makePrivateDir(dir: string): void {
  Deno.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  chmodQuietly(dir, PRIVATE_DIR);
}

/**
 * {@linkcode tightenTree} for the meter's folder. The CA's certificate (inside it only when
 * `HALTON_METER_HOME` moves the CA there) stays 0644: it is public, and trust tools read it.
 */
export function tightenHome(paths: { home: string; caCert: string }): void {
  tightenTree(paths.home, new Set([paths.caCert]));
}

/** Makes `file` 0600 if it exists. */
export function makePrivateFile(file: string): void {
  chmodQuietly(file, PRIVATE_FILE);
}

/**
 * Brings an existing folder to 0700 and everything in it to 0600 / 0700 (an install from before this rule,
 * or files another tool copied in). Symbolic links and the paths in `keep` are left alone; a missing folder
 * is fine.
 */
export function tightenTree(dir: string, keep: ReadonlySet<string> = new Set()): void {
  if (!posix) return;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return;
  }
  chmodQuietly(dir, PRIVATE_DIR);
  for (const e of entries) {
    const path = join(dir, e.name);
    if (keep.has(path)) continue;
    if (e.isDirectory) tightenTree(path, keep);
    else if (e.isFile) chmodQuietly(path, PRIVATE_FILE);
  }
}

function chmodQuietly(path: string, mode: number): void {
  if (!posix) return;
  try {
    if ((Deno.statSync(path).mode! & 0o777) !== mode) Deno.chmodSync(path, mode);
  } catch { /* missing, or not ours to change: the next start tries again */ }
}
