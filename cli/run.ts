/**
 * `halton-meter run [--project P] [--json-env] -- CMD ARGS…`: meters one command by giving it, and it alone,
 * the proxy and CA variables, then gets out of the way: stdio inherited, signals forwarded, the child's exit
 * code returned.
 *
 * @module
 */
import { boolFlag, type CommandSpec, type Invocation, type Io, stringFlag } from "./command.ts";
import { proxyEnv } from "../platform/proxy_env.ts";
import { edgeConfig } from "./edge_config.ts";
import { UsageError } from "../core/errors.ts";
import { ensureCaBundle } from "../platform/ca_bundle_file.ts";
import { listening } from "../setup/probe.ts";
import { effectivePorts } from "../core/ports.ts";
import { toSlug } from "../core/slug.ts";
import { readTextIfThere } from "../core/io.ts";

/** The exit code of a command that could not be found, as shells report it. */
export const NOT_FOUND = 127;
/** The exit code of a command that was found but could not be started. */
export const CANNOT_RUN = 126;

/** The `run` command. */
export const command: CommandSpec = {
  usage: "run [--project P] [--json-env] -- CMD [ARGS…]",
  description: [
    "Runs one command with its HTTPS traffic sent through the meter: HTTPS_PROXY and HTTP_PROXY point at the",
    "edge, NO_PROXY keeps local traffic direct, NODE_USE_ENV_PROXY=1 makes Node's fetch follow the proxy, and",
    "the CA variables (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO, AWS_CA_BUNDLE,",
    "NODE_EXTRA_CA_CERTS, DENO_CERT) make it trust the local CA.",
    "Nothing outside the command is changed. With --project every call it makes is tagged with that project;",
    "without it the project is found from the process (HALTON_PROJECT, .haltonrc, the git repository, …).",
    "The exit code is the command's (127 when it is not found).",
  ].join("\n"),
  flags: [
    {
      name: "project",
      short: "p",
      type: "string",
      value: "P",
      description: "Tag every call with project P.",
    },
    {
      name: "json-env",
      type: "boolean",
      description: "Print the variables as a JSON object instead of running anything.",
    },
  ],
  positionals: true,
  examples: [
    "halton-meter run --project acme -- npm test",
    "halton-meter run -- python agent.py",
    "halton-meter run --project acme --json-env",
  ],
  run: runCommand,
};

async function runCommand(io: Io, inv: Invocation): Promise<number> {
  const raw = stringFlag(inv, "project");
  const project = raw === undefined ? undefined : toSlug(raw);
  if (raw !== undefined && !project) {
    throw new UsageError(
      `run: '${raw}' is not a valid project name`,
      "Use lowercase letters, digits and - _ : / (spaces become -), e.g. --project acme-web.",
    );
  }
  const argv = inv.rest.length ? inv.rest : inv.positionals;
  const jsonEnv = boolFlag(inv, "json-env");
  if (jsonEnv && argv.length) {
    throw new UsageError(
      "run: --json-env prints the variables and runs nothing; drop the command or the flag",
    );
  }
  if (!jsonEnv && !argv.length) {
    throw new UsageError("run: no command given", "Put the command after --: halton-meter run -- npm test");
  }
  const { edge } = effectivePorts(io.paths.effectivePorts, edgeConfig(io));
  const caCert = readTextIfThere(io.paths.caCert) !== undefined ? io.paths.caCert : undefined;
  if (!caCert) {
    io.stderr(
      `halton-meter: no CA certificate at ${io.paths.caCert} yet, so the CA variables are not set.\n` +
        "hint: run 'halton-meter init' to create it.\n",
    );
  }
  const vars = proxyEnv({ edgePort: edge, project, caCert, caBundle: caCert && ensureCaBundle(io.paths) });
  if (jsonEnv) {
    io.stdout(JSON.stringify(vars, null, 2) + "\n");
    return 0;
  }
  if (!await listening(edge)) {
    io.stderr(
      `halton-meter: the meter's edge is not listening on 127.0.0.1:${edge}; ${
        argv[0]
      } runs anyway, but its ` +
        "HTTPS calls will fail until the meter is started.\n" +
        "hint: start it with 'halton-meter up' (in the foreground) or 'halton-meter start' (as services).\n",
    );
  }
  return await spawnInherited(io, argv, { ...definedOnly(io.env), ...vars });
}

/** Runs `argv` with `env` and the terminal, forwarding SIGINT and SIGTERM, and returns its exit code. */
async function spawnInherited(io: Io, argv: string[], env: Record<string, string>): Promise<number> {
  // Listen before spawning: a signal that lands between the spawn and the listener would kill us and orphan
  // the command. One that arrives before the child exists is passed on as soon as it does.
  let child: Deno.ChildProcess | undefined;
  let pending: Deno.Signal | undefined;
  // On Windows the console delivers Ctrl-C to the child itself; we only must not die of it first.
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (Deno.build.os === "windows") return;
      if (!child) {
        pending = signal;
        return;
      }
      try {
        child.kill(signal);
      } catch { /* the child already exited */ }
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  try {
    try {
      child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        env,
        clearEnv: true,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        io.stderr(`halton-meter: command not found: ${argv[0]}\nhint: check the name and your PATH.\n`);
        return NOT_FOUND;
      }
      io.stderr(`halton-meter: cannot run ${argv[0]}: ${(e as Error).message}\n`);
      return CANNOT_RUN;
    }
    if (pending) child.kill(pending);
    return (await child.status).code;
  } finally {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  }
}

function definedOnly(env: Io["env"]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}
