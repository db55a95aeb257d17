/**
 * What every long-running process of ours (edge, daemon, `up`, the built-in supervisor) does the same way
 * around its work: a logger configured from `[logging]`, and waiting for the signal that stops it.
 *
 * @module
 */
import { type Config, loadConfig } from "./config.ts";
import { Logger } from "./log.ts";
import type { Paths } from "./paths.ts";

/**
 * The logger of `process` (JSON lines to stderr and `logs/<process>.jsonl`), configured from `[logging]`:
 * `logging` when the caller has loaded the config already, else read from it now.
 */
export function processLogger(
  process: string,
  paths: Paths,
  logging: Config["logging"] = loadConfig(paths.config).config.logging,
): Logger {
  return new Logger({
    process,
    dir: paths.logs,
    stderr: true,
    level: logging.level,
    maxBytes: logging.max_bytes,
    keep: logging.keep,
  });
}

/** The signals that stop a process; Windows delivers only Ctrl-C and Ctrl-Break to a console process. */
function stopSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
}

/** Resolves with the first stop signal, its listeners removed so the process can exit. */
export function untilStopSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    const handlers = stopSignals().map((signal) => {
      const handler = () => {
        for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
  });
}
