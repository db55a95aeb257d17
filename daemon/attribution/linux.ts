/**
 * Client-process lookup on Linux, from `/proc` alone: `/proc/net/tcp{,6}` gives the inode of the socket whose
 * local address is the client's, a scan of `/proc/<pid>/fd` links finds the process holding `socket:[inode]`,
 * and `/proc/<pid>/{status,cmdline,environ,cwd,exe}` describe it.
 *
 * @module
 */
import { join } from "node:path";
import { ipKey } from "./ip.ts";
import type { ClientAddress, ProcessLookup } from "./types.ts";

/** One socket of `/proc/net/tcp` or `/proc/net/tcp6`. */
export interface ProcNetEntry {
  /** The local address as {@linkcode ipKey} writes it. */
  localKey: string;
  localPort: number;
  remoteKey: string;
  remotePort: number;
  /** Kernel TCP state: 0x01 established, 0x0A listen, … */
  state: number;
  uid: number;
  /** 0 for sockets no process holds any more (TIME_WAIT). */
  inode: number;
}

const LISTEN = 0x0a;

const READ_CHUNK = 64 * 1024;

/**
 * The address key of a `/proc/net/tcp{,6}` address: 8 or 32 hex digits, the kernel's 32-bit words printed in
 * host byte order (little-endian on every platform Halton Meter ships for).
 */
export function procHexAddressKey(hex: string): string | undefined {
  if (!/^([0-9a-f]{8}){1,4}$/i.test(hex) || (hex.length !== 8 && hex.length !== 32)) return undefined;
  const bytes: string[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    for (let b = 6; b >= 0; b -= 2) bytes.push(hex.slice(w + b, w + b + 2).toLowerCase());
  }
  return hex.length === 8 ? "00000000000000000000ffff" + bytes.join("") : bytes.join("");
}

/** Parses the text of `/proc/net/tcp` or `/proc/net/tcp6`; malformed lines are skipped. */
export function parseProcNetTcp(text: string): ProcNetEntry[] {
  const out: ProcNetEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0])) continue;
    const [localHex, localPort] = f[1].split(":");
    const [remoteHex, remotePort] = f[2].split(":");
    const localKey = procHexAddressKey(localHex);
    const remoteKey = procHexAddressKey(remoteHex);
    if (!localKey || !remoteKey) continue;
    out.push({
      localKey,
      localPort: parseInt(localPort, 16),
      remoteKey,
      remotePort: parseInt(remotePort, 16),
      state: parseInt(f[3], 16),
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return out;
}

/** The connected socket whose local end is `address`: its inode and owner. */
export function findSocket(
  entries: readonly ProcNetEntry[],
  address: ClientAddress,
): { inode: number; uid: number } | undefined {
  const key = ipKey(address.ip);
  const hit = entries.find((e) =>
    e.localKey === key && e.localPort === address.port && e.state !== LISTEN && e.inode > 0
  );
  return hit && { inode: hit.inode, uid: hit.uid };
}

/** The fields of `/proc/<pid>/status` the lookup uses: parent pid, real uid, and the short name. */
export function parseProcStatus(text: string): { ppid?: number; uid?: number; name?: string } {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(text)?.[1];
  const ppid = Number(field("PPid"));
  const uid = Number(field("Uid")?.split(/\s+/)[0]);
  return {
    ppid: Number.isInteger(ppid) ? ppid : undefined,
    uid: Number.isInteger(uid) ? uid : undefined,
    name: field("Name"),
  };
}

/** Splits a NUL-separated `/proc` list (`cmdline`, `environ`). */
export function parseNulList(text: string): string[] {
  const items = text.split("\0");
  if (items.at(-1) === "") items.pop();
  return items;
}

/** Parses `/proc/<pid>/environ` into variables. */
export function parseEnviron(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of parseNulList(text)) {
    const eq = item.indexOf("=");
    if (eq > 0) env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}

/** Options of {@linkcode linuxLookup}. */
export interface LinuxLookupOptions {
  /** Mount point of procfs. */
  proc?: string;
}

/** The Linux {@linkcode ProcessLookup}, over procfs. */
export function linuxLookup(options: LinuxLookupOptions = {}): ProcessLookup {
  const proc = options.proc ?? "/proc";
  return {
    async findClientProcess(address) {
      // IPv6 sockets (dual-stack clients of a 127.0.0.1 listener among them) only when IPv4 has no match:
      // each table read costs the kernel a walk of every socket.
      for (const table of ["tcp", "tcp6"]) {
        const text = await readText(join(proc, "net", table));
        const socket = text === undefined ? undefined : findSocket(parseProcNetTcp(text), address);
        if (socket) return await findPidHolding(proc, socket.inode, socket.uid);
      }
      return undefined;
    },
    async readProcess(pid) {
      const dir = join(proc, String(pid));
      const status = await readText(join(dir, "status"));
      if (status === undefined) return undefined;
      const { ppid, uid, name } = parseProcStatus(status);
      const [cmdline, environ, cwd, exe] = await Promise.all([
        readText(join(dir, "cmdline")),
        readText(join(dir, "environ")),
        readLink(join(dir, "cwd")),
        readLink(join(dir, "exe")),
      ]);
      const argv = parseNulList(cmdline ?? "");
      return {
        pid,
        ppid: ppid ?? 0,
        uid,
        cwd,
        argv,
        env: parseEnviron(environ ?? ""),
        exe: exe?.replace(/ \(deleted\)$/, "") ?? argv[0] ?? name,
        root: join(dir, "root"),
      };
    },
  };
}

/**
 * The pid holding `socket:[inode]`. Only processes of the socket's owner are scanned (the others' fd folders
 * are unreadable anyway), newest first, since a client connection usually belongs to a recent process.
 */
async function findPidHolding(proc: string, inode: number, uid: number): Promise<number | undefined> {
  const target = `socket:[${inode}]`;
  const pids: number[] = [];
  try {
    for await (const e of Deno.readDir(proc)) if (/^\d+$/.test(e.name)) pids.push(Number(e.name));
  } catch {
    return undefined;
  }
  pids.sort((a, b) => b - a);
  for (const pid of pids) {
    const dir = join(proc, String(pid));
    try {
      if ((await Deno.stat(dir)).uid !== uid) continue;
      const fds: string[] = [];
      for await (const fd of Deno.readDir(join(dir, "fd"))) fds.push(join(dir, "fd", fd.name));
      if ((await Promise.all(fds.map(readLink))).includes(target)) return pid;
    } catch { /* gone or not ours: keep looking */ }
  }
  return undefined;
}

/** Reads a procfs file in large reads: the kernel regenerates a seq file's position on every read call. */
async function readText(path: string): Promise<string | undefined> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const buf = new Uint8Array(READ_CHUNK);
    const decoder = new TextDecoder();
    let text = "";
    for (let n = await file.read(buf); n !== null; n = await file.read(buf)) {
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
    return text + decoder.decode();
  } catch {
    return undefined;
  } finally {
    file?.close();
  }
}

async function readLink(path: string): Promise<string | undefined> {
  try {
    return await Deno.readLink(path);
  } catch {
    return undefined;
  }
}
