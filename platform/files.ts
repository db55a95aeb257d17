/**
 * Rendered files become bytes and reach the disk here, only when their content changed: `init` run twice
 * writes nothing and so restarts nothing the second time.
 *
 * @module
 */
import { dirname } from "node:path";
import { writeFileAtomic } from "../core/io.ts";
import type { RenderedFile } from "./types.ts";

/** `text` as UTF-16 little-endian with a byte-order mark, the form `schtasks /Create /XML` reads. */
export function encodeUtf16le(text: string): Uint8Array {
  const out = new Uint8Array(2 + text.length * 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    out[2 + 2 * i] = unit & 0xff;
    out[3 + 2 * i] = unit >> 8;
  }
  return out;
}

/** The bytes of a rendered file in its encoding. */
export function encodeRendered(file: RenderedFile): Uint8Array {
  return file.encoding === "utf-16le" ? encodeUtf16le(file.content) : new TextEncoder().encode(file.content);
}

/** What {@linkcode writeRendered} did. */
export type WriteOutcome = "created" | "changed" | "unchanged";

/** Writes `file` (atomically, parents created) unless the disk already holds exactly its bytes. */
export function writeRendered(file: RenderedFile): WriteOutcome {
  const bytes = encodeRendered(file);
  let before: Uint8Array | undefined;
  try {
    before = Deno.readFileSync(file.path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (before && sameBytes(before, bytes)) return "unchanged";
  Deno.mkdirSync(dirname(file.path), { recursive: true });
  writeFileAtomic(file.path, bytes, file.mode);
  return before ? "changed" : "created";
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
