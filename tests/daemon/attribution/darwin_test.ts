import assert from "node:assert/strict";
import {
  cwdFromLsof,
  darwinLookup,
  parseLsofFields,
  parsePsLine,
  pidFromLsof,
} from "../../../daemon/attribution/darwin.ts";
import { Attributor } from "../../../daemon/attribution/attributor.ts";
import type { CommandRunner } from "../../../daemon/attribution/types.ts";
import { fakeFs } from "./_fakes.ts";

const FIXTURES = new URL("../../fixtures/attribution/", import.meta.url);
const fixture = (name: string) => Deno.readTextFileSync(new URL(name, FIXTURES));

Deno.test("parseLsofFields() groups file names by process, with or without f lines", () => {
  assert.deepEqual(parseLsofFields(fixture("lsof_darwin_connection.txt")), [
    { pid: 2411, names: ["127.0.0.1:52344->127.0.0.1:8081"] },
    { pid: 903, names: ["127.0.0.1:8081->127.0.0.1:52344"] },
  ]);
  assert.deepEqual(parseLsofFields(fixture("lsof_linux_connection.txt")), [
    { pid: 7237, names: ["127.0.0.1:35062->127.0.0.1:34185", "127.0.0.1:34185->127.0.0.1:35062"] },
  ]);
});

Deno.test("pidFromLsof() takes the process whose LOCAL end is the client's address", () => {
  const mac = fixture("lsof_darwin_connection.txt");
  assert.equal(pidFromLsof(mac, { ip: "127.0.0.1", port: 52344 }), 2411);
  assert.equal(pidFromLsof(mac, { ip: "127.0.0.1", port: 8081 }), 903);
  assert.equal(pidFromLsof(mac, { ip: "127.0.0.1", port: 9 }), undefined);
  assert.equal(pidFromLsof(fixture("lsof_linux_connection.txt"), { ip: "127.0.0.1", port: 35062 }), 7237);
  assert.equal(pidFromLsof(fixture("lsof_darwin_connection_ipv6.txt"), { ip: "::1", port: 52871 }), 3120);
  assert.equal(pidFromLsof("", { ip: "127.0.0.1", port: 52344 }), undefined);
});

Deno.test("cwdFromLsof() and parsePsLine() read the captured outputs", () => {
  assert.equal(cwdFromLsof(fixture("lsof_darwin_cwd.txt")), "/Users/ada/src/acme-api");
  assert.equal(cwdFromLsof(fixture("lsof_linux_cwd.txt")), "/tmp");
  assert.equal(cwdFromLsof(""), undefined);
  assert.deepEqual(parsePsLine(fixture("ps_darwin_command.txt")), {
    ppid: 887,
    uid: 501,
    argv: [
      "/usr/local/bin/node",
      "/Users/ada/src/acme-api/node_modules/.bin/tsx",
      "src/agent.ts",
      "--model",
      "claude-sonnet-4-5",
    ],
  });
  assert.equal(parsePsLine(""), undefined);
});

/** A runner answering from fixtures by command line, recording every call. */
function fixtureRunner(answers: Record<string, string>): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  const run = (cmd: string, args: string[]) => {
    const line = [cmd, ...args].join(" ");
    calls.push(line);
    const out = answers[line];
    return Promise.resolve(out === undefined ? { code: 1, stdout: "" } : { code: 0, stdout: out });
  };
  return Object.assign(run, { calls });
}

const ANSWERS = {
  "lsof -nP -iTCP@127.0.0.1:52344 -sTCP:ESTABLISHED -Fpn": fixture("lsof_darwin_connection.txt"),
  "ps -ww -o ppid=,uid=,command= -p 2411": fixture("ps_darwin_command.txt"),
  "ps -ww -o comm= -p 2411": fixture("ps_darwin_comm.txt"),
  "lsof -a -p 2411 -d cwd -Fn": fixture("lsof_darwin_cwd.txt"),
  "ps -ww -o ppid=,uid=,command= -p 887": "  412   501 -zsh\n",
  "ps -ww -o comm= -p 887": "-zsh\n",
  "ps -ww -o ppid=,uid=,command= -p 412": fixture("ps_darwin_vscode_command.txt"),
  "ps -ww -o comm= -p 412": fixture("ps_darwin_vscode_comm.txt"),
};

Deno.test("darwinLookup() runs lsof and ps and builds the process", async () => {
  const run = fixtureRunner(ANSWERS);
  const lookup = darwinLookup(run);
  assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 52344 }), 2411);
  assert.deepEqual(await lookup.readProcess(2411), {
    pid: 2411,
    ppid: 887,
    uid: 501,
    cwd: "/Users/ada/src/acme-api",
    argv: [
      "/usr/local/bin/node",
      "/Users/ada/src/acme-api/node_modules/.bin/tsx",
      "src/agent.ts",
      "--model",
      "claude-sonnet-4-5",
    ],
    env: {},
    exe: "/usr/local/bin/node",
  });
  const vscode = await lookup.readProcess(412);
  assert.equal(vscode?.exe, "/Applications/Visual Studio Code.app/Contents/MacOS/Electron");
  assert.equal(vscode?.cwd, undefined);
  assert.equal(await lookup.readProcess(1), undefined);
  assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 1 }), undefined);
});

Deno.test("darwinLookup() asks lsof for IPv6 clients in brackets", async () => {
  const run = fixtureRunner({
    "lsof -nP -iTCP@[::1]:52871 -sTCP:ESTABLISHED -Fpn": fixture("lsof_darwin_connection_ipv6.txt"),
  });
  assert.equal(await darwinLookup(run).findClientProcess({ ip: "::1", port: 52871 }), 3120);
});

Deno.test("Attributor on macOS finds the VS Code workspace up the parent chain", async () => {
  const attributor = new Attributor({ lookup: darwinLookup(fixtureRunner(ANSWERS)), fs: fakeFs({}) });
  assert.deepEqual(await attributor.resolve({ ip: "127.0.0.1", port: 52344 }), {
    project: "acme-web",
    layer: "ide",
    client_process: "node",
  });
});
