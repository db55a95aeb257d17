/**
 * Keeps `ca-bundle.pem` (system roots + our CA) on disk wherever the variables may point at it: `run` and
 * `env` before they print or pass them, and the daemon at start, so the variables `env` prints after `up` or
 * `start` name a file that exists (Codex and Python's requests fail every TLS handshake without it).
 *
 * @module
 */
import { dirname } from "node:path";
import { readTextIfThere, writeFileAtomic } from "../core/io.ts";
import { currentOs, type Paths } from "../core/paths.ts";
import { caBundle, pemCertificates } from "./ca_bundle.ts";
import { LINUX_ROOT_FILES } from "./linux/roots.ts";

/**
 * Makes sure `paths.caBundle` holds the system roots plus our CA and returns its path; it is rebuilt when it
 * lacks our CA or is older than the system roots. Undefined when there is no CA yet or no roots file to start
 * from (Windows and macOS keep theirs in a store: `init` builds their bundle): a bundle of our CA alone would
 * break every host the edge only tunnels.
 */
export function ensureCaBundle(
  paths: Pick<Paths, "caBundle" | "caCert">,
  rootFiles: readonly string[] = rootCandidates(),
): string | undefined {
  const ca = readTextIfThere(paths.caCert);
  if (!ca) return undefined;
  for (const file of rootFiles) {
    const roots = readTextIfThere(file);
    if (roots === undefined) continue;
    const current = readTextIfThere(paths.caBundle);
    const ours = pemCertificates(ca);
    if (current && ours.every((c) => current.includes(c)) && mtime(paths.caBundle) >= mtime(file)) {
      return paths.caBundle;
    }
    try {
      Deno.mkdirSync(dirname(paths.caBundle), { recursive: true });
      writeFileAtomic(paths.caBundle, caBundle(roots, ca));
      return paths.caBundle;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

// Only Linux keeps its roots in a file; macOS and Windows keep them in a store that `init` reads.
function rootCandidates(): readonly string[] {
  return currentOs() === "linux" ? LINUX_ROOT_FILES : [];
}

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}
