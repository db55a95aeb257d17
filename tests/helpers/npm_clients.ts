/**
 * The real clients the end-to-end tests drive, from the npm registry at pinned versions: installed once into a
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
 * The pinned clients, installed on first use (a minute or two: Claude Code is a 400 MB native binary). The
 * install goes to a fresh folder renamed into place once complete, so an interrupted one is never reused.
 */
export async function installedClients(): Promise<InstalledClients> {
  const pins = Object.entries(CLIENT_PINS).map(([name, version]) => `${name}@${version}`);
  const dir = join(testCacheDir(), `clients-${pins.join("+").replace(/[^a-z0-9.+-]/gi, "_")}`);
  const bins = paths(dir);
  if (!bins) return { ok: false, reason: `no Claude Code and Codex builds for ${Deno.build.target} here` };
  if (isFile(bins.claude) && isFile(bins.codex)) return { ok: true, ...bins, dir };
  const staging = `${dir}.partial-${Deno.pid}`;
  try {
    await Deno.mkdir(staging, { recursive: true });
    const out = await new Deno.Command("npm", {
      args: ["install", "--prefix", staging, "--no-audit", "--no-fund", "--loglevel=error", ...pins],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(600_000),
    }).output();
    if (!out.success) {
      const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ");
      return { ok: false, reason: `npm install ${pins.join(" ")} failed: ${why}` };
    }
    const staged = paths(staging)!;
    if (!isFile(staged.claude) || !isFile(staged.codex)) {
      return { ok: false, reason: `npm installed ${pins.join(" ")} without a native build for this machine` };
    }
    try {
      await Deno.rename(staging, dir);
    } catch {
      // Another run finished the same install first: use its copy.
    }
    return { ok: true, ...bins, dir };
  } catch (e) {
    return { ok: false, reason: `cannot run npm: ${(e as Error).message}` };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}
