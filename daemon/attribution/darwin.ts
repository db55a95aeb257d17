/**
 * Client-process lookup on macOS through `lsof` and `ps`. macOS does not show another process's environment,
 * so `HALTON_PROJECT` reaches the meter only through `halton-meter run` (as an explicit tag).
 *
 * @module
 */
import { ipKey } from "./ip.ts";
import type { ClientAddress, CommandRunner, ProcessInfo, ProcessLookup } from "./types.ts";

/** One process of `lsof -F` output and the names (`n` fields) of its files. */
export interface LsofProcess {
  pid: number;
  names: string[];
}

/** Parses `lsof -F…` output: `p<pid>` starts a process, `n<name>` names a file, other fields are ignored. */
export function parseLsofFields(text: string): LsofProcess[] {
  const out: LsofProcess[] = [];
  for (const line of text.split("\n")) {
    const tag = line[0];
    const value = line.slice(1).trimEnd();
    if (tag === "p" && /^\d+$/.test(value)) out.push({ pid: Number(value), names: [] });
    else if (tag === "n" && out.length) out.at(-1)!.names.push(value);
  }
  return out;
}

/** Splits lsof's `host:port` (IPv6 as `[addr]:port`). */
function splitHostPort(s: string): { key?: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s);
  return m ? { key: ipKey(m[1]), port: Number(m[2]) } : { port: -1 };
}

/**
 * The pid whose connection's local end is `address`, from `lsof -Fpn` output (`n` reads
 * `local->remote`; the edge's own end of the same connection is listed too and is skipped).
 */
export function pidFromLsof(text: string, address: ClientAddress): number | undefined {
  const key = ipKey(address.ip);
  for (const p of parseLsofFields(text)) {
    for (const name of p.names) {
      const local = splitHostPort(name.split("->")[0]);
      if (name.includes("->") && local.key === key && local.port === address.port) return p.pid;
    }
  }
  return undefined;
}

/** The working directory from `lsof -a -p <pid> -d cwd -Fn` output. */
export function cwdFromLsof(text: string): string | undefined {
  return parseLsofFields(text)[0]?.names[0] || undefined;
}

/**
 * Parses one line of `ps -o ppid=,uid=,command=`. The command line is split at spaces, which is all `ps`
 * keeps of it: an argument with a space in it comes out as two.
 */
export function parsePsLine(text: string): { ppid: number; uid: number; argv: string[] } | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(text.split("\n").find((l) => l.trim()) ?? "");
  return m ? { ppid: Number(m[1]), uid: Number(m[2]), argv: m[3].trim().split(/\s+/) } : undefined;
}

/** The macOS {@linkcode ProcessLookup}, running `lsof` and `ps` through `run`. */
export function darwinLookup(run: CommandRunner): ProcessLookup {
  return {
    async findClientProcess(address) {
      const host = address.ip.includes(":") ? `[${address.ip}]` : address.ip;
      const r = await run("lsof", ["-nP", `-iTCP@${host}:${address.port}`, "-sTCP:ESTABLISHED", "-Fpn"]);
      return r.code === 0 ? pidFromLsof(r.stdout, address) : undefined;
    },
    async readProcess(pid) {
      // `comm` is asked apart because it is the executable's full path and may hold spaces
      // (`/Applications/Visual Studio Code.app/…`), which the split command line cannot keep.
      const [ps, comm, cwd] = await Promise.all([
        run("ps", ["-ww", "-o", "ppid=,uid=,command=", "-p", String(pid)]),
        run("ps", ["-ww", "-o", "comm=", "-p", String(pid)]),
        run("lsof", ["-a", "-p", String(pid), "-d", "cwd", "-Fn"]),
      ]);
      const parsed = ps.code === 0 ? parsePsLine(ps.stdout) : undefined;
      if (!parsed) return undefined;
      const info: ProcessInfo = {
        pid,
        ppid: parsed.ppid,
        uid: parsed.uid,
        cwd: cwd.code === 0 ? cwdFromLsof(cwd.stdout) : undefined,
        argv: parsed.argv,
        env: {},
        exe: (comm.code === 0 && comm.stdout.trim()) || parsed.argv[0],
      };
      return info;
    },
  };
}
