/**
 * `halton-meter uninstall [--purge] [--yes]`: removes the meter from this machine and puts back what `init`
 * changed. The database stays unless deleting it is confirmed twice.
 *
 * @module
 */
import { boolFlag, type CommandSpec, type Invocation, type Io } from "./command.ts";
import { ExitCode, UsageError } from "../core/errors.ts";
import { currentOs } from "../core/paths.ts";
import { type Machine, machinePaths, realMachine } from "../setup/machine.ts";
import { confirmTyped } from "../setup/prompt.ts";
import { runUninstall } from "../setup/uninstall.ts";

/** Answers the questions `uninstall` may ask; undefined when nobody can answer. */
export interface Confirmations {
  proceed(): Promise<boolean | undefined>;
  purge(db: string): Promise<boolean | undefined>;
}

/** How many times `--purge` was given. */
function purgeCount(inv: Invocation): number {
  const v = inv.flags.purge;
  return Array.isArray(v) ? v.length : v === true ? 1 : 0;
}

/** `uninstall` on `m`, asking through `ask`. */
export async function execute(io: Io, inv: Invocation, m: Machine, ask: Confirmations): Promise<number> {
  const quiet = boolFlag(inv, "yes") || boolFlag(inv, "non-interactive");
  const paths = machinePaths(m);
  if (!quiet) {
    const ok = await ask.proceed();
    if (ok === undefined) {
      throw new UsageError("uninstall needs confirmation", "Run it in a terminal, or pass --yes.");
    }
    if (!ok) {
      io.stdout("Nothing was changed.\n");
      return ExitCode.Ok;
    }
  }
  const times = purgeCount(inv);
  let purge = times >= 2;
  if (times === 1 && !quiet) purge = (await ask.purge(paths.db)) ?? false;
  const result = await runUninstall(m, { purge });
  if (boolFlag(inv, "json")) io.stdout(JSON.stringify({ ...result, purged: purge }, null, 2) + "\n");
  else {
    const kept = result.kept.length ? ` Kept: ${result.kept.join(", ")}.` : "";
    const more = times === 1 && !purge && m.fs.exists(paths.db)
      ? " The database was kept: give --purge twice to delete it without a question."
      : "";
    io.stdout(`Halton Meter is removed.${kept}${more}\n`);
  }
  return ExitCode.Ok;
}

/** The `uninstall` command. */
export const command: CommandSpec = {
  usage: "uninstall [--purge] [--yes] [--non-interactive] [--json]",
  description: [
    "Stops and removes the services (or the built-in supervisor), then puts back everything system_state.json",
    "recorded: user environment variables and env files, shell rc blocks, certifi bundles, the CA's trust",
    "entries, and the system proxy. Removes the meter's own files (ports, mode, ca-bundle.pem, logs, run/)",
    "and the CA if init created it (a CA reused from ~/.mitmproxy stays). config.toml, your own file, stays.",
    "",
    "The database (db.sqlite) is kept unless you say twice that it should go:",
    "  --purge            asks you to type 'delete' to confirm (in a terminal);",
    "  --purge --purge    deletes it without a question.",
    "With --yes or --non-interactive nothing is asked: a single --purge then keeps the database.",
    "Without --yes, uninstall asks before it starts (and refuses to run without a terminal).",
  ].join("\n"),
  flags: [
    {
      name: "purge",
      type: "boolean",
      multiple: true,
      description: "Also delete db.sqlite (see above: twice, or confirmed).",
    },
    { name: "yes", short: "y", type: "boolean", description: "Do not ask before uninstalling." },
    { name: "non-interactive", type: "boolean", description: "Ask nothing (same as --yes)." },
    { name: "json", type: "boolean", description: "Print what was done as JSON." },
  ],
  examples: ["halton-meter uninstall --yes", "halton-meter uninstall --yes --purge --purge"],
  run(io, inv) {
    const m = realMachine(io.env, currentOs(), (l) => io.stderr(l + "\n"));
    return execute(io, inv, m, {
      proceed: () =>
        confirmTyped(
          "Remove Halton Meter from this machine and restore what init changed? Type 'yes': ",
          "yes",
        ),
      purge: (db) =>
        confirmTyped(`Delete the database ${db} and every recorded call? Type 'delete': `, "delete"),
    });
  },
};
