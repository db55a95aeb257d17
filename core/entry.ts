/**
 * The program's entry module and the roles it can be started in. Worker threads are started from the entry
 * module itself, with a name saying what they are for, rather than from a file of their own: the entry is the
 * one module every form of the program has (the source tree, a `deno compile`d binary, one bundled file), so no
 * build needs to be told to carry a separate worker file.
 *
 * @module
 */

/** The name the read API's worker thread is started with. */
export const READ_API_WORKER = "halton-meter:read-api";

/** The name the daemon's background integrity check's worker thread is started with. */
export const INTEGRITY_WORKER = "halton-meter:integrity-check";

/** The name the daemon's checkpoint worker thread is started with. */
export const CHECKPOINT_WORKER = "halton-meter:checkpoint";

let entry: string | undefined;

/** Records the URL of the entry module (`main.ts` passes its own `import.meta.url`, whatever file holds it). */
export function registerEntry(url: string): void {
  entry ??= url;
}

/** The URL of the entry module: the one registered, else `main.ts` of the source tree (tests importing parts). */
export function entryModule(): string {
  return registeredEntry() ?? new URL("../main.ts", import.meta.url).href;
}

/** The URL `main.ts` registered, or undefined when the program's parts were imported without it (tests). */
export function registeredEntry(): string | undefined {
  return entry;
}

/** The name this thread was started with: "" on the main thread, a role such as {@linkcode READ_API_WORKER} in a worker. */
export function threadName(): string {
  const name = (globalThis as { name?: unknown }).name;
  return typeof name === "string" ? name : "";
}
