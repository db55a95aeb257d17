/**
 * `system_state.json` (docs/platform.md): everything `init` changed on the machine and what was there before,
 * so that `uninstall` can put it back. Written atomically after each change; a file that cannot be read is
 * moved aside as `.corrupt-<time>` and reported, never silently dropped.
 *
 * @module
 */
import type { OsName } from "../core/paths.ts";
import type { Ports } from "../core/ports.ts";
import type { InstallMode, ProxySnapshot } from "../platform/types.ts";
import type { TargetFs } from "./target_fs.ts";

/** Who keeps the edge and the daemon running. */
export type ServiceManagerKind = "systemd" | "launchd" | "task-scheduler" | "supervisor";

/** A trust store the CA was added to. */
export type TrustStore = "nss" | "system" | "keychain" | "user-root";

/** A file `init` wrote, and its bytes before (base64), or null when it did not exist. */
export interface FileRecord {
  readonly before: string | null;
  readonly purpose: string;
  /** Service definitions go with the services; env files with the mode. */
  readonly kind: "service" | "env";
}

/** A certifi bundle `init` appended the CA to. */
export interface CertifiRecord {
  readonly python: string;
  readonly bundle: string;
}

/** The state record. Paths are the target OS's own. */
export interface SystemState {
  readonly version: 1;
  os: OsName;
  mode: InstallMode;
  serviceManager: ServiceManagerKind;
  /** The binary's command written into the service files (an upgrade changes it). */
  command: string[];
  ports?: Ports;
  /** True when `init` made the CA (uninstall then removes it); false when it reused one. */
  caCreated: boolean;
  /** SHA-1 of the CA certificate `init` last saw: a different one means the daemon must restart. */
  caSha1?: string;
  files: Record<string, FileRecord>;
  /** Shell rc files holding our block, and whether each existed before. */
  rcFiles: Record<string, { existed: boolean }>;
  /** User-level variables: the values before `init` (null: unset) and the values it set. */
  env?: { before: Record<string, string | null>; applied: Record<string, string> };
  certifi: CertifiRecord[];
  trust?: { sha1: string; stores: TrustStore[] };
  /** The system proxy before `--full` pointed it at the edge port. */
  proxy?: { before: ProxySnapshot; port: number };
  updatedAt: string;
}

/** A fresh record for a machine `init` has not touched yet. */
export function emptyState(os: OsName, mode: InstallMode, serviceManager: ServiceManagerKind): SystemState {
  return {
    version: 1,
    os,
    mode,
    serviceManager,
    command: [],
    caCreated: false,
    files: {},
    rcFiles: {},
    certifi: [],
    updatedAt: new Date(0).toISOString(),
  };
}

/** What {@linkcode readState} found. */
export interface StateRead {
  /** The record; undefined when there is none (or it was corrupt). */
  state?: SystemState;
  /** Set when the file could not be used: where it was moved and why. */
  corrupt?: { movedTo: string; reason: string };
}

/** Checks the parts of a parsed record that later code relies on; returns why not, or undefined. */
function invalid(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not a JSON object";
  const s = v as Record<string, unknown>;
  if (s.version !== 1) return `unknown version ${JSON.stringify(s.version)}`;
  if (!["darwin", "linux", "windows"].includes(s.os as string)) return "no valid 'os'";
  if (!["env", "apps", "full"].includes(s.mode as string)) return "no valid 'mode'";
  for (const key of ["files", "rcFiles"]) {
    if (typeof s[key] !== "object" || s[key] === null || Array.isArray(s[key])) return `no valid '${key}'`;
  }
  if (!Array.isArray(s.certifi) || !Array.isArray(s.command)) return "no valid 'certifi' or 'command'";
  return undefined;
}

/**
 * Reads the record at `file`. One that is not valid JSON or lacks what uninstall needs is renamed to
 * `<file>.corrupt-<time>` (kept for the user) and reported in `corrupt`; with `moveAside: false` (for
 * read-only commands) it stays where it is and `corrupt.movedTo` names it unmoved.
 */
export function readState(
  fs: TargetFs,
  file: string,
  now: Date = new Date(),
  options: { moveAside?: boolean } = {},
): StateRead {
  const text = fs.readText(file);
  if (text === undefined) return {};
  let reason: string | undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
    reason = invalid(parsed);
  } catch (e) {
    reason = `not valid JSON (${(e as Error).message.split("\n")[0]})`;
  }
  if (reason === undefined) return { state: parsed as SystemState };
  const movedTo = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, "-")}`;
  if (options.moveAside === false) return { corrupt: { movedTo: file, reason } };
  Deno.renameSync(fs.local(file), fs.local(movedTo));
  return { corrupt: { movedTo, reason } };
}

/** Writes the record atomically, stamping `updatedAt`. */
export function writeState(fs: TargetFs, file: string, state: SystemState, now: Date = new Date()): void {
  state.updatedAt = now.toISOString();
  fs.write(file, JSON.stringify(state, null, 2) + "\n");
}

/** Notes what is at `path` before `init` first writes it; later writes keep the first record. */
export function recordBefore(
  state: SystemState,
  fs: TargetFs,
  path: string,
  kind: FileRecord["kind"],
  purpose: string,
): void {
  if (path in state.files) return;
  const bytes = fs.readBytes(path);
  state.files[path] = { before: bytes === undefined ? null : toBase64(bytes), purpose, kind };
}

/** `bytes` as base64, for {@linkcode FileRecord.before}. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** The bytes a {@linkcode FileRecord.before} holds. */
export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
