/**
 * Client-process lookup on Windows: `netstat -ano` for the pid owning a TCP source port, and PowerShell's
 * `Get-CimInstance Win32_Process` (as JSON) for its parent and command line. Windows shows neither another
 * process's working directory nor its environment, so the cwd-based layers and `HALTON_PROJECT` work there
 * only through `halton-meter run`.
 *
 * @module
 */
import { ipKey } from "./ip.ts";
import type { ClientAddress, CommandRunner, ProcessInfo, ProcessLookup } from "./types.ts";

/**
 * The pid of the connection whose local address is `address`, from `netstat -ano` output. Header and state
 * words are localised on non-English Windows, so rows are recognised by shape: `TCP local remote state pid`.
 */
export function pidFromNetstat(text: string, address: ClientAddress): number | undefined {
  const key = ipKey(address.ip);
  for (const line of text.split(/\r?\n/)) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 5 || f[0].toUpperCase() !== "TCP" || !/^\d+$/.test(f[4])) continue;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(f[1]);
    const pid = Number(f[4]);
    if (m && ipKey(m[1]) === key && Number(m[2]) === address.port && pid > 0) return pid;
  }
  return undefined;
}

/**
 * Splits a Windows command line the way `CommandLineToArgvW` does: quotes group, `\"` is a literal quote,
 * backslashes are literal unless they precede a quote (then each pair is one backslash), and `""` inside quotes
 * is a literal quote. The program name (first word) takes quotes but no escapes.
 */
export function splitWindowsCommandLine(line: string): string[] {
  const args: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n && /\s/.test(line[i])) i++;
  if (i >= n) return args;
  let prog = "";
  if (line[i] === '"') {
    const end = line.indexOf('"', i + 1);
    prog = line.slice(i + 1, end === -1 ? n : end);
    i = end === -1 ? n : end + 1;
  }
  while (i < n && !/\s/.test(line[i])) prog += line[i++];
  args.push(prog);
  while (i < n) {
    while (i < n && /\s/.test(line[i])) i++;
    if (i >= n) break;
    let arg = "";
    let quoted = false;
    while (i < n && (quoted || !/\s/.test(line[i]))) {
      let slashes = 0;
      while (line[i] === "\\") {
        slashes++;
        i++;
      }
      if (line[i] === '"') {
        arg += "\\".repeat(Math.floor(slashes / 2));
        if (slashes % 2) {
          arg += '"';
          i++;
        } else if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
        } else {
          quoted = !quoted;
          i++;
        }
      } else {
        arg += "\\".repeat(slashes);
        if (i < n && (quoted || !/\s/.test(line[i]))) arg += line[i++];
      }
    }
    args.push(arg);
  }
  return args;
}

interface Win32Process {
  ProcessId?: unknown;
  ParentProcessId?: unknown;
  Name?: unknown;
  ExecutablePath?: unknown;
  CommandLine?: unknown;
}

/** The process `pid` from `ConvertTo-Json` output of `Win32_Process` objects (one object or an array). */
export function parseWin32Process(json: string, pid: number): ProcessInfo | undefined {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    return undefined;
  }
  const list = (Array.isArray(data) ? data : [data]) as Win32Process[];
  const p = list.find((x) => x && typeof x === "object" && x.ProcessId === pid);
  if (!p) return undefined;
  const text = (v: unknown) => (typeof v === "string" && v ? v : undefined);
  const commandLine = text(p.CommandLine);
  return {
    pid,
    ppid: typeof p.ParentProcessId === "number" ? p.ParentProcessId : 0,
    argv: commandLine ? splitWindowsCommandLine(commandLine) : [],
    env: {},
    exe: text(p.ExecutablePath) ?? text(p.Name),
  };
}

/** The PowerShell script that prints process `pid` as JSON. */
export function win32ProcessScript(pid: number): string {
  return `Get-CimInstance Win32_Process -Filter 'ProcessId=${Math.trunc(pid)}' | ` +
    "Select-Object ProcessId,ParentProcessId,Name,ExecutablePath,CommandLine | ConvertTo-Json -Compress";
}

/** The Windows {@linkcode ProcessLookup}, running `netstat` and PowerShell through `run`. */
export function windowsLookup(run: CommandRunner): ProcessLookup {
  return {
    async findClientProcess(address) {
      const proto = address.ip.includes(":") ? "TCPv6" : "TCP";
      const r = await run("netstat", ["-ano", "-p", proto]);
      return r.code === 0 ? pidFromNetstat(r.stdout, address) : undefined;
    },
    async readProcess(pid) {
      const r = await run("powershell.exe", [
        "-NoProfile",
        "-NonInteractive",
        "-Command",
        win32ProcessScript(pid),
      ]);
      return r.code === 0 ? parseWin32Process(r.stdout, pid) : undefined;
    },
  };
}
