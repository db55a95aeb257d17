import assert from "node:assert/strict";
import { VERSION } from "../core/version.ts";
import { MAIN, runCli } from "./helpers/cli.ts";
import { denoDir } from "../testkit/processes.ts";
import { tempHome } from "./helpers/home.ts";

Deno.test("halton-meter --help lists the commands and exits 0", async () => {
  await using home = await tempHome();
  const r = await runCli(["--help"], home.env);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^halton-meter: meter every LLM API call/);
  assert.match(r.stdout, /\n {2}report +Show spend by project, model, provider, day, week or month\.\n/);
  assert.match(r.stdout, /Exit codes: 0 ok, 1 failed, 2 usage/);
  assert.equal(r.stderr, "");
});

Deno.test("halton-meter with no command prints the help and exits 2", async () => {
  await using home = await tempHome();
  const r = await runCli([], home.env);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /Usage: halton-meter <command> \[options\]/);
});

Deno.test("halton-meter --version prints the version, the build target and the channel", async () => {
  await using home = await tempHome();
  for (const flag of ["--version", "-V"]) {
    const r = await runCli([flag], home.env);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `halton-meter ${VERSION} (${Deno.build.target}), from source\n`);
  }
});

Deno.test("halton-meter report --help shows the command's usage and flags and exits 0", async () => {
  await using home = await tempHome();
  const r = await runCli(["report", "--help"], home.env);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^halton-meter report: Show spend/);
  assert.match(r.stdout, /Usage: halton-meter report \[--since 7d/);
  for (const flag of ["--since", "--from", "--to", "--by", "--project", "--vs-previous", "--json", "--csv"]) {
    assert.ok(r.stdout.includes(`      ${flag}`), `help lists ${flag}`);
  }
  assert.equal((await runCli(["help", "report"], home.env)).stdout, r.stdout);
});

Deno.test("an unknown command exits 2 with one hint line naming the closest command", async () => {
  await using home = await tempHome();
  const r = await runCli(["reprot"], home.env);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    "halton-meter: unknown command 'reprot'\nhint: Did you mean 'report'? See 'halton-meter --help'.\n",
  );
});

Deno.test("an unknown command nothing resembles exits 2 without a guess", async () => {
  await using home = await tempHome();
  const r = await runCli(["frobnicate"], home.env);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "halton-meter: unknown command 'frobnicate'\nhint: See 'halton-meter --help'.\n");
});

Deno.test("an unknown flag exits 2 and suggests the flag meant, with no stack trace", async () => {
  await using home = await tempHome();
  const r = await runCli(["report", "--sinse", "7d"], home.env);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "halton-meter: report: unknown flag --sinse\nhint: Did you mean --since? See 'halton-meter report --help'.\n",
  );
  const top = await runCli(["--verbose"], home.env);
  assert.equal(top.code, 2);
  assert.match(top.stderr, /^halton-meter: unknown option --verbose\n/);
});

Deno.test("a command run without any home folder set fails with a hint, not a stack trace", async () => {
  const r = await runCli(["report"], {});
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    "halton-meter: HOME is not set, so the meter's folder is unknown\n" +
      "hint: Set HALTON_METER_HOME to the folder Halton Meter should use.\n",
  );
});

Deno.test("a reader that stops reading (`| head`) ends a long output quietly: exit 0, no stack trace", async () => {
  await using home = await tempHome();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", MAIN, "pricing", "list", "--json"],
    env: { DENO_DIR: denoDir(), PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1", ...home.env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Closed before the first write, so every write the command makes finds no reader.
  await child.stdout.cancel();
  const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
  assert.equal(stderr, "");
  assert.equal(status.code, 0);
});
