/**
 * Yes/no questions for a person at a terminal. Nothing is asked when stdin is not a terminal: the answer is
 * then unknown, and callers take the safe default.
 *
 * @module
 */
import { writeAllSync } from "../core/io.ts";

/** Reads one line from stdin, byte by byte so nothing after the newline is consumed. */
function readLine(): string | undefined {
  const buf = new Uint8Array(1);
  const bytes: number[] = [];
  while (true) {
    const n = Deno.stdin.readSync(buf);
    if (n === null || n === 0) {
      return bytes.length ? new TextDecoder().decode(new Uint8Array(bytes)) : undefined;
    }
    if (buf[0] === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
    bytes.push(buf[0]);
  }
}

/** Asks `question` on stderr and reads the answer: true for y/yes, false otherwise, undefined without a terminal. */
export function askTerminal(question: string): Promise<boolean | undefined> {
  if (!Deno.stdin.isTerminal()) return Promise.resolve(undefined);
  writeAllSync(Deno.stderr, question);
  const line = readLine();
  return Promise.resolve(line === undefined ? undefined : /^\s*y(es)?\s*$/i.test(line));
}

/** Asks the user to type `word` to confirm something that cannot be undone; undefined without a terminal. */
export function confirmTyped(question: string, word: string): Promise<boolean | undefined> {
  if (!Deno.stdin.isTerminal()) return Promise.resolve(undefined);
  writeAllSync(Deno.stderr, question);
  const line = readLine();
  return Promise.resolve(line === undefined ? undefined : line.trim() === word);
}
