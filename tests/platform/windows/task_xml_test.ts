import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeRendered } from "../../../platform/files.ts";
import { CONHOST, TASK_NAMES, taskXml, windowsArg } from "../../../platform/windows/task_xml.ts";
import { contextFor, exec, have } from "../_helpers.ts";

const XSD = fileURLToPath(new URL("./task_1_4.xsd", import.meta.url));
const noXmllint = !have("xmllint");

/** Writes the task file as `init` does (UTF-16 LE with BOM) and validates it against the schema. */
async function validate(content: string | Uint8Array): Promise<{ code: number; stderr: string }> {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "task.xml");
    await Deno.writeFile(file, typeof content === "string" ? new TextEncoder().encode(content) : content);
    return await exec("xmllint", ["--noout", "--schema", XSD, file]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "taskXml() written as UTF-16 LE is well-formed and valid against the Task Scheduler schema",
  ignore: noXmllint,
  async fn() {
    const ctx = contextFor("windows", { meterHome: "C:\\Users\\Ada Lovelace\\Meter & Co" });
    for (const [service, slot] of [["daemon", "a"], ["daemon", "b"], ["edge", "a"]] as const) {
      const file = taskXml(ctx, service, slot);
      const bytes = encodeRendered(file);
      assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xfe]);
      const r = await validate(bytes);
      assert.equal(r.code, 0, r.stderr);
    }
  },
});

Deno.test({
  name: "the task schema refuses a misspelt element and an out-of-range value (the validator bites)",
  ignore: noXmllint,
  async fn() {
    const text = taskXml(contextFor("windows"), "daemon").content.replace(
      'encoding="UTF-16"',
      'encoding="UTF-8"',
    );
    assert.equal((await validate(text)).code, 0);
    assert.notEqual(
      (await validate(text.replace("<Hidden>", "<Hiden>").replace("</Hidden>", "</Hiden>"))).code,
      0,
    );
    assert.notEqual((await validate(text.replace("<Count>999</Count>", "<Count>1000</Count>"))).code, 0);
    assert.notEqual((await validate(text.replace("IgnoreNew", "Ignore"))).code, 0);
  },
});

Deno.test("taskXml() starts the binary hidden at logon, never times out, restarts on failure, one instance", () => {
  const ctx = contextFor("windows");
  const file = taskXml(ctx, "daemon");
  assert.equal(file.path, "C:\\Users\\Ada Lovelace\\.halton-meter\\tasks\\daemon.xml");
  assert.equal(file.encoding, "utf-16le");
  const x = file.content;
  assert.match(x, /^<\?xml version="1.0" encoding="UTF-16"\?>/);
  assert.match(x, /<Task version="1\.4" /);
  assert.match(x, /<LogonTrigger>\s*<Enabled>true<\/Enabled>\s*<UserId>ADA-PC\\ada<\/UserId>/);
  assert.match(x, /<ExecutionTimeLimit>PT0S<\/ExecutionTimeLimit>/);
  assert.match(x, /<MultipleInstancesPolicy>IgnoreNew<\/MultipleInstancesPolicy>/);
  assert.match(x, /<Hidden>true<\/Hidden>/);
  assert.match(x, /<RestartOnFailure>\s*<Interval>PT1M<\/Interval>\s*<Count>999<\/Count>/);
  assert.match(x, /<DisallowStartIfOnBatteries>false<\/DisallowStartIfOnBatteries>/);
  assert.ok(x.includes(`<Command>${CONHOST}</Command>`));
  assert.ok(
    x.includes(
      '<Arguments>--headless "C:\\Program Files\\Halton Meter\\halton-meter.exe" daemon --slot a</Arguments>',
    ),
  );
  assert.ok(x.includes(`<URI>\\${TASK_NAMES.a}</URI>`));
});

Deno.test("taskXml() renders slot b as its own task and file, differing from slot a only in name and slot", () => {
  const ctx = contextFor("windows");
  const a = taskXml(ctx, "daemon", "a");
  const b = taskXml(ctx, "daemon", "b");
  assert.equal(b.path, "C:\\Users\\Ada Lovelace\\.halton-meter\\tasks\\daemon-b.xml");
  const al = a.content.split("\r\n");
  const differing = b.content.split("\r\n").filter((l, i) => l !== al[i]);
  assert.deepEqual(differing, [
    "    <Description>Halton Meter daemon: meters LLM API calls. Slot b.</Description>",
    "    <URI>\\HaltonMeter-Daemon-B</URI>",
    '      <Arguments>--headless "C:\\Program Files\\Halton Meter\\halton-meter.exe" daemon --slot b</Arguments>',
  ]);
});

Deno.test("taskXml() escapes XML in the command and user, and renders the source form of the command", () => {
  const ctx = {
    ...contextFor("windows", {
      command: ["C:\\deno\\deno.exe", "run", "-A", "C:\\src\\R&D <meter>\\main.ts"],
    }),
    user: "R&D\\ada",
  };
  const x = taskXml(ctx, "edge").content;
  assert.ok(x.includes("<UserId>R&amp;D\\ada</UserId>"));
  assert.ok(
    x.includes(
      '<Arguments>--headless C:\\deno\\deno.exe run -A "C:\\src\\R&amp;D &lt;meter&gt;\\main.ts" edge</Arguments>',
    ),
  );
});

Deno.test("windowsArg() quotes as CommandLineToArgvW reads: backslashes doubled only before a quote", () => {
  assert.equal(windowsArg("C:\\bin\\x.exe"), "C:\\bin\\x.exe");
  assert.equal(windowsArg("C:\\Program Files\\x"), '"C:\\Program Files\\x"');
  assert.equal(windowsArg("a b\\"), '"a b\\\\"');
  assert.equal(windowsArg('a"b'), '"a\\"b"');
  assert.equal(windowsArg('a\\"b'), '"a\\\\\\"b"');
  assert.equal(windowsArg(""), '""');
});
