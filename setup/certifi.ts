/**
 * Python's `certifi` bundles: `requests`, `httpx` and pip read their roots from certifi's `cacert.pem`, not the
 * OS store, so `init` appends our CA to each one between markers, and `uninstall` takes exactly that back out.
 * Only a bundle that is a Python environment's own (a real file in a `certifi` folder, or anything in the
 * user's home) is touched: where certifi is the system's bundle (Debian's python3-certifi links it to
 * `/etc/ssl/certs/ca-certificates.crt`), writing it would trust the CA for every program on the machine.
 *
 * @module
 */
import * as posix from "node:path/posix";
import * as win32 from "node:path/win32";
import type { OsName } from "../core/paths.ts";
import { pemCertificates } from "../platform/ca_bundle.ts";
import type { Runner } from "../platform/runner.ts";

/** First line of our block in a bundle. */
export const CERTIFI_START = "# >>> halton-meter CA >>>";
/** Last line of our block. */
export const CERTIFI_END = "# <<< halton-meter CA <<<";

/** The program `python -c` runs to name its certifi bundle. */
export const CERTIFI_WHERE = "import certifi;print(certifi.where())";

/**
 * The Python interpreters on `pathVar`, first found first: `python3` and `python` in each folder
 * (`python.exe`, `python3.exe` on Windows). `exists` answers for a path; the same file found twice is kept once.
 */
export function findPythons(
  pathVar: string | undefined,
  os: OsName,
  exists: (path: string) => boolean,
  realPath: (path: string) => string = (p) => p,
): string[] {
  const path = os === "windows" ? win32 : posix;
  const names = os === "windows" ? ["python.exe", "python3.exe"] : ["python3", "python"];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const dir of (pathVar ?? "").split(os === "windows" ? ";" : ":")) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (!exists(candidate)) continue;
      const real = realPath(candidate);
      if (seen.has(real)) continue;
      seen.add(real);
      out.push(candidate);
    }
  }
  return out;
}

/** The certifi bundle `python` uses, or undefined when it has no certifi (or does not run). */
export async function certifiBundle(runner: Runner, python: string): Promise<string | undefined> {
  const r = await runner(python, ["-c", CERTIFI_WHERE]);
  const where = r.stdout.trim().split(/\r?\n/).at(-1)?.trim();
  return r.code === 0 && where ? where : undefined;
}

/** Whose a certifi bundle is: a Python environment's own, or a system-wide file it resolves to. */
export type BundleScope = "own" | "system";

/**
 * Judges a bundle by the file it really is (`real`, symbolic links resolved): its own when it lies in the
 * user's home or is a `cacert.pem` in a `certifi` folder; system-wide otherwise.
 */
export function bundleScope(real: string, userHome: string, os: OsName): BundleScope {
  const path = os === "windows" ? win32 : posix;
  const norm = (p: string) => os === "windows" ? p.toLowerCase() : p;
  const home = norm(path.resolve(userHome)) + path.sep;
  const file = norm(path.resolve(real));
  if (file.startsWith(home)) return "own";
  return path.basename(path.dirname(file)) === "certifi" ? "own" : "system";
}

/** The block holding `caPem`'s certificates, markers included. */
export function certifiBlock(caPem: string): string {
  return [
    CERTIFI_START,
    "# Halton Meter CA",
    ...pemCertificates(caPem).map((c) => c.trimEnd()),
    CERTIFI_END,
    "",
  ]
    .join("\n");
}

/** Where our block sits in `text`, including the newline before it that the patch added. */
function locate(text: string): { start: number; end: number } | undefined {
  const start = text.indexOf(`\n${CERTIFI_START}\n`);
  if (start === -1) return undefined;
  const endMarker = text.indexOf(`${CERTIFI_END}\n`, start);
  if (endMarker === -1) return undefined;
  return { start, end: endMarker + CERTIFI_END.length + 1 };
}

/**
 * `text` with our block holding `caPem` at its end: an existing block is replaced (a new CA replaces the old
 * one), so patching twice with the same CA changes nothing.
 */
export function patchBundle(text: string, caPem: string): string {
  const base = unpatchBundle(text);
  return `${base}\n${certifiBlock(caPem)}`;
}

/** `text` without our block: byte for byte the bundle before {@linkcode patchBundle}. */
export function unpatchBundle(text: string): string {
  const at = locate(text);
  return at ? text.slice(0, at.start) + text.slice(at.end) : text;
}

/** True when `text` holds our block with exactly `caPem`'s certificates. */
export function isPatched(text: string, caPem: string): boolean {
  return text.endsWith(`\n${certifiBlock(caPem)}`);
}
