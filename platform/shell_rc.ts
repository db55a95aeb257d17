/**
 * The block `init --apps` keeps in shell rc files, between fixed markers, and the text operations over an rc
 * file: insert or replace it in place, or remove it so the file is byte for byte what it was before.
 *
 * Insertion appends a newline and then the block to a non-empty file, so that removal can always take the
 * block and that one newline back out, whether or not the file ended with a newline of its own.
 *
 * @module
 */
import { MeterError } from "../core/errors.ts";
import type { EnvVar, ShellRc } from "./types.ts";

/** First line of the block. */
export const RC_START = "# >>> halton-meter >>>";
/** Last line of the block. */
export const RC_END = "# <<< halton-meter <<<";

/** The block for `shell` setting `vars`, markers included, ending with a newline. */
export function renderRcBlock(shell: ShellRc["shell"], vars: readonly EnvVar[]): string {
  const lines = vars.map((v) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name)) throw new Error(`not a variable name: ${v.name}`);
    return shell === "fish"
      ? `set -gx ${v.name} ${fishQuote(v.value)}`
      : `export ${v.name}=${shQuote(v.value)}`;
  });
  return [
    RC_START,
    "# Written by 'halton-meter init'; 'halton-meter uninstall' removes it. Edits inside are overwritten.",
    ...lines,
    RC_END,
    "",
  ].join("\n");
}

/** Where the block sits in `text`: from its start marker to just after its end marker's line. */
function find(text: string, file: string): { start: number; end: number } | undefined {
  const startMatch = new RegExp(`^${escape(RC_START)}[ \\t]*\\r?$`, "m").exec(text);
  if (!startMatch) return undefined;
  const after = startMatch.index + startMatch[0].length;
  const endMatch = new RegExp(`^${escape(RC_END)}[ \\t]*\\r?$`, "m").exec(text.slice(after));
  if (!endMatch) {
    throw new MeterError(`${file} has the line '${RC_START}' but no '${RC_END}' after it`, {
      hint: `Remove the partial halton-meter block from ${file} by hand, then run the command again.`,
    });
  }
  let end = after + endMatch.index + endMatch[0].length;
  if (text[end] === "\n") end++;
  return { start: startMatch.index, end };
}

/** True when `text` holds the block. */
export function hasRcBlock(text: string, file = "the rc file"): boolean {
  return find(text, file) !== undefined;
}

/**
 * `text` with `block` in it: the existing block replaced where it stands, else `block` appended. Inserting
 * the same block twice changes nothing the second time.
 *
 * @throws {MeterError} when the file has a start marker without an end marker.
 */
export function upsertRcBlock(text: string, block: string, file = "the rc file"): string {
  const at = find(text, file);
  if (at) return text.slice(0, at.start) + block + text.slice(at.end);
  return text === "" ? block : `${text}\n${block}`;
}

/**
 * `text` without the block and the newline insertion put before it: exactly the text before the insertion.
 *
 * @throws {MeterError} when the file has a start marker without an end marker.
 */
export function removeRcBlock(text: string, file = "the rc file"): string {
  const at = find(text, file);
  if (!at) return text;
  const start = at.start > 0 ? at.start - 1 : 0;
  return text.slice(0, start) + text.slice(at.end);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function fishQuote(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
