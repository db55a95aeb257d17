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
  load: () => Promise<{ command: CommandSpec }>;
}

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
  { name: "pricing", summary: "Rates, unpriced models, recost, import.", load: () => import("./pricing.ts") },
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
