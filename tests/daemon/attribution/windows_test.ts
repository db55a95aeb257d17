import assert from "node:assert/strict";
import {
  parseWin32Process,
  pidFromNetstat,
  splitWindowsCommandLine,
  win32ProcessScript,
  windowsLookup,
} from "../../../daemon/attribution/windows.ts";
import { Attributor } from "../../../daemon/attribution/attributor.ts";
import type { CommandRunner } from "../../../daemon/attribution/types.ts";
import { fakeFs } from "./_fakes.ts";

const FIXTURES = new URL("../../fixtures/attribution/", import.meta.url);
const fixture = (name: string) => Deno.readTextFileSync(new URL(name, FIXTURES));

Deno.test("pidFromNetstat() finds the client's row, skipping the edge's end and TIME_WAIT", () => {
  const text = fixture("netstat_windows_tcp.txt");
  assert.equal(pidFromNetstat(text, { ip: "127.0.0.1", port: 52344 }), 9412);
  assert.equal(pidFromNetstat(text, { ip: "127.0.0.1", port: 8081 }), 6120);
  assert.equal(pidFromNetstat(text, { ip: "127.0.0.1", port: 52350 }), undefined);
  assert.equal(pidFromNetstat(text, { ip: "127.0.0.1", port: 9 }), undefined);
});

Deno.test("pidFromNetstat() reads a localised IPv6 table", () => {
  const text = fixture("netstat_windows_tcpv6_de.txt");
  assert.equal(pidFromNetstat(text, { ip: "::1", port: 52871 }), 3120);
});

Deno.test("splitWindowsCommandLine() follows CommandLineToArgvW's quoting rules", () => {
  const line = JSON.parse(fixture("powershell_win32_process.json")).CommandLine;
  assert.deepEqual(splitWindowsCommandLine(line), [
    "C:\\Program Files\\nodejs\\node.exe",
    "C:\\Users\\ada\\src\\acme-api\\agent.js",
    "--title",
    'say "hi"',
    "--dir",
    "C:\\Temp\\",
  ]);
  assert.deepEqual(splitWindowsCommandLine('C:\\a\\b.exe  x\\\\y "a""b" \\\\\\"q'), [
    "C:\\a\\b.exe",
    "x\\\\y",
    'a"b',
    '\\"q',
  ]);
  assert.deepEqual(splitWindowsCommandLine('"C:\\x\\"y'), ["C:\\x\\y"]);
  assert.deepEqual(splitWindowsCommandLine("   "), []);
});

Deno.test("parseWin32Process() reads one object or an array, and nothing from bad JSON", () => {
  const one = fixture("powershell_win32_process.json");
  const info = parseWin32Process(one, 9412);
  assert.equal(info?.ppid, 8800);
  assert.equal(info?.exe, "C:\\Program Files\\nodejs\\node.exe");
  assert.equal(info?.cwd, undefined);
  assert.equal(info?.uid, undefined);
  assert.deepEqual(info?.env, {});
  const both = `[${one},${fixture("powershell_win32_process_code.json")}]`;
  assert.equal(parseWin32Process(both, 8800)?.argv[1], "--folder-uri");
  assert.equal(parseWin32Process(one, 1), undefined);
  assert.equal(parseWin32Process("", 9412), undefined);
  assert.equal(parseWin32Process('{"ProcessId":5,"Name":"svc.exe","CommandLine":null}', 5)?.exe, "svc.exe");
});

Deno.test("win32ProcessScript() only ever embeds an integer pid", () => {
  assert.match(win32ProcessScript(9412), /-Filter 'ProcessId=9412'/);
  assert.match(win32ProcessScript(12.7), /-Filter 'ProcessId=12'/);
});

Deno.test("Attributor on Windows finds the client by netstat and the workspace of its VS Code parent", async () => {
  const calls: string[] = [];
  const run: CommandRunner = (cmd, args) => {
    calls.push([cmd, ...args.slice(0, 3)].join(" "));
    if (cmd === "netstat") return Promise.resolve({ code: 0, stdout: fixture("netstat_windows_tcp.txt") });
    const script = args.at(-1) ?? "";
    const file = script.includes("ProcessId=9412")
      ? "powershell_win32_process.json"
      : script.includes("ProcessId=8800")
      ? "powershell_win32_process_code.json"
      : undefined;
    return Promise.resolve(file ? { code: 0, stdout: fixture(file) } : { code: 0, stdout: "" });
  };
  const attributor = new Attributor({ lookup: windowsLookup(run), fs: fakeFs({}) });
  assert.deepEqual(await attributor.resolve({ ip: "127.0.0.1", port: 52344 }), {
    project: "acme-web",
    layer: "ide",
    client_process: "node",
  });
  assert.equal(calls[0], "netstat -ano -p TCP");
  assert.equal(calls[1], "powershell.exe -NoProfile -NonInteractive -Command");
});
