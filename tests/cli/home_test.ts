import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { tempHome } from "../helpers/home.ts";

Deno.test("a meter home that is a file is refused with the path and what to do, before any command runs", async () => {
  await using home = await tempHome();
  const file = join(home.dir, "not-a-folder");
  await Deno.writeTextFile(file, "x");
  for (const command of [["report"], ["status", "--json"], ["pricing", "unknown"]]) {
    const r = await runCli(command, { HALTON_METER_HOME: file, HOME: home.dir });
    assert.equal(r.code, 1, command.join(" "));
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `halton-meter: ${file} (the meter's folder) is a file, not a folder\n` +
        "hint: Move that file aside, or point HALTON_METER_HOME at a folder.\n",
    );
  }
});

Deno.test("a flag without its value names the flag and its placeholder", async () => {
  await using home = await tempHome();
  const r = await runCli(["run", "--project"], home.env);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "halton-meter: run: --project needs a value (--project P)\nhint: See 'halton-meter run --help'.\n",
  );
});
