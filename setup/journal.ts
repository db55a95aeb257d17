/**
 * What one step of `init` or `uninstall` did, or would do under `--dry-run`: the files it wrote (with their
 * contents when dry), the commands it ran, and notes for the user. A {@linkcode Journal} carries plans and
 * file writes out (or only records them when dry), so one code path serves both.
 *
 * @module
 */
import { describeStep, runPlan, type StepOutcome } from "../platform/plan.ts";
import { NOT_FOUND } from "../platform/runner.ts";
import type { Plan, RenderedFile } from "../platform/types.ts";
import type { WriteOutcome } from "../platform/files.ts";
import type { Machine } from "./machine.ts";

/** One file a step wrote, removed or would write. */
export interface FileChange {
  path: string;
  purpose: string;
  change: WriteOutcome | "removed" | "restored";
  /** The full text, in dry-run reports. */
  content?: string;
}

/** One command a step ran or would run. */
export interface CommandRecord {
  /** The command as a POSIX shell line. */
  line: string;
  why: string;
  status: "planned" | "done" | "skipped" | "warned";
  /** What went wrong for a warned step, and what to do. */
  note?: string;
}

/** What became of one step. */
export interface StepReport {
  name: string;
  status: "changed" | "unchanged" | "skipped" | "warned" | "planned";
  summary: string;
  files: FileChange[];
  commands: CommandRecord[];
  notes: string[];
}

/**
 * True when a step changed something, or would in a dry run. A warned step counts only for what it did: a
 * warning that repeats on every run (a tool that is not installed) is not a change.
 */
export function madeChanges(r: StepReport): boolean {
  if (r.status === "changed" || r.status === "planned") return true;
  return r.status === "warned" && changedIn(r.files, r.commands);
}

function changedIn(files: readonly FileChange[], commands: readonly CommandRecord[]): boolean {
  return files.some((f) => f.change !== "unchanged") ||
    commands.some((c) => c.status === "done" || c.status === "planned");
}

/** Collects one step's files, commands and notes, and carries them out unless dry. */
export class Journal {
  readonly files: FileChange[] = [];
  readonly commands: CommandRecord[] = [];
  readonly notes: string[] = [];
  readonly #m: Machine;
  readonly dryRun: boolean;

  constructor(m: Machine, dryRun: boolean) {
    this.#m = m;
    this.dryRun = dryRun;
  }

  /** Runs `plan` (or records it when dry). Failed optional steps become warned commands with a note. */
  async run(plan: Plan): Promise<StepOutcome[]> {
    if (this.dryRun) {
      for (const step of plan) {
        this.commands.push({ line: describeStep(step), why: step.why, status: "planned" });
      }
      return plan.map((step) => ({ step, status: "skipped" }));
    }
    const outcomes = await runPlan(plan, this.#m.runner, this.#m.fs.planFs());
    for (const o of outcomes) {
      const rec: CommandRecord = { line: describeStep(o.step), why: o.step.why, status: o.status };
      if (o.status === "warned" && o.step.kind === "run") {
        const missing = o.result?.code === NOT_FOUND;
        const said = (o.result?.stderr || o.result?.stdout || "").trim().split("\n")[0];
        rec.note = missing
          ? `skipped: '${o.step.cmd}' is not installed. ${o.step.hint ?? ""}`.trim()
          : `failed (exit ${o.result?.code}${said ? `: ${said}` : ""}). ${o.step.hint ?? ""}`.trim();
        this.notes.push(`${o.step.why}: ${rec.note}`);
      }
      this.commands.push(rec);
    }
    return outcomes;
  }

  /**
   * Records an action the caller carries out itself unless dry (the supervisor is steered through files, not a
   * plan): shown as planned when dry, done otherwise.
   */
  record(line: string, why: string): void {
    this.commands.push({ line, why, status: this.dryRun ? "planned" : "done" });
  }

  /** Writes `file` when its bytes differ (or records what would happen when dry). */
  write(file: RenderedFile): WriteOutcome {
    const change = this.dryRun ? this.#m.fs.compare(file) : this.#m.fs.writeRendered(file);
    this.files.push({
      path: file.path,
      purpose: file.purpose,
      change,
      ...(this.dryRun && { content: file.content }),
    });
    return change;
  }

  /** Writes plain text to `path` when it differs; records the change. */
  writeText(path: string, content: string, purpose: string, mode?: number): WriteOutcome {
    return this.write({ path, content, purpose, encoding: "utf-8", mode });
  }

  /** Removes `path` if there (or records that it would). */
  remove(path: string, purpose: string): void {
    if (!this.#m.fs.exists(path)) return;
    if (!this.dryRun) this.#m.fs.remove(path);
    this.files.push({ path, purpose, change: "removed" });
  }

  /** Puts `bytes` back at `path` (or records that it would). */
  restore(path: string, bytes: Uint8Array, purpose: string): void {
    if (!this.dryRun) this.#m.fs.write(path, bytes);
    this.files.push({ path, purpose, change: "restored" });
  }

  /** Adds a note for the user. */
  note(text: string): void {
    this.notes.push(text);
  }

  /** True when a file changed or a command ran (or would). */
  get changed(): boolean {
    return changedIn(this.files, this.commands);
  }

  /** The step's report. */
  report(name: string, summary: string, status?: StepReport["status"]): StepReport {
    const warned = this.commands.some((c) => c.status === "warned");
    return {
      name,
      status: status ??
        (this.dryRun && this.changed
          ? "planned"
          : warned
          ? "warned"
          : this.changed
          ? "changed"
          : "unchanged"),
      summary,
      files: this.files,
      commands: this.commands,
      notes: this.notes,
    };
  }
}
