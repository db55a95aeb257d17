/**
 * Plans as data, and the one place they are carried out: `runPlan()` runs each step through the injected
 * runner and folder operations, so `init --dry-run` can print the very plan that `init` would run.
 *
 * @module
 */
import { MeterError } from "../core/errors.ts";
import { NOT_FOUND, type Runner, type RunResult } from "./runner.ts";
import type { MkdirStep, Plan, RemoveStep, RunStep, Step, StepCondition } from "./types.ts";

/** A run step; `extra` adds `okCodes`, `optional`, `hint`, `when`. */
export function run(
  cmd: string,
  args: readonly string[],
  why: string,
  extra: Omit<RunStep, "kind" | "cmd" | "args" | "why"> = {},
): RunStep {
  return { kind: "run", cmd, args, why, ...extra };
}

/** A mkdir step. */
export function mkdir(path: string, why: string): MkdirStep {
  return { kind: "mkdir", path, why };
}

/** A remove step. */
export function remove(path: string, why: string): RemoveStep {
  return { kind: "remove", path, why };
}

/** The folder operations a plan needs; the defaults act on the real file system. */
export interface PlanFs {
  exists(path: string): boolean;
  mkdir(path: string): void;
  remove(path: string): void;
}

/** The real file system. */
export const realFs: PlanFs = {
  exists(path) {
    try {
      Deno.statSync(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  },
  mkdir(path) {
    Deno.mkdirSync(path, { recursive: true });
  },
  remove(path) {
    try {
      Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  },
};

/** What became of one step. */
export interface StepOutcome {
  readonly step: Step;
  /** `warned`: an optional step failed and the plan went on. */
  readonly status: "done" | "skipped" | "warned";
  readonly result?: RunResult;
}

/**
 * Runs `plan` in order. A failed optional step is a warning; any other failure stops the plan.
 *
 * @throws {MeterError} naming the failed command, its exit code and first line of stderr, with the step's hint.
 */
export async function runPlan(plan: Plan, runner: Runner, fs: PlanFs = realFs): Promise<StepOutcome[]> {
  const out: StepOutcome[] = [];
  for (const step of plan) {
    // A folder already there is nothing done: a second init must be able to say that nothing changed.
    if (step.kind === "mkdir") {
      const there = fs.exists(step.path);
      if (!there) fs.mkdir(step.path);
      out.push({ step, status: there ? "skipped" : "done" });
      continue;
    }
    if (step.kind === "remove") {
      fs.remove(step.path);
      out.push({ step, status: "done" });
      continue;
    }
    if (step.when && !holds(step.when, fs)) {
      out.push({ step, status: "skipped" });
      continue;
    }
    const result = await runner(step.cmd, step.args);
    if ((step.okCodes ?? [0]).includes(result.code)) {
      out.push({ step, status: "done", result });
      continue;
    }
    if (step.optional) {
      out.push({ step, status: "warned", result });
      continue;
    }
    const said = (result.stderr || result.stdout).trim().split("\n")[0];
    throw new MeterError(
      `${step.why} failed: '${describeStep(step)}' exited with ${result.code}${said ? `: ${said}` : ""}`,
      {
        hint: step.hint ??
          (result.code === NOT_FOUND
            ? `'${step.cmd}' is not installed or not on PATH.`
            : "Run the command by hand to see the whole message, then run 'halton-meter init' again."),
      },
    );
  }
  return out;
}

function holds(c: StepCondition, fs: PlanFs): boolean {
  if (c.missing !== undefined && fs.exists(c.missing)) return false;
  if (c.exists !== undefined && !fs.exists(c.exists)) return false;
  return true;
}

/** A step as one line a person could paste into a POSIX shell, for `--dry-run` and messages. */
export function describeStep(step: Step): string {
  if (step.kind === "mkdir") return `mkdir -p ${shQuote(step.path)}`;
  if (step.kind === "remove") return `rm -f ${shQuote(step.path)}`;
  const line = [step.cmd, ...step.args].map(shQuote).join(" ");
  if (step.when?.missing) return `[ -e ${shQuote(step.when.missing)} ] || ${line}`;
  if (step.when?.exists) return `[ -e ${shQuote(step.when.exists)} ] && ${line}`;
  return line;
}

/** `arg` quoted for a POSIX shell: bare when it is plainly safe, else in single quotes. */
export function shQuote(arg: string): string {
  if (arg !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
