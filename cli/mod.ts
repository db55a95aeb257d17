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
  { name: "report", summary: "Show spend by project, model, provider or day.", load: () => import("./report.ts") },
];
