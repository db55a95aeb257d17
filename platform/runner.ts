/**
 * The one door to other programs: every `launchctl`, `systemctl`, `schtasks`, `security` or `certutil` call
 * goes through a {@linkcode Runner} passed in, so tests run whole plans against a {@linkcode RecordingRunner}
 * and never touch the real service manager or trust stores.
 *
 * @module
 */

/** What a program said and how it ended. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Extra settings of one run. */
export interface RunOptions {
  /** Text written to the program's stdin, which is then closed. */
  readonly stdin?: string;
  /** Variables added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** Runs `cmd` with `args` and resolves when it ends; never rejects for a non-zero exit. */
export type Runner = (cmd: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

/** The exit code reported when the program does not exist, as shells do. */
export const NOT_FOUND = 127;

/** Runs real programs with `Deno.Command`; a missing program is exit code {@linkcode NOT_FOUND}. */
export const systemRunner: Runner = async (cmd, args, opts = {}) => {
  const command = new Deno.Command(cmd, {
    args: [...args],
    cwd: opts.cwd,
    env: opts.env ? { ...opts.env } : undefined,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  let child: Deno.ChildProcess;
  try {
    child = command.spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { code: NOT_FOUND, stdout: "", stderr: `${cmd}: not found` };
    }
    throw e;
  }
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
};

/** One call a {@linkcode RecordingRunner} saw. */
export interface RecordedCall {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly opts?: RunOptions;
}

/** A scripted answer: used for every call whose command line (`cmd arg1 arg2…`) matches `when`. */
export interface ScriptedAnswer {
  /** A prefix of the command line, or a pattern tested against it. */
  readonly when: string | RegExp;
  readonly code?: number;
  readonly stdout?: string;
  readonly stderr?: string;
}

/**
 * A runner for tests: records each call and answers from a script (the first matching answer wins; a call
 * no answer matches exits 0 with no output). Nothing is run.
 */
export class RecordingRunner {
  readonly calls: RecordedCall[] = [];
  readonly #script: readonly ScriptedAnswer[];

  constructor(script: readonly ScriptedAnswer[] = []) {
    this.#script = script;
  }

  /** The runner to hand to the code under test. */
  readonly run: Runner = (cmd, args, opts) => {
    this.calls.push({ cmd, args: [...args], opts });
    const line = [cmd, ...args].join(" ");
    const answer = this.#script.find((a) =>
      typeof a.when === "string" ? line.startsWith(a.when) : a.when.test(line)
    );
    return Promise.resolve({
      code: answer?.code ?? 0,
      stdout: answer?.stdout ?? "",
      stderr: answer?.stderr ?? "",
    });
  };

  /** Every call as one line, `cmd arg1 arg2…`, in order: what a test asserts on. */
  lines(): string[] {
    return this.calls.map((c) => [c.cmd, ...c.args].join(" "));
  }
}
