/**
 * The real {@linkcode CommandRunner}: runs a tool (`lsof`, `ps`, `netstat`, PowerShell) with no stdin, its
 * stderr discarded, and a time limit, and reports a missing tool or a timeout as code -1 instead of throwing.
 *
 * @module
 */
import type { CommandRunner } from "./types.ts";

/** A runner whose commands are killed after `timeoutMs`. */
export function commandRunner(timeoutMs = 5000): CommandRunner {
  return async (cmd, args) => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const out = await new Deno.Command(cmd, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "null",
        signal,
      }).output();
      // Killed for taking too long: whatever it printed is partial.
      if (signal.aborted) return { code: -1, stdout: "" };
      return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
    } catch {
      return { code: -1, stdout: "" };
    }
  };
}
