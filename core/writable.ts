/**
 * Whether the meter can make files in a folder, asked the only reliable way: by making one. Modes, mount
 * flags and ACLs each tell part of the story; `root` ignores modes; a file system can turn read-only under a
 * running process after a disk error.
 *
 * @module
 */

/** Why files cannot be made in a folder, in words for `status` and a start failure, with the next step. */
export interface Unwritable {
  /** E.g. "/home/a/.halton-meter is on a read-only file system". */
  reason: string;
  next: string;
}

/** Undefined when a file can be created in `dir` (and is removed again); else why not. A missing `dir` is not asked about. */
export function folderUnwritable(dir: string): Unwritable | undefined {
  let probe: string;
  try {
    probe = Deno.makeTempFileSync({ dir, prefix: ".write-probe-" });
  } catch (e) {
    return explain(dir, e);
  }
  try {
    Deno.removeSync(probe);
  } catch {
    // Made but not removable: the folder takes writes, which is all that was asked.
  }
  return undefined;
}

function explain(dir: string, e: unknown): Unwritable | undefined {
  const code = (e as { code?: string }).code;
  if (e instanceof Deno.errors.NotFound) return undefined;
  if (code === "EROFS") {
    return {
      reason: `${dir} is on a read-only file system`,
      next:
        `Make the file system that holds ${dir} writable again (remount it read-write, or check the disk ` +
        "for errors). The daemon starts again on its own once it can write ('halton-meter start' if it has given " +
        "up); traffic passes unmetered meanwhile.",
    };
  }
  if (e instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM") {
    return {
      reason: `${dir} is not writable by this user`,
      next: `Give this user write access to ${dir} again (it should be theirs, mode 0700).`,
    };
  }
  if (code === "ENOSPC") {
    return {
      reason: `the disk that holds ${dir} is full`,
      next: `Free space on the disk that holds ${dir}; the meter writes again once it has room.`,
    };
  }
  return undefined;
}
