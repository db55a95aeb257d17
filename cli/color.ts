/**
 * ANSI colour for human output: headers and totals in bold, warnings in yellow, errors in red. Off unless the
 * stream is a terminal and `NO_COLOR` is unset or empty (https://no-color.org), so that piped output and logs
 * stay plain text.
 *
 * @module
 */

/** The styles a command may use; each returns its text unchanged when colour is off. */
export interface Paint {
  bold(text: string): string;
  warn(text: string): string;
  error(text: string): string;
  dim(text: string): string;
}

const sgr = (code: string) => (text: string) => text === "" ? text : `\x1b[${code}m${text}\x1b[0m`;

const plain = (text: string) => text;

/** The styles, or plain text when `on` is false. */
export function paint(on: boolean): Paint {
  return on
    ? { bold: sgr("1"), warn: sgr("33"), error: sgr("31"), dim: sgr("2") }
    : { bold: plain, warn: plain, error: plain, dim: plain };
}

/** Whether `stream` gets colour: a terminal, and `NO_COLOR` unset or empty. */
export function colorFor(
  stream: { isTerminal(): boolean },
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  return stream.isTerminal() && !env.NO_COLOR;
}
