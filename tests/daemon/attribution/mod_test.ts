import assert from "node:assert/strict";
import { processLookupFor } from "../../../daemon/attribution/mod.ts";
import type { CommandRunner } from "../../../daemon/attribution/types.ts";

Deno.test("processLookupFor() asks lsof on macOS and netstat on Windows, through the given runner", async () => {
  const calls: string[] = [];
  const run: CommandRunner = (cmd) => {
    calls.push(cmd);
    return Promise.resolve({ code: 1, stdout: "" });
  };
  const client = { ip: "127.0.0.1", port: 52344 };
  assert.equal(await processLookupFor("darwin", run).findClientProcess(client), undefined);
  assert.equal(await processLookupFor("windows", run).findClientProcess(client), undefined);
  assert.deepEqual(calls, ["lsof", "netstat"]);
});

Deno.test("processLookupFor('linux') reads /proc without running any tool", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const run: CommandRunner = () => Promise.reject(new Error("no tool may run"));
  const me = await processLookupFor("linux", run).readProcess(Deno.pid);
  assert.equal(me?.pid, Deno.pid);
  assert.equal(me?.exe, Deno.execPath());
});
