/**
 * Whether the meter can make files in a folder, asked the only reliable way: by making one. Modes, mount
 * flags and ACLs each tell part of the story; `root` ignores modes; a file system can turn read-only under a
 * running process after a disk error.
 *
 * @module
 */
import { dirname } from "node:path";

/** Why files cannot be made in a folder, in words for `status` and a start failure, with the next step. */
export interface Unwritable {
  /** E.g. "/home/a/.halton-meter is on a read-only file system". */
  reason: string;
  /** What makes the folder take writes again, e.g. "Free space on the disk that holds /home/a/.halton-meter". */
  fix: string;
  /** {@linkcode fix}, and what the meter does meanwhile and after. */
  next: string;
}

/** Undefined when a file can be created in `dir` (and is removed again); else why not. A missing `dir` is not asked about. */
export function folderUnwritable(dir: string): Unwritable | undefined {
  let probe: string;
  try {
    probe = Deno.makeTempFileSync({ dir, prefix: ".write-probe-" });
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? undefined : explain(dir, e);
  }
  try {
    Deno.removeSync(probe);
  } catch {
    // Made but not removable: the folder takes writes, which is all that was asked.
  }
  return undefined;
}

/**
 * A file operation's failure for want of a writable place (read-only file system, no permission, full disk),
 * as a command's error: the path, why, and what to do. Undefined for any other failure.
 */
export function writeFailure(e: unknown): { message: string; hint: string } | undefined {
  // Deno ends a file operation's message with the operation and its path: "…: writefile '/a/b.tmp'".
  const path = /: \w+ '([^']+)'/.exec(e instanceof Error ? e.message : "")?.[1];
  if (path === undefined) return undefined;
  const why = explain(dirname(path), e);
  if (!why) return undefined;
  return { message: `cannot write ${path}: ${why.reason}`, hint: `${why.fix}, then run the command again.` };
}

function explain(dir: string, e: unknown): Unwritable | undefined {
  const code = (e as { code?: string }).code;
  if (code === "EROFS") {
    const fix =
      `Make the file system that holds ${dir} writable again (remount it read-write, or check the disk ` +
      "for errors)";
    return {
      reason: `${dir} is on a read-only file system`,
      fix,
      next:
        `${fix}. The daemon starts again on its own once it can write ('halton-meter start' if it has given ` +
        "up); traffic passes unmetered meanwhile.",
    };
  }
  if (e instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM") {
    const fix = `Give this user write access to ${dir} again`;
    return {
      reason: `${dir} is not writable by this user`,
      fix,
      next: `${fix} (it should be theirs, mode 0700).`,
    };
  }
  if (code === "ENOSPC") {
    const fix = `Free space on the disk that holds ${dir}`;
    return {
      reason: `the disk that holds ${dir} is full`,
      fix,
      next: `${fix}; the meter writes again once it has room.`,
    };
  }
  return undefined;
}
