/**
 * `run/edge.json`: what the running edge says about itself for `status` and `doctor`, which cannot ask it
 * (it has no API): its pid, version and port, and what went unmetered because the daemon was away.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "./io.ts";

/** What went unmetered: tunnels to metered hosts opened straight to the provider while the daemon was away. */
export interface UnmeteredSummary {
  /** Bypass tunnels opened in all. */
  tunnels: number;
  /** Bytes they carried, both ways. */
  bytes: number;
  /** Bypass tunnels still open. */
  open: number;
  /** Bypass tunnels closed once idle because the daemon was back. */
  reclaimed: number;
  /** When the first and the latest bypass tunnel opened (ISO), if any did. */
  first_at?: string;
  last_at?: string;
}

/** The contents of `run/edge.json`. */
export interface EdgeState {
  pid: number;
  version: string;
  port: number;
  started_at: string;
  unmetered: UnmeteredSummary;
  /** Set by the edge of `halton-meter up`, which runs the daemon in its own process, not as a service. */
  up?: true;
}

/** `<run>/edge.json`. */
export function edgeStateFile(run: string): string {
  return join(run, "edge.json");
}

/** Writes `state` atomically, creating the folder; a failure is returned, never thrown (the edge must run). */
export function writeEdgeState(file: string, state: EdgeState): Error | undefined {
  try {
    Deno.mkdirSync(join(file, ".."), { recursive: true });
    writeFileAtomic(file, JSON.stringify(state) + "\n");
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

/** The state in `file`, or undefined when there is none or it is unreadable. */
export function readEdgeState(file: string): EdgeState | undefined {
  try {
    const s = JSON.parse(Deno.readTextFileSync(file));
    return typeof s?.pid === "number" && typeof s?.version === "string" ? s as EdgeState : undefined;
  } catch {
    return undefined;
  }
}
