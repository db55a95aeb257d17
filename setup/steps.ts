/**
 * Running the numbered steps of `init` and `uninstall`: each gets a {@linkcode Journal}, its outcome becomes
 * a report, and a progress line (`[3/8] trust: …`) goes to stderr as it ends.
 *
 * @module
 */
import type { Ports } from "../core/ports.ts";
import type { InstallMode, PlatformContext } from "../platform/types.ts";
import { Journal, type StepReport } from "./journal.ts";
import { type Machine, machinePlatform, platformContext } from "./machine.ts";
import type { ServiceManagerKind } from "./state.ts";

/** What a step body returns: a summary line, or a summary with a status and a value for later steps. */
export type StepOut<T> = string | { summary: string; status?: StepReport["status"]; value?: T };

/** Runs steps in order and keeps their reports. */
export class StepRunner {
  readonly reports: StepReport[] = [];
  readonly #m: Machine;
  readonly #dryRun: boolean;
  readonly #total: number;

  constructor(m: Machine, dryRun: boolean, total: number) {
    this.#m = m;
    this.#dryRun = dryRun;
    this.#total = total;
  }

  /** The platform context of the machine for `mode` and `ports`. */
  context(mode: InstallMode, ports: Ports): PlatformContext {
    return platformContext(this.#m, mode, ports);
  }

  /** Runs one step: `body` gets a fresh journal; its report is kept and printed as one progress line. */
  async step<T>(
    name: string,
    body: (j: Journal) => Promise<StepOut<T>> | StepOut<T>,
  ): Promise<{ report: StepReport; value: T }> {
    const j = new Journal(this.#m, this.#dryRun);
    const out = await body(j);
    const { summary, status, value } = typeof out === "string"
      ? { summary: out, status: undefined, value: undefined }
      : out;
    const report = j.report(name, summary, status);
    this.reports.push(report);
    // A dry run's steps are printed once, as the plan (in the future tense), after they have all run.
    if (this.#dryRun) return { report, value: value as T };
    const tag = report.status === "unchanged" ? "" : ` [${report.status}]`;
    this.#m.progress(`[${this.reports.length}/${this.#total}] ${name}: ${summary}${tag}`);
    for (const f of report.files) {
      if (f.change !== "unchanged") this.#m.progress(`      ${f.change} ${f.path}`);
    }
    for (const n of report.notes) this.#m.progress(`      note: ${n}`);
    return { report, value: value as T };
  }
}

/** Restarts the daemon alone, through the service manager or the supervisor; the edge is left alone. */
export async function restartDaemonPlan(
  m: Machine,
  j: Journal,
  ctx: PlatformContext,
  manager: ServiceManagerKind,
): Promise<void> {
  if (manager !== "supervisor") {
    await j.run(machinePlatform(m).restartServices(ctx, ["daemon"]));
    return;
  }
  j.record("halton-meter restart", "restart the daemon under the supervisor");
  if (!j.dryRun) await m.supervisor.restartDaemon();
}
