import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { command as initCommand, execute as init } from "../../cli/init.ts";
import { command, type Confirmations, execute } from "../../cli/uninstall.ts";
import { UsageError } from "../../core/errors.ts";
import { captureIo } from "../helpers/io.ts";
import { fixture } from "../setup/_fixture.ts";
import { initMachine } from "./_init.ts";

function inv(...argv: string[]) {
  return parseInvocation("uninstall", command, argv);
}

/** Answers as given and counts the questions. */
function answers(proceed: boolean | undefined, purge: boolean | undefined) {
  const asked: string[] = [];
  const ask: Confirmations = {
    proceed: () => (asked.push("proceed"), Promise.resolve(proceed)),
    purge: () => (asked.push("purge"), Promise.resolve(purge)),
  };
  return { ask, asked };
}

async function installed(os: "linux" = "linux") {
  const f = await fixture(os);
  await initMachine(f);
  f.fs.write(f.paths.db, "SQLite format 3\0rows");
  return f;
}

Deno.test("uninstall --purge with --yes keeps the database: a single --purge is not enough without a question", async () => {
  await using f = await installed();
  const { ask, asked } = answers(undefined, undefined);
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, inv("--yes", "--purge"), f.machine().m, ask), 0);
  assert.deepEqual(asked, []);
  assert.deepEqual(f.fs.list(f.paths.home), ["db.sqlite"]);
  assert.match(out.stdout(), /give --purge twice/);
});

Deno.test("uninstall --purge --purge deletes the database and the meter's folder", async () => {
  await using f = await installed();
  assert.equal(
    await execute(
      captureIo(f.paths).io,
      inv("--yes", "--purge", "--purge"),
      f.machine().m,
      answers(undefined, undefined).ask,
    ),
    0,
  );
  assert.equal(f.fs.exists(f.paths.home), false);
});

Deno.test("uninstall --purge in a terminal asks, and deletes the database only when confirmed", async () => {
  for (const confirmed of [false, true]) {
    await using f = await installed();
    const { ask, asked } = answers(true, confirmed);
    await execute(captureIo(f.paths).io, inv("--purge"), f.machine().m, ask);
    assert.deepEqual(asked, ["proceed", "purge"]);
    assert.equal(f.fs.exists(f.paths.db), !confirmed);
  }
});

Deno.test("uninstall without --yes and without a terminal refuses; answered no, it changes nothing", async () => {
  await using f = await installed();
  await assert.rejects(
    () => execute(captureIo(f.paths).io, inv(), f.machine().m, answers(undefined, undefined).ask),
    UsageError,
  );
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, inv(), f.machine().m, answers(false, undefined).ask), 0);
  assert.match(out.stdout(), /Nothing was changed/);
  assert.ok(f.fs.exists(f.paths.systemState));
});

Deno.test("uninstall with a corrupt record still removes the services and every block carrying our markers", async () => {
  await using f = await fixture("linux");
  f.fs.write("/home/ada/.bashrc", "alias ll='ls -l'\n");
  await init(
    captureIo(f.paths).io,
    parseInvocation("init", initCommand, ["--non-interactive", "--apps"]),
    f.machine().m,
  );
  f.fs.write(f.paths.systemState, "garbage");
  const { m, runner } = f.machine();
  await execute(captureIo(f.paths).io, inv("--yes"), m, answers(undefined, undefined).ask);
  assert.ok(
    runner.lines().includes(
      "systemctl --user disable --now halton-meter-edge.service halton-meter.service halton-meter-b.service",
    ),
  );
  assert.equal(f.fs.readText("/home/ada/.bashrc"), "alias ll='ls -l'\n");
  assert.ok(!f.fs.readText("/usr/lib/python3/dist-packages/certifi/cacert.pem")!.includes("halton-meter"));
  assert.ok(f.progress.some((l) => l.includes("could not be read") && l.includes(".corrupt-")));
  assert.ok(
    f.fs.list(f.paths.home).some((n) => n.startsWith("system_state.json.corrupt-")),
    "kept for the user",
  );
});
