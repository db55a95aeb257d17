/**
 * Port negotiation (docs/architecture.md): each process's default port, or the next free one when it is
 * taken, or the port pinned in config (an error when taken). The result goes to `effective-ports.json`, which
 * every process reads.
 *
 * @module
 */
import { dirname } from "node:path";
import type { LoadedConfig } from "./config.ts";
import { MeterError } from "./errors.ts";
import { writeFileAtomic } from "./io.ts";
import { makePrivateDir } from "./private.ts";

/** The three ports: edge, intercept, API. */
export interface Ports {
  edge: number;
  intercept: number;
  api: number;
}

const KEYS: Record<keyof Ports, string> = {
  edge: "edge.port",
  intercept: "daemon.intercept_port",
  api: "daemon.api_port",
};

/** How far above a taken default to look for a free port. */
const SCAN = 100;

/**
 * Chooses the ports. `isFree` says whether a port can be bound; `held` names ports our own running processes
 * already hold (a running edge keeps its port through a re-`init`).
 *
 * @throws {MeterError} when a pinned port is taken, or no free port is found near a default.
 */
export function negotiatePorts(
  loaded: LoadedConfig,
  isFree: (port: number) => boolean,
  held: Partial<Ports> = {},
): Ports {
  const { config, explicit } = loaded;
  const wanted: Ports = {
    edge: config.edge.port,
    intercept: config.daemon.intercept_port,
    api: config.daemon.api_port,
  };
  const chosen = new Set<number>();
  const out = {} as Ports;
  for (const role of ["edge", "intercept", "api"] as const) {
    const usable = (p: number) => !chosen.has(p) && (held[role] === p || isFree(p));
    const start = wanted[role];
    let port: number | undefined;
    if (explicit.has(KEYS[role])) {
      if (!usable(start)) {
        throw new MeterError(`port ${start} (${KEYS[role]} in config.toml) is in use by another program`, {
          hint: `Stop the program on port ${start}, or change ${KEYS[role]} in config.toml.`,
        });
      }
      port = start;
    } else if (held[role] !== undefined && !chosen.has(held[role]!)) {
      port = held[role];
    } else {
      for (let p = start; p <= Math.min(65535, start + SCAN); p++) {
        if (usable(p)) {
          port = p;
          break;
        }
      }
    }
    if (port === undefined) {
      throw new MeterError(`no free port found from ${start} to ${start + SCAN} for ${role}`, {
        hint: `Pin a free port as ${KEYS[role]} in config.toml.`,
      });
    }
    chosen.add(port);
    out[role] = port;
  }
  return out;
}

/** True when nothing listens on `127.0.0.1:port` (we could bind it). */
export function isPortFree(port: number): boolean {
  try {
    const l = Deno.listen({ hostname: "127.0.0.1", port });
    l.close();
    return true;
  } catch {
    return false;
  }
}

/** Reads `effective-ports.json`; undefined when missing or unreadable. */
export function readEffectivePorts(file: string): Ports | undefined {
  try {
    const p = JSON.parse(Deno.readTextFileSync(file));
    if ([p.edge, p.intercept, p.api].every((n) => Number.isInteger(n) && n > 0 && n < 65536)) {
      return { edge: p.edge, intercept: p.intercept, api: p.api };
    }
  } catch { /* missing or corrupt: the caller falls back to config */ }
  return undefined;
}

/** Writes `effective-ports.json` atomically (temp file + rename). */
export function writeEffectivePorts(file: string, ports: Ports): void {
  makePrivateDir(dirname(file));
  writeFileAtomic(file, JSON.stringify(ports, null, 2) + "\n");
}

/** The ports processes use: `effective-ports.json` when present, else the config's values. */
export function effectivePorts(file: string, loaded: LoadedConfig): Ports {
  return readEffectivePorts(file) ?? {
    edge: loaded.config.edge.port,
    intercept: loaded.config.daemon.intercept_port,
    api: loaded.config.daemon.api_port,
  };
}
