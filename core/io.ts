/**
 * Small I/O helpers shared by every process.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Writes all of `data` to a sync writer, looping over partial writes (pipes take a few KiB at a time). */
export function writeAllSync(w: { writeSync(p: Uint8Array): number }, data: string | Uint8Array): void {
  let bytes = typeof data === "string" ? encoder.encode(data) : data;
  while (bytes.length) bytes = bytes.subarray(w.writeSync(bytes));
}

/**
 * Writes a file atomically: a temp file beside it, then a rename, so readers never see half a file. Without
 * `mode`, a file that exists keeps its mode and a new one is private to the user (0600).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): void {
  const tmp = `${path}.${Deno.pid}.tmp`;
  if (mode === undefined && Deno.build.os !== "windows") {
    try {
      mode = Deno.statSync(path).mode! & 0o7777;
    } catch {
      mode = 0o600;
    }
  }
  if (typeof data === "string") Deno.writeTextFileSync(tmp, data, { mode });
  else Deno.writeFileSync(tmp, data, { mode });
  Deno.renameSync(tmp, path);
}

/** Whether something is at `path` (a file, a folder, anything `stat` can see). */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The text of `path`, or undefined when it cannot be read (missing, a folder, no permission). */
export function readTextIfThere(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** The positive whole number a pid file holds, or undefined (missing, unreadable or not a pid). */
export function readPidFile(path: string): number | undefined {
  const n = Number(readTextIfThere(path)?.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
