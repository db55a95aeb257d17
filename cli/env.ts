/**
 * `halton-meter env [--shell S] [--json]`: the proxy and CA variables as lines a shell can evaluate,
 * `eval "$(halton-meter env)"`, from the one definition `run` and `init` use too.
 *
 * @module
 */
import { basename } from "node:path";
import { boolFlag, type CommandSpec, type Invocation, type Io, stringFlag } from "./command.ts";
import { proxyEnv } from "../platform/proxy_env.ts";
import { ensureCaBundle } from "../platform/ca_bundle_file.ts";
import { edgeConfig } from "./edge_config.ts";
import { listening } from "../setup/probe.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { currentOs } from "../core/paths.ts";
import { effectivePorts } from "../core/ports.ts";

/** The shells `env` writes for. */
export const SHELLS = ["bash", "zsh", "fish", "powershell", "cmd"] as const;
/** One of {@linkcode SHELLS}. */
export type Shell = typeof SHELLS[number];

/** The shell to write for: `--shell`, else the login shell's name, else the OS's usual one. */
export function pickShell(flag: string | undefined, env: Io["env"], os = currentOs()): Shell {
  if (flag !== undefined) {
    if ((SHELLS as readonly string[]).includes(flag)) return flag as Shell;
    throw new UsageError(`env: unknown shell '${flag}'`, `Use one of: ${SHELLS.join(", ")}.`);
  }
  const login = basename(env.SHELL ?? "").replace(/\.exe$/, "");
  if ((SHELLS as readonly string[]).includes(login)) return login as Shell;
  return os === "windows" ? "powershell" : "bash";
}

/** `vars` as lines for `shell`, each value quoted so the shell takes it literally. */
export function renderEnv(shell: Shell, vars: Record<string, string>): string {
  return Object.entries(vars).map(([name, value]) => {
    switch (shell) {
      case "fish":
        return `set -gx ${name} '${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}';`;
      case "powershell":
        return `$env:${name} = '${value.replaceAll("'", "''")}'`;
      case "cmd":
        return `set "${name}=${value}"`;
      default:
        return `export ${name}='${value.replaceAll("'", `'\\''`)}'`;
    }
  }).join("\n") + "\n";
}

/**
 * The variables for this machine: the edge's port, and the CA files that exist. `ca-bundle.pem` is built here
 * when the CA exists and the bundle does not (or is stale), as after `up` or `start` without `init`.
 */
export function envVars(io: Io, rootFiles?: readonly string[]): Record<string, string> {
  const ports = effectivePorts(io.paths.effectivePorts, edgeConfig(io));
  const exists = (p: string) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  const caCert = exists(io.paths.caCert) ? io.paths.caCert : undefined;
  const built = caCert && ensureCaBundle(io.paths, rootFiles);
  return proxyEnv({
    edgePort: ports.edge,
    caCert,
    caBundle: built || (exists(io.paths.caBundle) ? io.paths.caBundle : undefined),
  });
}

/** `env` with these I/O and flags. */
export async function execute(io: Io, inv: Invocation): Promise<number> {
  const shell = pickShell(stringFlag(inv, "shell"), io.env);
  const vars = envVars(io);
  io.stdout(boolFlag(inv, "json") ? JSON.stringify(vars, null, 2) + "\n" : renderEnv(shell, vars));
  const edge = Number(new URL(vars.HTTPS_PROXY).port);
  if (!await listening(edge)) {
    io.stderr(
      `halton-meter: the meter's edge is not listening on 127.0.0.1:${edge}; HTTPS calls through these ` +
        "variables fail until the meter is started.\n" +
        "hint: start it with 'halton-meter up' (in the foreground) or 'halton-meter start' (as services).\n",
    );
  }
  return ExitCode.Ok;
}

/** The `env` command. */
export const command: CommandSpec = {
  usage: "env [--shell bash|zsh|fish|powershell|cmd] [--json]",
  description: [
    "Prints the variables that send a shell's HTTPS traffic through the meter and make its tools trust the",
    "local CA: HTTPS_PROXY/HTTP_PROXY (both cases) pointing at the edge, NO_PROXY for local addresses,",
    "NODE_USE_ENV_PROXY=1 (Node's fetch ignores the proxy without it), and the CA variables (SSL_CERT_FILE,",
    "REQUESTS_CA_BUNDLE, … for ca-bundle.pem, built here when missing; NODE_EXTRA_CA_CERTS, DENO_CERT for the",
    "CA certificate) once the CA exists ('up', 'start' or 'init' creates it). The shell defaults to your login",
    "shell ($SHELL), or PowerShell on Windows. --json prints {NAME: value}.",
  ].join("\n"),
  flags: [
    { name: "shell", type: "string", value: "SHELL", description: "bash, zsh, fish, powershell or cmd." },
    { name: "json", type: "boolean", description: "Print the variables as a JSON object." },
  ],
  examples: [
    'eval "$(halton-meter env)"',
    "halton-meter env --shell fish | source",
    "halton-meter env --shell powershell | Invoke-Expression",
  ],
  run: execute,
};
