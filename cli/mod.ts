/**
 * The command table. Each entry loads its module only when run, so `halton-meter edge` never loads the
 * daemon's code (the edge must start fast and stay small). A new command is one line here and one module.
 *
 * @module
 */
import type { CommandSpec } from "./command.ts";

/** One row of the command table. */
export interface CommandEntry {
  name: string;
  summary: string;
  /** Loads the command; a command with subcommands is never run itself, so its loader is not called. */
  load: () => Promise<{ command: CommandSpec }>;
  /** `pricing list`, `pricing update`, …: each a command of its own, with its own flags and help. */
  subcommands?: readonly CommandEntry[];
}

const pricing = (
  name: "list" | "unknown" | "recost" | "import" | "update",
  summary: string,
): CommandEntry => ({
  name,
  summary,
  load: () => import("./pricing.ts").then((m) => ({ command: m[name] })),
});

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: "init", summary: "Set this machine up (safe to run again).", load: () => import("./init.ts") },
  {
    name: "status",
    summary: "Show every component; exit 3 when unhealthy.",
    load: () => import("./status.ts"),
  },
  {
    name: "doctor",
    summary: "Check every layer; --fix repairs what is safe.",
    load: () => import("./doctor.ts"),
  },
  {
    name: "start",
    summary: "Start the edge and the daemon.",
    load: () => import("./service.ts").then((m) => ({ command: m.start })),
  },
  {
    name: "stop",
    summary: "Stop the daemon (the edge stays); --all both.",
    load: () => import("./service.ts").then((m) => ({ command: m.stop })),
  },
  {
    name: "restart",
    summary: "Restart the daemon.",
    load: () => import("./service.ts").then((m) => ({ command: m.restart })),
  },
  { name: "env", summary: "Print the proxy and CA variables for a shell.", load: () => import("./env.ts") },
  {
    name: "uninstall",
    summary: "Remove the meter and restore what init changed.",
    load: () => import("./uninstall.ts"),
  },
  {
    name: "supervise",
    summary: "Run the built-in supervisor (what start --detach runs).",
    load: () => import("./service.ts").then((m) => ({ command: m.supervisor })),
  },
  {
    name: "report",
    summary: "Show spend by project, model, provider, day, week or month.",
    load: () => import("./report.ts"),
  },
  {
    name: "pricing",
    summary: "Rates, unpriced models, recost, import, update.",
    load: () => Promise.reject(new Error("pricing is run through its subcommands")),
    subcommands: [
      pricing("list", "The rates in use, per model, tier and prompt size."),
      pricing("unknown", "Models seen without a cost, and what they still lack."),
      pricing("recost", "Price stored calls again from their token columns."),
      pricing("import", "Read LiteLLM's price map or the data package's format from a file."),
      pricing("update", "Fetch fresh rates from a URL (or read a file) into the database."),
    ],
  },
  { name: "run", summary: "Run one command with its LLM calls metered.", load: () => import("./run.ts") },
  {
    name: "daemon",
    summary: "Run the intercepting daemon in the foreground.",
    load: () => import("./daemon.ts"),
  },
  {
    name: "edge",
    summary: "Run the fail-open proxy edge in the foreground.",
    load: () => import("./edge.ts"),
  },
  {
    name: "up",
    summary: "Run the edge and the daemon together in the foreground.",
    load: () => import("./up.ts"),
  },
];
