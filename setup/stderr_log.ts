/**
 * Keeps a child's stderr in `logs/<role>.stderr.log`, so what the meter's own log cannot hold (a crash before
 * the logger exists, a runtime panic, an unhandled error) is where the user looks. The file is appended to and
 * moved to `<role>.stderr.1.log` once it passes `maxBytes`. Write failures are dropped: the child must run.
 *
 * @module
 */
import { join } from "node:path";

/** How big one stderr log may grow before it is rotated. */
export const STDERR_LOG_BYTES = 1024 * 1024;

/** Copies `stream` into `<dir>/<role>.stderr.log` until it ends. */
export async function keepStderr(
  stream: ReadableStream<Uint8Array>,
  dir: string,
  role: string,
  maxBytes = STDERR_LOG_BYTES,
): Promise<void> {
  const file = join(dir, `${role}.stderr.log`);
  let size = 0;
  try {
    Deno.mkdirSync(dir, { recursive: true });
    size = Deno.statSync(file).size;
  } catch { /* a new file */ }
  for await (const chunk of stream) {
    try {
      if (size + chunk.length > maxBytes) {
        Deno.renameSync(file, join(dir, `${role}.stderr.1.log`));
        size = 0;
      }
      Deno.writeFileSync(file, chunk, { append: true });
      size += chunk.length;
    } catch { /* a full or read-only disk: the child's stderr is dropped, never blocked */ }
  }
}
