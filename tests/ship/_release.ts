/**
 * A stand-in release on a local HTTP server, laid out as a release forge serves one: `/v<version>/<file>` and
 * `/latest/<file>`, each version with its binaries and `SHA256SUMS`. The binaries are small POSIX sh scripts
 * standing in for `halton-meter`: `--version` prints their version, and every other command is appended to
 * `$HOME/calls` and answers as the stand-in was told (exit code, JSON on stdout).
 */
import { join } from "node:path";

/** How a stand-in binary behaves. */
export interface StandIn {
  version: string;
  /** Exit code of `init` (default 0). */
  initExit?: number;
  /** Exit code of `status` (default 0). */
  statusExit?: number;
}

/** A running stand-in release server. */
export interface StandInRelease {
  /** The base URL (what `HALTON_METER_BASE_URL` takes). */
  url: string;
  /** Replaces one served file's bytes without touching SHA256SUMS (a tampered download). */
  tamper(version: string, name: string, text: string): void;
  /** Paths requested so far. */
  requested: string[];
  close(): Promise<void>;
}

/** The targets the stand-in release holds a binary for (the host's, on POSIX). */
export const HOST_TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
];

/** The stand-in binary's text. */
export function standInScript(s: StandIn): string {
  return `#!/bin/sh
if [ "$1" = --version ]; then echo "halton-meter ${s.version} (stand-in)"; exit 0; fi
echo "${s.version} $*" >>"$HOME/calls"
case "$1" in
  init) echo '{"ok":${(s.initExit ?? 0) === 0},"version":"${s.version}"}'; exit ${s.initExit ?? 0} ;;
  status) echo '{"healthy":${(s.statusExit ?? 0) === 0},"version":"${s.version}"}'; exit ${
    s.statusExit ?? 0
  } ;;
esac
exit 0
`;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Serves the given versions (the last one is `latest`) on 127.0.0.1. */
export async function standInRelease(versions: StandIn[]): Promise<StandInRelease> {
  const files = new Map<string, Uint8Array<ArrayBuffer>>();
  const enc = new TextEncoder();
  for (const v of versions) {
    const sums: string[] = [];
    for (const t of HOST_TARGETS) {
      const name = `halton-meter-${t}`;
      const bytes = enc.encode(standInScript(v));
      files.set(`/v${v.version}/${name}`, bytes);
      sums.push(`${await sha256Hex(bytes)}  ${name}`);
    }
    files.set(`/v${v.version}/SHA256SUMS`, enc.encode(sums.join("\n") + "\n"));
  }
  const latest = versions.at(-1)!.version;
  const requested: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname.replace(/^\/latest\//, `/v${latest}/`);
    requested.push(new URL(req.url).pathname);
    const body = files.get(path);
    return body ? new Response(body.slice()) : new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requested,
    tamper(version, name, text) {
      files.set(`/v${version}/${name}`, enc.encode(text));
    },
    close: () => server.shutdown(),
  };
}

/** The stand-in binaries' calls so far, one `<version> <args>` line each. */
export function calls(home: string): string[] {
  try {
    return Deno.readTextFileSync(join(home, "calls")).trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * A `curl` of its own in `home`, running `script` (a POSIX sh body), and the PATH that finds it before the
 * system's: what a script under test downloads with.
 */
export async function fakeCurl(home: string, script: string): Promise<string> {
  const tools = join(home, "tools");
  await Deno.mkdir(tools, { recursive: true });
  await Deno.writeTextFile(join(tools, "curl"), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return `${tools}:/usr/local/bin:/usr/bin:/bin`;
}

/** Why the scripts cannot run here (no `sh`, or neither curl nor wget), or undefined when they can. */
export function scriptsCannotRun(): string | undefined {
  if (Deno.build.os === "windows") return "POSIX sh scripts (the Windows ones are checked on Windows)";
  const have = (cmd: string) => {
    try {
      return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null", stderr: "null" })
        .outputSync().success;
    } catch {
      return false;
    }
  };
  if (!have("curl") && !have("wget")) return "neither curl nor wget is installed (.ci/run installs curl)";
  return undefined;
}
