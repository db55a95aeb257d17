/**
 * Escaping for the XML files the platform layer renders (launchd plists, Task Scheduler tasks).
 *
 * @module
 */
import { MeterError } from "../core/errors.ts";

/**
 * `text` safe as the content of an XML element (never used in attribute values, so quotes stay as they are).
 *
 * @throws {MeterError} for characters XML 1.0 cannot carry at all (control characters other than tab and newlines).
 */
export function xmlEscape(text: string): string {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(text)) {
    throw new MeterError(
      `${JSON.stringify(text)} cannot be written into a service file: it holds a control character`,
      {
        hint: "Use paths and names without control characters.",
      },
    );
  }
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
